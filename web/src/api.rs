//! The JavaScript API: `mount(element, options)` returns a handle. The host passes the visit type
//! (Questionnaire, manifest, rules: JSON/text, e.g. from `intake catalog`) and the chart; nothing
//! is built into the wasm. Errors are thrown as JS `Error`s with a message naming the problem,
//! and are also shown in the element, so a host never gets a blank page.

use std::any::Any;
use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::{DateTime, Json};
use intake_engine::response::Status;
use intake_engine::Session;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::i18n::strings;
use crate::loader;
use crate::state::{Callbacks, Ui};
use crate::storage::{Host, Local, Memory, Storage};

fn get(opts: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(opts, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn func(opts: &JsValue, key: &str) -> Option<js_sys::Function> {
    get(opts, key).dyn_into::<js_sys::Function>().ok()
}

/// The message of something a host's callback threw or rejected with: an Error's message, a
/// thrown string, or an object's `message`.
pub(crate) fn js_message(e: &JsValue) -> Option<String> {
    e.dyn_ref::<js_sys::Error>()
        .map(|x| String::from(x.message()))
        .or_else(|| e.as_string())
        .or_else(|| js_sys::Reflect::get(e, &"message".into()).ok().and_then(|m| m.as_string()))
}

/// Wait for what a host callback returned: a thenable (a Promise) settles `settled` with its
/// value or its reason (a `then` that throws counts as a rejection); anything else is the value
/// at once.
pub(crate) fn when_settled(ret: JsValue, settled: impl FnOnce(Result<JsValue, JsValue>) + 'static) {
    let then = js_sys::Reflect::get(&ret, &"then".into()).ok().and_then(|t| t.dyn_into::<js_sys::Function>().ok());
    let Some(then) = then.filter(|_| ret.is_object()) else { return settled(Ok(ret)) };
    let once = Rc::new(std::cell::Cell::new(Some(settled)));
    let (on_ok, on_err, on_throw) = (once.clone(), once.clone(), once);
    let ok = wasm_bindgen::closure::Closure::once_into_js(move |v: JsValue| {
        if let Some(f) = on_ok.take() {
            f(Ok(v))
        }
    });
    let err = wasm_bindgen::closure::Closure::once_into_js(move |e: JsValue| {
        if let Some(f) = on_err.take() {
            f(Err(e))
        }
    });
    if let Err(e) = then.call2(&ret, &ok, &err) {
        if let Some(f) = on_throw.take() {
            f(Err(e))
        }
    }
}

pub(crate) fn js_error(msg: &str) -> JsValue {
    js_sys::Error::new(msg).into()
}

/// A fresh random session id (UUID v4 form) from the browser's CSPRNG.
pub(crate) fn random_id() -> String {
    let mut b = [0u8; 16];
    if let Some(c) = web_sys::window().and_then(|w| w.crypto().ok()) {
        let _ = c.get_random_values_with_u8_array(&mut b);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn now_from(opts: &JsValue) -> Result<DateTime, String> {
    let text = get(opts, "now").as_string().unwrap_or_else(|| js_sys::Date::new_0().to_iso_string().into());
    DateTime::parse(&text).ok_or_else(|| format!("options.now: \"{text}\" is not an ISO date-time"))
}

/// A mounted intake form.
#[wasm_bindgen]
pub struct IntakeForm {
    ui: Rc<Ui>,
    handle: Option<Box<dyn Any>>,
    /// The view's handle on the form's state. Made outside the mounted view's owner, so it is
    /// freed here when the form goes (unmount, or the host freeing the form): kept, it held the
    /// whole session, and a page that mounts form after form in one instance (the demo switching
    /// visit types) grew by that much each time (MDS 3.0: 4 MB a mount).
    ui_ref: Option<crate::state::UiRef>,
}

impl Drop for IntakeForm {
    fn drop(&mut self) {
        self.release();
    }
}

impl IntakeForm {
    /// The form's view over `ui`, mounted in `element`; dropping the result takes it out again
    /// and frees what the view held (`release`). Used by `mount` and by the warm-up (`warm`).
    pub(crate) fn mount_view(element: web_sys::HtmlElement, ui: Rc<Ui>) -> IntakeForm {
        let ui_ref = StoredValue::new_local(ui.clone());
        #[cfg(feature = "alloc-stats")]
        crate::alloc_stats::mark("Ui::new");
        let handle = leptos::mount::mount_to(element, move || crate::view::form(ui_ref));
        #[cfg(feature = "alloc-stats")]
        crate::alloc_stats::mark("mounted");
        IntakeForm { ui, handle: Some(Box::new(handle)), ui_ref: Some(ui_ref) }
    }

    /// Take the form out of the page and free the view's handle on its state. Callbacks that
    /// may still arrive (a file read, a terminology search) find it gone and do nothing.
    fn release(&mut self) {
        self.handle.take();
        if let Some(r) = self.ui_ref.take() {
            r.dispose();
        }
    }
}

#[wasm_bindgen]
impl IntakeForm {
    /// The QuestionnaireResponse so far (status in-progress).
    #[wasm_bindgen(js_name = getResponse)]
    pub fn get_response(&self) -> JsValue {
        js_sys::JSON::parse(&self.ui.response_json(Status::InProgress)).unwrap_or(JsValue::NULL)
    }

    /// Submit: resolves to the write-back transaction Bundle (also passed to `onSubmit`).
    /// Throws, naming the items, if answers are missing or invalid.
    pub fn submit(&self) -> Result<JsValue, JsValue> {
        let text = self.ui.submit().map_err(|e| js_error(&e))?;
        js_sys::JSON::parse(&text)
    }

    /// Remove the form from the page (saved answers stay).
    pub fn unmount(&mut self) {
        self.release();
    }

    /// Forget the answers saved on this device (e.g. after the host confirmed the write-back).
    #[wasm_bindgen(js_name = clearSaved)]
    pub fn clear_saved(&self) {
        self.ui.clear_saved();
    }

    /// The session id: the same id makes a retried submit produce the same Bundle.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.ui.session.borrow().id().to_owned()
    }
}

thread_local! {
    /// Told of a panic before the instance traps (see `set_fatal_handler`).
    static ON_FATAL: std::cell::RefCell<Option<js_sys::Function>> = const { std::cell::RefCell::new(None) };
    /// Set by the panic hook: this instance failed and is being abandoned.
    static POISONED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Test builds only (`--features fault-injection`): the item whose answer panics.
    #[cfg(feature = "fault-injection")]
    static FAULT_ON: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// True once this instance has panicked.
pub(crate) fn poisoned() -> bool {
    POISONED.with(|p| p.get())
}

/// Fault injection for the package's crash-isolation test: a real panic, from a real answer,
/// in a dev build made for that test. Release builds do not contain it.
#[cfg(feature = "fault-injection")]
pub(crate) fn inject_fault(key: &str) {
    if FAULT_ON.with(|f| f.borrow().as_deref() == Some(key)) {
        panic!("injected fault on answering '{key}'");
    }
}

/// Whether this instance can still be used: false once it panicked. A trap without a panic
/// (stack exhausted) leaves the stack pointer where it was, so this call then traps too: the
/// shell treats a throw here the same as false.
#[wasm_bindgen]
pub fn health() -> bool {
    !poisoned() && std::hint::black_box(format!("{}", 42)).len() == 2
}

/// Report panics (bugs) on the console instead of a bare "unreachable" trap, and to the
/// package's shell, which starts the form again on a fresh instance.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            POISONED.with(|p| p.set(true));
            let message = format!("intake: internal error: {info}");
            web_sys::console::error_1(&message.as_str().into());
            ON_FATAL.with(|f| {
                if let Ok(f) = f.try_borrow() {
                    if let Some(f) = f.as_ref() {
                        let _ = f.call1(&JsValue::NULL, &message.into());
                    }
                }
            });
        }));
    });
}

