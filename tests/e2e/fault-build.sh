#!/usr/bin/env bash
# A test build of the package's runtime with fault injection (web feature `fault-injection`):
# mount's `__faultOnAnswer` option makes answering that item panic, so pkg.test.mjs can check
# that one form's internal error never reaches another. Dev profile: it shares the compiled
# dependencies of other dev builds and is never shipped. Output: target/fault-pkg/dist.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --locked -q -p intake-web --target wasm32-unknown-unknown --features fault-injection
out=target/fault-pkg
rm -rf "$out"
mkdir -p "$out/raw" "$out/dist"
wasm-bindgen --target web --out-dir "$out/raw" target/wasm32-unknown-unknown/debug/intake_web.wasm
node web/short-strings.mjs "$out/raw/intake_web.js"
node web/instance-factory.mjs "$out/raw/intake_web.js" "$out/dist/intake_web.js"
cp "$out/raw/intake_web_bg.wasm" web/intake.css "$out/dist/"
# The same build stands in for the package's smaller builds too (it runs any form): the test is
# about one form's failure staying in its own instance, whichever build the form picked.
for name in intake_sdc intake_rules intake_basic; do
  node web/instance-factory.mjs "$out/raw/intake_web.js" "$out/dist/$name.js"
  cp "$out/raw/intake_web_bg.wasm" "$out/dist/${name}_bg.wasm"
done
