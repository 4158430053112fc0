//! enableWhen semantics, table-driven: every operator on every answer type, then the
//! behaviour that needs a whole session (enableBehavior, disabled groups, hidden answers).

mod support;

use intake_engine::enable_when::{condition_holds, item_enabled};
use intake_engine::fhir::{Coding, Date, DateTime, Quantity, Reference, Time, Value};
use intake_engine::questionnaire::{Condition, EnableBehavior, ItemId, Operator};
use intake_engine::response::{build, Status};
use intake_engine::fhir::ToJson;
use serde_json::json;
use support::*;

fn d(s: &str) -> Value {
    Value::Date(Date::parse(s).unwrap())
}
fn dt(s: &str) -> Value {
    Value::DateTime(DateTime::parse(s).unwrap())
}
fn t(s: &str) -> Value {
    Value::Time(Time::parse(s).unwrap())
}
fn s(x: &str) -> Value {
    Value::String(x.into())
}
fn c(system: &str, code: &str) -> Value {
    Value::Coding(Coding { system: (!system.is_empty()).then(|| system.into()), code: Some(code.into()), ..Default::default() })
}
fn q(v: f64, unit: &str) -> Value {
    Value::Quantity(Quantity::ucum(v, unit, unit))
}
fn r(x: &str) -> Value {
    Value::Reference(Reference::to(x))
}

const SCT: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";

#[test]
fn operators_on_every_answer_type() {
    use Operator::*;
    use Value::{Boolean as B, Decimal as Dec, Integer as I};
    #[rustfmt::skip]
    let table: Vec<(&str, Vec<Value>, Operator, Value, bool)> = vec![
        // boolean
        ("bool = true", vec![B(true)], Eq, B(true), true),
        ("bool = false", vec![B(true)], Eq, B(false), false),
        ("unanswered = true", vec![], Eq, B(true), false),
        ("bool != false", vec![B(true)], Ne, B(false), true),
        ("bool != same", vec![B(false)], Ne, B(false), false),
        ("unanswered != x is true (no answer equals)", vec![], Ne, B(true), true),
        ("exists true, unanswered", vec![], Exists, B(true), false),
        ("exists false, unanswered", vec![], Exists, B(false), true),
        ("exists true, answered false", vec![B(false)], Exists, B(true), true),
        ("exists false, answered", vec![B(true)], Exists, B(false), false),
        ("booleans are not ordered", vec![B(true)], Gt, B(false), false),
        // decimal and integer, mixed
        ("dec > int", vec![Dec(3.5)], Gt, I(3), true),
        ("dec >= equal int", vec![Dec(3.0)], Ge, I(3), true),
        ("dec < int", vec![Dec(2.9)], Lt, I(3), true),
        ("int <= dec", vec![I(3)], Le, Dec(3.0), true),
        ("dec = dec", vec![Dec(3.5)], Eq, Dec(3.5), true),
        ("dec != dec", vec![Dec(3.5)], Ne, Dec(3.6), true),
        ("int > int", vec![I(5)], Gt, I(4), true),
        ("int > equal", vec![I(4)], Gt, I(4), false),
        ("int >= equal", vec![I(4)], Ge, I(4), true),
        ("int < smaller", vec![I(10)], Lt, I(9), false),
        ("unanswered > x", vec![], Gt, I(0), false),
        ("repeating: some answer > 4", vec![I(1), I(5)], Gt, I(4), true),
        ("repeating: no answer > 4", vec![I(1), I(2)], Gt, I(4), false),
        ("repeating: != when one equals", vec![I(3), I(4)], Ne, I(3), false),
        ("repeating: = when one equals", vec![I(3), I(4)], Eq, I(4), true),
        // date, with precision
        ("date > date", vec![d("2020-05-01")], Gt, d("2020-01-01"), true),
        ("year > year", vec![d("2020")], Gt, d("2019"), true),
        ("year vs month: indeterminate", vec![d("2020")], Eq, d("2020-05"), false),
        ("month < day of next month", vec![d("2020-05")], Lt, d("2020-06-01"), true),
        ("month vs day in it: indeterminate", vec![d("2020-06")], Lt, d("2020-06-15"), false),
        ("date <= date", vec![d("2020-06-15")], Le, d("2020-06-15"), true),
        ("date vs dateTime without time", vec![d("2020-06-15")], Eq, dt("2020-06-15"), true),
        // dateTime, zones
        ("same instant, different zones", vec![dt("2024-03-01T10:00:00+02:00")], Eq, dt("2024-03-01T08:00:00Z"), true),
        ("later instant", vec![dt("2024-03-01T10:00:00Z")], Gt, dt("2024-03-01T09:59:59Z"), true),
        ("dateTime vs day: indeterminate", vec![dt("2024-03-01T10:00:00Z")], Eq, dt("2024-03-01"), false),
        // time
        ("time <", vec![t("07:30:00")], Lt, t("08:00:00"), true),
        ("time >= equal", vec![t("09:00")], Ge, t("09:00:00"), true),
        ("time >", vec![t("09:00:01")], Gt, t("09:00:00"), true),
        // string (ordering too: LHC-Forms cannot)
        ("string =", vec![s("abc")], Eq, s("abc"), true),
        ("string = is case-sensitive", vec![s("abc")], Eq, s("ABC"), false),
        ("string >", vec![s("b")], Gt, s("a"), true),
        ("string <", vec![s("apple")], Lt, s("banana"), true),
        ("string !=", vec![s("x")], Ne, s("y"), true),
        // Coding
        ("coding = same system and code", vec![c(SCT, "123")], Eq, c(SCT, "123"), true),
        ("coding = code only when a system is missing", vec![c(SCT, "123")], Eq, c("", "123"), true),
        ("coding = different system", vec![c(SCT, "123")], Eq, c(LOINC, "123"), false),
        ("coding = one of several answers", vec![c(SCT, "1"), c(SCT, "2")], Eq, c(SCT, "2"), true),
        ("coding != absent code", vec![c(SCT, "1")], Ne, c(SCT, "2"), true),
        ("coding != present code", vec![c(SCT, "1"), c(SCT, "2")], Ne, c(SCT, "2"), false),
        ("codings are not ordered", vec![c(SCT, "2")], Gt, c(SCT, "1"), false),
        // Quantity, with unit conversion
        ("180 lb > 80 kg", vec![q(180.0, "[lb_av]")], Gt, q(80.0, "kg"), true),
        ("70 kg > 80 kg", vec![q(70.0, "kg")], Gt, q(80.0, "kg"), false),
        ("38 Cel >= 100 degF", vec![q(38.0, "Cel")], Ge, q(100.0, "[degF]"), true),
        ("unknown unit: indeterminate", vec![q(5.0, "furlong")], Gt, q(1.0, "m"), false),
        ("incommensurable units", vec![q(5.0, "kg")], Gt, q(1.0, "m"), false),
        ("quantity = same", vec![q(70.0, "kg")], Eq, q(70.0, "kg"), true),
        ("quantity vs bare number", vec![q(39.5, "Cel")], Ge, Dec(39.0), true),
        // reference
        ("reference =", vec![r("Patient/1")], Eq, r("Patient/1"), true),
        ("reference !=", vec![r("Patient/1")], Ne, r("Patient/2"), true),
        ("reference = other", vec![r("Patient/1")], Eq, r("Patient/2"), false),
    ];
    let mut failures = Vec::new();
    for (name, answers, operator, answer, want) in &table {
        let cond = Condition { question: ItemId(0), operator: *operator, answer: answer.clone() };
        let got = condition_holds(&cond, answers);
        if got != *want {
            failures.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), table.len(), failures.join("\n"));
}

