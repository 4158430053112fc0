//! One patient filling in one visit type: the answers, the rows of repeating groups, and the
//! computed state of every item (shown, required, why, errors).
//!
//! The item tree is instantiated as *nodes*: one per item, except that a repeating group has
//! one node per row, each with its own children. Node ids are stable for the session's life
//! (a removed row's nodes are retired, never reused), so a UI can key its widgets by them.
//!
//! Every change goes through [`Session::answer`], [`Session::add_row`] or
//! [`Session::remove_row`], which re-evaluate only what depends on the change (see
//! `evaluate.rs`) and return the nodes whose state changed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use intake_fhir::{DateTime, Value};

use crate::answer::{coerce_all, AnswerError};
use crate::chart::Chart;
use crate::context::VisitContext;
use crate::questionnaire::{Form, ItemDef, ItemId, LocalText, Operator};
use crate::rules::{AnswerTable, Facts, Outcome, RuleError};
use crate::validate::ValidationError;
use crate::visit_type::{ListKind, VisitType};

/// A node of the instantiated item tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why an item is shown to the patient.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// A rule asked for it, with its patient-facing reason.
    Rule { rule: String, reason: Option<LocalText> },
    /// An earlier answer enabled it.
    Answer { question: ItemId, operator: Operator, value: Value },
    /// The form author's stated reason (`why-asked` extension).
    Author(LocalText),
}

/// Why an item is not shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Hidden {
    /// Its group (or parent question) is hidden.
    Parent,
    /// Its enableWhen conditions are not met.
    EnableWhen,
    /// Its `enableWhenExpression` is not true (or failed: see `Session::expression_errors`).
    Expression,
    /// A rule may ask for it, and none has.
    NotAsked,
    /// A rule hid it.
    Rule { rule: String, reason: Option<LocalText> },
    /// The review question of a row the patient added (there is nothing on file to review).
    NewRow,
}

/// What the engine decided about one node.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemState {
    pub enabled: bool,
    pub required: bool,
    pub why: Option<Why>,
    pub hidden: Option<Hidden>,
    /// Reasons a clinician should review this answer.
    pub flags: Vec<LocalText>,
    pub errors: Vec<ValidationError>,
}

impl Default for ItemState {
    fn default() -> Self {
        ItemState { enabled: false, required: false, why: None, hidden: Some(Hidden::Parent), flags: Vec::new(), errors: Vec::new() }
    }
}

/// A row of an on-file list: the chart entry it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct OnFileRow {
    pub kind: ListKind,
    /// `AllergyIntolerance/123`.
    pub reference: String,
    /// A one-line summary for the patient ("Penicillin: hives").
    pub summary: String,
}

/// Values an item was prefilled with from the chart, to show "on file" and to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Prefilled {
    /// Where they came from: `Patient.telecom`, `Observation/abc`.
    pub source: String,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub item: ItemId,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    pub alive: bool,
    pub answers: Vec<Value>,
    pub on_file: Option<OnFileRow>,
    pub prefilled: Option<Prefilled>,
    pub state: ItemState,
}

/// How a rule's last run ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleRun {
    NotRun,
    Done(Outcome),
}

/// Per item, what all rules together currently say.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RuleView {
    pub asked: Option<(usize, Option<LocalText>)>,
    pub hidden: Option<(usize, Option<LocalText>)>,
    pub required: bool,
    pub flags: Vec<LocalText>,
}

/// What changed after an operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    /// Nodes whose state, answers or children changed (including new ones).
    pub nodes: Vec<NodeId>,
    /// Nodes retired by a row removal.
    pub removed: Vec<NodeId>,
}

