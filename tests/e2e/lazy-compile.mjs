// Developer tool: which wasm functions does the browser compile while a form mounts, and what
// does that cost? Prints figures; asserts nothing.
//   ./build-web.sh && node tests/e2e/lazy-compile.mjs [phq9|mds-onepage|chain|sum-chain|flat5000|file]
//   FORM=path for `file`; WARMUP=1 runs the module's warm-up before the mount; TOP=n rows.
//
// Why: Chromium compiles a wasm function the first time it is called (lazy compilation, on the
// page's thread). On a fresh page that is most of a first mount: in a devtools trace of the
// peers-bench page, PHQ-9's mount held 44 ms of `wasm.CompileLazy` of 55-68 ms, and MDS 3.0 on
// one page 72 ms. The compile cost follows the bytes of the functions the mount reaches, so
// this lists them: by crate and largest first, with Liftoff's own time for each.
//
// How: the full build's wasm, optimised as shipped (wasm-bindgen, the glue as build-web.sh makes
// it, wasm-opt with web/wasm-opt.flags) but with its function names kept (-g), on a bare page
// with the form's stylesheet; Chromium with V8's --trace-wasm-compilation-times, whose lines
// name each function by index. Two exports
// nothing else calls mark the mount's start and end in that log: `setFatalHandler` before it,
// `health` after it. Functions the warm-up or a later answer compiles are not counted.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { answeredFlatForm, CHROMIUM_ARGS, corpus, enableWhenChain, onePage, ROOT, serve, sumChain } from './lib.mjs';

const which = process.argv[2] || 'phq9';
const MDS = 'questionnaires/fhirpath.js/Minimum-Data-Set---version-3.0.R4.json';
const forms = {
  phq9: () => corpus('questionnaires/lforms/R4/phq9.json'),
  'mds-onepage': () => onePage(corpus(MDS)),
  chain: () => enableWhenChain(1000),
  'sum-chain': () => sumChain(1000),
  flat5000: () => answeredFlatForm(5000)[0],
  file: () => JSON.parse(readFileSync(process.env.FORM, 'utf8')),
};
if (!forms[which]) throw new Error(`unknown case ${which}: one of ${Object.keys(forms).join(', ')}`);
const q = forms[which]();
const top = Number(process.env.TOP || 25);

// The shipped build's code, with names.
const dir = mkdtempSync(join(tmpdir(), 'intake-lazy-'));
const pkg = join(dir, 'pkg');
execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', pkg, join(ROOT, 'target', 'wasm32-unknown-unknown', 'wasm', 'intake_web.wasm')], { stdio: 'inherit' });
execFileSync('node', [join(ROOT, 'web', 'short-strings.mjs'), join(pkg, 'intake_web.js')], { stdio: 'inherit' });
const wasm = join(pkg, 'intake_web_bg.wasm');
// OPT='...': other wasm-opt flags than build-web.sh's (web/wasm-opt.flags), to see what they
// do to the compile, printed with the gzip size they give (names stripped, as shipped).
// OPT=none: wasm-bindgen's output as it is (its printed size includes the names).
const shippedFlags = readFileSync(join(ROOT, 'web', 'wasm-opt.flags'), 'utf8').split('\n').filter((l) => !l.startsWith('#')).join(' ');
const opt = (process.env.OPT || shippedFlags).split(/\s+/).filter(Boolean);
const wasmOpt = join(ROOT, 'tests', 'e2e', 'node_modules', '.bin', 'wasm-opt');
let shipped = readFileSync(wasm);
if (opt[0] !== 'none') {
  execFileSync(wasmOpt, [...opt, '--strip-debug', '--strip-producers', wasm, '-o', `${wasm}.shipped`], { stdio: 'inherit' });
  shipped = readFileSync(`${wasm}.shipped`);
  execFileSync(wasmOpt, [...opt, '-g', '--strip-producers', wasm, '-o', wasm], { stdio: 'inherit' });
}
const names = functionNames(readFileSync(wasm));
// A bare page: the demo's own page would load a build of its own and warm it meanwhile.
cpSync(join(ROOT, 'web', 'intake.css'), join(dir, 'intake.css'));
writeFileSync(join(dir, 'lazy.html'), '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>lazy compile</title><link rel="stylesheet" href="intake.css"></head><body><main></main></body></html>');

