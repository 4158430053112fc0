//! Remembered results of sub-expressions that read only `%variables`.
//!
//! Why: a form's expressions are evaluated again after every answer, and much of their work
//! does not depend on the answer. PHQ-9's nine scores each look up the options in
//! `%questionnaire.item.where(linkId = '/44250-9').answerOption`, and MBS 715's root variables
//! read `%patient`. Such a sub-expression reads no focus (`$this`, a bare name) and no clock,
//! so its result is a function of the variables it names. It is kept with those variables'
//! collections and reused while they are the same.
//!
//! "The same" means the environment binds the very same shared collection (`Rc::ptr_eq`), or,
//! for collections of plain values, equal ones: MBS 715 recomputes `%age` on every pass, and an
//! equal age must not re-run 291 `%age <= 12` checks. A stored key holds its `Rc`, so its
//! address cannot be reused by another collection while the memo remembers it. Collections are
//! never mutated once bound, so a pointer match is a value match.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use crate::parser::{Kind, Node};
use crate::value::{Item, Value};

type Coll = Vec<Item>;

pub(crate) struct Memo {
    /// The variables the sub-expression reads, without the `%`.
    pub vars: Vec<String>,
    /// The sub-expression's shape, as the key of a table shared by the expressions of a form
    /// (MBS 715 has a hundred expressions that start `%resource.repeat(item)`: one walk of the
    /// response serves them all). Equal shapes with equal variables give equal results.
    pub shape: Shape,
    last: RefCell<Option<Remembered>>,
}

/// A sub-expression's shape with its hash, worked out once when the expression is parsed. The
/// shared table is looked up for each remembered sub-expression on every evaluation, and
/// hashing and comparing the text each time (SipHash over a hundred characters) was a third
/// of PHQ-9's variable time. Two shapes are equal when they are the same text (the same `Rc`
/// at once, else compared).
#[derive(Clone)]
pub(crate) struct Shape {
    text: Rc<str>,
    hash: u64,
}

impl Shape {
    fn new(text: String) -> Shape {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        Shape { text: text.into(), hash: h.finish() }
    }
}

