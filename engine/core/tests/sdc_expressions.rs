//! SDC expressions driving the form: `variable`, `enableWhenExpression`, `calculatedExpression`
//! (issue 8), on a real form from the corpus (LHC-Forms' PHQ-9) and on small inline forms.
mod support;

use std::path::PathBuf;
use std::rc::Rc;

use intake_engine::fhir::{Coding, Value, WriteJson};
use intake_engine::questionnaire::ItemId;
use intake_engine::session::{Hidden, NodeId};
use intake_engine::{Form, Session, VisitType};
use serde_json::json;
use support::*;

fn corpus(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/questionnaires").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn answers(s: &Session, link_id: &str) -> Vec<Value> {
    let item = s.form().find(link_id).unwrap();
    s.nodes_of(item).iter().flat_map(|n| s.node(*n).unwrap().answers.clone()).collect()
}

/// The node of `item` in the row `row` of a repeating group.
fn child(s: &Session, row: NodeId, item: ItemId) -> NodeId {
    *s.node(row).unwrap().children.iter().find(|c| s.node(**c).unwrap().item == item).unwrap()
}

fn loinc_answer(code: &str) -> Vec<Value> {
    vec![Value::Coding(Coding { system: Some("http://loinc.org".into()), code: Some(code.into()), ..Default::default() })]
}

