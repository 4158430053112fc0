//! The bridge between the engine session and the view.
//!
//! Every node has a signal holding what the view needs (`NodeVm`); every parent a signal with
//! its children. An operation goes to the engine, and only the nodes the engine reports as
//! changed get their signals updated, so an answer re-renders only what depends on it. The view
//! never decides what is shown, required or wrong: it renders these signals.
//!
//! Every change is autosaved (the engine's answers snapshot, the page, unparsed drafts and the
//! session id) and reported to the host's `onChange`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use intake_engine::answer::{parse_text, AnswerError};
use intake_engine::answers_file;
use intake_engine::explain::why_text;
use intake_engine::extract::{self, SubmitError};
use intake_engine::fhir::{Json, Value, WriteJson};
use intake_engine::questionnaire::{ItemId, ItemType};
use intake_engine::response::{self, Status};
use intake_engine::session::{Changes, NodeId};
use intake_engine::Session;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

use crate::i18n::Strings;
use crate::storage::Storage;

/// The pages, and the page of each top-level item.
struct PageIndex(Rc<Vec<Vec<ItemId>>>, HashMap<ItemId, usize>);

/// Questions that appear together announced one by one; more are announced as a count.
const ANNOUNCE_IN_FULL: usize = 3;

/// What the view shows for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeVm {
    pub required: bool,
    pub why: Option<String>,
    pub errors: Vec<String>,
    pub answers: Vec<Value>,
    /// The patient has changed this field (errors show from then on).
    pub touched: bool,
    /// Text the patient typed that is not a valid answer yet (kept, never lost).
    pub draft: Option<String>,
    pub draft_error: Option<String>,
    /// Options computed by an `answerExpression` (None: the form's own).
    pub choices: Option<Vec<intake_engine::questionnaire::AnswerChoice>>,
    /// Options not on offer just now (an `answerOptionsToggleExpression` is false).
    pub disabled: Vec<Value>,
    /// Text computed by a `cqf-expression` (None: the form's own).
    pub text: Option<String>,
}

/// Where the patient is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    Filling,
    /// The Bundle went to the host; the patient sees "Sending…" until the host confirms.
    Submitting,
    /// The host confirmed: only now is the patient told the answers were sent.
    Submitted,
    /// The host's onSubmit rejected or threw: nothing is lost; the patient may retry.
    SendFailed,
}

/// Host callbacks (JS functions), all optional.
#[derive(Default)]
pub struct Callbacks {
    pub on_change: Option<js_sys::Function>,
    pub on_submit: Option<js_sys::Function>,
    pub on_error: Option<js_sys::Function>,
    /// Called with the advisories (`[{ text, rule }]`) whenever the set of urgent advisories
    /// changes, so a portal can page staff at once.
    pub on_urgent: Option<js_sys::Function>,
    /// The portal's terminology search for value sets the form cannot list
    /// (`expandValueSet({ url, filter, count, language })`, see `term_search`).
    pub expand_value_set: Option<js_sys::Function>,
}

/// One mounted form.
pub struct Ui {
    /// Owns every signal below: they live exactly as long as the form, not as long as the view
    /// scope that happened to create them (a new row is rendered inside a transient scope).
    owner: Owner,
    pub session: RefCell<Session>,
    pub text: &'static Strings,
    pub lang: &'static str,
    vms: RefCell<HashMap<NodeId, RwSignal<NodeVm>>>,
    /// Whether a node is shown, for views that follow it (the progress bar's pages, a repeating
    /// group's parent and rows). An item's own `hidden` is set on its element (`elements`).
    shown: RefCell<HashMap<NodeId, RwSignal<bool>>>,
    /// `pages()` and each top-level item's page, worked out on first use.
    page_index: RefCell<Option<Rc<PageIndex>>>,
    kids: RefCell<HashMap<Option<NodeId>, RwSignal<Vec<NodeId>>>>,
    /// Index into `pages()`; `pages().len()` is the review page.
    pub page: RwSignal<usize>,
    pub phase: RwSignal<Phase>,
    /// Pages on which the patient tried to continue: their errors show even untouched.
    pub attempted: RwSignal<Vec<usize>>,
    /// Items that block continuing: (node, message), shown as the error summary.
    pub summary: RwSignal<Vec<(NodeId, String)>>,
    /// Polite announcements (new questions and why they appeared).
    pub announce: RwSignal<String>,
    /// Urgent advisories in the patient's language (reason + what to do), shown in an alert
    /// region on every page, the review and the thanks page.
    pub urgent: RwSignal<Vec<String>>,
    pub save_error: RwSignal<Option<String>>,
    pub restored: bool,
    /// Some saved answers could not be brought back (the patient is told in one sentence; the
    /// original snapshot is kept under [`Ui::unrestored_key`] until the patient sends).
    pub partly_restored: bool,
    storage: Box<dyn Storage>,
    storage_key: String,
    callbacks: Callbacks,
    /// The submitted Bundle (JSON text), kept so a retry sends the very same Bundle.
    pub submitted: RefCell<Option<String>>,
    /// The host confirmed the submitted Bundle (saved with the snapshot, so a reload knows
    /// whether "sent" may be shown).
    confirmed: std::cell::Cell<bool>,
    /// `keepAfterSubmit: true`: keep the saved answers after a confirmed send (default: clear).
    pub keep_after_submit: bool,
    /// Answers persist on this device (`storage: false` keeps them in the page only).
    pub persistent: bool,
    /// Started again after an internal error (by the package's shell, on a fresh instance).
    pub restarted: bool,
    /// Text being typed and not yet committed (no change event yet), saved with the drafts so a
    /// reload mid-word loses nothing.
    typing: RefCell<HashMap<NodeId, String>>,
    /// The pending debounced save while typing.
    typing_timer: std::cell::Cell<Option<i32>>,
    /// The fields that took a draft (text not valid yet) since the last save, at least: the
    /// save reads these, and forgets those whose draft has gone.
    drafted: RefCell<Vec<NodeId>>,
    /// Inside `as_one_change`: how deep, and whether something changed meanwhile.
    batching: std::cell::Cell<u32>,
    batch_changed: std::cell::Cell<bool>,
    /// The patient came from the review page's "Change": Next returns there.
    back_to_review: std::cell::Cell<bool>,
    /// Questions whose appearance was announced (so hiding them again clears the announcement).
    announced: RefCell<Vec<NodeId>>,
    /// Whether each node (by index) was shown after the last change: what tells a question
    /// that appears from one that was there, without a signal per node. Signals are made only
    /// for what a view asks for (MBS 715 has 808 nodes; an age answer changes 440 of them).
    enabled: RefCell<Vec<Option<bool>>>,
    /// The outermost element of each built item view, with the token it was kept under.
    /// Showing or hiding a built item sets `hidden` on it here: no signal, effect or attribute
    /// name crosses into JS per item (an age answer in MBS 715 flips 300 items at once).
    elements: RefCell<HashMap<NodeId, (u32, web_sys::HtmlElement)>>,
    next_token: std::cell::Cell<u32>,
    /// Views of items not shown yet wait on these: set once, when the item first shows.
    unbuilt: RefCell<HashMap<NodeId, RwSignal<bool>>>,
    /// Items shown for the first time, waiting for their frame to be built (`first_show`).
    first_shows: RefCell<crate::first_show::Queue>,
    /// An animation frame is asked for, to build the next of `first_shows`.
    first_show_frame: std::cell::Cell<bool>,
    /// A long page's chunks built empty are being filled (`chunks`): a paint or a task is
    /// waited for, and a page built meanwhile is filled by the same run.
    filling_chunks: std::cell::Cell<bool>,
    /// This form's own `Rc`, for what runs later (an animation frame) to reach it while it lives.
    me: RefCell<std::rc::Weak<Ui>>,
    /// A long page's chunks (`chunks`): kept in step with what shows in them.
    pub chunks: crate::chunks::Chunks,
    /// A page has been shown: every page opened after the first takes the keyboard focus.
    pub page_opened: std::cell::Cell<bool>,
    /// Rule errors already reported to the host.
    reported: RefCell<Vec<String>>,
    /// Prefix of every DOM id and radio name this form renders ("ik3-"): unique per form in the
    /// page, so several forms (or a remount beside an old one) never share ids.
    pub dom: String,
}

