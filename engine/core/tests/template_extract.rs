//! SDC template-based extraction: idempotent, and a broken template costs only its own
//! resource, reported with the item and the expression (CSIRO's fixtures are compared in
//! tests/tests/template_extraction_matches_csiro.rs).

use intake_engine::template_extract::{extract, Error, Options};
use serde_json::{json, Value as Json};

const CTX: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-templateExtractContext";
const VAL: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-templateExtractValue";
const TPL: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-templateExtract";

fn template_ext(reference: &str) -> Json {
    json!({"url": TPL, "extension": [{"url": "template", "valueReference": {"reference": reference}}]})
}

fn questionnaire(obs_value: &str) -> Json {
    json!({
      "resourceType": "Questionnaire", "status": "active",
      "contained": [
        {"resourceType": "Observation", "id": "weightTemplate", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
         "subject": {"_reference": {"extension": [{"url": VAL, "valueString": "%resource.subject.reference"}]}},
         "valueQuantity": {"_value": {"extension": [{"url": VAL, "valueString": obs_value}]}, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}},
        {"resourceType": "AllergyIntolerance", "id": "allergyTemplate",
         "code": {"extension": [{"url": CTX, "valueString": "item.where(linkId='substance').answer.value"}],
                  "coding": [{"extension": [{"url": VAL, "valueString": "ofType(Coding)"}]}],
                  "_text": {"extension": [{"url": VAL, "valueString": "ofType(string)"}]}},
         "patient": {"_reference": {"extension": [{"url": VAL, "valueString": "%resource.subject.reference"}]}}}
      ],
      "item": [
        {"linkId": "weight", "type": "decimal", "extension": [template_ext("#weightTemplate")]},
        {"linkId": "allergy", "type": "group", "repeats": true, "extension": [template_ext("#allergyTemplate")],
         "item": [{"linkId": "substance", "type": "open-choice"}]}
      ]})
}

fn response() -> Json {
    json!({"resourceType": "QuestionnaireResponse", "id": "qr-7", "status": "completed", "subject": {"reference": "Patient/p1"},
      "item": [
        {"linkId": "weight", "answer": [{"valueDecimal": 72.5}]},
        {"linkId": "allergy", "item": [{"linkId": "substance", "answer": [{"valueCoding": {"system": "http://snomed.info/sct", "code": "764146007"}}]}]},
        {"linkId": "allergy", "item": [{"linkId": "substance", "answer": [{"valueString": "dried flowers"}]}]}
      ]})
}

fn opts() -> Options<'static> {
    Options { now: "2026-11-20T09:00:00Z", seed: None }
}

#[test]
fn fills_templates_per_item_instance() {
    let x = extract(&questionnaire("answer.value"), &response(), &opts()).unwrap();
    assert!(x.issues.is_empty(), "{:?}", x.issues);
    let entries = x.bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let obs = &entries[0]["resource"];
    assert_eq!(obs["valueQuantity"]["value"], json!(72.5));
    assert_eq!(obs["subject"]["reference"], "Patient/p1");
    assert_eq!(entries[1]["resource"]["code"], json!({"coding": [{"system": "http://snomed.info/sct", "code": "764146007"}]}));
    assert_eq!(entries[2]["resource"]["code"], json!({"text": "dried flowers"}));
    // Plain creates are conditional on a stable identifier we add.
    for e in entries {
        let ident = e["resource"]["identifier"][0]["value"].as_str().unwrap();
        assert_eq!(e["request"]["ifNoneExist"], format!("identifier=urn:ietf:rfc:3986|{ident}"));
        assert_ne!(e["fullUrl"].as_str().unwrap(), ident, "a server rewriting fullUrls must not rewrite identifiers");
    }
}

#[test]
fn the_same_response_gives_the_same_bundle() {
    let a = extract(&questionnaire("answer.value"), &response(), &opts()).unwrap().bundle;
    let b = extract(&questionnaire("answer.value"), &response(), &opts()).unwrap().bundle;
    assert_eq!(a, b);
    let c = extract(&questionnaire("answer.value"), &response(), &Options { seed: Some("another submission"), ..opts() }).unwrap().bundle;
    assert_ne!(a["identifier"], c["identifier"]);
    assert_ne!(a["entry"][0]["fullUrl"], c["entry"][0]["fullUrl"]);
}

#[test]
fn a_broken_template_costs_only_its_resource_and_says_why() {
    let x = extract(&questionnaire("answer.value.frobnicate()"), &response(), &opts()).unwrap();
    let entries = x.bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "the two allergies are still extracted");
    assert!(entries.iter().all(|e| e["resource"]["resourceType"] == "AllergyIntolerance"));
    assert_eq!(x.issues.len(), 1);
    let msg = x.issues[0].to_string();
    assert!(msg.contains("item 'weight'") && msg.contains("frobnicate") && msg.contains("left out"), "{msg}");
}

#[test]
fn a_resource_missing_a_required_element_is_left_out() {
    // No answer for the value: an Observation still has status and code (valid), but an
    // AllergyIntolerance with no patient reference is not.
    let mut r = response();
    r.as_object_mut().unwrap().remove("subject");
    let x = extract(&questionnaire("answer.value"), &r, &opts()).unwrap();
    let types: Vec<&str> = x.bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["Observation"]);
    assert_eq!(x.issues.len(), 2);
    assert!(x.issues.iter().all(|i| i.message.contains("required element patient")), "{:?}", x.issues);
}

#[test]
fn inputs_are_checked() {
    assert_eq!(extract(&json!({"resourceType": "Patient"}), &response(), &opts()).unwrap_err(), Error::NotAQuestionnaire);
    assert_eq!(extract(&questionnaire("x"), &json!({"resourceType": "Bundle"}), &opts()).unwrap_err(), Error::NotAResponse);
    let plain = json!({"resourceType": "Questionnaire", "item": [{"linkId": "a", "type": "string"}]});
    assert_eq!(extract(&plain, &response(), &opts()).unwrap_err(), Error::NoTemplates);
}

/// Issue 13, item 12: a template whose subject expression names someone else is left out.
#[test]
fn a_template_may_not_write_about_another_patient() {
    let text = questionnaire("%resource.item.where(linkId='weight').answer.value").to_string();
    let hostile = text.replace("%resource.subject.reference", "'Patient/someone-else'");
    let q: Json = serde_json::from_str(&hostile).unwrap();
    let x = extract(&q, &response(), &opts()).unwrap();
    let entries = x.bundle["entry"].as_array().unwrap();
    assert!(entries.is_empty(), "nothing about Patient/someone-else is written: {entries:?}");
    assert!(
        x.issues.iter().any(|i| i.message.contains("Patient/someone-else") && i.message.contains("left out")),
        "{:?}",
        x.issues
    );
    // Positive control: the same templates about the response's subject are written.
    let ok = extract(&questionnaire("%resource.item.where(linkId='weight').answer.value"), &response(), &opts()).unwrap();
    assert!(!ok.bundle["entry"].as_array().unwrap().is_empty());
}
