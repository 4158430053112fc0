//! SDC template-based extraction against CSIRO's fixtures (`../shared/corpus/extraction/`:
//! Questionnaire + QuestionnaireResponse -> the Bundle their sdc-template-extract produced).
//!
//! Compared after normalising what is allowed to differ: fullUrls, ids and every UUID, instants
//! (generated "now"), Bundle id/meta/timestamp/identifier, `meta` bookkeeping, and the stable
//! identifier + `ifNoneExist` we add to plain creates for idempotency. Entries are matched as
//! a multiset (order is not meaning). Each fixture's match count is printed; fixtures listed in
//! `KNOWN` differ for a reason explained there, and must differ exactly that much (so a fix
//! or a regression both show up).

use std::path::{Path, PathBuf};

use intake_engine::template_extract::{extract, Options};
use serde_json::{Map, Value as Json};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/extraction")
}

fn read(p: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-') && b.iter().enumerate().all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_hexdigit())
}

/// Replace UUIDs inside a string with `<uuid>`.
fn mask_uuids(s: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        if s.is_char_boundary(i) && i + 36 <= s.len() && s.is_char_boundary(i + 36) && is_uuid(&s[i..i + 36]) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn is_instant(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 16 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':'
}

fn normalise(v: &Json) -> Json {
    match v {
        Json::String(s) if is_instant(s) => Json::String("<instant>".into()),
        Json::String(s) => Json::String(mask_uuids(s)),
        // 163 and 163.0 are the same number.
        Json::Number(n) => serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0)).map(Json::Number).unwrap_or(Json::Null),
        Json::Array(a) => Json::Array(a.iter().map(normalise).collect()),
        Json::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                if k == "meta" {
                    // Keep what a template says (profiles); drop server/tool bookkeeping.
                    let kept: Map<String, Json> = v.as_object().into_iter().flatten().filter(|(k, _)| k.as_str() == "profile").map(|(k, v)| (k.clone(), normalise(v))).collect();
                    if !kept.is_empty() {
                        m.insert(k.clone(), Json::Object(kept));
                    }
                    continue;
                }
                if k == "identifier" {
                    // Our added idempotency identifier.
                    if let Json::Array(a) = v {
                        let rest: Vec<Json> = a.iter().filter(|i| i.get("system").and_then(Json::as_str) != Some("urn:ietf:rfc:3986")).map(normalise).collect();
                        if !rest.is_empty() {
                            m.insert(k.clone(), Json::Array(rest));
                        }
                        continue;
                    }
                }
                m.insert(k.clone(), normalise(v));
            }
            Json::Object(m)
        }
        other => other.clone(),
    }
}

fn normalised_entries(bundle: &Json) -> Vec<Json> {
    bundle["entry"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let mut request = e.get("request").cloned().unwrap_or(Json::Null);
                    if let Some(o) = request.as_object_mut() {
                        if o.get("ifNoneExist").and_then(Json::as_str).is_some_and(|s| s.starts_with("identifier=urn:ietf:rfc:3986|")) {
                            o.remove("ifNoneExist");
                        }
                    }
                    let mut resource = e.get("resource").cloned().unwrap_or(Json::Null);
                    if let Some(o) = resource.as_object_mut() {
                        o.remove("id");
                    }
                    serde_json::json!({ "resource": normalise(&resource), "request": normalise(&request) })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first path where two JSON values differ (for the report).
fn first_difference(a: &Json, b: &Json, path: &str) -> Option<String> {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_difference(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    (Some(_), None) => return Some(format!("{path}.{k}: ours only")),
                    (None, Some(_)) => return Some(format!("{path}.{k}: expected only")),
                    (None, None) => {}
                }
            }
            None
        }
        (Json::Array(x), Json::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a}, expected {b}")),
    }
}

/// Fixtures that differ for a stated reason, with the number of expected entries we match.
///
/// The three PATCH fixtures were produced by Smart Forms diffing a *modified* response against
/// a comparison response (its `comparisonSourceResponse`), emitting only changed operations.
/// The corpus holds one response per fixture, and the expected Bundles contain values absent
/// from it ("inactive" and abatement dates 2025-06-04/05 in Patch2, "Comment2 - modified" in
/// PatchAdd), so no function of the given Questionnaire and response can produce them. We emit
/// one PATCH per row of the given response; where the expected entry's values are in the given
/// response (WithPatch), ours match and the extra entries are the unchanged rows.
///
/// Immunisation: the third vaccine row has no date, and Smart Forms emits an Immunization
/// without `occurrence[x]`, which R4 requires. We leave that one out and report it for review.
const KNOWN: &[(&str, usize, &str)] = &[
    ("Immunisation", 2, "an Immunization without its required occurrence is left out for review"),
    ("MedicalHistoryCurrentProblemsWithPatch", 4, "diffed against an absent comparison response: 3 unchanged rows extra"),
    ("MedicalHistoryCurrentProblemsWithPatch2", 0, "expected values are not in the given response"),
    ("RegularMedicationsWithPatchAdd", 0, "expected values are not in the given response"),
];

#[test]
fn csiro_fixtures_carry_the_same_clinical_content() {
    let dir = corpus();
    let mut names: Vec<String> = std::fs::read_dir(dir.join("extracted"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix("extracted")).map(|n| n.trim_end_matches(".json").to_owned()))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "fixtures missing: {names:?}");
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut full = 0;
    for name in &names {
        let q = read(&dir.join(format!("questionnaires/Q{name}.json")));
        let r = read(&dir.join(format!("questionnaireResponses/QR{name}.json")));
        let expected = read(&dir.join(format!("extracted/extracted{name}.json")));
        let ours = extract(&q, &r, &Options { now: "2026-11-20T09:00:00Z", seed: None }).unwrap_or_else(|e| panic!("{name}: {e}"));
        // What we emit is valid R4, whatever the fixture says.
        for e in intake_conformance::r4_errors(&ours.bundle) {
            failures.push(format!("{name}: our Bundle: {e}"));
        }
        let mut theirs = normalised_entries(&expected);
        let mine = normalised_entries(&ours.bundle);
        let total = theirs.len();
        let mut unmatched_ours = Vec::new();
        for m in &mine {
            if let Some(i) = theirs.iter().position(|t| t == m) {
                theirs.remove(i);
            } else {
                unmatched_ours.push(m.clone());
            }
        }
        let matched = total - theirs.len();
        let exact = theirs.is_empty() && unmatched_ours.is_empty();
        full += exact as usize;
        let mut line = format!("{name:<45} {matched}/{total} entries match, {} extra of ours", unmatched_ours.len());
        for i in &ours.issues {
            line.push_str(&format!("\n      left out: {i}"));
        }
        for t in &theirs {
            let closest = unmatched_ours.iter().find(|o| o["resource"]["resourceType"] == t["resource"]["resourceType"]);
            let why = closest.and_then(|o| first_difference(o, t, "entry")).unwrap_or_else(|| "no entry of ours of this type".into());
            line.push_str(&format!("\n      differs: {why}"));
        }
        report.push(line);
        match KNOWN.iter().find(|(n, _, _)| n == name) {
            Some((_, want, _)) if *want == matched => {}
            Some((_, want, why)) => failures.push(format!("{name}: known difference ({why}) expected {want} matching entries, got {matched}")),
            None if exact => {}
            None => failures.push(format!("{name}: {matched}/{total} entries match")),
        }
    }
    eprintln!("CSIRO template extraction fixtures: {full} of {} match exactly", names.len());
    for l in &report {
        eprintln!("  {l}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