#[test]
fn phq9_total_score_follows_every_answer() {
    let form = Form::from_text(&corpus("lforms/R4/phq9.json")).unwrap();
    assert!(form.expressions.drives_the_form());
    let vt = Rc::new(VisitType::from_form(form, &[]).unwrap());
    let mut s = session(&vt);
    assert_eq!(answers(&s, "/44261-6"), vec![], "no answer yet: the total is empty (any_questions_answered is false)");
    // Scores 0..3 by code; nine answers, the total after each.
    let codes = [("LA6568-5", 0), ("LA6569-3", 1), ("LA6570-1", 2), ("LA6571-9", 3)];
    let questions = ["/44250-9", "/44255-8", "/44259-0", "/44254-1", "/44251-7", "/44258-2", "/44252-5", "/44253-3", "/44260-8"];
    let mut total = 0;
    for (k, q) in questions.iter().enumerate() {
        let (code, score) = codes[(k * 7 + 1) % 4];
        s.answer_link_id(q, loinc_answer(code)).unwrap();
        total += score;
        assert_eq!(answers(&s, "/44261-6"), vec![Value::Decimal(total as f64)], "after {q}");
    }
    // Changing an answer updates it; clearing every answer empties it again.
    s.answer_link_id(questions[0], loinc_answer("LA6571-9")).unwrap();
    let first = codes[1].1;
    assert_eq!(answers(&s, "/44261-6"), vec![Value::Decimal((total - first + 3) as f64)]);
    for q in questions {
        s.answer_link_id(q, vec![]).unwrap();
    }
    assert_eq!(answers(&s, "/44261-6"), vec![]);
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

fn ext(url: &str, name: Option<&str>, expression: &str) -> serde_json::Value {
    let mut x = json!({"language": "text/fhirpath", "expression": expression});
    if let Some(n) = name {
        x["name"] = json!(n);
    }
    json!({"url": url, "valueExpression": x})
}

const EWE: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression";
const CALC: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";
const VAR: &str = "http://hl7.org/fhir/StructureDefinition/variable";

fn bmi_form() -> serde_json::Value {
    let mut q = questionnaire(json!([
        {"linkId": "height", "type": "decimal", "text": "Height (m)"},
        {"linkId": "weight", "type": "decimal", "text": "Weight (kg)"},
        {"linkId": "bmi", "type": "decimal", "text": "BMI", "readOnly": true, "extension": [
            ext(CALC, None, "(%w / (%h * %h)).round(1)")]},
        {"linkId": "obesity-advice", "type": "display", "text": "Let's talk about weight.", "extension": [
            ext(EWE, None, "%resource.item.where(linkId = 'bmi').answer.value > 30")]},
        {"linkId": "age-note", "type": "display", "text": "Over 50", "extension": [
            ext(EWE, None, "%patient.birthDate < @1976-11-20")]},
    ]));
    q["extension"] = json!([
        ext(VAR, Some("h"), "%resource.item.where(linkId = 'height').answer.value"),
        ext(VAR, Some("w"), "%resource.item.where(linkId = 'weight').answer.value"),
    ]);
    q
}

#[test]
fn calculated_values_feed_enable_when_expressions_and_patient_context() {
    let vt = visit_type(bmi_form(), &[]);
    let mut s = session(&vt);
    assert!(!shown(&s, "obesity-advice"));
    assert!(shown(&s, "age-note"), "%patient (born 1970) is over 50");
    s.answer_link_id("height", vec![Value::Decimal(1.70)]).unwrap();
    s.answer_link_id("weight", vec![Value::Decimal(95.0)]).unwrap();
    assert_eq!(answers(&s, "bmi"), vec![Value::Decimal(32.9)]);
    assert!(shown(&s, "obesity-advice"), "the calculated BMI enables the advice in the same change");
    s.answer_link_id("weight", vec![Value::Decimal(70.0)]).unwrap();
    assert_eq!(answers(&s, "bmi"), vec![Value::Decimal(24.2)]);
    assert!(!shown(&s, "obesity-advice"));
    let item = s.form().find("obesity-advice").unwrap();
    let node = s.nodes_of(item)[0];
    assert_eq!(s.node(node).unwrap().state.hidden, Some(Hidden::Expression));
    // The calculated value is in the response the host receives.
    let qr = intake_engine::response::build(&s, intake_engine::response::Status::InProgress).to_json_string();
    assert!(qr.contains(r#""linkId":"bmi""#) && qr.contains("24.2"), "{qr}");
}

#[test]
fn an_editable_calculation_keeps_what_the_patient_typed() {
    let q = questionnaire(json!([
        {"linkId": "a", "type": "integer", "text": "A"},
        {"linkId": "double", "type": "integer", "text": "Twice A (you may correct it)", "extension": [
            ext(CALC, None, "%resource.item.where(linkId = 'a').answer.value * 2")]},
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    s.answer_link_id("a", vec![Value::Integer(4)]).unwrap();
    assert_eq!(answers(&s, "double"), vec![Value::Integer(8)]);
    s.answer_link_id("double", vec![Value::Integer(9)]).unwrap();
    s.answer_link_id("a", vec![Value::Integer(5)]).unwrap();
    assert_eq!(answers(&s, "double"), vec![Value::Integer(9)], "the patient's correction stands");
}

#[test]
fn a_failing_expression_hides_or_empties_its_item_and_is_reported_with_its_path() {
    let q = questionnaire(json!([
        {"linkId": "a", "type": "integer", "text": "A", "repeats": true},
        {"linkId": "b", "type": "display", "text": "B", "extension": [ext(EWE, None, "%nowhere.exists()")]},
        {"linkId": "c", "type": "integer", "text": "C", "readOnly": true, "extension": [
            ext(CALC, None, "%resource.item.where(linkId = 'a').answer.value.single()")]},
        {"linkId": "d", "type": "display", "text": "D", "extension": [ext(EWE, None, "item.where(")]},
    ]));
    let vt = visit_type(q, &[]);
    assert!(vt.warnings.iter().any(|w| w.message.contains("not valid FHIRPath")), "{:?}", vt.warnings);
    let mut s = session(&vt);
    assert!(!shown(&s, "b"));
    assert!(shown(&s, "d"), "an expression that does not parse is not evaluated (the load warning says so)");
    s.answer_link_id("a", vec![Value::Integer(1)]).unwrap();
    assert_eq!(answers(&s, "c"), vec![Value::Integer(1)]);
    // Two answers where the calculation wants one: it fails, the item is emptied, and says why.
    s.answer_link_id("a", vec![Value::Integer(1), Value::Integer(2)]).unwrap();
    assert_eq!(answers(&s, "c"), vec![]);
    let errors = s.expression_errors();
    assert!(errors.iter().any(|(path, m)| path == "Questionnaire.item[1].extension[0].valueExpression" && m.contains("nowhere")), "{errors:?}");
    assert!(errors.iter().any(|(path, m)| path == "Questionnaire.item[2].extension[0].valueExpression" && m.contains("left empty")), "{errors:?}");
    assert!(!s.unsettled());
}

#[test]
fn calculations_that_feed_each_other_forever_stop_and_say_so() {
    let q = questionnaire(json!([
        {"linkId": "x", "type": "integer", "text": "X", "readOnly": true, "extension": [
            ext(CALC, None, "%resource.item.where(linkId = 'y').answer.value + 1 | 0")]},
        {"linkId": "y", "type": "integer", "text": "Y", "readOnly": true, "extension": [
            ext(CALC, None, "%resource.item.where(linkId = 'x').answer.value + 1 | 0")]},
    ]));
    let vt = visit_type(q, &[]);
    let s = session(&vt);
    assert!(s.unsettled(), "the session says it did not settle instead of looping");
}

#[test]
fn mbs715_age_sections_follow_the_age_given_in_the_form() {
    let form = Form::from_text(&corpus(
        "smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json",
    ))
    .unwrap();
    // The form's %age is an item variable on its first tab container, read from the age
    // question *relative to that item* (its response item is the expression's context).
    let age_item = "e2a16e4d-2765-4b61-b286-82cfc6356b30";
    let checks: Vec<(intake_engine::questionnaire::ItemId, String, i64)> = form
        .items
        .iter()
        .filter_map(|d| {
            let (expr, _) = form.expressions.item(d.id).enable_when.as_ref()?;
            let mut parts = expr.text().split_whitespace();
            let (Some("%age"), Some(op), Some(n), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return None };
            Some((d.id, op.to_owned(), n.parse().ok()?))
        })
        .collect();
    assert!(checks.len() > 100, "the form's age conditions: {}", checks.len());
    let vt = Rc::new(VisitType::from_form(form, &[]).unwrap());
    let mut s = session(&vt);
    for age in [3i64, 30, 60] {
        s.answer_link_id(age_item, vec![Value::Integer(age)]).unwrap();
        for (item, op, n) in &checks {
            let want = match op.as_str() {
                "<=" => age <= *n,
                "<" => age < *n,
                ">" => age > *n,
                ">=" => age >= *n,
                _ => continue,
            };
            assert_eq!(s.expression_verdict(*item), Some(want), "age {age}: {} {op} {n} on {}", "%age", s.form().item(*item).link_id);
        }
    }
    // The form declares %user and %encounter, which this test's host does not give: said, and
    // nothing else.
    let errors: Vec<_> = s.expression_errors().iter().filter(|(_, m)| !m.contains("was not given (context.launchContext.")).collect();
    assert!(errors.is_empty(), "{:?}", &errors[..errors.len().min(5)]);
}

#[test]
fn phq9_scored_with_the_sdc_weight_function() {
    let form = Form::from_text(&corpus("lforms/R4/calc-weight/phq9-with-the-weight-function.json")).unwrap();
    let vt = Rc::new(VisitType::from_form(form, &[]).unwrap());
    let mut s = session(&vt);
    s.answer_link_id("/44250-9", loinc_answer("LA6571-9")).unwrap();
    s.answer_link_id("/44255-8", loinc_answer("LA6569-3")).unwrap();
    assert_eq!(answers(&s, "/44261-6"), vec![Value::Decimal(4.0)], "3 + 1, by each option's ordinalValue");
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

const INITIAL: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";

#[test]
fn initial_expressions_start_empty_items_from_the_chart_once() {
    let q = questionnaire(json!([
        {"linkId": "name", "type": "string", "text": "Name", "extension": [
            ext(INITIAL, None, "%patient.name.where(use = 'official').select(given.first() & ' ' & family)")]},
        {"linkId": "dob", "type": "date", "text": "Date of birth", "extension": [ext(INITIAL, None, "%patient.birthDate")]},
        {"linkId": "age", "type": "integer", "text": "Age", "extension": [
            ext(INITIAL, None, "today().toString().substring(0,4).toInteger() - %patient.birthDate.toString().substring(0,4).toInteger()")]},
        {"linkId": "wrong", "type": "integer", "text": "Not a number", "extension": [ext(INITIAL, None, "%patient.gender")]},
        {"linkId": "nothing", "type": "string", "text": "Encounter", "extension": [ext(INITIAL, None, "%encounter.id")]},
    ]));
    let f = Form::from_json(&q).unwrap();
    assert!(
        f.warnings.iter().any(|w| w.message.contains("%encounter is not defined") && w.path == "Questionnaire.item[4].extension[0].valueExpression.expression"),
        "a name nothing defines is a located warning: {:?}",
        f.warnings
    );
    let vt = visit_type(q, &[]);
    assert!(!vt.warnings.iter().any(|w| w.message.contains("initialExpression is not supported")), "{:?}", vt.warnings);
    let mut s = Session::new(vt.clone(), chart_of("2019-05-01", "male"), Default::default(), now(), "s1").unwrap();
    assert_eq!(answers(&s, "name"), vec![Value::String("Pat Test".into())]);
    assert_eq!(answers(&s, "dob"), vec![Value::Date(intake_engine::fhir::Date::parse("2019-05-01").unwrap())]);
    assert_eq!(answers(&s, "age"), vec![Value::Integer(7)]);
    assert_eq!(answers(&s, "wrong"), vec![], "a value that does not fit the item is left out");
    assert!(s.expression_errors().iter().any(|(p, m)| p == "Questionnaire.item[3].extension[0].valueExpression" && m.contains("do not fit")), "{:?}", s.expression_errors());
    // Prefilled: unchanged, it is not a change to write back; and it never runs again.
    let age = s.form().find("age").unwrap();
    let node = s.nodes_of(age)[0];
    assert!(s.node(node).unwrap().prefilled.is_some());
    s.answer_link_id("age", vec![]).unwrap();
    s.answer_link_id("name", vec![Value::String("Patricia Test".into())]).unwrap();
    assert_eq!(answers(&s, "age"), vec![], "a cleared initial value stays cleared");
    assert_eq!(answers(&s, "name"), vec![Value::String("Patricia Test".into())]);
}

#[test]
fn mbs715_starts_from_the_age_on_the_chart() {
    let form = Form::from_text(&corpus(
        "smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json",
    ))
    .unwrap();
    let vt = Rc::new(VisitType::from_form(form, &[]).unwrap());
    assert!(
        !vt.warnings.iter().any(|w| w.message.contains("initialExpression is not supported") || w.message.contains("launchContext is not supported")),
        "{:?}",
        vt.warnings.iter().map(|w| &w.message).collect::<Vec<_>>()
    );
    let age_item = "e2a16e4d-2765-4b61-b286-82cfc6356b30";
    for (birth, age) in [("2023-02-01", 3i64), ("1996-07-01", 30), ("1966-03-01", 60)] {
        let s = Session::new(vt.clone(), chart_of(birth, "female"), Default::default(), now(), "s1").unwrap();
        assert_eq!(answers(&s, age_item), vec![Value::Integer(age)], "the age item starts from the chart's birth date");
        // The sections follow: an item shown only for ages 12 and under.
        let child_only = s
            .form()
            .items
            .iter()
            .find(|d| s.form().expressions.item(d.id).enable_when.as_ref().is_some_and(|(e, _)| e.text() == "%age <= 12"))
            .unwrap()
            .id;
        assert_eq!(s.expression_verdict(child_only), Some(age <= 12), "born {birth}");
    }
}

#[test]
fn each_row_of_a_repeating_group_is_its_own_context() {
    let q = questionnaire(json!([
        {"linkId": "med", "type": "group", "text": "Medicine", "repeats": true,
         "extension": [ext(VAR, Some("dose"), "item.where(linkId = 'dose').answer.value")],
         "item": [
            {"linkId": "dose", "type": "integer", "text": "Tablets a day"},
            {"linkId": "double", "type": "integer", "text": "Twice that", "readOnly": true, "extension": [ext(CALC, None, "%dose * 2")]},
            {"linkId": "many", "type": "display", "text": "That is a lot", "extension": [ext(EWE, None, "%dose > 10")]}
         ]}
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let form = s.form().clone();
    let (med, dose, double, many) = (form.find("med").unwrap(), form.find("dose").unwrap(), form.find("double").unwrap(), form.find("many").unwrap());
    let (row2, _) = s.add_row(None, med).unwrap();
    let row1 = s.nodes_of(med)[0];
    // Only the second row answered first: the first row's calculation stays empty.
    s.answer(child(&s, row2, dose), vec![Value::Integer(12)]).unwrap();
    assert_eq!(s.node(child(&s, row2, double)).unwrap().answers, vec![Value::Integer(24)]);
    assert_eq!(s.node(child(&s, row1, double)).unwrap().answers, vec![]);
    s.answer(child(&s, row1, dose), vec![Value::Integer(3)]).unwrap();
    assert_eq!(s.node(child(&s, row1, double)).unwrap().answers, vec![Value::Integer(6)]);
    assert_eq!(s.node(child(&s, row2, double)).unwrap().answers, vec![Value::Integer(24)]);
    assert_eq!(s.node_expression_verdict(child(&s, row1, many)), Some(false));
    assert_eq!(s.node_expression_verdict(child(&s, row2, many)), Some(true));
    assert!(!s.node(child(&s, row1, many)).unwrap().state.enabled);
    assert!(s.node(child(&s, row2, many)).unwrap().state.enabled);
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
    let _ = many;
}

/// An item's `%context` is its own response item, never its group's: the engine evaluates the
/// expressions of an item that names neither `%context` nor `%qitem` in its group's scope (no
/// scope of its own), so an item that does name one must get its own. Display items are not in
/// the response: this one's `%context` is empty, while its row's is the row.
#[test]
fn an_items_context_is_its_own_response_item_not_its_groups() {
    let q = questionnaire(json!([
        {"linkId": "med", "type": "group", "text": "Medicine", "repeats": true,
         "extension": [ext(VAR, Some("dose"), "item.where(linkId = 'dose').answer.value")],
         "item": [
            {"linkId": "dose", "type": "integer", "text": "Tablets a day", "initial": [{"valueInteger": 12}]},
            {"linkId": "mine", "type": "display", "text": "Shown if my context were the row", "extension": [ext(EWE, None, "%context.linkId = 'med'")]},
            {"linkId": "many", "type": "display", "text": "That is a lot", "extension": [ext(EWE, None, "%dose > 10")]}
         ]}
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let form = s.form().clone();
    let (med, dose, mine, many) = (form.find("med").unwrap(), form.find("dose").unwrap(), form.find("mine").unwrap(), form.find("many").unwrap());
    let row = s.nodes_of(med)[0];
    // The row is in the response from the start (its dose is given), so the row's `%context`
    // is not empty in the first pass.
    assert_eq!(s.node_expression_verdict(child(&s, row, mine)), Some(false));
    s.answer(child(&s, row, dose), vec![Value::Integer(14)]).unwrap();
    assert_eq!(s.node_expression_verdict(child(&s, row, mine)), Some(false));
    assert!(!s.node(child(&s, row, mine)).unwrap().state.enabled);
    // The item beside it, which names only the row's variable, sees the row's scope.
    assert_eq!(s.node_expression_verdict(child(&s, row, many)), Some(true));
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

#[test]
fn qitem_is_the_items_definition_and_resolve_finds_the_chart_patient() {
    let q = questionnaire(json!([
        {"linkId": "g", "type": "group", "text": "Group", "item": [
            {"linkId": "t", "type": "string", "text": "Tell us", "readOnly": true, "extension": [ext(CALC, None, "%qitem.text & ' (' & %qitem.linkId & ')'")]},
            {"linkId": "sex", "type": "string", "text": "Sex on the record", "extension": [ext(INITIAL, None, "%resource.subject.resolve().gender")]}
        ]}
    ]));
    let vt = visit_type(q, &[]);
    let s = Session::new(vt, chart_of("1980-01-01", "female"), Default::default(), now(), "s1").unwrap();
    assert_eq!(answers(&s, "t"), vec![Value::String("Tell us (t)".into())]);
    assert_eq!(answers(&s, "sex"), vec![Value::String("female".into())]);
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

const ANSWER_EXPR: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression";
const TOGGLE: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerOptionsToggleExpression";

#[test]
fn options_and_text_computed_by_expressions_follow_the_answers() {
    let coding = |code: &str, display: &str| json!({"system": "http://example.org/fruit", "code": code, "display": display});
    let q = questionnaire(json!([
        {"linkId": "likes", "type": "string", "text": "Fruit you like", "repeats": true},
        {"linkId": "best", "type": "choice", "text": "Which is best?", "extension": [
            ext(ANSWER_EXPR, None, "%resource.item.where(linkId = 'likes').answer.value")]},
        {"linkId": "pregnant", "type": "boolean", "text": "Pregnant?"},
        {"linkId": "plan", "type": "choice", "text": "Plan",
         "_text": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/cqf-expression", "valueExpression": {"language": "text/fhirpath",
            "expression": "iif(%resource.item.where(linkId = 'pregnant').answer.value, 'Plan (pregnancy-safe options only)', 'Plan')"}}]},
         "answerOption": [{"valueCoding": coding("a", "Apple")}, {"valueCoding": coding("w", "Wine")}],
         "extension": [{"url": TOGGLE, "extension": [
            {"url": "option", "valueCoding": coding("w", "Wine")},
            {"url": "expression", "valueExpression": {"language": "text/fhirpath", "expression": "%resource.item.where(linkId = 'pregnant').answer.value.where($this = true).empty()"}}]}]}
    ]));
    let f = Form::from_json(&q).unwrap();
    assert!(f.features.unsupported().is_empty(), "{:?}", f.features.unsupported());
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let node = |s: &Session, l: &str| s.nodes_of(s.form().find(l).unwrap())[0];
    assert!(s.choices(node(&s, "best")).is_empty(), "nothing liked yet: nothing to choose");
    s.answer_link_id("likes", vec![Value::String("mango".into()), Value::String("kiwi".into())]).unwrap();
    let labels: Vec<String> = s.choices(node(&s, "best")).iter().map(|c| c.label.clone()).collect();
    assert_eq!(labels, ["mango", "kiwi"]);
    s.answer_link_id("best", vec![Value::String("kiwi".into())]).unwrap();
    assert!(s.answer_link_id("best", vec![Value::String("durian".into())]).is_err(), "not among the computed options");
    // The toggle and the text (an empty verdict would turn the option off: the spec offers
    // toggled options only while their expression is true).
    assert_eq!(s.computed_text(node(&s, "plan")), Some("Plan"));
    assert!(s.disabled_options(node(&s, "plan")).is_empty());
    let wine = Value::Coding(Coding { system: Some("http://example.org/fruit".into()), code: Some("w".into()), ..Default::default() });
    s.answer_link_id("plan", vec![wine.clone()]).unwrap();
    s.answer_link_id("pregnant", vec![Value::Boolean(true)]).unwrap();
    assert_eq!(s.computed_text(node(&s, "plan")), Some("Plan (pregnancy-safe options only)"));
    assert_eq!(s.disabled_options(node(&s, "plan")).len(), 1);
    assert!(s.answer_link_id("plan", vec![wine]).is_err(), "a toggled-off option is not accepted");
    assert_eq!(answers(&s, "plan").len(), 1, "the answer given before is kept, not dropped silently");
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

/// Variables are evaluated again only when something they read changed: check that every way
/// of reading the response still sees each change (an item appearing, a nested answer, a
/// whole-subtree walk, a variable read by another).
#[test]
fn remembered_variables_see_every_change_they_read() {
    let q = json!({"resourceType": "Questionnaire", "id": "t", "status": "active", "url": "http://example.org/Questionnaire/t",
        "extension": [
            ext(VAR, Some("a"), "%resource.item.where(linkId = 'a').answer.value"),
            ext(VAR, Some("deep"), "%resource.item.where(linkId = 'g').item.where(linkId = 'b').answer.value"),
            ext(VAR, Some("count"), "%resource.descendants().where((linkId in ('a' | 'b' | 'c')) and answer.exists()).count()"),
            ext(VAR, Some("sum"), "(%a | 0).first() + (%deep | 0).first()")
        ],
        "item": [
            {"linkId": "a", "type": "integer", "text": "A"},
            {"linkId": "g", "type": "group", "text": "G", "item": [{"linkId": "b", "type": "integer", "text": "B"}]},
            {"linkId": "c", "type": "integer", "text": "C"},
            {"linkId": "sum", "type": "integer", "text": "Sum", "readOnly": true, "extension": [ext(CALC, None, "%sum")]},
            {"linkId": "count", "type": "integer", "text": "Answered", "readOnly": true, "extension": [ext(CALC, None, "%count")]}
        ]});
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let state = |s: &Session| (answers(s, "sum"), answers(s, "count"));
    assert_eq!(state(&s), (vec![Value::Integer(0)], vec![Value::Integer(0)]));
    s.answer_link_id("a", vec![Value::Integer(2)]).unwrap();
    assert_eq!(state(&s), (vec![Value::Integer(2)], vec![Value::Integer(1)]), "'a' came into the response");
    s.answer_link_id("b", vec![Value::Integer(5)]).unwrap();
    assert_eq!(state(&s), (vec![Value::Integer(7)], vec![Value::Integer(2)]), "a nested answer");
    s.answer_link_id("b", vec![Value::Integer(6)]).unwrap();
    assert_eq!(state(&s), (vec![Value::Integer(8)], vec![Value::Integer(2)]), "a nested answer changed");
    s.answer_link_id("c", vec![Value::Integer(1)]).unwrap();
    assert_eq!(state(&s), (vec![Value::Integer(8)], vec![Value::Integer(3)]), "only the subtree walk sees 'c'");
    s.answer_link_id("a", vec![]).unwrap();
    assert_eq!(state(&s), (vec![Value::Integer(6)], vec![Value::Integer(2)]), "'a' left the response");
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

#[test]
fn launch_contexts_the_host_gives_are_bound_and_a_missing_one_is_said() {
    let mut q = questionnaire(json!([
        {"linkId": "where", "type": "string", "text": "Where are you seen?", "extension": [ext(INITIAL, None, "%encounter.location.first().location.display")]},
        {"linkId": "by", "type": "string", "text": "Who asks?", "extension": [ext(INITIAL, None, "%user.name.first().family")]}
    ]));
    let launch = |name: &str, ty: &str| json!({"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext", "extension": [
        {"url": "name", "valueCoding": {"system": "http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext", "code": name}},
        {"url": "type", "valueCode": ty}]});
    q["extension"] = json!([launch("patient", "Patient"), launch("encounter", "Encounter"), launch("user", "Practitioner")]);
    let f = Form::from_json(&q).unwrap();
    assert!(f.warnings.iter().any(|w| w.message.contains("%encounter comes only from the host")), "{:?}", f.warnings);
    assert!(!f.warnings.iter().any(|w| w.message.contains("is not defined")), "declared launch contexts are known names: {:?}", f.warnings);
    let vt = visit_type(q, &[]);
    let context = intake_engine::context::VisitContext::from_json(&json!({"launchContext": {
        "encounter": {"resourceType": "Encounter", "id": "e1", "status": "planned", "location": [{"location": {"display": "Clinic 3"}}]}}}))
    .unwrap();
    let s = Session::new(vt.clone(), chart(), context, now(), "s1").unwrap();
    assert_eq!(answers(&s, "where"), vec![Value::String("Clinic 3".into())]);
    assert_eq!(answers(&s, "by"), vec![]);
    assert!(
        s.expression_errors().iter().any(|(p, m)| p == "Questionnaire.extension[2]" && m.contains("%user was not given")),
        "{:?}",
        s.expression_errors()
    );
    let bad = intake_engine::context::VisitContext::from_json(&json!({"launchContext": {"patient": {"resourceType": "Patient"}}}));
    assert!(bad.unwrap_err().to_string().contains("chart"));
}

/// A pass is skipped only when nothing any expression read has changed: a calculation that
/// another expression reads still flows through in a second pass.
#[test]
fn a_calculation_read_by_another_expression_still_flows_through() {
    let q = questionnaire(json!([
        {"linkId": "a", "type": "integer", "text": "A"},
        {"linkId": "x", "type": "integer", "text": "Twice A", "readOnly": true, "extension": [ext(CALC, None, "%resource.item.where(linkId = 'a').answer.value * 2")]},
        {"linkId": "big", "type": "display", "text": "Big", "extension": [ext(EWE, None, "%resource.item.where(linkId = 'x').answer.value > 10")]},
        {"linkId": "unread", "type": "integer", "text": "Nothing reads this"}
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    assert!(!shown(&s, "big"));
    s.answer_link_id("a", vec![Value::Integer(6)]).unwrap();
    assert_eq!(answers(&s, "x"), vec![Value::Integer(12)]);
    assert!(shown(&s, "big"), "the second pass saw the calculated value");
    s.answer_link_id("unread", vec![Value::Integer(1)]).unwrap();
    assert!(shown(&s, "big"), "a skipped pass changes nothing");
    s.answer_link_id("a", vec![Value::Integer(2)]).unwrap();
    assert!(!shown(&s, "big"));
}

/// Each item's expressions keep their last result and are evaluated again only when something
/// they read changed (an answer, an item coming or going, a variable they name): check that
/// each kind of read still sees its change, and that a remembered failure is still reported.
#[test]
fn remembered_expression_results_see_every_change_they_read() {
    let q = questionnaire(json!([
        {"linkId": "a", "type": "integer", "text": "A"},
        {"linkId": "g", "type": "group", "text": "G", "item": [{"linkId": "b", "type": "integer", "text": "B"}]},
        {"linkId": "c", "type": "integer", "text": "C"},
        {"linkId": "x", "type": "display", "text": "B is over 3", "extension": [
            ext(EWE, None, "%resource.repeat(item).where(linkId = 'b').answer.value > 3")]},
        {"linkId": "y", "type": "display", "text": "A is 1", "extension": [
            ext(VAR, Some("v"), "%resource.item.where(linkId = 'a').answer.value"),
            ext(EWE, None, "%v = 1")]},
        {"linkId": "z", "type": "integer", "text": "C plus one", "readOnly": true, "extension": [
            ext(CALC, None, "%resource.repeat(item).where(linkId = 'c').answer.value + 1")]},
        {"linkId": "e", "type": "display", "text": "Never", "extension": [ext(EWE, None, "%nowhere.exists()")]},
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let state = |s: &Session| (shown(s, "x"), shown(s, "y"), answers(s, "z"));
    let failing = |s: &Session| s.expression_errors().iter().filter(|(_, m)| m.contains("nowhere")).count();
    assert_eq!(state(&s), (false, false, vec![]));
    assert_eq!(failing(&s), 1);
    s.answer_link_id("b", vec![Value::Integer(5)]).unwrap();
    assert_eq!(state(&s), (true, false, vec![]), "'b' came into the response, inside its group");
    s.answer_link_id("b", vec![Value::Integer(2)]).unwrap();
    assert_eq!(state(&s), (false, false, vec![]), "'b' changed");
    s.answer_link_id("a", vec![Value::Integer(1)]).unwrap();
    assert_eq!(state(&s), (false, true, vec![]), "the item's variable changed");
    s.answer_link_id("c", vec![Value::Integer(4)]).unwrap();
    assert_eq!(state(&s), (false, true, vec![Value::Integer(5)]), "'c' came into the response");
    assert_eq!(failing(&s), 1, "a remembered failure is still reported, once");
    s.answer_link_id("a", vec![Value::Integer(2)]).unwrap();
    assert_eq!(state(&s), (false, false, vec![Value::Integer(5)]));
    s.answer_link_id("b", vec![Value::Integer(9)]).unwrap();
    s.answer_link_id("b", vec![]).unwrap();
    assert_eq!(state(&s), (false, false, vec![Value::Integer(5)]), "'b' left the response");
    s.answer_link_id("c", vec![]).unwrap();
    assert_eq!(state(&s), (false, false, vec![]), "'c' left the response");
    assert_eq!(failing(&s), 1);
}

/// A selection by place narrowed to one linkId (`repeat(item).where(linkId = 'b')`) depends on
/// items b coming or going, wherever they are, and not on other items' lists of children: check
/// that b appearing, b leaving with its hidden group, and b nested two levels down are all seen,
/// while another item coming or going does not disturb the verdict.
#[test]
fn presence_of_one_linkid_is_seen_wherever_it_comes_or_goes() {
    let q = questionnaire(json!([
        {"linkId": "hide", "type": "boolean", "text": "Hide the group"},
        {"linkId": "g", "type": "group", "text": "G",
         "enableWhen": [{"question": "hide", "operator": "!=", "answerBoolean": true}],
         "item": [
            {"linkId": "b", "type": "integer", "text": "B"},
            {"linkId": "h", "type": "group", "text": "H", "item": [{"linkId": "deep", "type": "string", "text": "Deep"}]}
         ]},
        {"linkId": "other", "type": "integer", "text": "Other"},
        {"linkId": "p", "type": "display", "text": "B is given", "extension": [
            ext(EWE, None, "%resource.repeat(item).where(linkId = 'b').exists()")]},
        {"linkId": "d", "type": "display", "text": "Deep is given", "extension": [
            ext(EWE, None, "%resource.item.where(linkId = 'g').item.where(linkId = 'h').item.where(linkId = 'deep').exists()")]},
        {"linkId": "n", "type": "integer", "text": "How many top-level items are answered", "readOnly": true, "extension": [
            ext(CALC, None, "%resource.item.count()")]},
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let state = |s: &Session| (shown(s, "p"), shown(s, "d"));
    assert_eq!(state(&s), (false, false));
    s.answer_link_id("other", vec![Value::Integer(1)]).unwrap();
    assert_eq!(state(&s), (false, false), "another item came in");
    assert_eq!(answers(&s, "n"), vec![Value::Integer(2)], "a count of children still sees every item (other, and n itself)");
    s.answer_link_id("b", vec![Value::Integer(5)]).unwrap();
    assert_eq!(state(&s), (true, false), "'b' came in, inside its group");
    s.answer_link_id("deep", vec![Value::String("x".into())]).unwrap();
    assert_eq!(state(&s), (true, true), "'deep' came in, two groups down");
    s.answer_link_id("hide", vec![Value::Boolean(true)]).unwrap();
    assert_eq!(state(&s), (false, false), "'b' and 'deep' left with their hidden group");
    s.answer_link_id("hide", vec![Value::Boolean(false)]).unwrap();
    assert_eq!(state(&s), (true, true), "and came back with it");
    s.answer_link_id("b", vec![]).unwrap();
    assert_eq!(state(&s), (false, true), "'b' cleared");
    s.answer_link_id("other", vec![]).unwrap();
    assert_eq!(state(&s), (false, true));
    assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
}

/// What expressions see as `%resource` is built straight from the session (not written as
/// text and parsed back): it must be the QuestionnaireResponse in progress itself, which is
/// the submitted one less its identifier (a digest of the submitted content) and status. Checked on a visit type with chart rows on file,
/// answers nested under answers and hidden answered items (the hypertension scenario), on
/// PHQ-9's calculated total and on MBS 715's age-dependent sections.
#[test]
fn the_response_expressions_see_is_the_response_less_its_identifier() {
    use intake_engine::response::{Status, build, tree};
    use intake_engine::visit_type::VisitTypeSource;
    let same = |s: &Session, what: &str| {
        let progress = intake_engine::fhir::json::tree_of(&build(s, Status::InProgress));
        assert!(progress.get("identifier").is_none(), "{what}: an identifier in progress");
        assert_eq!(tree(s), progress, "{what}");
        // Submitted, the same response with the identifier of its content.
        let mut done = intake_engine::fhir::json::tree_of(&build(s, Status::Completed));
        let done = done.as_object_mut().unwrap();
        assert!(done.remove("identifier").is_some(), "{what}: the submitted response has an identifier");
        done.insert("status".into(), "in-progress".into());
        assert_eq!(&progress, &intake_engine::fhir::Json::Object(done.clone()), "{what}");
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let htn = VisitTypeSource {
        manifest_file: "manifest.json".into(),
        manifest_text: read("visit-types/hypertension-follow-up/manifest.json"),
        questionnaire_file: "questionnaire.json".into(),
        questionnaire_text: read("visit-types/hypertension-follow-up/questionnaire.json"),
        rules: ["hypertension", "medication-adherence", "allergy-safety"]
            .iter()
            .map(|r| intake_engine::rules::RuleSource {
                name: format!("rules/{r}.rhai"),
                text: read(&format!("rules/{r}.rhai")),
            })
            .collect(),
        value_sets: Default::default(),
    };
    let vt = Rc::new(VisitType::load(&htn).unwrap());
    let chart = Rc::new(
        intake_engine::Chart::from_text(&read("web/demo/charts/maria-hernandez.json")).unwrap(),
    );
    let mut s = Session::new(vt, chart, Default::default(), now(), "tree").unwrap();
    same(&s, "hypertension, prefilled from the chart");
    let scenario: serde_json::Value = serde_json::from_str(&read(
        "visit-types/hypertension-follow-up/scenarios/maria-stopped-lisinopril-cough.json",
    ))
    .unwrap();
    intake_engine::answers_file::apply(&mut s, &scenario["answers"]).unwrap();
    same(&s, "hypertension, the scenario's answers");

    let form = Form::from_text(&corpus("lforms/R4/phq9.json")).unwrap();
    let mut s = session(&Rc::new(VisitType::from_form(form, &[]).unwrap()));
    same(&s, "PHQ-9, empty");
    s.answer_link_id("/44250-9", loinc_answer("LA6569-3"))
        .unwrap();
    s.answer_link_id("/44255-8", loinc_answer("LA6571-9"))
        .unwrap();
    same(&s, "PHQ-9, two answers and the total");

    let form = Form::from_text(&corpus("smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json")).unwrap();
    let mut s = session(&Rc::new(VisitType::from_form(form, &[]).unwrap()));
    let age = s
        .form()
        .items
        .iter()
        .position(|d| d.text.as_ref().is_some_and(|t| t.in_lang("en") == "Age"))
        .unwrap();
    let age = s.nodes_of(intake_engine::questionnaire::ItemId(age as u32))[0];
    for years in [3, 30, 60] {
        s.answer(age, vec![Value::Integer(years)]).unwrap();
        same(&s, &format!("MBS 715, age {years}"));
    }
}
