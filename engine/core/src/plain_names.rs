//! Chart terms in words a patient understands.
//!
//! On-file rows are shown for the patient to confirm, so "24 HR metformin hydrochloride 500 MG
//! Extended Release Oral Tablet" should read "Metformin 500 mg extended-release tablet". In
//! order of preference: the concept's own `text` (what the clinician or pharmacy wrote for
//! people), the label of the form's own answer option for the same code in the patient's
//! language (value sets the visit type ships, with their designations), a simplified RxNorm
//! clinical-drug name, and only then the coded display.

use intake_fhir::CodeableConcept;

use crate::questionnaire::AnswerChoice;

pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

/// The name to show a patient for a chart concept.
pub fn for_patient(cc: &CodeableConcept, options: &[AnswerChoice], lang: &str) -> String {
    // A text that only repeats a coding's display (as EHR exports often do) was not written
    // for people: it goes through the same steps as the display.
    let repeats_display = |t: &str| cc.coding.iter().any(|c| c.display.as_deref().is_some_and(|d| d.trim().eq_ignore_ascii_case(t)));
    if let Some(t) = cc.text.as_deref().map(str::trim).filter(|t| !t.is_empty() && !repeats_display(t)) {
        return t.to_owned();
    }
    for c in &cc.coding {
        if let Some(o) = options.iter().find(|o| o.is(&intake_fhir::Value::Coding(c.clone()))) {
            return o.label_in(lang);
        }
    }
    if let Some(d) = cc.coding.iter().find(|c| c.system.as_deref() == Some(RXNORM)).and_then(|c| c.display.as_deref()) {
        return medication_name(d);
    }
    cc.label()
}

/// Salts and release words that mean nothing to a patient confirming a medicine.
const SALTS: &[&str] = &[
    "hydrochloride", "hcl", "sodium", "potassium", "calcium", "magnesium", "besylate", "maleate", "succinate",
    "tartrate", "mesylate", "citrate", "sulfate", "fumarate", "acetate", "bromide", "hyclate", "monohydrate",
];

/// An RxNorm clinical drug name ("24 HR metformin hydrochloride 500 MG Extended Release Oral
/// Tablet") as a patient would say it ("Metformin 500 mg extended-release tablet"). Names it
/// does not recognise come back with only their case and units tidied.
pub fn medication_name(rx: &str) -> String {
    let mut words: Vec<String> = rx.split_whitespace().map(str::to_owned).collect();
    // "24 HR" / "12 HR" prefixes: the release form says it.
    if words.len() > 2 && words[1].eq_ignore_ascii_case("hr") && words[0].bytes().all(|b| b.is_ascii_digit()) {
        words.drain(..2);
    }
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let joined = lower.join(" ");
    let form = [
        ("extended release oral tablet", "extended-release tablet"),
        ("extended release oral capsule", "extended-release capsule"),
        ("delayed release oral tablet", "delayed-release tablet"),
        ("delayed release oral capsule", "delayed-release capsule"),
        ("oral tablet", "tablet"),
        ("oral capsule", "capsule"),
        ("chewable tablet", "chewable tablet"),
        ("oral solution", "liquid"),
        ("oral suspension", "liquid"),
        ("inhalation powder", "inhaler"),
        ("metered dose inhaler", "inhaler"),
        ("topical cream", "cream"),
        ("injectable solution", "injection"),
        ("prefilled syringe", "injection"),
    ]
    .iter()
    .find(|(long, _)| joined.ends_with(long))
    .map(|(long, short)| (long.split(' ').count(), *short));
    let (body, form) = match form {
        Some((n, short)) if lower.len() > n => (&lower[..lower.len() - n], Some(short)),
        _ => (&lower[..], None),
    };
    let mut out: Vec<String> = Vec::new();
    for w in body {
        if SALTS.contains(&w.as_str()) {
            continue;
        }
        out.push(match w.as_str() {
            "mg" => "mg".into(),
            "ml" => "mL".into(),
            "mcg" => "mcg".into(),
            "mg/ml" => "mg/mL".into(),
            "unt/ml" => "units/mL".into(),
            "unt" => "units".into(),
            _ => w.clone(),
        });
    }
    if let Some(f) = form {
        out.push(f.to_owned());
    }
    let mut s = out.join(" ");
    // `get(..1)` is a first byte that is a whole character: ASCII, whose case mapping is ASCII's.
    if let Some(first) = s.get(..1) {
        s = first.to_ascii_uppercase() + &s[1..];
    }
    if s.is_empty() { rx.to_owned() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rxnorm_names_read_as_a_patient_would_say_them() {
        for (rx, plain) in [
            ("24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", "Metformin 500 mg extended-release tablet"),
            ("lisinopril 10 MG Oral Tablet", "Lisinopril 10 mg tablet"),
            ("atorvastatin 20 MG Oral Tablet", "Atorvastatin 20 mg tablet"),
            ("amlodipine besylate 5 MG Oral Tablet", "Amlodipine 5 mg tablet"),
            ("amoxicillin 250 MG/ML Oral Suspension", "Amoxicillin 250 mg/mL liquid"),
            ("insulin glargine 100 UNT/ML Injectable Solution", "Insulin glargine 100 units/mL injection"),
            ("Acetaminophen", "Acetaminophen"),
        ] {
            assert_eq!(medication_name(rx), plain, "{rx}");
        }
    }

    #[test]
    fn text_then_form_options_then_simplified_display() {
        use intake_fhir::{Coding, Value};
        let cc = |text: Option<&str>| CodeableConcept {
            text: text.map(str::to_owned),
            coding: vec![Coding::new(RXNORM, "314076", "lisinopril 10 MG Oral Tablet")],
            ..Default::default()
        };
        assert_eq!(for_patient(&cc(Some("Lisinopril (blood pressure)")), &[], "en"), "Lisinopril (blood pressure)");
        assert_eq!(for_patient(&cc(Some("lisinopril 10 MG Oral Tablet")), &[], "en"), "Lisinopril 10 mg tablet", "a text that repeats the display");
        assert_eq!(for_patient(&cc(None), &[], "en"), "Lisinopril 10 mg tablet");
        let option = AnswerChoice {
            value: Value::Coding(Coding::new(RXNORM, "314076", "lisinopril")),
            label: "Lisinopril".into(),
            designations: vec![(Some("es".into()), "Lisinopril (pastilla)".into())],
            initial_selected: false,
            exclusive: false,
            prefix: None,
            rendering: None,
        };
        assert_eq!(for_patient(&cc(None), std::slice::from_ref(&option), "es"), "Lisinopril (pastilla)");
        assert_eq!(for_patient(&cc(None), std::slice::from_ref(&option), "en"), "Lisinopril");
    }
}
