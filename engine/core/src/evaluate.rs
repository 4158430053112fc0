//! Incremental evaluation: after an answer, recompute only what depends on it.
//!
//! Dependencies are recorded, not rediscovered: the form index knows which items' enableWhen
//! read each item (`Form::enable_when_dependents`), and each rule run records which answers
//! it read (`Session::readers`). A change flows through a worklist:
//!
//! 1. a node's *effective* answers change (its answers, or whether it is enabled);
//! 2. the answer table entry for its item is refreshed; rules that read it are marked dirty;
//!    nodes of items whose enableWhen reads it are queued;
//! 3. a queued node's state is recomputed; if its enabled flag flips, its children are queued
//!    and, if it holds answers, step 1 repeats for it;
//! 4. dirty rules re-run; items whose rule effects changed are queued.
//!
//! The loop ends when nothing is queued, or after a step budget (then the session is marked
//! unsettled, which only rules that undo each other can cause). [`Session::evaluate_naive`]
//! recomputes everything from scratch by plain fixpoint iteration; the property test in
//! `tests/incremental.rs` checks that both always agree.

use std::borrow::Cow;

use intake_fhir::Value;

use crate::enable_when::{condition_holds, item_enabled};
use crate::questionnaire::{ItemId, LocalText, Operator};
use crate::rules::Outcome;
use crate::session::{Hidden, ItemState, NodeId, RuleRun, RuleView, Session, Why};
use crate::validate::{validate_answers, validate_rows};

/// Calculations feeding calculations settle in a few passes; more means they never will
/// (`a = b + 1`, `b = a + 1`): the session is then marked unsettled.
const MAX_EXPRESSION_PASSES: usize = 16;

impl Session {
    /// Evaluate everything: queue every node, mark every rule dirty, propagate.
    pub(crate) fn evaluate_all(&mut self) {
        self.expr_dirty = true;
        for n in self.preorder() {
            self.enqueue(n);
        }
        for d in self.dirty_rules.iter_mut() {
            *d = true;
        }
        self.propagate();
    }

    /// Run the worklist until it is empty.
    pub(crate) fn propagate(&mut self) {
        let budget = 32 * (self.nodes.len() + 16) + 64 * (self.runs.len() + 1);
        let mut steps = 0usize;
        let mut expression_passes = 0usize;
        loop {
            while let Some(n) = self.queue.pop_front() {
                self.queued[n.index()] = false;
                steps += 1;
                if steps > budget {
                    self.unsettled = true;
                    self.queue.clear();
                    self.queued.iter_mut().for_each(|q| *q = false);
                    return;
                }
                self.recompute_node(n);
            }
            let dirty: Vec<usize> = (0..self.dirty_rules.len()).filter(|r| self.dirty_rules[*r]).collect();
            if dirty.is_empty() {
                // Everything else settled: the form's FHIRPath expressions see the result, and
                // what they change (a calculated answer, an item shown) flows through again.
                let book = &self.vt.form.expressions;
                if self.expr_dirty && (book.drives_the_form() || (book.has_initial() && !self.initial_done)) {
                    self.expr_dirty = false;
                    expression_passes += 1;
                    if expression_passes > MAX_EXPRESSION_PASSES {
                        self.unsettled = true;
                        return;
                    }
                    self.run_expressions();
                    continue;
                }
                break;
            }
            for r in dirty {
                self.dirty_rules[r] = false;
                steps += 1;
                self.rerun_rule(r);
            }
        }
        self.unsettled = false;
    }

    fn recompute_node(&mut self, n: NodeId) {
        if !self.nodes[n.index()].alive {
            return;
        }
        let new_state = self.compute_state(n);
        let node = &self.nodes[n.index()];
        if node.state == new_state {
            return;
        }
        let enabled_changed = node.state.enabled != new_state.enabled;
        let has_answers = !node.answers.is_empty();
        self.nodes[n.index()].state = new_state;
        self.mark_changed(n);
        if enabled_changed {
            for i in 0..self.nodes[n.index()].children.len() {
                let c = self.nodes[n.index()].children[i];
                self.enqueue(c);
            }
            if has_answers {
                self.effective_answers_changed(n);
            }
            // A row appearing or disappearing changes its group's row count (checked on row one).
            if self.vt.form.item(self.nodes[n.index()].item).is_repeating_group() {
                self.enqueue_rows_of(n);
            }
        }
    }

