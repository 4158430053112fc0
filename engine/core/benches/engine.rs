//! Engine benchmarks: figures, not assertions. Run: `cargo bench -p intake-engine`.
//!
//! - load + compile the largest shipped visit type (questionnaire parse, index, rules compile)
//! - a form's load from JSON text: MDS 3.0, and the peers-bench's 1,000-item chain with 100
//!   FHIRPath sums
//! - one answer -> re-evaluation on a generated 1,000-item enableWhen chain:
//!   the next question appears (1 dependent), nothing depends on it, and the worst case
//!   (the head of a fully answered chain flips all 999 items)
//! - one answer -> re-evaluation on the 808-item MBS 715 health check (its enableWhen parts)
//! - the write-back Bundle for 100 answers (QR + 100 Observations + Provenance)
//! - scale (issue 13): a chart of 100,000 observations read; 500 and 10,000 repeating-group
//!   rows added and answered, and restored from an answers file; one answer on a 5,000-item
//!   form with the changes it returns (what `createSession().answer()` costs)

#[path = "support/big_chart.rs"]
mod big_chart;

use std::path::Path;
use std::rc::Rc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use intake_engine::context::VisitContext;
use intake_engine::fhir::{DateTime, Value};
use intake_engine::rules::RuleSource;
use intake_engine::visit_type::VisitTypeSource;
use intake_engine::{Chart, Form, Session, VisitType};
use serde_json::json;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn now() -> DateTime {
    DateTime::parse("2026-11-20T09:00:00Z").unwrap()
}

fn chart() -> Rc<Chart> {
    let text = std::fs::read_to_string(root().join("web/demo/charts/maria-hernandez.json")).unwrap();
    Rc::new(Chart::from_text(&text).unwrap())
}

fn source(id: &str) -> VisitTypeSource {
    let dir = root().join("visit-types").join(id);
    let manifest_text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let m = intake_engine::visit_type::Manifest::from_text("manifest.json", &manifest_text).unwrap();
    VisitTypeSource {
        questionnaire_text: std::fs::read_to_string(dir.join(&m.questionnaire)).unwrap(),
        questionnaire_file: m.questionnaire.clone(),
        rules: m
            .rules
            .iter()
            .map(|r| RuleSource { name: r.clone(), text: std::fs::read_to_string(root().join("rules").join(r)).unwrap() })
            .collect(),
        manifest_file: "manifest.json".into(),
        manifest_text,
        value_sets: Default::default(),
    }
}

fn session_of(form: Form) -> Session {
    let vt = Rc::new(VisitType::from_form(form, &[]).unwrap());
    Session::new(vt, chart(), VisitContext::default(), now(), "bench").unwrap()
}

/// i0 .. i999, each enabled when the previous one is answered `true`.
fn chain(n: usize) -> Form {
    let items: Vec<_> = (0..n)
        .map(|i| {
            let mut item = json!({"linkId": format!("i{i}"), "type": "boolean", "text": format!("Question {i}")});
            if i > 0 {
                item["enableWhen"] = json!([{"question": format!("i{}", i - 1), "operator": "=", "answerBoolean": true}]);
            }
            item
        })
        .collect();
    Form::from_json(&json!({"resourceType": "Questionnaire", "status": "active", "item": items})).unwrap()
}

fn bench_load(c: &mut Criterion) {
    let src = source("new-patient-adult");
    c.bench_function("load+compile new-patient-adult (46 items, 3 rules)", |b| {
        b.iter(|| VisitType::load(black_box(&src)).unwrap())
    });
}

/// The peers-bench's `chain-1000` form (its `tools/gen-chain.js`): q0..q999, booleans and
/// whole numbers in turn, each enabled by the one before, every tenth a FHIRPath sum of the
/// five whole numbers before it (100 expressions), and a display item at the end.
fn chain_with_sums_text(n: usize) -> String {
    const CALC: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";
    let kind = |i: usize| if i > 0 && i % 10 == 0 { "calc" } else if i % 2 == 0 { "boolean" } else { "integer" };
    let mut items: Vec<_> = (0..n)
        .map(|i| {
            let mut item = json!({"linkId": format!("q{i}"), "text": format!("Item {i}"), "type": if kind(i) == "boolean" { "boolean" } else { "integer" }});
            if kind(i) == "calc" {
                let terms: Vec<String> = (i - 9..i).step_by(2).map(|j| format!("%resource.item.where(linkId='q{j}').answer.value")).collect();
                item["readOnly"] = json!(true);
                item["extension"] = json!([{"url": CALC, "valueExpression": {"language": "text/fhirpath", "expression": terms.join(" + ")}}]);
            }
            if i > 0 {
                item["enableWhen"] = if kind(i - 1) == "boolean" {
                    json!([{"question": format!("q{}", i - 1), "operator": "=", "answerBoolean": true}])
                } else {
                    json!([{"question": format!("q{}", i - 1), "operator": "exists", "answerBoolean": true}])
                };
            }
            item
        })
        .collect();
    items.push(json!({"linkId": "end", "type": "display", "text": "End"}));
    json!({"resourceType": "Questionnaire", "status": "draft", "item": items}).to_string()
}

