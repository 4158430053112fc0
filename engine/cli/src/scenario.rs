//! Scenario tests: `visit-types/<id>/scenarios/*.json`, each a chart + answers and what must
//! follow (items shown, hidden, required, reasons, review flags, the Bundle's content).
//!
//! ```json
//! {
//!   "description": "Penicillin causes rash becomes a coded allergy",
//!   "chart": "charts/new-patient.json",
//!   "now": "2026-11-20T09:00:00Z",
//!   "context": { "reasons": ["new-patient"] },
//!   "answers": { "allergy": [ { "allergy.substance": "penicillin", "allergy.reaction": ["rash"] } ] },
//!   "expect": {
//!     "shown": ["allergy.reaction"], "hidden": ["pregnant"], "required": ["reason"],
//!     "reasons": { "home-bp-monitoring": "high blood pressure" },
//!     "flagged": ["allergies.none"],
//!     "submit": "ok",
//!     "bundle": {
//!       "counts": { "AllergyIntolerance": 1, "Task": 0 },
//!       "contains": [ { "resourceType": "AllergyIntolerance", "code": { "coding": [ { "code": "764146007" } ] } } ],
//!       "excludes": [ { "resourceType": "Condition" } ]
//!     },
//!     "decisions": [ { "item": "allergy[0]", "action": "auto" } ]
//!   }
//! }
//! ```
//!
//! `contains` entries match a Bundle entry's resource as a *subset*: every key given must be
//! there with a matching value; every array element given must match some element. A path
//! `chart` is relative to the scenario file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use intake_engine::answers_file;
use intake_engine::context::VisitContext;
use intake_engine::explain::why_text;
use intake_engine::extract;
use intake_engine::fhir::Json;
use intake_engine::response::Status;
use intake_engine::{Session, VisitType};

use crate::project::{display, parse_now, read_json, Project};

/// The result of one scenario, with what it produced (for validators in the test suite).
#[derive(Debug)]
pub struct Report {
    pub name: String,
    pub result: Result<(), String>,
    pub response: Option<Json>,
    pub bundle: Option<Json>,
    /// The chart file the scenario ran on (a server test loads it before posting the Bundle).
    pub chart: Option<PathBuf>,
}

/// Every scenario of every visit type, in name order.
pub fn run_all(project: &Project) -> Vec<Report> {
    let mut out = Vec::new();
    for dir in project.visit_type_dirs() {
        let scen_dir = dir.join("scenarios");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&scen_dir)
            .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
            .unwrap_or_default();
        files.sort();
        let vt = project.load_dir(&dir).map(Rc::new);
        for f in files {
            let name = display(&f);
            let report = match &vt {
                Ok(vt) => run_one(vt, &f),
                Err(ds) => Report {
                    name: name.clone(),
                    result: Err(ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
                    response: None,
                    bundle: None,
                    chart: None,
                },
            };
            out.push(Report { name, ..report });
        }
    }
    out
}

