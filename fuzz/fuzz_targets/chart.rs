//! Chart text -> read, prefill the hypertension visit type, response and Bundle.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::rc::Rc;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(chart) = intake_engine::Chart::from_text(text) else { return };
    let vt = intake_fuzz::hypertension();
    if let Some(s) = intake_fuzz::session(&vt, &Rc::new(chart)) {
        intake_fuzz::emit_all(&s);
    }
});
