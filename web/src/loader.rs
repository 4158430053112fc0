//! Turning what a host passes (an embedded visit type id, or its own Questionnaire, manifest
//! and rules as JSON/text) into a loaded visit type and a chart, with clear errors.

use std::rc::Rc;

use intake_engine::fhir::Json;
use intake_engine::rules::RuleSource;
use intake_engine::visit_type::{Manifest, VisitTypeSource};
use intake_engine::{Chart, Form, VisitType};

/// A shipped visit type, embedded at build time.
pub struct Embedded {
    pub id: &'static str,
    pub manifest: &'static str,
    pub questionnaire: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Ids of the embedded visit types.
pub fn visit_type_ids() -> Vec<&'static str> {
    VISIT_TYPES.iter().map(|v| v.id).collect()
}

/// Ids of the embedded demo charts.
pub fn chart_ids() -> Vec<&'static str> {
    CHARTS.iter().map(|c| c.0).collect()
}

pub fn embedded_chart(id: &str) -> Option<&'static str> {
    CHARTS.iter().find(|c| c.0 == id).map(|c| c.1)
}

fn join(ds: Vec<intake_engine::Diagnostic>) -> String {
    ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// An embedded visit type by id.
pub fn embedded_visit_type(id: &str) -> Result<VisitType, String> {
    let e = VISIT_TYPES
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(|| format!("unknown visit type '{id}' (available: {})", visit_type_ids().join(", ")))?;
    let manifest = Manifest::from_text(&format!("visit-types/{id}/manifest.json"), e.manifest).map_err(|d| d.to_string())?;
    let rules = manifest
        .rules
        .iter()
        .map(|name| {
            RULES
                .iter()
                .find(|r| r.0 == name)
                .map(|r| RuleSource { name: format!("rules/{name}"), text: r.1.to_owned() })
                .ok_or_else(|| format!("visit type '{id}' lists rule '{name}', which is not embedded"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let src = VisitTypeSource {
        manifest_file: format!("visit-types/{id}/manifest.json"),
        manifest_text: e.manifest.to_owned(),
        questionnaire_file: format!("visit-types/{id}/questionnaire.json"),
        questionnaire_text: e.questionnaire.to_owned(),
        rules,
    };
    VisitType::load(&src).map_err(join)
}

/// A host's own visit type: a Questionnaire (JSON text), optionally a manifest (JSON text) and
/// rule scripts by file name. Without a manifest the form runs with no rules' gating of lists
/// and writes back only the response.
pub fn host_visit_type(questionnaire: &str, manifest: Option<&str>, rules: Vec<(String, String)>) -> Result<VisitType, String> {
    let rules: Vec<RuleSource> = rules.into_iter().map(|(name, text)| RuleSource { name, text }).collect();
    match manifest {
        Some(m) => {
            let manifest_parsed = Manifest::from_text("manifest", m).map_err(|d| d.to_string())?;
            let ordered: Vec<RuleSource> = manifest_parsed
                .rules
                .iter()
                .map(|n| {
                    rules
                        .iter()
                        .find(|r| &r.name == n || r.name.ends_with(&format!("/{n}")))
                        .cloned()
                        .ok_or_else(|| format!("manifest lists rule '{n}', but no rule of that name was given"))
                })
                .collect::<Result<_, _>>()?;
            let src = VisitTypeSource {
                manifest_file: "manifest".into(),
                manifest_text: m.to_owned(),
                questionnaire_file: "questionnaire".into(),
                questionnaire_text: questionnaire.to_owned(),
                rules: ordered,
            };
            VisitType::load(&src).map_err(join)
        }
        None => {
            let form = Form::from_text(questionnaire)
                .map_err(|e| intake_engine::visit_type::form_diagnostic("questionnaire", questionnaire, &e).to_string())?;
            VisitType::from_form(form, &rules).map_err(join)
        }
    }
}

/// A chart from JSON text (a Bundle, or a lone Patient).
pub fn chart(text: &str) -> Result<Rc<Chart>, String> {
    Chart::from_text(text).map(Rc::new).map_err(|e| e.to_string())
}

/// A chart from a JS value: a string of JSON, or an object (serialised first).
pub fn json_text(v: &wasm_bindgen::JsValue) -> Option<String> {
    if let Some(s) = v.as_string() {
        return Some(s);
    }
    if v.is_object() {
        return js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string());
    }
    None
}

/// Parse JSON text into a tree (for answers snapshots).
pub fn parse(text: &str) -> Option<Json> {
    serde_json::from_str(text).ok()
}
