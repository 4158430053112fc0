// Where the wasm's bytes go, by crate: run after ./build-web.sh (or any `--profile wasm` build).
//   node web/size-attribution.mjs [--top N] [--functions CRATE]
// Reads the cargo output before wasm-bindgen and wasm-opt (function names kept), sums each
// function's code size (twiggy) under the crate its name starts with, and prints the crates
// largest first, with the data segment and what the shipped file weighs (raw and gzip) for
// scale. The shares are of code before wasm-opt: it shrinks every crate, not all equally, so
// read them as where to look, and measure a change by the shipped size build-web.sh prints.
// Prints figures; asserts nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WASM = process.argv.includes('--wasm') ? process.argv[process.argv.indexOf('--wasm') + 1] : join(ROOT, 'target', 'wasm32-unknown-unknown', 'wasm', 'intake_web.wasm');
const SHIPPED = join(ROOT, 'pkg', 'dist', 'intake_web_bg.wasm');
const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const top = Number(arg('--top') || 25);
const detail = arg('--functions');

if (!existsSync(WASM)) {
  console.error(`${WASM} is missing: run ./build-web.sh first`);
  process.exit(1);
}
let csv;
try {
  csv = execFileSync('twiggy', ['top', '-n', '1000000', '--format', 'csv', WASM], { encoding: 'utf8', maxBuffer: 1 << 28 });
} catch (e) {
  // A developer tool: the demo and the tests do not need twiggy, so setup.sh does not install it.
  if (e.code !== 'ENOENT') throw e;
  console.error('twiggy is not installed: cargo install twiggy');
  process.exit(1);
}

/** One CSV line's fields (twiggy quotes names that hold commas or quotes). */
function fields(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

const STD = new Set(['core', 'alloc', 'std']);

/**
 * The crate a demangled symbol is there for: its first path segment, inside `<...>` if any;
 * but a standard library generic instantiated for another crate's type (`core::ptr::
 * drop_in_place<rhai::ast::Expr>`, `alloc::vec::Vec<intake_fhir::Coding>::clone`) counts
 * for that crate: it is what the crate costs.
 */
function crateOf(name) {
  const first = firstCrate(name);
  if (first === null || (first !== '(unnamed)' && !STD.has(first))) return first;
  for (const m of name.matchAll(/(?<![A-Za-z0-9_:\]])([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/g)) {
    if (!STD.has(m[1])) return m[1];
  }
  // Only the standard library in it (`<str>::to_lowercase`, `<f64 as core::str::FromStr>`).
  return first === '(unnamed)' && /^<(str|char|f32|f64|[iu](8|16|32|64|128|size)|bool)[> ]/.test(name) ? 'core' : first;
}

function firstCrate(name) {
  if (/^(custom section|"?function names|data segment|type\[|table\[|elem\[|import |export |global\[|memory\[|code section headers|wasm magic)/.test(name)) return null;
  let n = name.replace(/^<+/, '').replace(/^(&(mut )?|dyn |impl )+/, '').replace(/^\[/, '');
  const m = n.match(/^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?::/);
  if (m) return m[1];
  if (/^__wbg|^__wbindgen|wasm_bindgen/.test(n)) return 'wasm_bindgen';
  if (/^(memcpy|memset|memmove|memcmp|__rust|__rdl|__rg|rust_)/.test(n)) return 'core';
  return '(unnamed)';
}

const crates = new Map();
const functions = [];
let code = 0;
let data = 0;
for (const line of csv.split('\n').slice(1)) {
  if (!line.trim()) continue;
  const [name, size] = fields(line);
  const bytes = Number(size);
  if (/^data segment/.test(name)) { data += bytes; continue; }
  const crate = crateOf(name);
  if (!crate) continue;
  code += bytes;
  crates.set(crate, (crates.get(crate) || 0) + bytes);
  if (detail && crate === detail) functions.push([name, bytes]);
}

const shipped = existsSync(SHIPPED) ? readFileSync(SHIPPED) : null;
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
console.log(`code before wasm-opt: ${kb(code)} in ${crates.size} crates; data segments ${kb(data)}`);
if (shipped) console.log(`shipped (after wasm-opt, web/wasm-opt.flags): ${kb(shipped.length)} raw, ${kb(gzipSync(shipped, { level: 9 }).length)} gzip`);
console.log('\ncrate                          code     share');
for (const [crate, bytes] of [...crates].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${crate.padEnd(28)} ${kb(bytes).padStart(10)} ${(100 * bytes / code).toFixed(1).padStart(7)}%`);
}
if (detail) {
  console.log(`\nlargest functions of ${detail}:`);
  for (const [name, bytes] of functions.sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(bytes).padStart(10)}  ${name.slice(0, 150)}`);
}