const server = await serve(dir);
const flags = CHROMIUM_ARGS.filter((a) => !a.startsWith('--js-flags'));
const browserServer = await chromium.launchServer({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [...flags, '--js-flags=--trace-wasm-compilation-times'],
});
let log = '';
browserServer.process().stdout.on('data', (d) => { log += d; });
const browser = await chromium.connect(browserServer.wsEndpoint());
const context = await browser.newContext();
const page = await context.newPage();
await page.goto(`${server.url}lazy.html`);
const ms = await page.evaluate(async ({ q, warm }) => {
  const m = await import('./pkg/intake_web.js');
  await m.default();
  if (warm) while (m.warmUp()) { /* next step */ }
  const host = document.createElement('div');
  document.querySelector('main').append(host);
  m.setFatalHandler(() => {});
  const t0 = performance.now();
  window.form = m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p', birthDate: '1950-01-01' }, storage: false, now: '2026-11-20T09:00:00Z', onError: () => {} });
  const t = performance.now() - t0;
  m.health();
  return t;
}, { q, warm: process.env.WARMUP === '1' });
// V8 prints from the renderer process; give it a moment to reach the pipe.
await page.waitForTimeout(500);
await browser.close();
await browserServer.close();
server.stop();

// An export with an externref argument is wasm-bindgen's shim around the Rust function.
const index = (...candidates) => [...names].find(([, n]) => candidates.includes(n))?.[0];
const [start, end] = [index('setFatalHandler', 'setFatalHandler externref shim'), index('health')];
const rows = [];
let phase = 'before';
// Each line names its module. The bare page loads one, but should it ever load another (the
// demo's page loads a build of its own), ours is the one whose function is the first marker.
let module = null;
for (const m of log.matchAll(/Compiled function (0x[0-9a-f]+)#(\d+) using (\w+), took (\d+) .s and \d+ bytes; bodysize (\d+)/g)) {
  const [mod, i, tier, us, body] = [m[1], Number(m[2]), m[3], Number(m[4]), Number(m[5])];
  if (module === null && i === start && phase === 'before') { module = mod; phase = 'mount'; }
  if (mod !== module) continue;
  if (i === end) phase = 'after';
  if (phase === 'mount' && tier === 'Liftoff') rows.push({ name: names.get(i) || `#${i}`, us, body });
}
if (start === undefined || end === undefined || !log.includes('Compiled function')) {
  throw new Error('no compile trace (is this Chromium V8 with --trace-wasm-compilation-times?) or the markers are missing');
}
const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
console.log(`wasm-opt ${opt.join(' ')}: ${(shipped.length / 1024).toFixed(0)} KB, ${(gzipSync(shipped, { level: 9 }).length / 1024).toFixed(1)} KB gzip`);
console.log(`${which}${process.env.WARMUP === '1' ? ' (after the warm-up)' : ''}: mount ${ms.toFixed(0)} ms; compiled lazily during it: ${rows.length} functions, ${(sum(rows, (r) => r.body) / 1024).toFixed(0)} KB of code, Liftoff ${(sum(rows, (r) => r.us) / 1000).toFixed(1)} ms`);
const crates = new Map();
for (const r of rows) {
  const c = crateOf(r.name);
  const e = crates.get(c) || { n: 0, body: 0, us: 0 };
  crates.set(c, { n: e.n + 1, body: e.body + r.body, us: e.us + r.us });
}
console.log('\nby crate:');
for (const [c, e] of [...crates].sort((a, b) => b[1].body - a[1].body).slice(0, 15)) {
  console.log(`${(e.body / 1024).toFixed(1).padStart(8)} KB ${(e.us / 1000).toFixed(1).padStart(6)} ms ${String(e.n).padStart(5)} fns  ${c}`);
}
console.log(`\nlargest ${top}:`);
for (const r of rows.sort((a, b) => b.body - a.body).slice(0, top)) {
  console.log(`${(r.body / 1024).toFixed(1).padStart(8)} KB ${(r.us / 1000).toFixed(2).padStart(6)} ms  ${r.name.slice(0, 130)}`);
}
process.exit(0);

/** Function index -> name, from the module's name section (indices count imports, as V8's do). */
function functionNames(b) {
  const out = new Map();
  let p = 8;
  const leb = () => { let r = 0; let s = 0; let x; do { x = b[p++]; r += (x & 127) * 2 ** s; s += 7; } while (x & 128); return r; };
  while (p < b.length) {
    const id = b[p++];
    const len = leb();
    const end = p + len;
    if (id === 0) {
      const nameLen = leb();
      const section = b.subarray(p, p + nameLen).toString();
      p += nameLen;
      if (section === 'name') {
        while (p < end) {
          const sub = b[p++];
          const subLen = leb();
          const subEnd = p + subLen;
          if (sub === 1) {
            for (let n = leb(); n > 0; n--) {
              const i = leb();
              const l = leb();
              out.set(i, b.subarray(p, p + l).toString());
              p += l;
            }
          }
          p = subEnd;
        }
      }
    }
    p = end;
  }
  return out;
}

/** The crate a function is there for: its path's first segment (inside `<...>` if any). */
function crateOf(name) {
  const m = /^[<&\s]*(?:mut\s+)?([A-Za-z_][\w]*)/.exec(name);
  return m ? m[1].replace(/\[.*$/, '') : '?';
}
