//! The answers file: a plain JSON form of a session's answers, written by hand for scenario
//! tests and the CLI, and written by the engine as the autosave snapshot (so resuming after a
//! reload is replaying the file).
//!
//! ```json
//! {
//!   "format": "intake-answers/1",
//!   "visit_type": "hypertension-follow-up",
//!   "patient": "Patient/123",
//!   "answers": {
//!     "dizziness": true,
//!     "home-bp-systolic": 142,
//!     "symptoms": ["headache", {"system": "http://snomed.info/sct", "code": "25064002"}],
//!     "allergy": [
//!       { "@source": "AllergyIntolerance/abc", "allergy.status": "confirmed" },
//!       { "allergy.substance": "penicillin", "allergy.reaction": ["rash"] }
//!     ]
//!   }
//! }
//! ```
//!
//! Keys are linkIds. A question takes one value, or an array for a repeating question; `null`
//! clears it. A repeating group takes an array of rows: a row with `"@source"` addresses the
//! row prefilled from that chart resource, other rows are the patient's additions (they replace
//! any empty rows the form started with). Inside a row, keys are the row's items. Values are
//! JSON booleans and numbers, strings (dates as `YYYY-MM-DD`, a choice by code or by its exact
//! label, free text), or objects for codings (`system`, `code`), quantities (`value`, `unit`)
//! and references (`reference`).

use std::fmt;

use intake_fhir::{Attachment, Coding, Cx, FromJson, Json, Quantity, Reference, Value};

use crate::answer::{coerce_all, parse_text, AnswerError};
use crate::questionnaire::{ItemDef, ItemId, ItemType};
use crate::session::{NodeId, Session, SessionError};

pub const FORMAT: &str = "intake-answers/1";

/// A problem in an answers file, with the path of the offending value.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswersError {
    /// `answers.allergy[1].allergy.substance`.
    pub path: String,
    pub kind: AnswersErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AnswersErrorKind {
    Answer(AnswerError),
    /// A key no item has, with a "did you mean" (or nothing).
    UnknownLinkId(String, String),
    /// The item exists but not where the key was given (e.g. a row item at the top level).
    NotHere(String),
    ExpectedRows(String),
    ExpectedObject,
    UnknownSource(String),
    BadValue(String),
}

