// Build step (build-web.sh, and the developer tools that run wasm-bindgen themselves): make
// wasm-bindgen's glue read short ASCII strings out of wasm memory without TextDecoder.
//   node web/short-strings.mjs <wasm-bindgen glue>   (rewrites the file in place)
//
// Why: building a page passes tens of thousands of short strings from wasm to the DOM (tag
// names, attribute names and values, ids). In Chromium each `TextDecoder.decode` call costs
// about 200 ns whatever the length, because it crosses into Blink; a loop over the bytes
// costs about 60 ns for 8 bytes. Mounting the 5,000-question bench form spent 95-100 ms of
// samples in `decode`, most of it under `setAttribute`. Chromium 148, per string:
//
//   bytes            8     16     32     48     64    128
//   TextDecoder    207    212    208    224    204    231 ns
//   charCode loop   60    139    286    413    539   1099 ns
//   fromCharCode    93    107    168    223    291    518 ns   (String.fromCharCode.apply)
//
// So: up to 12 bytes the loop, up to 40 `fromCharCode.apply`, beyond that the decoder. A
// string with any byte over 127 is not ASCII and goes to the decoder whatever its length, so
// the result is the same string TextDecoder gives (Rust strings are always valid UTF-8).
//
// The glue's shape is checked, not assumed: if wasm-bindgen changes the function, the build
// fails here instead of shipping glue without the fast path.
import { readFileSync, writeFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: node web/short-strings.mjs <glue.js>');
const js = readFileSync(file, 'utf8');
const original = `function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}`;
const fast = `function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    // Short ASCII strings are read here, not by TextDecoder (web/short-strings.mjs says why).
    const mem = getUint8ArrayMemory0();
    if (len <= 12) {
        let s = '';
        for (let i = ptr, end = ptr + len; i < end; i++) {
            const b = mem[i];
            if (b > 127) return decodeText(mem.subarray(ptr, ptr + len));
            s += String.fromCharCode(b);
        }
        return s;
    }
    const bytes = mem.subarray(ptr, ptr + len);
    if (len <= 40) {
        let ascii = true;
        for (let i = 0; i < len; i++) if (bytes[i] > 127) { ascii = false; break; }
        if (ascii) return String.fromCharCode.apply(null, bytes);
    }
    return decodeText(bytes);
}`;
if (js.includes(fast)) process.exit(0);
const at = js.indexOf(original);
if (at < 0 || js.indexOf(original, at + 1) >= 0) {
  throw new Error(`${file}: unexpected glue (getStringFromWasm0 is not the one web/short-strings.mjs knows)`);
}
writeFileSync(file, js.replace(original, fast));
