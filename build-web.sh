#!/usr/bin/env bash
# Builds the browser bundle: each build of the module by web/build-module.sh (cargo, wasm32,
# size profile -> wasm-bindgen -> wasm-opt), then the demo site and the package around them.
# Output: web/dist (the demo site) and pkg/dist (the npm package's runtime files).
# Prints the size of everything on the wire, raw and gzip.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh web >&2

out=web/dist
rm -rf "$out"
mkdir -p "$out/pkg"
# The package's smaller builds are made here before they go to pkg/dist.
lean=target/lean-builds
rm -rf "$lean"
mkdir -p "$lean"

# One build of the module each (web/build-module.sh: cargo, wasm-bindgen, wasm-opt). The
# package's builds leave out what a form does not carry; pkg/index.js picks one.
# The full build comes last, so target/ holds it for web/size-attribution.mjs.
web/build-module.sh basic "$lean" intake_basic
web/build-module.sh rules "$lean" intake_rules
web/build-module.sh sdc "$lean" intake_sdc
web/build-module.sh full "$out/pkg" intake_web
lean_builds="intake_sdc intake_rules intake_basic"
# The demo page loads the build its visit type needs (catalog.json says which: demo.js).
for name in $lean_builds; do
  cp "$lean/$name.js" "$lean/${name}_bg.wasm" "$out/pkg/"
done
cp web/demo/index.html web/demo/demo.js web/demo/demo.css web/intake.css "$out/"
# The demo's content: each visit type as one JSON file, the demo charts, and an index.
cargo run --locked -q -p intake-cli --bin intake -- catalog "$out" --charts web/demo/charts >&2

# The npm package ships the same wasm and CSS. Its glue is made a factory, so the package's
# shell (pkg/index.js) runs each form and session in its own instance of the module.
rm -rf pkg/dist
mkdir -p pkg/dist
cp "$out/pkg/intake_web_bg.wasm" web/intake.css pkg/dist/
node web/instance-factory.mjs "$out/pkg/intake_web.js" pkg/dist/intake_web.js
for name in $lean_builds; do
  cp "$lean/${name}_bg.wasm" pkg/dist/
  node web/instance-factory.mjs "$lean/$name.js" "pkg/dist/$name.js"
done

node web/wire-sizes.mjs 'bytes on the wire (demo page, blood pressure follow-up for the demo patient: the rules build)' \
  "$out"/index.html "$out"/demo.js "$out"/demo.css "$out"/intake.css "$out"/pkg/intake_rules.js "$out"/pkg/intake_rules_bg.wasm \
  "$out"/catalog.json "$out"/visit-types/hypertension-follow-up.json "$out"/charts/maria-hernandez.json
node web/wire-sizes.mjs "the npm package, full build (a form with rules and FHIRPath expressions)" \
  pkg/index.js pkg/element.js pkg/dist/intake_web.js pkg/dist/intake_web_bg.wasm pkg/dist/intake.css
node web/wire-sizes.mjs "the npm package, SDC build (expressions, no rules)" \
  pkg/index.js pkg/element.js pkg/dist/intake_sdc.js pkg/dist/intake_sdc_bg.wasm pkg/dist/intake.css
node web/wire-sizes.mjs "the npm package, rules build (rules, no FHIRPath)" \
  pkg/index.js pkg/element.js pkg/dist/intake_rules.js pkg/dist/intake_rules_bg.wasm pkg/dist/intake.css
node web/wire-sizes.mjs "the npm package, basic build (neither rules nor FHIRPath)" \
  pkg/index.js pkg/element.js pkg/dist/intake_basic.js pkg/dist/intake_basic_bg.wasm pkg/dist/intake.css