impl fmt::Display for AnswersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: ", self.path)?;
        match &self.kind {
            AnswersErrorKind::Answer(e) => write!(f, "{e}"),
            AnswersErrorKind::UnknownLinkId(l, hint) => write!(f, "'{l}' is not an item of this visit type{hint}"),
            AnswersErrorKind::NotHere(l) => {
                write!(f, "'{l}' is inside a repeating group; give it inside that group's rows")
            }
            AnswersErrorKind::ExpectedRows(l) => write!(f, "'{l}' is a repeating group; expected an array of rows"),
            AnswersErrorKind::ExpectedObject => write!(f, "expected an object of linkId: answer"),
            AnswersErrorKind::UnknownSource(r) => write!(f, "no row prefilled from {r} (is it in the chart?)"),
            AnswersErrorKind::BadValue(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for AnswersError {}

/// Apply an answers file (the whole file, or just its `answers` object) to a session.
/// Strict: the first entry that does not fit is the error (CLI input and scenario files, where
/// a wrong entry is the author's mistake to fix).
pub fn apply(session: &mut Session, file: &Json) -> Result<(), SessionError> {
    let problems = restore(session, file)?;
    match problems.into_iter().next() {
        Some(first) => Err(SessionError::Answers(first)),
        None => Ok(()),
    }
}

/// Apply an answers file, keeping every entry that still fits and returning the ones that do
/// not (an autosave from an older version of the form: a renamed linkId, an option removed).
///
/// Why not stop at the first problem: the entries after it are the patient's answers too, and
/// losing them without a word is the failure this exists to prevent. A file for another
/// patient or visit type is still refused whole.
pub fn restore(session: &mut Session, file: &Json) -> Result<Vec<AnswersError>, SessionError> {
    let answers = match file.get("answers") {
        Some(a) => a,
        None if file.get("format").is_some() => return Ok(Vec::new()),
        None => file,
    };
    if let Some(saved) = file.get("patient").and_then(Json::as_str) {
        let chart = session.chart();
        if !chart.aliases.iter().any(|a| a == saved) {
            return Err(SessionError::PatientMismatch { saved: saved.to_owned(), chart: chart.patient_ref.clone() });
        }
    }
    if let Some(saved) = file.get("visit_type").and_then(Json::as_str) {
        let current = &session.visit_type().manifest.id;
        if saved != current {
            return Err(SessionError::VisitTypeMismatch { saved: saved.to_owned(), current: current.clone() });
        }
    }
    let mut problems = Vec::new();
    apply_in(session, None, answers, "answers", &mut problems);
    Ok(problems)
}

/// Apply one object of `linkId: answer`; every entry that does not fit is recorded in
/// `problems` and skipped, the rest still apply.
fn apply_in(s: &mut Session, scope: Option<NodeId>, obj: &Json, path: &str, problems: &mut Vec<AnswersError>) {
    let err = |path: &str, kind| AnswersError { path: path.to_owned(), kind };
    let Json::Object(map) = obj else {
        problems.push(err(path, AnswersErrorKind::ExpectedObject));
        return;
    };
    for (key, val) in map {
        if key.starts_with('@') || key == "$comment" {
            continue;
        }
        let kpath = format!("{path}.{key}");
        let Some(item) = s.form().find(key) else {
            let hint = crate::suggest::hint(key, s.form().items.iter().map(|d| d.key.as_str()));
            problems.push(err(&kpath, AnswersErrorKind::UnknownLinkId(key.clone(), hint)));
            continue;
        };
        let def = s.form().item_shared(item);
        if def.is_repeating_group() {
            apply_rows(s, scope, item, val, &kpath, problems);
        } else if !def.item_type.is_question() {
            apply_in(s, scope, val, &kpath, problems);
        } else {
            let result = node_in_scope(s, scope, item)
                .ok_or_else(|| err(&kpath, AnswersErrorKind::NotHere(key.clone())))
                .and_then(|node| {
                    let values = json_values(&def, val).map_err(|kind| err(&kpath, kind))?;
                    answer_keeping_chart_values(s, node, values).map_err(|e| err(&kpath, AnswersErrorKind::Answer(e)))
                });
            if let Err(e) = result {
                problems.push(e);
            }
        }
    }
}

fn apply_rows(s: &mut Session, scope: Option<NodeId>, group: ItemId, val: &Json, path: &str, problems: &mut Vec<AnswersError>) {
    let err = |path: &str, kind| AnswersError { path: path.to_owned(), kind };
    let link_id = s.form().item(group).link_id.clone();
    let Json::Array(rows) = val else {
        problems.push(err(path, AnswersErrorKind::ExpectedRows(link_id)));
        return;
    };
    let parent = match s.form().item(group).parent {
        Some(p) => match node_in_scope(s, scope, p) {
            Some(n) => Some(n),
            None => {
                problems.push(err(path, AnswersErrorKind::NotHere(link_id.clone())));
                return;
            }
        },
        None => None,
    };
    let existing = s.rows(parent, group);
    let mut fresh: Vec<NodeId> = existing.iter().copied().filter(|r| s.nodes[r.index()].on_file.is_none()).collect();
    fresh.reverse();
    for (i, row) in rows.iter().enumerate() {
        let rpath = format!("{path}[{i}]");
        let target = match row.get("@source").and_then(Json::as_str) {
            Some(reference) => existing
                .iter()
                .copied()
                .find(|r| s.nodes[r.index()].on_file.as_ref().is_some_and(|o| o.reference == reference))
                .ok_or_else(|| err(&rpath, AnswersErrorKind::UnknownSource(reference.to_owned()))),
            None => match fresh.pop() {
                Some(r) => Ok(r),
                None => s.add_row(parent, group).map(|(r, _)| r).map_err(|e| err(&rpath, AnswersErrorKind::Answer(e))),
            },
        };
        match target {
            Ok(target) => apply_in(s, Some(target), row, &rpath, problems),
            Err(e) => problems.push(e),
        }
    }
    // Rows the file does not list are rows the patient did not keep.
    for r in fresh {
        if let Err(e) = s.remove_row(r) {
            problems.push(err(path, AnswersErrorKind::Answer(e)));
        }
    }
}

/// Read an answers file that may have been cut short (a snapshot written while the tab was
/// closing, storage quota hit mid-write): the longest prefix that ends after a complete entry,
/// closed with the brackets still open, so every answer written before the cut is recovered.
/// Returns `None` when nothing readable is left.
pub fn salvage(text: &str) -> Option<Json> {
    if let Ok(j) = serde_json::from_str::<Json>(text) {
        return Some(j);
    }
    // Candidate cut points: before each comma outside strings, with the closers open there.
    let mut cuts: Vec<(usize, String)> = Vec::new();
    let mut stack: Vec<u8> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => stack.push(b'}'),
            b'[' => stack.push(b']'),
            b'}' | b']' => {
                stack.pop();
            }
            b',' if stack.len() <= crate::answers_file::MAX_SALVAGE_DEPTH => {
                cuts.push((i, stack.iter().rev().map(|c| *c as char).collect()));
            }
            _ => {}
        }
    }
    // The latest cut that parses keeps the most; try a bounded number of them.
    for (at, closers) in cuts.iter().rev().take(256) {
        let candidate = format!("{}{}", &text[..*at], closers);
        if let Ok(j) = serde_json::from_str::<Json>(&candidate) {
            return Some(j);
        }
    }
    None
}