/// Run one scenario file against a loaded visit type.
pub fn run_one(vt: &Rc<VisitType>, file: &Path) -> Report {
    let name = display(file);
    let mut report = Report { name: name.clone(), result: Ok(()), response: None, bundle: None, chart: None };
    let result = (|| -> Result<(), String> {
        let scen = read_json(file)?;
        let expect = scen.get("expect").cloned().unwrap_or(Json::Null);
        check_keys(&scen, &["description", "chart", "now", "session", "context", "answers", "expect", "$comment", "$schema"], "")?;
        check_keys(&expect, EXPECT_KEYS, "expect.")?;
        if let Some(b) = expect.get("bundle") {
            check_keys(b, &["entries", "counts", "contains", "excludes", "requests"], "expect.bundle.")?;
        }
        let base = file.parent().unwrap_or(Path::new("."));
        let chart_rel = scen.get("chart").and_then(Json::as_str).ok_or("scenario needs \"chart\"")?;
        let chart_path = base.join(chart_rel);
        report.chart = Some(chart_path.clone());
        let chart_text = std::fs::read_to_string(&chart_path).map_err(|e| format!("{}: {e}", display(&chart_path)))?;
        let chart = match intake_engine::Chart::from_text(&chart_text) {
            Ok(c) => c,
            Err(e) => {
                return match expect.get("chart_error").and_then(Json::as_str) {
                    Some(want) if e.to_string().contains(want) => Ok(()),
                    Some(want) => Err(format!("chart error \"{e}\" does not mention \"{want}\"")),
                    None => Err(format!("{}: {e}", display(&chart_path))),
                };
            }
        };
        if let Some(want) = expect.get("chart_error").and_then(Json::as_str) {
            return Err(format!("expected the chart to be refused (\"{want}\"), but it loaded"));
        }
        let now = parse_now(scen.get("now").and_then(Json::as_str).ok_or("scenario needs \"now\" (RFC 3339)")?)?;
        let context = match scen.get("context") {
            Some(c) => VisitContext::from_json(c).map_err(|e| e.to_string())?,
            None => VisitContext::default(),
        };
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let session_id = scen
            .get("session")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("scenario:{}/{stem}", vt.manifest.id));
        let mut s = Session::new(vt.clone(), Rc::new(chart), context, now, &session_id).map_err(|e| e.to_string())?;
        if let Some(a) = scen.get("answers") {
            if let Err(e) = answers_file::apply(&mut s, a) {
                return match expect.get("answers_error").and_then(Json::as_str) {
                    Some(want) if e.to_string().contains(want) => Ok(()),
                    _ => Err(format!("answers: {e}")),
                };
            }
        }
        if let Some(want) = expect.get("answers_error").and_then(Json::as_str) {
            return Err(format!("expected the answers to be refused (\"{want}\"), but they applied"));
        }
        let response = extract::response_json(&s, Status::InProgress);
        let mut failures = check_items(&s, &expect);
        if s.unsettled() {
            failures.push("the rules never settled for these answers (some rule keeps asking and hiding the same items)".into());
        }
        failures.extend(empty_elements(&response, "QuestionnaireResponse"));
        report.response = Some(response);
        let submit = extract::bundle(&s);
        let want_submit = expect.get("submit").and_then(Json::as_str).unwrap_or("ok");
        match (&submit, want_submit) {
            (Ok(wb), "ok") => {
                let bundle = match serde_json::from_str::<Json>(&wb.to_json_string()) {
                    Ok(b) => b,
                    Err(e) => {
                        failures.push(format!("the Bundle text is not JSON: {e}"));
                        Json::Null
                    }
                };
                failures.extend(empty_elements(&bundle, "Bundle"));
                if let Some(b) = expect.get("bundle") {
                    failures.extend(check_bundle(&bundle, b));
                }
                if let Some(Json::Array(ds)) = expect.get("decisions") {
                    let actual: Vec<Json> = wb
                        .decisions
                        .iter()
                        .map(|d| {
                            serde_json::json!({
                                "item": d.item, "resource": d.resource_type, "change": d.change.code(),
                                "action": d.action.code(), "reason": d.reason
                            })
                        })
                        .collect();
                    for d in ds {
                        if !actual.iter().any(|a| json_contains(a, d)) {
                            failures.push(format!("no write-back decision matches {d}; decisions: {}", Json::Array(actual.clone())));
                        }
                    }
                }
                report.bundle = Some(bundle);
            }
            (Err(e), "refused") => {
                if let (extract::SubmitError::Invalid(items), Some(Json::Array(want))) = (e, expect.get("refused_items")) {
                    for w in want.iter().filter_map(Json::as_str) {
                        if !items.iter().any(|i| i.link_id == w || i.key == w) {
                            failures.push(format!("submit refused, but not because of '{w}': {e}"));
                        }
                    }
                }
            }
            (Ok(_), _) => failures.push("submit succeeded, but the scenario expects it refused".into()),
            (Err(e), _) => failures.push(format!("submit refused: {e}")),
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!("{}\n--- explain ---\n{}", failures.join("\n"), crate::commands::explain_text(&s, "en")))
        }
    })();
    report.result = result;
    report
}

/// What a scenario file records about a session besides its expectations.
pub struct ScenarioInputs<'a> {
    pub description: &'a str,
    /// The chart path, relative to the scenario file.
    pub chart: &'a str,
    /// As the session ran (RFC 3339).
    pub now: &'a str,
    pub context: &'a Json,
    /// The `answers` object of an answers file or snapshot.
    pub answers: &'a Json,
}

