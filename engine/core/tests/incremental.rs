//! Property: after any sequence of answers, row additions and removals, the incrementally
//! maintained state equals a from-scratch evaluation of the same answers.
//!
//! Forms are generated at random (nested and repeating groups, boolean / integer / choice /
//! string questions, enableWhen with any/all, rhai rules that ask, hide, require and flag).
//! Dependencies point backwards in document order, so every form has one consistent state
//! (forms with cyclic conditions get a load warning; see `questionnaire::find_cycle`). The
//! reference is built independently: a second session restored from the first one's answers
//! snapshot, then `evaluate_naive` (plain fixpoint iteration, no dependency bookkeeping).
//! A failure prints its seed; `INTAKE_PROP_SEEDS=n` runs more.

mod support;

use std::collections::BTreeMap;
use std::rc::Rc;

use intake_engine::answers_file;
use intake_engine::context::VisitContext;
use intake_engine::fhir::{Coding, Value};
use intake_engine::session::{ItemState, NodeId};
use intake_engine::{ItemType, Session};
use serde_json::{json, Value as Json};
use support::rng::Rng;
use support::*;

#[derive(Clone)]
struct Q {
    link_id: String,
    kind: &'static str,
}

struct Gen<'a> {
    rng: &'a mut Rng,
    count: usize,
    /// Questions generated so far, in document order.
    questions: Vec<Q>,
    /// Every item generated so far, in document order (for rule targets).
    all: Vec<String>,
}

const KINDS: [&str; 4] = ["boolean", "integer", "choice", "string"];

