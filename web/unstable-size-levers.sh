#!/usr/bin/env bash
# What the compiler's unstable size options would take off the shipped wasm: a developer's
# measurement, not a build step. The shipped builds use stable Rust only (build-web.sh); this
# script asks how far below them the toolchain alone could go, so a byte budget can be judged
# against that floor rather than against hope.
#
#   web/unstable-size-levers.sh [full|rules|sdc|basic ...]     (default: full sdc)
#
# For each build it makes the module four ways with build-web.sh's own web/build-module.sh
# (cargo, wasm-bindgen, wasm-opt) and prints raw, gzip and brotli bytes (web/wire-sizes.mjs):
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
out=target/unstable-size
mkdir -p "$out"

# measure <build> <way> <target dir> <rustc flags as a TOML list> [cargo flags]: one build
# and its sizes. The flags go through --config, which cargo adds to .cargo/config.toml's own
# (RUSTFLAGS would replace them, and erase_components with them).
measure() {
  local build=$1 way=$2 dir=$3 flags=$4; shift 4
  local w="$out/$build-$way"
  rm -rf "$w"
  CARGO_TARGET_DIR="$dir" web/build-module.sh "$build" "$w" m -q \
    --config "target.wasm32-unknown-unknown.rustflags = [$flags]" "$@"
  node web/wire-sizes.mjs "$build, $way" "$w/m_bg.wasm"
}

builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(full sdc)
std=(-Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size)
for build in "${builds[@]}"; do
  measure "$build" stable target ""
  RUSTC_BOOTSTRAP=1 measure "$build" std-for-size "$out/std" "" "${std[@]}"
  RUSTC_BOOTSTRAP=1 measure "$build" +no-panic-fmt "$out/abort" \
    '"-Zunstable-options", "-Cpanic=immediate-abort"' "${std[@]}"
  RUSTC_BOOTSTRAP=1 measure "$build" +no-debug-fmt "$out/abort-nodebug" \
    '"-Zunstable-options", "-Cpanic=immediate-abort", "-Zfmt-debug=none"' "${std[@]}"
done
