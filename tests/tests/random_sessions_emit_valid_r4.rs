//! A property over random, partly hostile inputs (issue 13): for random forms and the shipped
//! visit types, random charts (with other patients' resources mixed in, medications by
//! reference, odd dates) and random answer sequences (valid values, values of the wrong type,
//! control characters, huge numbers, far-future and year-0 dates, rows added and removed),
//! everything the engine emits
//! - passes fhirkit's R4 validation with zero errors,
//! - never references a patient other than the chart's,
//! - and is identical when the same inputs are replayed.
//!
//! Seeds: `INTAKE_PROP_SEEDS` (default 120). A failure prints the seed to replay.

use std::path::Path;
use std::rc::Rc;

use intake_cli::project::Project;
use intake_conformance::r4_errors;
use intake_engine::context::VisitContext;
use intake_engine::extract;
use intake_engine::fhir::{Coding, Date, DateTime, Quantity, Value, WriteJson};
use intake_engine::questionnaire::ItemType;
use intake_engine::response::{self, Status};
use intake_engine::session::NodeId;
use intake_engine::{Chart, Form, Session, VisitType};
use serde_json::{json, Value as Json};

#[path = "../../engine/core/tests/support/rng.rs"]
mod rng;
use rng::Rng;

const NOW: &str = "2026-11-20T09:00:00-05:00";

fn now() -> DateTime {
    DateTime::parse(NOW).unwrap()
}