    /// The state of a node from the current states of the nodes it depends on.
    pub(crate) fn compute_state(&self, n: NodeId) -> ItemState {
        let node = &self.nodes[n.index()];
        let def = self.vt.form.item(node.item);
        let parent_enabled = node.parent.map(|p| self.nodes[p.index()].state.enabled).unwrap_or(true);
        if !parent_enabled {
            return ItemState::default();
        }
        let (enabled, why, hidden) = self.own_enabled(n);
        if !enabled {
            return ItemState { enabled: false, required: false, why: None, hidden, flags: Vec::new(), errors: Vec::new() };
        }
        let view = &self.views[node.item.index()];
        let required = def.required || view.required;
        let errors = if def.item_type.is_question() {
            validate_answers(def, &node.answers, required)
        } else {
            Vec::new()
        };
        let mut state = ItemState { enabled: true, required, why, hidden: None, flags: view.flags.clone(), errors };
        // Row-count limits belong to the first enabled row of a repeating group. Only that row
        // counts the others, so each row's state costs what its own conditions cost, not the
        // number of rows (10,000 rows would otherwise be quadratic).
        if def.is_repeating_group() && self.first_enabled_row(node.parent, node.item) == Some(n) {
            // Counting stops once the limits are decided (at min, or just past max): a form
            // with no limits never counts, one with maxOccurs 5 counts at most 6 rows.
            let min = def.min_occurs.or(def.required.then_some(1)).unwrap_or(0);
            let cap = min.max(def.max_occurs.map_or(0, |m| m + 1));
            let count = self
                .siblings(node.parent)
                .iter()
                .filter(|r| self.nodes[r.index()].item == node.item && self.own_enabled(**r).0)
                .take(cap)
                .count();
            state.errors = validate_rows(def, count, def.required);
        }
        state
    }

    fn siblings(&self, parent: Option<NodeId>) -> &[NodeId] {
        match parent {
            Some(p) => &self.nodes[p.index()].children,
            None => &self.roots,
        }
    }

    /// The first row of `group` under `parent` whose own conditions hold.
    fn first_enabled_row(&self, parent: Option<NodeId>, group: ItemId) -> Option<NodeId> {
        self.siblings(parent).iter().copied().find(|r| self.nodes[r.index()].item == group && self.own_enabled(*r).0)
    }

    /// Whether a node's own conditions (rules, enableWhen) hold, ignoring its ancestors.
    fn own_enabled(&self, n: NodeId) -> (bool, Option<Why>, Option<Hidden>) {
        let node = &self.nodes[n.index()];
        let item = node.item;
        let def = self.vt.form.item(item);
        let view = &self.views[item.index()];
        let rule_name = |r: usize| self.vt.rules.rules[r].name.clone();
        if let Some((r, reason)) = &view.hidden {
            return (false, None, Some(Hidden::Rule { rule: rule_name(*r), reason: reason.clone() }));
        }
        if self.is_status_of_new_row(n) {
            return (false, None, Some(Hidden::NewRow));
        }
        if self.vt.gated[item.index()] && view.asked.is_none() {
            return (false, None, Some(Hidden::NotAsked));
        }
        if self.expr_enabled[n.index()] == Some(false) {
            return (false, None, Some(Hidden::Expression));
        }
        let mut answer_why = None;
        if !def.enable_when.is_empty() {
            // The reason shown is the first satisfied condition on a real answer (an
            // `exists = false` condition is no reason to ask anything).
            let results = def.enable_when.iter().map(|c| {
                let answers = self.answers_in_scope(n, c.question);
                let holds = condition_holds(c, &answers);
                let meaningful = !(c.operator == Operator::Exists && c.answer == Value::Boolean(false));
                if holds && meaningful && answer_why.is_none() && !answers.is_empty() {
                    answer_why = Some(Why::Answer { question: c.question, operator: c.operator, value: c.answer.clone() });
                }
                holds
            });
            if !item_enabled(def.enable_behavior, results) {
                return (false, None, Some(Hidden::EnableWhen));
            }
        }
        let why = match &view.asked {
            Some((r, reason)) => Some(Why::Rule { rule: rule_name(*r), reason: reason.clone() }),
            None => answer_why.or_else(|| author_why(def)),
        };
        (true, why, None)
    }

