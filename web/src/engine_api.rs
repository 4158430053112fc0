//! The engine without the form, for vendors with their own UI: `createSession(options)` gives
//! a session to answer, read item states from (shown, required, reason, errors, on file), and
//! get the QuestionnaireResponse and the write-back Bundle from. JSON in, JSON out.

use std::collections::HashMap;

use intake_engine::answers_file::{self, answer_json};
use intake_engine::explain::why_text;
use intake_engine::extract;
use intake_engine::fhir::{Json, WriteJson};
use intake_engine::response::{self, Status};
use intake_engine::session::NodeId;
use intake_engine::Session;
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{prepare, random_id, Prepared};

fn err(msg: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&msg.to_string()).into()
}

fn parse_out(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
}

/// An intake session driven by the host's own interface.
#[wasm_bindgen]
pub struct EngineSession {
    session: Session,
    lang: String,
    /// Saved entries that could not be restored (the snapshot itself stays with the host).
    restore_problems: Vec<String>,
}

/// Start a session: the same options as `mount` (visitType or questionnaire, chart, locale,
/// context, subject, now, sessionId), plus `saved` (a snapshot to resume from).
#[wasm_bindgen(js_name = createSession)]
pub fn create_session(options: JsValue) -> Result<EngineSession, JsValue> {
    let Prepared { vt, chart, context, now, lang } = prepare(&options).map_err(err)?;
    let get = |k: &str| js_sys::Reflect::get(&options, &k.into()).unwrap_or(JsValue::UNDEFINED);
    // `saved`: the same rules as mount's autosave (see `resume`): it must name this patient
    // and visit type, and its session id is kept so identifiers stay stable across a resume.
    let saved = get("saved");
    let saved: Option<Json> = if saved.is_object() {
        let text = js_sys::JSON::stringify(&saved).ok().and_then(|s| s.as_string()).unwrap_or_default();
        let json: Json = serde_json::from_str(&text).map_err(|e| err(format!("options.saved: {e}")))?;
        if let Some(p) = crate::resume::owner_problem(&json, &chart, &vt) {
            return Err(err(format!("options.saved: {p}")));
        }
        Some(json)
    } else if saved.is_undefined() || saved.is_null() {
        None
    } else {
        return Err(err("options.saved: expected the object snapshot() returned"));
    };
    let saved_id = saved.as_ref().and_then(crate::resume::session_id);
    let session_id = match (get("sessionId").as_string(), saved_id) {
        (Some(given), Some(saved)) if given != saved => {
            return Err(err(format!(
                "options.sessionId is {given}, but options.saved belongs to session {saved}; resuming under another id would duplicate the submission"
            )))
        }
        (Some(given), _) => given,
        (None, Some(saved)) => saved,
        (None, None) => random_id(),
    };
    let mut session = Session::new(vt, chart, context, now, &session_id).map_err(err)?;
    let restore_problems = match &saved {
        Some(json) => crate::resume::restore_answers(&mut session, json),
        None => Vec::new(),
    };
    if let Ok(f) = get("onError").dyn_into::<js_sys::Function>() {
        for p in &restore_problems {
            let _ = f.call1(&JsValue::NULL, &err(p));
        }
    }
    Ok(EngineSession { session, lang, restore_problems })
}

#[wasm_bindgen]
impl EngineSession {
    /// Every item in document order: `{ key, linkId, type, text, depth, parent, shown, required,
    /// reason, errors: [{code, message}], answers, onFile, prefilled, repeats, options }`.
    pub fn items(&self) -> JsValue {
        let s = &self.session;
        let keys: HashMap<NodeId, String> = s.preorder().into_iter().map(|n| (n, s.node_key(n))).collect();
        let items: Vec<Json> = s
            .preorder()
            .into_iter()
            .filter_map(|n| {
                let node = s.node(n)?;
                let def = s.def(n);
                let st = &node.state;
                Some(json!({
                    "key": keys.get(&n),
                    "linkId": def.link_id,
                    "type": def.item_type.code(),
                    "text": def.text.as_ref().map(|t| t.in_lang(&self.lang).to_owned()),
                    "depth": def.depth,
                    "parent": node.parent.and_then(|p| keys.get(&p)),
                    "shown": st.enabled && !def.hidden,
                    "enabled": st.enabled,
                    "required": st.required,
                    "reason": st.why.as_ref().map(|w| why_text(s.form(), w, &self.lang)),
                    "errors": st.errors.iter().map(|e| json!({"code": e.code(), "message": e.message(&self.lang)})).collect::<Vec<_>>(),
                    "answers": node.answers.iter().map(answers_file::value_json).collect::<Vec<_>>(),
                    "onFile": node.on_file.as_ref().map(|o| json!({"reference": o.reference, "summary": o.summary})),
                    "prefilled": node.prefilled.as_ref().is_some_and(|p| !p.values.is_empty() && p.values == node.answers),
                    "repeats": def.repeats,
                    "options": def.options.iter().map(|o| json!({"value": answers_file::value_json(&o.value), "label": o.label})).collect::<Vec<_>>(),
                }))
            })
            .collect();
        parse_out(&Json::Array(items).to_string())
    }

