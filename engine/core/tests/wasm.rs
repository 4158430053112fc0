//! The engine's wasm build, in a real browser (`wasm-bindgen-test` in headless Chromium):
//! a shipped visit type end to end, the regex extension (the same engine as the CLI's, linear
//! time), and the rule sandbox.
//! Run: `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p intake-engine --target wasm32-unknown-unknown --test wasm`
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use intake_engine::answers_file;
use intake_engine::context::VisitContext;
use intake_engine::fhir::{DateTime, Value};
use intake_engine::rules::RuleSource;
use intake_engine::visit_type::VisitTypeSource;
use intake_engine::{extract, Chart, Form, Session, VisitType};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn htn() -> Rc<VisitType> {
    let src = VisitTypeSource {
        manifest_file: "manifest.json".into(),
        manifest_text: include_str!("../../../visit-types/hypertension-follow-up/manifest.json").into(),
        questionnaire_file: "questionnaire.json".into(),
        questionnaire_text: include_str!("../../../visit-types/hypertension-follow-up/questionnaire.json").into(),
        rules: vec![
            RuleSource { name: "rules/hypertension.rhai".into(), text: include_str!("../../../rules/hypertension.rhai").into() },
            RuleSource {
                name: "rules/medication-adherence.rhai".into(),
                text: include_str!("../../../rules/medication-adherence.rhai").into(),
            },
            RuleSource { name: "rules/allergy-safety.rhai".into(), text: include_str!("../../../rules/allergy-safety.rhai").into() },
        ],
        value_sets: Default::default(),
    };
    Rc::new(VisitType::load(&src).expect("shipped visit type loads in wasm"))
}

fn now() -> DateTime {
    DateTime::parse("2026-11-20T09:00:00-05:00").unwrap()
}

