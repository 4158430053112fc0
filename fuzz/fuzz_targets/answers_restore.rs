//! Autosave text (possibly cut short) -> salvage, restore into a real session, Bundle.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some(json) = intake_engine::answers_file::salvage(text) else { return };
    let vt = intake_fuzz::hypertension();
    let Some(mut s) = intake_fuzz::session(&vt, &intake_fuzz::maria()) else { return };
    let _ = intake_engine::answers_file::restore(&mut s, &json);
    intake_fuzz::emit_all(&s);
});