/// A scenario file for a session as it stands, its expectations filled from what the session
/// now shows (the items a rule or an answer decided, shown or hidden; the reasons rules gave;
/// review flags; urgent advisories; whether submit goes through and what it writes). The
/// author then trims it to what the scenario is about: everything in it holds today, so
/// `intake test` passes it until the behaviour changes.
pub fn skeleton(s: &Session, inputs: &ScenarioInputs) -> Json {
    use intake_engine::session::{Hidden, Why};
    let lang = s.context().language.clone();
    let (mut shown, mut hidden, mut flagged) = (Vec::<String>::new(), Vec::<String>::new(), Vec::<String>::new());
    let mut reasons = serde_json::Map::new();
    let push = |v: &mut Vec<String>, l: &str| {
        if !v.iter().any(|x| x == l) {
            v.push(l.to_owned());
        }
    };
    for n in s.preorder() {
        let Some(node) = s.node(n) else { continue };
        let link_id = s.def(n).link_id.as_str();
        let st = &node.state;
        if st.enabled {
            match &st.why {
                Some(w @ Why::Rule { reason: Some(_), .. }) => {
                    push(&mut shown, link_id);
                    reasons.entry(link_id.to_owned()).or_insert_with(|| Json::String(why_text(s.form(), w, &lang)));
                }
                Some(Why::Rule { .. } | Why::Answer { .. }) => push(&mut shown, link_id),
                _ => {}
            }
            if !st.flags.is_empty() {
                push(&mut flagged, link_id);
            }
        } else if !matches!(st.hidden, None | Some(Hidden::Parent | Hidden::NewRow)) {
            push(&mut hidden, link_id);
        }
    }
    // An item shown in one row and hidden in another cannot be expected either way by linkId.
    let both: Vec<String> = hidden.iter().filter(|h| shown.contains(h)).cloned().collect();
    shown.retain(|x| !both.contains(x));
    hidden.retain(|x| !both.contains(x));
    reasons.retain(|k, _| shown.contains(k));
    let mut expect = serde_json::Map::new();
    let list = |v: Vec<String>| Json::Array(v.into_iter().map(Json::String).collect());
    if !shown.is_empty() {
        expect.insert("shown".into(), list(shown));
    }
    if !hidden.is_empty() {
        expect.insert("hidden".into(), list(hidden));
    }
    if !reasons.is_empty() {
        expect.insert("reasons".into(), Json::Object(reasons));
    }
    if !flagged.is_empty() {
        expect.insert("flagged".into(), list(flagged));
    }
    expect.insert("urgent".into(), list(s.urgent().into_iter().map(|(_, t)| t.text).collect()));
    match extract::bundle(s) {
        Ok(wb) => {
            expect.insert("submit".into(), Json::String("ok".into()));
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let bundle = wb.to_json();
            for e in bundle.get("entry").and_then(Json::as_array).into_iter().flatten() {
                if let Some(t) = e.get("resource").and_then(|r| r.get("resourceType")).and_then(Json::as_str) {
                    *counts.entry(t.to_owned()).or_default() += 1;
                }
            }
            expect.insert("bundle".into(), serde_json::json!({ "counts": counts }));
            let decisions: Vec<Json> = wb
                .decisions
                .iter()
                .map(|d| serde_json::json!({ "item": d.item, "resource": d.resource_type, "change": d.change.code(), "action": d.action.code() }))
                .collect();
            if !decisions.is_empty() {
                expect.insert("decisions".into(), Json::Array(decisions));
            }
        }
        Err(e) => {
            expect.insert("submit".into(), Json::String("refused".into()));
            if let extract::SubmitError::Invalid(items) = &e {
                let mut names = Vec::new();
                for i in items {
                    push(&mut names, &i.link_id);
                }
                expect.insert("refused_items".into(), list(names));
            }
        }
    }
    serde_json::json!({
        "$schema": "../../scenario.schema.json",
        "description": inputs.description,
        "chart": inputs.chart,
        "now": inputs.now,
        "context": inputs.context,
        "answers": inputs.answers,
        "expect": expect,
    })
}

const EXPECT_KEYS: &[&str] = &[
    "shown", "hidden", "required", "flagged", "not_flagged", "reasons", "answers", "submit", "refused_items", "bundle",
    "decisions", "chart_error", "answers_error", "urgent",
];

/// A misspelt expectation must fail loudly, not pass by checking nothing.
fn check_keys(v: &Json, allowed: &[&str], prefix: &str) -> Result<(), String> {
    match crate::project::unknown_key(v, allowed) {
        Some((k, hint)) => Err(format!("unknown scenario key '{prefix}{k}'{hint} (known: {})", allowed.join(", "))),
        None => Ok(()),
    }
}

