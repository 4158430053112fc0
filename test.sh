#!/usr/bin/env bash
# Sets up a fresh machine and runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh all

echo "== engine, CLI, scenarios, validators (native)"
cargo test --workspace --locked

echo "== the engine without the rules engine and FHIRPath (the package's lean builds)"
cargo test --locked -p intake-engine --no-default-features --lib

echo "== visit types and rules"
cargo run --locked -q -p intake-cli --bin intake -- check --deny-warnings
cargo run --locked -q -p intake-cli --bin intake -- test

echo "== the engine's wasm build, in headless Chromium (wasm-bindgen-test)"
CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}" \
  cargo test --locked -p intake-engine --target wasm32-unknown-unknown --test wasm

echo "== the patient front end in Chromium (Playwright, axe-core)"
./build-web.sh
tests/e2e/fault-build.sh
cargo build --locked -q -p intake-cli
(cd tests/e2e && node --test --test-concurrency=1 ./*.test.mjs)
