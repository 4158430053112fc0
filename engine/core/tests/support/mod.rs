//! Helpers to build small visit types and sessions inline.
#![allow(dead_code)]

pub mod rng;

use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::{DateTime, Json};
use intake_engine::rules::RuleSource;
use intake_engine::visit_type::{Diagnostic, VisitTypeSource};
use intake_engine::{Chart, Form, Session, VisitType};
use serde_json::json;

pub fn now() -> DateTime {
    DateTime::parse("2026-11-20T09:00:00Z").unwrap()
}

/// A chart with one patient of this birth date and sex.
pub fn chart_of(birth: &str, gender: &str) -> Rc<Chart> {
    let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Patient", "id": "p1", "birthDate": birth, "gender": gender,
        "name": [{"use": "official", "family": "Test", "given": ["Pat"]}]}}]});
    Rc::new(Chart::from_json(&b).unwrap())
}

pub fn chart() -> Rc<Chart> {
    chart_of("1970-01-01", "female")
}

pub fn questionnaire(items: Json) -> Json {
    json!({"resourceType": "Questionnaire", "id": "t", "status": "active", "url": "http://example.org/Questionnaire/t", "item": items})
}

/// Load a visit type from a questionnaire, rules `(name, text)` and optional manifest fields.
pub fn try_visit_type(q: Json, rules: &[(&str, &str)], manifest_extra: Json) -> Result<VisitType, Vec<Diagnostic>> {
    let mut manifest = json!({"id": "t", "title": "Test", "questionnaire": "q.json",
        "rules": rules.iter().map(|(n, _)| *n).collect::<Vec<_>>()});
    if let (Json::Object(m), Json::Object(extra)) = (&mut manifest, manifest_extra) {
        m.extend(extra);
    }
    let src = VisitTypeSource {
        manifest_file: "manifest.json".into(),
        manifest_text: serde_json::to_string_pretty(&manifest).unwrap(),
        questionnaire_file: "q.json".into(),
        questionnaire_text: serde_json::to_string_pretty(&q).unwrap(),
        rules: rules.iter().map(|(n, t)| RuleSource { name: n.to_string(), text: t.to_string() }).collect(),
        value_sets: Default::default(),
    };
    VisitType::load(&src)
}

pub fn visit_type(q: Json, rules: &[(&str, &str)]) -> Rc<VisitType> {
    Rc::new(try_visit_type(q, rules, json!({})).unwrap_or_else(|d| panic!("{d:?}")))
}

pub fn session(vt: &Rc<VisitType>) -> Session {
    Session::new(vt.clone(), chart(), VisitContext::default(), now(), "test-session").unwrap()
}

pub fn form(items: Json) -> Form {
    Form::from_json(&questionnaire(items)).unwrap()
}

/// Is any node of this linkId enabled?
pub fn shown(s: &Session, link_id: &str) -> bool {
    let item = s.form().find(link_id).unwrap();
    s.nodes_of(item).iter().any(|n| s.node(*n).unwrap().state.enabled)
}
