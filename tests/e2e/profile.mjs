// Developer tool: where does the browser spend a mount? Prints self time per function (JS and
// wasm), from a Chromium CPU profile of one case of bench.mjs's large forms. Asserts nothing.
//   ./build-web.sh && node tests/e2e/profile.mjs [rows|chain|sum-chain|answered|flat5000|answer5000|mds|mds-onepage|mbs-onepage|toggle|mbs-age|phq9|chain-q0|chain-q1|file]
// `answered` mounts the 1,000-item chain answered to the end (1,000 questions on one page).
// `answer5000` profiles twelve answers to the first question of 5,000 answered ones (nothing
// depends on it).
// `mbs-age` profiles twelve answers to MBS 715's Age (40, as the peers-bench answers, 3, 60: every %age enableWhenExpression
// re-evaluated); `phq9` twelve answers to PHQ-9's first question (the total recalculated).
// `chain-q0` twelve answers to the head of the unanswered 1,000-item sum chain (its next
// question shown and hidden), the peers-bench's chain-1000 interaction (the sums included).
// `sum-chain` mounts the peers-bench's chain-1000 shape (sumChain in lib.mjs) unanswered;
// `chain-q1` twelve numbers typed into q1 of the peers-bench's chain-1000 (q0 answered yes
// first): q2 shown and hidden, q10's sum recalculated; the peers' second chain interaction.
// ONCHANGE=1: the host listens to onChange (as <intake-form> always does for intake-change).
// CALLERS=regex (after the run): who calls the matching innermost functions; CHILDREN=regex:
// the time under a function by what it called directly (see the end).
// `file`: FORM=path mounts that Questionnaire unanswered.
// WARMUP=1: run the module's warm-up before the profiled mount (its code compiled already).
// `toggle` profiles the answers, not the mount: the 1,000-item chain answered to the end, its
// head answered no and yes again six times (999 items hidden and shown each time).
// The shipped wasm has no function names (wasm-opt strips them), so this profiles a copy of
// web/dist whose wasm is the same build run through wasm-bindgen only, names kept.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { answeredFlatForm, CHROMIUM_ARGS, corpus, enableWhenChain, onePage, openPage, ROOT, savedRows, serve, sumChain } from './lib.mjs';