/// Problems starting or restoring a session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    EmptySessionId,
    /// Saved answers belong to a different patient than the chart.
    PatientMismatch { saved: String, chart: String },
    /// Saved answers belong to a different visit type.
    VisitTypeMismatch { saved: String, current: String },
    Answers(crate::answers_file::AnswersError),
    /// The host named a respondent we cannot stand behind (`path`: where in the options).
    Respondent { path: String, message: String },
    /// The visit type's manifest (`applies_to`) says it is not for this patient or visit.
    NotApplicable { visit_type: String, reason: String },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::EmptySessionId => write!(f, "a session needs a non-empty id"),
            SessionError::PatientMismatch { saved, chart } => write!(
                f,
                "saved answers are for {saved}, but the chart is for {chart}; they were not loaded"
            ),
            SessionError::VisitTypeMismatch { saved, current } => {
                write!(f, "saved answers are for visit type '{saved}', not '{current}'")
            }
            SessionError::Answers(e) => write!(f, "{e}"),
            SessionError::Respondent { path, message } => write!(f, "{path}: {message}"),
            SessionError::NotApplicable { visit_type, reason } => {
                write!(f, "visit type '{visit_type}' does not apply here: it is {reason} (its manifest's applies_to)")
            }
        }
    }
}

impl std::error::Error for SessionError {}

/// A proxy's `reference` is copied into the response's author and source, Observation
/// performers and the Provenance agent: it must be a plain FHIR reference to a RelatedPerson of
/// this patient in the chart (or to the patient), never another patient, an invented person or
/// a `javascript:` URL.
fn check_respondent(context: &VisitContext, chart: &Chart) -> Result<(), SessionError> {
    let crate::context::Respondent::Proxy(proxy) = &context.respondent else { return Ok(()) };
    let Some(reference) = proxy.reference.as_deref() else { return Ok(()) };
    let refuse = |message: String| SessionError::Respondent { path: "context.respondent.reference".into(), message };
    let shape_ok = {
        let tail = reference.rsplit_once("://").map(|(scheme, rest)| (scheme, rest));
        let relative = match tail {
            Some((scheme, rest)) if scheme == "http" || scheme == "https" => rest.split_once('/').map(|(_, path)| path),
            Some(_) => None,
            None if reference.starts_with("urn:uuid:") => Some(""),
            None => Some(reference),
        };
        match relative {
            Some("") => true,
            Some(path) => {
                let parts: Vec<&str> = path.rsplit('/').take(2).collect();
                matches!(parts.as_slice(), [id, rt] if matches!(*rt, "RelatedPerson" | "Patient")
                    && !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            }
            None => false,
        }
    };
    if !shape_ok {
        return Err(refuse(format!(
            "\"{reference}\" is not a reference to a RelatedPerson (RelatedPerson/<id>, an absolute URL to one, or a chart fullUrl)"
        )));
    }
    let known = chart.is_patient_reference(reference) || chart.related_persons.iter().any(|r| r.reference == reference);
    if !known {
        return Err(refuse(format!(
            "{reference} is not a RelatedPerson of {} in the chart; give the chart's RelatedPerson, or leave reference out to record the proxy by name and relationship",
            chart.patient_ref
        )));
    }
    Ok(())
}

/// One intake in progress.
pub struct Session {
    pub(crate) vt: Rc<VisitType>,
    pub(crate) facts: Facts,
    pub(crate) id: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) roots: Vec<NodeId>,
    /// [`Session::preorder`], kept until a node comes or goes (`new_node`, `remove_row`, the
    /// only places the tree changes): an expression pass walked it several times per answer.
    preorder_cache: RefCell<Option<Rc<[NodeId]>>>,
    /// Live nodes of each item.
    pub(crate) by_item: Vec<Vec<NodeId>>,
    /// Effective answers per item, shared with the rule host functions.
    pub(crate) table: Rc<RefCell<AnswerTable>>,
    pub(crate) runs: Vec<RuleRun>,
    /// For each item, the rules whose last run read it.
    pub(crate) readers: Vec<Vec<usize>>,
    pub(crate) views: Vec<RuleView>,
    pub(crate) queue: VecDeque<NodeId>,
    pub(crate) queued: Vec<bool>,
    pub(crate) dirty_rules: Vec<bool>,
    /// Answer-table entries not refreshed because no rule has read them yet: refreshed before
    /// any rule runs, so a table read is never stale, and an answer in one of 10,000 rows does
    /// not rebuild a 10,000-value entry nobody reads.
    pub(crate) stale: Vec<bool>,
    pub(crate) changed: Vec<NodeId>,
    pub(crate) changed_mark: Vec<bool>,
    pub(crate) removed: Vec<NodeId>,
    /// Set when evaluation did not settle (rules that keep flipping each other).
    pub(crate) unsettled: bool,
    /// Per node: the verdict of its item's `enableWhenExpression` in its own context (each
    /// row of a repeating group has its own), once evaluated.
    pub(crate) expr_enabled: Vec<Option<bool>>,
    /// Answers changed since the expressions were last evaluated.
    pub(crate) expr_dirty: bool,
    /// Per node: the patient changed a calculated value, which is then theirs to keep.
    pub(crate) calc_edited: Vec<bool>,
    /// Expressions that failed in the last pass: (JSON path, message).
    pub(crate) expr_errors: Vec<(String, String)>,
    /// The in-progress response around its items, as JSON (`response::tree`): it depends only
    /// on the session's fixed facts (chart, respondent, time), so it is built once.
    pub(crate) response_header: std::cell::OnceCell<intake_fhir::Json>,
    /// Per node: options computed by the item's `answerExpression` (None: the form's own).
    pub(crate) dyn_choices: Vec<Option<Vec<crate::questionnaire::AnswerChoice>>>,
    /// Per node: options its `answerOptionsToggleExpression`s turn off just now.
    pub(crate) off_options: Vec<Vec<Value>>,
    /// Per node: text computed by a `cqf-expression` on the item's text.
    pub(crate) dyn_text: Vec<Option<String>>,
    /// The `initialExpression`s have run (once, in the first expression pass).
    pub(crate) initial_done: bool,
    /// FHIRPath values remembered between expression passes.
    #[cfg(feature = "expressions")]
    pub(crate) exprs: crate::expressions::Cache,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("id", &self.id).field("nodes", &self.nodes.len()).finish()
    }
}

