#!/usr/bin/env bash
# Sets up and runs the patient intake demo on the embedded demo chart.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh rust
cargo build --locked --release -q -p intake-cli
intake=target/release/intake
echo "== What the blood pressure follow-up asks María Hernández, and why"
$intake explain --visit-type hypertension-follow-up --chart web/demo/charts/maria-hernandez.json
echo
echo "== Her completed intake as a write-back Bundle"
$intake fill --visit-type hypertension-follow-up --chart web/demo/charts/maria-hernandez.json \
  --answers visit-types/hypertension-follow-up/scenarios/maria-stopped-lisinopril-cough.json --submit
