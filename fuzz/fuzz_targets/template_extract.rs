//! A QuestionnaireResponse -> SDC template extraction with CSIRO's most complex form.
#![no_main]
use libfuzzer_sys::fuzz_target;

use intake_engine::template_extract::{extract, Options};

thread_local! {
    static Q: serde_json::Value =
        serde_json::from_str(include_str!("../../../shared/corpus/extraction/questionnaires/QComplexTemplateExtract.json"))
            .expect("corpus questionnaire");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(response) = serde_json::from_str::<serde_json::Value>(text) else { return };
    Q.with(|q| {
        let _ = extract(q, &response, &Options { now: "2026-11-20T09:00:00Z", seed: None });
    });
});
