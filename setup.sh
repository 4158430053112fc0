#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh machine. Idempotent: every step is
# skipped when already satisfied. Usage: ./setup.sh [rust|web|browser|all] (default: all)
#
#   rust     the wasm32 target (the engine is built for the browser on every test run)
#   web      wasm-bindgen-cli at exactly the version in Cargo.lock; npm packages (wasm-opt
#            from npm binaryen, Playwright driver, axe-core, TypeScript)
#   browser  Debian chromium + chromedriver (tests never download a browser)
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-all}"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

need_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

setup_rust() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

# The wasm-bindgen version pinned in the workspace (and so in Cargo.lock).
locked_wasm_bindgen() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

setup_web() {
  setup_rust
  if [ ! -f Cargo.lock ]; then cargo generate-lockfile; fi
  local want; want="$(locked_wasm_bindgen)"
  if [ -n "$want" ]; then
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
      # Without --locked: the CLI's own lockfile pins a crate version this registry lacks.
      say "installing wasm-bindgen-cli $want (a few minutes, once)"
      cargo install wasm-bindgen-cli --version "$want" --force
    fi
  fi
  # Also when the lockfile changed since the last install (a pull that added a test oracle).
  if [ -f tests/e2e/package.json ] && { [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; }; then
    say "installing npm packages for the browser tests and wasm-opt"
    (cd tests/e2e && npm ci --no-audit --no-fund)
  fi
}

setup_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing Debian chromium and chromium-driver"
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver \
      || { need_root apt-get update -q && need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; }
  fi
}

case "$what" in
  rust) setup_rust ;;
  web) setup_web ;;
  browser) setup_browser ;;
  all) setup_rust; setup_web; setup_browser ;;
  *) echo "usage: $0 [rust|web|browser|all]" >&2; exit 2 ;;
esac
