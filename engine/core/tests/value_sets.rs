//! `answerValueSet` end to end: options from a host's ValueSet, and an item nobody can list
//! still answered (free text, a review Task), never a required question with no way out.

mod support;

use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::extract;
use intake_engine::visit_type::Action;
use intake_engine::fhir::{Coding, Value};
use intake_engine::rules::RuleSource;
use intake_engine::value_set::ValueSetLibrary;
use intake_engine::visit_type::VisitTypeSource;
use intake_engine::{Session, VisitType};
use serde_json::json;
use support::*;

const GENDER_VS: &str = "http://hl7.org/fhir/ValueSet/administrative-gender";

fn form_with(vs: &str) -> serde_json::Value {
    questionnaire(json!([
        {"linkId": "g", "text": "Gender", "type": "choice", "required": true, "answerValueSet": vs}
    ]))
}

fn load(q: serde_json::Value, lib: ValueSetLibrary) -> Rc<VisitType> {
    let src = VisitTypeSource {
        manifest_file: "manifest.json".into(),
        manifest_text: json!({"id": "t", "title": "T", "questionnaire": "q.json"}).to_string(),
        questionnaire_file: "q.json".into(),
        questionnaire_text: q.to_string(),
        rules: Vec::<RuleSource>::new(),
        value_sets: lib,
    };
    Rc::new(VisitType::load(&src).unwrap_or_else(|d| panic!("{d:?}")))
}

/// Answer as the page does when the patient types: parse against the item, then answer.
fn type_into(s: &mut Session, n: intake_engine::NodeId, text: &str) -> Result<(), intake_engine::AnswerError> {
    let v = intake_engine::answer::parse_text(s.def(n), text)?;
    s.answer(n, vec![v]).map(|_| ())
}

fn session_of(vt: &Rc<VisitType>) -> Session {
    Session::new(vt.clone(), chart(), VisitContext::default(), now(), "vs-session").unwrap()
}

#[test]
fn host_value_set_gives_the_options_with_a_version_pin() {
    let mut lib = ValueSetLibrary::default();
    lib.add_json(
        &json!({"resourceType": "ValueSet", "url": GENDER_VS, "version": "4.0.1", "compose": {"include": [{
            "system": "http://hl7.org/fhir/administrative-gender",
            "concept": [{"code": "male", "display": "Male"}, {"code": "female", "display": "Female"},
                        {"code": "other", "display": "Other"}, {"code": "unknown", "display": "Unknown"}]}]}}),
        "valueSets[0]",
    )
    .unwrap();
    for canonical in [GENDER_VS.to_owned(), format!("{GENDER_VS}|4.0.1")] {
        let vt = load(form_with(&canonical), lib.clone());
        let def = vt.form.item(vt.form.find("g").unwrap());
        assert_eq!(def.options.len(), 4, "{canonical}");
        assert!(def.options_fallback.is_none());
        assert!(vt.warnings.is_empty(), "{:?}", vt.warnings);
        // Typed words that name an option become its coding; others are refused.
        let mut s = session_of(&vt);
        let n = s.node_of_link_id("g").unwrap();
        type_into(&mut s, n, "Female").unwrap();
        assert_eq!(s.node(n).unwrap().answers[0].as_coding().and_then(|c| c.code.as_deref()), Some("female"));
        assert!(type_into(&mut s, n, "Martian").is_err());
    }
}

#[test]
fn an_unresolvable_value_set_takes_free_text_and_sends_it_for_coding() {
    let vt = load(form_with("http://example.org/ValueSet/nowhere"), ValueSetLibrary::default());
    let def = vt.form.item(vt.form.find("g").unwrap());
    assert!(def.options.is_empty());
    assert!(def.options_fallback.is_some());
    // The load says which item fell back and why, at its path.
    let w = vt.warnings.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(w.contains("item 'g'") && w.contains("nowhere") && w.contains("free text"), "{w}");

    let mut s = session_of(&vt);
    let n = s.node_of_link_id("g").unwrap();
    // Required, yet answerable: the patient's words are kept as they are.
    assert!(extract::bundle(&s).is_err(), "required and empty must block submit");
    type_into(&mut s, n, "non-binary").unwrap();
    assert_eq!(s.node(n).unwrap().answers, vec![Value::String("non-binary".into())]);
    let wb = extract::bundle(&s).expect("submittable");
    let json = wb.to_json().to_string();
    assert!(json.contains("\"valueString\":\"non-binary\""), "the response carries the words");
    let task = wb
        .decisions
        .iter()
        .find(|d| d.resource_type == "Task" && d.reason.contains("answered as free text"))
        .expect("a review decision for the uncoded answer");
    assert_eq!(task.action, Action::Review);
    assert!(json.contains("could not be listed"), "the Task says why");

    // A coding the host's terminology search returned is taken as given, and needs no Task.
    let coding = Coding { system: Some("http://snomed.info/sct".into()), code: Some("446141000124107".into()), display: Some("Female gender identity".into()), ..Default::default() };
    s.answer(n, vec![Value::Coding(coding)]).unwrap();
    let wb = extract::bundle(&s).unwrap();
    assert!(!wb.decisions.iter().any(|d| d.reason.contains("answered as free text")));
}

