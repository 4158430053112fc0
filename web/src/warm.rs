//! The answer path, run once per page on a small built-in form while the page is idle.
//!
//! Why: the browser compiles each wasm function the first time it runs (lazy compilation),
//! so the patient's first answer paid for compiling the engine's answer path, the view's
//! updates and their effects: on the 1,000-item chain, a first answer took 15-19 ms where
//! the next ones took 2-3 ms, and with Chromium's lazy compilation switched off the first
//! took 6-10 ms. So after the first form renders, when the main thread is idle, a form of a
//! few items (the common controls, an enableWhen, a variable, an enableWhenExpression and a
//! calculatedExpression) is mounted in an element that is never put in the document, answered
//! a few times, and unmounted.
//!
//! It touches nothing of the host's: no callbacks, storage in memory only, no element in the
//! page, no focus. It runs once per page (the compiled code stays with the module).

use std::cell::Cell;
use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::{Coding, DateTime, Value};
use intake_engine::{Chart, Form, Session, VisitType};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::state::{Callbacks, Ui};
use crate::storage::Memory;

thread_local! {
    static DONE: Cell<bool> = const { Cell::new(false) };
}

/// The warm-up form: one item per common control, and the expressions SDC forms lean on.
const FORM: &str = r#"{"resourceType": "Questionnaire", "status": "active", "url": "urn:intake:warm-up",
 "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/variable", "valueExpression":
   {"name": "n", "language": "text/fhirpath", "expression": "%resource.item.where(linkId = 'count').answer.value"}}],
 "item": [
  {"linkId": "yes", "text": "Yes or no", "type": "boolean"},
  {"linkId": "shown", "text": "Shown after yes", "type": "string",
   "enableWhen": [{"question": "yes", "operator": "=", "answerBoolean": true}]},
  {"linkId": "count", "text": "A number", "type": "integer"},
  {"linkId": "over", "text": "Shown over ten", "type": "choice",
   "answerOption": [{"valueCoding": {"code": "a", "display": "A"}}, {"valueCoding": {"code": "b", "display": "B"}}],
   "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression",
     "valueExpression": {"language": "text/fhirpath", "expression": "%n > 10"}}]},
  {"linkId": "twice", "text": "Twice the number", "type": "decimal", "readOnly": true,
   "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
     "valueExpression": {"language": "text/fhirpath", "expression": "%n * 2"}}]},
  {"linkId": "group", "text": "A group", "type": "group", "item": [
   {"linkId": "note", "text": "Some text", "type": "display"},
   {"linkId": "date", "text": "A date", "type": "date"}]}]}"#;

/// Run the warm-up once per page, when the browser is next idle.
pub fn schedule() {
    if DONE.with(|d| d.replace(true)) {
        return;
    }
    let Some(w) = web_sys::window() else { return };
    let run = Closure::once_into_js(run);
    // Safari has no requestIdleCallback: a short timeout lets the first render finish.
    let idle = js_sys::Reflect::get(&w, &"requestIdleCallback".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match idle {
        Some(f) => {
            let _ = f.call1(&w, &run);
        }
        None => {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(run.unchecked_ref(), 200);
        }
    }
}

/// Mount the warm-up form off the page, answer it, and unmount it after its effects ran.
fn run() {
    let Some(ui) = warm_ui() else { return };
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Ok(element) = document.create_element("div") else { return };
    let Ok(element) = element.dyn_into::<web_sys::HtmlElement>() else { return };
    let form = crate::api::IntakeForm::mount_view(element, ui.clone());
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
    // Effects run in microtasks after this returns; unmount after them (dropping the form
    // frees what its view held, as `unmount` does).
    let done = Closure::once_into_js(move || drop(form));
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(done.unchecked_ref(), 0);
    }
}

/// The warm-up form's own view state: in-memory storage, no host callbacks.
fn warm_ui() -> Option<Rc<Ui>> {
    let text = crate::i18n::strings("en");
    Some(Ui::new(session()?, text, Box::new(Memory::default()), "warm-up".into(), Callbacks::default(), None, None, false, false, false, false))
}

/// A session of the warm-up form, for a patient of its own.
fn session() -> Option<Session> {
    let form = Form::from_text(FORM).ok()?;
    let vt = Rc::new(VisitType::from_form(form, &[]).ok()?);
    let chart = Rc::new(Chart::from_text(r#"{"resourceType": "Patient", "id": "warm-up", "birthDate": "1970-01-01"}"#).ok()?);
    let now = DateTime::parse("2026-01-01T09:00:00Z")?;
    Session::new(vt, chart, VisitContext::default(), now, "warm-up").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use intake_engine::fhir::Value;

    /// The warm-up form loads without a warning and its answers drive what it is there to
    /// exercise: an enableWhen, a variable read by an enableWhenExpression and a calculation.
    #[test]
    fn the_warm_up_form_loads_cleanly_and_its_expressions_work() {
        let form = Form::from_text(FORM).unwrap();
        assert!(form.warnings.is_empty(), "{:?}", form.warnings);
        let mut s = session().expect("the warm-up form makes a session");
        let shown = |s: &Session, id: &str| s.node(s.node_of_link_id(id).unwrap()).unwrap().state.enabled;
        assert!(!shown(&s, "shown") && !shown(&s, "over"));
        s.answer_link_id("yes", vec![Value::Boolean(true)]).unwrap();
        s.answer_link_id("count", vec![Value::Integer(12)]).unwrap();
        assert!(shown(&s, "shown") && shown(&s, "over"));
        let twice = s.node(s.node_of_link_id("twice").unwrap()).unwrap().answers.clone();
        assert_eq!(twice, vec![Value::Decimal(24.0)]);
        assert!(s.expression_errors().is_empty(), "{:?}", s.expression_errors());
    }
}