/// Nesting deeper than this is not an answers file; salvage does not try to close it.
pub const MAX_SALVAGE_DEPTH: usize = 32;

/// The node of `item` inside `scope` (a row), or anywhere outside repeating groups.
fn node_in_scope(s: &Session, scope: Option<NodeId>, item: ItemId) -> Option<NodeId> {
    let candidates: Vec<NodeId> = match scope {
        // Search the row's own subtree: scanning every node of the item is quadratic over rows.
        Some(sc) => {
            let mut found = Vec::new();
            let mut stack = vec![sc];
            while let Some(x) = stack.pop() {
                let node = &s.nodes[x.index()];
                if node.item == item {
                    found.push(x);
                } else if s.form().is_ancestor_or_self(node.item, item) {
                    stack.extend(node.children.iter().copied());
                }
            }
            found
        }
        None => s.nodes_of(item).to_vec(),
    };
    match candidates.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Answer one node from answers-file JSON (a value, an array, or null to clear). Returns what
/// changed, so a caller's cost is proportional to the change, not to the form.
pub fn answer_json(s: &mut Session, node: NodeId, value: &Json) -> Result<crate::session::Changes, AnswersError> {
    let def = s.def_shared(node);
    let path = format!("answers.{}", def.key);
    // Changes pending from earlier operations (a restore) are not this answer's.
    let _ = s.take_changes();
    let values = json_values(&def, value).map_err(|kind| AnswersError { path: path.clone(), kind })?;
    answer_keeping_chart_values(s, node, values).map_err(|e| AnswersError { path, kind: AnswersErrorKind::Answer(e) })?;
    Ok(s.take_changes())
}

/// Answer a node; values the chart itself supplied to this node are accepted as they are
/// (a chart code need not be one of the form's options).
fn answer_keeping_chart_values(s: &mut Session, node: NodeId, values: Vec<Value>) -> Result<(), AnswerError> {
    let from_chart: Vec<Value> = s.nodes[node.index()].prefilled.as_ref().map(|p| p.values.clone()).unwrap_or_default();
    let def = s.def_shared(node);
    let (kept, others): (Vec<Value>, Vec<Value>) = values.into_iter().partition(|v| from_chart.contains(v));
    let mut checked = coerce_all(&def, others)?;
    let mut all = kept;
    all.append(&mut checked);
    if all.len() > 1 && !def.repeats {
        return Err(AnswerError::TooManyAnswers { link_id: def.link_id.clone() });
    }
    if def.read_only && all != s.nodes[node.index()].answers {
        return Err(AnswerError::ReadOnly { link_id: def.link_id.clone() });
    }
    s.set_answers(node, all);
    Ok(())
}

fn json_values(def: &ItemDef, v: &Json) -> Result<Vec<Value>, AnswersErrorKind> {
    match v {
        Json::Null => Ok(Vec::new()),
        Json::Array(items) => items.iter().map(|x| json_value(def, x)).collect(),
        single => Ok(vec![json_value(def, single)?]),
    }
}

/// One JSON answer as a value for an item.
pub fn json_value(def: &ItemDef, v: &Json) -> Result<Value, AnswersErrorKind> {
    let bad = |m: String| AnswersErrorKind::BadValue(m);
    Ok(match v {
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), def.item_type) {
            (Some(i), t) if t != ItemType::Decimal => Value::Integer(i),
            _ => Value::Decimal(n.as_f64().ok_or_else(|| bad(format!("{n} is not a number")))?),
        },
        Json::String(s) => parse_text(def, s).map_err(AnswersErrorKind::Answer)?,
        Json::Object(m) => {
            // The item's type says what the object is: a quantity also has `system` and `code`.
            let mut cx = Cx::new("answer");
            let read_err = |e: intake_fhir::ModelError| bad(e.to_string());
            match def.item_type {
                ItemType::Quantity => Value::Quantity(Quantity::from_json(v, &mut cx).map_err(read_err)?),
                ItemType::Reference => Value::Reference(Reference::from_json(v, &mut cx).map_err(read_err)?),
                ItemType::Attachment => Value::Attachment(Box::new(Attachment::from_json(v, &mut cx).map_err(read_err)?)),
                _ if m.contains_key("code") || m.contains_key("system") => {
                    Value::Coding(Coding::from_json(v, &mut cx).map_err(read_err)?)
                }
                _ if m.contains_key("reference") => Value::Reference(Reference::from_json(v, &mut cx).map_err(read_err)?),
                _ => return Err(bad("an object answer needs code/system (a coding), value (a quantity) or reference".into())),
            }
        }
        Json::Array(_) => return Err(bad("nested arrays are not answers".into())),
        Json::Null => return Err(bad("null inside a list of answers".into())),
    })
}