    fn node(&self, key: &str) -> Result<NodeId, JsValue> {
        let s = &self.session;
        if let Some(n) = s.preorder().into_iter().find(|n| s.node_key(*n) == key) {
            return Ok(n);
        }
        s.node_of_link_id(key).map_err(err)
    }

    /// Answer an item (by linkId, or by key inside repeating rows) with answers-file JSON: a
    /// value, an array of values, or null to clear. Returns the keys of items that changed.
    pub fn answer(&mut self, key: &str, value: JsValue) -> Result<JsValue, JsValue> {
        let node = self.node(key)?;
        let text = if value.is_undefined() { "null".into() } else { js_sys::JSON::stringify(&value).ok().and_then(|s| s.as_string()).unwrap_or_default() };
        let json: Json = serde_json::from_str(&text).map_err(err)?;
        let changes = answer_json(&mut self.session, node, &json).map_err(err)?;
        let mut nodes = changes.nodes;
        nodes.sort_unstable();
        nodes.dedup();
        let changed: Vec<String> = nodes.into_iter().filter(|n| self.session.node(*n).is_some()).map(|n| self.session.node_key(n)).collect();
        Ok(parse_out(&json!(changed).to_string()))
    }

    /// Add a row to a repeating group; returns the new row's key.
    #[wasm_bindgen(js_name = addRow)]
    pub fn add_row(&mut self, group: &str, parent_key: Option<String>) -> Result<String, JsValue> {
        let item = self.session.form().find(group).ok_or_else(|| err(format!("'{group}' is not an item")))?;
        let parent = match parent_key {
            Some(k) => Some(self.node(&k)?),
            None => {
                let parent_item = self.session.form().item(item).parent;
                match parent_item {
                    Some(p) => self.session.nodes_of(p).first().copied(),
                    None => None,
                }
            }
        };
        let (row, _) = self.session.add_row(parent, item).map_err(err)?;
        Ok(self.session.node_key(row))
    }

    /// Remove a row the patient added.
    #[wasm_bindgen(js_name = removeRow)]
    pub fn remove_row(&mut self, row_key: &str) -> Result<(), JsValue> {
        let row = self.node(row_key)?;
        self.session.remove_row(row).map(|_| ()).map_err(err)
    }

    /// The QuestionnaireResponse (status in-progress).
    pub fn response(&self) -> JsValue {
        parse_out(&response::build(&self.session, Status::InProgress).to_json_string())
    }

    /// The write-back transaction Bundle; throws, naming the items, while answers are missing
    /// or invalid.
    pub fn bundle(&self) -> Result<JsValue, JsValue> {
        extract::bundle(&self.session).map(|wb| parse_out(&wb.to_json_string())).map_err(err)
    }

    /// Items that block submit: `[{ key, linkId, errors }]`.
    pub fn problems(&self) -> JsValue {
        let p: Vec<Json> = extract::submit_problems(&self.session)
            .into_iter()
            .map(|i| json!({"key": i.key, "linkId": i.link_id, "errors": i.errors.iter().map(|e| e.message(&self.lang)).collect::<Vec<_>>()}))
            .collect();
        parse_out(&Json::Array(p).to_string())
    }

    /// Saved entries `createSession({ saved })` could not restore (everything else was).
    #[wasm_bindgen(js_name = restoreProblems)]
    pub fn restore_problems(&self) -> JsValue {
        parse_out(&json!(self.restore_problems).to_string())
    }

    /// Errors of rules that failed (the session showed what they could ask).
    #[wasm_bindgen(js_name = ruleErrors)]
    pub fn rule_errors(&self) -> JsValue {
        let e: Vec<String> = self.session.rule_errors().iter().map(|e| e.to_string()).collect();
        parse_out(&json!(e).to_string())
    }

    /// The answers snapshot (pass it back as `saved` to resume).
    pub fn snapshot(&self) -> JsValue {
        let text = answers_file::snapshot_text(&self.session, None, &[]);
        parse_out(&text)
    }

    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.session.id().to_owned()
    }
}