/// The package's shell (`pkg/index.js`) runs each form and session in its own instance of
/// this module and registers here to hear of a panic. Panics abort (`panic = "abort"`): after
/// one, this instance's state cannot be trusted, so the shell must not call into it again,
/// and the handler must only schedule its work (it runs inside the panic).
#[wasm_bindgen(js_name = setFatalHandler)]
pub fn set_fatal_handler(handler: js_sys::Function) {
    install_panic_hook();
    ON_FATAL.with(|f| *f.borrow_mut() = Some(handler));
}

/// A calm "this form stopped working" in place of a form whose instance failed twice. Called
/// on a fresh instance; the technical message went to the host's `onError`.
#[wasm_bindgen(js_name = showStopped)]
pub fn show_stopped(element: web_sys::HtmlElement, locale: Option<String>) {
    let t = strings(locale.as_deref().unwrap_or_default());
    show_error(&element, t.error_title, t.stopped_body);
}

/// One step of the warm-up (`warm`): read, load, mount or answer a small built-in form off the page,
/// so the browser compiles the form's code before a form waits on it. Returns whether a step
/// remains. The package calls it on a throwaway instance, one step per idle period after
/// `init`, while the host fetches the patient's form and chart.
#[wasm_bindgen(js_name = warmUp)]
pub fn warm_up() -> bool {
    crate::warm::step()
}

