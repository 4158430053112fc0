// Browser benchmark: prints figures, asserts nothing. Run after ./build-web.sh:
//   node tests/e2e/bench.mjs
// - bytes on the wire for the demo page (raw and gzip)
// - navigation -> first page rendered, per visit type (fresh browser context each run)
// - answer -> DOM updated, per visit type and on large forms from the corpus (MDS 3.0, MBS 715)
//   and a generated 1,000-item enableWhen chain (including its worst case), and 500 rows of a
//   repeating group resumed from autosave
// - answer -> DOM where every answer re-evaluates the form's FHIRPath: PHQ-9's total, MBS 715's age
// - one answer that shows many items for the first time (MBS 715's first age): until the answer's
//   part is in the page, and until all of it is
// BENCH_ONLY=<text> runs only the visit types, large-form and expression cases whose name contains it.
// BENCH_DIST=<dir> serves another build of the demo site than web/dist (to compare two builds;
// the bytes section still reads web/dist).
// --json FILE also writes every figure (medians, p95s, bytes) with the commit, the Chromium
// version and the machine's load, for `node tests/e2e/bench-table.mjs FILE` (the README table).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterWarmUp, corpus, largeForms, launch, openPage, ROOT, serve } from './lib.mjs';

const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
/** Every figure printed, for --json: { section, case, measure, median, p95, unit }. */
const figures = [];
const record = (section, name, measure, xs, unit = 'ms') => {
  const ok = xs.filter((x) => !Number.isNaN(x));
  if (ok.length) figures.push({ section, case: name, measure, median: median(ok), p95: p95(ok), n: ok.length, unit });
};
const loadAtStart = loadavg();

const RUNS = Number(process.env.BENCH_RUNS || 7);
const ONLY = process.env.BENCH_ONLY;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];
const fmt = (ms) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;

// ---- bytes on the wire --------------------------------------------------------------------
const dist = join(ROOT, 'web', 'dist');
const files = ['index.html', 'demo.js', 'demo.css', 'intake.css', 'pkg/intake_rules.js', 'pkg/intake_rules_bg.wasm',
  'catalog.json', 'visit-types/hypertension-follow-up.json', 'charts/maria-hernandez.json'];
/** One file's bytes (raw, gzip -9, brotli): recorded for --json and printed as a row named `name`. */
function wire(path, name) {
  const b = readFileSync(path);
  const row = { section: 'bytes', case: name, measure: 'bytes', raw: b.length, gzip: gzipSync(b, { level: 9 }).length, brotli: brotliCompressSync(b).length, unit: 'B' };
  figures.push(row);
  console.log(`${name.padEnd(42)} ${String(row.raw).padStart(9)} raw ${String(row.gzip).padStart(9)} gzip ${String(row.brotli).padStart(9)} brotli`);
  return row;
}
console.log('\n== bytes on the wire: demo page, blood pressure follow-up (the rules build)');
let raw = 0, gz = 0, comp = [0, 0];
for (const f of files) {
  const row = wire(join(dist, f), f);
  raw += row.raw; gz += row.gzip;
  if (/intake_rules|intake\.css/.test(f)) { comp[0] += row.raw; comp[1] += row.gzip; }
}
console.log(`${'total'.padEnd(42)} ${String(raw).padStart(9)} raw ${String(gz).padStart(9)} gzip`);
console.log(`${'the component (wasm + JS + CSS)'.padEnd(42)} ${String(comp[0]).padStart(9)} raw ${String(comp[1]).padStart(9)} gzip`);
// The package's builds (pkg/index.js picks the smallest that runs a form).
for (const [name, what] of [['intake_web', 'full build (rules and expressions)'], ['intake_sdc', 'SDC build (expressions, no rules)'], ['intake_rules', 'rules build (no FHIRPath)'], ['intake_basic', 'basic build (neither rules nor FHIRPath)']]) {
  console.log(`\n== bytes on the wire: the package's ${what}`);
  for (const f of [`${name}.js`, `${name}_bg.wasm`]) wire(join(ROOT, 'pkg', 'dist', f), `pkg/dist/${f}`);
}

const server = await serve(process.env.BENCH_DIST || undefined);
const browser = await launch();

/** What every form bench page has (installed before its scripts): `bench.timed(act)` times one
 *  answer, `bench.field(host, label)` finds a question's control by its label. */