#[test]
fn a_partly_listable_value_set_offers_its_codes_and_takes_words_too() {
    let q = json!({"resourceType": "Questionnaire", "status": "active", "contained": [{
        "resourceType": "ValueSet", "id": "vs", "compose": {"include": [
            {"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "105590001"}]},
            {"system": "http://example.org/local", "concept": [{"code": "none", "display": "None"}]}]}}],
        "item": [{"linkId": "a", "text": "Allergen", "type": "choice", "answerValueSet": "#vs"}]});
    let vt = load(q, ValueSetLibrary::default());
    let def = vt.form.item(vt.form.find("a").unwrap());
    assert_eq!(def.options.len(), 1);
    assert!(def.options_fallback.as_ref().is_some_and(|f| f.is_partial()));
    let w = vt.warnings.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(w.contains("concept is-a 105590001"), "{w}");
    let mut s = session_of(&vt);
    let n = s.node_of_link_id("a").unwrap();
    type_into(&mut s, n, "None").unwrap();
    assert!(matches!(&s.node(n).unwrap().answers[0], Value::Coding(_)));
    type_into(&mut s, n, "cat dander").unwrap();
    assert_eq!(s.node(n).unwrap().answers, vec![Value::String("cat dander".into())]);
}

#[test]
fn forms_without_a_library_keep_loading_as_before() {
    // The bare constructors still work: no library means only contained sets resolve.
    let f = form(json!([{"linkId": "x", "type": "choice", "answerValueSet": "#missing"}]));
    let d = f.item(f.find("x").unwrap());
    assert!(d.options_fallback.is_some());
    assert!(f.warnings.iter().any(|w| w.path == "Questionnaire.item[0].answerValueSet"));
}

#[test]
fn an_enable_when_coding_from_the_wrong_system_matches_its_unique_code_with_a_warning() {
    let q = questionnaire(json!([
        {"linkId": "ndis", "type": "choice", "text": "Registered for NDIS?", "answerOption": [
            {"valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y", "display": "Yes"}},
            {"valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "N", "display": "No"}}]},
        {"linkId": "number", "type": "string", "text": "NDIS number",
         "enableWhen": [{"question": "ndis", "operator": "=", "answerCoding": {"system": "http://snomed.info/sct", "code": "Y"}}]},
        {"linkId": "other", "type": "string", "text": "Never",
         "enableWhen": [{"question": "ndis", "operator": "=", "answerCoding": {"system": "http://snomed.info/sct", "code": "373066001"}}]}
    ]));
    let vt = load(q, ValueSetLibrary::default());
    let w: Vec<String> = vt.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(w.iter().filter(|m| m.contains("systems differ")).count(), 1, "{w:?}");
    let mut s = session_of(&vt);
    let n = s.node_of_link_id("ndis").unwrap();
    type_into(&mut s, n, "Yes").unwrap();
    assert!(shown(&s, "number"), "the unique code matches across systems");
    assert!(!shown(&s, "other"), "a code no option has still never matches");
}

fn insulin_library() -> ValueSetLibrary {
    let mut lib = ValueSetLibrary::default();
    lib.add_json(
        &json!({"resourceType": "ValueSet", "id": "insulins", "name": "Insulins", "url": "http://example.org/ValueSet/insulins",
            "compose": {"include": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                "concept": [{"code": "274783", "display": "insulin glargine"}, {"code": "86009", "display": "insulin lispro"}]}]}}),
        "rules/valuesets/insulins.json",
    )
    .unwrap();
    lib
}

fn chart_taking(code: &str) -> Rc<intake_engine::Chart> {
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}},
        {"resource": {"resourceType": "MedicationStatement", "id": "m1", "status": "active", "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code}]}}}]});
    Rc::new(intake_engine::Chart::from_json(&b).unwrap())
}

/// One question, "hypo", gated by `rule` (as `rules/diabetes.rhai`), with the insulins set.
fn hypo_visit_type(rule: &str) -> VisitTypeSource {
    let q = questionnaire(json!([{"linkId": "hypo", "text": "Any low blood sugar?", "type": "boolean"}]));
    VisitTypeSource {
        manifest_file: "manifest.json".into(),
        manifest_text: json!({"id": "t", "title": "T", "questionnaire": "q.json", "rules": ["diabetes.rhai"]}).to_string(),
        questionnaire_file: "q.json".into(),
        questionnaire_text: q.to_string(),
        rules: vec![RuleSource { name: "rules/diabetes.rhai".into(), text: rule.into() }],
        value_sets: insulin_library(),
    }
}

#[test]
fn rules_test_chart_codes_against_value_sets() {
    let rule = r#"if takes_medication(valueset("insulins")) { ask("hypo", "You take insulin, so we ask about low blood sugar."); }"#;
    let src = hypo_visit_type(rule);
    let vt = Rc::new(VisitType::load(&src).unwrap_or_else(|d| panic!("{d:?}")));
    let on = Session::new(vt.clone(), chart_taking("274783"), VisitContext::default(), now(), "a").unwrap();
    assert!(shown(&on, "hypo"), "glargine is in the set");
    let off = Session::new(vt.clone(), chart_taking("860975"), VisitContext::default(), now(), "b").unwrap();
    assert!(!shown(&off, "hypo"), "metformin is not");

    // A misspelt set name is a load error at its position, with the nearest name.
    let bad = VisitTypeSource { rules: vec![RuleSource { name: "rules/diabetes.rhai".into(), text: rule.replace("insulins", "insulin") }], ..src.clone() };
    let err = VisitType::load(&bad).unwrap_err().iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    assert!(err.contains("rules/diabetes.rhai:1:") && err.contains("no value set 'insulin'") && err.contains("did you mean 'insulins'"), "{err}");
    // A computed name cannot be checked: refused.
    let computed = VisitTypeSource { rules: vec![RuleSource { name: "rules/diabetes.rhai".into(), text: "let n = \"insulins\"; if takes_medication(valueset(n)) { ask(\"hypo\", \"x\"); }".into() }], ..src };
    assert!(VisitType::load(&computed).is_err());
}

#[test]
fn an_ingredient_level_set_matches_a_product_coded_medication_through_its_ingredients() {
    let vt = Rc::new(VisitType::load(&hypo_visit_type(r#"if takes_medication(valueset("insulins")) { ask("hypo", "You take insulin."); }"#)).unwrap());
    let rx = "http://www.nlm.nih.gov/research/umls/rxnorm";
    let chart = |ingredient: Option<&str>| {
        let mut med = json!({"resourceType": "Medication", "id": "pen", "code": {"coding": [{"system": rx, "code": "2563976", "display": "insulin glargine pen (product)"}]}});
        if let Some(i) = ingredient {
            med["ingredient"] = json!([{"itemCodeableConcept": {"coding": [{"system": rx, "code": i}]}}]);
        }
        let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}},
            {"resource": med},
            {"resource": {"resourceType": "MedicationStatement", "id": "m1", "status": "active", "subject": {"reference": "Patient/p1"},
                "medicationReference": {"reference": "Medication/pen"}}}]});
        Rc::new(intake_engine::Chart::from_json(&b).unwrap())
    };
    let with = Session::new(vt.clone(), chart(Some("274783")), VisitContext::default(), now(), "a").unwrap();
    assert!(shown(&with, "hypo"), "the Medication lists insulin glargine as its ingredient");
    let without = Session::new(vt.clone(), chart(None), VisitContext::default(), now(), "b").unwrap();
    assert!(!shown(&without, "hypo"), "a product code alone does not match an ingredient-level set");
    // The product keeps its own code: the ingredient is not written back as its code.
    assert_eq!(with.chart().medications[0].concept.coding.len(), 1);
}
