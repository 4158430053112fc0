// MBS 715 (Smart Forms' Aboriginal and Torres Strait Islander health check): for three ages,
// the items our engine shows or hides by `enableWhenExpression` are the ones fhirpath.js (the
// engine Smart Forms renders it with) says should be enabled (issue 8).
//
// Ours: `intake explain --questionnaire` (which item is shown, and why) and `intake fill
// --questionnaire` (the response), for the same answers. Theirs: each enableWhenExpression,
// evaluated by fhirpath.js on the item's own response item (%context) with the form's variables
// as SDC scopes them: the Questionnaire's on the response, each item's on its own response
// item, in document order, seen by the items under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT } from './lib.mjs';

const require = createRequire(import.meta.url);
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const FORM = join(ROOT, '..', 'shared', 'corpus', 'questionnaires', 'smart-forms', 'app-questionnaires',
  'Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json');
const AGE = 'e2a16e4d-2765-4b61-b286-82cfc6356b30';
const EWE = 'http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression';
const VARIABLE = 'http://hl7.org/fhir/StructureDefinition/variable';
const bin = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');

function run(args) {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `intake ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The response items directly under `parent` (in `item`, or under its answers). */
const childrenOf = (parent) => [...(parent?.item ?? []), ...(parent?.answer ?? []).flatMap((a) => a.item ?? [])];

/** Evaluate with fhirpath.js on `context`, a response item (typed as one, so that choice
 * elements such as `answer.value` resolve), or on nothing. */
function theirs(expression, context, env, base = 'QuestionnaireResponse.item') {
  try {
    return fhirpath.evaluate(context ?? {}, { base, expression }, { ...env, context: context ? [context] : [] }, r4);
  } catch {
    return [];
  }
}

test('MBS 715: the items shown by enableWhenExpression at ages 3, 30 and 60 are the ones fhirpath.js enables', () => {
  const q = JSON.parse(readFileSync(FORM, 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'mbs715-'));
  const report = [];
  for (const age of [3, 30, 60]) {
    const answers = join(dir, `age-${age}.json`);
    writeFileSync(answers, JSON.stringify({ [AGE]: age }));
    const shown = new Map();
    for (const line of run(['explain', '--questionnaire', FORM, '--answers', answers]).split('\n')) {
      const m = /^(shown|hidden)\s+(?:req\s+)?(\S+)/.exec(line);
      if (m) shown.set(m[2], m[1] === 'shown');
    }
    const qr = JSON.parse(run(['fill', '--questionnaire', FORM, '--answers', answers]));
    const base = { resource: qr, rootResource: qr, questionnaire: q, patient: { resourceType: 'Patient', id: 'anonymous' } };
    const bind = (owner, context, scope, type) => {
      const vars = { ...scope };
      for (const e of owner.extension ?? []) {
        const x = e.valueExpression;
        if (e.url !== VARIABLE || !x?.name) continue;
        vars[x.name] = (x.language ?? 'text/fhirpath') === 'text/fhirpath' ? theirs(x.expression, context, { ...base, ...vars }, type) : [];
      }
      return vars;
    };
    let compared = 0;
    const disagree = [];
    const walk = (items, path, qrParent, scope) => {
      for (const it of items ?? []) {
        const key = path ? `${path}/${it.linkId}` : it.linkId;
        const qrItem = childrenOf(qrParent).find((x) => x.linkId === it.linkId);
        const vars = bind(it, qrItem, scope);
        const expr = it.extension?.find((e) => e.url === EWE)?.valueExpression?.expression;
        // Compared where only the expression decides: the parent is shown and the item has no
        // plain enableWhen of its own.
        const parentShown = !path || shown.get(path) === true;
        if (expr && parentShown && !it.enableWhen && shown.has(key)) {
          const out = theirs(expr, qrItem, { ...base, ...vars });
          const enabled = out.length === 1 && out[0] === true;
          compared++;
          if (enabled !== shown.get(key)) disagree.push(`${key}: ${expr} -> fhirpath.js ${JSON.stringify(out)}, ours ${shown.get(key) ? 'shown' : 'hidden'}`);
        }
        walk(it.item, key, qrItem, vars);
      }
    };
    walk(q.item, '', qr, bind(q, qr, {}, 'QuestionnaireResponse'));
    report.push(`age ${age}: ${compared} enableWhenExpressions compared, ${disagree.length} disagree`);
    assert.ok(compared > 100, `age ${age}: only ${compared} compared`);
    assert.deepEqual(disagree, [], `age ${age}`);
  }
  console.log(report.join('\n'));
});
