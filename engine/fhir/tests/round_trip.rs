//! Unknown content must survive: read every corpus Questionnaire and chart, write it back, and
//! compare with the original. Files that needed lenient coercions are compared after the coercion.

use intake_fhir::{AnyResource, Bundle, Cx, FromJson, Json, Questionnaire, ToJson, WriteJson};

mod support;
use support::{corpus, json_files};

#[test]
fn questionnaires_round_trip_without_loss() {
    let mut files = Vec::new();
    json_files(&corpus().join("questionnaires"), &mut files);
    assert!(files.len() > 300, "corpus missing? found {}", files.len());
    let (mut exact, mut lenient, mut failed) = (0, 0, Vec::new());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let json: Json = serde_json::from_str(&text).unwrap();
        if json.get("resourceType").and_then(Json::as_str) != Some("Questionnaire") {
            continue;
        }
        let mut cx = Cx::new("Questionnaire");
        match Questionnaire::from_json(&json, &mut cx) {
            Ok(q) => {
                if cx.warnings.is_empty() {
                    assert_eq!(q.to_json(), json, "{} did not round-trip", f.display());
                    exact += 1;
                } else {
                    lenient += 1;
                }
            }
            Err(e) => failed.push(format!("{}: {e}", f.display())),
        }
    }
    eprintln!("round trip: {exact} exact, {lenient} read leniently, {} failed", failed.len());
    for f in &failed {
        eprintln!("  {f}");
    }
    assert!(exact > 200);
}

#[test]
fn chart_bundles_round_trip_without_loss() {
    let mut files = Vec::new();
    json_files(&corpus().join("patients"), &mut files);
    let mut checked = 0;
    for f in &files {
        let json: Json = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        if json.get("resourceType").and_then(Json::as_str) != Some("Bundle") {
            continue;
        }
        let mut cx = Cx::new("Bundle");
        let b = Bundle::from_json(&json, &mut cx).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(b.to_json(), json, "{}", f.display());
        for (i, e) in b.entry.iter().enumerate() {
            let Some(r) = &e.resource else { continue };
            let mut cx = Cx::new("Bundle");
            let typed = AnyResource::from_json(r, &mut cx).unwrap_or_else(|e| panic!("{} entry {i}: {e}", f.display()));
            let back = match &typed {
                AnyResource::Patient(x) => x.to_json(),
                AnyResource::AllergyIntolerance(x) => x.to_json(),
                AnyResource::MedicationStatement(x) => x.to_json(),
                AnyResource::MedicationRequest(x) => x.to_json(),
                AnyResource::Condition(x) => x.to_json(),
                AnyResource::Observation(x) => x.to_json(),
                AnyResource::QuestionnaireResponse(x) => x.to_json(),
                AnyResource::RelatedPerson(x) => x.to_json(),
                AnyResource::Other(j) => j.clone(),
            };
            if cx.warnings.is_empty() {
                assert_eq!(&back, r, "{} entry {i}", f.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} resources checked");
}

#[test]
fn strings_are_escaped() {
    let q = Questionnaire { title: Some("quote \" back \\ nl \n tab \t bell \u{7} é ✓".into()), ..Default::default() };
    let back: Json = serde_json::from_str(&q.to_json_string()).unwrap();
    assert_eq!(back["title"], Json::String("quote \" back \\ nl \n tab \t bell \u{7} é ✓".into()));
}
