//! Shared fixtures for the fuzz targets: a real visit type and chart from the repository, so
//! the inputs being fuzzed meet the engine as a patient's session would.

use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::DateTime;
use intake_engine::rules::RuleSource;
use intake_engine::visit_type::{Manifest, VisitTypeSource};
use intake_engine::{Chart, Session, VisitType};

pub const NOW: &str = "2026-11-20T09:00:00-05:00";

pub fn now() -> DateTime {
    DateTime::parse(NOW).expect("fixed time")
}

thread_local! {
    static HYPERTENSION: Rc<VisitType> = load_hypertension();
    static MARIA: Rc<Chart> =
        Rc::new(Chart::from_text(include_str!("../../web/demo/charts/maria-hernandez.json")).expect("demo chart"));
}

/// The hypertension follow-up visit type, as shipped (loaded once per thread: the fuzzed input
/// is what changes, not the fixture).
pub fn hypertension() -> Rc<VisitType> {
    HYPERTENSION.with(Rc::clone)
}

fn load_hypertension() -> Rc<VisitType> {
    let manifest_text = include_str!("../../visit-types/hypertension-follow-up/manifest.json");
    let manifest = Manifest::from_text("manifest.json", manifest_text).expect("shipped manifest");
    let rules = manifest
        .rules
        .iter()
        .map(|name| RuleSource {
            name: name.clone(),
            text: match name.as_str() {
                "hypertension.rhai" => include_str!("../../rules/hypertension.rhai"),
                "medication-adherence.rhai" => include_str!("../../rules/medication-adherence.rhai"),
                "allergy-safety.rhai" => include_str!("../../rules/allergy-safety.rhai"),
                other => panic!("rule {other} not embedded in the fuzz fixtures"),
            }
            .to_owned(),
        })
        .collect();
    let src = VisitTypeSource {
        manifest_file: "manifest.json".into(),
        manifest_text: manifest_text.into(),
        questionnaire_file: "questionnaire.json".into(),
        questionnaire_text: include_str!("../../visit-types/hypertension-follow-up/questionnaire.json").into(),
        rules,
        value_sets: Default::default(),
    };
    Rc::new(VisitType::load(&src).expect("shipped visit type loads"))
}

/// María's demo chart.
pub fn maria() -> Rc<Chart> {
    MARIA.with(Rc::clone)
}

pub fn session(vt: &Rc<VisitType>, chart: &Rc<Chart>) -> Option<Session> {
    Session::new(vt.clone(), chart.clone(), VisitContext::default(), now(), "fuzz").ok()
}

/// Everything a session emits, built and written (panics and hangs are what we look for).
pub fn emit_all(s: &Session) {
    let qr = intake_engine::response::build(s, intake_engine::response::Status::InProgress);
    let _ = intake_engine::fhir::ToJson::to_json(&qr);
    if let Ok(wb) = intake_engine::extract::bundle(s) {
        let _ = wb.to_json_string();
    }
    let _ = intake_engine::answers_file::to_text(&intake_engine::answers_file::snapshot(s));
}
