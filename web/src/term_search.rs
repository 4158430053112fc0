//! Type-ahead search through the portal's terminology service, for a choice question whose
//! value set the form could not list (see `intake_engine::value_set`).
//!
//! The component never makes a network request: it calls the host's
//! `expandValueSet({ url, filter, count, language })`, which returns (a Promise of) a ValueSet
//! with an `expansion`. Typing waits for a pause before asking; a slower answer to an older
//! question is dropped; "searching" is announced politely. Whatever happens to the search, the
//! words the patient typed stay in the field and are sent as free text (flagged for coding by
//! the write-back) unless the patient picks a match, which is sent as its coding.

use std::cell::Cell;
use std::rc::Rc;

use intake_engine::fhir::{Json, Value};
use intake_engine::questionnaire::{AnswerChoice, ItemDef};
use intake_engine::session::NodeId;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::state::{NodeVm, Ui, UiRef};
use crate::view::{Described, Invalid, Required};

/// Pause after the last keystroke before asking the host.
const DEBOUNCE_MS: i32 = 250;
/// How many matches to ask for.
const COUNT: u32 = 20;
/// Fewer letters than this are not searched (every code system matches "a").
const MIN_LETTERS: usize = 2;

#[derive(Clone, PartialEq)]
enum Status {
    Idle,
    Searching,
    Found(usize),
    None,
    Failed,
}

/// One search field's moving parts.
struct Search {
    results: RwSignal<Vec<AnswerChoice>>,
    status: RwSignal<Status>,
    timer: Cell<Option<i32>>,
    /// Which request is the latest: an older one answering late is ignored.
    generation: Cell<u32>,
}

/// The request the host's callback receives.
fn request(url: &str, filter: &str, lang: &str) -> JsValue {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &k.into(), &v);
    };
    set("url", url.into());
    set("filter", filter.into());
    set("count", COUNT.into());
    set("language", lang.into());
    o.into()
}

/// The matches in what the host answered (a ValueSet with `expansion.contains`).
fn read_expansion(v: &JsValue) -> Result<Vec<AnswerChoice>, String> {
    let text = js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string()).ok_or("expandValueSet resolved to something that is not JSON")?;
    let json: Json = serde_json::from_str(&text).map_err(|e| format!("expandValueSet: {e}"))?;
    if json.get("resourceType").and_then(Json::as_str) != Some("ValueSet") {
        return Err("expandValueSet must resolve to a FHIR ValueSet with an expansion".into());
    }
    intake_engine::value_set::options_of_expansion(&json).map_err(|e| format!("expandValueSet: {e}"))
}

impl Ui {
    /// Ask the host's terminology service; `done` gets the matches or a developer message.
    fn expand_value_set(&self, f: &js_sys::Function, url: &str, filter: &str, done: impl FnOnce(Result<Vec<AnswerChoice>, String>) + 'static) {
        let ret = match f.call1(&JsValue::NULL, &request(url, filter, self.lang)) {
            Ok(r) => r,
            Err(e) => return done(Err(format!("expandValueSet threw: {}", describe(&e)))),
        };
        crate::api::when_settled(ret, move |r| {
            done(match r {
                Ok(v) => read_expansion(&v),
                Err(e) => Err(format!("expandValueSet rejected: {}", describe(&e))),
            })
        });
    }
}

fn describe(e: &JsValue) -> String {
    crate::api::js_message(e).unwrap_or_else(|| "(no message)".into())
}

/// The search field for item `def` at node `n`: a text input with the host's matches as a
/// datalist. `f` is the host's `expandValueSet`.
#[allow(clippy::too_many_arguments)]
pub fn control(
    r: UiRef,
    n: NodeId,
    def: &ItemDef,
    id: String,
    list_id: String,
    status_id: String,
    f: js_sys::Function,
    described: impl Described,
    invalid: impl Invalid,
    required: impl Required,
) -> AnyView {
    let u = r.get_value();
    let t = u.text;
    let vm: RwSignal<NodeVm> = u.vm(n);
    let url = def.options_fallback.as_ref().map(|fb| fb.value_set.clone()).unwrap_or_default();
    let search = Rc::new(Search {
        results: RwSignal::new(def.options.clone()),
        status: RwSignal::new(Status::Idle),
        timer: Cell::new(None),
        generation: Cell::new(0),
    });
    let (results, status) = (search.results, search.status);
    let shown = move || {
        vm.with(|v| {
            v.draft.clone().or_else(|| v.answers.first().map(|a| match a {
                Value::Coding(c) => c.display.clone().or_else(|| c.code.clone()).unwrap_or_default(),
                other => other.display(),
            }))
        })
        .unwrap_or_default()
    };
    let s_input = search.clone();
    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        r.get_value().typing(n, text.clone());
        let s = s_input.clone();
        let Some(w) = web_sys::window() else { return };
        if let Some(h) = s.timer.take() {
            w.clear_timeout_with_handle(h);
        }
        let generation = s.generation.get().wrapping_add(1);
        s.generation.set(generation);
        if text.trim().chars().count() < MIN_LETTERS {
            s.status.set(Status::Idle);
            return;
        }
        let (f, url) = (f.clone(), url.clone());
        let s2 = s.clone();
        let ask = wasm_bindgen::closure::Closure::once_into_js(move || {
            // The form may be gone by the time the pause is over: then nothing is asked.
            let Some(ui) = r.try_get_value() else { return };
            s2.timer.set(None);
            s2.status.set(Status::Searching);
            let s3 = s2.clone();
            let ui2 = ui.clone();
            ui.expand_value_set(&f, &url, text.trim(), move |res| {
                if s3.generation.get() != generation {
                    return;
                }
                match res {
                    Ok(found) => {
                        s3.status.set(if found.is_empty() { Status::None } else { Status::Found(found.len()) });
                        s3.results.set(found);
                    }
                    Err(msg) => {
                        // The patient keeps their words; the developer hears why.
                        s3.status.set(Status::Failed);
                        ui2.error(&msg);
                    }
                }
            });
        });
        if let Ok(h) = w.set_timeout_with_callback_and_timeout_and_arguments_0(ask.unchecked_ref(), DEBOUNCE_MS) {
            s.timer.set(Some(h));
        }
    };
    let on_change = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let picked = results.with_untracked(|rs| rs.iter().find(|o| o.label == text.trim()).map(|o| o.value.clone()));
        match picked {
            Some(v) => r.get_value().answer(n, vec![v]),
            None => r.get_value().answer_text(n, text),
        }
    };
    let status_text = move || match status.get() {
        Status::Idle => String::new(),
        Status::Searching => t.searching.to_owned(),
        Status::Found(k) => format!("{k} {}", t.search_found),
        Status::None => t.search_none.to_owned(),
        Status::Failed => t.search_failed.to_owned(),
    };
    let sid = status_id.clone();
    let describe_all = move || Some(described().map(|d| format!("{d} {sid}")).unwrap_or_else(|| sid.clone()));
    view! {
        <input type="text" id=id list=list_id.clone() prop:value=shown autocomplete="off" placeholder=t.type_answer
            aria-describedby=describe_all aria-invalid=invalid aria-required=move || required().then_some("true")
            on:input=on_input on:change=on_change />
        <datalist id=list_id>
            {move || results.get().into_iter().map(|o| view! { <option value=o.label.clone()></option> }).collect_view()}
        </datalist>
        <p class="ik-search-status" id=status_id role="status" aria-live="polite">{status_text}</p>
    }
    .into_any()
}
