//! Rule scripts are code an informaticist (or a vendor) wrote: broken or hostile scripts must
//! fail fast, say where, and never take the session down.

mod support;

use intake_engine::fhir::Value;
use intake_engine::visit_type::Diagnostic;
use serde_json::json;
use support::*;

fn q() -> serde_json::Value {
    questionnaire(json!([
        {"linkId": "trigger", "type": "boolean", "text": "Trigger"},
        {"linkId": "gated", "type": "string", "text": "Gated"},
        {"linkId": "other", "type": "string", "text": "Other"}
    ]))
}

fn load_error(script: &str) -> Diagnostic {
    let errs = try_visit_type(q(), &[("rules/bad.rhai", script)], json!({})).expect_err("script should be refused at load");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let d = load_error("// comment\nlet x = 1;\nlet y = ;\n");
    assert_eq!(d.file, "rules/bad.rhai");
    assert_eq!(d.line, Some(3), "{d}");
    assert!(d.column.is_some_and(|c| c > 0), "{d}");
    assert!(d.to_string().starts_with("rules/bad.rhai:3:"), "{d}");
}

#[test]
fn unknown_link_ids_are_load_errors_with_position() {
    let d = load_error("if true {\n    ask(\"gatd\", \"typo\");\n}\n");
    assert_eq!((d.line, d.item.as_deref()), (Some(2), Some("gatd")), "{d}");
    assert!(d.to_string().contains("no item with linkId 'gatd'"), "{d}");
}

#[test]
fn undefined_variables_are_caught_at_load() {
    let d = load_error("ask(gated, \"x\");");
    assert!(d.to_string().contains("gated"), "{d}");
}

#[test]
fn no_eval_and_no_modules() {
    let d = load_error("let x = eval(\"40 + 2\");");
    assert!(d.to_string().contains("eval"), "{d}");
    load_error("import \"fs\" as fs;");
}

#[test]
fn oversized_scripts_are_refused() {
    let big = format!("// {}\n", "x".repeat(70_000));
    let d = load_error(&big);
    assert!(d.to_string().contains("limit"), "{d}");
}

/// A rule that turns hostile only after `trigger` is answered yes: the session must survive,
/// report the error with its position, and show what the rule could ask (fail open).
fn hostile_after_trigger(body: &str) {
    let script = format!("if answer(\"trigger\") == true {{\n{body}\n}}\nif false {{ ask(\"gated\", \"never\"); }}\n");
    let vt = visit_type(q(), &[("rules/hostile.rhai", &script)]);
    let mut s = session(&vt);
    assert!(s.rule_errors().is_empty());
    assert!(!shown(&s, "gated"), "gated until a rule asks");
    s.answer_link_id("trigger", vec![Value::Boolean(true)]).unwrap();
    let errors = s.rule_errors();
    assert_eq!(errors.len(), 1, "the hostile run must be reported");
    let e = errors[0].to_string();
    assert!(e.starts_with("rules/hostile.rhai:"), "{e}");
    assert!(errors[0].span.line >= 2, "the error points into the body: {e}");
    assert!(shown(&s, "gated"), "fail open: a failed rule shows what it could ask");
    // The session still works.
    s.answer_link_id("other", vec![Value::String("still here".into())]).unwrap();
    // And recovers when the input that triggered the failure changes.
    s.answer_link_id("trigger", vec![Value::Boolean(false)]).unwrap();
    assert!(s.rule_errors().is_empty());
    assert!(!shown(&s, "gated"));
}

#[test]
fn endless_loops_stop() {
    hostile_after_trigger("    loop { }");
}

#[test]
fn recursion_is_impossible_functions_are_refused_at_load() {
    // Rules cannot define functions, so a recursive script fails fast, before any patient sees it.
    let d = load_error("fn deeper(n) { deeper(n + 1) }\ndeeper(0);\n");
    assert_eq!((d.file.as_str(), d.line), ("rules/bad.rhai", Some(1)), "{d}");
}

#[test]
fn deeply_nested_expressions_are_refused_at_load() {
    let nested = format!("let x = {}1{};", "(".repeat(200), ")".repeat(200));
    let d = load_error(&nested);
    assert!(d.to_string().contains("rules/bad.rhai:1:"), "{d}");
}

#[test]
fn giant_strings_stop() {
    hostile_after_trigger("    let s = \"xxxxxxxxxx\";\n    loop { s += s; }");
}

#[test]
fn giant_arrays_stop() {
    hostile_after_trigger("    let a = [];\n    loop { a.push(1); }");
}

#[test]
fn runtime_errors_name_the_line() {
    // (Division by zero is not a failure: it is unknown; see tests/hostile_input.rs.)
    hostile_after_trigger("    let zero = 0;\n    let x = \"text\" * zero;");
}

#[test]
fn wrong_argument_types_are_runtime_errors_not_panics() {
    hostile_after_trigger("    ask(\"gated\", 42);");
}