const which = process.argv[2] || 'rows';
const cases = {
  rows: savedRows(500),
  chain: [enableWhenChain(1000), null],
  mds: [corpus('questionnaires/fhirpath.js/Minimum-Data-Set---version-3.0.R4.json'), null],
  'mds-onepage': [onePage(corpus('questionnaires/fhirpath.js/Minimum-Data-Set---version-3.0.R4.json')), null],
  flat5000: answeredFlatForm(5000),
  answer5000: answeredFlatForm(5000),
  'mbs-onepage': [onePage(corpus('questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json')), null],
  answered: [enableWhenChain(1000), {
    format: 'intake-answers/1', visit_type: 'chain', patient: 'Patient/p', session: 'profile', page: 0,
    answers: Object.fromEntries(enableWhenChain(1000).item.map((it) => [it.linkId, true])) }],
  'mbs-age': [corpus('questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json'), null],
  phq9: [corpus('questionnaires/lforms/R4/phq9.json'), null],
  'chain-q0': [sumChain(1000), null],
  'chain-q1': [sumChain(1000), null],
  'sum-chain': [sumChain(1000), null],
  toggle: [enableWhenChain(1000), { format: 'intake-answers/1', visit_type: 'chain', patient: 'Patient/p', session: 'profile', page: 0,
    answers: Object.fromEntries(enableWhenChain(1000).item.map((it) => [it.linkId, true])) }],
};
// `file` mounts the Questionnaire at FORM=path (a peers-bench form, say), unanswered.
if (which === 'file') cases.file = [JSON.parse(readFileSync(process.env.FORM, 'utf8')), null];
const [q, saved] = cases[which];
let dir = process.env.PROFILE_DIR;
if (!dir) {
  dir = join(mkdtempSync(join(tmpdir(), 'intake-profile-')), 'dist');
  cpSync(join(ROOT, 'web', 'dist'), dir, { recursive: true });
  execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', join(dir, 'pkg'),
    join(ROOT, 'target', 'wasm32-unknown-unknown', 'wasm', 'intake_web.wasm')], { stdio: 'inherit' });
  // The glue as build-web.sh makes it.
  execFileSync('node', [join(ROOT, 'web', 'short-strings.mjs'), join(dir, 'pkg', 'intake_web.js')], { stdio: 'inherit' });
}
const server = await serve(dir);
// JS_FLAGS='--no-wasm-tier-up': V8 flags for this run. That one keeps every function in
// Liftoff's code, as on a first answer (steady-state answers run optimised code).
const args = process.env.JS_FLAGS ? CHROMIUM_ARGS.map((a) => (a.startsWith('--js-flags=') ? `${a} ${process.env.JS_FLAGS}` : a)) : CHROMIUM_ARGS;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args });
const { page, context } = await openPage(browser);
await page.goto(server.url);
await page.waitForSelector('body[data-ready=true]');
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: Number(process.env.INTERVAL || 100) });
await page.evaluate(async (warm) => {
  const m = await import('./pkg/intake_web.js');
  await m.default();
  // WARMUP=1: the module's warm-up first (as after the package's init), so the profile is of
  // the mount's own work, not of compiling its code.
  if (warm) while (m.warmUp()) { /* next step */ }
}, process.env.WARMUP === '1');
const answersOnly = ['toggle', 'answer5000', 'mbs-age', 'phq9', 'chain-q0', 'chain-q1'].includes(which);
if (!answersOnly) await cdp.send('Profiler.start');
let ms = await page.evaluate(async ({ q, saved, onChange }) => {
  const m = await import('./pkg/intake_web.js');
  document.querySelector('#start').hidden = true;
  const host = document.createElement('div');
  document.querySelector('main').append(host);
  const store = saved ? { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } : false;
  const t0 = performance.now();
  window.big = m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p', birthDate: '1950-01-01' }, storage: store, now: '2026-11-20T09:00:00Z',
    ...(onChange ? { onChange: (qr) => { window.lastResponse = qr; } } : {}) });
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - t0;
}, { q, saved, onChange: process.env.ONCHANGE === '1' });
// The answers run twice: once unprofiled, so what is built the first time an item shows is
// not counted (the profile is of answers in steady state), then profiled.
const answerLoop = async (arg) => {
  const [which, count] = Array.isArray(arg) ? arg : [arg, 12];
  const [yes, no] = [...document.querySelectorAll('input[type=radio]')].slice(0, 2);
  const field = (label) => [...document.querySelectorAll('.ik-q')]
    .find((x) => x.querySelector('label')?.textContent.replace(/\s*\(required\)\s*$/, '').trim() === label)
    ?.querySelector('select, input');
  const answer = {
    'mbs-age': (i) => { const el = field('Age'); el.value = String([40, 3, 60][i % 3]); el.dispatchEvent(new Event('change', { bubbles: true })); },
    phq9: (i) => { const el = field('Little interest or pleasure in doing things?'); el.selectedIndex = 1 + (i % 4); el.dispatchEvent(new Event('change', { bubbles: true })); },
    // As the peers-bench types: the value set, an input event, then Enter's change (a number, then cleared).
    'chain-q1': (i) => {
      const el = field('Item 1');
      if (!el) { yes.click(); return; } el.value = i % 2 ? '' : '7'; el.dispatchEvent(new Event('input', { bubbles: true }));
    },
  }[which] || ((i) => (i % 2 ? yes : no).click());
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    answer(i);
    await new Promise((r) => { const c = new MessageChannel(); c.port1.onmessage = r; c.port2.postMessage(0); });
  }
    return (performance.now() - t0) / count;
};
// INTERVAL=µs: the sampling interval (default 100; 10 for a single first answer).
// FIRST=1: the first answer after mount alone (what the peers-bench measures), after the
// page has been idle for a moment (as after a patient reads the first question).
const first = process.env.FIRST === '1';
// COUNT=n: profile n answers instead of twelve (more samples, steadier shares).
const count = Number(process.env.COUNT || 12);
if (answersOnly) {
  if (first) {
    await page.waitForTimeout(1000);
  } else {
    await page.evaluate(answerLoop, which);
  }
  await cdp.send('Profiler.start');
  ms = await page.evaluate(answerLoop, [which, first ? 1 : count]);
}
const { profile } = await cdp.send('Profiler.stop');
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas;
profile.samples.forEach((id, i) => {
  const n = byId.get(id);
  const name = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop() || 'program'})`;
  self.set(name, (self.get(name) || 0) + (dt[i] || 0) / 1000);
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const table = (title, times, rows) => {
  console.log(title);
  for (const [name, t] of [...times].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${t.toFixed(1).padStart(8)} ms  ${name.slice(0, 140)}`);
  }
};
table(`${which}: ${answersOnly ? 'one answer' : 'mount -> rendered'} ${ms.toFixed(0)} ms; profile ${total.toFixed(0)} ms; self time by function:`,
  self, Number(process.env.TOP || 40));