/// Mount an intake form into `element`. See `pkg/README.md` for the options.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, options: JsValue) -> Result<IntakeForm, JsValue> {
    install_panic_hook();
    match build(&element, &options) {
        Ok(form) => Ok(form),
        Err(msg) => {
            let lang = get(&options, "locale").as_string().unwrap_or_default();
            let t = strings(&lang);
            show_error(&element, t.error_title, t.error_body);
            if let Some(f) = func(&options, "onError") {
                let _ = f.call1(&JsValue::NULL, &js_error(&msg));
            }
            Err(js_error(&msg))
        }
    }
}

/// A calm message in place of the form. The technical message goes to the host (`onError`,
/// the rejected promise), never to the patient: paths and option names mean nothing to them.
fn show_error(element: &web_sys::HtmlElement, title: &str, body: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    element.set_text_content(None);
    if let (Ok(div), Ok(h), Ok(p)) = (doc.create_element("div"), doc.create_element("h2"), doc.create_element("p")) {
        let _ = div.set_attribute("class", "ik ik-failed");
        let _ = div.set_attribute("role", "alert");
        h.set_text_content(Some(title));
        p.set_text_content(Some(body));
        let _ = div.append_child(&h);
        let _ = div.append_child(&p);
        let _ = element.append_child(&div);
    }
}

/// What both `mount` and `createSession` read from the options.
pub(crate) struct Prepared {
    pub vt: Rc<intake_engine::VisitType>,
    pub chart: Rc<intake_engine::Chart>,
    pub context: VisitContext,
    pub now: DateTime,
    pub lang: String,
}

