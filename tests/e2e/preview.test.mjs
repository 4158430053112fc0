// `intake preview`: the author edits files on disk while the page is open. The form reloads
// with the answers kept, the explain panel follows, a broken edit shows its error at
// file:line (the form stays as it was), and a saved scenario passes `intake test`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, axe, launch, openPage, preview, question, shot } from './lib.mjs';

const BIN = process.env.INTAKE_BIN || join(ROOT, 'target', 'debug', 'intake');
let browser;
let server;
let work;

before(async () => {
  // A copy of the project's visit types and rules: the test edits them.
  // Scenarios on the shared corpus's charts name them by a path relative to the project
  // (`../../../../shared/corpus/...`), so the copy has the corpus beside it too, inside the
  // temporary directory (it passed only where a `shared` happened to sit beside the tmpdir).
  work = join(mkdtempSync(join(tmpdir(), 'intake-preview-')), 'project');
  symlinkSync(join(ROOT, '..', 'shared'), join(dirname(work), 'shared'));
  cpSync(join(ROOT, 'visit-types'), join(work, 'visit-types'), { recursive: true });
  cpSync(join(ROOT, 'rules'), join(work, 'rules'), { recursive: true });
  // The demo charts, where the project's scenarios and the preview's chart list find them.
  cpSync(join(ROOT, 'web', 'demo', 'charts'), join(work, 'web', 'demo', 'charts'), { recursive: true });
  server = await preview(['--visit-type', 'diabetes-follow-up', '--pkg', join(ROOT, 'pkg')], work);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.stop();
  if (work) rmSync(dirname(work), { recursive: true, force: true });
});

const RULE = () => join(work, 'rules', 'diabetes.rhai');
const edit = (from, to) => {
  const text = readFileSync(RULE(), 'utf8');
  assert.ok(text.includes(from), `the rule file holds ${from}`);
  writeFileSync(RULE(), text.replace(from, to));
};