/// A random form: questions of every type, groups (some repeating), enableWhen on earlier
/// booleans, observation extraction on coded numbers.
fn random_form(rng: &mut Rng) -> Json {
    let mut n = 0;
    fn items(rng: &mut Rng, n: &mut usize, depth: usize, booleans: &mut Vec<String>) -> Vec<Json> {
        let count = 2 + rng.below(5);
        (0..count)
            .map(|_| {
                *n += 1;
                let link = format!("q{n}");
                let mut item = json!({"linkId": link, "text": format!("Question {n}")});
                if depth < 2 && rng.chance(20) {
                    item["type"] = json!("group");
                    if rng.chance(50) {
                        item["repeats"] = json!(true);
                    }
                    item["item"] = Json::Array(items(rng, n, depth + 1, booleans));
                    return item;
                }
                let kinds = ["boolean", "integer", "decimal", "string", "text", "date", "dateTime", "choice", "open-choice", "quantity"];
                let kind = kinds[rng.below(kinds.len())];
                item["type"] = json!(kind);
                match kind {
                    "choice" | "open-choice" => {
                        item["answerOption"] = json!([
                            {"valueCoding": {"system": "http://snomed.info/sct", "code": "271807003", "display": "Rash"}},
                            {"valueCoding": {"system": "http://snomed.info/sct", "code": "247472004", "display": "Hives"}}
                        ]);
                        if rng.chance(30) {
                            item["repeats"] = json!(true);
                        }
                    }
                    "quantity" => {
                        item["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption",
                            "valueCoding": {"system": "http://unitsofmeasure.org", "code": "kg", "display": "kg"}}]);
                    }
                    "integer" | "decimal" if rng.chance(50) => {
                        item["code"] = json!([{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]);
                        item["extension"] = json!([{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract", "valueBoolean": true}]);
                    }
                    "boolean" if depth == 0 => booleans.push(link.clone()),
                    _ => {}
                }
                if rng.chance(20) {
                    item["required"] = json!(true);
                }
                if !booleans.is_empty() && depth == 0 && rng.chance(30) && !booleans.contains(&link) {
                    let q = booleans[rng.below(booleans.len())].clone();
                    item["enableWhen"] = json!([{"question": q, "operator": "=", "answerBoolean": true}]);
                }
                item
            })
            .collect()
    }
    let mut booleans = Vec::new();
    let items = items(rng, &mut n, 0, &mut booleans);
    json!({"resourceType": "Questionnaire", "status": "active", "url": "http://example.org/Questionnaire/random", "item": items})
}

/// A random chart for Patient/p1, with another patient's resources mixed in.
fn random_chart(rng: &mut Rng) -> Json {
    let mut entries = vec![json!({"fullUrl": "https://ehr.example.org/fhir/Patient/p1", "resource": {
        "resourceType": "Patient", "id": "p1", "meta": {"versionId": "4"}, "birthDate": format!("{}-0{}-1{}", 1930 + rng.below(90), 1 + rng.below(9), rng.below(9)),
        "gender": (["female", "male", "other", "unknown"][rng.below(4)]),
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "system": "urn:mrn", "value": "MRN-1"}],
        "name": [{"use": "official", "family": "Test", "given": ["Pat"]}]}})];
    let subjects = ["Patient/p1", "Patient/p1", "Patient/p1", "Patient/other", "http://other.example/Patient/p1", "Group/Patient/p1"];
    for i in 0..rng.below(8) {
        let subject = subjects[rng.below(subjects.len())];
        let r = match rng.below(4) {
            0 => json!({"resourceType": "AllergyIntolerance", "id": format!("a{i}"), "meta": {"versionId": "1"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": (["764146007", "716186003", "91936005"][rng.below(3)])}]},
                "patient": {"reference": subject}}),
            1 => json!({"resourceType": "MedicationRequest", "id": format!("m{i}"), "status": "active", "intent": "order",
                "contained": [{"resourceType": "Medication", "id": "med", "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "314076"}]}}],
                "medicationReference": {"reference": (["#med", "Medication/missing", "#nope"][rng.below(3)])}, "subject": {"reference": subject}}),
            2 => json!({"resourceType": "Condition", "id": format!("c{i}"), "meta": {"versionId": "2"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}, "subject": {"reference": subject}}),
            _ => json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                "effectiveDateTime": (["2026-11-01", "2999-12-31", "1900-01-01"][rng.below(3)]),
                "valueQuantity": {"value": 70 + rng.below(30), "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
                "subject": {"reference": subject}}),
        };
        entries.push(json!({"resource": r}));
    }
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

/// A value for an item: usually a plausible one, sometimes hostile or of the wrong type.
fn random_value(rng: &mut Rng, s: &Session, n: NodeId, plausible: bool) -> Vec<Value> {
    let def = s.def(n);
    if !plausible && rng.chance(8) {
        return Vec::new();
    }
    let hostile = !plausible && rng.chance(25);
    let text = |rng: &mut Rng| -> String {
        ["fine", "chest\u{0}pain\u{7}\u{1b}[0m", "ümlaut 🙂", "  ", "<script>x</script>", "a\nb\tc"][rng.below(6)].to_owned()
    };
    let v = match def.item_type {
        _ if hostile => match rng.below(5) {
            0 => Value::Integer(i64::MAX - rng.below(3) as i64),
            1 => Value::Date(Date::parse(["0000-01-01", "2999-12-31", "1900"][rng.below(3)]).unwrap()),
            2 => Value::String(text(rng)),
            3 => Value::Decimal([f64::MAX, 1e-300, -0.0][rng.below(3)]),
            _ => Value::Boolean(rng.chance(50)),
        },
        ItemType::Boolean => Value::Boolean(rng.chance(50)),
        ItemType::Integer => Value::Integer(rng.below(300) as i64 - 10),
        ItemType::Decimal => Value::Decimal(rng.below(3000) as f64 / 10.0),
        ItemType::Date => Value::Date(Date::parse(["2026-11-18", "1991-02", "2026", "2999-12-31"][rng.below(4)]).unwrap()),
        ItemType::DateTime => Value::DateTime(DateTime::parse(["2026-11-18T10:00:00Z", "2030-01-01T00:00:00+02:00"][rng.below(2)]).unwrap()),
        ItemType::Choice | ItemType::OpenChoice if !def.options.is_empty() && rng.chance(80) => {
            def.options[rng.below(def.options.len())].value.clone()
        }
        ItemType::Choice => Value::Coding(Coding { system: Some("urn:x".into()), code: Some("nope".into()), ..Default::default() }),
        ItemType::Quantity => Value::Quantity(Quantity {
            value: Some(rng.below(2000) as f64 / 10.0),
            code: def.units.first().and_then(|u| u.code.clone()),
            ..Default::default()
        }),
        _ => Value::String(text(rng)),
    };
    vec![v]
}

/// Apply a random sequence of operations; the same rng state replays the same sequence.
fn drive(rng: &mut Rng, s: &mut Session) {
    for _ in 0..(5 + rng.below(40)) {
        let nodes: Vec<NodeId> = s.preorder();
        let n = nodes[rng.below(nodes.len())];
        let def = s.def(n).clone();
        if def.is_repeating_group() {
            if rng.chance(50) {
                let parent = s.node(n).and_then(|x| x.parent);
                let _ = s.add_row(parent, def.id);
            } else {
                let _ = s.remove_row(n);
            }
            continue;
        }
        if !def.item_type.is_question() || def.read_only {
            continue;
        }
        let values = random_value(rng, s, n, false);
        let _ = s.answer(n, values);
    }
    // Most patients finish: answer what still blocks sending, plausibly.
    if rng.chance(70) {
        for _ in 0..3 {
            for n in s.preorder() {
                let blocked = s.node(n).is_some_and(|x| x.state.enabled && !x.state.errors.is_empty());
                if blocked && s.def(n).item_type.is_question() {
                    let values = random_value(rng, s, n, true);
                    let _ = s.answer(n, values);
                }
            }
        }
    }
}

/// Every `reference` string in a JSON tree.
fn references(j: &Json, out: &mut Vec<String>) {
    match j {
        Json::Object(m) => {
            for (k, v) in m {
                if k == "reference" {
                    if let Some(r) = v.as_str() {
                        out.push(r.to_owned());
                    }
                }
                references(v, out);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn outputs(vt: &Rc<VisitType>, chart_json: &Json, context: &VisitContext, seed: u64) -> Result<(String, Option<String>, Rc<Chart>), String> {
    let chart = Rc::new(Chart::from_json(chart_json).map_err(|e| format!("chart refused: {e}"))?);
    let mut s = Session::new(vt.clone(), chart.clone(), context.clone(), now(), &format!("seed-{seed}")).map_err(|e| e.to_string())?;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    drive(&mut rng, &mut s);
    let qr = response::build(&s, Status::Completed).to_json_string();
    let bundle = extract::bundle(&s).ok().map(|b| b.to_json_string());
    Ok((qr, bundle, chart))
}

/// What one seed produced: (a Bundle was built, its entries, references checked).
type Stats = (bool, usize, usize);

fn check_seed(seed: u64, shipped: &[Rc<VisitType>]) -> Result<Stats, String> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let chart_json = random_chart(&mut rng);
    // A shipped visit type is started only for a patient and respondent it applies to (its
    // manifest's applies_to; Session::new refuses the others), as a portal would.
    let chart = Chart::from_json(&chart_json).map_err(|e| format!("chart refused: {e}"))?;
    let proxy = VisitContext::from_json(&serde_json::json!({"respondent": {"relationship": "MTH", "name": "Ana Test"}})).map_err(|e| e.to_string())?;
    let fitting: Vec<(Rc<VisitType>, VisitContext)> = shipped
        .iter()
        .flat_map(|vt| [VisitContext::default(), proxy.clone()].into_iter().map(move |c| (vt.clone(), c)))
        .filter(|(vt, c)| vt.applies(&chart, c, &now().date).is_ok())
        .collect();
    let (vt, context) = if rng.chance(50) && !fitting.is_empty() {
        fitting[rng.below(fitting.len())].clone()
    } else {
        let form = Form::from_json(&random_form(&mut rng)).map_err(|e| format!("random form refused: {e}"))?;
        (Rc::new(VisitType::from_form(form, &[]).map_err(|d| format!("{d:?}"))?), VisitContext::default())
    };
    let (qr, bundle, chart) = outputs(&vt, &chart_json, &context, seed)?;
    // Replay: the same inputs give byte-identical output.
    let (qr2, bundle2, _) = outputs(&vt, &chart_json, &context, seed)?;
    if qr != qr2 || bundle != bundle2 {
        return Err("replaying the same inputs gave different output".into());
    }
    let mut problems = Vec::new();
    let mut stats: Stats = (bundle.is_some(), 0, 0);
    for (what, text) in [("QuestionnaireResponse", Some(&qr)), ("Bundle", bundle.as_ref())] {
        let Some(text) = text else { continue };
        let json: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
        problems.extend(r4_errors(&json).into_iter().map(|e| format!("{what}: {e}")));
        let mut refs = Vec::new();
        references(&json, &mut refs);
        stats.1 += json["entry"].as_array().map_or(0, Vec::len);
        stats.2 += refs.len();
        for r in refs {
            let names_a_patient = r.starts_with("Patient/") || r.contains("/Patient/");
            if names_a_patient && !chart.is_patient_reference(&r) {
                problems.push(format!("{what} references {r}, which is not the chart's patient"));
            }
        }
    }
    if problems.is_empty() { Ok(stats) } else { Err(problems.join("\n")) }
}

#[test]
fn random_sessions_emit_valid_r4_about_the_right_patient_and_replay_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let project = Project::locate(Some(root.join("visit-types").to_str().unwrap()), Some(root.join("rules").to_str().unwrap())).unwrap();
    let shipped: Vec<Rc<VisitType>> =
        ["hypertension-follow-up", "new-patient-adult", "pediatric-sick-visit"].iter().map(|id| Rc::new(project.load(id).unwrap())).collect();
    let seeds: u64 = std::env::var("INTAKE_PROP_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let (mut failures, mut bundles, mut entries, mut refs) = (Vec::new(), 0, 0, 0);
    for seed in 1..=seeds {
        match check_seed(seed, &shipped) {
            Ok((b, e, r)) => {
                bundles += usize::from(b);
                entries += e;
                refs += r;
            }
            Err(e) if failures.len() < 3 => failures.push(format!("seed {seed}:\n{e}")),
            Err(_) => {}
        }
    }
    eprintln!("{seeds} random sessions: {bundles} Bundles ({entries} entries), {refs} references checked, all replayed");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(bundles * 4 >= seeds as usize, "most sessions should reach a Bundle; {bundles} of {seeds} did");
}

#[test]
fn the_property_sees_another_patients_reference() {
    // Not blind: a Bundle naming another patient is caught by the same check.
    let chart = Chart::from_json(&json!({"resourceType": "Patient", "id": "p1"})).unwrap();
    let mut refs = Vec::new();
    references(&json!({"entry": [{"resource": {"subject": {"reference": "Patient/other"}}}]}), &mut refs);
    assert!(refs.iter().any(|r| !chart.is_patient_reference(r)));
}