#[test]
fn rules_cannot_print_or_read_time() {
    // print is accepted and discarded; there is no timestamp() in the sandbox.
    let vt = visit_type(q(), &[("rules/quiet.rhai", "print(\"hello\");\ndebug(42);")]);
    let errors: Vec<String> = session(&vt).rule_errors().iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let errs = try_visit_type(q(), &[("rules/time.rhai", "let t = timestamp();")], json!({}));
    match errs {
        Err(_) => {}
        Ok(vt) => {
            let s = session(&std::rc::Rc::new(vt));
            assert!(!s.rule_errors().is_empty(), "timestamp() must not exist");
        }
    }
}

#[test]
fn reasons_can_be_translated_and_requirements_follow_rules() {
    let script = r#"
        if answer("trigger") == true {
            ask("gated", #{ en: "Because you said so.", es: "Porque usted lo dijo." });
            require("gated");
            flag("trigger", "Check this.");
        }
    "#;
    let vt = visit_type(q(), &[("rules/ok.rhai", script)]);
    let mut s = session(&vt);
    s.answer_link_id("trigger", vec![Value::Boolean(true)]).unwrap();
    let node = s.node(s.node_of_link_id("gated").unwrap()).unwrap().clone();
    assert!(node.state.enabled && node.state.required);
    let why = node.state.why.as_ref().unwrap();
    assert_eq!(intake_engine::explain::why_text(s.form(), why, "es"), "Porque usted lo dijo.");
    assert_eq!(intake_engine::explain::why_text(s.form(), why, "en"), "Because you said so.");
    let trig = s.node(s.node_of_link_id("trigger").unwrap()).unwrap();
    assert_eq!(trig.state.flags.len(), 1);
}

#[test]
fn the_array_and_comparison_functions_rules_rely_on_work() {
    let script = r#"
        let codes = ["a", "b"];
        let n = 0;
        for c in codes { n += 1; }
        let t = answer("trigger");
        if n == 2 && codes.len() == 2 && "b" in codes && !("z" in codes) && [1, 2].contains(2)
            && 2 > 1.5 && 40.0 >= 40 && t == () && !(t == true) && t != false && ![].is_empty() == false {
            ask("gated", "all good");
        }
    "#;
    let vt = visit_type(q(), &[("rules/arrays.rhai", script)]);
    let s = session(&vt);
    let errors: Vec<String> = s.rule_errors().iter().map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(shown(&s, "gated"), "every expression in the condition must hold");
}

/// Call forms that would hide a linkId from `intake check` are refused at load (issue 13, item 13).
#[test]
fn method_calls_and_function_pointers_cannot_bypass_the_checks() {
    let d = load_error("if true {\n    \"gatd\".ask(\"typo hidden in a method call\");\n}\n");
    assert_eq!(d.line, Some(2), "{d}");
    assert!(d.to_string().contains("as a function with the linkId first"), "{d}");
    for script in ["Fn(\"hide\").call(\"gated\");", "let f = Fn(\"hide\");\nf.call(\"gatd\");", "call(Fn(\"ask\"), \"gated\");"] {
        let d = load_error(script);
        assert!(d.to_string().contains("not allowed in rules"), "{script}: {d}");
    }
    // The plain form still loads.
    visit_type(q(), &[("rules/ok.rhai", "if answer(\"trigger\") == true { ask(\"gated\", \"why\"); }")]);
}

/// rules/README.md states the nesting a rule may use; this holds it to its word.
#[test]
fn the_documented_nesting_limit_is_the_real_one() {
    let doc = include_str!("../../../rules/README.md");
    let documented: usize = doc
        .split("up to ")
        .filter_map(|s| s.split(" levels of parentheses").next().filter(|n| n.len() < 4))
        .find_map(|n| n.trim().parse().ok())
        .expect("rules/README.md states 'up to N levels of parentheses'");
    let nested = |n: usize| format!("let x = {}1{};", "(".repeat(n), ")".repeat(n));
    visit_type(q(), &[("rules/deep.rhai", &nested(documented))]);
    load_error(&nested(documented + 1));
}

/// Issue 13, item 16: host calls count against a budget, so a loop of them over a large chart
/// stops like any limit (rhai alone counts only its own operations: 5,000 iterations are far
/// below its limit, but here each builds an array of 100 conditions).
#[test]
fn host_function_work_is_bounded() {
    let mut entries = vec![json!({"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}})];
    for i in 0..100 {
        entries.push(json!({"resource": {"resourceType": "Condition", "id": format!("c{i}"),
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": format!("{}", 1000 + i)}]},
            "subject": {"reference": "Patient/p1"}}}));
    }
    let chart = std::rc::Rc::new(
        intake_engine::Chart::from_json(&json!({"resourceType": "Bundle", "type": "collection", "entry": entries})).unwrap(),
    );
    let script = "if answer(\"trigger\") == true {\n    let n = 0;\n    while n < 5000 { let c = conditions(); n += 1; }\n}\nif false { ask(\"gated\", \"never\"); }\n";
    let vt = visit_type(q(), &[("rules/host-loop.rhai", script)]);
    let mut s = intake_engine::Session::new(vt, chart, Default::default(), now(), "s").unwrap();
    s.answer_link_id("trigger", vec![Value::Boolean(true)]).unwrap();
    let errors: Vec<String> = s.rule_errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("host functions"), "{errors:?}");
    assert!(shown(&s, "gated"), "fail open");
}