function inPage() {
  const nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  window.bench = {
    nextFrame,
    /** The module (initialised) and an empty element `#id` in the page to mount a form into. */
    async host(id) {
      const m = await import('./pkg/intake_web.js');
      const wasm = await m.default();
      document.querySelector('#start').hidden = true;
      const host = document.createElement('div');
      host.id = id;
      document.querySelector('main').append(host);
      return { m, wasm, host };
    },
    /** `act` answers, started between frames as a tap is. `dom`: until all synchronous work and
     *  microtasks (the reactive flush) are done; `laidOut`: and the browser's style and layout
     *  for the change, forced at once (waiting for the next frame would add the idle wait for
     *  the display's refresh, which is not work). */
    async timed(act) {
      await nextFrame();
      const t0 = performance.now();
      act();
      await new Promise((r) => { const c = new MessageChannel(); c.port1.onmessage = r; c.port2.postMessage(0); });
      const dom = performance.now() - t0;
      void document.documentElement.offsetHeight;
      return { t0, dom, laidOut: performance.now() - t0 };
    },
    field(host, label) {
      const q = [...host.querySelectorAll('.ik-q')].find((x) => x.querySelector('label')?.textContent.replace(/\s*\(required\)\s*$/, '').trim() === label);
      return q?.querySelector('select, input') ?? null;
    },
  };
}

/** A fresh page of the demo site with `inPage`'s helpers, ready to mount a form; `warm`: after
 *  the package's warm-up has run (as when a patient reads before answering). */
async function formPage({ warm }) {
  const { page, context } = await openPage(browser);
  await page.addInitScript(inPage);
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready=true]');
  if (warm) await afterWarmUp(page);
  return { page, context };
}

// Records performance.now() when the first page heading appears.
const RENDER_PROBE = () => {
  new MutationObserver((_, mo) => {
    if (document.querySelector('.ik-page h3')) { window.__renderedAt = performance.now(); mo.disconnect(); }
  }).observe(document, { subtree: true, childList: true });
};

// In the page: click `target`, resolve when `done()` holds, measured with a MutationObserver.
const TIMED_CLICK = async ({ selector, until, rootSel }) => {
  const root = document.querySelector(rootSel);
  const el = document.querySelector(selector);
  const cond = new Function(`return (${until})`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const check = () => { if (cond()) { mo.disconnect(); resolve(performance.now() - t0); return true; } return false; };
    const mo = new MutationObserver(check);
    mo.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
    el.click();
    if (!check()) setTimeout(() => { if (!check()) resolve(NaN); }, 2000);
  });
};