/// Read the visit type, chart, context, time and language from the options.
pub(crate) fn prepare(opts: &JsValue) -> Result<Prepared, String> {
    if !opts.is_object() {
        return Err("options must be an object".into());
    }
    // Visit type: a catalog entry ({ id, manifest, questionnaire, rules }), or a bare
    // Questionnaire with optional manifest and rules.
    // The host's ValueSets (for `answerValueSet`s the form does not contain) come first.
    let mut library = intake_engine::value_set::ValueSetLibrary::default();
    let vs_opt = get(opts, "valueSets");
    if !vs_opt.is_undefined() && !vs_opt.is_null() {
        let text = loader::json_text(&vs_opt).ok_or("options.valueSets could not be read")?;
        let list: Json = serde_json::from_str(&text).map_err(|e| format!("options.valueSets: {e}"))?;
        loader::add_value_sets(&mut library, Some(&list), "options.valueSets")?;
    }
    let vt_opt = get(opts, "visitType");
    let vt = if vt_opt.is_object() {
        let text = loader::json_text(&vt_opt).ok_or("options.visitType could not be read")?;
        let entry = intake_engine::fhir::json::Node::parse(&text).map_err(|e| format!("options.visitType: {e}"))?;
        loader::catalog_visit_type(&entry, &library)?
    } else if let Some(id) = vt_opt.as_string() {
        return Err(format!(
            "options.visitType: \"{id}\" is an id; pass the visit type itself (the JSON `intake catalog` writes, e.g. visit-types/{id}.json)"
        ));
    } else {
        let q_value = get(opts, "questionnaire");
        let q = loader::json_text(&q_value).ok_or("options: give visitType (an `intake catalog` entry) or questionnaire (a FHIR Questionnaire)")?;
        let manifest = loader::json_text(&get(opts, "manifest"));
        let rules_obj = get(opts, "rules");
        let mut rules = Vec::new();
        if rules_obj.is_object() {
            let obj: js_sys::Object = rules_obj.clone().unchecked_into();
            for key in js_sys::Object::keys(&obj).iter() {
                let name = key.as_string().unwrap_or_default();
                let text = get(&rules_obj, &name).as_string().ok_or_else(|| format!("options.rules.{name} must be the script text"))?;
                rules.push((name, text));
            }
        }
        loader::host_visit_type(q, &|| loader::json_text(&q_value).unwrap_or_default(), manifest.as_deref(), rules, &library)?
    };
    let chart_opt = get(opts, "chart");
    let subject = get(opts, "subject").as_string();
    let chart = if chart_opt.is_undefined() || chart_opt.is_null() {
        // A bare form needs no chart: nothing is prefilled, and the response names the host's
        // subject if it gave one, else nobody (and then there is no write-back Bundle).
        match &subject {
            Some(sub) => {
                let id = sub.strip_prefix("Patient/").unwrap_or(sub);
                if id.is_empty() || id.contains('/') {
                    return Err(format!("options.subject is {sub}; without a chart it must be a Patient reference (Patient/123)"));
                }
                loader::chart(&serde_json::json!({"resourceType": "Patient", "id": id}).to_string())?
            }
            None => Rc::new(intake_engine::Chart::none()),
        }
    } else {
        let c = loader::json_text(&chart_opt).ok_or("options.chart: a FHIR Bundle or Patient (object or JSON text)")?;
        loader::chart(&c)?
    };
    // The host says whose form this is: a chart of anyone else is refused, never guessed.
    if let Some(subject) = subject.filter(|_| chart.has_patient()) {
        if !chart.is_patient_reference(&subject) && !chart.is_patient_reference(&format!("Patient/{subject}")) {
            return Err(format!(
                "options.subject is {subject}, but the chart is for {}; refusing to fill in one patient's form from another's chart",
                chart.patient_ref
            ));
        }
    }
    let lang = get(opts, "locale")
        .as_string()
        .or_else(|| web_sys::window().and_then(|w| w.navigator().language()))
        .unwrap_or_else(|| "en".into());
    let mut context = match get(opts, "context") {
        c if c.is_object() => {
            let s = js_sys::JSON::stringify(&c).ok().and_then(|s| s.as_string()).unwrap_or_default();
            let j: Json = serde_json::from_str(&s).map_err(|e| format!("options.context: {e}"))?;
            VisitContext::from_json(&j).map_err(|e| format!("options.{e}"))?
        }
        _ => VisitContext::default(),
    };
    context.language = strings(&lang).lang.into();
    Ok(Prepared { vt: Rc::new(vt), chart, context, now: now_from(opts)?, lang })
}

