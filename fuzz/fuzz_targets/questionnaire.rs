//! Questionnaire text -> parse, index, session on a real chart, response and Bundle.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::rc::Rc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(form) = intake_engine::Form::from_text(text) else { return };
    let Ok(vt) = intake_engine::VisitType::from_form(form, &[]) else { return };
    let vt = Rc::new(vt);
    if let Some(s) = intake_fuzz::session(&vt, &intake_fuzz::maria()) {
        intake_fuzz::emit_all(&s);
    }
});