// ---- visit types: navigation -> rendered, answer -> DOM ----------------------------------------
console.log(`\n== visit types (median of ${RUNS} fresh loads)`);
const visits = [
  ['hypertension-follow-up', 'maria-hernandez', 'Do you check your blood pressure at home?', 'Your most recent home reading'],
  ['pediatric-sick-visit', 'leo-hernandez', 'How are you related to the child?', null],
  ['new-patient-adult', 'sam-okafor', 'Sex recorded on your insurance', null],
];
for (const [vt, patient, toggle, appears] of visits.filter(([name]) => !ONLY || name.includes(ONLY))) {
  const loads = [];
  for (let i = 0; i < RUNS; i++) {
    const { page, context } = await openPage(browser);
    await page.addInitScript(RENDER_PROBE);
    await page.goto(`${server.url}?visitType=${vt}&patient=${patient}&lang=en`);
    await page.waitForFunction(() => window.__renderedAt);
    loads.push(await page.evaluate(() => {
      const m = (n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN;
      const nav = performance.getEntriesByType('navigation')[0];
      return { rendered: window.__renderedAt, wasm: m('intake:wasm-ready'), data: m('intake:data-ready'), mounted: m('intake:mounted'), dcl: nav.domContentLoadedEventEnd };
    }));
    await page.evaluate(() => localStorage.clear());
    await context.close();
  }
  // Answer latency: toggle a radio back and forth; wait until the form shows the change.
  const { page, context } = await openPage(browser);
  await page.goto(`${server.url}?visitType=${vt}&patient=${patient}&lang=en`);
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.waitForSelector('.ik-page h3');
  const ids = await page.evaluate((text) => {
    const q = [...document.querySelectorAll('.ik-q')].find((e) => e.querySelector(':scope > legend, :scope > label')?.textContent.includes(text));
    return [...q.querySelectorAll('input[type=radio]')].slice(0, 2).map((i) => `#${CSS.escape(i.id)}`);
  }, toggle);
  const lat = [];
  for (let i = 0; i < 30; i++) {
    const sel = ids[i % 2];
    const until = appears
      // Shown: in the page and not inside a hidden item (hidden items keep their elements).
      ? (i % 2 === 0 ? `[...document.querySelectorAll('legend')].some(l => l.textContent.includes(${JSON.stringify(appears)}) && !l.closest('[hidden]'))` : `![...document.querySelectorAll('legend')].some(l => l.textContent.includes(${JSON.stringify(appears)}) && !l.closest('[hidden]'))`)
      : `document.querySelector(${JSON.stringify(sel)}).checked && !document.querySelector(${JSON.stringify(sel)}).closest('.ik-invalid')`;
    const ms = await page.evaluate(TIMED_CLICK, { selector: sel, until, rootSel: '.ik' });
    lat.push(ms);
  }
  const mid = (k) => median(loads.map((l) => l[k]));
  record('visit types', vt, 'navigation -> form rendered', loads.map((l) => l.rendered));
  record('visit types', vt, 'answer -> DOM', lat);
  console.log(`${vt.padEnd(24)} navigation -> form rendered ${fmt(mid('rendered')).padStart(8)} (DOM ready ${fmt(mid('dcl'))}, wasm ready ${fmt(mid('wasm'))}, data ready ${fmt(mid('data'))}, mounted ${fmt(mid('mounted'))})`);
  console.log(`${''.padEnd(24)} answer -> DOM updated median ${fmt(median(lat))}, p95 ${fmt(p95(lat))}${appears ? ' (a group appears/disappears)' : ''}`);
  await context.close();
}

// ---- large forms -----------------------------------------------------------------------------
const large = largeForms().filter(([name]) => !ONLY || name.includes(ONLY));
console.log(`\n== large forms (mount -> first page rendered, median of ${RUNS}; answer -> DOM settled, median/p95 of 30)`);
for (const [name, q, saved] of large) {
  const mounts = [];
  let allRows = null;
  let page, context;
  for (let i = 0; i < RUNS; i++) {
    ({ page, context } = await formPage({ warm: true }));
    const ms = await page.evaluate(async ({ q, saved }) => {
      const { m, wasm, host } = await window.bench.host('big');
      const store = saved ? { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } : false;
      // Long tasks (main thread held > 50 ms) from mount until every row is on the page.
      const tasks = [];
      const po = new PerformanceObserver((l) => { for (const e of l.getEntries()) tasks.push(e.duration); });
      try { po.observe({ type: 'longtask' }); } catch { /* not supported */ }
      const t0 = performance.now();
      window.big = m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p', birthDate: '1950-01-01' }, storage: store, now: '2026-11-20T09:00:00Z' });
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      const first = document.querySelector('#big .ik-page h3') ? performance.now() - t0 : NaN;
      // A long page's chunks past its first screen are built empty (aria-busy) and filled,
      // a slice a task, after the first paint: when is every item of the page built?
      let built = first;
      if (document.querySelector('#big .ik-chunk[aria-busy]')) {
        while (document.querySelector('#big .ik-chunk[aria-busy]') && performance.now() - t0 < 20000) {
          await window.bench.nextFrame();
        }
        built = performance.now() - t0;
      }
      // Repeating-group rows are put on the page a few per frame: when are they all there?
      const rows = saved ? Object.values(saved.answers).find(Array.isArray)?.length ?? 0 : 0;
      let all = NaN;
      if (rows) {
        while (document.querySelectorAll('#big .ik-row').length < rows && performance.now() - t0 < 20000) {
          await new Promise((r) => requestAnimationFrame(r));
        }
        all = performance.now() - t0;
      }
      po.disconnect();
      // Wasm linear memory never shrinks: after the mount it is the most the load and the
      // first render needed at once.
      return { first, built, all, longest: tasks.length ? Math.max(...tasks) : 0, wasmBytes: wasm.memory.buffer.byteLength };
    }, { q, saved });
    mounts.push(ms.first);
    // What the page holds after the mount: the JS heap after a full GC, and wasm memory.
    const cdp = await context.newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    ms.jsHeap = (await cdp.send('Runtime.getHeapUsage')).usedSize;
    await cdp.detach();
    (allRows ??= []).push(ms);
    if (i < RUNS - 1) await context.close();
  }
  // Questions on the first page as mounted (before the toggles below change it).
  const shown = await page.evaluate(() => document.querySelectorAll('#big .ik-q').length);
  // Answer latency: toggle the first yes/no (or first radio) on the page, until the DOM settles,
  // and until it is laid out: the browser's own style and layout come after our code (hiding
  // 999 items costs it more than it costs us), and the patient sees the frame they make.
  const lat = [];
  const framed = [];
  const radios = await page.evaluate(() => {
    const r = [...document.querySelectorAll('#big input[type=radio]')].slice(0, 2).map((i) => `#${CSS.escape(i.id)}`);
    if (r.length === 2) return r;
    const sel = document.querySelector('#big select');
    return sel ? [`#${CSS.escape(sel.id)}`, `#${CSS.escape(sel.id)}`] : [];
  });
  for (let i = 0; i < 30 && radios.length === 2; i++) {
    const sel = radios[i % 2];
    const [ms, frame] = await page.evaluate(async ({ sel, i }) => {
      const el = document.querySelector(sel);
      const t = await window.bench.timed(() => {
        if (el.tagName === 'SELECT') {
          el.selectedIndex = 1 + (i % Math.max(1, el.options.length - 1));
          el.dispatchEvent(new Event('change', { bubbles: true }));
        } else {
          el.click();
        }
      });
      return [t.dom, t.laidOut];
    }, { sel, i });
    lat.push(ms);
    framed.push(frame);
  }
  record('large forms', name, 'mount -> first page rendered', mounts);
  if (allRows.some((x) => x.built > x.first)) record('large forms', name, 'mount -> every item of the page built', allRows.map((x) => x.built));
  record('large forms', name, 'answer -> DOM', lat);
  record('large forms', name, 'answer -> laid out', framed);
  const mb = (k) => allRows.map((x) => x[k] / 2 ** 20);
  record('large forms', name, 'memory after mount: wasm', mb('wasmBytes'), 'MB');
  record('large forms', name, 'memory after mount: JS heap after GC', mb('jsHeap'), 'MB');
  console.log(`${name.padEnd(32)} first page ${fmt(median(mounts)).padStart(8)} (${shown} questions shown)   answer -> DOM ${lat.length ? `median ${fmt(median(lat))}, p95 ${fmt(p95(lat))}; laid out median ${fmt(median(framed))}, p95 ${fmt(p95(framed))}` : 'n/a'}`);
  console.log(`${''.padEnd(32)} memory after mount (medians): wasm ${median(mb('wasmBytes')).toFixed(1)} MB, JS heap after GC ${median(mb('jsHeap')).toFixed(1)} MB`);
  if (allRows.some((x) => x.built > x.first)) {
    console.log(`${''.padEnd(32)} every item of the page built ${fmt(median(allRows.map((x) => x.built)))}; longest main-thread task ${fmt(median(allRows.map((x) => x.longest)))} (medians)`);
  }
  if (allRows.some((x) => !Number.isNaN(x.all))) {
    console.log(`${''.padEnd(32)} every row on the page ${fmt(median(allRows.map((x) => x.all)))}; longest main-thread task ${fmt(median(allRows.map((x) => x.longest)))} (medians)`);
  }
  await context.close();
}

// ---- SDC expressions: every answer re-evaluates the form's FHIRPath (issue 8) ------------------
const exprCases = [
  // PHQ-9: a drop-down answer, the total recalculated.
  ['PHQ-9: an answer, the total recalculated', corpus('questionnaires/lforms/R4/phq9.json'), (i) => ({ label: 'Little interest or pleasure in doing things?', select: 1 + (i % 4) })],
  // MBS 715: the age every %age enableWhenExpression reads.
  ['MBS 715: the age (291 enableWhenExpressions)', corpus('questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json'), (i) => ({ label: 'Age', text: String([3, 30, 60][i % 3]) })],
].filter(([name]) => !ONLY || name.includes(ONLY));
if (exprCases.length) console.log(`\n== SDC expressions (answer -> DOM settled, median/p95 of 30)`);
for (const [name, q, step] of exprCases) {
  const { page, context } = await formPage({ warm: false });
  await page.evaluate(async (q) => {
    const { m, host } = await window.bench.host('expr');
    window.expr = m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p', birthDate: '1970-01-01' }, storage: false, now: '2026-11-20T09:00:00Z' });
    await new Promise((r) => setTimeout(r, 50));
  }, q);
  const lat = [];
  const framed = [];
  for (let i = 0; i < 30; i++) {
    const [ms, frame] = await page.evaluate(async (s) => {
      const el = window.bench.field(document.querySelector('#expr'), s.label);
      if (!el) return [NaN, NaN];
      const t = await window.bench.timed(() => {
        if (el.tagName === 'SELECT') el.selectedIndex = s.select; else el.value = s.text;
        el.dispatchEvent(new Event('change', { bubbles: true }));
      });
      return [t.dom, t.laidOut];
    }, step(i));
    lat.push(ms);
    framed.push(frame);
  }
  record('SDC expressions', name, 'answer -> DOM', lat);
  record('SDC expressions', name, 'answer -> laid out', framed);
  console.log(`${name.padEnd(48)} answer -> DOM median ${fmt(median(lat))}, p95 ${fmt(p95(lat))}; laid out median ${fmt(median(framed))}, p95 ${fmt(p95(framed))}`);
  await context.close();
}

// ---- first shows: one answer shows many items never built (web/src/first_show.rs) -----------
// MBS 715 mounted without a birth date, so only its first sections show; the first age shows
// the sections for that age (177 questions in 74 groups at 40). Each run a fresh page, after the
// warm-up (a patient reads before answering). answer -> DOM: the answer's own work; laid out:
// that, and the style and layout it forces; all shown: until the last item is in the page (the
// rest are built after each paint).
const firstShow = 'MBS 715: the first age (sections never shown before)';
if (!ONLY || firstShow.includes(ONLY)) {
  console.log(`\n== first shows (median/p95 of ${RUNS} fresh pages)`);
  const q = corpus('questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json');
  const [dom, framed, all, added] = [[], [], [], []];
  for (let i = 0; i < RUNS; i++) {
    const { page, context } = await formPage({ warm: true });
    const r = await page.evaluate(async (q) => {
      const { m, host } = await window.bench.host('first');
      window.first = m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p' }, storage: false, now: '2026-11-20T09:00:00Z' });
      await new Promise((r) => setTimeout(r, 300));
      const count = () => host.querySelectorAll('.ik-q').length;
      const before = count();
      const el = window.bench.field(host, 'Age');
      if (!el) return null;
      const { t0, dom, laidOut } = await window.bench.timed(() => {
        el.value = '40';
        el.dispatchEvent(new Event('change', { bubbles: true }));
      });
      // Until the count of questions has not grown for three frames.
      let n = count();
      let last = performance.now();
      for (let still = 0; still < 3 && performance.now() - t0 < 10000;) {
        await window.bench.nextFrame();
        const k = count();
        if (k === n) still++; else { still = 0; n = k; last = performance.now(); }
      }
      return { dom, framed: laidOut, all: last - t0, added: n - before };
    }, q);
    await context.close();
    if (!r) continue;
    dom.push(r.dom); framed.push(r.framed); all.push(r.all); added.push(r.added);
  }
  record('first shows', firstShow, 'answer -> DOM', dom);
  record('first shows', firstShow, 'answer -> laid out', framed);
  record('first shows', firstShow, 'answer -> all shown', all);
  console.log(`${firstShow.padEnd(48)} ${median(added)} questions added; answer -> DOM median ${fmt(median(dom))}, p95 ${fmt(p95(dom))}; laid out median ${fmt(median(framed))}; all shown median ${fmt(median(all))}, p95 ${fmt(p95(all))}`);
}

if (jsonOut) {
  const commit = (() => { try { return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { return null; } })();
  const out = { commit, date: new Date().toISOString(), chromium: browser.version(), cpus: cpus().length, load: { start: loadAtStart, end: loadavg() }, runs: RUNS, figures };
  writeFileSync(jsonOut, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${figures.length} figures to ${jsonOut}`);
}
await browser.close();
server.stop();
