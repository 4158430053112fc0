//! Every QuestionnaireResponse and write-back Bundle the scenario suite produces must pass an
//! independent R4 validator with zero errors; every scenario must pass.

use std::path::Path;

use intake_cli::project::Project;
use intake_cli::scenario::run_all;
use intake_conformance::r4_errors;

fn project() -> Project {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let vt = root.join("visit-types");
    Project::locate(Some(vt.to_str().unwrap()), Some(root.join("rules").to_str().unwrap())).unwrap()
}

#[test]
fn every_scenario_passes_and_its_output_is_valid_r4() {
    let reports = run_all(&project());
    assert!(reports.len() >= 15, "expected the shipped scenarios, found {}", reports.len());
    let mut problems = Vec::new();
    let (mut responses, mut bundles, mut entries) = (0, 0, 0);
    for r in &reports {
        if let Err(e) = &r.result {
            problems.push(format!("{}: scenario failed:\n{}", r.name, e.lines().take(8).collect::<Vec<_>>().join("\n")));
        }
        if let Some(qr) = &r.response {
            responses += 1;
            for e in r4_errors(qr) {
                problems.push(format!("{}: QuestionnaireResponse: {e}", r.name));
            }
        }
        if let Some(b) = &r.bundle {
            bundles += 1;
            entries += b["entry"].as_array().map(Vec::len).unwrap_or(0);
            for e in r4_errors(b) {
                problems.push(format!("{}: Bundle: {e}", r.name));
            }
        }
    }
    eprintln!("validated {responses} QuestionnaireResponses and {bundles} Bundles ({entries} entries) with fhirkit");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(bundles >= 12, "most scenarios should produce a Bundle; {bundles} did");
}

#[test]
fn the_validator_is_not_blind() {
    // A resource with a wrong type and an unknown element must be rejected, or the test above proves nothing.
    let bad = serde_json::json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": "12", "colour": "red"});
    assert!(!r4_errors(&bad).is_empty());
    let missing = serde_json::json!({"resourceType": "QuestionnaireResponse"});
    assert!(!r4_errors(&missing).is_empty(), "status is required");
    // Errors nested inside Bundle entries and contained resources must be seen too.
    let in_entry = serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueBoolean": "yes"},
         "request": {"method": "POST", "url": "Observation"}}]});
    assert!(!r4_errors(&in_entry).is_empty(), "an invalid entry resource must be reported");
    let in_contained = serde_json::json!({"resourceType": "Task", "status": "requested", "intent": "proposal",
        "contained": [{"resourceType": "Condition", "id": "p", "subject": {"reference": "Patient/1"}, "onsetDateTime": "yesterday"}]});
    assert!(!r4_errors(&in_contained).is_empty(), "an invalid contained resource must be reported");
}