/// A value as answers-file JSON.
pub fn value_json(v: &Value) -> Json {
    use intake_fhir::ToJson;
    match v {
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::from(*i),
        Value::Decimal(d) => d.to_json(),
        Value::String(s) | Value::Text { value: s, .. } => Json::String(s.clone()),
        Value::Date(d) => Json::String(d.to_string()),
        Value::DateTime(d) => Json::String(d.to_string()),
        Value::Time(t) => Json::String(t.to_string()),
        other => intake_fhir::Choice::to_choice(other).1,
    }
}

/// A session's answers as an answers file (the autosave snapshot), as text: whose it is first
/// (format, visit type, patient, session), then `page` if given, the answers, then `extra` in
/// the order given (the browser's drafts, a stored submission).
///
/// Why the order: storage can cut a write short (quota, a closing tab). Cut after the header,
/// [`salvage`] still knows whose answers these are and recovers every complete answer; with
/// keys in alphabetical order the identity would come last and be the first thing lost.
///
/// Written in one pass straight from the session, answers in form order. The browser saves on
/// every answer: on a form of 5,000 answers, building a JSON tree first (and each coding's
/// tree from its text) took 6 ms of the 9 ms an answer cost.
pub fn snapshot_text(s: &Session, page: Option<u64>, extra: &[(&str, Json)]) -> String {
    use intake_fhir::json::{write_key, write_str};
    use intake_fhir::WriteJson;
    let mut out = String::with_capacity(256);
    out.push('{');
    let mut first = true;
    for (key, value) in [
        ("format", FORMAT),
        ("visit_type", s.visit_type().manifest.id.as_str()),
        ("patient", s.chart().patient_ref.as_str()),
        ("session", s.id()),
    ] {
        write_key(&mut out, &mut first, key);
        write_str(&mut out, value);
    }
    if let Some(page) = page {
        write_key(&mut out, &mut first, "page");
        out.push_str(&page.to_string());
    }
    write_key(&mut out, &mut first, "answers");
    out.push('{');
    emit(s, s.roots(), &mut out, &mut true);
    out.push('}');
    for (key, value) in extra {
        write_key(&mut out, &mut first, key);
        value.write_json(&mut out);
    }
    out.push('}');
    out
}

/// The snapshot as a JSON tree (tests, the CLI, resuming), parsed from [`snapshot_text`] so
/// there is one writer to keep correct.
pub fn snapshot(s: &Session) -> Json {
    serde_json::from_str(&snapshot_text(s, None, &[])).unwrap_or(Json::Null)
}

/// The members for `children` (and their descendants outside repeating groups), appended to an
/// open object. A linkId used twice in a form (sloppy forms do) is written twice; reading keeps
/// the last, as it did when this built a map.
fn emit(s: &Session, children: &[NodeId], out: &mut String, first: &mut bool) {
    use intake_fhir::json::{write_key, write_str};
    use intake_fhir::Choice;
    let mut done_groups: Vec<ItemId> = Vec::new();
    for &c in children {
        let node = &s.nodes[c.index()];
        let def = s.form().item(node.item);
        if def.is_repeating_group() {
            if done_groups.contains(&node.item) {
                continue;
            }
            done_groups.push(node.item);
            write_key(out, first, &def.key);
            out.push('[');
            for (i, r) in children.iter().filter(|r| s.nodes[r.index()].item == node.item).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('{');
                let mut row_first = true;
                if let Some(of) = &s.nodes[r.index()].on_file {
                    write_key(out, &mut row_first, "@source");
                    write_str(out, &of.reference);
                }
                emit(s, &s.nodes[r.index()].children, out, &mut row_first);
                out.push('}');
            }
            out.push(']');
        } else {
            if def.item_type.is_question() {
                let was_prefilled = node.prefilled.as_ref().is_some_and(|p| !p.values.is_empty());
                if let Some(one) = node.answers.first() {
                    write_key(out, first, &def.key);
                    if def.repeats {
                        out.push('[');
                        for (i, v) in node.answers.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            v.write_choice_value(out);
                        }
                        out.push(']');
                    } else {
                        one.write_choice_value(out);
                    }
                } else if was_prefilled {
                    write_key(out, first, &def.key);
                    out.push_str("null");
                }
            }
            emit(s, &node.children, out, first);
        }
    }
}
