// The manifest JSON Schema (visit-types/manifest.schema.json, referenced by `$schema` in every
// shipped manifest so editors complete and check them) agrees with `intake check`: every
// shipped manifest is valid under both, and each mistake below is refused by both.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { ROOT } from './lib.mjs';

const BIN = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');
const schema = JSON.parse(readFileSync(join(ROOT, 'visit-types', 'manifest.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
const shipped = readdirSync(join(ROOT, 'visit-types'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe('the manifest schema', () => {
  it('accepts every shipped manifest, which names it in $schema', () => {
    assert.ok(shipped.length >= 4);
    for (const id of shipped) {
      const m = JSON.parse(readFileSync(join(ROOT, 'visit-types', id, 'manifest.json'), 'utf8'));
      assert.equal(m.$schema, '../manifest.schema.json', id);
      assert.ok(validate(m), `${id}: ${JSON.stringify(validate.errors)}`);
    }
    execFileSync(BIN, ['check', '--deny-warnings', join(ROOT, 'visit-types')], { stdio: 'pipe' });
  });

  const mistakes = [
    ['a misspelt field', (m) => { m.questionaire = m.questionnaire; delete m.questionnaire; }],
    ['an unknown write-back action', (m) => { m.write_back = { Observation: { add: 'automatic' } }; }],
    ['an unknown list kind', (m) => { m.on_file_lists = { allergy: { kind: 'allergy' } }; }],
    ['an applies_to field that does not exist', (m) => { m.applies_to = { min_age: 18 }; }],
    ['a questionnaire outside the folder', (m) => { m.questionnaire = '../other/questionnaire.json'; }],
  ];
  for (const [what, mutate] of mistakes) {
    it(`refuses ${what}, as intake check does`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'intake-schema-'));
      cpSync(join(ROOT, 'visit-types'), join(dir, 'visit-types'), { recursive: true });
      cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
      const path = join(dir, 'visit-types', 'pediatric-sick-visit', 'manifest.json');
      const m = JSON.parse(readFileSync(path, 'utf8'));
      mutate(m);
      writeFileSync(path, JSON.stringify(m, null, 2));
      assert.equal(validate(m), false, `the schema accepts ${what}`);
      const r = spawnSync(BIN, ['check', join(dir, 'visit-types')], { encoding: 'utf8' });
      assert.equal(r.status, 1, `intake check accepts ${what}:\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /manifest\.json:\d+:\d+: error: /);
    });
  }
});

const answersSchema = JSON.parse(readFileSync(join(ROOT, 'visit-types', 'answers.schema.json'), 'utf8'));

describe('the scenario schema', () => {
  const scenarioSchema = JSON.parse(readFileSync(join(ROOT, 'visit-types', 'scenario.schema.json'), 'utf8'));
  // Its "answers" is the answers schema's answers object, by a relative $ref (as editors resolve it).
  const validateScenario = new Ajv2020({ allErrors: true, strict: true }).addSchema(answersSchema).compile(scenarioSchema);
  const files = shipped.flatMap((id) => readdirSync(join(ROOT, 'visit-types', id, 'scenarios')).filter((f) => f.endsWith('.json')).map((f) => join(ROOT, 'visit-types', id, 'scenarios', f)));

  it('accepts every shipped scenario, which names it in $schema', () => {
    assert.ok(files.length >= 30, `${files.length}`);
    for (const f of files) {
      const sc = JSON.parse(readFileSync(f, 'utf8'));
      assert.equal(sc.$schema, '../../scenario.schema.json', f);
      assert.ok(validateScenario(sc), `${f}: ${JSON.stringify(validateScenario.errors)}`);
    }
  });

  it('refuses a misspelt expectation, as intake test does (with the name meant)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'intake-scenario-schema-'));
    cpSync(join(ROOT, 'visit-types'), join(dir, 'visit-types'), { recursive: true });
    cpSync(join(ROOT, 'rules'), join(dir, 'rules'), { recursive: true });
    const path = join(dir, 'visit-types', 'diabetes-follow-up', 'scenarios', 'metformin-only-is-not-asked-about-lows.json');
    const sc = JSON.parse(readFileSync(path, 'utf8'));
    sc.expect.hiden = sc.expect.hidden;
    delete sc.expect.hidden;
    writeFileSync(path, JSON.stringify(sc, null, 2));
    assert.equal(validateScenario(sc), false);
    const r = spawnSync(BIN, ['test', join(dir, 'visit-types')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stdout + r.stderr, /unknown scenario key 'expect\.hiden' \(did you mean 'hidden'\?\)/);
  });
});

describe('the answers file schema', () => {
  const validateAnswers = new Ajv2020({ allErrors: true, strict: true }).compile(answersSchema);
  const CHART = join(ROOT, 'visit-types', 'diabetes-follow-up', 'scenarios', 'charts', 'on-insulin.json');
  const fill = (file) => {
    const dir = mkdtempSync(join(tmpdir(), 'intake-answers-schema-'));
    writeFileSync(join(dir, 'answers.json'), JSON.stringify(file));
    return spawnSync(BIN, ['fill', '--visit-type', 'diabetes-follow-up', '--chart', CHART, '--answers', join(dir, 'answers.json'), '--now', '2026-11-20T09:00:00Z'], { cwd: ROOT, encoding: 'utf8' });
  };
  const good = {
    $schema: '../answers.schema.json', format: 'intake-answers/1', visit_type: 'diabetes-follow-up', patient: 'Patient/dm-insulin',
    context: { reasons: ['diabetes-follow-up'] }, answers: { 'glucose-checks': true, 'hypo-episodes': true, 'hypo-count': 2 },
  };

  it('accepts a file the CLI fills, and the bare answers object', () => {
    assert.ok(validateAnswers(good), JSON.stringify(validateAnswers.errors));
    assert.ok(validateAnswers(good.answers), JSON.stringify(validateAnswers.errors));
    const r = fill(good);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /"valueInteger": 2/);
  });

  const mistakes = [
    ['a misspelt top-level key', { ...good, contexts: good.context }, /unknown key 'contexts' \(did you mean 'context'\?\)/],
    ['another format', { ...good, format: 'intake-answers/2' }, /format is "intake-answers\/2"/],
    ['an object that is no coding, quantity or reference', { ...good, answers: { 'hypo-count': { count: 2 } } }, /answers\.hypo-count/],
  ];
  for (const [what, file, message] of mistakes) {
    it(`refuses ${what}, as intake fill does`, () => {
      assert.equal(validateAnswers(file), false, `the schema accepts ${what}`);
      const r = fill(file);
      assert.equal(r.status, 1, `intake fill accepts ${what}: ${r.stdout.slice(0, 200)}`);
      assert.match(r.stderr, message);
    });
  }
});
