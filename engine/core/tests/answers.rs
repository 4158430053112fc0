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
