//! What an evaluation read of one document: which items' answers, which items' lists of
//! children. The session keeps this per variable, and evaluates a variable again only when
//! something it read has changed since (issue 8: "incrementally, through recorded
//! dependencies"). MBS 715 has 97 variables; an answer changes what one or two of them read.
//!
//! Recorded in navigation: `item` on a node reads its list of children (its "structure"),
//! `answer` reads its answers. A step that takes in a whole subtree (`children()`,
//! `descendants()`) reads everything; `repeat(projection)` reads what its projection
//! navigates, node by node. Reads are named by linkId (the root by
//! `None`): rows of a repeating group share theirs, which can only over-report.

use std::cell::RefCell;
use std::rc::Rc;

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
    /// linkIds whose items' presence was read, wherever they are: a selection by place
    /// narrowed to one linkId (`%resource.repeat(item).where(linkId = 'x')`) depends on items
    /// x coming or going, not on every list of children it walked (`ReadLog::narrow`).
    pub linked: Vec<String>,
    /// What remembered sub-results read, shared rather than copied: MBS 715's hundred
    /// expressions that start `%resource.repeat(item)` each read the shape of the whole
    /// response, one list of ~700 linkIds they all point to. Each is normalized.
    shared: Vec<Rc<Reads>>,
}

/// A place in a log, to take what was read after it ([`ReadLog::since`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    answers: usize,
    structure: usize,
    shared: usize,
    linked: usize,
}

impl Reads {
    fn mark(&self) -> Mark {
        Mark { answers: self.answers.len(), structure: self.structure.len(), shared: self.shared.len(), linked: self.linked.len() }
    }

    fn since(&self, mark: Mark) -> Reads {
        if self.all {
            return Reads { all: true, ..Reads::default() };
        }
        Reads {
            answers: self.answers[mark.answers..].to_vec(),
            structure: self.structure[mark.structure..].to_vec(),
            all: false,
            shared: self.shared[mark.shared..].to_vec(),
            linked: self.linked[mark.linked..].to_vec(),
        }
    }

    /// Sorted, each read once: what a cache keeps, and what [`Reads::saw_any`] searches.
    pub fn normalized(mut self) -> Reads {
        if self.all {
            return Reads { all: true, ..Reads::default() };
        }
        self.answers.sort_unstable();
        self.answers.dedup();
        self.structure.sort_unstable();
        self.structure.dedup();
        self.linked.sort_unstable();
        self.linked.dedup();
        self.shared.sort_unstable_by_key(|r| Rc::as_ptr(r) as usize);
        self.shared.dedup_by(|a, b| Rc::ptr_eq(a, b));
        self
    }

    /// Whether these (normalized) reads saw one of `changes`, given in the same shape
    /// (normalized too): linkIds whose answers changed, child lists that changed, and linkIds
    /// of items that came or went (`linked`). Searched from the side of the changes: an answer
    /// changes one or two linkIds, while a walk of the whole response reads hundreds.
    pub fn saw_any(&self, changes: &Reads) -> bool {
        self.all
            || changes.answers.iter().any(|l| self.answers.binary_search(l).is_ok())
            || changes.structure.iter().any(|l| self.structure.binary_search(l).is_ok())
            || changes.linked.iter().any(|l| self.linked.binary_search(l).is_ok())
            || self.shared.iter().any(|r| r.saw_any(changes))
    }

    /// Add every linkId whose presence these reads saw to `out`; false if they read an answer
    /// or everything (then they cannot be narrowed to presence).
    fn presence_only(&self, out: &mut Vec<String>) -> bool {
        if self.all || !self.answers.is_empty() {
            return false;
        }
        out.extend(self.linked.iter().cloned());
        self.shared.iter().all(|r| r.presence_only(out))
    }

    pub(crate) fn extend(&mut self, other: &Reads) {
        self.all |= other.all;
        if self.all {
            self.answers.clear();
            self.structure.clear();
            self.shared.clear();
            self.linked.clear();
            return;
        }
        self.answers.extend(other.answers.iter().cloned());
        self.structure.extend(other.structure.iter().cloned());
        self.shared.extend(other.shared.iter().cloned());
        self.linked.extend(other.linked.iter().cloned());
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
            r.shared.clear();
            r.linked.clear();
        }
    }

    pub(crate) fn mark(&self) -> Mark {
        self.reads.borrow().mark()
    }

    pub(crate) fn since(&self, mark: Mark) -> Reads {
        self.reads.borrow().since(mark)
    }

    /// What was read since `mark` selected items by their place alone (lists of children
    /// walked: `.item`, `repeat(item)`), and the selection was then narrowed to the items with
    /// linkId `link_id`: its result changes only when such an item comes or goes, so the lists
    /// of children become one presence read. Left as it is if anything since `mark` read an
    /// answer or everything (the caller checks the expression's shape; this checks the reads).
    pub(crate) fn narrow(&self, mark: Mark, link_id: &str) {
        let mut r = self.reads.borrow_mut();
        if r.all || r.answers.len() != mark.answers {
            return;
        }
        let mut linked = Vec::new();
        if !r.shared[mark.shared..].iter().all(|c| c.presence_only(&mut linked)) {
            return;
        }
        r.structure.truncate(mark.structure);
        r.shared.truncate(mark.shared);
        r.linked.extend(linked);
        r.linked.push(link_id.to_owned());
    }

    /// Add `reads` as if they had been read here.
    pub fn replay(&self, reads: &Reads) {
        self.reads.borrow_mut().extend(reads);
    }

    /// Add a remembered sub-result's (normalized) reads, by reference.
    pub(crate) fn replay_shared(&self, reads: &Rc<Reads>) {
        let mut r = self.reads.borrow_mut();
        if r.all {
            return;
        }
        if reads.all {
            r.all = true;
            r.answers.clear();
            r.structure.clear();
            r.shared.clear();
            r.linked.clear();
        } else {
            r.shared.push(reads.clone());
        }
    }
}
