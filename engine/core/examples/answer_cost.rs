//! Developer tool: what answers cost, in instructions (deterministic, unlike time on a shared
//! machine). Runs `N` answers on a corpus form; run it under valgrind twice (N and 0) and take
//! the difference over N:
//!
//!   cargo build --release --example answer_cost -p intake-engine --features rules
//!   valgrind --tool=lackey --basic-counts=yes target/release/examples/answer_cost mbs 12
//!   valgrind --tool=lackey --basic-counts=yes target/release/examples/answer_cost mbs 0
//!
//! `mbs`: MBS 715's Age, 3 / 30 / 60 in turn (291 enableWhenExpressions read it). `phq9`: PHQ-9's
//! first question, its four answers in turn (the total recalculated). `mds-load`: MDS 3.0 loaded
//! into a session (N ignored); `flat-load`: N questions on one page (yes/no, text, whole number,
//! choice in turn, as bench.mjs's 5,000-question form) loaded into a session. Under valgrind's
//! massif the load cases show what a form's session holds. Prints nothing; asserts nothing.
use std::rc::Rc;

use intake_engine::context::VisitContext;
use intake_engine::fhir::{Coding, DateTime, Value};
use intake_engine::{Chart, Form, Session, VisitType};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "mbs".into());
    let n: usize = args.next().and_then(|x| x.parse().ok()).unwrap_or(12);
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/questionnaires/");
    let file = match which.as_str() {
        "mbs" => "smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json",
        "phq9" => "lforms/R4/phq9.json",
        "mds-load" => "fhirpath.js/Minimum-Data-Set---version-3.0.R4.json",
        "flat-load" => "",
        other => return Err(format!("unknown case {other}: mbs, phq9, mds-load or flat-load")),
    };
    let text = if which == "flat-load" { flat_form(n) } else { std::fs::read_to_string(format!("{corpus}{file}")).map_err(|e| format!("{file}: {e}"))? };
    let form = Form::from_text(&text).map_err(|e| e.to_string())?;
    let vt = Rc::new(VisitType::from_form(form, &[]).map_err(|e| format!("{e:?}"))?);
    let chart = Rc::new(Chart::from_text(r#"{"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01"}"#).map_err(|e| e.to_string())?);
    let now = DateTime::parse("2026-11-20T09:00:00Z").ok_or("bad time")?;
    let mut s = Session::new(vt, chart, VisitContext::default(), now, "cost").map_err(|e| e.to_string())?;
    match which.as_str() {
        "mbs" => {
            let age = s.form().items.iter().position(|d| d.text.as_ref().is_some_and(|t| t.in_lang("en") == "Age")).ok_or("no Age item")?;
            let node = s.nodes_of(intake_engine::questionnaire::ItemId(age as u32))[0];
            for i in 0..n {
                s.answer(node, vec![Value::Integer([3, 30, 60][i % 3])]).map_err(|e| e.to_string())?;
            }
        }
        "phq9" => {
            let codes = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"];
            for i in 0..n {
                let v = Value::Coding(Coding { system: Some("http://loinc.org".into()), code: Some(codes[i % 4].into()), ..Default::default() });
                s.answer_link_id("/44250-9", vec![v]).map_err(|e| e.to_string())?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `n` questions on one page: yes/no, text, whole number and a choice of three, in turn.
fn flat_form(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            let kind = ["boolean", "string", "integer", "choice"][i % 4];
            let options = if kind == "choice" {
                r#", "answerOption": [{"valueCoding": {"code": "a", "display": "Option a"}}, {"valueCoding": {"code": "b", "display": "Option b"}}, {"valueCoding": {"code": "c", "display": "Option c"}}]"#
            } else {
                ""
            };
            format!(r#"{{"linkId": "q{i}", "type": "{kind}", "text": "Question {i}"{options}}}"#)
        })
        .collect();
    format!(r#"{{"resourceType": "Questionnaire", "id": "flat", "status": "active", "item": [{}]}}"#, items.join(","))
}
