//! The model reads the same from either tree: every corpus file read from its text's `Node`
//! (how a form without expressions loads) and from a `serde_json::Value` of the same text (a
//! chart kept for its searches, a form with expressions) gives the same model, the same
//! warnings and the same errors, word for word.

use intake_fhir::json::{parse_node, JsonRef, Node};
use intake_fhir::{AnyResource, Cx, FromJson, Json, Questionnaire};

mod support;
use support::{corpus, json_files};

/// What reading `tree` as `T` gives: the model or the error, and the warnings as text.
fn read<T: FromJson + std::fmt::Debug>(tree: JsonRef, root: &'static str) -> String {
    let mut cx = Cx::new(root);
    let out = T::from_node(tree, &mut cx);
    let warnings: Vec<String> = cx.warnings.iter().map(|w| w.to_string()).collect();
    format!("{out:?}\n{warnings:#?}")
}

#[test]
fn every_corpus_file_reads_the_same_from_either_tree() {
    let mut files = Vec::new();
    json_files(&corpus().join("questionnaires"), &mut files);
    json_files(&corpus().join("patients"), &mut files);
    assert!(files.len() > 300, "corpus missing? found {}", files.len());
    let (mut questionnaires, mut resources) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let Ok(value) = serde_json::from_str::<Json>(&text) else { continue };
        let node = parse_node(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(node.to_json(), value, "{}: the trees differ", f.display());
        let (from_node, from_value) = if value.get("resourceType").and_then(Json::as_str) == Some("Questionnaire") {
            questionnaires += 1;
            (read::<Questionnaire>(JsonRef::Node(&node), "Questionnaire"), read::<Questionnaire>(JsonRef::Value(&value), "Questionnaire"))
        } else {
            resources += 1;
            let any = |tree: JsonRef| {
                let mut cx = Cx::new("resource");
                let out = AnyResource::from_node(tree, &mut cx);
                format!("{out:?}\n{:?}", cx.warnings)
            };
            (any(JsonRef::Node(&node)), any(JsonRef::Value(&value)))
        };
        assert!(from_node == from_value, "{}: read differently from the two trees", f.display());
    }
    eprintln!("read alike from either tree: {questionnaires} Questionnaires, {resources} other resources");
    assert!(questionnaires > 300);
}

/// Sloppy JSON, each coercion's warning and each error, alike from either tree (the corpus
/// is mostly well formed).
#[test]
fn coercions_and_errors_read_the_same_from_either_tree() {
    let texts = [
        r#"{"resourceType":"Questionnaire","status":"draft","item":{"linkId":"a","type":"string","required":"true","maxLength":"12"}}"#,
        r#"{"resourceType":"Questionnaire","status":"draft","item":[null,{"linkId":7,"type":"decimal","initial":[{"valueDecimal":"1.50"}],"text":true}]}"#,
        r#"{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"integer","initial":{"valueInteger":3.0}}],"title":[]}"#,
        r#"{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"integer","initial":[{"valueInteger":3.5}]}]}"#,
        r#"{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"integer","initial":[{"valueInteger":18446744073709551615}]}]}"#,
        r#"{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"boolean","enableWhen":[{"question":"b","operator":"=","answerBoolean":true,"answerString":"x"}]}]}"#,
        r#"{"resourceType":"Questionnaire","item":[{"linkId":"a","type":"date","initial":[{"valueDate":"2026-13-01"}]}]}"#,
        r#"{"resourceType":"Questionnaire","item":[{"linkId":"a","linkId":"b","type":"string","x-unknown":{"kept":[1,2]}}]}"#,
        r#"{"resourceType":"Questionnaire","item":"not an object"}"#,
        r#"{"resourceType":"Patient"}"#,
        r#"[1,2]"#,
    ];
    for text in texts {
        let value: Json = serde_json::from_str(text).unwrap();
        let node: Node = parse_node(text).unwrap();
        assert_eq!(
            read::<Questionnaire>(JsonRef::Node(&node), "Questionnaire"),
            read::<Questionnaire>(JsonRef::Value(&value), "Questionnaire"),
            "{text}"
        );
    }
}