thread_local! {
    static FORMS_MOUNTED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The next per-page form id prefix.
pub fn next_dom_prefix() -> String {
    // Counted per page, not per module instance: the package runs each form in its own
    // instance (and a page may hold two copies of the package), and ids must never collide.
    let key = js_sys::Symbol::for_("intake-engine.forms-mounted");
    let global = js_sys::global();
    let n = js_sys::Reflect::get(&global, &key).ok().and_then(|v| v.as_f64()).unwrap_or(0.0) + 1.0;
    if js_sys::Reflect::set(&global, &key, &n.into()).is_err() {
        // A frozen global: fall back to this instance's own count.
        let local = FORMS_MOUNTED.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        return format!("ik{local}x-");
    }
    format!("ik{n}-")
}

/// A Copy handle for closures in views (the engine is single-threaded).
pub type UiRef = StoredValue<Rc<Ui>, LocalStorage>;

/// Whether the engine shows node `n` now.
pub fn enabled_in(s: &Session, n: NodeId) -> bool {
    s.node(n).is_some_and(|x| x.state.enabled)
}

/// Record whether node `n` is shown (`Ui::enabled`); what was recorded before, if anything.
fn record_enabled(seen: &mut Vec<Option<bool>>, n: NodeId, now: bool) -> Option<bool> {
    if seen.len() <= n.index() {
        seen.resize(n.index() + 1, None);
    }
    seen[n.index()].replace(now)
}

impl Ui {
    /// The view state of a form never put in the page (the warm-up's): storage in memory, no
    /// callbacks, and ids of its own ("ikw-") that take no number from the page's count, so
    /// the first form the host mounts is "ik1-" whether or not the warm-up ran before it.
    pub fn off_page(session: Session, text: &'static Strings, storage: Box<dyn Storage>) -> Rc<Ui> {
        Ui::new(session, text, storage, "warm-up".into(), Callbacks::default(), None, None, false, false, false, false, "ikw-".into())
    }

    /// A form's view state; `dom` prefixes its element ids (`next_dom_prefix` for a form in
    /// the page).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        session: Session,
        text: &'static Strings,
        storage: Box<dyn Storage>,
        storage_key: String,
        callbacks: Callbacks,
        saved: Option<&Json>,
        original: Option<&str>,
        unreadable: bool,
        keep_after_submit: bool,
        persistent: bool,
        restarted: bool,
        dom: String,
    ) -> Rc<Ui> {
        let mut session = session;
        let mut restored = false;
        let mut page = 0;
        let mut drafts: Vec<(String, String)> = Vec::new();
        let mut submitted = None;
        let mut problems: Vec<String> = Vec::new();
        if let Some(saved) = saved {
            if let Some(answers) = saved.get("answers") {
                problems = crate::resume::restore_answers(&mut session, saved);
                restored = answers.as_object().is_some_and(|m| !m.is_empty());
            }
            page = saved.get("page").and_then(Json::as_u64).unwrap_or(0) as usize;
            if let Some(Json::Object(d)) = saved.get("drafts") {
                drafts = d.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect();
            }
            // Only a send the host confirmed reopens on "Thank you"; an unconfirmed one reopens
            // the answers, and sending again produces the same identifiers.
            let was_confirmed = saved.get("sent").and_then(Json::as_bool) == Some(true);
            match crate::resume::stored_bundle(&session, saved) {
                Ok(b) if was_confirmed => submitted = b,
                Ok(_) => {}
                Err(p) => problems.push(p),
            }
        }
        let partly_restored = unreadable || !problems.is_empty();
        // Keep the snapshot as it was before this restore, so nothing the patient entered is
        // gone even if the next autosave writes only what fitted (an earlier kept original
        // is not overwritten: it is the older, fuller one).
        let unrestored_key = format!("{storage_key}:unrestored");
        if partly_restored {
            if let Some(text) = original {
                if storage.get(&unrestored_key).is_none() {
                    let _ = storage.set(&unrestored_key, text);
                }
            }
        }
        if let Some(f) = &callbacks.on_error {
            for p in &problems {
                let _ = f.call1(&JsValue::NULL, &crate::api::js_error(&format!("{p} (the original is kept under '{unrestored_key}')")));
            }
        }
        let mut enabled = Vec::new();
        for n in session.preorder() {
            record_enabled(&mut enabled, n, enabled_in(&session, n));
        }
        let owner = Owner::new();
        let sig = |v| owner.with(|| RwSignal::new(v));
        let page = sig(page);
        let phase = owner.with(|| RwSignal::new(if submitted.is_some() { Phase::Submitted } else { Phase::Filling }));
        let attempted = owner.with(|| RwSignal::new(Vec::new()));
        let summary = owner.with(|| RwSignal::new(Vec::new()));
        let announce = owner.with(|| RwSignal::new(String::new()));
        let urgent = owner.with(|| RwSignal::new(Vec::new()));
        let save_error = owner.with(|| RwSignal::new(None));
        let ui = Rc::new(Ui {
            owner,
            session: RefCell::new(session),
            text,
            lang: text.lang,
            vms: RefCell::new(HashMap::new()),
            shown: RefCell::new(HashMap::new()),
            page_index: RefCell::new(None),
            kids: RefCell::new(HashMap::new()),
            page,
            phase,
            attempted,
            summary,
            announce,
            urgent,
            save_error,
            restored,
            partly_restored,
            storage,
            storage_key,
            callbacks,
            confirmed: std::cell::Cell::new(submitted.is_some()),
            keep_after_submit,
            persistent,
            restarted,
            submitted: RefCell::new(submitted),
            reported: RefCell::new(Vec::new()),
            announced: RefCell::new(Vec::new()),
            enabled: RefCell::new(enabled),
            elements: RefCell::new(HashMap::new()),
            next_token: std::cell::Cell::new(0),
            unbuilt: RefCell::new(HashMap::new()),
            first_shows: RefCell::default(),
            first_show_frame: std::cell::Cell::new(false),
            filling_chunks: std::cell::Cell::new(false),
            me: RefCell::new(std::rc::Weak::new()),
            chunks: Default::default(),
            page_opened: std::cell::Cell::new(false),
            back_to_review: std::cell::Cell::new(false),
            typing: RefCell::new(HashMap::new()),
            typing_timer: std::cell::Cell::new(None),
            drafted: RefCell::new(Default::default()),
            batching: std::cell::Cell::new(0),
            batch_changed: std::cell::Cell::new(false),
            dom,
        });
        *ui.me.borrow_mut() = Rc::downgrade(&ui);
        ui.refresh_urgent();
        // Restore text the patient typed: committed if it is a valid answer by now (it was
        // saved mid-typing), kept as a draft with its error if not.
        if !drafts.is_empty() {
            let keys: HashMap<String, NodeId> = {
                let s = ui.session.borrow();
                s.preorder().into_iter().map(|n| (s.node_key(n), n)).collect()
            };
            ui.as_one_change(|| {
                for (key, text) in drafts {
                    if let Some(n) = keys.get(&key) {
                        ui.answer_text(*n, text);
                    }
                }
            });
        }
        if ui.page.get_untracked() > ui.pages().len() {
            ui.page.set(0);
        }
        ui
    }

    fn vm_of(&self, s: &Session, n: NodeId, touched: bool) -> NodeVm {
        let Some(node) = s.node(n) else {
            return NodeVm {
                required: false,
                why: None,
                errors: vec![],
                answers: vec![],
                touched,
                draft: None,
                draft_error: None,
                choices: None,
                disabled: vec![],
                text: None,
            };
        };
        let st = &node.state;
        NodeVm {
            required: st.required,
            why: st.why.as_ref().map(|w| why_text(s.form(), w, self.lang)),
            // A format error gives an example when the form has one ("Enter it like 02139").
            errors: st
                .errors
                .iter()
                .map(|e| match (e, s.def(n).entry_format.as_deref()) {
                    (intake_engine::validate::ValidationError::Pattern { .. }, Some(example)) if self.lang.starts_with("es") => {
                        format!("Escríbalo con este formato: {example}.")
                    }
                    (intake_engine::validate::ValidationError::Pattern { .. }, Some(example)) => format!("Enter it like this: {example}."),
                    _ => e.message(self.lang),
                })
                .collect(),
            answers: node.answers.clone(),
            touched,
            draft: None,
            draft_error: None,
            choices: s.computed_choices(n).map(<[_]>::to_vec),
            disabled: s.disabled_options(n).to_vec(),
            text: s.computed_text(n).map(str::to_owned),
        }
    }

    /// The signal of a node (created on first use, e.g. for a new row).
    pub fn vm(&self, n: NodeId) -> RwSignal<NodeVm> {
        if let Some(s) = self.vms.borrow().get(&n) {
            return *s;
        }
        let vm = self.vm_of(&self.session.borrow(), n, false);
        let sig = self.owner.with(|| RwSignal::new(vm));
        self.vms.borrow_mut().insert(n, sig);
        sig
    }

    /// Whether the engine shows a node now.
    pub fn is_enabled(&self, n: NodeId) -> bool {
        enabled_in(&self.session.borrow(), n)
    }

    /// What the view of a node not shown yet waits on: set once, when the node first shows.
    /// Made in the view's scope, so it goes with the view.
    pub fn build_trigger(&self, n: NodeId) -> RwSignal<bool> {
        let sig = RwSignal::new(false);
        self.unbuilt.borrow_mut().insert(n, sig);
        self.elements.borrow_mut().remove(&n);
        sig
    }

    /// Keep the element of a node's built view, so showing and hiding it is one property set.
    /// The token tells this view's element from a later view's when this one goes.
    pub fn keep_element(&self, n: NodeId, el: web_sys::HtmlElement) -> u32 {
        let token = self.next_token.get().wrapping_add(1);
        self.next_token.set(token);
        self.elements.borrow_mut().insert(n, (token, el));
        self.unbuilt.borrow_mut().remove(&n);
        token
    }

    /// The view kept under `token` is gone.
    pub fn forget_element(&self, n: NodeId, token: u32) {
        let mut els = self.elements.borrow_mut();
        if els.get(&n).is_some_and(|(t, _)| *t == token) {
            els.remove(&n);
        }
    }

    /// Whether a node is shown (created on first use).
    pub fn shown(&self, n: NodeId) -> RwSignal<bool> {
        if let Some(s) = self.shown.borrow().get(&n) {
            return *s;
        }
        let sig = self.owner.with(|| RwSignal::new(self.is_enabled(n)));
        self.shown.borrow_mut().insert(n, sig);
        sig
    }

    /// The definition of a node's item: the form's own, shared (500 rows are 1,000 nodes of two
    /// items, and a copy per rendered item was a second set of the definitions).
    pub fn def(&self, n: NodeId) -> std::sync::Arc<intake_engine::questionnaire::ItemDef> {
        self.session.borrow().def_shared(n)
    }

    /// The children signal of a node (None: the top level).
    pub fn kids(&self, parent: Option<NodeId>) -> RwSignal<Vec<NodeId>> {
        if let Some(s) = self.kids.borrow().get(&parent) {
            return *s;
        }
        let list = match parent {
            Some(p) => self.session.borrow().node(p).map(|x| x.children.clone()).unwrap_or_default(),
            None => self.session.borrow().roots().to_vec(),
        };
        let sig = self.owner.with(|| RwSignal::new(list));
        self.kids.borrow_mut().insert(parent, sig);
        sig
    }

    /// Push engine changes into the signals; announce questions that appeared with a reason.
    fn apply(&self, changes: Changes) {
        let mut announce = Vec::new();
        let mut announced_more = 0usize;
        let mut hidden_again = false;
        let mut first_shown = Vec::new();
        {
            let s = self.session.borrow();
            for n in &changes.nodes {
                // Compared in place: most changes leave the children as they were.
                // A list no view asked for yet is left alone: `kids` reads it from the session
                // when one does.
                let children: &[NodeId] = s.node(*n).map(|x| x.children.as_slice()).unwrap_or_default();
                let k = self.kids.borrow().get(&Some(*n)).copied();
                if let Some(k) = k.filter(|k| !k.with_untracked(|c| c.as_slice() == children)) {
                    k.set(children.to_vec());
                }
                let now = enabled_in(&s, *n);
                // A node new since (a row just added) was not there to be shown.
                let was = record_enabled(&mut self.enabled.borrow_mut(), *n, now).unwrap_or(now);
                // So are the signals of an item never rendered (on another page, or never
                // shown): `vm` and `shown` read the session when a view first asks. An age
                // answer in MBS 715 changes 440 items, most of them on other pages.
                let vm = self.vms.borrow().get(n).copied();
                let mut new_why = None;
                if let Some(sig) = vm {
                    // One read of the signal: its value is built from the old one in place.
                    let changed = sig.with_untracked(|old| {
                        let mut new = self.vm_of(&s, *n, old.touched);
                        new.draft = old.draft.clone().filter(|_| new.answers == old.answers);
                        new.draft_error = old.draft_error.clone().filter(|_| new.draft.is_some());
                        // A hidden item keeps its elements (view.rs, `node`): leave what it
                        // showed as it was, so hiding it is one attribute, not its reason and
                        // errors taken out of the page and put back when it shows again.
                        if was && !now {
                            new.why = old.why.clone();
                            new.required = old.required;
                            new.errors = old.errors.clone();
                        }
                        new_why = new.why.clone();
                        (*old != new).then_some(new)
                    });
                    if let Some(new) = changed {
                        sig.set(new);
                    }
                }
                // Announce questions that appear with a reason; display text is not a question.
                let def = s.def(*n);
                if !was && now && def.item_type.is_question() {
                    let why = new_why.or_else(|| s.node(*n).and_then(|x| x.state.why.as_ref()).map(|w| why_text(s.form(), w, self.lang)));
                    if let (Some(why), Some(text)) = (why, def.text.as_ref()) {
                        // The first few in full; past that a count (a screen reader reading out
                        // a hundred questions is no help).
                        if announce.len() < ANNOUNCE_IN_FULL {
                            announce.push(format!("{}: {}. {}", self.text.new_question, text.in_lang(self.lang), why));
                        } else {
                            announced_more += 1;
                        }
                        self.announced.borrow_mut().push(*n);
                    }
                }
                // A question announced and hidden again is no longer announced.
                if was && !now && self.announced.borrow().contains(n) {
                    self.announced.borrow_mut().retain(|x| x != n);
                    hidden_again = true;
                }
                // A built item is shown or hidden on its element; one not built yet is built
                // when it first shows (view.rs, `node`).
                if was != now {
                    self.chunks.toggled(*n, now);
                    let el = self.elements.borrow().get(n).map(|(_, el)| el.clone());
                    match el {
                        Some(el) => el.set_hidden(!now),
                        None if now && self.unbuilt.borrow().contains_key(n) => {
                            first_shown.push((*n, crate::view::questions_in(s.form(), def.id)));
                        }
                        None => {}
                    }
                }
                // What follows the page's shown items (progress, a row's parent) has its signal.
                let shown = self.shown.borrow().get(n).copied();
                if let Some(shown) = shown.filter(|x| x.get_untracked() != now) {
                    shown.set(now);
                }
            }
            self.chunks.flush();
            let k = self.kids(None);
            if !k.with_untracked(|c| c.as_slice() == s.roots()) {
                k.set(s.roots().to_vec());
            }
        }
        if !first_shown.is_empty() {
            self.first_shows.borrow_mut().extend(first_shown);
            self.build_first_shows(crate::first_show::FIRST_FRAME_QUESTIONS);
        }
        // Signals of removed rows are dropped from the maps but not disposed: a view scope may
        // still be unmounting with them; the form's owner frees them when the form goes.
        for n in changes.removed {
            self.vms.borrow_mut().remove(&n);
            self.shown.borrow_mut().remove(&n);
            self.kids.borrow_mut().remove(&Some(n));
            self.unbuilt.borrow_mut().remove(&n);
            self.elements.borrow_mut().remove(&n);
        }
        if announced_more > 0 {
            announce.push(format!("{announced_more} {}", self.text.more_new_questions));
        }
        if !announce.is_empty() {
            self.announce.set(announce.join(" "));
        } else if hidden_again {
            self.announce.set(String::new());
        }
        self.refresh_urgent();
        self.report_rule_errors();
        self.refresh_summary();
        self.changed();
    }

    /// Build the next of the items shown for the first time (`first_show`), up to `budget`
    /// questions, and build more after each paint while any wait. Each is built by its
    /// view's trigger (view.rs, `built_when_shown`), in the effects that follow.
    fn build_first_shows(&self, budget: u32) {
        let next = {
            let s = self.session.borrow();
            let unbuilt = self.unbuilt.borrow();
            self.first_shows.borrow_mut().take(budget, |n| enabled_in(&s, n) && unbuilt.contains_key(&n))
        };
        for n in next {
            let trigger = self.unbuilt.borrow_mut().remove(&n);
            if let Some(t) = trigger {
                t.try_set(true);
            }
        }
        if self.first_shows.borrow().is_empty() || self.first_show_frame.replace(true) {
            return;
        }
        let me = self.me.borrow().clone();
        let asked = after_paint(move || {
            if let Some(ui) = me.upgrade() {
                ui.first_show_frame.set(false);
                ui.build_first_shows(crate::first_show::FRAME_QUESTIONS);
            }
        });
        if !asked {
            // No frames to wait for (no window): build the rest now.
            self.first_show_frame.set(false);
            self.build_first_shows(u32::MAX);
        }
    }

    /// Fill a long page's chunks built empty (`chunks`): the first slice after the next paint,
    /// then a slice in each task after (the browser paints and handles input in between,
    /// whenever a frame is due, and the last question is not held back a frame per slice).
    pub fn fill_chunks_soon(&self) {
        if self.filling_chunks.replace(true) {
            return;
        }
        let me = self.me.borrow().clone();
        if !after_paint(move || fill_step(me)) {
            self.fill_chunks_now();
        }
    }

    /// Fill every chunk still waiting at once, ending the run (no frame or task to wait for).
    fn fill_chunks_now(&self) {
        self.filling_chunks.set(false);
        self.chunks.fill(u32::MAX);
    }

    /// Recompute the urgent advisories; tell the host when they change.
    pub fn refresh_urgent(&self) {
        let (texts, raw): (Vec<String>, Vec<(String, String)>) = {
            let s = self.session.borrow();
            let instruction = s.visit_type().manifest.urgent_instruction_in(self.lang);
            s.urgent()
                .into_iter()
                .map(|(rule, t)| (format!("{} {instruction}", t.in_lang(self.lang)), (t.in_lang(self.lang).to_owned(), rule)))
                .unzip()
        };
        if self.urgent.get_untracked() == texts {
            return;
        }
        self.urgent.set(texts.clone());
        if let Some(f) = &self.callbacks.on_urgent {
            let list = js_sys::Array::new();
            for (text, (reason, rule)) in texts.iter().zip(raw) {
                let o = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&o, &"text".into(), &text.into());
                let _ = js_sys::Reflect::set(&o, &"reason".into(), &reason.into());
                let _ = js_sys::Reflect::set(&o, &"rule".into(), &rule.into());
                list.push(&o);
            }
            let _ = f.call1(&JsValue::NULL, &list);
        }
    }

    /// Tell the host about rule errors it has not heard of (the form itself keeps working).
    pub fn report_rule_errors(&self) {
        let mut errors: Vec<String> = self.session.borrow().rule_errors().iter().map(|e| e.to_string()).collect();
        // A failing FHIRPath expression hides or empties its item; the developer hears of it
        // once (while it keeps failing), with the JSON path; the patient never sees it.
        errors.extend(self.session.borrow().expression_errors().iter().map(|(path, m)| format!("form expression at {path}: {m}")));
        if self.session.borrow().unsettled() {
            errors.push("the form's rules keep changing which questions apply and did not settle; the form stays usable and the write-back carries a review Task".into());
        }
        let fresh: Vec<String> = errors.iter().filter(|e| !self.reported.borrow().contains(e)).cloned().collect();
        for e in &fresh {
            self.error(e);
        }
        *self.reported.borrow_mut() = errors;
    }

    /// Set a node's answers (from a control).
    pub fn answer(&self, n: NodeId, values: Vec<Value>) {
        #[cfg(feature = "fault-injection")]
        crate::api::inject_fault(&self.session.borrow().node_key(n));
        if self.phase.get_untracked() != Phase::Filling {
            return;
        }
        let result = self.session.borrow_mut().answer(n, values);
        let sig = self.vm(n);
        sig.update(|v| {
            v.touched = true;
            v.draft = None;
            v.draft_error = None;
        });
        match result {
            Ok(changes) => self.apply(changes),
            Err(e) => sig.update(|v| v.draft_error = Some(answer_error_text(&e, self.lang))),
        }
    }

    /// A keystroke in a text field (before the change event): remembered, and saved after a
    /// short pause, so a reload or a closed tab mid-word loses nothing.
    pub fn typing(self: &Rc<Self>, n: NodeId, text: String) {
        if self.phase.get_untracked() != Phase::Filling {
            return;
        }
        self.typing.borrow_mut().insert(n, text);
        let Some(w) = web_sys::window() else { return };
        if let Some(t) = self.typing_timer.take() {
            w.clear_timeout_with_handle(t);
        }
        let me = Rc::downgrade(self);
        let save = wasm_bindgen::closure::Closure::once_into_js(move || {
            if let Some(ui) = me.upgrade() {
                ui.typing_timer.set(None);
                ui.save();
            }
        });
        if let Ok(t) = w.set_timeout_with_callback_and_timeout_and_arguments_0(save.unchecked_ref(), 300) {
            self.typing_timer.set(Some(t));
        }
    }

    /// Text typed into a field: parsed for the item's type; kept as a draft if not valid yet.
    pub fn answer_text(&self, n: NodeId, text: String) {
        self.typing.borrow_mut().remove(&n);
        let def = self.session.borrow().def_shared(n);
        if text.trim().is_empty() {
            self.answer(n, Vec::new());
            return;
        }
        let localized = match def.item_type {
            ItemType::Date => crate::i18n::date_input(&text, self.lang),
            _ => text.clone(),
        };
        match parse_text(&def, &localized) {
            Ok(v) => self.answer(n, vec![v]),
            Err(e) => {
                self.set_draft(n, text);
                self.vm(n).update(|v| {
                    v.touched = true;
                    v.draft_error = Some(answer_error_text(&e, self.lang));
                });
                self.changed();
            }
        }
    }

    fn set_draft(&self, n: NodeId, text: String) {
        let mut drafted = self.drafted.borrow_mut();
        if !drafted.contains(&n) {
            drafted.push(n);
        }
        drop(drafted);
        self.vm(n).update(|v| v.draft = Some(text));
    }

    pub fn add_row(&self, parent: Option<NodeId>, group: ItemId) -> Option<NodeId> {
        let result = self.session.borrow_mut().add_row(parent, group);
        match result {
            Ok((row, changes)) => {
                self.apply(changes);
                Some(row)
            }
            Err(_) => None,
        }
    }

    pub fn remove_row(&self, row: NodeId) {
        let result = self.session.borrow_mut().remove_row(row);
        if let Ok(changes) = result {
            self.apply(changes);
        }
    }

    /// The pages: each top-level group is a page (as with SDC's `page` item control); a run of
    /// other top-level items (questions, display text, repeating groups) shares one page, so a
    /// flat form from another tool is one page, not one page per question. Worked out once: the
    /// form's structure never changes during a session, and every question asks which page it
    /// is on (5,000 questions asked a freshly built list each: 200 ms of a mount).
    pub fn pages(&self) -> Rc<Vec<Vec<ItemId>>> {
        self.page_index().0.clone()
    }

    fn page_index(&self) -> Rc<PageIndex> {
        if let Some(p) = self.page_index.borrow().as_ref() {
            return p.clone();
        }
        let s = self.session.borrow();
        let form = s.form();
        let mut pages: Vec<Vec<ItemId>> = Vec::new();
        let mut run: Vec<ItemId> = Vec::new();
        for &item in &form.roots {
            let def = form.item(item);
            if def.item_type == ItemType::Group && !def.repeats {
                if !run.is_empty() {
                    pages.push(std::mem::take(&mut run));
                }
                pages.push(vec![item]);
            } else {
                run.push(item);
            }
        }
        if !run.is_empty() {
            pages.push(run);
        }
        let of_root = pages.iter().enumerate().flat_map(|(i, p)| p.iter().map(move |item| (*item, i))).collect();
        let index = Rc::new(PageIndex(Rc::new(pages), of_root));
        *self.page_index.borrow_mut() = Some(index.clone());
        index
    }

    /// Is any node of a page shown?
    pub fn page_enabled(&self, page: &[ItemId]) -> bool {
        let s = self.session.borrow();
        page.iter().any(|item| s.nodes_of(*item).iter().any(|n| self.shown(*n).get()))
    }

    /// Nodes on a page with errors to fix before continuing, in document order.
    pub fn page_problems(&self, page: usize) -> Vec<(NodeId, String)> {
        let s = self.session.borrow();
        let Some(items) = self.pages().get(page).cloned() else { return Vec::new() };
        let mut out = Vec::new();
        for n in s.preorder() {
            let Some(node) = s.node(n) else { continue };
            let on_page = std::iter::once(node.item).chain(s.form().ancestors(node.item)).any(|i| items.contains(&i));
            if !on_page || !node.state.enabled {
                continue;
            }
            let vm = self.vm(n).get_untracked();
            // Messages name what they are about: "Metformin ...: Is this still correct?", not
            // three identical "Is this still correct?" for three medicines.
            let mut label = label_of(&s, n, self.lang);
            if let Some(summary) = s.row_of(n).filter(|r| *r != n).and_then(|r| s.node(r)?.on_file.as_ref().map(|o| o.summary.clone())) {
                label = format!("{summary} — {label}");
            }
            if let Some(e) = vm.draft_error {
                out.push((n, format!("{label}: {e}")));
            } else if let Some(e) = vm.errors.first() {
                out.push((n, format!("{label}: {e}")));
            }
        }
        out
    }

    /// Go to the next shown page, unless this one has problems (then show them).
    pub fn next(&self) {
        let page = self.page.get_untracked();
        let problems = self.page_problems(page);
        self.attempted.update(|a| {
            if !a.contains(&page) {
                a.push(page);
            }
        });
        if !problems.is_empty() {
            self.summary.set(problems);
            return;
        }
        self.summary.set(Vec::new());
        let pages = self.pages();
        if self.back_to_review.replace(false) {
            self.page.set(pages.len());
            self.changed();
            return;
        }
        let mut p = page + 1;
        while p < pages.len() && !self.page_enabled(&pages[p]) {
            p += 1;
        }
        self.page.set(p.min(pages.len()));
        self.changed();
    }

    pub fn back(&self) {
        self.back_to_review.set(false);
        let pages = self.pages();
        let mut p = self.page.get_untracked();
        while p > 0 {
            p -= 1;
            if self.page_enabled(&pages[p]) {
                break;
            }
        }
        self.summary.set(Vec::new());
        self.page.set(p);
        self.changed();
    }

    /// "Change" on the review page: go to the answer's page; the next Next comes back to the
    /// review page instead of walking through every page after it.
    pub fn change_from_review(&self, page: usize) {
        self.back_to_review.set(true);
        self.go_to(page);
    }

    pub fn go_to(&self, page: usize) {
        self.summary.set(Vec::new());
        self.page.set(page.min(self.pages().len()));
        self.changed();
    }

    /// Which repeat of its repeating group a node is in (0-based; `data-repeat` in the page),
    /// so hosts and tests can find "the second medication's dose" without generated ids.
    pub fn repeat_index(&self, n: NodeId) -> Option<usize> {
        let s = self.session.borrow();
        let row = s.row_of(n)?;
        let node = s.node(row)?;
        s.rows(node.parent, node.item).iter().position(|r| *r == row)
    }

    /// The page (index) a node is on.
    pub fn page_of(&self, n: NodeId) -> usize {
        let index = self.page_index();
        let s = self.session.borrow();
        let Some(item) = s.node(n).map(|x| x.item) else { return 0 };
        // The page of the top-level item it sits under.
        let root = s.form().ancestors(item).last().unwrap_or(item);
        index.1.get(&root).copied().unwrap_or(0)
    }

    fn refresh_summary(&self) {
        if self.summary.get_untracked().is_empty() {
            return;
        }
        let page = self.page.get_untracked();
        let fresh = if page >= self.pages().len() { self.all_problems() } else { self.page_problems(page) };
        self.summary.set(fresh);
    }

    fn all_problems(&self) -> Vec<(NodeId, String)> {
        (0..self.pages().len()).flat_map(|p| self.page_problems(p)).collect()
    }

    /// Submit: the Bundle goes to the host's `onSubmit`. The patient sees "Sending…" until the
    /// host confirms (a returned Promise resolves; a host that returns nothing confirms at
    /// once), then "sent"; if the Promise rejects or onSubmit throws, the patient is told in
    /// plain words and may retry, with nothing lost. Every retry (double click, Retry, a retry
    /// after a reload) sends the very same Bundle: same identifier, same conditional creates.
    pub fn submit(self: &Rc<Self>) -> Result<String, String> {
        if let Some(b) = self.submitted.borrow().clone() {
            if self.phase.get_untracked() != Phase::Submitting {
                if self.phase.get_untracked() == Phase::SendFailed {
                    self.phase.set(Phase::Submitting);
                }
                self.deliver(&b);
            }
            return Ok(b);
        }
        let problems = self.all_problems();
        if !problems.is_empty() {
            let first = self.page_of(problems[0].0);
            self.attempted.update(|a| a.extend(0..=self.pages().len()));
            self.page.set(first);
            self.summary.set(self.page_problems(first));
            return Err(problems.iter().map(|p| p.1.clone()).collect::<Vec<_>>().join("\n"));
        }
        let result = extract::bundle(&self.session.borrow());
        match result {
            Ok(wb) => {
                let text = wb.to_json_string();
                *self.submitted.borrow_mut() = Some(text.clone());
                self.phase.set(Phase::Submitting);
                self.save();
                self.deliver(&text);
                Ok(text)
            }
            Err(e) => {
                let msg = match e {
                    SubmitError::Invalid(items) => items.iter().map(|i| i.key.clone()).collect::<Vec<_>>().join(", "),
                    SubmitError::Unsettled => "the form's rules did not settle".into(),
                    // No chart: the host gets the response alone (a null Bundle), and is told why.
                    SubmitError::NoChart => {
                        let text = "null".to_owned();
                        *self.submitted.borrow_mut() = Some(text.clone());
                        self.phase.set(Phase::Submitting);
                        self.save();
                        self.deliver(&text);
                        return Ok(text);
                    }
                };
                self.error(&msg);
                Err(msg)
            }
        }
    }

    /// Hand the Bundle to the host and wait for its word.
    fn deliver(self: &Rc<Self>, bundle: &str) {
        let Some(f) = self.callbacks.on_submit.clone() else {
            self.confirm();
            return;
        };
        let qr = self.response_json(Status::Completed);
        let b = js_sys::JSON::parse(bundle).unwrap_or(JsValue::NULL);
        let q = js_sys::JSON::parse(&qr).unwrap_or(JsValue::NULL);
        match f.call2(&JsValue::NULL, &b, &q) {
            Err(e) => self.send_failed(&e),
            // A Promise: wait for it; nothing to wait for: the host took it.
            Ok(ret) => {
                let ui = self.clone();
                crate::api::when_settled(ret, move |r| match r {
                    Ok(_) => ui.confirm(),
                    Err(e) => ui.send_failed(&e),
                });
            }
        }
    }

    /// The host confirmed the write-back.
    fn confirm(&self) {
        if self.phase.get_untracked() == Phase::Submitted && self.confirmed.get() {
            return;
        }
        self.confirmed.set(true);
        self.phase.set(Phase::Submitted);
        // Sent: the pre-restore original is no longer needed.
        self.storage.remove(&self.unrestored_key());
        if self.keep_after_submit {
            self.save();
        } else {
            // A reload must not offer these answers again as unfinished work.
            self.storage.remove(&self.storage_key);
        }
    }

    /// The host's onSubmit rejected or threw.
    fn send_failed(&self, e: &JsValue) {
        if self.confirmed.get() {
            return;
        }
        let detail = crate::api::js_message(e).unwrap_or_else(|| "the host's onSubmit did not confirm the write-back".into());
        self.phase.set(Phase::SendFailed);
        self.error(&format!("sending failed: {detail} (the answers are kept; the patient can retry, which sends the same Bundle)"));
    }

    /// The host's terminology search, if it gave one.
    pub fn terminology(&self) -> Option<js_sys::Function> {
        self.callbacks.expand_value_set.clone()
    }

    pub fn error(&self, msg: &str) {
        if let Some(f) = &self.callbacks.on_error {
            let _ = f.call1(&JsValue::NULL, &crate::api::js_error(msg));
        }
    }

    /// The QuestionnaireResponse as JSON text.
    pub fn response_json(&self, status: Status) -> String {
        response::build(&self.session.borrow(), status).to_json_string()
    }

    /// Run `f` as one change: inside it, autosave and `onChange` wait, and happen once at the
    /// end if anything changed. A patient action that answers many items ("everything else
    /// here is still correct" on 40 medicines) is one change to the host and one write to
    /// storage, not one per item, each of the whole form.
    fn as_one_change<R>(&self, f: impl FnOnce() -> R) -> R {
        self.batching.set(self.batching.get() + 1);
        let out = f();
        self.batching.set(self.batching.get() - 1);
        if self.batching.get() == 0 && self.batch_changed.take() {
            self.changed();
        }
        out
    }

    /// After every change: autosave, then tell the host.
    fn changed(&self) {
        if self.batching.get() > 0 {
            self.batch_changed.set(true);
            return;
        }
        self.save();
        if let Some(f) = &self.callbacks.on_change {
            let qr = self.response_json(Status::InProgress);
            // The second argument carries what is not part of the response: the urgent
            // advisories in force (texts as the patient sees them), so a portal can page staff
            // from onChange too.
            let info = js_sys::Object::new();
            let urgent = js_sys::Array::new();
            for text in self.urgent.get_untracked() {
                urgent.push(&text.into());
            }
            let _ = js_sys::Reflect::set(&info, &"urgent".into(), &urgent);
            let _ = f.call2(&JsValue::NULL, &js_sys::JSON::parse(&qr).unwrap_or(JsValue::NULL), &info);
        }
    }

    fn save(&self) {
        // After a panic this instance's state is not to be trusted, and a pending autosave
        // must not overwrite what the restarted form (a fresh instance) saves.
        if crate::api::poisoned() {
            return;
        }
        let s = self.session.borrow();
        // Drafts are what is being typed, and text not valid yet: only the fields that took
        // one are read (not every view model on every answer: 5,000 of them on a long form).
        let typing = self.typing.borrow();
        let mut drafts = serde_json::Map::new();
        for (n, text) in typing.iter() {
            if s.node(*n).is_some() {
                drafts.insert(s.node_key(*n), Json::String(text.clone()));
            }
        }
        {
            let vms = self.vms.borrow();
            let mut drafted = self.drafted.borrow_mut();
            drafted.retain(|n| {
                let Some(sig) = vms.get(n).filter(|_| s.node(*n).is_some()) else { return false };
                let Some(text) = sig.with_untracked(|v| v.draft.clone()) else { return false };
                if !typing.contains_key(n) {
                    drafts.insert(s.node_key(*n), Json::String(text));
                }
                true
            });
        }
        let mut extra = vec![("drafts", Json::Object(drafts))];
        if let Some(b) = self.submitted.borrow().as_ref() {
            extra.insert(0, ("bundle", Json::String(b.clone())));
            extra.push(("sent", Json::Bool(self.confirmed.get())));
        }
        let text = answers_file::snapshot_text(&s, Some(self.page.get_untracked() as u64), &extra);
        match self.storage.set(&self.storage_key, &text) {
            Ok(()) => self.save_error.set(None),
            Err(e) => {
                // The patient gets a calm sentence (in the view); the host gets the reason once.
                if self.save_error.get_untracked().is_none() {
                    self.error(&format!("autosave failed under '{}': {e}", self.storage_key));
                }
                self.save_error.set(Some(e));
            }
        }
    }

    /// Forget the saved answers (after the host confirms the write-back, or to start over).
    pub fn clear_saved(&self) {
        self.storage.remove(&self.storage_key);
        self.storage.remove(&self.unrestored_key());
    }

    /// Where the snapshot as it was before a partial restore is kept until the patient sends.
    pub fn unrestored_key(&self) -> String {
        format!("{}:unrestored", self.storage_key)
    }

    /// Mark every on-file row of a list confirmed, unless the patient already reviewed it.
    pub fn confirm_unreviewed(&self, parent: Option<NodeId>, group: ItemId) {
        let (status_item, rows) = {
            let s = self.session.borrow();
            let Some(list) = s.visit_type().list_of_group(group) else { return };
            (list.status, s.rows(parent, group))
        };
        let Some(status_item) = status_item else { return };
        self.as_one_change(|| self.confirm_rows(rows, status_item));
    }

    fn confirm_rows(&self, rows: Vec<NodeId>, status_item: ItemId) {
        for row in rows {
            let target = {
                let s = self.session.borrow();
                let node = s.node(row);
                if node.is_none_or(|r| r.on_file.is_none()) {
                    continue;
                }
                let Some(status) = node.and_then(|r| r.children.iter().copied().find(|c| s.node(*c).is_some_and(|x| x.item == status_item))) else {
                    continue;
                };
                if !s.node(status).is_some_and(|x| x.answers.is_empty()) {
                    continue;
                }
                let value = s.def(status).options.iter().find(|o| o.value.as_coding().and_then(|c| c.code.as_deref()) == Some("confirmed")).map(|o| o.value.clone());
                value.map(|v| (status, v))
            };
            if let Some((status, v)) = target {
                self.answer(status, vec![v]);
            }
        }
    }
}