/// A form's load from its JSON text, what every mount pays before anything shows.
fn bench_form_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("form load (Form::from_text)");
    let mds = std::fs::read_to_string(root().join("../shared/corpus/questionnaires/fhirpath.js/Minimum-Data-Set---version-3.0.R4.json")).unwrap();
    g.bench_function("MDS 3.0 (1.3 MB, 735 items)", |b| b.iter(|| Form::from_text(black_box(&mds)).unwrap()));
    let chain = chain_with_sums_text(1000);
    g.bench_function("1,000-item chain with 100 FHIRPath sums (peers-bench chain-1000)", |b| b.iter(|| Form::from_text(black_box(&chain)).unwrap()));
    g.finish();
}

fn bench_chain(c: &mut Criterion) {
    let mut g = c.benchmark_group("1000-item enableWhen chain: one answer");
    // The next question appears: items 0..=500 answered, toggle 500.
    let mut s = session_of(chain(1000));
    for i in 0..=500 {
        s.answer_link_id(&format!("i{i}"), vec![Value::Boolean(true)]).unwrap();
    }
    let mut flip = false;
    g.bench_function("reveals the next question", |b| {
        b.iter(|| {
            flip = !flip;
            black_box(s.answer_link_id("i500", vec![Value::Boolean(flip)]).unwrap())
        })
    });
    // Nothing depends on the answer: the last question.
    let mut s = session_of(chain(1000));
    for i in 0..1000 {
        s.answer_link_id(&format!("i{i}"), vec![Value::Boolean(true)]).unwrap();
    }
    g.bench_function("no dependents (last item)", |b| {
        b.iter(|| {
            flip = !flip;
            black_box(s.answer_link_id("i999", vec![Value::Boolean(flip)]).unwrap())
        })
    });
    // Worst case: the head of a fully answered chain hides/shows all 999 items.
    g.bench_function("worst case: head flips all 999", |b| {
        b.iter(|| {
            flip = !flip;
            black_box(s.answer_link_id("i0", vec![Value::Boolean(flip)]).unwrap())
        })
    });
    g.finish();
}

fn bench_mbs715(c: &mut Criterion) {
    let path = root().join(
        "../shared/corpus/questionnaires/smart-forms/app-questionnaires/Questionnaire-AboriginalTorresStraitIslanderHealthCheckAssembled-0.4.0.json",
    );
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("MBS 715 form not found at {}; skipped", path.display());
        return;
    };
    let form = Form::from_text(&text).unwrap();
    let items = form.items.len();
    // The question most other items' enableWhen depends on (outside repeating groups).
    let (hub, deps) = form
        .items
        .iter()
        .filter(|i| i.item_type.is_question() && !i.in_repeating_group)
        .map(|i| (i.clone(), form.enable_when_dependents[i.id.index()].len()))
        .max_by_key(|(_, n)| *n)
        .unwrap();
    let values: Vec<Value> = match hub.options.first() {
        Some(_) => hub.options.iter().take(2).map(|o| o.value.clone()).collect(),
        None => vec![Value::Boolean(true), Value::Boolean(false)],
    };
    let expressions = form.items.iter().filter(|d| form.expressions.item(d.id).enable_when.is_some()).count();
    let mut s = session_of(form);
    let mut k = 0;
    c.bench_function(&format!("MBS 715 ({items} items): answer '{}' ({deps} enableWhen dependents)", hub.link_id), |b| {
        b.iter(|| {
            k += 1;
            let v = values[k % values.len()].clone();
            black_box(s.answer_link_id(&hub.link_id, vec![v]).unwrap())
        })
    });
    // The age many expressions read (`%age`): an answer re-evaluates those, and the calculations and
    // verdicts whose reads it changed, not the rest (issue 8).
    let ages = [Value::Integer(3), Value::Integer(30), Value::Integer(60)];
    c.bench_function(&format!("MBS 715: answer the age ({expressions} enableWhenExpressions; those that read %age re-evaluated)"), |b| {
        b.iter(|| {
            k += 1;
            black_box(s.answer_link_id("e2a16e4d-2765-4b61-b286-82cfc6356b30", vec![ages[k % 3].clone()]).unwrap())
        })
    });
    let phq9 = Form::from_text(&std::fs::read_to_string(root().join("../shared/corpus/questionnaires/lforms/R4/phq9.json")).unwrap()).unwrap();
    let mut p = session_of(phq9);
    let codes = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"];
    c.bench_function("PHQ-9: one answer and the total score recalculated", |b| {
        b.iter(|| {
            k += 1;
            let v = Value::Coding(intake_engine::fhir::Coding { system: Some("http://loinc.org".into()), code: Some(codes[k % 4].into()), ..Default::default() });
            black_box(p.answer_link_id("/44250-9", vec![v]).unwrap())
        })
    });
}

