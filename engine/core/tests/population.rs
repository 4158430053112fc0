//! SDC expression-based population from the chart the host passed: x-fhir-query variables,
//! sourceQueries, itemPopulationContext rows, and initialExpression over them. No server.

mod support;

use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::{Json, Value};
use intake_engine::{Chart, Session, VisitType};
use serde_json::json;
use support::*;

const XQ: &str = "application/x-fhir-query";
const INITIAL: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";

fn chart() -> Rc<Chart> {
    let cond = |id: &str, code: &str, status: &str, onset: &str| json!({"resource": {"resourceType": "Condition", "id": id,
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": status}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code, "display": code}]}, "onsetDateTime": onset}});
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-02-01", "name": [{"family": "Lee", "given": ["Ana"]}]}},
        cond("c1", "38341003", "active", "2019-04-01T00:00:00+10:00"),
        cond("c2", "44054006", "active", "2021-06-01"),
        cond("c3", "195662009", "resolved", "2023-01-10"),
        {"resource": {"resourceType": "Condition", "id": "x", "subject": {"reference": "Patient/someone-else"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}},
        {"resource": {"resourceType": "Observation", "id": "w1", "subject": {"reference": "Patient/p1"}, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "effectiveDateTime": "2024-01-01",
            "valueQuantity": {"value": 81, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}},
        {"resource": {"resourceType": "Observation", "id": "w2", "subject": {"reference": "Patient/p1"}, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "effectiveDateTime": "2025-03-01",
            "valueQuantity": {"value": 79.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}}
    ]});
    Rc::new(Chart::from_json_kept(b).unwrap())
}

fn start(q: Json) -> Session {
    let vt = Rc::new(VisitType::from_form(intake_engine::Form::from_json(&q).unwrap(), &[]).unwrap());
    Session::new(vt, chart(), VisitContext::default(), now(), "pop").unwrap()
}

fn initial(expr: &str) -> Json {
    json!([{"url": INITIAL, "valueExpression": {"language": "text/fhirpath", "expression": expr}}])
}

fn answers(s: &Session, link_id: &str) -> Vec<Vec<Value>> {
    let item = s.form().find(link_id).unwrap();
    s.nodes_of(item).iter().map(|n| s.node(*n).unwrap().answers.clone()).collect()
}

#[test]
fn x_fhir_query_variables_and_item_population_context_make_one_row_per_resource() {
    let q = json!({"resourceType": "Questionnaire", "status": "active",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/variable", "valueExpression": {"name": "Conditions", "language": XQ,
            "expression": "Condition?patient={{%patient.id}}&clinical-status=active&_sort=date"}}],
        "item": [{"linkId": "history", "type": "group", "repeats": true,
            "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemPopulationContext",
                "valueExpression": {"name": "Row", "language": "text/fhirpath", "expression": "%Conditions.entry.resource"}}],
            "item": [
                {"linkId": "what", "type": "open-choice", "extension": initial("%Row.code.coding.first()")},
                {"linkId": "since", "type": "date", "extension": initial("%Row.onset.ofType(dateTime)")}
            ]}]});
    let s = start(q);
    let what: Vec<String> = answers(&s, "what").iter().map(|a| a[0].as_coding().unwrap().code.clone().unwrap()).collect();
    assert_eq!(what, ["38341003", "44054006"], "active only, oldest first, never another patient's");
    // A date-time onset fills a date item with its date.
    assert_eq!(answers(&s, "since")[0][0].display(), "2019-04-01");
    // Prefilled from the record: the patient sees where it came from and may change it.
    let n = s.nodes_of(s.form().find("what").unwrap())[0];
    assert!(s.node(n).unwrap().prefilled.is_some());
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

#[test]
fn source_queries_batch_is_named_by_its_bundle_id() {
    let q = json!({"resourceType": "Questionnaire", "status": "active",
        "contained": [{"resourceType": "Bundle", "id": "PrePopQuery", "type": "batch", "entry": [
            {"request": {"method": "GET", "url": "Observation?code=29463-7&_sort=-date&_count=1"}},
            {"request": {"method": "GET", "url": "Condition?patient={{%patient.id}}"}}]}],
        "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-sourceQueries", "valueReference": {"reference": "#PrePopQuery"}}],
        "item": [
            {"linkId": "weight", "type": "decimal", "extension": initial("%PrePopQuery.entry[0].resource.entry.resource.value.value")},
            {"linkId": "count", "type": "integer", "extension": initial("%PrePopQuery.entry[1].resource.entry.count()")}
        ]});
    let s = start(q);
    assert_eq!(answers(&s, "weight"), [[Value::Decimal(79.5)]], "the newest weight");
    assert_eq!(answers(&s, "count"), [[Value::Integer(3)]]);
}

#[test]
fn a_query_that_cannot_be_answered_locally_is_reported_and_prefills_nothing() {
    let q = json!({"resourceType": "Questionnaire", "status": "active",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/variable", "valueExpression": {"name": "C", "language": XQ,
            "expression": "Condition?patient={{%patient.id}}&onset-age=gt10"}}],
        "item": [{"linkId": "n", "type": "integer", "extension": initial("%C.entry.count()")}]});
    let s = start(q);
    assert_eq!(answers(&s, "n"), [[Value::Integer(0)]], "an empty result, never a superset");
    let errors = s.expression_errors();
    assert!(errors.iter().any(|(path, m)| path.starts_with("Questionnaire.extension[0]") && m.contains("onset-age")), "{errors:?}");
}

#[test]
fn a_batch_entry_that_cannot_be_filled_in_fails_alone() {
    let q = json!({"resourceType": "Questionnaire", "status": "active",
        "contained": [{"resourceType": "Bundle", "id": "Pre", "type": "batch", "entry": [
            {"request": {"method": "GET", "url": "Condition?patient={{(1 | 2).single()}}"}},
            {"request": {"method": "GET", "url": "Condition?patient={{%patient.id}}"}}]}],
        "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-sourceQueries", "valueReference": {"reference": "#Pre"}}],
        "item": [{"linkId": "count", "type": "integer", "extension": initial("%Pre.entry[1].resource.entry.count()")}]});
    let s = start(q);
    assert_eq!(answers(&s, "count"), [[Value::Integer(3)]], "the second search still answers");
    assert!(s.expression_errors().iter().any(|(_, m)| m.contains("variable %Pre")), "{:?}", s.expression_errors());
}
