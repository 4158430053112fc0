// Developer tool: two builds of the demo site compared on bench.mjs's large forms, interleaved.
// Prints figures; asserts nothing.
//   node tests/e2e/ab.mjs DIR_A DIR_B [--runs N] [--only TEXT]
// DIR_A and DIR_B are copies of web/dist from two builds (./build-web.sh, then cp -r web/dist).
// Why not bench.mjs twice (BENCH_DIST): this machine is shared and its load drifts over
// minutes, and two runs minutes apart differ by more than most changes. Here every round
// mounts each form once on each build, in alternating order, each in a fresh browser context,
// so drift falls on both alike; the figure to read is the median of the per-round ratios B/A.
// Measured as bench.mjs measures "mount -> first page rendered": mount() to the first frame
// after it, once the page's own warm-up has finished.
import { afterWarmUp, largeForms, launch, openPage, serve } from './lib.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : fallback; };
const runs = Number(flag('--runs', 9));
const only = flag('--only', null);
const dirs = args;
if (dirs.length !== 2) {
  console.error('usage: node tests/e2e/ab.mjs DIR_A DIR_B [--runs N] [--only TEXT]');
  process.exit(2);
}
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const median = (xs) => quantile(xs, 0.5);
const servers = await Promise.all(dirs.map((d) => serve(d)));
const browser = await launch();

async function mountOnce(url, q, saved) {
  const { page, context } = await openPage(browser);
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  await afterWarmUp(page);
  const ms = await page.evaluate(async ({ q, saved }) => {
    const m = await import('./pkg/intake_web.js');
    await m.default();
    document.querySelector('#start').hidden = true;
    const host = document.createElement('div');
    document.querySelector('main').append(host);
    const store = saved ? { getItem: () => JSON.stringify(saved), setItem() {}, removeItem() {} } : false;
    const t0 = performance.now();
    m.mount(host, { questionnaire: q, chart: { resourceType: 'Patient', id: 'p', birthDate: '1950-01-01' }, storage: store, now: '2026-11-20T09:00:00Z' });
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    return host.querySelector('.ik-page h3') ? performance.now() - t0 : NaN;
  }, { q, saved });
  await context.close();
  return ms;
}

console.log(`A = ${dirs[0]}\nB = ${dirs[1]}\n${runs} rounds, mount -> first page rendered (ms)\n`);
console.log(`${'form'.padEnd(36)} ${'A'.padStart(8)} ${'B'.padStart(8)}   B/A: median of rounds (quartiles)`);
for (const [name, q, saved] of largeForms().filter(([n]) => !only || n.includes(only))) {
  const a = [], b = [], ratio = [];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 ? [1, 0] : [0, 1];
    const got = [];
    for (const k of order) got[k] = await mountOnce(servers[k].url, q, saved);
    a.push(got[0]);
    b.push(got[1]);
    ratio.push(got[1] / got[0]);
  }
  console.log(`${name.padEnd(36)} ${median(a).toFixed(0).padStart(8)} ${median(b).toFixed(0).padStart(8)}   ${median(ratio).toFixed(2)} (${quantile(ratio, 0.25).toFixed(2)}-${quantile(ratio, 0.75).toFixed(2)})`);
}
await browser.close();
for (const s of servers) s.stop();
