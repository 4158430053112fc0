//! What SDC forms rely on, table-driven: choice types, variables, three-valued logic, the
//! singleton rules, and errors that say where.

use intake_fhirpath::{Env, ErrorKind, Expr};
use serde_json::{json, Value as Json};

fn qr() -> Json {
    json!({"resourceType": "QuestionnaireResponse", "id": "qr1", "authored": "2026-11-20T09:00:00Z",
      "subject": {"reference": "Patient/p1"},
      "item": [
        {"linkId": "substance", "answer": [{"valueCoding": {"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}}, {"valueString": "dried flowers"}]},
        {"linkId": "weight", "answer": [{"valueDecimal": 1.63}]},
        {"linkId": "given", "answer": [{"valueString": "Ana"}, {"valueString": "María"}]},
        {"linkId": "family", "answer": [{"valueString": "Ruiz"}]},
        {"linkId": "smoker", "answer": [{"valueBoolean": false}]},
        {"linkId": "onset", "answer": [{"valueDate": "2019-03"}]}
      ]})
}

fn eval(expr: &str) -> Result<Vec<Json>, intake_fhirpath::Error> {
    let mut env = Env::new().with_now("2026-11-20T09:00:00Z");
    env.set_json("patient", &json!({"resourceType": "Patient", "id": "p1", "birthDate": "1970-06-15"}));
    Expr::parse(expr)?.evaluate_json(&qr(), &env).map(|v| v.iter().map(|i| i.to_json()).collect())
}

#[test]
fn expressions_forms_use() {
    let cases: &[(&str, Json)] = &[
        ("item.where(linkId='substance').answer.value.ofType(Coding).code", json!(["764146007"])),
        ("item.where(linkId='substance').answer.value.ofType(string)", json!(["dried flowers"])),
        ("item.where(linkId='substance').answer.value.count()", json!([2])),
        ("item.where(linkId='weight').answer.value * 100", json!([163])),
        ("item.where(linkId='given' or linkId='family').answer.value.join(' ')", json!(["Ana María Ruiz"])),
        ("%resource.subject.reference", json!(["Patient/p1"])),
        ("'Patient/' + %patient.id", json!(["Patient/p1"])),
        ("item.where(linkId='onset').answer.value.toDateTime()", json!(["2019-03"])),
        ("iif(item.where(linkId='smoker').answer.value = true, 1, 0)", json!([0])),
        ("iif(item.where(linkId='nothing').answer.value.empty(), 'none', 'some')", json!(["none"])),
        ("iif(false, 'x')", json!([])),
        ("item.where(linkId='nothing').answer.value = 1", json!([])),
        ("{} or true", json!([true])),
        ("{} and true", json!([])),
        ("{} and false", json!([false])),
        ("true implies {}", json!([])),
        ("false implies {}", json!([true])),
        ("1 + 2 * 3", json!([7])),
        ("(1 + 2) * 3", json!([9])),
        ("7 div 2", json!([3])),
        ("7 mod 2", json!([1])),
        ("5 / 2", json!([2.5])),
        ("'abc' & {}", json!(["abc"])),
        ("'abc' + {}", json!([])),
        ("today()", json!(["2026-11-20"])),
        ("@2019-03 < @2020-01-01", json!([true])),
        ("@2019-03 = @2019-03-01", json!([])),
        ("'x' in ('x' | 'y')", json!([true])),
        ("('a' | 'b' | 'a').count()", json!([2])),
        ("item.select(linkId).first()", json!(["substance"])),
        ("item.all(linkId.exists())", json!([true])),
        ("%patient.birthDate.toString().substring(0, 4).toInteger()", json!([1970])),
        ("QuestionnaireResponse.id", json!(["qr1"])),
        ("Patient.id", json!([])),
        ("item[1].linkId", json!(["weight"])),
        ("item.answer.value.ofType(boolean)", json!([false])),
        ("5 'mg' * 2", json!([{"value": 10, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}])),
    ];
    let mut failures = Vec::new();
    for (expr, want) in cases {
        match eval(expr) {
            Ok(got) if &Json::Array(got.clone()) == want => {}
            Ok(got) => failures.push(format!("{expr}: got {got:?}, want {want}")),
            Err(e) => failures.push(format!("{expr}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_say_what_and_where() {
    let cases: &[(&str, ErrorKind, &str, usize)] = &[
        ("item.where(linkId = )", ErrorKind::Syntax, "unexpected ')'", 20),
        ("subject.memberOf('http://example.org/vs')", ErrorKind::Unsupported, "memberOf()", 8),
        ("frobnicate()", ErrorKind::Unsupported, "unknown function frobnicate()", 0),
        ("%nowhere.id", ErrorKind::Evaluation, "%nowhere is not defined", 0),
        ("item.linkId + 1", ErrorKind::Evaluation, "single value", 12),
        ("'unterminated", ErrorKind::Syntax, "unterminated string", 0),
        ("item.where()", ErrorKind::Evaluation, "where() takes 1 argument(s), not 0", 5),
    ];
    for (expr, kind, msg, at) in cases {
        let e = eval(expr).expect_err(expr);
        assert_eq!(e.kind, *kind, "{expr}: {e}");
        assert!(e.message.contains(msg), "{expr}: {e}");
        assert_eq!(e.at, *at, "{expr}: {e}");
        assert!(e.to_string().contains(&format!("column {}", at + 1)), "{e}");
    }
}

#[test]
fn hostile_expressions_stop() {
    // Exponential blow-up by repeat/select over a growing collection, and deep nesting: both
    // end with an error instead of hanging or overflowing the stack.
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    let e = eval(&deep).expect_err("deep nesting");
    assert!(e.message.contains("nests too deeply") || e.kind == ErrorKind::Syntax, "{e}");
    let blowup = "item.select(item | item | item).select(item | item).repeat(item).count()";
    let _ = eval(blowup);
    let big = "(1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select((1|2|3|4|5|6|7|8|9|10).select($this))))))";
    let e = eval(big).expect_err("work budget");
    assert!(e.message.contains("too much work"), "{e}");
}

#[test]
fn regular_expressions_in_one_linear_time_dialect() {
    let cases: &[(&str, Json)] = &[
        ("'02139'.matches('^[0-9]{5}$')", json!([true])),
        ("'0213'.matches('^[0-9]{5}$')", json!([false])),
        // matches() finds the pattern anywhere (as fhirpath.js); matchesFull() needs the whole string.
        ("'abc123'.matches('[0-9]+')", json!([true])),
        ("'abc123'.matchesFull('[0-9]+')", json!([false])),
        ("'line1\nline2'.matches('1.line')", json!([true])),
        ("item.where(linkId='given').answer.value.first().replaceMatches('(a)', '[$1]')", json!(["An[a]"])),
        // Catastrophic for a backtracking engine; immediate here (no match: it ends in b).
        ("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab'.matches('(a+)+$')", json!([false])),
        ("{}.matches('x')", json!([])),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr).unwrap_or_else(|e| panic!("{expr}: {e}")), *want.as_array().unwrap(), "{expr}");
    }
    let e = eval("'x'.matches('(')").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Evaluation);
    assert!(e.to_string().contains("not a valid regular expression"), "{e}");
}

#[test]
fn quantities_convert_between_the_units_forms_use() {
    let cases: &[(&str, Json)] = &[
        ("(5 'kg').toQuantity('[lb_av]').value.round(2)", json!([11.02])),
        ("'180 \\'cm\\''.toQuantity('m').value", json!([1.8])),
        // A UCUM unit in text must be quoted; only calendar words go bare (the spec and
        // fhirpath.js agree).
        ("'180 cm'.toQuantity()", json!([])),
        ("'3 days'.toQuantity() = 3 'd'", json!([true])),
        ("'70 \\'[in_i]\\''.toQuantity('cm').value.round(1)", json!([177.8])),
        ("(100 '[degF]').toQuantity('Cel').value.round(2)", json!([37.78])),
        ("(5 'kg').toQuantity('m')", json!([])),
        ("12.toQuantity().value", json!([12])),
        ("'abc'.toQuantity()", json!([])),
    ];
    for (expr, want) in cases {
        assert_eq!(eval(expr).unwrap_or_else(|e| panic!("{expr}: {e}")), *want.as_array().unwrap(), "{expr}");
    }
}

/// Sub-expressions that read only variables are remembered between evaluations (the form's
/// expressions run again after every answer); what is remembered must follow the variables.
#[test]
fn remembered_results_follow_their_variables() {
    use intake_fhirpath::{Item, Value};
    let form = |v: i64| Env::collection_of(&json!({"item": [{"linkId": "a", "answer": [{"valueInteger": v}]}, {"linkId": "b"}]}));
    let expr = Expr::parse("%q.item.where(linkId = 'a').answer.value + %x + iif(%x > 2, 100, 0)").unwrap();
    let run = |env: &Env| expr.evaluate(&[], env).unwrap().iter().map(|i| i.to_json()).collect::<Vec<_>>();
    let q1 = form(1);
    let mut env = Env::new();
    env.set_shared("q", q1.clone());
    env.set("x", vec![Item::new(Value::Int(1))]);
    assert_eq!(run(&env), vec![json!(2)]);
    // The same collections: the same answer.
    assert_eq!(run(&env), vec![json!(2)]);
    // An equal value in a new collection, then a different one.
    env.set("x", vec![Item::new(Value::Int(1))]);
    assert_eq!(run(&env), vec![json!(2)]);
    env.set("x", vec![Item::new(Value::Int(5))]);
    assert_eq!(run(&env), vec![json!(106)]);
    // Another document with the same shape but another answer.
    env.set_shared("q", form(10));
    assert_eq!(run(&env), vec![json!(115)]);
    // Back to the first document.
    env.set_shared("q", q1);
    assert_eq!(run(&env), vec![json!(106)]);
    // A focus-relative expression is never remembered across inputs.
    let rel = Expr::parse("item.where(linkId = 'a').answer.value").unwrap();
    let a = rel.evaluate_json(&json!({"item": [{"linkId": "a", "answer": [{"valueInteger": 3}]}]}), &Env::new()).unwrap();
    let b = rel.evaluate_json(&json!({"item": [{"linkId": "a", "answer": [{"valueInteger": 4}]}]}), &Env::new()).unwrap();
    assert_eq!((a[0].to_json(), b[0].to_json()), (json!(3), json!(4)));
}

/// A table of remembered results kept across passes (a session's): what was computed from the
/// Questionnaire is reused in the next pass; what was computed from the last pass's response
/// is forgotten before the next (it can never be reused, and would keep that response alive),
/// and a new response is never answered from the old one.
#[test]
fn a_memo_kept_across_passes_keeps_only_what_stable_collections_gave() {
    use intake_fhirpath::SharedMemo;
    use std::rc::Rc;
    let questionnaire = Env::collection_of(&json!({"item": [{"linkId": "a", "answerOption": [{"valueString": "x"}, {"valueString": "y"}]}]}));
    let response = |v: &str| Env::collection_of(&json!({"item": [{"linkId": "a", "answer": [{"valueString": v}]}]}));
    let memo = Rc::new(SharedMemo::default());
    let options = Expr::parse("%questionnaire.item.where(linkId = 'a').answerOption.value").unwrap();
    let answer = Expr::parse("%resource.item.where(linkId = 'a').answer.value").unwrap();
    let pass = |r: Rc<Vec<intake_fhirpath::Item>>| {
        let mut env = Env::new().with_memo(memo.clone());
        env.set_shared("questionnaire", questionnaire.clone());
        env.set_shared("resource", r);
        let o = options.evaluate(&[], &env).unwrap().iter().map(|i| i.to_json()).collect::<Vec<_>>();
        let a = answer.evaluate(&[], &env).unwrap().iter().map(|i| i.to_json()).collect::<Vec<_>>();
        (o, a)
    };
    assert_eq!(pass(response("x")), (vec![json!("x"), json!("y")], vec![json!("x")]));
    assert_eq!(memo.len(), 2);
    memo.retain_stable(&[&questionnaire]);
    assert_eq!(memo.len(), 1, "the result computed from the first response is forgotten");
    assert_eq!(pass(response("y")), (vec![json!("x"), json!("y")], vec![json!("y")]));
}

/// `resolve()` finds what the evaluation already holds, never the network.
#[test]
fn resolve_finds_contained_bundled_and_given_resources() {
    use intake_fhirpath::{Item, Value};
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:obs-1", "resource": {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p9"},
            "hasMember": [{"reference": "urn:uuid:obs-2"}], "contained": [{"resourceType": "Device", "id": "cuff", "type": {"text": "Cuff"}}],
            "device": {"reference": "#cuff"}}},
        {"fullUrl": "urn:uuid:obs-2", "resource": {"resourceType": "Observation", "id": "o2", "status": "final"}},
        {"fullUrl": "http://example.org/fhir/Patient/p9", "resource": {"resourceType": "Patient", "id": "p9", "gender": "female"}}
    ]});
    let chart = Env::collection_of(&json!({"resourceType": "Patient", "id": "p1", "birthDate": "1970-06-15"}));
    let env = Env::new().with_resources(chart);
    let run = |expr: &str, on: &Json| -> Vec<Json> { Expr::parse(expr).unwrap().evaluate_json(on, &env).unwrap().iter().map(|i| i.to_json()).collect() };
    assert_eq!(run("entry[0].resource.hasMember.resolve().status", &bundle), vec![json!("final")]);
    assert_eq!(run("entry[0].resource.subject.resolve().gender", &bundle), vec![json!("female")]);
    assert_eq!(run("entry[0].resource.device.resolve().type.text", &bundle), vec![json!("Cuff")]);
    assert_eq!(run("subject.resolve().birthDate", &qr()), vec![json!("1970-06-15")], "the chart's Patient, given by the host");
    assert_eq!(run("'Patient/p1'.resolve().id", &qr()), vec![json!("p1")]);
    assert_eq!(run("'Patient/nobody'.resolve()", &qr()), Vec::<Json>::new());
    assert_eq!(run("(subject.resolve() is Patient)", &qr()), vec![json!(true)]);
    let _ = (Item::new(Value::Bool(true)),);
}
