#!/usr/bin/env bash
# Seeds each fuzz target's corpus from ../shared/corpus and the project's own files, so the
# fuzzer starts from real forms, charts, snapshots, rules, expressions and responses.
set -euo pipefail
cd "$(dirname "$0")"
shared=../../shared/corpus
mk() { mkdir -p "corpus/$1"; }
for t in questionnaire chart answers_restore rules fhirpath rich_text template_extract; do mk "$t"; done
{ find "$shared/questionnaires" ../visit-types -name '*.json' -size -400k || true; } | head -400 | while read -r f; do cp "$f" "corpus/questionnaire/$(basename "$(dirname "$f")")-$(basename "$f")"; done
{ find ../web/demo/charts ../visit-types -path '*charts*' -name '*.json' -size -400k || true; } | head -200 | while read -r f; do cp "$f" "corpus/chart/$(basename "$f")"; done
{ find "$shared/patients" -name '*.json' -size -400k || true; } | head -100 | while read -r f; do cp "$f" "corpus/chart/p-$(basename "$f")"; done
find ../visit-types -path '*scenarios*' -maxdepth 3 -name '*.json' | while read -r f; do cp "$f" "corpus/answers_restore/$(basename "$f")"; done
cp ../rules/*.rhai corpus/rules/
# FHIRPath expressions: one file per test expression of the official suite.
grep -ho 'expression[^>]*>[^<]*<' "$shared"/fhirpath-tests/hl7-official/r4/tests-fhir-r4.xml \
  | sed -e 's/^[^>]*>//' -e 's/<$//' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e "s/&apos;/'/g" -e 's/&quot;/"/g' -e 's/&amp;/\&/g' \
  | head -900 | awk '{ f = sprintf("corpus/fhirpath/%04d", NR); print > f; close(f) }' || true
# Rich text: the xhtml/markdown renderings found in the corpus questionnaires.
grep -rhoE '"valueString": "<div[^"]*"' "$shared/questionnaires" | head -300 | awk '{ f = sprintf("corpus/rich_text/%04d", NR); print > f; close(f) }' || true
cp "$shared"/extraction/questionnaireResponses/*.json corpus/template_extract/
echo "seeded: $(for d in corpus/*; do printf '%s=%s ' "${d#corpus/}" "$(ls "$d" | wc -l)"; done)"
