//! The lenient reader's coercions: each is a warning at the exact JSON path, an error names
//! where it is, and a problem inside an array or a choice element carries its index or key.
//! (`Obj::opt`, `Obj::vec` and `Obj::choice` in `json.rs`, whose lenient parts are shared by
//! every element type.)

use intake_fhir::json::{Cx, FromJson};
use intake_fhir::{CodeableConcept, Extension, Value};
use serde_json::json;

fn read<T: FromJson>(root: &'static str, v: serde_json::Value) -> (Result<T, String>, Vec<String>) {
    let mut cx = Cx::new(root);
    let out = T::from_json(&v, &mut cx).map_err(|e| e.to_string());
    (out, cx.warnings.iter().map(|w| w.to_string()).collect())
}

#[test]
fn a_single_value_where_an_array_belongs_is_a_list_of_one() {
    let (cc, warnings) = read::<CodeableConcept>("code", json!({"coding": {"code": "x"}}));
    assert_eq!(cc.unwrap().coding[0].code.as_deref(), Some("x"));
    assert_eq!(warnings, ["at code.coding: a single value where an array belongs; read as a list of one"]);
}

#[test]
fn an_array_of_one_where_a_single_value_belongs_is_its_element() {
    let (cc, warnings) = read::<CodeableConcept>("code", json!({"text": ["rash"], "coding": [{"display": ["Rash"]}]}));
    let cc = cc.unwrap();
    assert_eq!(cc.text.as_deref(), Some("rash"));
    assert_eq!(cc.coding[0].display.as_deref(), Some("Rash"));
    assert_eq!(
        warnings,
        [
            "at code.coding[0].display: an array of one where a single value belongs; read its element",
            "at code.text: an array of one where a single value belongs; read its element",
        ]
    );
}

#[test]
fn nulls_and_empty_arrays_read_as_absent() {
    let (cc, warnings) = read::<CodeableConcept>("code", json!({"text": null, "coding": [null, {"code": "a"}, null]}));
    let cc = cc.unwrap();
    assert_eq!(cc.text, None);
    assert_eq!(cc.coding.len(), 1);
    assert_eq!(
        warnings,
        [
            "at code.coding[0]: null array entry skipped",
            "at code.coding[2]: null array entry skipped",
            "at code.text: null is not allowed in FHIR JSON; read as absent",
        ]
    );
    let (cc, warnings) = read::<CodeableConcept>("code", json!({"coding": [], "text": "t"}));
    assert!(cc.unwrap().coding.is_empty());
    assert_eq!(warnings, ["at code.coding: empty arrays are not allowed in FHIR JSON; read as absent"]);
    let (cc, warnings) = read::<CodeableConcept>("code", json!({"coding": null}));
    assert!(cc.unwrap().coding.is_empty());
    assert_eq!(warnings, ["at code.coding: null is not allowed in FHIR JSON; read as absent"]);
}

#[test]
fn an_error_names_the_index_and_the_path_is_whole_again_after_it() {
    let (cc, _) = read::<CodeableConcept>("code", json!({"coding": [{"code": "a"}, {"code": {"no": 1}}]}));
    assert_eq!(cc.unwrap_err(), "at code.coding[1].code: expected a string, found an object");
    // An error inside an array of one, where a single value belongs.
    let (cc, _) = read::<CodeableConcept>("code", json!({"text": [[1]]}));
    assert_eq!(cc.unwrap_err(), "at code.text[0]: expected a string, found an array");
    // The same reading context, used again after a failed read: its next warning sits at its
    // own path, so the failed read left the path as it found it.
    let mut cx = Cx::new("code");
    assert!(CodeableConcept::from_json(&json!({"coding": [{"code": "a"}, {"code": []}]}), &mut cx).is_err());
    assert!(CodeableConcept::from_json(&json!({"coding": {"code": "x"}}), &mut cx).is_ok());
    assert_eq!(
        cx.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        ["at code.coding: a single value where an array belongs; read as a list of one"]
    );
}

#[test]
fn a_choice_element_reads_its_type_from_the_key_and_refuses_two() {
    let (ext, warnings) = read::<Extension>("extension", json!({"url": "u", "valueCoding": {"code": ["c"]}}));
    assert!(matches!(ext.unwrap().value, Some(Value::Coding(c)) if c.code.as_deref() == Some("c")));
    assert_eq!(warnings, ["at extension.valueCoding.code: an array of one where a single value belongs; read its element"]);
    let (ext, _) = read::<Extension>("extension", json!({"url": "u", "valueString": "a", "valueBoolean": true}));
    let err = ext.unwrap_err();
    assert!(err.starts_with("at extension.value: only one type may be given"), "{err}");
    let (ext, _) = read::<Extension>("extension", json!({"url": "u", "valueInteger": "x"}));
    assert_eq!(ext.unwrap_err(), "at extension.valueInteger: \"x\" is not a valid integer");
}
