//! Test-only helpers: validating emitted resources with independent tools.

use intake_engine::fhir::Json;

/// Structural R4 errors that fhirkit (generated from the official R4 definitions) finds in a
/// resource: unknown elements, wrong types, missing required elements, bad choice types.
pub fn r4_errors(resource: &Json) -> Vec<String> {
    let text = resource.to_string();
    match fhirkit::from_json::<fhirkit::r4::Resource>(&text) {
        Err(e) => vec![format!("not readable: {e}")],
        Ok((_, issues)) => issues
            .into_iter()
            .filter(|i| i.severity == fhirkit::Severity::Error)
            .map(|i| i.to_string())
            .collect(),
    }
}
