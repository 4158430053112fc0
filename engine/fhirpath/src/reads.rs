//! What an evaluation read of one document: which items' answers, which items' lists of
//! children. The session keeps this per variable, and evaluates a variable again only when
//! something it read has changed since (issue 8: "incrementally, through recorded
//! dependencies"). MBS 715 has 97 variables; an answer changes what one or two of them read.
//!
//! Recorded in navigation: `item` on a node reads its list of children (its "structure"),
//! `answer` reads its answers. A step that takes in a whole subtree (`children()`,
//! `descendants()`, `repeat()`) reads everything. Reads are named by linkId (the root by
//! `None`): rows of a repeating group share theirs, which can only over-report.

use std::cell::RefCell;

use serde_json::Value as Json;

use crate::NodeRef;

/// What was read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reads {
    /// linkIds whose `answer` was read.
    pub answers: Vec<String>,
    /// linkIds (None: the document's root) whose `item` list was read.
    pub structure: Vec<Option<String>>,
    /// Something read the whole of a subtree.
    pub all: bool,
}

impl Reads {
    fn mark(&self) -> (usize, usize, bool) {
        (self.answers.len(), self.structure.len(), self.all)
    }

    fn since(&self, mark: (usize, usize, bool)) -> Reads {
        if self.all {
            return Reads { all: true, ..Reads::default() };
        }
        Reads { answers: self.answers[mark.0..].to_vec(), structure: self.structure[mark.1..].to_vec(), all: false }
    }

    pub(crate) fn extend(&mut self, other: &Reads) {
        self.all |= other.all;
        if self.all {
            self.answers.clear();
            self.structure.clear();
            return;
        }
        self.answers.extend(other.answers.iter().cloned());
        self.structure.extend(other.structure.iter().cloned());
    }
}

/// A log of the reads of one document (`doc`, identified by its shared root).
#[derive(Debug)]
pub struct ReadLog {
    doc: NodeRef,
    reads: RefCell<Reads>,
}

impl ReadLog {
    pub fn new(doc: &NodeRef) -> ReadLog {
        ReadLog { doc: doc.root(), reads: RefCell::new(Reads::default()) }
    }

    /// What was read, leaving the log empty.
    pub fn take(&self) -> Reads {
        std::mem::take(&mut *self.reads.borrow_mut())
    }

    fn covers(&self, node: &NodeRef) -> bool {
        node.same_doc(&self.doc)
    }

    /// `name` navigated on `node`.
    pub(crate) fn navigated(&self, node: &NodeRef, name: &str) {
        // Once everything is read, single reads add nothing (and a shared subtree walk would
        // otherwise replay hundreds of them into every expression that uses it).
        if !matches!(name, "item" | "answer") || self.reads.borrow().all || !self.covers(node) {
            return;
        }
        let json = node.json();
        let link_id = match json.get("linkId").and_then(Json::as_str) {
            Some(l) => Some(l.to_owned()),
            // The root, or an answer (whose items belong to its question).
            None if node.is_root() => None,
            None => node.ancestry().iter().rev().find_map(|j| j.get("linkId").and_then(Json::as_str)).map(str::to_owned),
        };
        let mut r = self.reads.borrow_mut();
        match (name, link_id) {
            ("item", l) => r.structure.push(l),
            (_, Some(l)) => r.answers.push(l),
            (_, None) => {}
        }
    }

    /// A whole subtree of `node` was taken in.
    pub(crate) fn everything(&self, node: &NodeRef) {
        if self.covers(node) {
            let mut r = self.reads.borrow_mut();
            r.all = true;
            r.answers.clear();
            r.structure.clear();
        }
    }

    pub(crate) fn mark(&self) -> (usize, usize, bool) {
        self.reads.borrow().mark()
    }

    pub(crate) fn since(&self, mark: (usize, usize, bool)) -> Reads {
        self.reads.borrow().since(mark)
    }

    pub(crate) fn replay(&self, reads: &Reads) {
        self.reads.borrow_mut().extend(reads);
    }
}
