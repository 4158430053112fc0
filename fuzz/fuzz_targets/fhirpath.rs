//! A FHIRPath expression -> parse and evaluate over a real QuestionnaireResponse.
#![no_main]
use libfuzzer_sys::fuzz_target;

thread_local! {
    static QR: serde_json::Value =
        serde_json::from_str(include_str!("../../../shared/corpus/extraction/questionnaireResponses/QRComplexTemplateExtract.json"))
            .expect("corpus QR");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(expr) = intake_fhirpath::Expr::parse(text) else { return };
    QR.with(|qr| {
        let mut env = intake_fhirpath::Env::new().with_now(intake_fuzz::NOW);
        env.set_json("resource", qr);
        let _ = expr.evaluate_json(qr, &env);
    });
});