/// Items named by linkId (any node) or by node key (`allergy[1]/allergy.reason`).
fn nodes_named<'a>(s: &'a Session, name: &str) -> Vec<&'a intake_engine::session::Node> {
    let by_key: Vec<_> = s.preorder().into_iter().filter(|n| s.node_key(*n) == name).filter_map(|n| s.node(n)).collect();
    if !by_key.is_empty() {
        return by_key;
    }
    match s.form().find(name) {
        Some(item) => s.nodes_of(item).iter().filter_map(|n| s.node(*n)).collect(),
        None => Vec::new(),
    }
}

fn strings(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn check_items(s: &Session, expect: &Json) -> Vec<String> {
    let mut f = Vec::new();
    let lang = s.context().language.clone();
    let known = |name: &str, f: &mut Vec<String>| -> bool {
        let ok = !nodes_named(s, name).is_empty();
        if !ok {
            f.push(format!("'{name}' names no item or node of this form"));
        }
        ok
    };
    for name in strings(expect.get("shown")) {
        if known(&name, &mut f) && !nodes_named(s, &name).iter().any(|n| n.state.enabled) {
            f.push(format!("expected '{name}' shown, but it is hidden"));
        }
    }
    for name in strings(expect.get("hidden")) {
        if known(&name, &mut f) && nodes_named(s, &name).iter().any(|n| n.state.enabled) {
            f.push(format!("expected '{name}' hidden, but it is shown"));
        }
    }
    for name in strings(expect.get("required")) {
        if known(&name, &mut f) && !nodes_named(s, &name).iter().any(|n| n.state.enabled && n.state.required) {
            f.push(format!("expected '{name}' shown and required"));
        }
    }
    // "urgent": words that must appear in an urgent advisory; [] means none may be raised.
    if let Some(want) = expect.get("urgent") {
        let raised: Vec<String> = s.urgent().iter().map(|(_, t)| t.text.clone()).collect();
        let words = strings(Some(want));
        if words.is_empty() && !raised.is_empty() {
            f.push(format!("expected no urgent advisory, but the rules raised: {raised:?}"));
        }
        for w in words {
            if !raised.iter().any(|r| r.contains(&w)) {
                f.push(format!("expected an urgent advisory mentioning \"{w}\"; raised: {raised:?}"));
            }
        }
    }
    for name in strings(expect.get("flagged")) {
        if known(&name, &mut f) && !nodes_named(s, &name).iter().any(|n| n.state.enabled && !n.state.flags.is_empty()) {
            f.push(format!("expected '{name}' flagged for review"));
        }
    }
    for name in strings(expect.get("not_flagged")) {
        if known(&name, &mut f) && nodes_named(s, &name).iter().any(|n| !n.state.flags.is_empty()) {
            f.push(format!("expected '{name}' not flagged"));
        }
    }
    if let Some(Json::Object(reasons)) = expect.get("reasons") {
        for (name, want) in reasons {
            let want = want.as_str().unwrap_or_default();
            if !known(name, &mut f) {
                continue;
            }
            let texts: Vec<String> = nodes_named(s, name)
                .iter()
                .filter_map(|n| n.state.why.as_ref().map(|w| why_text(s.form(), w, &lang)))
                .collect();
            if !texts.iter().any(|t| t.contains(want)) {
                f.push(format!("expected '{name}' shown because \"{want}\", got {texts:?}"));
            }
        }
    }
    if let Some(Json::Object(values)) = expect.get("answers") {
        for (name, want) in values {
            if !known(name, &mut f) {
                continue;
            }
            let got: Vec<Json> = nodes_named(s, name)
                .iter()
                .flat_map(|n| n.answers.iter().map(answers_file::value_json))
                .collect();
            let ok = match want {
                Json::Array(w) => w.iter().all(|x| got.iter().any(|g| json_contains(g, x))),
                single => got.iter().any(|g| json_contains(g, single)),
            };
            if !ok {
                f.push(format!("expected '{name}' to hold {want}, it holds {}", Json::Array(got)));
            }
        }
    }
    f
}

fn check_bundle(bundle: &Json, expect: &Json) -> Vec<String> {
    let mut f = Vec::new();
    let entries: Vec<&Json> = bundle.get("entry").and_then(Json::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let resources: Vec<&Json> = entries.iter().filter_map(|e| e.get("resource")).collect();
    if let Some(n) = expect.get("entries").and_then(Json::as_u64) {
        if entries.len() as u64 != n {
            let types: Vec<&str> = resources.iter().filter_map(|r| r.get("resourceType").and_then(Json::as_str)).collect();
            f.push(format!("expected {n} Bundle entries, found {}: {}", entries.len(), types.join(", ")));
        }
    }
    if let Some(Json::Object(counts)) = expect.get("counts") {
        let mut actual: BTreeMap<String, i64> = BTreeMap::new();
        for r in &resources {
            if let Some(t) = r.get("resourceType").and_then(Json::as_str) {
                *actual.entry(t.to_owned()).or_default() += 1;
            }
        }
        for (t, n) in counts {
            let got = actual.get(t).copied().unwrap_or(0);
            if Some(got) != n.as_i64() {
                f.push(format!("expected {n} {t} in the Bundle, found {got} (all: {actual:?})"));
            }
        }
    }
    for want in expect.get("contains").and_then(Json::as_array).into_iter().flatten() {
        if !resources.iter().any(|r| json_contains(r, want)) {
            f.push(format!("no Bundle entry matches {want}"));
        }
    }
    for unwanted in expect.get("excludes").and_then(Json::as_array).into_iter().flatten() {
        if resources.iter().any(|r| json_contains(r, unwanted)) {
            f.push(format!("a Bundle entry matches {unwanted}, which must not be written"));
        }
    }
    for want in expect.get("requests").and_then(Json::as_array).into_iter().flatten() {
        if !entries.iter().filter_map(|e| e.get("request")).any(|r| json_contains(r, want)) {
            f.push(format!("no Bundle request matches {want}"));
        }
    }
    f
}

/// `expected` is a subset of `actual`: objects by key, arrays element-wise by "some element".
/// FHIR forbids empty elements: no `""`, `[]`, `{}` or `null` anywhere in what we emit (an
/// optional field the patient left empty must be absent, not blank). Checked on every scenario.
fn empty_elements(json: &Json, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    match json {
        Json::Null => out.push(format!("{path} is null")),
        Json::String(s) if s.is_empty() => out.push(format!("{path} is an empty string")),
        Json::Array(a) if a.is_empty() => out.push(format!("{path} is an empty array")),
        Json::Object(o) if o.is_empty() => out.push(format!("{path} is an empty object")),
        Json::Array(a) => a.iter().enumerate().for_each(|(i, v)| out.extend(empty_elements(v, &format!("{path}[{i}]")))),
        Json::Object(o) => o.iter().for_each(|(k, v)| out.extend(empty_elements(v, &format!("{path}.{k}")))),
        _ => {}
    }
    out
}

pub fn json_contains(actual: &Json, expected: &Json) -> bool {
    match (actual, expected) {
        (Json::Object(a), Json::Object(e)) => e.iter().all(|(k, ev)| a.get(k).is_some_and(|av| json_contains(av, ev))),
        (Json::Array(a), Json::Array(e)) => e.iter().all(|ev| a.iter().any(|av| json_contains(av, ev))),
        (Json::Number(a), Json::Number(e)) => a.as_f64() == e.as_f64(),
        (a, e) => a == e,
    }
}

#[cfg(test)]
mod tests {
    use super::json_contains;
    use serde_json::json;

    #[test]
    fn empty_elements_are_found_with_their_path() {
        let ok = json!({"a": "x", "b": [1], "c": {"d": false}});
        assert!(super::empty_elements(&ok, "R").is_empty());
        let bad = json!({"a": "", "b": [{"c": []}], "d": {}, "e": null});
        let found = super::empty_elements(&bad, "R");
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found.contains(&"R.b[0].c is an empty array".to_owned()));
    }

    #[test]
    fn subset_matching() {
        let a = json!({"a": 1, "b": [{"c": 2, "d": 3}, {"c": 4}], "e": "x"});
        assert!(json_contains(&a, &json!({"b": [{"c": 4}]})));
        assert!(json_contains(&a, &json!({"a": 1.0})));
        assert!(!json_contains(&a, &json!({"b": [{"c": 5}]})));
        assert!(!json_contains(&a, &json!({"z": 1})));
        assert!(!json_contains(&a, &json!({"e": "y"})));
    }
}