impl Gen<'_> {
    fn condition(&mut self) -> Option<Json> {
        if self.questions.is_empty() {
            return None;
        }
        let q = self.questions[self.rng.below(self.questions.len())].clone();
        let r = &mut *self.rng;
        Some(match (q.kind, r.below(4)) {
            (_, 0) => json!({"question": q.link_id, "operator": "exists", "answerBoolean": r.chance(70)}),
            ("boolean", 1) => json!({"question": q.link_id, "operator": "!=", "answerBoolean": true}),
            ("boolean", _) => json!({"question": q.link_id, "operator": "=", "answerBoolean": r.chance(50)}),
            ("integer", k) => {
                let op = [">", "<=", "=", "!=", ">="][r.below(5)];
                json!({"question": q.link_id, "operator": op, "answerInteger": (k as i64) + r.below(4) as i64})
            }
            ("choice", 1) => json!({"question": q.link_id, "operator": "!=", "answerCoding": {"system": "urn:t", "code": "b"}}),
            ("choice", _) => {
                let code = ["a", "b", "c"][r.below(3)];
                json!({"question": q.link_id, "operator": "=", "answerCoding": {"system": "urn:t", "code": code}})
            }
            _ => json!({"question": q.link_id, "operator": "=", "answerString": "x"}),
        })
    }

    fn items(&mut self, depth: usize, in_repeating: bool, budget: usize) -> Vec<Json> {
        let mut out = Vec::new();
        let n = 1 + self.rng.below(budget.max(1));
        for _ in 0..n {
            if self.count > 45 {
                break;
            }
            self.count += 1;
            let link_id = format!("i{}", self.count);
            self.all.push(link_id.clone());
            let mut item = json!({"linkId": link_id, "text": format!("Item {}", self.count)});
            if self.rng.chance(40) {
                let conds: Vec<Json> = (0..1 + self.rng.below(2)).filter_map(|_| self.condition()).collect();
                if !conds.is_empty() {
                    item["enableWhen"] = Json::Array(conds);
                    if self.rng.chance(50) {
                        item["enableBehavior"] = json!("all");
                    }
                }
            }
            if depth < 2 && self.rng.chance(25) {
                let repeats = !in_repeating && self.rng.chance(40);
                item["type"] = json!("group");
                if repeats {
                    item["repeats"] = json!(true);
                    // Row-count limits live on the first enabled row: exercise who holds them
                    // as rows come, go, and switch on and off.
                    if self.rng.chance(40) {
                        let (url, n) = if self.rng.chance(50) {
                            ("http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs", 2)
                        } else {
                            ("http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs", 2)
                        };
                        item["extension"] = json!([{"url": url, "valueInteger": n}]);
                    }
                }
                item["item"] = Json::Array(self.items(depth + 1, in_repeating || repeats, 4));
            } else {
                let kind = KINDS[self.rng.below(KINDS.len())];
                item["type"] = json!(kind);
                if kind == "choice" {
                    item["answerOption"] = json!([
                        {"valueCoding": {"system": "urn:t", "code": "a", "display": "A"}},
                        {"valueCoding": {"system": "urn:t", "code": "b", "display": "B"}},
                        {"valueCoding": {"system": "urn:t", "code": "c", "display": "C"}}
                    ]);
                    if self.rng.chance(30) {
                        item["repeats"] = json!(true);
                    }
                }
                if self.rng.chance(25) {
                    item["required"] = json!(true);
                }
                if kind == "integer" && self.rng.chance(30) {
                    item["extension"] = json!([{"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 5}]);
                }
                self.questions.push(Q { link_id, kind });
            }
            out.push(item);
        }
        out
    }

    /// Rules read a question and act on a later item (dependencies point backwards).
    fn rules(&mut self) -> Vec<String> {
        let mut rules = Vec::new();
        for _ in 0..self.rng.below(4) {
            let readable: Vec<Q> = self.questions.iter().filter(|q| q.kind != "string").cloned().collect();
            if readable.is_empty() {
                break;
            }
            let q = readable[self.rng.below(readable.len())].clone();
            let pos = self.all.iter().position(|l| *l == q.link_id).unwrap();
            let later: Vec<String> = self.all[pos + 1..].to_vec();
            if later.is_empty() {
                continue;
            }
            let target = later[self.rng.below(later.len())].clone();
            let cond = match q.kind {
                "boolean" => format!("answer(\"{}\") == true", q.link_id),
                "integer" => format!("answer(\"{0}\") != () && answer(\"{0}\") > 2", q.link_id),
                _ => format!("has_answer_code(\"{}\", \"b\")", q.link_id),
            };
            let action = match self.rng.below(4) {
                0 => format!("ask(\"{target}\", \"because of {}\");", q.link_id),
                1 => format!("hide(\"{target}\", \"not needed\");"),
                2 => format!("require(\"{target}\");"),
                _ => format!("flag(\"{target}\", \"check\");"),
            };
            rules.push(format!("if {cond} {{\n    {action}\n}}\n"));
        }
        rules
    }
}

fn random_value(rng: &mut Rng, kind: ItemType) -> Vec<Value> {
    if rng.chance(15) {
        return Vec::new();
    }
    match kind {
        ItemType::Boolean => vec![Value::Boolean(rng.chance(50))],
        ItemType::Integer => vec![Value::Integer(rng.below(8) as i64)],
        ItemType::Choice => {
            let code = ["a", "b", "c"][rng.below(3)];
            vec![Value::Coding(Coding { system: Some("urn:t".into()), code: Some(code.into()), ..Default::default() })]
        }
        _ => vec![Value::String(["x", "y", ""][rng.below(3)].into()).clone()].into_iter().filter(|v| v.as_str() != Some("")).collect(),
    }
}

fn states(s: &Session) -> BTreeMap<String, (ItemState, Vec<Value>)> {
    s.preorder()
        .into_iter()
        .map(|n| {
            let node = s.node(n).unwrap();
            (s.node_key(n), (node.state.clone(), node.answers.clone()))
        })
        .collect()
}

fn run_seed(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut g = Gen { rng: &mut rng, count: 0, questions: Vec::new(), all: Vec::new() };
    let items = g.items(0, false, 12);
    let rules = g.rules();
    let q = questionnaire(Json::Array(items));
    let rule_files: Vec<(String, String)> = rules.iter().enumerate().map(|(i, r)| (format!("rules/r{i}.rhai"), r.clone())).collect();
    let rule_refs: Vec<(&str, &str)> = rule_files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let vt = match try_visit_type(q.clone(), &rule_refs, json!({})) {
        Ok(vt) => Rc::new(vt),
        Err(d) => return Err(format!("generated visit type did not load: {d:?}\n{q}\n{rules:?}")),
    };
    assert!(
        vt.form.warnings.iter().all(|w| !w.message.contains("cycle")),
        "generator produced a cycle: {:?}",
        vt.form.warnings
    );
    let mut a = session(&vt);
    for step in 0..30 {
        let live = a.preorder();
        let op = rng.below(10);
        let what: String;
        if op < 8 {
            let questions: Vec<NodeId> = live.iter().copied().filter(|n| a.def(*n).item_type.is_question()).collect();
            if questions.is_empty() {
                continue;
            }
            let n = questions[rng.below(questions.len())];
            let values = random_value(&mut rng, a.def(n).item_type);
            what = format!("answer {} = {:?}", a.node_key(n), values.iter().map(|v| v.display()).collect::<Vec<_>>());
            a.answer(n, values).map_err(|e| format!("seed {seed} step {step}: {what}: {e}"))?;
        } else {
            let groups: Vec<NodeId> = live.iter().copied().filter(|n| a.def(*n).is_repeating_group()).collect();
            if groups.is_empty() {
                continue;
            }
            let g = groups[rng.below(groups.len())];
            let (parent, item) = (a.node(g).unwrap().parent, a.node(g).unwrap().item);
            if op == 8 || a.rows(parent, item).len() == 1 {
                what = format!("add row to {}", a.node_key(g));
                a.add_row(parent, item).map_err(|e| format!("{what}: {e}"))?;
            } else {
                what = format!("remove row {}", a.node_key(g));
                a.remove_row(g).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        // The reference: restore the answers into a fresh session, evaluate from scratch.
        let snap = answers_file::snapshot(&a);
        let mut b = Session::new(vt.clone(), chart(), VisitContext::default(), now(), "test-session").unwrap();
        answers_file::apply(&mut b, &snap).map_err(|e| format!("seed {seed} step {step}: restore failed: {e}"))?;
        b.evaluate_naive();
        let (sa, sb) = (states(&a), states(&b));
        if sa != sb {
            let diff: Vec<String> = sa
                .iter()
                .filter(|(k, v)| sb.get(*k) != Some(v))
                .take(5)
                .map(|(k, v)| format!("  {k}: incremental {:?}\n  {k}: reference   {:?}", v.0, sb.get(k).map(|x| &x.0)))
                .collect();
            return Err(format!(
                "seed {seed} step {step} after `{what}`: incremental state differs from a full re-evaluation\n{}\nform: {q}\nrules: {rules:?}",
                diff.join("\n")
            ));
        }
        for i in 0..vt.form.items.len() {
            let item = intake_engine::ItemId(i as u32);
            if a.effective_answers(item) != b.effective_answers(item) {
                return Err(format!("seed {seed} step {step}: effective answers of {} differ", vt.form.items[i].link_id));
            }
        }
    }
    Ok(())
}

#[test]
fn incremental_evaluation_equals_full_reevaluation() {
    let seeds: u64 = std::env::var("INTAKE_PROP_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let failures: Vec<String> = (1..=seeds).filter_map(|s| run_seed(s).err()).take(3).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_property_can_fail() {
    // A session whose bookkeeping is deliberately stale must be caught by the comparison:
    // change an answer behind the engine's back, and the reference sees a different state.
    let q = questionnaire(json!([
        {"linkId": "a", "type": "boolean"},
        {"linkId": "b", "type": "string", "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": true}]}
    ]));
    let vt = visit_type(q, &[]);
    let mut a = session(&vt);
    a.answer_link_id("a", vec![Value::Boolean(true)]).unwrap();
    let before = states(&a);
    let mut b = Session::new(vt.clone(), chart(), VisitContext::default(), now(), "test-session").unwrap();
    b.answer_link_id("a", vec![Value::Boolean(false)]).unwrap();
    b.evaluate_naive();
    assert_ne!(before, states(&b));
}

#[test]
fn cyclic_conditions_are_reported_at_load() {
    let f = form(json!([
        {"linkId": "a", "type": "string", "enableWhen": [{"question": "b", "operator": "exists", "answerBoolean": true}]},
        {"linkId": "b", "type": "string", "enableWhen": [{"question": "a", "operator": "exists", "answerBoolean": true}]}
    ]));
    assert!(f.warnings.iter().any(|w| w.message.contains("cycle (a -> b -> a)") || w.message.contains("cycle (b -> a -> b)")), "{:?}", f.warnings);
}
