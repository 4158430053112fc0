//! Item text with rendering-xhtml or rendering-markdown -> the safe rich-text tree.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let a = intake_web::rich_text::from_xhtml(text);
    let b = intake_web::rich_text::from_markdown(text);
    let _ = (intake_web::rich_text::plain(&a), intake_web::rich_text::plain(&b));
});