impl Session {
    /// Start a session: instantiate the form, prefill it from the chart, evaluate everything.
    pub fn new(
        vt: Rc<VisitType>,
        chart: Rc<Chart>,
        context: VisitContext,
        now: DateTime,
        session_id: &str,
    ) -> Result<Session, SessionError> {
        if session_id.trim().is_empty() {
            return Err(SessionError::EmptySessionId);
        }
        check_respondent(&context, &chart)?;
        // A child's sick visit is not started for an adult: refused with the reason, in the
        // CLI, mount and createSession alike.
        vt.applies(&chart, &context, &now.date).map_err(|reason| SessionError::NotApplicable { visit_type: vt.manifest.id.clone(), reason })?;
        let n_items = vt.form.items.len();
        let n_rules = vt.rules.rules.len();
        let mut s = Session {
            facts: Facts { chart, now, context: Rc::new(context) },
            id: session_id.to_owned(),
            // One node per item until rows are added (a node is large: no doubling growth).
            nodes: Vec::with_capacity(n_items),
            roots: Vec::new(),
            preorder_cache: RefCell::new(None),
            by_item: vec![Vec::new(); n_items],
            table: Rc::new(RefCell::new(vec![Vec::new(); n_items])),
            runs: vec![RuleRun::NotRun; n_rules],
            readers: vec![Vec::new(); n_items],
            views: vec![RuleView::default(); n_items],
            queue: VecDeque::new(),
            queued: Vec::new(),
            dirty_rules: vec![true; n_rules],
            stale: vec![false; n_items],
            changed: Vec::new(),
            changed_mark: Vec::new(),
            removed: Vec::new(),
            unsettled: false,
            expr_enabled: Vec::new(),
            expr_dirty: true,
            calc_edited: Vec::new(),
            expr_errors: Vec::new(),
            response_header: Default::default(),
            initial_done: false,
            dyn_choices: Vec::new(),
            off_options: Vec::new(),
            dyn_text: Vec::new(),
            #[cfg(feature = "expressions")]
            exprs: Default::default(),
            vt,
        };
        let roots: Vec<ItemId> = s.vt.form.roots.clone();
        for item in roots {
            s.instantiate(item, None);
        }
        crate::prefill::prefill(&mut s);
        s.evaluate_all();
        s.take_changes();
        Ok(s)
    }