// The functions on each sample's stack, innermost first.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
const stack = (id) => {
  const out = [];
  for (let at = id; at !== undefined; at = parent.get(at)) out.push(byId.get(at).callFrame.functionName);
  return out;
};
// INCL='regex': inclusive time of the functions whose names match (each sample counted once per
// function, however deep the recursion), to see what a handler's time is made of.
if (process.env.INCL) {
  const re = new RegExp(process.env.INCL);
  const incl = new Map();
  profile.samples.forEach((id, i) => {
    for (const name of new Set(stack(id).filter((f) => f && re.test(f)))) incl.set(name, (incl.get(name) || 0) + (dt[i] || 0) / 1000);
  });
  table('\ninclusive time:', incl, 40);
}
// UNDER='regex': self time by function of only the samples under a function that matches.
if (process.env.UNDER) {
  const re = new RegExp(process.env.UNDER);
  const under = new Map();
  profile.samples.forEach((id, i) => {
    const frames = stack(id);
    if (!frames.some((f) => re.test(f))) return;
    const name = frames[0] || '(program)';
    under.set(name, (under.get(name) || 0) + (dt[i] || 0) / 1000);
  });
  table(`\nself time under /${process.env.UNDER}/:`, under, 30);
}
if (process.env.CHILDREN) {
  const re = new RegExp(process.env.CHILDREN);
  const kids = new Map();
  profile.samples.forEach((id, i) => {
    const frames = stack(id);
    const at = frames.findLastIndex((f) => f && re.test(f));
    if (at < 0) return;
    const name = at === 0 ? '(self)' : frames[at - 1] || '(program)';
    kids.set(name, (kids.get(name) || 0) + (dt[i] || 0) / 1000);
  });
  table(`\ntime under /${process.env.CHILDREN}/ by what it called:`, kids, 30);
}
// CALLERS='regex': time of the samples whose innermost function matches (malloc, say), by the
// nearest caller that matches neither it nor SKIP='regex' (default: the allocator's own layers).
if (process.env.CALLERS) {
  const re = new RegExp(process.env.CALLERS);
  const skip = new RegExp(process.env.SKIP || 'dlmalloc|__rdl_|__rust_|alloc::alloc|Global|RawVec|raw_vec|Vec<T,A>::|Box<T>::new|String>::|hashbrown');
  const callers = new Map();
  profile.samples.forEach((id, i) => {
    const frames = stack(id);
    if (!frames[0] || !re.test(frames[0])) return;
    const name = frames.find((f) => f && !re.test(f) && !skip.test(f)) || '(none)';
    callers.set(name, (callers.get(name) || 0) + (dt[i] || 0) / 1000);
  });
  table(`\nsamples in /${process.env.CALLERS}/ by nearest caller:`, callers, 30);
}
await context.close();
await browser.close();
server.stop();
process.exit(0);