/// The label of a node in a language.
pub fn label_of(s: &Session, n: NodeId, lang: &str) -> String {
    let def = s.def(n);
    let text = def.text.as_ref().map(|t| t.in_lang(lang).to_owned()).unwrap_or_else(|| def.link_id.clone());
    let plain = match def.text.as_ref().and_then(|t| t.rendering.as_ref()) {
        Some(intake_engine::questionnaire::Rendering::Xhtml(x)) => crate::rich_text::plain(&crate::rich_text::from_xhtml(x)),
        _ => text,
    };
    if plain.trim().is_empty() { def.link_id.clone() } else { plain }
}

/// A refused answer in the patient's words.
pub fn answer_error_text(e: &AnswerError, lang: &str) -> String {
    let es = lang.starts_with("es");
    match (e, es) {
        (AnswerError::Unparseable { expected, .. }, false) => format!("Please enter {expected}."),
        (AnswerError::Unparseable { expected, .. }, true) => format!("Escriba {}.", spanish_expected(expected)),
        (AnswerError::UnknownUnit { .. }, false) => "Please choose a unit from the list.".into(),
        (AnswerError::UnknownUnit { .. }, true) => "Elija una unidad de la lista.".into(),
        (AnswerError::NotAnOption { .. }, false) => "Please choose one of the options.".into(),
        (AnswerError::NotAnOption { .. }, true) => "Elija una de las opciones.".into(),
        (AnswerError::OutOfRange { .. }, false) => "Please check this value: it is outside what this question can take.".into(),
        (AnswerError::OutOfRange { .. }, true) => "Revise este valor: está fuera de lo que esta pregunta admite.".into(),
        (other, _) => other.to_string(),
    }
}