    /// Create the nodes for an item (and its subtree) under `parent`. A repeating group gets
    /// one empty row, unless it is an on-file list (whose rows come from the chart).
    fn instantiate(&mut self, item: ItemId, parent: Option<NodeId>) {
        let def = self.vt.form.item(item);
        if def.is_repeating_group() {
            if self.vt.list_of_group(item).is_none() {
                self.new_row(item, parent);
            }
            return;
        }
        self.new_node(item, parent);
    }

    /// A node for one item (a row, when the item is a repeating group) and its subtree.
    pub(crate) fn new_node(&mut self, item: ItemId, parent: Option<NodeId>) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        let def = self.vt.form.item(item);
        let answers = initial_answers(def);
        self.nodes.push(Node {
            item,
            parent,
            children: Vec::new(),
            alive: true,
            answers,
            on_file: None,
            prefilled: None,
            state: ItemState::default(),
        });
        self.queued.push(false);
        self.changed_mark.push(false);
        self.expr_enabled.push(None);
        self.calc_edited.push(false);
        self.dyn_choices.push(None);
        self.off_options.push(Vec::new());
        self.dyn_text.push(None);
        self.by_item[item.index()].push(id);
        self.preorder_cache.replace(None);
        // Keep siblings in questionnaire order; rows of one group stay together (a new row
        // after the group's last). Siblings are only ever inserted here and removed, so they
        // stay sorted by item: a binary search finds the place. (A scan from the front made
        // a 5,000-question form's mount quadratic: 12.5 million comparisons, 14-24 ms.)
        let nodes = &self.nodes;
        let after = |c: &NodeId| nodes[c.index()].item <= item;
        match parent {
            Some(p) => {
                let pos = nodes[p.index()].children.partition_point(after);
                self.nodes[p.index()].children.insert(pos, id);
            }
            None => {
                let pos = self.roots.partition_point(after);
                self.roots.insert(pos, id);
            }
        }
        let children = self.vt.form.item(item).children.clone();
        for c in children {
            self.instantiate(c, Some(id));
        }
        self.enqueue_subtree(id);
        self.mark_changed(id);
        id
    }

    pub(crate) fn new_row(&mut self, group: ItemId, parent: Option<NodeId>) -> NodeId {
        self.new_node(group, parent)
    }

    // ---- reading -----------------------------------------------------------------------

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn visit_type(&self) -> &Rc<VisitType> {
        &self.vt
    }

    pub fn form(&self) -> &Form {
        &self.vt.form
    }

    pub fn chart(&self) -> &Chart {
        &self.facts.chart
    }

    pub fn context(&self) -> &VisitContext {
        &self.facts.context
    }

    pub fn now(&self) -> DateTime {
        self.facts.now
    }

    pub fn roots(&self) -> &[NodeId] {
        &self.roots
    }

    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.index()).filter(|n| n.alive)
    }

    pub fn def(&self, id: NodeId) -> &ItemDef {
        self.vt.form.item(self.nodes[id.index()].item)
    }

    /// A node's definition, shared (see [`Form::item_shared`]).
    pub fn def_shared(&self, id: NodeId) -> std::sync::Arc<ItemDef> {
        self.vt.form.item_shared(self.nodes[id.index()].item)
    }

    /// Live nodes of an item.
    pub fn nodes_of(&self, item: ItemId) -> &[NodeId] {
        &self.by_item[item.index()]
    }

    /// The single node of an item outside any repeating group.
    pub fn node_of_link_id(&self, link_id: &str) -> Result<NodeId, AnswerError> {
        let item = self.vt.form.find(link_id).ok_or_else(|| AnswerError::UnknownItem { link_id: link_id.to_owned() })?;
        if self.vt.form.item(item).in_repeating_group {
            return Err(AnswerError::AmbiguousRow { link_id: link_id.to_owned() });
        }
        self.by_item[item.index()].first().copied().ok_or(AnswerError::NoSuchNode)
    }

    /// Rows of a repeating group under a parent node (or at the top level).
    pub fn rows(&self, parent: Option<NodeId>, group: ItemId) -> Vec<NodeId> {
        let siblings = match parent {
            Some(p) => &self.nodes[p.index()].children,
            None => &self.roots,
        };
        siblings.iter().copied().filter(|c| self.nodes[c.index()].item == group).collect()
    }

    /// Live nodes in document order.
    pub fn preorder(&self) -> Vec<NodeId> {
        self.preorder_shared().to_vec()
    }

    /// [`Session::preorder`] without a copy.
    pub(crate) fn preorder_shared(&self) -> Rc<[NodeId]> {
        if let Some(p) = self.preorder_cache.borrow().as_ref() {
            return p.clone();
        }
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<NodeId> = self.roots.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            out.push(n);
            stack.extend(self.nodes[n.index()].children.iter().rev().copied());
        }
        let out: Rc<[NodeId]> = out.into();
        *self.preorder_cache.borrow_mut() = Some(out.clone());
        out
    }

    /// The row prefilled from a chart resource.
    pub fn nodes_of_on_file(&self, reference: &str) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.alive && n.on_file.as_ref().is_some_and(|o| o.reference == reference))
            .map(|i| NodeId(i as u32))
    }

    /// The row (repeating group node) a node belongs to, nearest first.
    pub fn row_of(&self, mut n: NodeId) -> Option<NodeId> {
        loop {
            let node = &self.nodes[n.index()];
            if self.vt.form.item(node.item).is_repeating_group() {
                return Some(n);
            }
            n = node.parent?;
        }
    }

    /// Errors of rules that failed (the session showed everything those rules could ask).
    pub fn rule_errors(&self) -> Vec<&RuleError> {
        self.runs
            .iter()
            .filter_map(|r| match r {
                RuleRun::Done(Outcome { error: Some(e), .. }) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// Urgent advisories the rules raise now, in rule order, each once: `(rule, what to tell
    /// the patient)`. A rule that failed after raising one still raises it.
    pub fn urgent(&self) -> Vec<(String, LocalText)> {
        let mut out: Vec<(String, LocalText)> = Vec::new();
        for (r, run) in self.runs.iter().enumerate() {
            let RuleRun::Done(outcome) = run else { continue };
            for u in &outcome.effects.urgent {
                if !out.iter().any(|(_, t)| t == u) {
                    out.push((self.vt.rules.rules[r].name.clone(), u.clone()));
                }
            }
        }
        out
    }

    /// True if evaluation stopped before settling (rules that keep undoing each other).
    pub fn unsettled(&self) -> bool {
        self.unsettled
    }

    /// Effective answers of an item across its nodes (what rules and extraction see).
    pub fn effective_answers(&self, item: ItemId) -> Vec<Value> {
        if self.stale[item.index()] {
            return self.fresh_effective_answers(item);
        }
        self.table.borrow()[item.index()].clone()
    }

    // ---- changing ------------------------------------------------------------------------

    /// Set the answers of a node (replacing any it had). Returns what changed.
    pub fn answer(&mut self, node: NodeId, values: Vec<Value>) -> Result<Changes, AnswerError> {
        let n = self.node(node).ok_or(AnswerError::NoSuchNode)?;
        let def = self.vt.form.item(n.item);
        if def.read_only {
            return Err(AnswerError::ReadOnly { link_id: def.link_id.clone() });
        }
        // Options computed for this node (answerExpression) are the ones an answer must be.
        let values = match &self.dyn_choices[node.index()] {
            Some(choices) => {
                let mut d = def.clone();
                d.options = choices.clone();
                coerce_all(&d, values)?
            }
            None => coerce_all(def, values)?,
        };
        // An option its toggle turned off is not on offer.
        if let Some(v) = values.iter().find(|v| self.off_options[node.index()].iter().any(|o| crate::questionnaire::same_option(o, v))) {
            return Err(AnswerError::NotAnOption { link_id: def.link_id.clone(), value: v.display() });
        }
        // A calculated value the patient changes is theirs from then on (the form said so).
        if self.vt.form.expressions.item(n.item).is_calculated() {
            self.calc_edited[node.index()] = true;
        }
        self.set_answers(node, values);
        Ok(self.take_changes())
    }

    /// The options the node offers: computed by its `answerExpression` when it has one, else
    /// the form's.
    pub fn choices(&self, node: NodeId) -> &[crate::questionnaire::AnswerChoice] {
        match self.dyn_choices.get(node.index()).and_then(Option::as_ref) {
            Some(c) => c,
            None => self.node(node).map(|n| &self.vt.form.item(n.item).options[..]).unwrap_or(&[]),
        }
    }

    /// The options computed by the node's `answerExpression` (None: it has none, or it failed
    /// and the form's own options stand).
    pub fn computed_choices(&self, node: NodeId) -> Option<&[crate::questionnaire::AnswerChoice]> {
        self.dyn_choices.get(node.index()).and_then(|c| c.as_deref())
    }

    /// Options not on offer just now (an `answerOptionsToggleExpression` is false): shown
    /// disabled, not accepted as answers.
    pub fn disabled_options(&self, node: NodeId) -> &[Value] {
        self.off_options.get(node.index()).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The node's text computed by a `cqf-expression` (None: the form's own text).
    pub fn computed_text(&self, node: NodeId) -> Option<&str> {
        self.dyn_text.get(node.index()).and_then(|t| t.as_deref())
    }

    /// The verdict of an item's `enableWhenExpression` as last evaluated, for its first live
    /// node (None: it has none, or it was not evaluated yet). Rows of a repeating group each
    /// have their own: see [`Session::node_expression_verdict`].
    pub fn expression_verdict(&self, item: ItemId) -> Option<bool> {
        let n = self.by_item.get(item.index())?.iter().find(|n| self.nodes[n.index()].alive)?;
        self.node_expression_verdict(*n)
    }

    /// The verdict of the `enableWhenExpression` for one node (a row's own item).
    pub fn node_expression_verdict(&self, node: NodeId) -> Option<bool> {
        self.expr_enabled.get(node.index()).copied().flatten()
    }

    /// FHIRPath expressions that failed when last evaluated: (JSON path, message). The items
    /// they drive behave as not enabled / empty; the host's developer should hear of these.
    pub fn expression_errors(&self) -> &[(String, String)] {
        &self.expr_errors
    }

    /// Answer an item outside repeating groups by linkId.
    pub fn answer_link_id(&mut self, link_id: &str, values: Vec<Value>) -> Result<Changes, AnswerError> {
        let node = self.node_of_link_id(link_id)?;
        self.answer(node, values)
    }

    /// Store checked answers and re-evaluate what depends on them.
    pub(crate) fn set_answers(&mut self, node: NodeId, values: Vec<Value>) {
        let values = exclusive_options(self.vt.form.item(self.nodes[node.index()].item), &self.nodes[node.index()].answers, values);
        if self.nodes[node.index()].answers == values {
            return;
        }
        self.nodes[node.index()].answers = values;
        self.mark_changed(node);
        self.enqueue(node);
        if self.nodes[node.index()].state.enabled {
            self.effective_answers_changed(node);
        }
        self.propagate();
    }

    /// Add an empty row to a repeating group under `parent` (None at the top level).
    pub fn add_row(&mut self, parent: Option<NodeId>, group: ItemId) -> Result<(NodeId, Changes), AnswerError> {
        let def = self.vt.form.item(group);
        if !def.is_repeating_group() {
            return Err(AnswerError::NotAQuestion { link_id: def.link_id.clone(), item_type: "non-repeating" });
        }
        let expected_parent = def.parent;
        let actual_parent = match parent {
            Some(p) => Some(self.node(p).ok_or(AnswerError::NoSuchNode)?.item),
            None => None,
        };
        if expected_parent != actual_parent {
            return Err(AnswerError::NoSuchNode);
        }
        let row = self.new_row(group, parent);
        if let Some(p) = parent {
            self.mark_changed(p);
        }
        self.enqueue_rows_of(row);
        self.propagate();
        Ok((row, self.take_changes()))
    }

    /// Remove a row the patient added. Rows from the chart cannot be removed: the patient
    /// marks them "no longer" instead, so the clinician sees what changed.
    pub fn remove_row(&mut self, row: NodeId) -> Result<Changes, AnswerError> {
        let n = self.node(row).ok_or(AnswerError::NoSuchNode)?;
        let def = self.vt.form.item(n.item);
        if !def.is_repeating_group() {
            return Err(AnswerError::NotAQuestion { link_id: def.link_id.clone(), item_type: "non-repeating" });
        }
        if n.on_file.is_some() {
            return Err(AnswerError::ReadOnly { link_id: def.link_id.clone() });
        }
        let parent = n.parent;
        let mut doomed = Vec::new();
        let mut stack = vec![row];
        while let Some(x) = stack.pop() {
            doomed.push(x);
            stack.extend(self.nodes[x.index()].children.iter().copied());
        }
        for &x in &doomed {
            let item = self.nodes[x.index()].item;
            let had_effective = self.nodes[x.index()].state.enabled && !self.nodes[x.index()].answers.is_empty();
            self.nodes[x.index()].alive = false;
            self.by_item[item.index()].retain(|m| *m != x);
            if had_effective {
                self.effective_answers_changed(x);
            }
            self.removed.push(x);
        }
        match parent {
            Some(p) => {
                self.nodes[p.index()].children.retain(|c| *c != row);
                self.mark_changed(p);
            }
            None => self.roots.retain(|c| *c != row),
        }
        self.preorder_cache.replace(None);
        let group = self.nodes[row.index()].item;
        for r in self.rows(parent, group) {
            self.enqueue(r);
        }
        self.propagate();
        Ok(self.take_changes())
    }

    pub(crate) fn mark_changed(&mut self, n: NodeId) {
        if !self.changed_mark[n.index()] {
            self.changed_mark[n.index()] = true;
            self.changed.push(n);
        }
    }

    pub(crate) fn take_changes(&mut self) -> Changes {
        for n in &self.changed {
            self.changed_mark[n.index()] = false;
        }
        let nodes: Vec<NodeId> = std::mem::take(&mut self.changed).into_iter().filter(|n| self.nodes[n.index()].alive).collect();
        Changes { nodes, removed: std::mem::take(&mut self.removed) }
    }

    pub(crate) fn enqueue(&mut self, n: NodeId) {
        if !self.queued[n.index()] {
            self.queued[n.index()] = true;
            self.queue.push_back(n);
        }
    }

    pub(crate) fn enqueue_subtree(&mut self, n: NodeId) {
        self.enqueue(n);
        let children = self.nodes[n.index()].children.clone();
        for c in children {
            self.enqueue_subtree(c);
        }
    }
}

/// SDC `optionExclusive`: an exclusive option ("None of these") and the other options never
/// stand together. Whichever was ticked last wins: ticking "None" clears the others, ticking
/// another option clears "None". The engine decides this, so every front end behaves alike.
fn exclusive_options(def: &ItemDef, old: &[Value], new: Vec<Value>) -> Vec<Value> {
    if !def.repeats || !def.options.iter().any(|o| o.exclusive) {
        return new;
    }
    let is_exclusive = |v: &Value| def.options.iter().any(|o| o.exclusive && o.is(v));
    let (exclusive, others): (Vec<Value>, Vec<Value>) = new.into_iter().partition(|v| is_exclusive(v));
    if exclusive.is_empty() || others.is_empty() {
        return exclusive.into_iter().chain(others).collect();
    }
    let newly_exclusive: Vec<Value> = exclusive.iter().filter(|v| !old.contains(v)).cloned().collect();
    if newly_exclusive.is_empty() { others } else { newly_exclusive.into_iter().take(1).collect() }
}

/// Answers an item starts with: `initial[x]`, or options marked `initialSelected`.
fn initial_answers(def: &ItemDef) -> Vec<Value> {
    if !def.item_type.is_question() {
        return Vec::new();
    }
    let mut v: Vec<Value> = def.initial.clone();
    if v.is_empty() {
        v = def.options.iter().filter(|o| o.initial_selected).map(|o| o.value.clone()).collect();
    }
    if !def.repeats {
        v.truncate(1);
    }
    // Initial values that do not fit the item (sloppy forms) are dropped rather than stored unchecked.
    match coerce_all(def, v) {
        Ok(v) => v,
        Err(_) => Vec::new(),
    }
}