impl PartialEq for Shape {
    fn eq(&self, other: &Shape) -> bool {
        self.hash == other.hash && (Rc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for Shape {}

impl std::hash::Hash for Shape {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Hashes a [`Shape`] by the hash it carries (written once, as a `u64`).
#[derive(Default)]
pub(crate) struct ShapeHasher(u64);

impl std::hash::Hasher for ShapeHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (`Shape::hash`); any other input is still hashed.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Results remembered across the expressions that share an environment, by shape. A session
/// keeps one for all its passes (`Env::with_memo`): PHQ-9's nine option lookups in
/// `%questionnaire` are worked out once per session, not once per answer. A result is reused
/// only with the very same collections it was computed from (see the module doc), so one
/// computed from a response that has since been replaced cannot be hit; `retain_stable` lets
/// those go.
#[derive(Default)]
pub struct SharedMemo {
    table: RefCell<std::collections::HashMap<Shape, Remembered, std::hash::BuildHasherDefault<ShapeHasher>>>,
}

impl std::fmt::Debug for SharedMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedMemo({} entries)", self.table.borrow().len())
    }
}

impl SharedMemo {
    pub(crate) fn get(&self, shape: &Shape, keys: &[Rc<Coll>]) -> Option<(Coll, Option<Rc<crate::Reads>>)> {
        let table = self.table.borrow();
        let (old, value, reads) = table.get(shape)?;
        same_keys(old, keys).then(|| (value.clone(), reads.clone()))
    }

    pub(crate) fn put(&self, shape: &Shape, keys: Vec<Rc<Coll>>, value: &Coll, reads: Option<crate::Reads>) {
        self.table.borrow_mut().insert(shape.clone(), (keys, value.clone(), reads.map(|r| Rc::new(r.normalized()))));
    }

    /// Keep only the results computed from plain values and from `stable` collections (bound
    /// the same in every pass: the Questionnaire, the chart's Patient). The others were
    /// computed from a response that the next pass replaces: they can never be reused, and each
    /// would keep a whole response in memory. A pointer comparison per key, no hashing: this
    /// runs before every pass.
    pub fn retain_stable(&self, stable: &[&Rc<Coll>]) {
        let kept = |k: &Rc<Coll>| stable.iter().any(|s| Rc::ptr_eq(s, k)) || k.iter().all(plain);
        self.table.borrow_mut().retain(|_, (keys, _, _)| keys.iter().all(kept));
    }

    /// How many results are remembered.
    pub fn len(&self) -> usize {
        self.table.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A result, the collections it was computed from, and what it read of a logged document
/// (replayed on a hit, so a read log sees the same reads either way; shared, not copied).
type Remembered = (Vec<Rc<Coll>>, Coll, Option<Rc<crate::Reads>>);

impl Memo {
    /// The remembered result, if it was computed from these collections.
    pub fn get(&self, keys: &[Rc<Coll>]) -> Option<(Coll, Option<Rc<crate::Reads>>)> {
        let last = self.last.borrow();
        let (old, value, reads) = last.as_ref()?;
        same_keys(old, keys).then(|| (value.clone(), reads.clone()))
    }

    pub fn put(&self, keys: Vec<Rc<Coll>>, value: &Coll, reads: Option<crate::Reads>) {
        *self.last.borrow_mut() = Some((keys, value.clone(), reads.map(|r| Rc::new(r.normalized()))));
    }
}

/// The variables' collections a result was computed from are these.
fn same_keys(old: &[Rc<Coll>], keys: &[Rc<Coll>]) -> bool {
    old.len() == keys.len() && old.iter().zip(keys).all(|(a, b)| same(a, b))
}

fn same(a: &Rc<Coll>, b: &Rc<Coll>) -> bool {
    Rc::ptr_eq(a, b) || (a.len() == b.len() && a.len() <= 8 && a.iter().zip(b.iter()).all(|(x, y)| plain(x) && plain(y) && x == y))
}

/// A value compared cheaply (not an element of a document).
fn plain(x: &Item) -> bool {
    !matches!(x.value, Value::Node(_))
}

impl Clone for Memo {
    /// A copy of an expression starts with nothing remembered.
    fn clone(&self) -> Memo {
        Memo { vars: self.vars.clone(), shape: self.shape.clone(), last: RefCell::new(None) }
    }
}

impl PartialEq for Memo {
    /// What is remembered is not part of what an expression is.
    fn eq(&self, other: &Memo) -> bool {
        self.vars == other.vars
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({:?})", self.vars)
    }
}

/// What a sub-expression reads.
#[derive(Default)]
struct Reads {
    vars: BTreeSet<String>,
    /// The focus it is evaluated on (`name`, `$this`, a call without a target).
    focus: bool,
    /// `now()`, `today()`, `timeOfDay()`.
    clock: bool,
}

impl Reads {
    fn pure(&self) -> bool {
        !self.focus && !self.clock
    }
    fn add(&mut self, other: &Reads) {
        self.vars.extend(other.vars.iter().cloned());
        self.focus |= other.focus;
        self.clock |= other.clock;
    }
}

/// What a node reads, and what each of its sub-expressions reads (in the order of
/// `Node::children_mut`). Worked out bottom-up in one walk: asking each node afresh walked
/// every subtree once per level above it, and the 100 sums of the 1,000-item chain took 22 ms
/// of the form's load in the browser.
struct Analysis {
    reads: Reads,
    kids: Vec<Analysis>,
}

/// Mark the sub-expressions of `root` worth remembering: the largest ones that read only
/// variables and do some work (navigation, a call, an operator; not a lone `%name`). Inside a
/// remembered node, a part that reads fewer variables is remembered too: PHQ-9's score reads
/// `%resource` (new after every answer) around a lookup in `%questionnaire` (never new).
pub(crate) fn place(root: &mut Node) {
    let analysis = analyze(root);
    place_at(root, &analysis, None);
}

fn place_at(node: &mut Node, analysis: &Analysis, covered: Option<&BTreeSet<String>>) {
    let reads = &analysis.reads;
    let worth = matches!(node.kind, Kind::Member(..) | Kind::Call(..) | Kind::Index(..) | Kind::Binary(..));
    // A walk of a whole subtree inside a remembered node is remembered too: its result can
    // serve the form's other expressions through a shared table (`SharedMemo`), where the
    // whole cannot. (Every call would be: that costs more in bookkeeping than it saves.)
    let call = matches!(&node.kind, Kind::Call(_, name, _) if matches!(name.as_str(), "repeat" | "descendants" | "children"));
    let here = reads.pure() && !reads.vars.is_empty() && worth && (covered != Some(&reads.vars) || call);
    if here {
        let mut shape = String::new();
        write_shape(node, &mut shape);
        let shape = Shape::new(shape);
        node.memo = Some(Box::new(Memo { vars: reads.vars.iter().cloned().collect(), shape, last: RefCell::new(None) }));
    }
    let covered = if here { Some(&reads.vars) } else { covered };
    for (child, a) in node.children_mut().into_iter().zip(&analysis.kids) {
        place_at(child, a, covered);
    }
}

/// What `node` and its sub-expressions read.
fn analyze(node: &Node) -> Analysis {
    let mut out = Reads::default();
    let mut kids = Vec::new();
    let mut plain = |out: &mut Reads, n: &Node| {
        let a = analyze(n);
        out.add(&a.reads);
        kids.push(a);
    };
    match &node.kind {
        Kind::Empty | Kind::Bool(_) | Kind::Str(_) | Kind::Int(_) | Kind::Dec(_) | Kind::Date(_) | Kind::DateTime(_) | Kind::Time(_) | Kind::Quantity(..) => {}
        Kind::Ident(_) | Kind::Special(_) => out.focus = true,
        Kind::Env(name) => {
            out.vars.insert(name.clone());
        }
        Kind::Member(t, _) | Kind::Neg(t) | Kind::Is(t, _) | Kind::As(t, _) => plain(&mut out, t),
        Kind::Index(a, b) | Kind::Binary(_, a, b) => {
            plain(&mut out, a);
            plain(&mut out, b);
        }
        Kind::Call(target, name, args) => {
            // `iif(...)` without a target evaluates its arguments on the focus: it reads the
            // focus exactly when they do (below, as plain arguments).
            let iif_on_focus = target.is_none() && name == "iif";
            match target {
                Some(t) => plain(&mut out, t),
                None if matches!(name.as_str(), "now" | "today" | "timeOfDay") => out.clock = true,
                None if iif_on_focus => {}
                None => out.focus = true,
            }
            if matches!(name.as_str(), "weight" | "ordinal") {
                out.vars.insert("questionnaire".into());
            }
            for (i, a) in args.iter().enumerate() {
                let r = analyze(a);
                match if iif_on_focus { Arg::Plain } else { arg_kind(name, i) } {
                    // Evaluated on the items of the input: its focus is theirs, not ours.
                    Arg::Lambda => {
                        out.vars.extend(r.reads.vars.iter().cloned());
                        out.clock |= r.reads.clock;
                    }
                    Arg::TypeName => {}
                    Arg::Plain => out.add(&r.reads),
                }
                kids.push(r);
            }
        }
    }
    Analysis { reads: out, kids }
}

enum Arg {
    Lambda,
    TypeName,
    Plain,
}

fn arg_kind(function: &str, index: usize) -> Arg {
    match (function, index) {
        ("where" | "select" | "exists" | "all" | "repeat" | "sort" | "iif", _) | ("aggregate", 0) => Arg::Lambda,
        ("ofType" | "is" | "as", _) => Arg::TypeName,
        _ => Arg::Plain,
    }
}

/// A sub-expression written out without positions: equal text for equal meaning, whatever
/// expression it sits in.
fn write_shape(node: &Node, out: &mut String) {
    use std::fmt::Write;
    match &node.kind {
        Kind::Empty => out.push_str("{}"),
        Kind::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Kind::Str(v) => {
            let _ = write!(out, "{v:?}");
        }
        Kind::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Kind::Dec(d) => {
            let _ = write!(out, "{d:?}");
        }
        Kind::Date(d) | Kind::DateTime(d) | Kind::Time(d) => {
            let _ = write!(out, "@{d}");
        }
        Kind::Quantity(v, u) => {
            let _ = write!(out, "{v:?} {u:?}");
        }
        Kind::Ident(n) => {
            let _ = write!(out, "`{n}`");
        }
        Kind::Env(n) => {
            let _ = write!(out, "%`{n}`");
        }
        Kind::Special(n) => {
            let _ = write!(out, "${n}");
        }
        Kind::Member(t, n) => {
            write_shape(t, out);
            let _ = write!(out, ".`{n}`");
        }
        Kind::Call(t, name, args) => {
            if let Some(t) = t {
                write_shape(t, out);
                out.push('.');
            }
            let _ = write!(out, "{name}(");
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_shape(a, out);
            }
            out.push(')');
        }
        Kind::Index(a, b) => {
            write_shape(a, out);
            out.push('[');
            write_shape(b, out);
            out.push(']');
        }
        Kind::Neg(t) => {
            out.push_str("-(");
            write_shape(t, out);
            out.push(')');
        }
        Kind::Binary(op, a, b) => {
            out.push('(');
            write_shape(a, out);
            let _ = write!(out, " {op:?} ");
            write_shape(b, out);
            out.push(')');
        }
        Kind::Is(t, ty) | Kind::As(t, ty) => {
            out.push('(');
            write_shape(t, out);
            let _ = write!(out, " {} {ty})", if matches!(node.kind, Kind::Is(..)) { "is" } else { "as" });
        }
    }
}