fn spanish_expected(e: &str) -> &'static str {
    match e {
        "a whole number" => "un número entero",
        "a number" => "un número",
        "yes or no" => "sí o no",
        "a time (hh:mm)" => "una hora (hh:mm)",
        "a date and time" => "una fecha y hora",
        "an amount with a unit" => "una cantidad con su unidad",
        _ => "una fecha (AAAA, AAAA-MM o AAAA-MM-DD)",
    }
}

/// Is this item a question the patient answers?
pub fn is_question(t: ItemType) -> bool {
    t.is_question()
}

/// One slice of `Ui::fill_chunks_soon`, and the next in a task of its own while any wait.
fn fill_step(me: std::rc::Weak<Ui>) {
    let Some(ui) = me.upgrade() else { return };
    if !ui.chunks.fill(crate::chunks::FILL_QUESTIONS) {
        ui.filling_chunks.set(false);
        return;
    }
    drop(ui);
    let next = me.clone();
    if !next_task(move || fill_step(next)) {
        if let Some(ui) = me.upgrade() {
            ui.fill_chunks_now();
        }
    }
}

/// Run `f` in a task of its own, soon: a message the page posts itself (a timer set from a
/// timer waits at least 4 ms after a few levels). Nothing runs after a panic, as in
/// `after_paint`. Returns false if no task could be asked for.
fn next_task(f: impl FnOnce() + 'static) -> bool {
    let Ok(channel) = web_sys::MessageChannel::new() else { return false };
    // The closure holds the channel, so its ports live until the message is delivered.
    let held = channel.clone();
    let task = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = &held;
        if !crate::api::poisoned() {
            f();
        }
    });
    channel.port1().set_onmessage(Some(task.unchecked_ref()));
    channel.port2().post_message(&wasm_bindgen::JsValue::UNDEFINED).is_ok()
}

/// Run `f` after the next paint: in a task after the next animation frame, not in the frame's
/// callbacks (those run before its paint, which would then wait for them too). Nothing runs
/// after a panic: this instance is not to be trusted (the form restarts on another). Returns
/// false if there are no frames to wait for (no window).
fn after_paint(f: impl FnOnce() + 'static) -> bool {
    let task = wasm_bindgen::closure::Closure::once_into_js(move || {
        if !crate::api::poisoned() {
            f();
        }
    });
    let frame = wasm_bindgen::closure::Closure::once_into_js(move || {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(task.unchecked_ref(), 0);
        }
    });
    web_sys::window().is_some_and(|w| w.request_animation_frame(frame.unchecked_ref()).is_ok())
}
