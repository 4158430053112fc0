//! Finding rules that never settle, before a patient does.
//!
//! A rule that hides a question once it is answered, and asks it while it is empty, undoes
//! itself forever. At run time the session stops after a bounded number of steps and fails
//! open (the write-back carries a review Task), but that is a bug in the visit type, and
//! `intake check` should find it first. This runs a bounded search: the empty form, every item
//! the rules mention answered alone with each of a few typical values, and every pair of them,
//! on the chart given; any state in which evaluation does not settle is reported.

use std::rc::Rc;

use intake_fhir::{Coding, DateTime, Quantity, Value};

use crate::chart::Chart;
use crate::context::VisitContext;
use crate::questionnaire::{ItemDef, ItemId, ItemType};
use crate::session::Session;
use crate::visit_type::VisitType;

/// At most this many answer states are tried per visit type.
pub const MAX_STATES: usize = 2_000;

/// A few values an item might be answered with.
fn sample_values(def: &ItemDef, now: DateTime) -> Vec<Value> {
    let mut v: Vec<Value> = match def.item_type {
        ItemType::Boolean => vec![Value::Boolean(true), Value::Boolean(false)],
        ItemType::Choice | ItemType::OpenChoice if !def.options.is_empty() => {
            def.options.iter().take(4).map(|o| o.value.clone()).collect()
        }
        ItemType::Choice => vec![Value::Coding(Coding { code: Some("x".into()), ..Default::default() })],
        ItemType::Integer => vec![Value::Integer(0), Value::Integer(1), Value::Integer(200)],
        ItemType::Decimal => vec![Value::Decimal(0.0), Value::Decimal(1.5), Value::Decimal(200.0)],
        ItemType::Quantity => def
            .units
            .first()
            .map(|u| {
                [0.0, 1.5, 200.0]
                    .iter()
                    .map(|x| Value::Quantity(Quantity { value: Some(*x), code: u.code.clone(), ..Default::default() }))
                    .collect()
            })
            .unwrap_or_default(),
        ItemType::String | ItemType::Text | ItemType::OpenChoice => vec![Value::String("text".into())],
        ItemType::Date => vec![Value::Date(now.date)],
        ItemType::DateTime => vec![Value::DateTime(now)],
        _ => Vec::new(),
    };
    v.truncate(4);
    v
}

/// Answer states in which the rules of `vt` do not settle on `chart`, described for authors
/// (`chest-pain = true, chest-pain-detail = "text"`). Empty when every state tried settles.
pub fn find_unsettled(vt: &Rc<VisitType>, chart: &Rc<Chart>, now: DateTime) -> Vec<String> {
    let form = &vt.form;
    let mut items: Vec<ItemId> = vt.rules.rules.iter().flat_map(|r| r.mentions.iter().map(|m| m.item)).collect();
    items.sort_unstable_by_key(|i| i.0);
    items.dedup();
    // Items inside repeating groups have one node per row: they are left to the scenarios.
    items.retain(|i| {
        let d = form.item(*i);
        d.item_type.is_question() && !d.in_repeating_group
    });
    let samples: Vec<(ItemId, Vec<Value>)> =
        items.iter().map(|i| (*i, sample_values(form.item(*i), now))).filter(|(_, v)| !v.is_empty()).collect();
    let mut states: Vec<Vec<(ItemId, Value)>> = vec![Vec::new()];
    for (i, vals) in &samples {
        for v in vals {
            states.push(vec![(*i, v.clone())]);
        }
    }
    'pairs: for a in 0..samples.len() {
        for b in a + 1..samples.len() {
            for va in &samples[a].1 {
                for vb in &samples[b].1 {
                    if states.len() >= MAX_STATES {
                        break 'pairs;
                    }
                    states.push(vec![(samples[a].0, va.clone()), (samples[b].0, vb.clone())]);
                }
            }
        }
    }
    let mut found = Vec::new();
    for state in states {
        let Ok(mut s) = Session::new(vt.clone(), chart.clone(), VisitContext::default(), now, "settle-check") else { return found };
        let mut unsettled = s.unsettled();
        for (item, value) in &state {
            let link_id = &form.item(*item).link_id;
            if s.answer_link_id(link_id, vec![value.clone()]).is_ok() && s.unsettled() {
                unsettled = true;
            }
        }
        if unsettled {
            let desc: Vec<String> =
                state.iter().map(|(i, v)| format!("{} = {}", form.item(*i).link_id, v.display())).collect();
            found.push(if desc.is_empty() { "the empty form".to_owned() } else { desc.join(", ") });
            if found.len() >= 5 {
                break;
            }
        }
    }
    found
}
