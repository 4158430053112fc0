#!/usr/bin/env bash
# Builds the browser bundle: cargo (wasm32, size profile) -> wasm-bindgen (glue: short ASCII
# strings read without TextDecoder, web/short-strings.mjs) -> wasm-opt (web/wasm-opt.flags).
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

# wasm-opt's flags: web/wasm-opt.flags says why these.
read -ra wasm_opt_flags <<< "$(grep -v '^#' web/wasm-opt.flags | tr '\n' ' ')"
# Without them wasm-opt would still write a (large, unoptimised) module: fail instead.
if [ "${#wasm_opt_flags[@]}" -eq 0 ]; then echo "build-web.sh: no flags in web/wasm-opt.flags" >&2; exit 1; fi

# build <name> <dir> [cargo flags]: one build of the module as <dir>/<name>.js + <name>_bg.wasm.
build() {
  local name=$1 dir=$2; shift 2
  cargo build --locked -p intake-web --target wasm32-unknown-unknown --profile wasm "$@" >&2
  wasm-bindgen --target web --out-name "$name" --out-dir "$dir" target/wasm32-unknown-unknown/wasm/intake_web.wasm
  node web/short-strings.mjs "$dir/$name.js"
  tests/e2e/node_modules/.bin/wasm-opt "${wasm_opt_flags[@]}" --strip-debug --strip-producers \
    "$dir/${name}_bg.wasm" -o "$dir/${name}_bg.wasm"
}
# The package's builds leave out what a form does not carry (pkg/index.js picks one): `basic`
# has neither the rules engine nor FHIRPath, `rules` has no FHIRPath, `sdc` no rules engine.
# The full build comes last, so target/ holds it for web/size-attribution.mjs.
build intake_basic "$lean" --no-default-features
build intake_rules "$lean" --no-default-features --features rules
build intake_sdc "$lean" --no-default-features --features expressions
build intake_web "$out/pkg"
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
