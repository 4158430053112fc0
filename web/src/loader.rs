//! Turning what a host passes (a visit type as JSON: its Questionnaire, manifest and rules as
//! text, or a bare Questionnaire) into a loaded visit type and a chart, with clear errors.

use std::rc::Rc;

use intake_engine::fhir::json::Node;
use intake_engine::fhir::Json;
use intake_engine::rules::RuleSource;
use intake_engine::value_set::ValueSetLibrary;
use intake_engine::visit_type::{Manifest, VisitTypeSource};
use intake_engine::{Chart, Form, FormError, VisitType};

fn join(ds: Vec<intake_engine::Diagnostic>) -> String {
    ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

/// ValueSets from a JS-side array (the host's `valueSets` option, a catalog entry's
/// `valueSets`) added to `lib`; `what` names the array in errors (`options.valueSets`).
pub fn add_value_sets(lib: &mut ValueSetLibrary, list: Option<&Json>, what: &str) -> Result<(), String> {
    match list {
        None | Some(Json::Null) => Ok(()),
        Some(Json::Array(items)) => {
            for (i, vs) in items.iter().enumerate() {
                lib.add_any(vs, &format!("{what}[{i}]")).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        Some(_) => Err(format!("{what} must be an array of FHIR ValueSets")),
    }
}

/// A visit type as `intake catalog` writes it: `{ id, manifest, questionnaire, rules: {name: text},
/// valueSets? }`. `host` holds the host's own ValueSets, which come before the visit type's.
///
/// Read from the entry's [`Node`] tree (its strings borrowed from the text), not a
/// `serde_json::Value`: the form inside is most of it (see `Form::from_node_with`).
pub fn catalog_visit_type(entry: &Node<'_>, host: &ValueSetLibrary) -> Result<VisitType, String> {
    let mut library = host.clone();
    add_value_sets(&mut library, entry.get("valueSets").map(Node::to_json).as_ref(), "visitType.valueSets")?;
    let questionnaire = entry.get("questionnaire").ok_or("visitType.questionnaire is missing")?;
    let manifest_text = entry.get("manifest").map(|m| m.to_json().to_string());
    let rules = match entry.get("rules") {
        Some(Node::Object(m)) => m
            .iter()
            .map(|(k, v)| v.as_str().map(|t| (k.to_string(), t.to_owned())).ok_or_else(|| format!("visitType.rules.{k} must be the script text")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("visitType.rules must map rule file names to script text".into()),
        None => Vec::new(),
    };
    // The questionnaire is already parsed: index it directly (re-serialising and re-parsing a
    // large form costs a patient's phone tens of milliseconds).
    let form = Form::from_node_with(questionnaire, &library).map_err(|e| e.to_string())?;
    let rule_sources: Vec<RuleSource> = rules.into_iter().map(|(name, text)| RuleSource { name, text }).collect();
    match manifest_text {
        Some(m) => {
            let manifest = Manifest::from_text("manifest", &m).map_err(|d| d.to_string())?;
            let ordered = order_rules(&manifest, &rule_sources)?;
            let src = VisitTypeSource {
                manifest_file: "manifest".into(),
                manifest_text: m,
                questionnaire_file: "questionnaire".into(),
                questionnaire_text: String::new(),
                rules: ordered,
                value_sets: library.clone(),
            };
            VisitType::assemble(manifest, form, &src).map_err(join)
        }
        None => VisitType::from_form(form, &rule_sources).map_err(join),
    }
}

/// The rules a manifest lists, in its order, from the scripts the host gave.
fn order_rules(manifest: &Manifest, rules: &[RuleSource]) -> Result<Vec<RuleSource>, String> {
    manifest
        .rules
        .iter()
        .map(|n| {
            rules
                .iter()
                .find(|r| &r.name == n || r.name.ends_with(&format!("/{n}")))
                .map(|r| RuleSource { name: format!("rules/{n}"), text: r.text.clone() })
                .ok_or_else(|| format!("manifest lists rule '{n}', but no rule of that name was given"))
        })
        .collect()
}

/// A host's own visit type: a Questionnaire (JSON text), optionally a manifest (JSON text) and
/// rule scripts by file name. Without a manifest the form runs with no rules' gating of lists
/// and writes back only the response.
///
/// `questionnaire` is taken: a bare form with expressions keeps its JSON tree for
/// `%questionnaire`, and its text is let go once that is parsed, before the form is read (MBS
/// 715's, as the package passes it, is 627 KB); `text_again` gives it back only to say where an
/// error is. A form without expressions is read from a tree borrowing the text
/// (`Form::from_text_with`), and the text goes after. With a manifest, the text moves into the
/// visit type's source.
pub fn host_visit_type(
    questionnaire: String,
    text_again: &dyn Fn() -> String,
    manifest: Option<&str>,
    rules: Vec<(String, String)>,
    library: &ValueSetLibrary,
) -> Result<VisitType, String> {
    let rules: Vec<RuleSource> = rules.into_iter().map(|(name, text)| RuleSource { name, text }).collect();
    match manifest {
        Some(m) => {
            let manifest_parsed = Manifest::from_text("manifest", m).map_err(|d| d.to_string())?;
            let ordered = order_rules(&manifest_parsed, &rules)?;
            let src = VisitTypeSource {
                manifest_file: "manifest".into(),
                manifest_text: m.to_owned(),
                questionnaire_file: "questionnaire".into(),
                questionnaire_text: questionnaire,
                rules: ordered,
                value_sets: library.clone(),
            };
            VisitType::load(&src).map_err(join)
        }
        None => {
            let located = |text: &str, e: &FormError| intake_engine::visit_type::form_diagnostic("questionnaire", text, e).to_string();
            let form = if Form::keeps_its_json(&questionnaire) {
                let json = intake_engine::fhir::json::parse_text(&questionnaire).map_err(|e| located(&questionnaire, &e.into()))?;
                drop(questionnaire);
                Form::from_value_with(json, library).map_err(|e| located(&text_again(), &e))?
            } else {
                Form::from_text_with(&questionnaire, library).map_err(|e| located(&questionnaire, &e))?
            };
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
