#!/usr/bin/env bash
# One browser build of the module: cargo (wasm32, size profile) -> wasm-bindgen (glue: short
# ASCII strings read without TextDecoder, web/short-strings.mjs) -> wasm-opt (web/wasm-opt.flags).
#   web/build-module.sh <full|rules|sdc|basic> <out dir> <out name> [more cargo build flags]
# Writes <out dir>/<out name>.js and <out name>_bg.wasm. build-web.sh makes the shipped builds
# with it and web/unstable-size-levers.sh its measured variants (its own CARGO_TARGET_DIR and
# cargo flags), so a measurement is always of what ships. Needs setup.sh's web tools.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=$1 dir=$2 name=$3
shift 3

# What each build leaves out (pkg/index.js picks one): `basic` has neither the rules engine
# nor FHIRPath, `rules` has no FHIRPath, `sdc` no rules engine.
case $kind in
  full) features=() ;;
  rules) features=(--no-default-features --features rules) ;;
  sdc) features=(--no-default-features --features expressions) ;;
  basic) features=(--no-default-features) ;;
  *) echo "build-module.sh: unknown build '$kind' (full, rules, sdc or basic)" >&2; exit 2 ;;
esac
# wasm-opt's flags: web/wasm-opt.flags says why these.
read -ra wasm_opt_flags <<< "$(grep -v '^#' web/wasm-opt.flags | tr '\n' ' ')"
# Without them wasm-opt would still write a (large, unoptimised) module: fail instead.
if [ "${#wasm_opt_flags[@]}" -eq 0 ]; then echo "build-module.sh: no flags in web/wasm-opt.flags" >&2; exit 1; fi

cargo build --locked -p intake-web --target wasm32-unknown-unknown --profile wasm "${features[@]}" "$@" >&2
mkdir -p "$dir"
wasm-bindgen --target web --out-name "$name" --out-dir "$dir" \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm/intake_web.wasm"
node web/short-strings.mjs "$dir/$name.js"
tests/e2e/node_modules/.bin/wasm-opt "${wasm_opt_flags[@]}" --strip-debug --strip-producers \
  "$dir/${name}_bg.wasm" -o "$dir/${name}_bg.wasm"