fn build(element: &web_sys::HtmlElement, opts: &JsValue) -> Result<IntakeForm, String> {
    let Prepared { vt, chart, context, now, lang } = prepare(opts)?;
    let text = strings(&lang);
    // `__pageOnly`: the shell keeps a page-only store itself (so a restarted form finds the
    // answers) in place of `storage: false`; the patient is told the same as for `false`.
    let persistent = get(opts, "storage").as_bool() != Some(false) && get(opts, "__pageOnly").as_bool() != Some(true);
    let storage: Box<dyn Storage> = match get(opts, "storage") {
        v if v.is_undefined() || v.is_null() => Box::new(Local),
        v if v.as_bool() == Some(false) => Box::new(Memory::default()),
        v if v.is_object() => Box::new(Host(v)),
        _ => return Err("options.storage: an object with getItem/setItem/removeItem, or false".into()),
    };
    let key = get(opts, "storageKey")
        .as_string()
        .unwrap_or_else(|| format!("intake:{}:{}", vt.manifest.id, if chart.has_patient() { chart.patient_ref.as_str() } else { "no-chart" }));
    // Resume: saved answers for this visit type and this patient only (see `resume`). Someone
    // else's saved answers are reported and left where they are (never loaded, never deleted).
    let on_error = func(opts, "onError");
    let report = |msg: &str| {
        if let Some(f) = &on_error {
            let _ = f.call1(&JsValue::NULL, &js_error(msg));
        }
    };
    let raw = storage.get(&key);
    let mut unreadable = false;
    let saved: Option<Json> = match raw.as_deref().map(|t| crate::resume::read(t, &key)) {
        None => None,
        Some(read) => {
            if let Some(p) = &read.problem {
                report(p);
                unreadable = true;
            }
            match read.snapshot {
                Some(s) => match crate::resume::owner_problem(&s, &chart, &vt) {
                    Some(p) => {
                        report(&format!("{p} (storage key '{key}')"));
                        None
                    }
                    None if crate::resume::sent_earlier(&s, &now) => {
                        report(&format!("saved answers under '{key}' were sent at an earlier visit; a new form was started"));
                        None
                    }
                    None => Some(s),
                },
                None => None,
            }
        }
    };
    let session_id = get(opts, "sessionId")
        .as_string()
        .or_else(|| saved.as_ref().and_then(crate::resume::session_id))
        .unwrap_or_else(random_id);
    let session = Session::new(vt.clone(), chart, context, now, &session_id).map_err(|e| e.to_string())?;
    let callbacks = Callbacks {
        on_change: func(opts, "onChange"),
        on_submit: func(opts, "onSubmit"),
        on_error: on_error.clone(),
        on_urgent: func(opts, "onUrgent"),
        expand_value_set: func(opts, "expandValueSet"),
    };
    let keep_after_submit = get(opts, "keepAfterSubmit").as_bool() == Some(true);
    let restarted = get(opts, "__restarted").as_bool() == Some(true);
    #[cfg(feature = "fault-injection")]
    FAULT_ON.with(|f| *f.borrow_mut() = get(opts, "__faultOnAnswer").as_string());
    #[cfg(feature = "alloc-stats")]
    crate::alloc_stats::mark("session");
    let ui = Ui::new(session, text, storage, key, callbacks, saved.as_ref(), raw.as_deref(), unreadable, keep_after_submit, persistent, restarted, crate::state::next_dom_prefix());
    // A broken rule does not stop the form (it shows what the rule could ask), but the host hears of it.
    ui.report_rule_errors();
    // So does everything the loader was lenient about (sloppy forms from other tools), each
    // with its JSON path: the patient sees the form, the developer sees the warnings.
    for w in &vt.warnings {
        ui.error(&format!("form warning: {w}"));
    }
    if !ui.session.borrow().chart().has_patient() {
        ui.error("no chart and no subject: the form fills without prefill, the response has no subject, and onSubmit receives a null Bundle with the QuestionnaireResponse (a write-back needs the patient's chart)");
    }
    element.set_text_content(None);
    let form = IntakeForm::mount_view(element.clone(), ui);
    // The patient's first answer should not pay for compiling the answer path (see `warm`):
    // the warm-up steps not run yet run when the page is next idle.
    crate::warm::schedule();
    Ok(form)
}
