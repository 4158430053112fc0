#!/usr/bin/env bash
# Sets up a fresh machine and runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh all

echo "== engine, CLI, scenarios, validators (native)"
cargo test --workspace --locked

echo "== the engine builds for wasm32"
cargo build --locked -p intake-engine --target wasm32-unknown-unknown

echo "== visit types and rules"
cargo run --locked -q -p intake-cli --bin intake -- check
cargo run --locked -q -p intake-cli --bin intake -- test