test('editing a rule reloads the preview with the answers kept; a broken edit shows its error; a saved scenario passes', async () => {
  const { page, problems } = await openPage(browser, { width: 1400, height: 1000 });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]');

  // The visit type named on the command line, on a chart it fits (its own scenario chart).
  assert.equal(await page.locator('#visit-type').inputValue(), 'diabetes-follow-up');
  assert.match(await page.locator('#chart').inputValue(), /diabetes-follow-up\/scenarios\/charts\/on-insulin\.json$/);
  const hypo = question(page, 'have you had low blood sugar');
  await hypo.waitFor();
  assert.match(await hypo.textContent(), /includes insulin, so we ask about low blood sugar/);
  await page.waitForFunction(() => /hypo-episodes/.test(document.getElementById('explain').textContent));
  assert.equal(await page.locator('#check-summary').textContent(), 'No errors or warnings.');

  // Answer as a patient; the explain panel follows every answer.
  await question(page, 'check your blood sugar at home').getByLabel('Yes').check();
  await hypo.getByLabel('Yes').check();
  await question(page, 'How many times?').locator('input').fill('4');
  await question(page, 'How many times?').locator('input').blur();
  await page.waitForFunction(() => /hypo-count = 4/.test(document.getElementById('explain').textContent));
  assert.match(await page.locator('#explain').textContent(), /! review: Three or more low blood sugar episodes/);
  const mounts = Number(await page.locator('body').getAttribute('data-mounts'));

  // Edit the rule: a new reason, and three episodes no longer enough for review.
  edit('Your medication list includes insulin, so we ask about low blood sugar.', 'Insulin is on your medication list, so we ask about lows.');
  edit('episodes >= 3', 'episodes >= 5');
  await page.waitForFunction(() => /Insulin is on your medication list, so we ask about lows\./.test(document.getElementById('intake').textContent));
  assert.ok(Number(await page.locator('body').getAttribute('data-mounts')) > mounts, 'the form was remounted');
  assert.equal(await question(page, 'How many times?').locator('input').inputValue(), '4', 'the answer survived the reload');
  assert.ok(await question(page, 'have you had low blood sugar').getByLabel('Yes').isChecked());
  await page.waitForFunction(() => {
    const t = document.getElementById('explain').textContent;
    return /Insulin is on your medication list/.test(t) && /hypo-count = 4/.test(t) && !/Three or more/.test(t);
  });
  assert.match(await page.locator('#live').textContent(), /reloaded with the answers kept/);

  // A broken edit: the error at its file:line:col, the form untouched.
  edit('if takes_medication(valueset("insulins")) {', 'if takes_medication(valueset("insulins") {');
  await page.waitForSelector('#check.pv-failed');
  const errors = await page.locator('#diagnostics').textContent();
  assert.match(errors, /rules\/diabetes\.rhai:5:\d+: error:/, errors);
  assert.match(await page.locator('#check-summary').textContent(), /does not load; the form shows the last version that did/);
  assert.equal(await page.locator('#check').getAttribute('role'), 'alert');
  assert.equal(await question(page, 'How many times?').locator('input').inputValue(), '4');
  await page.waitForFunction(() => /^\(out of date/.test(document.getElementById('explain').textContent));
  await shot(page, 'preview-broken-rule');

  // A misspelt linkId: loads as an error with the suggestion.
  edit('if takes_medication(valueset("insulins") {', 'if takes_medication(valueset("insulins")) {');
  edit('flag("foot-sores"', 'flag("foot-sore"');
  await page.waitForFunction(() => /did you mean 'foot-sores'/.test(document.getElementById('diagnostics').textContent));
  edit('flag("foot-sore"', 'flag("foot-sores"');
  await page.waitForFunction(() => document.getElementById('check-summary').textContent === 'No errors or warnings.');
  await page.waitForFunction(() => /hypo-count = 4/.test(document.getElementById('explain').textContent) && !/out of date/.test(document.getElementById('explain').textContent));

  // Save the state as a scenario: written beside the visit type, and it passes as it stands.
  await page.locator('#scenario-name').fill('insulin-four-lows-not-flagged');
  await page.locator('#scenario-description').fill('Four lows are below the new threshold of five.');
  await page.getByRole('button', { name: 'Save scenario' }).click();
  await page.waitForFunction(() => /^Saved /.test(document.getElementById('scenario-result').textContent));
  assert.match(await page.locator('#scenario-result').textContent(), /intake test on it: passed/);
  const file = join(work, 'visit-types', 'diabetes-follow-up', 'scenarios', 'insulin-four-lows-not-flagged.json');
  const scenario = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(scenario.chart, 'charts/on-insulin.json');
  assert.equal(scenario.answers['hypo-count'], 4);
  assert.ok(scenario.expect.shown.includes('hypo-episodes'));
  assert.match(scenario.expect.reasons['hypo-episodes'], /Insulin is on your medication list/);
  assert.ok(!(scenario.expect.flagged || []).includes('hypo-count'));
  // The saved scenario passes; the one written for the old rule fails, as it should.
  const run = spawnSync(BIN, ['test', join(work, 'visit-types')], { encoding: 'utf8' });
  assert.match(run.stdout, /ok +\S*insulin-four-lows-not-flagged\.json/, run.stdout);
  const failed = run.stdout.split('\n').filter((l) => /^\s*FAIL/.test(l));
  assert.equal(failed.length, 1, failed.join('\n'));
  assert.match(failed[0], /insulin-frequent-lows-are-flagged/);

  // Nothing is overwritten.
  await page.getByRole('button', { name: 'Save scenario' }).click();
  await page.waitForFunction(() => /^Not saved: .*exists/.test(document.getElementById('scenario-result').textContent));

  // A demo chart outside the visit type is copied in beside the scenario.
  const demo = (await page.locator('#chart option').allTextContents()).find((l) => /maria-hernandez/.test(l));
  assert.ok(demo);
  await page.locator('#chart').selectOption({ label: demo });
  await question(page, 'check your blood sugar at home').waitFor();
  await page.waitForFunction(() => /María Elena/.test(document.getElementById('explain').textContent));
  await page.locator('#scenario-name').fill('maria-not-on-insulin');
  await page.getByRole('button', { name: 'Save scenario' }).click();
  await page.waitForFunction(() => /^Saved /.test(document.getElementById('scenario-result').textContent));
  assert.ok(existsSync(join(work, 'visit-types', 'diabetes-follow-up', 'scenarios', 'charts', 'maria-hernandez.json')));
  const again = spawnSync(BIN, ['test', join(work, 'visit-types')], { encoding: 'utf8' });
  assert.match(again.stdout, /ok +\S*maria-not-on-insulin\.json/, again.stdout);

  const violations = await axe(page);
  assert.deepEqual(violations, [], violations.join('\n'));
  // 409 Conflict is the preview's answer while the files do not load and to an existing name.
  assert.deepEqual(problems.filter((p) => !/status of 409 \(Conflict\)/.test(p)), []);
});
