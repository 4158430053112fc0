#!/usr/bin/env bash
# Sets up, builds and serves the patient intake demo on http://127.0.0.1:8080/
# (PORT=... to change the port). Everything runs in the browser; nothing is sent anywhere.
set -euo pipefail
cd "$(dirname "$0")"
./build-web.sh
cargo build --locked --release -q -p intake-cli
echo
echo "Open http://127.0.0.1:${PORT:-8080}/ and pick a visit type and a demo patient."
exec target/release/intake serve web/dist --port "${PORT:-8080}"
