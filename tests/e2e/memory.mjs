// Developer tool: what a mount keeps in wasm memory. Prints figures; asserts nothing.
//   ./build-web.sh && node tests/e2e/memory.mjs
// Builds the browser module with the `alloc-stats` feature, takes a copy, builds it again
// without (so target/ holds the shipped build, as size-attribution.mjs and profile.mjs expect;
// cargo keeps both, so each is a relink), serves a copy of web/dist with the counting one, and
// prints:
// - for 2,000 questions of one kind on one page, the live heap per question that the session,
//   `Ui::new` and the mounted view each add (console marks in `api.rs`);
// - for the 5,000 answered questions of bench.mjs, live heap at each step and wasm memory.
// A reactive binding (effect or memo) held about 450 bytes when this was written: the per-kind
// figures show what a view change costs every question of a page.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answeredFlatForm, corpus, launch, onePage, openPage, ROOT, serve } from './lib.mjs';

const build = (...features) => execFileSync('cargo', ['build', '--locked', '-q', '-p', 'intake-web', '--target', 'wasm32-unknown-unknown',
  '--profile', 'wasm', ...features], { cwd: ROOT, stdio: 'inherit' });
const tmp = mkdtempSync(join(tmpdir(), 'intake-memory-'));
const dir = join(tmp, 'dist');
build('--features', 'alloc-stats');
cpSync(join(ROOT, 'target', 'wasm32-unknown-unknown', 'wasm', 'intake_web.wasm'), join(tmp, 'intake_web.wasm'));
build();
cpSync(join(ROOT, 'web', 'dist'), dir, { recursive: true });
execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', join(dir, 'pkg'), join(tmp, 'intake_web.wasm')], { stdio: 'inherit' });
execFileSync('node', [join(ROOT, 'web', 'short-strings.mjs'), join(dir, 'pkg', 'intake_web.js')], { stdio: 'inherit' });

const server = await serve(dir);
const browser = await launch();
const chart = { resourceType: 'Patient', id: 'p', birthDate: '1950-01-01' };

/** Mounts `q` (with autosaved `saved`) in a fresh page; the live bytes at each console mark. */
async function mountMarks(q, saved) {
  const { page, context } = await openPage(browser);
  const marks = [];
  page.on('console', (m) => {
    const hit = /^alloc-stats (.+): live (\d+) B$/.exec(m.text());
    if (hit) marks.push([hit[1], Number(hit[2])]);
  });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready=true]');
  const wasm = await page.evaluate(async ({ q, saved, chart }) => {
    const m = await import('./pkg/intake_web.js');
    const w = await m.default();
    const host = document.createElement('div');
    document.body.append(host);
    const storage = saved ? { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } : false;
    window.form = m.mount(host, { questionnaire: q, chart, storage, now: '2026-11-20T09:00:00Z' });
    // [live, peak]: the peak is the most the heap held at once since the module started.
    const [, peak] = m.__allocStats();
    return { bytes: w.memory.buffer.byteLength, peak };
  }, { q, saved, chart });
  await context.close();
  // The first three marks are this mount's (an idle warm-up mount may follow).
  return { marks: marks.slice(0, 3), wasm: wasm.bytes, peak: wasm.peak };
}

const N = 2000;
const options = ['a', 'b', 'c'].map((code) => ({ valueCoding: { code, display: `Option ${code}` } }));
const kinds = [
  ['text (string)', { type: 'string' }],
  ['whole number', { type: 'integer' }],
  ['yes/no', { type: 'boolean' }],
  ['choice of three', { type: 'choice', answerOption: options }],
  ['checkboxes of three', { type: 'choice', repeats: true, answerOption: options }],
  ['display', { type: 'display' }],
];
console.log(`== live wasm heap per question, ${N.toLocaleString('en')} of one kind on one page`);
for (const [name, extra] of kinds) {
  const q = { resourceType: 'Questionnaire', id: 'kind', status: 'active', item: Array.from({ length: N }, (_, i) => ({ linkId: `q${i}`, text: `Question ${i}`, ...extra })) };
  const { marks } = await mountMarks(q, null);
  const [session, ui, view] = marks.map(([, b]) => b);
  const per = (b) => `${Math.round(b / N).toLocaleString('en')} B`.padStart(9);
  console.log(`${name.padEnd(22)} session ${per(session)}   Ui::new ${per(ui - session)}   view ${per(view - ui)}`);
}
const [q5000, saved5000] = answeredFlatForm(5000);
const { marks, wasm } = await mountMarks(q5000, saved5000);
const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MB`;
console.log('\n== 5,000 answered questions (bench.mjs), live heap after each step of mount');
for (const [what, b] of marks) console.log(`${what.padEnd(10)} ${mb(b)}`);
console.log(`wasm memory after mount: ${mb(wasm)}`);
// The large real forms of bench.mjs's memory rows: what the mount keeps, what it needed at its
// peak (reading the text), and the wasm memory that peak left behind.
for (const [name, file] of [['MDS 3.0', 'questionnaires/fhirpath.js/Minimum-Data-Set---version-3.0.R4.json'],
  ['MBS 715', 'questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json']]) {
  const q = onePage(corpus(file));
  const r = await mountMarks(q, null);
  console.log(`\n== ${name} all on one page (${(JSON.stringify(q).length / 1024).toFixed(0)} KB of JSON as passed), live heap after each step`);
  for (const [what, b] of r.marks) console.log(`${what.padEnd(10)} ${mb(b)}`);
  console.log(`peak live heap ${mb(r.peak)}; wasm memory after mount ${mb(r.wasm)}`);
}
await browser.close();
server.stop();
