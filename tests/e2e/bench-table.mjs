// The README's figures table, from what `node tests/e2e/bench.mjs --json FILE` wrote:
//   node tests/e2e/bench-table.mjs FILE            print the table
//   node tests/e2e/bench-table.mjs FILE --readme   also replace it in README.md (between the
//                                                  bench-figures markers)
// Prints figures; asserts nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node tests/e2e/bench-table.mjs FILE [--readme]');
  process.exit(2);
}
const run = JSON.parse(readFileSync(file, 'utf8'));
const ms = (x) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
const kb = (b) => `${(b / 1024).toFixed(0)} KB`;

const lines = [];
lines.push(`Measured by \`node tests/e2e/bench.mjs --json\` at commit ${run.commit} on ${run.date.slice(0, 10)}: Chromium ${run.chromium}, ${run.cpus} cores, load ${run.load.start.map((l) => l.toFixed(1)).join('/')} at the start (a shared machine: compare ratios within one run, not across runs). Medians over ${run.runs} fresh loads (mounts) or 30 answers, with the 95th percentile.`);
lines.push('');
lines.push('| case | measure | median | p95 |');
lines.push('|---|---|---|---|');
for (const f of run.figures.filter((x) => x.unit === 'ms')) {
  lines.push(`| ${f.case} | ${f.measure} | ${ms(f.median)} | ${ms(f.p95)} |`);
}
for (const f of run.figures.filter((x) => x.unit === 'MB')) {
  lines.push(`| ${f.case} | ${f.measure} | ${f.median.toFixed(1)} MB | ${f.p95.toFixed(1)} MB |`);
}
// The component as each build ships it: its glue and wasm, and the stylesheet.
const css = run.figures.filter((x) => x.unit === 'B' && /(^|\/)intake\.css$/.test(x.case));
// The package's own files (pkg/dist/...), not the demo page's copies.
for (const [what, re] of [['full build', /^pkg\/dist\/intake_web/], ['SDC build, no rules', /^pkg\/dist\/intake_sdc/], ['rules build, no FHIRPath', /^pkg\/dist\/intake_rules/], ['basic build, neither', /^pkg\/dist\/intake_basic/]]) {
  const bytes = [...run.figures.filter((x) => x.unit === 'B' && re.test(x.case)), ...css];
  if (bytes.length <= css.length) continue;
  const sum = (k) => bytes.reduce((a, x) => a + x[k], 0);
  lines.push(`| the component, ${what} (${bytes.map((b) => b.case.split('/').pop()).join(', ')}) | bytes on the wire | ${kb(sum('gzip'))} gzip | ${kb(sum('brotli'))} brotli |`);
}
const table = lines.join('\n');
console.log(table);

if (process.argv.includes('--readme')) {
  const readme = join(ROOT, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench-figures:start -->';
  const end = '<!-- bench-figures:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.error(`README.md has no ${start} ... ${end} section`);
    process.exit(1);
  }
  writeFileSync(readme, `${text.slice(0, a + start.length)}\n${table}\n${text.slice(b)}`);
  console.log('\nREADME.md updated');
}