#[test]
fn enable_behavior_combines_conditions() {
    let cases = [
        (EnableBehavior::Any, vec![false, true], true),
        (EnableBehavior::Any, vec![false, false], false),
        (EnableBehavior::All, vec![true, true], true),
        (EnableBehavior::All, vec![true, false], false),
        (EnableBehavior::Any, vec![], true),
        (EnableBehavior::All, vec![], true),
    ];
    for (b, results, want) in cases {
        assert_eq!(item_enabled(b, results.clone().into_iter()), want, "{b:?} {results:?}");
    }
}

fn chain_form() -> serde_json::Value {
    questionnaire(json!([
        {"linkId": "a", "type": "boolean", "text": "A"},
        {"linkId": "g", "type": "group", "text": "G",
         "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": true}],
         "item": [
            {"linkId": "b", "type": "boolean", "text": "B"},
            {"linkId": "c", "type": "string", "text": "C", "required": true,
             "enableWhen": [{"question": "b", "operator": "=", "answerBoolean": true}]}
         ]},
        {"linkId": "d", "type": "string", "text": "D",
         "enableWhen": [{"question": "c", "operator": "exists", "answerBoolean": true},
                        {"question": "a", "operator": "=", "answerBoolean": false}],
         "enableBehavior": "any"},
        {"linkId": "e", "type": "integer", "text": "E",
         "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": true},
                        {"question": "b", "operator": "=", "answerBoolean": true}],
         "enableBehavior": "all"}
    ]))
}

