#!/usr/bin/env bash
# Builds the browser bundle: cargo (wasm32, size profile) -> wasm-bindgen -> wasm-opt -Oz.
# Output: web/dist (the demo site) and pkg/dist (the npm package's runtime files).
# Prints the size of everything on the wire, raw and gzip.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh web >&2

cargo build --locked -p intake-web --target wasm32-unknown-unknown --profile wasm >&2

out=web/dist
rm -rf "$out"
mkdir -p "$out/pkg"
wasm-bindgen --target web --out-dir "$out/pkg" target/wasm32-unknown-unknown/wasm/intake_web.wasm
tests/e2e/node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
  "$out/pkg/intake_web_bg.wasm" -o "$out/pkg/intake_web_bg.wasm"
cp web/demo/index.html web/demo/demo.js web/demo/demo.css web/intake.css "$out/"
# The demo's content: each visit type as one JSON file, the demo charts, and an index.
cargo run --locked -q -p intake-cli --bin intake -- catalog "$out" --charts web/demo/charts >&2

# The npm package ships the same wasm and CSS. Its glue is made a factory, so the package's
# shell (pkg/index.js) runs each form and session in its own instance of the module.
rm -rf pkg/dist
mkdir -p pkg/dist
cp "$out/pkg/intake_web_bg.wasm" web/intake.css pkg/dist/
node web/instance-factory.mjs "$out/pkg/intake_web.js" pkg/dist/intake_web.js

echo "== bytes on the wire (demo page, blood pressure follow-up for the demo patient)"
total_raw=0; total_gz=0
for f in "$out"/index.html "$out"/demo.js "$out"/demo.css "$out"/intake.css "$out"/pkg/intake_web.js "$out"/pkg/intake_web_bg.wasm \
         "$out"/catalog.json "$out"/visit-types/hypertension-follow-up.json "$out"/charts/maria-hernandez.json; do
  raw=$(wc -c < "$f"); gz=$(gzip -9 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '%-40s %9d raw %9d gzip\n' "${f#$out/}" "$raw" "$gz"
done
printf '%-40s %9d raw %9d gzip\n' "total" "$total_raw" "$total_gz"

echo "== the npm package's runtime files (pkg/)"
total_raw=0; total_gz=0
for f in pkg/index.js pkg/element.js pkg/dist/intake_web.js pkg/dist/intake_web_bg.wasm pkg/dist/intake.css; do
  raw=$(wc -c < "$f"); gz=$(gzip -9 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '%-40s %9d raw %9d gzip\n' "$f" "$raw" "$gz"
done
printf '%-40s %9d raw %9d gzip\n' "total" "$total_raw" "$total_gz"
