//! A required read-only item the chart could not fill (a form from another tool prefilling the
//! patient's "official" name, for a chart without one) never stops the patient sending: the
//! write-back asks a clinician to supply it instead.

mod support;

use intake_engine::extract;
use serde_json::json;
use support::*;

#[test]
fn an_empty_required_read_only_item_goes_to_review_instead_of_blocking() {
    let vt = visit_type(
        questionnaire(json!([
            {"linkId": "name", "text": "Patient name", "type": "string", "required": true, "readOnly": true},
            {"linkId": "note", "text": "Anything else?", "type": "string", "required": true}
        ])),
        &[],
    );
    let mut s = session(&vt);
    // The patient's own required question still blocks...
    let problems = extract::submit_problems(&s);
    assert_eq!(problems.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(), ["note"]);
    let n = s.node_of_link_id("note").unwrap();
    s.answer(n, vec![intake_engine::fhir::Value::String("no".into())]).unwrap();
    // ...the read-only one does not, and is reported.
    let wb = extract::bundle(&s).expect("sendable");
    let d = wb.decisions.iter().find(|d| d.item == "read-only").expect("a review decision");
    assert!(d.reason.contains("Patient name"), "{}", d.reason);
    assert!(wb.to_json().to_string().contains("Supply them from the record"));
}
