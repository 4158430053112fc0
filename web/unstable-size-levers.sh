#!/usr/bin/env bash
# What the compiler's unstable size options would take off the shipped wasm: a developer's
# measurement, not a build step. The shipped builds use stable Rust only (build-web.sh); this
# script asks how far below them the toolchain alone could go, so a byte budget can be judged
# against that floor rather than against hope.
#
#   web/unstable-size-levers.sh [full|rules|sdc|basic ...]     (default: full sdc)
#
# For each build it compiles the module four ways, each followed by build-web.sh's own
# wasm-bindgen, short-strings and wasm-opt steps, and prints raw and gzip bytes:
#   stable         the shipped build (profile `wasm`, panic = "abort")
#   std-for-size   the standard library rebuilt with the size profile and its
#                  `optimize_for_size` feature (-Zbuild-std)
#   + no-panic-fmt   and panics that trap at once, without formatting a message
#                  (-Cpanic=immediate-abort): the host's onError would get "the module
#                  trapped" instead of the panic's text
#   + no-debug-fmt   and `{:?}` formatting compiled to nothing (-Zfmt-debug=none): messages
#                  that quote with Debug would lose their quoted parts
# Unstable flags on the stable compiler need RUSTC_BOOTSTRAP=1 and the rust-src component
# (`rustup component add rust-src`); those builds go to target/unstable-size, apart from the
# shipped ones (the stable one is build-web.sh's, in target/: run web/size-attribution.mjs
# after build-web.sh, not after this). About 3 minutes per build and way on 2 cores.
# Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
  echo "unstable-size-levers.sh: the rust-src component is missing: rustup component add rust-src" >&2
  exit 1
fi
read -ra wasm_opt_flags <<< "$(grep -v '^#' web/wasm-opt.flags | tr '\n' ' ')"
out=target/unstable-size
mkdir -p "$out"

# features <build>: the cargo feature flags of one of build-web.sh's builds.
features() {
  case $1 in
    full) echo "" ;;
    rules) echo "--no-default-features --features rules" ;;
    sdc) echo "--no-default-features --features expressions" ;;
    basic) echo "--no-default-features" ;;
    *) echo "unstable-size-levers.sh: unknown build '$1' (full, rules, sdc or basic)" >&2; exit 2 ;;
  esac
}

# measure <build> <way> <target dir> <rustc flags as a TOML list> [cargo flags]: one build,
# the shipped steps after it, its sizes. The flags go through --config, which cargo adds to
# .cargo/config.toml's own (RUSTFLAGS would replace them, and erase_components with them).
measure() {
  local build=$1 way=$2 dir=$3 flags=$4; shift 4
  local feats
  feats=$(features "$build")
  # shellcheck disable=SC2086 # the feature flags are words
  CARGO_TARGET_DIR="$dir" cargo build --locked -q -p intake-web \
    --config "target.wasm32-unknown-unknown.rustflags = [$flags]" \
    --target wasm32-unknown-unknown --profile wasm $feats "$@" >&2
  local w="$out/$build-$way"
  rm -rf "$w" && mkdir -p "$w"
  wasm-bindgen --target web --out-name m --out-dir "$w" "$dir/wasm32-unknown-unknown/wasm/intake_web.wasm"
  node web/short-strings.mjs "$w/m.js"
  tests/e2e/node_modules/.bin/wasm-opt "${wasm_opt_flags[@]}" --strip-debug --strip-producers \
    "$w/m_bg.wasm" -o "$w/m_bg.wasm"
  # gzip as web/wire-sizes.mjs measures it (zlib, level 9), so the figures compare with build-web.sh's.
  node -e "const b = require('fs').readFileSync(process.argv[1]);
    console.log(process.argv[2].padEnd(6), process.argv[3].padEnd(16), String(b.length).padStart(9), 'raw',
      String(require('zlib').gzipSync(b, { level: 9 }).length).padStart(8), 'gzip');" "$w/m_bg.wasm" "$build" "$way"
}

builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(full sdc)
std=(-Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size)
for build in "${builds[@]}"; do
  features "$build" > /dev/null
  measure "$build" stable target ""
  RUSTC_BOOTSTRAP=1 measure "$build" std-for-size "$out/std" "" "${std[@]}"
  RUSTC_BOOTSTRAP=1 measure "$build" +no-panic-fmt "$out/abort" \
    '"-Zunstable-options", "-Cpanic=immediate-abort"' "${std[@]}"
  RUSTC_BOOTSTRAP=1 measure "$build" +no-debug-fmt "$out/abort-nodebug" \
    '"-Zunstable-options", "-Cpanic=immediate-abort", "-Zfmt-debug=none"' "${std[@]}"
done
