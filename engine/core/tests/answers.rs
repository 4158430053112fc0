//! Answers the patient gives are checked and normalised before they count: blank text is no
//! answer, the wrong type is refused with the item named, and a refused answer leaves the
//! previous one in place.

mod support;

use intake_engine::answer::AnswerError;
use intake_engine::fhir::Value;
use serde_json::json;
use support::{questionnaire, session, visit_type};

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn vt() -> std::rc::Rc<intake_engine::VisitType> {
    visit_type(
        questionnaire(json!([
            {"linkId": "email", "type": "string", "required": true,
             "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "^[^@ ]+@[^@ ]+$"}]},
            {"linkId": "pets", "type": "string", "repeats": true},
            {"linkId": "age", "type": "integer"}
        ])),
        &[],
    )
}

#[test]
fn blank_text_is_no_answer() {
    let vt = vt();
    let mut sess = session(&vt);
    sess.answer_link_id("email", vec![s("a@example.org")]).unwrap();
    // Clearing the field (or typing only spaces) removes the answer rather than storing "".
    sess.answer_link_id("email", vec![s("   ")]).unwrap();
    let node = sess.node_of_link_id("email").unwrap();
    assert!(sess.node(node).unwrap().answers.is_empty());
    // A blank among repeated answers is dropped; the others stay.
    sess.answer_link_id("pets", vec![s("cat"), s(""), s("dog")]).unwrap();
    let pets = sess.node_of_link_id("pets").unwrap();
    assert_eq!(sess.node(pets).unwrap().answers, vec![s("cat"), s("dog")]);
}

#[test]
fn a_wrong_type_is_refused_by_name_and_keeps_the_previous_answer() {
    let vt = vt();
    let mut sess = session(&vt);
    sess.answer_link_id("age", vec![Value::Integer(41)]).unwrap();
    let err = sess.answer_link_id("age", vec![s("forty")]).unwrap_err();
    assert!(matches!(&err, AnswerError::WrongType { link_id, .. } if link_id == "age"), "{err:?}");
    assert!(err.to_string().contains("'age'"), "{err}");
    let node = sess.node_of_link_id("age").unwrap();
    assert_eq!(sess.node(node).unwrap().answers, vec![Value::Integer(41)]);
}

#[test]
fn the_snapshot_writes_every_kind_of_answer_as_an_answers_file_and_reads_back_the_same() {
    use intake_engine::answers_file;
    let vt = visit_type(
        questionnaire(json!([
            {"linkId": "smoker", "type": "boolean"},
            {"linkId": "age", "type": "integer"},
            {"linkId": "temp", "type": "decimal"},
            {"linkId": "onset", "type": "date"},
            {"linkId": "about", "type": "group", "item": [
                {"linkId": "note", "type": "text"}
            ]},
            {"linkId": "symptoms", "type": "choice", "repeats": true, "answerOption": [
                {"valueCoding": {"system": "http://snomed.info/sct", "code": "25064002", "display": "Headache"}},
                {"valueCoding": {"system": "http://snomed.info/sct", "code": "422587007", "display": "Nausea"}}
            ]},
            {"linkId": "med", "type": "group", "repeats": true, "item": [
                {"linkId": "med.name", "type": "string"},
                {"linkId": "med.dose", "type": "quantity"}
            ]}
        ])),
        &[],
    );
    let answers = json!({
        "smoker": false,
        "age": 42,
        "temp": 37.5,
        "onset": "2026-11-30",
        "note": "line one\nsaid \"twice\"",
        "symptoms": [
            {"system": "http://snomed.info/sct", "code": "25064002", "display": "Headache"},
            {"system": "http://snomed.info/sct", "code": "422587007", "display": "Nausea"}
        ],
        "med": [
            {"med.name": "aspirin", "med.dose": {"value": 81, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}},
            {"med.name": "metformin"}
        ]
    });
    let mut a = session(&vt);
    let file = json!({"format": "intake-answers/1", "visit_type": a.visit_type().manifest.id, "patient": "Patient/p1", "answers": answers});
    let problems = answers_file::restore(&mut a, &file).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    let text = answers_file::snapshot_text(&a, Some(2), &[("drafts", json!({"age": "4x"}))]);
    let written: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(written["answers"], answers, "{text}");
    assert_eq!(written["page"], json!(2));
    assert_eq!(written["drafts"], json!({"age": "4x"}));
    assert_eq!(written["session"], json!(a.id()));
    // Whose it is comes before the answers (a cut write still says so), the extras after.
    let at = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(at("format") < at("patient") && at("patient") < at("session") && at("session") < at("page"));
    assert!(at("page") < at("answers") && at("answers") < at("drafts"), "{text}");
    // Read back into a fresh session, it writes the same answers again.
    let mut b = session(&vt);
    assert!(answers_file::restore(&mut b, &written).unwrap().is_empty());
    assert_eq!(answers_file::snapshot(&b)["answers"], answers);
}
