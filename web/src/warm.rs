//! The form's code compiled before the patient waits on it: a small built-in form loaded,
//! mounted and answered off the page, in steps, while the page is idle.
//!
//! Why: the browser compiles each wasm function the first time it runs (lazy compilation), and
//! that cost fell on the patient. A first form's mount paid for compiling the engine's load
//! and the view: PHQ-9 mounted in 35-40 ms on a fresh page and in 10 ms once warm; the
//! 1,000-item chain in 125-145 ms and in 45-60. The first answer paid for the answer path:
//! 15-19 ms on the chain where the next ones took 2-3 ms. So:
//!
//! - the package warms a throwaway instance when the page is idle after `init`, while the host
//!   fetches the patient's form and chart (`api::warm_up`, called by pkg/index.js): the code
//!   is compiled once per module, for every instance of it;
//! - after a form mounts, whatever steps have not run run in the idle time that follows
//!   (`schedule`), for the first answer.
//!
//! The steps (read the form, make its visit type, start a session, mount, answer) are separate
//! idle tasks of 3-20 ms each on a fresh page (45-50 ms in all), so a form that arrives
//! meanwhile waits for one step at most, never for the whole warm-up. The warm-up form has
//! the common controls and an enableWhen; where the build has them, a variable, an
//! enableWhenExpression, a calculatedExpression and a rule (`form_text`, `RULE`).
//!
//! It touches nothing of the host's: no callbacks, storage in memory only, no element in the
//! page, no focus. It runs once per instance.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::{Coding, DateTime, Value};
use intake_engine::rules::RuleSource;
use intake_engine::{Chart, Form, Session, VisitType};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::api::IntakeForm;
use crate::state::Ui;
use crate::storage::Memory;

/// How far the warm-up got.
enum Stage {
    NotStarted,
    /// The form read (JSON, FHIRPath parsed).
    Read(Form),
    /// Its visit type made (rules compiled).
    Typed(Rc<VisitType>),
    /// A session started (rules and expressions run) and its view state made.
    Loaded(Rc<Ui>),
    /// Its view built, off the page.
    Mounted(Rc<Ui>, IntakeForm),
    /// Answered and let go (or could not run: nothing is retried).
    Done,
}

thread_local! {
    static STAGE: RefCell<Stage> = const { RefCell::new(Stage::NotStarted) };
    /// An idle callback for the next step is waiting.
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// The warm-up form's items every build runs: one per common control, an enableWhen, a
/// group. Each build warms what it has: a build without FHIRPath refuses a form that carries
/// expressions (and the warm-up would silently do nothing), so the expressions are added only
/// where FHIRPath is built in (`EXPRESSIONS`), and a rule only where the rules engine is (`RULE`).
const ITEMS: &str = r#"
  {"linkId": "yes", "text": "Yes or no", "type": "boolean"},
  {"linkId": "shown", "text": "Shown after yes", "type": "string",
   "enableWhen": [{"question": "yes", "operator": "=", "answerBoolean": true}]},
  {"linkId": "count", "text": "A number", "type": "integer"},
  {"linkId": "over", "text": "Shown over ten", "type": "choice",
   "answerOption": [{"valueCoding": {"code": "a", "display": "A"}}, {"valueCoding": {"code": "b", "display": "B"}}],
   "enableWhen": [{"question": "count", "operator": ">", "answerInteger": 10}]},
  {"linkId": "group", "text": "A group", "type": "group", "item": [
   {"linkId": "note", "text": "Some text", "type": "display"},
   {"linkId": "date", "text": "A date", "type": "date"}]}"#;

/// A variable, an enableWhenExpression that reads it, and a calculation: the parts of FHIRPath
/// SDC forms lean on. (The Questionnaire's extensions, then more items.)
#[cfg(feature = "expressions")]
const EXPRESSIONS: (&str, &str) = (
    r#""extension": [{"url": "http://hl7.org/fhir/StructureDefinition/variable", "valueExpression":
   {"name": "n", "language": "text/fhirpath", "expression": "%resource.item.where(linkId = 'count').answer.value"}}],"#,
    r#",
  {"linkId": "big", "text": "Shown over ten, by an expression", "type": "boolean",
   "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression",
     "valueExpression": {"language": "text/fhirpath", "expression": "%n > 10"}}]},
  {"linkId": "twice", "text": "Twice the number", "type": "decimal", "readOnly": true,
   "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
     "valueExpression": {"language": "text/fhirpath", "expression": "%n * 2"}}]}"#,
);
#[cfg(not(feature = "expressions"))]
const EXPRESSIONS: (&str, &str) = ("", "");