#[wasm_bindgen_test]
fn a_scenario_runs_end_to_end_in_the_browser() {
    let chart = Rc::new(Chart::from_text(include_str!("../../../web/demo/charts/maria-hernandez.json")).unwrap());
    let mut s = Session::new(htn(), chart, VisitContext::default(), now(), "wasm-test").unwrap();
    let scenario: serde_json::Value = serde_json::from_str(include_str!(
        "../../../visit-types/hypertension-follow-up/scenarios/maria-stopped-lisinopril-cough.json"
    ))
    .unwrap();
    answers_file::apply(&mut s, &scenario["answers"]).expect("answers apply");
    let wb = extract::bundle(&s).expect("submit");
    let text = wb.to_json_string();
    let b: serde_json::Value = serde_json::from_str(&text).unwrap();
    let types: Vec<&str> = b["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "MedicationStatement").count(), 2, "{types:?}");
    assert!(text.contains("it gave me a dry cough"));
    // Same session, same Bundle: idempotent in the browser too.
    assert_eq!(extract::bundle(&s).unwrap().to_json_string(), text);
}

#[wasm_bindgen_test]
fn sdc_regex_matches_whole_answers_and_never_freezes_the_page() {
    let q = serde_json::json!({"resourceType": "Questionnaire", "status": "active", "item": [
        {"linkId": "zip", "type": "string", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "[0-9]{5}(-[0-9]{4})?"}]},
        {"linkId": "bad", "type": "string", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "([0-9"}]},
        {"linkId": "evil", "type": "string", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "(a+)+$"}]}
    ]});
    let vt = Rc::new(VisitType::from_form(Form::from_json(&q).unwrap(), &[]).unwrap());
    let chart = Rc::new(Chart::from_text(r#"{"resourceType":"Patient","id":"p"}"#).unwrap());
    let mut s = Session::new(vt, chart, VisitContext::default(), now(), "wasm-regex").unwrap();
    let errors = |s: &Session, l: &str| s.node(s.node_of_link_id(l).unwrap()).unwrap().state.errors.iter().map(|e| e.code()).collect::<Vec<_>>();
    s.answer_link_id("zip", vec![Value::String("02144".into())]).unwrap();
    assert!(errors(&s, "zip").is_empty());
    s.answer_link_id("zip", vec![Value::String("02144-12".into())]).unwrap();
    assert_eq!(errors(&s, "zip"), ["pattern"], "the whole answer must match");
    s.answer_link_id("bad", vec![Value::String("x".into())]).unwrap();
    assert!(errors(&s, "bad").is_empty(), "an invalid form pattern is a load warning and never blocks the patient");
    // A backtracking RegExp took 19.7 s on 29 characters of this; here it is linear.
    s.answer_link_id("evil", vec![Value::String(format!("{}!", "a".repeat(2_000)))]).unwrap();
    assert_eq!(errors(&s, "evil"), ["pattern"]);
}

#[wasm_bindgen_test]
fn a_hostile_rule_stops_and_the_session_survives_in_wasm() {
    let q = serde_json::json!({"resourceType": "Questionnaire", "status": "active", "item": [
        {"linkId": "t", "type": "boolean"}, {"linkId": "g", "type": "string"}
    ]});
    let rules = [RuleSource {
        name: "rules/loop.rhai".into(),
        text: "if answer(\"t\") == true { let s = \"x\"; loop { s += s; } }\nif false { ask(\"g\", \"never\"); }".into(),
    }];
    let vt = Rc::new(VisitType::from_form(Form::from_json(&q).unwrap(), &rules).unwrap());
    let chart = Rc::new(Chart::from_text(r#"{"resourceType":"Patient","id":"p"}"#).unwrap());
    let mut s = Session::new(vt, chart, VisitContext::default(), now(), "wasm-rule").unwrap();
    s.answer_link_id("t", vec![Value::Boolean(true)]).unwrap();
    let errs: Vec<String> = s.rule_errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("rules/loop.rhai:1:"), "{errs:?}");
    assert!(s.node(s.node_of_link_id("g").unwrap()).unwrap().state.enabled, "fail open");
    s.answer_link_id("t", vec![Value::Boolean(false)]).unwrap();
    assert!(s.rule_errors().is_empty());
}

/// In wasm the case mapping is the browser's (`intake_text`): it must agree with the standard
/// library's, which the CLI uses, on text beyond ASCII (accents, `ß`, a final sigma, Cyrillic,
/// Turkish dotted I, Armenian), so a rule or an expression reads the same in both.
#[wasm_bindgen_test]
fn case_mapping_in_the_browser_is_the_standard_librarys() {
    for s in ["Erupción CUTÁNEA", "straße", "ΟΔΟΣ ΚΑΙ ΣΟΦΙΑ", "Сыпь на КОЖЕ", "İstanbul ıI", "ԱՐԵՎ", "ǅemal", "ﬁle", "HomeBP"] {
        assert_eq!(intake_text::lower(s), s.to_lowercase(), "lower({s:?})");
        assert_eq!(intake_text::upper(s), s.to_uppercase(), "upper({s:?})");
    }
    // FHIRPath's upper() and lower(), and string equivalence (`~`, case-insensitive), use it.
    let r = serde_json::json!({"resourceType": "Patient", "name": [{"family": "Muñoz"}]});
    let eval = |e: &str| intake_fhirpath::Expr::parse(e).unwrap().evaluate_json(&r, &intake_fhirpath::Env::default()).unwrap()[0].to_json();
    assert_eq!(eval("name.family.upper()"), serde_json::json!("MUÑOZ"));
    assert_eq!(eval("name.family.lower()"), serde_json::json!("muñoz"));
    assert_eq!(eval("name.family ~ 'MUÑOZ'"), serde_json::json!(true));
}

/// In wasm a decimal the exact fast path cannot compute is the browser's `parseFloat`
/// (`intake_text::parse_f64`): every string of the corpus reads to the same bits as the
/// standard library's parse (which the CLI uses), or is refused by both.
#[wasm_bindgen_test]
fn decimals_in_the_browser_parse_as_the_standard_librarys() {
    for s in intake_text::parse_test_corpus() {
        let std = s.parse::<f64>().ok();
        assert!(intake_text::same_parse(intake_text::parse_f64(&s), std), "{s:?}: {:?} != {std:?}", intake_text::parse_f64(&s));
    }
    // A patient's typed answer goes through it.
    let q = serde_json::json!({"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "t", "type": "decimal"}]});
    let form = Form::from_json(&q).unwrap();
    assert_eq!(intake_engine::answer::parse_text(&form.items[0], "37,5").ok(), Some(Value::Decimal(37.5)));
    assert!(intake_engine::answer::parse_text(&form.items[0], "37.5.1").is_err());
}