    /// Whether `item` is required while shown, where nothing after load can change that: only a
    /// rule requires more than the form does (`compute_state`), so without rules it is the
    /// form's `required`. None where a rule may decide. (A view need not watch what is fixed.)
    pub fn fixed_required(&self, item: ItemId) -> Option<bool> {
        self.vt.rules.rules.is_empty().then(|| self.vt.form.item(item).required)
    }

    /// Why `item` is asked while shown, where nothing after load can change it (`own_enabled`):
    /// the author's reason, or none, where neither an enableWhen (the answer that showed it)
    /// nor a rule gives one. None where one may.
    pub fn fixed_why(&self, item: ItemId) -> Option<Option<Why>> {
        let def = self.vt.form.item(item);
        (self.vt.rules.rules.is_empty() && def.enable_when.is_empty()).then(|| author_why(def))
    }

    /// The review question of a row the patient added has nothing to review.
    fn is_status_of_new_row(&self, n: NodeId) -> bool {
        let node = &self.nodes[n.index()];
        let Some(parent) = node.parent else { return false };
        let row = &self.nodes[parent.index()];
        match self.vt.list_of_group(row.item) {
            Some(list) => list.status == Some(node.item) && row.on_file.is_none(),
            None => false,
        }
    }

    /// Effective answers of `question` as seen from node `from`: within the same row of any
    /// repeating group they share, otherwise across all rows.
    pub(crate) fn answers_in_scope(&self, from: NodeId, question: ItemId) -> Cow<'_, [Value]> {
        let qdef = self.vt.form.item(question);
        let nodes = &self.by_item[question.index()];
        if !qdef.in_repeating_group {
            return match nodes.first() {
                Some(q) if self.nodes[q.index()].state.enabled => Cow::Borrowed(&self.nodes[q.index()].answers),
                _ => Cow::Borrowed(&[]),
            };
        }
        // The nearest node above `from` whose item contains the question.
        let mut scope = Some(from);
        while let Some(s) = scope {
            if self.vt.form.is_ancestor_or_self(self.nodes[s.index()].item, question) {
                break;
            }
            scope = self.nodes[s.index()].parent;
        }
        let mut out = Vec::new();
        match scope {
            // Search the scope's subtree (usually one row), not every row of the form: with
            // 10,000 rows, scanning all of them for each row's condition is quadratic.
            Some(s) => {
                let mut stack = vec![s];
                while let Some(x) = stack.pop() {
                    let xn = &self.nodes[x.index()];
                    if xn.item == question {
                        if xn.state.enabled {
                            out.extend(xn.answers.iter().cloned());
                        }
                    } else if self.vt.form.is_ancestor_or_self(xn.item, question) {
                        stack.extend(xn.children.iter().rev().copied());
                    }
                }
            }
            None => {
                for q in nodes {
                    let qn = &self.nodes[q.index()];
                    if qn.state.enabled {
                        out.extend(qn.answers.iter().cloned());
                    }
                }
            }
        }
        Cow::Owned(out)
    }

    /// The effective answers of a node changed: refresh the table, queue dependents.
    pub(crate) fn effective_answers_changed(&mut self, n: NodeId) {
        self.expr_dirty = true;
        let item = self.nodes[n.index()].item;
        if self.readers[item.index()].is_empty() {
            // No rule has read this item: refresh lazily, before the next rule run.
            self.stale[item.index()] = true;
        } else {
            let fresh = self.fresh_effective_answers(item);
            let changed = {
                let mut table = self.table.borrow_mut();
                if table[item.index()] != fresh {
                    table[item.index()] = fresh;
                    true
                } else {
                    false
                }
            };
            if changed {
                for &r in &self.readers[item.index()] {
                    self.dirty_rules[r] = true;
                }
            }
        }
        let vt = self.vt.clone();
        for d in &vt.form.enable_when_dependents[item.index()] {
            for i in 0..self.by_item[d.index()].len() {
                let m = self.by_item[d.index()][i];
                self.enqueue(m);
            }
        }
    }

    /// Effective answers of an item across its enabled nodes, in node order.
    pub(crate) fn fresh_effective_answers(&self, item: ItemId) -> Vec<Value> {
        self.by_item[item.index()]
            .iter()
            .filter(|m| self.nodes[m.index()].state.enabled)
            .flat_map(|m| self.nodes[m.index()].answers.iter().cloned())
            .collect()
    }

    /// Bring every stale table entry up to date (before a rule reads the table).
    fn refresh_stale_table(&mut self) {
        if !self.stale.iter().any(|s| *s) {
            return;
        }
        for i in 0..self.stale.len() {
            if self.stale[i] {
                self.stale[i] = false;
                let fresh = self.fresh_effective_answers(ItemId(i as u32));
                self.table.borrow_mut()[i] = fresh;
            }
        }
    }

    fn rerun_rule(&mut self, r: usize) {
        self.refresh_stale_table();
        let outcome = self.vt.rules.run(r, &self.facts, &self.table);
        let old = std::mem::replace(&mut self.runs[r], RuleRun::Done(outcome));
        if old == self.runs[r] {
            return;
        }
        let mut touched: Vec<ItemId> = self.touched_by(r, &old);
        touched.extend(self.touched_by(r, &self.runs[r].clone()));
        intake_order::sort_dedup(&mut touched);
        if let RuleRun::Done(o) = &old {
            for i in &o.reads {
                self.readers[i.index()].retain(|x| *x != r);
            }
        }
        if let RuleRun::Done(o) = &self.runs[r] {
            for i in o.reads.clone() {
                if !self.readers[i.index()].contains(&r) {
                    self.readers[i.index()].push(r);
                }
            }
        }
        for item in touched {
            let view = self.compute_view(item);
            if self.views[item.index()] != view {
                self.views[item.index()] = view;
                for m in self.by_item[item.index()].clone() {
                    self.enqueue(m);
                }
            }
        }
    }

    /// Items a run's effects (or, for a failed run, the rule's gates) touch.
    fn touched_by(&self, r: usize, run: &RuleRun) -> Vec<ItemId> {
        match run {
            RuleRun::NotRun => Vec::new(),
            RuleRun::Done(Outcome { effects, error: None, .. }) => effects.touched().collect(),
            RuleRun::Done(Outcome { effects, error: Some(_), .. }) => {
                let mut t: Vec<ItemId> = effects.touched().collect();
                t.extend(self.vt.rules.rules[r].gates.iter().copied());
                t
            }
        }
    }

    /// What all rules together say about an item. A failed rule asks everything it gates.
    pub(crate) fn compute_view(&self, item: ItemId) -> RuleView {
        let mut v = RuleView::default();
        for (r, run) in self.runs.iter().enumerate() {
            let RuleRun::Done(outcome) = run else { continue };
            let e = &outcome.effects;
            // A failed run's hides are dropped (fail open: showing one question too many is
            // safer than hiding one on a half-run rule); what it asked, required and flagged
            // before failing stays.
            if v.asked.is_none() {
                if let Some((_, reason)) = e.ask.iter().find(|(i, _)| *i == item) {
                    v.asked = Some((r, reason.clone()));
                }
            }
            if outcome.error.is_none() && v.hidden.is_none() {
                if let Some((_, reason)) = e.hide.iter().find(|(i, _)| *i == item) {
                    v.hidden = Some((r, reason.clone()));
                }
            }
            v.required |= e.require.contains(&item);
            v.flags.extend(e.flag.iter().filter(|(i, _)| *i == item).map(|(_, t)| t.clone()));
            if outcome.error.is_some() {
                if v.asked.is_none() && self.vt.rules.rules[r].gates.contains(&item) {
                    // Patient-facing: no file names or lines (the host's onError and the
                    // write-back's review Task carry those).
                    v.asked = Some((r, Some(rule_failed_reason())));
                }
            }
        }
        v
    }

    /// Recompute everything from scratch by plain fixpoint iteration, without the dependency
    /// bookkeeping. Slow and obviously correct: the reference the incremental path is tested
    /// against.
    pub fn evaluate_naive(&mut self) {
        for node in self.nodes.iter_mut() {
            node.state = ItemState::default();
        }
        for entry in self.table.borrow_mut().iter_mut() {
            entry.clear();
        }
        self.stale.iter_mut().for_each(|s| *s = false);
        for run in self.runs.iter_mut() {
            *run = RuleRun::NotRun;
        }
        for v in self.views.iter_mut() {
            *v = RuleView::default();
        }
        let order = self.preorder_shared();
        let max_rounds = 4 * order.len() + 16;
        for _ in 0..max_rounds {
            let mut changed = false;
            for &n in order.iter() {
                let s = self.compute_state(n);
                if self.nodes[n.index()].state != s {
                    self.nodes[n.index()].state = s;
                    changed = true;
                }
            }
            {
                let mut table = self.table.borrow_mut();
                for (i, entry) in table.iter_mut().enumerate() {
                    *entry = self.by_item[i]
                        .iter()
                        .filter(|m| self.nodes[m.index()].state.enabled)
                        .flat_map(|m| self.nodes[m.index()].answers.iter().cloned())
                        .collect();
                }
            }
            for r in 0..self.runs.len() {
                let outcome = RuleRun::Done(self.vt.rules.run(r, &self.facts, &self.table));
                if self.runs[r] != outcome {
                    self.runs[r] = outcome;
                    changed = true;
                }
            }
            for i in 0..self.views.len() {
                self.views[i] = self.compute_view(ItemId(i as u32));
            }
            if !changed {
                break;
            }
        }
        // Keep the incremental bookkeeping consistent with the fresh state.
        for readers in self.readers.iter_mut() {
            readers.clear();
        }
        for (r, run) in self.runs.iter().enumerate() {
            if let RuleRun::Done(o) = run {
                for i in &o.reads {
                    self.readers[i.index()].push(r);
                }
            }
        }
    }

    /// A stable key for a node: linkIds and row positions from the root
    /// (`allergy[1]/allergy.substance`). Used to compare sessions built separately.
    pub fn node_key(&self, n: NodeId) -> String {
        let mut parts = Vec::new();
        let mut cur = Some(n);
        while let Some(c) = cur {
            let node = &self.nodes[c.index()];
            let def = self.vt.form.item(node.item);
            if def.is_repeating_group() {
                let pos = self.rows(node.parent, node.item).iter().position(|x| *x == c).unwrap_or(0);
                parts.push(format!("{}[{pos}]", def.key));
            } else {
                parts.push(def.key.clone());
            }
            cur = node.parent;
        }
        parts.reverse();
        parts.join("/")
    }

    /// Queue every row of the repeating group `row` belongs to.
    /// A row appeared, disappeared or changed whether it is enabled: the row itself, and the
    /// rows that held or now hold the group's row count (the first enabled ones, before and
    /// after the change), are re-evaluated; the other rows are unaffected.
    pub(crate) fn enqueue_rows_of(&mut self, row: NodeId) {
        let (parent, group) = (self.nodes[row.index()].parent, self.nodes[row.index()].item);
        self.enqueue(row);
        let mut holders = Vec::with_capacity(2);
        let mut seen_old = false;
        let mut seen_new = false;
        for &r in self.siblings(parent) {
            if self.nodes[r.index()].item != group || r == row {
                continue;
            }
            let old = self.nodes[r.index()].state.enabled;
            let new = self.own_enabled(r).0;
            if (old && !seen_old) || (new && !seen_new) {
                holders.push(r);
            }
            seen_old |= old;
            seen_new |= new;
            if seen_old && seen_new {
                break;
            }
        }
        for r in holders {
            self.enqueue(r);
        }
    }
}

/// Why an item is shown when the rule that decides it could not run, in the patient's words.
fn rule_failed_reason() -> LocalText {
    LocalText {
        text: "We ask this to be safe, because part of the form could not decide whether it applies to you.".into(),
        translations: vec![
            ("en".into(), "We ask this to be safe, because part of the form could not decide whether it applies to you.".into()),
            ("es".into(), "Le preguntamos esto por seguridad, porque una parte del formulario no pudo decidir si le corresponde.".into()),
        ],
        rendering: None,
    }
}

/// The reason the form's author gives for asking an item, if any.
fn author_why(def: &crate::questionnaire::ItemDef) -> Option<Why> {
    def.why_asked.as_deref().cloned().map(Why::Author)
}
