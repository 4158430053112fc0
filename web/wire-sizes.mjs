// Bytes on the wire of a set of files: raw, gzip -9 and brotli (quality 11), each and in total.
//   node web/wire-sizes.mjs <title> <file>...
// build-web.sh prints one table per thing a browser loads (the demo page, each package build).
// Prints figures; asserts nothing.
import { readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [title, ...files] = process.argv.slice(2);
if (!title || files.length === 0) throw new Error('usage: node web/wire-sizes.mjs <title> <file>...');
console.log(`== ${title}`);
const total = [0, 0, 0];
const row = (name, [raw, gz, br]) =>
  console.log(`${name.padEnd(44)} ${String(raw).padStart(9)} raw ${String(gz).padStart(8)} gzip ${String(br).padStart(8)} brotli`);
for (const f of files) {
  const b = readFileSync(f);
  const sizes = [
    b.length,
    gzipSync(b, { level: 9 }).length,
    brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length,
  ];
  sizes.forEach((x, i) => { total[i] += x; });
  row(f, sizes);
}
row('total', total);