#[test]
fn disabled_groups_hide_descendants_and_their_answers_never_count() {
    let vt = visit_type(chain_form(), &[]);
    let mut s = session(&vt);
    assert!(!shown(&s, "g") && !shown(&s, "b") && !shown(&s, "c"));
    s.answer_link_id("a", vec![Value::Boolean(true)]).unwrap();
    assert!(shown(&s, "g") && shown(&s, "b") && !shown(&s, "c"));
    s.answer_link_id("b", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("c", vec![Value::String("kept".into())]).unwrap();
    assert!(shown(&s, "c") && shown(&s, "d"), "d is enabled by c's answer");
    assert!(shown(&s, "e"), "all: a and b are true");

    // Hide the group: b and c disappear, c's answer no longer enables d, e fails 'all'.
    s.answer_link_id("a", vec![Value::Boolean(false)]).unwrap();
    assert!(!shown(&s, "g") && !shown(&s, "b") && !shown(&s, "c"));
    assert!(shown(&s, "d"), "d is enabled by a = false (any)");
    assert!(!shown(&s, "e"));
    let qr = build(&s, Status::InProgress).to_json().to_string();
    assert!(!qr.contains("kept") && !qr.contains("\"linkId\":\"b\""), "answers of disabled items leak: {qr}");

    // Nothing entered is lost: showing the group again brings the answers back.
    s.answer_link_id("a", vec![Value::Boolean(true)]).unwrap();
    assert!(shown(&s, "c"));
    assert!(build(&s, Status::InProgress).to_json().to_string().contains("kept"));
}

#[test]
fn a_hidden_required_item_never_blocks_submit() {
    let vt = visit_type(chain_form(), &[]);
    let mut s = session(&vt);
    s.answer_link_id("a", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("b", vec![Value::Boolean(true)]).unwrap();
    let problems = intake_engine::extract::submit_problems(&s);
    assert_eq!(problems.iter().map(|p| p.link_id.as_str()).collect::<Vec<_>>(), ["c"], "c is shown, required, empty");
    s.answer_link_id("b", vec![Value::Boolean(false)]).unwrap();
    assert!(intake_engine::extract::submit_problems(&s).is_empty(), "c is hidden now");
    assert!(intake_engine::extract::bundle(&s).is_ok());
}

#[test]
fn conditions_inside_a_repeating_group_read_the_same_row() {
    let q = questionnaire(json!([
        {"linkId": "row", "type": "group", "repeats": true, "item": [
            {"linkId": "kind", "type": "boolean", "text": "Kind"},
            {"linkId": "detail", "type": "string", "text": "Detail",
             "enableWhen": [{"question": "kind", "operator": "=", "answerBoolean": true}]}
        ]}
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let group = s.form().find("row").unwrap();
    let first = s.rows(None, group)[0];
    let (second, _) = s.add_row(None, group).unwrap();
    let kind = s.form().find("kind").unwrap();
    let detail = s.form().find("detail").unwrap();
    let child = |s: &intake_engine::Session, row, item| {
        s.node(row).unwrap().children.iter().copied().find(|c| s.node(*c).unwrap().item == item).unwrap()
    };
    s.answer(child(&s, second, kind), vec![Value::Boolean(true)]).unwrap();
    assert!(s.node(child(&s, second, detail)).unwrap().state.enabled, "same row enables");
    assert!(!s.node(child(&s, first, detail)).unwrap().state.enabled, "the other row's answer does not");
    s.remove_row(second).unwrap();
    assert_eq!(s.rows(None, group).len(), 1);
}

#[test]
fn impossible_conditions_are_load_warnings_and_unknown_targets_errors() {
    let f = form(json!([
        {"linkId": "a", "type": "boolean"},
        {"linkId": "b", "type": "string", "enableWhen": [{"question": "a", "operator": "=", "answerCoding": {"code": "x"}}]},
        {"linkId": "c", "type": "string", "enableWhen": [{"question": "a", "operator": ">", "answerBoolean": true}]}
    ]));
    let msgs: Vec<String> = f.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].contains("Questionnaire.item[1].enableWhen[0]") && msgs[0].contains("never true"), "{msgs:?}");
    let err = intake_engine::Form::from_json(&questionnaire(json!([
        {"linkId": "b", "type": "string", "enableWhen": [{"question": "nope", "operator": "=", "answerBoolean": true}]}
    ])))
    .unwrap_err();
    assert!(err.to_string().contains("Questionnaire.item[0].enableWhen[0].question"), "{err}");
    assert!(err.to_string().contains("'nope'"), "{err}");
}