/// A rule that reads an answer and asks with a reason (the rules engine compiled and run).
#[cfg(feature = "rules")]
const RULE: &[(&str, &str)] = &[("warm-up.rhai", "let n = answer(\"count\");\nif n != () && n > 10 { ask(\"asked\", \"Because the number is over ten.\"); }\n")];
#[cfg(not(feature = "rules"))]
const RULE: &[(&str, &str)] = &[];

/// The item the rule asks for, where there is a rule.
const RULE_ITEM: &str = r#",
  {"linkId": "asked", "text": "Asked by a rule", "type": "string"}"#;

/// The warm-up form of this build.
fn form_text() -> String {
    let (extensions, items) = EXPRESSIONS;
    let rule_item = if RULE.is_empty() { "" } else { RULE_ITEM };
    format!(r#"{{"resourceType": "Questionnaire", "status": "active", "url": "urn:intake:warm-up", {extensions} "item": [{ITEMS}{items}{rule_item}]}}"#)
}

/// Run the steps not run yet, one per idle period, from now on.
pub fn schedule() {
    if PENDING.with(|p| p.get()) || STAGE.with(|s| matches!(*s.borrow(), Stage::Done)) {
        return;
    }
    let Some(w) = web_sys::window() else { return };
    PENDING.with(|p| p.set(true));
    let run = Closure::once_into_js(|| {
        PENDING.with(|p| p.set(false));
        if step() {
            schedule();
        }
    });
    // Safari has no requestIdleCallback: a short timeout lets the first render finish.
    let idle = js_sys::Reflect::get(&w, &"requestIdleCallback".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let asked = match idle {
        Some(f) => f.call1(&w, &run).is_ok(),
        None => w.set_timeout_with_callback_and_timeout_and_arguments_0(run.unchecked_ref(), 200).is_ok(),
    };
    if !asked {
        PENDING.with(|p| p.set(false));
    }
}

/// The warm-up form read as a host's would be. A form with expressions is read from a
/// `serde_json` tree it keeps, one without from a tree borrowing its text
/// (`Form::from_text_with`): where the build has expressions the warm-up form has them, so the
/// other reader is run on it too, or the first form without expressions (MDS 3.0) paid for
/// compiling it.
fn read(text: &str) -> Option<Form> {
    if Form::keeps_its_json(text) {
        let node = intake_engine::fhir::json::parse_node(text).ok()?;
        let _ = Form::from_node_with(&node, &Default::default());
    }
    Form::from_text(text).ok()
}

/// Run the next step; whether one remains.
pub fn step() -> bool {
    // Taken out while it runs: the step builds and drops views, which must not find it borrowed.
    let stage = STAGE.with(|s| std::mem::replace(&mut *s.borrow_mut(), Stage::Done));
    let next = match stage {
        Stage::NotStarted => read(&form_text()).map_or(Stage::Done, Stage::Read),
        Stage::Read(form) => visit_type(form).map_or(Stage::Done, Stage::Typed),
        Stage::Typed(vt) => warm_ui(vt).map_or(Stage::Done, Stage::Loaded),
        Stage::Loaded(ui) => match off_page_element() {
            Some(element) => {
                let form = IntakeForm::mount_view(element, ui.clone());
                Stage::Mounted(ui, form)
            }
            None => Stage::Done,
        },
        Stage::Mounted(ui, form) => {
            answer(&ui);
            // Effects run in microtasks after this returns; let the form go after them
            // (dropping it frees what its view held, as `unmount` does).
            let done = Closure::once_into_js(move || drop(form));
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(done.unchecked_ref(), 0);
            }
            Stage::Done
        }
        Stage::Done => Stage::Done,
    };
    let more = !matches!(next, Stage::Done);
    STAGE.with(|s| *s.borrow_mut() = next);
    more
}

/// An element never put in the document.
fn off_page_element() -> Option<web_sys::HtmlElement> {
    let document = web_sys::window()?.document()?;
    document.create_element("div").ok()?.dyn_into::<web_sys::HtmlElement>().ok()
}

/// Answer the warm-up form as a patient would: show and hide, a number driving expressions,
/// a choice and a date.
fn answer(ui: &Ui) {
    let node = |link_id: &str| ui.session.borrow().node_of_link_id(link_id).ok();
    let coding = |code: &str| Value::Coding(Coding { code: Some(code.into()), ..Default::default() });
    if let (Some(yes), Some(count), Some(over), Some(date)) = (node("yes"), node("count"), node("over"), node("date")) {
        for b in [true, false, true] {
            ui.answer(yes, vec![Value::Boolean(b)]);
        }
        for n in ["12", "3", "14"] {
            ui.answer_text(count, n.into());
        }
        ui.answer(over, vec![coding("a")]);
        ui.answer_text(date, "2026-01-02".into());
    }
}

/// The warm-up form's own view state: in-memory storage, no host callbacks.
fn warm_ui(vt: Rc<VisitType>) -> Option<Rc<Ui>> {
    let text = crate::i18n::strings("en");
    Some(Ui::off_page(session(vt)?, text, Box::new(Memory::default())))
}

/// The warm-up form's visit type, with this build's rule.
fn visit_type(form: Form) -> Option<Rc<VisitType>> {
    let rules: Vec<RuleSource> = RULE.iter().map(|(name, text)| RuleSource { name: (*name).into(), text: (*text).into() }).collect();
    VisitType::from_form(form, &rules).ok().map(Rc::new)
}

/// A session of the warm-up form, for a patient of its own.
fn session(vt: Rc<VisitType>) -> Option<Session> {
    let chart = Rc::new(Chart::from_text(r#"{"resourceType": "Patient", "id": "warm-up", "birthDate": "1970-01-01"}"#).ok()?);
    let now = DateTime::parse("2026-01-01T09:00:00Z")?;
    Session::new(vt, chart, VisitContext::default(), now, "warm-up").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_engine::fhir::Value;

    /// The warm-up form of each build loads without a warning and its answers drive what it
    /// is there to exercise: an enableWhen; where built in, a variable read by an
    /// enableWhenExpression, a calculation and a rule. (`test.sh` runs these tests in the
    /// default build; the package's test checks every build warms in its five steps.)
    #[test]
    fn the_warm_up_form_loads_cleanly_and_its_branching_works() {
        let form = Form::from_text(&form_text()).unwrap();
        assert!(form.warnings.is_empty(), "{:?}", form.warnings);
        let mut s = session(visit_type(form).expect("the warm-up rule compiles")).expect("the warm-up form makes a session");
        let shown = |s: &Session, id: &str| s.node(s.node_of_link_id(id).unwrap()).unwrap().state.enabled;
        assert!(!shown(&s, "shown") && !shown(&s, "over"));
        s.answer_link_id("yes", vec![Value::Boolean(true)]).unwrap();
        s.answer_link_id("count", vec![Value::Integer(12)]).unwrap();
        assert!(shown(&s, "shown") && shown(&s, "over"));
        #[cfg(feature = "expressions")]
        {
            assert!(shown(&s, "big"));
            let twice = s.node(s.node_of_link_id("twice").unwrap()).unwrap().answers.clone();
            assert_eq!(twice, vec![Value::Decimal(24.0)]);
            assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
        }
        #[cfg(feature = "rules")]
        {
            assert!(shown(&s, "asked"));
            s.answer_link_id("count", vec![Value::Integer(3)]).unwrap();
            assert!(!shown(&s, "asked"));
        }
    }
}
