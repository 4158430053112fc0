#!/usr/bin/env bash
# Builds the browser bundle: cargo (wasm32, size profile) -> wasm-bindgen -> wasm-opt -Oz.
# Output: web/dist (the demo site) and pkg/dist (the npm package's runtime files).
# Prints the size of everything on the wire, raw and gzip.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh web >&2

out=web/dist
rm -rf "$out"
mkdir -p "$out/pkg"
sdc=target/sdc-build
rm -rf "$sdc"
mkdir -p "$sdc"

# build <name> <dir> [cargo flags]: one build of the module as <dir>/<name>.js + <name>_bg.wasm.
build() {
  local name=$1 dir=$2; shift 2
  cargo build --locked -p intake-web --target wasm32-unknown-unknown --profile wasm "$@" >&2
  wasm-bindgen --target web --out-name "$name" --out-dir "$dir" target/wasm32-unknown-unknown/wasm/intake_web.wasm
  tests/e2e/node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
    "$dir/${name}_bg.wasm" -o "$dir/${name}_bg.wasm"
}
# The bare SDC build (no rules engine), for forms without rule scripts; then the full build,
# last, so target/ holds the full build for web/size-attribution.mjs.
build intake_sdc "$sdc" --no-default-features
build intake_web "$out/pkg"
cp web/demo/index.html web/demo/demo.js web/demo/demo.css web/intake.css "$out/"
# The demo's content: each visit type as one JSON file, the demo charts, and an index.
cargo run --locked -q -p intake-cli --bin intake -- catalog "$out" --charts web/demo/charts >&2

# The npm package ships the same wasm and CSS. Its glue is made a factory, so the package's
# shell (pkg/index.js) runs each form and session in its own instance of the module.
rm -rf pkg/dist
mkdir -p pkg/dist
cp "$out/pkg/intake_web_bg.wasm" "$sdc/intake_sdc_bg.wasm" web/intake.css pkg/dist/
node web/instance-factory.mjs "$out/pkg/intake_web.js" pkg/dist/intake_web.js
node web/instance-factory.mjs "$sdc/intake_sdc.js" pkg/dist/intake_sdc.js

node web/wire-sizes.mjs 'bytes on the wire (demo page, blood pressure follow-up for the demo patient)' \
  "$out"/index.html "$out"/demo.js "$out"/demo.css "$out"/intake.css "$out"/pkg/intake_web.js "$out"/pkg/intake_web_bg.wasm \
  "$out"/catalog.json "$out"/visit-types/hypertension-follow-up.json "$out"/charts/maria-hernandez.json
node web/wire-sizes.mjs "the npm package, full build (a form with rules)" \
  pkg/index.js pkg/element.js pkg/dist/intake_web.js pkg/dist/intake_web_bg.wasm pkg/dist/intake.css
node web/wire-sizes.mjs "the npm package, SDC build (a Questionnaire without rules)" \
  pkg/index.js pkg/element.js pkg/dist/intake_sdc.js pkg/dist/intake_sdc_bg.wasm pkg/dist/intake.css