fn bench_bundle(c: &mut Criterion) {
    let items: Vec<_> = (0..100)
        .map(|i| {
            json!({"linkId": format!("q{i}"), "type": "integer", "text": format!("Reading {i}"),
                   "code": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}],
                   "extension": [
                     {"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract", "valueBoolean": true},
                     {"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unit", "valueCoding": {"system": "http://unitsofmeasure.org", "code": "/min", "display": "/min"}}]})
        })
        .collect();
    let form = Form::from_json(&json!({"resourceType": "Questionnaire", "status": "active", "url": "http://example.org/q", "item": items})).unwrap();
    let mut manifest = intake_engine::visit_type::Manifest::from_text("m", r#"{"id":"b","title":"b","questionnaire":"q","write_back":{"Observation":{"add":"auto"}}}"#).unwrap();
    manifest.rules.clear();
    let src = VisitTypeSource { manifest_file: "m".into(), manifest_text: String::new(), questionnaire_file: "q".into(), questionnaire_text: String::new(), rules: vec![], value_sets: Default::default() };
    let vt = Rc::new(VisitType::assemble(manifest, form, &src).unwrap());
    let mut s = Session::new(vt, chart(), VisitContext::default(), now(), "bench").unwrap();
    for i in 0..100 {
        s.answer_link_id(&format!("q{i}"), vec![Value::Integer(60 + i)]).unwrap();
    }
    let n = intake_engine::extract::bundle(&s).unwrap().entries.len();
    c.bench_function(&format!("write-back Bundle for 100 answers ({n} entries)"), |b| {
        b.iter(|| black_box(intake_engine::extract::bundle(&s).unwrap()))
    });
    c.bench_function("... and serialised to JSON text", |b| {
        b.iter(|| {
            let wb = intake_engine::extract::bundle(&s).unwrap();
            black_box(wb.to_json_string())
        })
    });
}


/// A repeating group of two questions.
fn rows_form() -> Form {
    Form::from_json(&json!({"resourceType": "Questionnaire", "status": "active", "item": [
        {"linkId": "row", "type": "group", "repeats": true, "item": [
            {"linkId": "row.name", "type": "string", "text": "Name"},
            {"linkId": "row.dose", "type": "integer", "text": "Dose"}]}]}))
    .unwrap()
}

fn bench_scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    let chart_json = big_chart::big_chart(100_000);
    g.bench_function("chart with 100,000 observations read", |b| {
        b.iter(|| black_box(Chart::from_json(black_box(&chart_json)).unwrap().observations.len()))
    });
    for n in [500usize, 10_000] {
        let answers = json!({"answers": {"row": (0..n).map(|i| json!({"row.name": format!("item {i}"), "row.dose": i})).collect::<Vec<_>>()}});
        g.bench_function(format!("{n} repeating-group rows restored from an answers file"), |b| {
            b.iter(|| {
                let mut s = session_of(rows_form());
                intake_engine::answers_file::apply(&mut s, black_box(&answers)).unwrap();
                black_box(s.preorder().len())
            })
        });
    }
    let wide = Form::from_json(&json!({"resourceType": "Questionnaire", "status": "active",
        "item": (0..5000).map(|i| json!({"linkId": format!("q{i}"), "type": "integer", "text": format!("Q{i}")})).collect::<Vec<_>>()}))
    .unwrap();
    let mut s = session_of(wide);
    let node = s.node_of_link_id("q2500").unwrap();
    let mut v = 0i64;
    g.bench_function("5,000 items: one answer and the changes it returns", |b| {
        b.iter(|| {
            v += 1;
            let changes = intake_engine::answers_file::answer_json(&mut s, node, &json!(v)).unwrap();
            black_box(changes.nodes.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_load, bench_form_load, bench_chain, bench_mbs715, bench_bundle, bench_scale);
criterion_main!(benches);
