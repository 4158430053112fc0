//! A rule script -> compiled against the hypertension form, run as answers come in.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::rc::Rc;

use intake_engine::fhir::Value;
use intake_engine::rules::RuleSource;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let base = intake_fuzz::hypertension();
    let rules = [RuleSource { name: "rules/fuzz.rhai".into(), text: text.into() }];
    let Ok(vt) = intake_engine::VisitType::from_form(base.form.as_ref().clone(), &rules) else { return };
    let vt = Rc::new(vt);
    let Some(mut s) = intake_fuzz::session(&vt, &intake_fuzz::maria()) else { return };
    let _ = s.answer_link_id("home-bp-monitoring", vec![Value::Boolean(true)]);
    let _ = s.answer_link_id("missed-doses", vec![Value::Integer(0)]);
    let _ = s.answer_link_id("missed-doses", vec![Value::Integer(i64::from(i32::MAX))]);
    let _ = s.answer_link_id("cough", vec![Value::Boolean(true)]);
    intake_fuzz::emit_all(&s);
});
