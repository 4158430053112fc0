//! Evaluation: collections in, collections out, following the FHIRPath rules for empty
//! collections, singletons and three-valued logic.

use std::cell::Cell;

use serde_json::Value as Json;

use crate::parser::{Expr, Kind, Node, Op};
use crate::temporal::Moment;
use crate::value::{compare, equal, equivalent, is_calendar_unit, number, round_noise, type_from_suffix, Item, Value};
use crate::Error;

type Coll = Vec<Item>;

/// Work an expression may do before it is stopped: forms come from other tools and an
/// expression like `repeat(...)` over a large input must not hang the page.
const STEP_BUDGET: u64 = 2_000_000;
const MAX_DEPTH: usize = 200;

/// Variables (`%name`) and the evaluation time (for `now()` and `today()`: the engine has no
/// clock of its own, the caller says what time it is).
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// A shared list, newest binding first: an environment is cloned for every item scope of a
    /// form (hundreds per answer on a large form), which costs one pointer this way, and
    /// `%questionnaire` or `%resource` can be a megabyte of JSON, bound once and shared.
    vars: Option<std::rc::Rc<Binding>>,
    /// Shared: an environment is cloned per item scope, and a `String` here was an allocation
    /// per item per pass.
    now: Option<std::rc::Rc<str>>,
    /// Resources `resolve()` may find besides the document's own (a Bundle's entries,
    /// contained resources): the chart's, as the host gives them.
    resources: Option<std::rc::Rc<Coll>>,
    /// Where to record what is read of one document (see `reads`).
    reads: Option<std::rc::Rc<crate::ReadLog>>,
    /// Remembered results shared by every expression evaluated in this environment.
    shared: Option<std::rc::Rc<crate::memo::SharedMemo>>,
}

/// A variable's name in a binding: borrowed when static (`%context`, `%qitem`, bound in every
/// item scope), else shared, so that binding a form's variable again on every pass (MBS 715
/// binds 91 per pass) copies no text.
#[derive(Debug, Clone)]
pub enum Name {
    Static(&'static str),
    Shared(std::rc::Rc<str>),
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Name::Static(s) => s,
            Name::Shared(s) => s,
        }
    }
}

impl From<&'static str> for Name {
    fn from(s: &'static str) -> Name {
        Name::Static(s)
    }
}

impl From<std::rc::Rc<str>> for Name {
    fn from(s: std::rc::Rc<str>) -> Name {
        Name::Shared(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::Shared(s.into())
    }
}

#[derive(Debug)]
struct Binding {
    name: Name,
    value: std::rc::Rc<Coll>,
    next: Option<std::rc::Rc<Binding>>,
}

impl Drop for Binding {
    /// Unlink iteratively: a form with thousands of variables must not overflow the stack.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(b) = next {
            match std::rc::Rc::try_unwrap(b) {
                Ok(mut b) => next = b.next.take(),
                Err(_) => break,
            }
        }
    }
}

impl Env {
    pub fn new() -> Env {
        let mut e = Env::default();
        for (k, v) in [("ucum", "http://unitsofmeasure.org"), ("sct", "http://snomed.info/sct"), ("loinc", "http://loinc.org")] {
            e.bind(Name::Static(k), std::rc::Rc::new(vec![Item::new(Value::Str(v.into()))]));
        }
        e
    }

    fn bind(&mut self, name: Name, value: std::rc::Rc<Coll>) {
        self.vars = Some(std::rc::Rc::new(Binding { name, value, next: self.vars.take() }));
    }

    /// Resources `resolve()` finds by `Type/id` (the chart's Patient, say): no network, only
    /// what the caller already holds.
    pub fn with_resources(mut self, resources: std::rc::Rc<Vec<Item>>) -> Env {
        self.resources = Some(resources);
        self
    }

    /// Share remembered sub-expression results through `memo`, kept by the caller: a session
    /// keeps one across its passes.
    pub fn with_memo(mut self, memo: std::rc::Rc<crate::memo::SharedMemo>) -> Env {
        self.shared = Some(memo);
        self
    }

    /// This environment, recording into `log` what evaluations read of its document.
    pub fn with_read_log(&self, log: std::rc::Rc<crate::ReadLog>) -> Env {
        let mut e = self.clone();
        e.reads = Some(log);
        e
    }

    /// `now` as an RFC 3339 date-time (`2026-11-20T09:00:00Z`).
    pub fn with_now(mut self, now: &str) -> Env {
        self.now = Some(now.into());
        self
    }

    pub fn set(&mut self, name: &str, value: Vec<Item>) {
        self.bind(name.to_owned().into(), std::rc::Rc::new(value));
    }

    pub fn set_json(&mut self, name: &str, value: &Json) {
        self.bind(name.to_owned().into(), std::rc::Rc::new(flatten(value, None)));
    }

    /// Bind a collection built once and shared (no copy per environment or per pass). A name
    /// given as a `&'static str` is kept borrowed and an `Rc<str>` shared: the engine binds
    /// `%context` and `%qitem` in every item scope it evaluates, hundreds per answer on a large
    /// form, and every variable of the form on every pass.
    pub fn set_shared(&mut self, name: impl Into<Name>, value: std::rc::Rc<Vec<Item>>) {
        self.bind(name.into(), value);
    }

    /// A JSON value as a shareable collection, for [`Env::set_shared`].
    pub fn collection_of(value: &Json) -> std::rc::Rc<Vec<Item>> {
        std::rc::Rc::new(flatten(value, None))
    }

    /// [`Env::collection_of`] taking the value: a resource is kept, not copied (a large form's
    /// Questionnaire is a megabyte of JSON).
    pub fn collection_owning(value: Json) -> std::rc::Rc<Vec<Item>> {
        match value {
            Json::Object(_) => std::rc::Rc::new(vec![Item::new(Value::Node(crate::value::NodeRef::new(value)))]),
            other => Env::collection_of(&other),
        }
    }

    /// The newest binding of `name`.
    fn binding(&self, name: &str) -> Option<&std::rc::Rc<Coll>> {
        let mut at = self.vars.as_deref();
        while let Some(b) = at {
            if *b.name == *name {
                return Some(&b.value);
            }
            at = b.next.as_deref();
        }
        None
    }

    /// The shared collection bound to `name`.
    pub(crate) fn get_shared(&self, name: &str) -> Option<std::rc::Rc<Coll>> {
        self.binding(name).cloned()
    }

    pub fn get(&self, name: &str) -> Option<&Vec<Item>> {
        self.binding(name).map(|c| &**c)
    }
}

impl Expr {
    /// Evaluate against `input` (the focus, `$this`).
    pub fn evaluate(&self, input: &[Item], env: &Env) -> Result<Vec<Item>, Error> {
        let cx = Cx { env, steps: Cell::new(0), depth: Cell::new(0), index: None, total: None };
        cx.eval(&self.root, input)
    }

    /// Evaluate against a resource; `%resource`, `%rootResource` and `%context` default to it.
    pub fn evaluate_json(&self, input: &Json, env: &Env) -> Result<Vec<Item>, Error> {
        let mut env = env.clone();
        for name in ["resource", "rootResource", "context"] {
            if env.get(name).is_none() {
                env.set_json(name, input);
            }
        }
        self.evaluate(&flatten(input, None), &env)
    }
}

/// A JSON value as a collection (arrays flatten; `null` is nothing).
pub(crate) fn flatten(json: &Json, ty: Option<crate::value::TypeName>) -> Coll {
    match json {
        Json::Array(a) => a.iter().filter_map(|j| Item::from_json(j, ty.clone())).collect(),
        j => Item::from_json(j, ty).into_iter().collect(),
    }
}

struct Cx<'a> {
    env: &'a Env,
    steps: Cell<u64>,
    depth: Cell<usize>,
    index: Option<i64>,
    /// `$total` inside `aggregate()`.
    total: Option<std::rc::Rc<Coll>>,
}

fn bool_item(b: bool) -> Coll {
    vec![Item::new(Value::Bool(b))]
}

fn opt_bool(b: Option<bool>) -> Coll {
    b.map(bool_item).unwrap_or_default()
}

impl Cx<'_> {
    fn step(&self, at: usize, n: u64) -> Result<(), Error> {
        let s = self.steps.get() + n;
        self.steps.set(s);
        if s > STEP_BUDGET {
            return Err(Error::eval(at, "the expression does too much work (more than 2 million steps); stopped"));
        }
        Ok(())
    }

    /// A child context for a lambda argument evaluated on one item.
    fn with_index(&self, index: i64) -> Cx<'_> {
        Cx { env: self.env, steps: Cell::new(self.steps.get()), depth: Cell::new(self.depth.get()), index: Some(index), total: self.total.clone() }
    }

    fn eval(&self, node: &Node, focus: &[Item]) -> Result<Coll, Error> {
        self.step(node.at, 1)?;
        let d = self.depth.get() + 1;
        if d > MAX_DEPTH {
            return Err(Error::eval(node.at, "the expression nests too deeply"));
        }
        self.depth.set(d);
        let r = match &node.memo {
            Some(memo) => self.eval_remembered(node, memo, focus),
            None => self.eval_inner(node, focus),
        };
        self.depth.set(d - 1);
        r
    }

    /// A sub-expression that reads only variables: reuse its last result while they are the
    /// same (see `memo`). An unbound variable is left to the evaluation to report.
    fn eval_remembered(&self, node: &Node, memo: &crate::memo::Memo, focus: &[Item]) -> Result<Coll, Error> {
        let mut keys = Vec::with_capacity(memo.vars.len());
        for v in &memo.vars {
            match self.env.get_shared(v) {
                Some(c) => keys.push(c),
                None => return self.eval_inner(node, focus),
            }
        }
        let remembered = match &self.env.shared {
            Some(shared) => shared.get(&memo.shape, &keys),
            None => memo.get(&keys),
        };
        if let Some((hit, reads)) = remembered {
            // What the remembered evaluation read is read again, as far as a log is concerned
            // (one remembered without a log is evaluated again, to learn its reads).
            match (&self.env.reads, reads) {
                (None, _) => return Ok(hit),
                (Some(log), Some(reads)) => {
                    log.replay_shared(&reads);
                    return Ok(hit);
                }
                (Some(_), None) => {}
            }
        }
        let mark = self.env.reads.as_ref().map(|l| l.mark());
        let out = self.eval_inner(node, focus)?;
        let reads = self.env.reads.as_ref().zip(mark).map(|(l, m)| l.since(m));
        match &self.env.shared {
            Some(shared) => shared.put(&memo.shape, keys, &out, reads),
            None => memo.put(keys, &out, reads),
        }
        Ok(out)
    }

    fn eval_inner(&self, node: &Node, focus: &[Item]) -> Result<Coll, Error> {
        let at = node.at;
        Ok(match &node.kind {
            Kind::Empty => vec![],
            Kind::Bool(b) => bool_item(*b),
            Kind::Str(s) => vec![Item::new(Value::Str(s.clone()))],
            Kind::Int(i) => vec![Item::new(Value::Int(*i))],
            Kind::Dec(d) => vec![Item::new(Value::Dec(*d))],
            Kind::Date(d) => vec![Item::new(Value::Date(d.clone()))],
            Kind::DateTime(d) => vec![Item::new(Value::DateTime(d.clone()))],
            Kind::Time(t) => vec![Item::new(Value::Time(t.clone()))],
            Kind::Quantity(v, u) => vec![Item::new(Value::Quantity { value: *v, unit: u.clone() })],
            Kind::Ident(name) => self.navigate(focus, name, at, true)?,
            Kind::Member(target, name) => {
                let t = self.eval(target, focus)?;
                self.navigate(&t, name, at, false)?
            }
            Kind::Env(name) => match self.env.get(name) {
                Some(v) => v.clone(),
                // The spec's own names for value sets and extensions.
                None if name.starts_with("vs-") => vec![Item::new(Value::Str(format!("http://hl7.org/fhir/ValueSet/{}", &name[3..])))],
                None if name.starts_with("ext-") => {
                    vec![Item::new(Value::Str(format!("http://hl7.org/fhir/StructureDefinition/{}", &name[4..])))]
                }
                None => return Err(Error::eval(at, format!("%{name} is not defined"))),
            },
            Kind::Special(s) => match s.as_str() {
                "this" => focus.to_vec(),
                "index" => self.index.map(|i| vec![Item::new(Value::Int(i))]).unwrap_or_default(),
                "total" => match &self.total {
                    Some(t) => t.to_vec(),
                    None => return Err(Error::eval(at, "$total is only defined inside aggregate()")),
                },
                other => return Err(Error::syntax(at, format!("unknown ${other}"))),
            },
            Kind::Index(target, index) => {
                let t = self.eval(target, focus)?;
                let i = self.eval(index, focus)?;
                match single(&i, at, "an index")?.map(|x| &x.value) {
                    Some(Value::Int(i)) if *i >= 0 => t.into_iter().nth(*i as usize).into_iter().collect(),
                    None => vec![],
                    _ => vec![],
                }
            }
            Kind::Neg(inner) => {
                let v = self.eval(inner, focus)?;
                match single(&v, at, "'-'")?.map(|x| x.value.clone()) {
                    None => vec![],
                    Some(Value::Int(i)) => vec![Item::new(Value::Int(-i))],
                    Some(Value::Dec(d)) => vec![Item::new(Value::Dec(-d))],
                    Some(Value::Quantity { value, unit }) => vec![Item::new(Value::Quantity { value: -value, unit })],
                    Some(_) => return Err(Error::eval(at, "'-' needs a number")),
                }
            }
            Kind::Is(inner, ty) => {
                known_type(ty, at)?;
                let v = self.eval(inner, focus)?;
                match single(&v, at, "'is'")? {
                    None => vec![],
                    Some(x) => bool_item(x.is_type(ty)),
                }
            }
            Kind::As(inner, ty) => {
                known_type(ty, at)?;
                let v = self.eval(inner, focus)?;
                single(&v, at, "'as'")?.filter(|x| x.is_type(ty)).cloned().into_iter().collect()
            }
            Kind::Binary(op, l, r) => self.binary(*op, l, r, focus, at)?,
            Kind::Call(target, name, args) => {
                // A selection by place narrowed to one linkId reads the presence of those items,
                // not every list of children it walked (`ReadLog::narrow`).
                let narrow = match (&self.env.reads, target) {
                    (Some(log), Some(t)) if name == "where" && by_place(t) => link_id_filter(args).map(|l| (log.mark(), l)),
                    _ => None,
                };
                let input = match target {
                    Some(t) => self.eval(t, focus)?,
                    None => focus.to_vec(),
                };
                let out = self.call(name, &input, focus, args, at)?;
                if let (Some(log), Some((mark, link_id))) = (&self.env.reads, narrow) {
                    log.narrow(mark, link_id);
                }
                out
            }
        })
    }

    /// `name` on each item: a child element, a choice element (`value` finds `valueCoding`,
    /// typed `Coding`), or at the start of a path a resource type (`Patient.name`).
    fn navigate(&self, items: &[Item], name: &str, at: usize, first: bool) -> Result<Coll, Error> {
        self.step(at, items.len() as u64)?;
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Node(node) if node.json().is_object() => {
                    if let Some(log) = &self.env.reads {
                        log.navigated(node, name);
                    }
                    let json = node.json();
                    let obj = json.as_object().into_iter().flatten();
                    if first && json.get("resourceType").and_then(Json::as_str) == Some(name) {
                        out.push(item.clone());
                    } else if json.get(name).is_some() {
                        let parent = item.ty.as_deref().or_else(|| json.get("resourceType").and_then(Json::as_str));
                        let ty = parent.and_then(|p| crate::model::element_type(p, name)).map(crate::value::TypeName::Borrowed);
                        out.extend(node.member(name, ty));
                    } else {
                        for (k, _) in obj {
                            if let Some(suffix) = k.strip_prefix(name)
                                && suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
                                    out.extend(node.member(k, Some(type_from_suffix(suffix))));
                                }
                        }
                    }
                }
                Value::Quantity { value, unit } => match name {
                    "value" => out.push(Item::new(Value::Dec(*value))),
                    "unit" | "code" => out.push(Item::new(Value::Str(unit.clone()))),
                    _ => {}
                },
                _ => {}
            }
        }
        Ok(out)
    }

    fn binary(&self, op: Op, l: &Node, r: &Node, focus: &[Item], at: usize) -> Result<Coll, Error> {
        // Boolean operators evaluate both sides but combine with three-valued logic.
        if matches!(op, Op::And | Op::Or | Op::Xor | Op::Implies) {
            let a = truth(&self.eval(l, focus)?, at)?;
            let b = truth(&self.eval(r, focus)?, at)?;
            return Ok(opt_bool(match op {
                Op::And => match (a, b) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
                Op::Or => match (a, b) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
                Op::Xor => match (a, b) {
                    (Some(x), Some(y)) => Some(x != y),
                    _ => None,
                },
                _ => match (a, b) {
                    (Some(false), _) | (_, Some(true)) => Some(true),
                    (Some(true), Some(false)) => Some(false),
                    _ => None,
                },
            }));
        }
        let a = self.eval(l, focus)?;
        let b = self.eval(r, focus)?;
        Ok(match op {
            Op::Union => union(a, b),
            Op::Eq | Op::Ne => {
                if a.is_empty() || b.is_empty() {
                    return Ok(vec![]);
                }
                let eq = if a.len() != b.len() {
                    Some(false)
                } else {
                    a.iter().zip(&b).try_fold(true, |acc, (x, y)| equal(x, y).map(|e| acc && e))
                };
                opt_bool(eq.map(|e| if op == Op::Eq { e } else { !e }))
            }
            Op::Equiv | Op::NotEquiv => {
                let eq = a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| equivalent(x, y)));
                bool_item(if op == Op::Equiv { eq } else { !eq })
            }
            Op::Lt | Op::Gt | Op::Le | Op::Ge => {
                let (Some(x), Some(y)) = (single(&a, at, "a comparison")?, single(&b, at, "a comparison")?) else {
                    return Ok(vec![]);
                };
                let Some(o) = compare(x, y) else {
                    if comparable_kinds(x, y) {
                        return Ok(vec![]);
                    }
                    return Err(Error::eval(at, format!("cannot compare {} with {}", kind_name(x), kind_name(y))));
                };
                use std::cmp::Ordering::*;
                bool_item(match op {
                    Op::Lt => o == Less,
                    Op::Gt => o == Greater,
                    Op::Le => o != Greater,
                    _ => o != Less,
                })
            }
            Op::In | Op::Contains => {
                let (needle, hay) = if op == Op::In { (&a, &b) } else { (&b, &a) };
                match single(needle, at, "'in'")? {
                    None => vec![],
                    Some(x) => bool_item(hay.iter().any(|y| equal(x, y) == Some(true))),
                }
            }
            Op::Concat => {
                let text = |c: &Coll| -> Result<String, Error> {
                    Ok(single(c, at, "'&'")?.map(|x| to_string(x).unwrap_or_default()).unwrap_or_default())
                };
                vec![Item::new(Value::Str(text(&a)? + &text(&b)?))]
            }
            _ => {
                let (Some(x), Some(y)) = (single(&a, at, "arithmetic")?, single(&b, at, "arithmetic")?) else {
                    return Ok(vec![]);
                };
                arithmetic(op, x, y, at)?
            }
        })
    }

    /// Evaluate a lambda argument for each item of `input` (with `$this` and `$index`).
    fn each(&self, input: &[Item], arg: &Node) -> Result<Vec<Coll>, Error> {
        let mut out = Vec::with_capacity(input.len());
        for (i, item) in input.iter().enumerate() {
            let cx = self.with_index(i as i64);
            let r = cx.eval(arg, std::slice::from_ref(item));
            self.steps.set(cx.steps.get());
            out.push(r?);
        }
        Ok(out)
    }

    /// A function on `input`. Lambda arguments (`where`, `select`, `exists`, `all`, `repeat`,
    /// `iif`) are evaluated per item or on the input; other arguments are evaluated like the
    /// expression the call sits in, against `outer` (so `Bundle.entry.intersect(Bundle.entry)`
    /// means what it says).
    fn call(&self, name: &str, input: &[Item], outer: &[Item], args: &[Node], at: usize) -> Result<Coll, Error> {
        let argc = |n: std::ops::RangeInclusive<usize>| -> Result<(), Error> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(Error::eval(at, format!("{name}() takes {} argument(s), not {}", describe_range(&n), args.len())))
            }
        };
        // An argument evaluated once, in the caller's context.
        let arg = |i: usize| self.eval(&args[i], outer);
        let type_arg = |i: usize| -> Result<String, Error> {
            match &args[i].kind {
                Kind::Ident(n) => Ok(n.clone()),
                Kind::Member(ns, n) => match &ns.kind {
                    Kind::Ident(ns) => Ok(format!("{ns}.{n}")),
                    _ => Ok(n.clone()),
                },
                _ => Err(Error::eval(args[i].at, format!("{name}() needs a type name"))),
            }
        };
        let int_arg = |i: usize| -> Result<Option<i64>, Error> {
            match single(&arg(i)?, args[i].at, name)?.map(|x| &x.value) {
                None => Ok(None),
                Some(Value::Int(n)) => Ok(Some(*n)),
                Some(_) => Err(Error::eval(args[i].at, format!("{name}() needs a whole number"))),
            }
        };
        let str_arg = |i: usize| -> Result<Option<String>, Error> {
            Ok(single(&arg(i)?, args[i].at, name)?.and_then(|x| x.as_str().map(str::to_owned)))
        };
        let input_str = || -> Result<Option<String>, Error> { Ok(single(input, at, name)?.and_then(to_string)) };
        Ok(match name {
            // Existence
            "empty" => bool_item(input.is_empty()),
            "exists" => {
                argc(0..=1)?;
                if args.is_empty() {
                    bool_item(!input.is_empty())
                } else {
                    let r = self.each(input, &args[0])?;
                    bool_item(r.iter().any(|c| truth(c, at).ok().flatten() == Some(true)))
                }
            }
            "all" => {
                argc(1..=1)?;
                let r = self.each(input, &args[0])?;
                bool_item(r.iter().all(|c| truth(c, at).ok().flatten() == Some(true)))
            }
            "allTrue" | "anyTrue" | "allFalse" | "anyFalse" => {
                let mut bools = Vec::with_capacity(input.len());
                for x in input {
                    match x.value {
                        Value::Bool(b) => bools.push(Some(b)),
                        _ => return Err(Error::eval(at, format!("{name}() needs booleans, not {}", kind_name(x)))),
                    }
                }
                bool_item(match name {
                    "allTrue" => bools.iter().all(|b| *b == Some(true)),
                    "anyTrue" => bools.contains(&Some(true)),
                    "allFalse" => bools.iter().all(|b| *b == Some(false)),
                    _ => bools.contains(&Some(false)),
                })
            }
            "count" => vec![Item::new(Value::Int(input.len() as i64))],
            "distinct" => union(input.to_vec(), vec![]),
            "isDistinct" => bool_item(union(input.to_vec(), vec![]).len() == input.len()),
            "hasValue" => bool_item(input.len() == 1 && !matches!(input[0].value, Value::Node(_))),
            "subsetOf" | "supersetOf" => {
                argc(1..=1)?;
                let other = arg(0)?;
                let (small, big) = if name == "subsetOf" { (input, &other[..]) } else { (&other[..], input) };
                bool_item(small.iter().all(|x| big.iter().any(|y| equal(x, y) == Some(true))))
            }
            // Filtering and projection
            "where" => {
                argc(1..=1)?;
                // `item.where(linkId = 'x')`, the commonest filter in forms, reads one member
                // of each item: compare it in place rather than evaluate the lambda per item.
                if let Some(want) = link_id_filter(args) {
                    self.step(at, input.len() as u64)?;
                    return Ok(input
                        .iter()
                        .filter(|x| matches!(&x.value, Value::Node(n) if n.json().get("linkId").and_then(Json::as_str) == Some(want)))
                        .cloned()
                        .collect());
                }
                let r = self.each(input, &args[0])?;
                let mut out = Vec::new();
                for (item, c) in input.iter().zip(r) {
                    if truth(&c, args[0].at)? == Some(true) {
                        out.push(item.clone());
                    }
                }
                out
            }
            "select" => {
                argc(1..=1)?;
                self.each(input, &args[0])?.into_iter().flatten().collect()
            }
            "repeat" => {
                argc(1..=1)?;
                // Not "everything": the projection's own navigation logs what it reads
                // (`repeat(item)` reads each item's list of children, not its answers), so
                // `%resource.repeat(item).where(linkId='x').answer` depends on the shape of
                // the response and x's answer, not on every answer in it.
                let mut out: Coll = Vec::new();
                let mut seen = Seen::default();
                let mut frontier = input.to_vec();
                while !frontier.is_empty() {
                    let next: Coll = self.each(&frontier, &args[0])?.into_iter().flatten().collect();
                    frontier = next.into_iter().filter(|x| seen.insert(x)).collect();
                    out.extend(frontier.iter().cloned());
                }
                out
            }
            "ofType" => {
                argc(1..=1)?;
                let t = type_arg(0)?;
                known_type(&t, args[0].at)?;
                input.iter().filter(|x| x.is_type(&t)).cloned().collect()
            }
            "is" | "as" => {
                argc(1..=1)?;
                let t = type_arg(0)?;
                known_type(&t, args[0].at)?;
                if name == "as" {
                    // fhirpath.js and the HL7 suite agree: `as` needs at most one item.
                    single(input, at, name)?.filter(|x| x.is_type(&t)).cloned().into_iter().collect()
                } else {
                    match single(input, at, name)? {
                        None => vec![],
                        Some(x) => bool_item(x.is_type(&t)),
                    }
                }
            }
            // Subsetting
            "first" => input.first().cloned().into_iter().collect(),
            "last" => input.last().cloned().into_iter().collect(),
            "tail" => input.iter().skip(1).cloned().collect(),
            "skip" => {
                argc(1..=1)?;
                let n = int_arg(0)?.unwrap_or(0).max(0) as usize;
                input.iter().skip(n).cloned().collect()
            }
            "take" => {
                argc(1..=1)?;
                let n = int_arg(0)?.unwrap_or(0).max(0) as usize;
                input.iter().take(n).cloned().collect()
            }
            "single" => match input.len() {
                0 | 1 => input.to_vec(),
                n => return Err(Error::eval(at, format!("single() found {n} items"))),
            },
            "intersect" => {
                argc(1..=1)?;
                let other = arg(0)?;
                union(input.iter().filter(|x| other.iter().any(|y| equal(x, y) == Some(true))).cloned().collect(), vec![])
            }
            "exclude" => {
                argc(1..=1)?;
                let other = arg(0)?;
                input.iter().filter(|x| !other.iter().any(|y| equal(x, y) == Some(true))).cloned().collect()
            }
            // Combining
            "union" => {
                argc(1..=1)?;
                union(input.to_vec(), arg(0)?)
            }
            "combine" => {
                argc(1..=1)?;
                let mut v = input.to_vec();
                v.extend(arg(0)?);
                v
            }
            // Logic and utility
            "not" => opt_bool(truth(input, at)?.map(|b| !b)),
            "iif" => {
                argc(2..=3)?;
                if input.len() > 1 {
                    return Err(Error::eval(at, "iif() on a collection of several items"));
                }
                // The criterion and the branches are evaluated with the input as $this; only the
                // chosen branch is evaluated.
                let c = truth(&self.eval(&args[0], input)?, args[0].at)?;
                if c == Some(true) {
                    self.eval(&args[1], input)?
                } else if args.len() == 3 {
                    self.eval(&args[2], input)?
                } else {
                    vec![]
                }
            }
            "trace" => input.to_vec(),
            "now" => vec![Item::new(Value::DateTime(self.now(at)?))],
            "today" => vec![Item::new(Value::Date(self.now(at)?.chars().take(10).collect()))],
            "timeOfDay" => vec![Item::new(Value::Time(self.now(at)?.chars().skip(11).take(8).collect()))],
            "children" => {
                self.took_everything(input);
                input.iter().flat_map(children).collect()
            }
            "descendants" => {
                self.took_everything(input);
                let mut out = Vec::new();
                let mut frontier: Coll = input.iter().flat_map(children).collect();
                while !frontier.is_empty() {
                    self.step(at, frontier.len() as u64)?;
                    let next: Coll = frontier.iter().flat_map(children).collect();
                    out.extend(frontier);
                    frontier = next;
                }
                out
            }
            "extension" => {
                argc(1..=1)?;
                let url = str_arg(0)?.unwrap_or_default();
                let ext = self.navigate(input, "extension", at, false)?;
                ext.into_iter()
                    .filter(|e| matches!(&e.value, Value::Node(j) if j.json().get("url").and_then(Json::as_str) == Some(url.as_str())))
                    .collect()
            }
            // Conversion
            "toString" => input_str()?.map(|s| vec![Item::new(Value::Str(s))]).unwrap_or_default(),
            "toInteger" => match single(input, at, name)?.map(|x| &x.value) {
                Some(Value::Int(i)) => vec![Item::new(Value::Int(*i))],
                Some(Value::Bool(b)) => vec![Item::new(Value::Int(*b as i64))],
                Some(Value::Str(s)) => s.trim().parse::<i64>().ok().map(|i| vec![Item::new(Value::Int(i))]).unwrap_or_default(),
                _ => vec![],
            },
            "toDecimal" => match single(input, at, name)?.map(|x| &x.value) {
                Some(Value::Int(i)) => vec![Item::new(Value::Dec(*i as f64))],
                Some(Value::Dec(d)) => vec![Item::new(Value::Dec(*d))],
                Some(Value::Bool(b)) => vec![Item::new(Value::Dec(*b as i64 as f64))],
                Some(Value::Str(s)) => intake_text::parse_f64(s.trim()).map(|d| vec![Item::new(Value::Dec(d))]).unwrap_or_default(),
                _ => vec![],
            },
            "toBoolean" => match single(input, at, name)?.map(|x| &x.value) {
                Some(Value::Bool(b)) => bool_item(*b),
                Some(Value::Int(1)) => bool_item(true),
                Some(Value::Int(0)) => bool_item(false),
                Some(Value::Dec(d)) if *d == 1.0 => bool_item(true),
                Some(Value::Dec(d)) if *d == 0.0 => bool_item(false),
                Some(Value::Str(s)) => match s.to_ascii_lowercase().as_str() {
                    "true" | "t" | "yes" | "y" | "1" | "1.0" => bool_item(true),
                    "false" | "f" | "no" | "n" | "0" | "0.0" => bool_item(false),
                    _ => vec![],
                },
                _ => vec![],
            },
            "toDate" | "toDateTime" | "toTime" => {
                let Some(x) = single(input, at, name)? else { return Ok(vec![]) };
                let Some(text) = x.as_str() else { return Ok(vec![]) };
                let text = text.strip_prefix('@').unwrap_or(text);
                match name {
                    "toTime" => match Moment::parse_time(text.strip_prefix('T').unwrap_or(text)) {
                        Some(m) => vec![Item::new(Value::Time(m.format()))],
                        None => vec![],
                    },
                    _ => match Moment::parse_date(text) {
                        Some(mut m) if name == "toDate" => {
                            m.prec = m.prec.min(3);
                            m.tz = None;
                            vec![Item::new(Value::Date(m.format()))]
                        }
                        Some(m) => vec![Item::new(Value::DateTime(m.format()))],
                        None => vec![],
                    },
                }
            }
            "convertsToTime" => bool_item(!self.call("toTime", input, outer, args, at)?.is_empty()),
            "convertsToQuantity" => bool_item(single(input, at, name)?.and_then(quantity_of).is_some()),
            "convertsToString" => bool_item(single(input, at, name)?.and_then(to_string).is_some()),
            "convertsToInteger" => bool_item(!self.call("toInteger", input, outer, args, at)?.is_empty()),
            "convertsToDecimal" => bool_item(!self.call("toDecimal", input, outer, args, at)?.is_empty()),
            "convertsToBoolean" => bool_item(!self.call("toBoolean", input, outer, args, at)?.is_empty()),
            "convertsToDate" => bool_item(!self.call("toDate", input, outer, args, at)?.is_empty()),
            "convertsToDateTime" => bool_item(!self.call("toDateTime", input, outer, args, at)?.is_empty()),
            // Strings
            "length" => input_str()?.map(|s| vec![Item::new(Value::Int(s.chars().count() as i64))]).unwrap_or_default(),
            "upper" => input_str()?.map(|s| vec![Item::new(Value::Str(intake_text::upper(&s)))]).unwrap_or_default(),
            "lower" => input_str()?.map(|s| vec![Item::new(Value::Str(intake_text::lower(&s)))]).unwrap_or_default(),
            "trim" => input_str()?.map(|s| vec![Item::new(Value::Str(s.trim().to_owned()))]).unwrap_or_default(),
            "toChars" => input_str()?.map(|s| s.chars().map(|c| Item::new(Value::Str(c.to_string()))).collect()).unwrap_or_default(),
            "substring" => {
                argc(1..=2)?;
                let Some(s) = input_str()? else { return Ok(vec![]) };
                let Some(start) = int_arg(0)? else { return Ok(vec![]) };
                let chars: Vec<char> = s.chars().collect();
                if start < 0 || start as usize >= chars.len() {
                    return Ok(vec![]);
                }
                let len = if args.len() == 2 { int_arg(1)?.unwrap_or(0).max(0) as usize } else { chars.len() };
                let end = (start as usize).saturating_add(len).min(chars.len());
                vec![Item::new(Value::Str(chars[start as usize..end].iter().collect()))]
            }
            "startsWith" | "endsWith" | "contains" | "indexOf" => {
                argc(1..=1)?;
                let Some(s) = input_str()? else { return Ok(vec![]) };
                let Some(p) = str_arg(0)? else { return Ok(vec![]) };
                match name {
                    "startsWith" => bool_item(s.starts_with(&p)),
                    "endsWith" => bool_item(s.ends_with(&p)),
                    "contains" => bool_item(s.contains(&p)),
                    _ => vec![Item::new(Value::Int(s.find(&p).map(|b| s[..b].chars().count() as i64).unwrap_or(-1)))],
                }
            }
            "replace" => {
                argc(2..=2)?;
                let (Some(s), Some(p), Some(r)) = (input_str()?, str_arg(0)?, str_arg(1)?) else { return Ok(vec![]) };
                let out = if p.is_empty() {
                    // Spec: an empty pattern inserts the replacement around every character.
                    let mut o = r.clone();
                    for c in s.chars() {
                        o.push(c);
                        o.push_str(&r);
                    }
                    o
                } else {
                    s.replace(&p, &r)
                };
                vec![Item::new(Value::Str(out))]
            }
            "split" => {
                argc(1..=1)?;
                let (Some(s), Some(sep)) = (input_str()?, str_arg(0)?) else { return Ok(vec![]) };
                s.split(sep.as_str()).map(|p| Item::new(Value::Str(p.to_owned()))).collect()
            }
            "join" => {
                argc(0..=1)?;
                // FHIRPath: "If the input is empty, the result is empty" (not ''), as
                // fhirpath.js does; the differential test found this on SDC IG forms.
                if input.is_empty() {
                    return Ok(vec![]);
                }
                let sep = if args.is_empty() { String::new() } else { str_arg(0)?.unwrap_or_default() };
                let parts: Vec<String> = input.iter().filter_map(to_string).collect();
                vec![Item::new(Value::Str(parts.join(&sep)))]
            }
            // Math
            "abs" | "ceiling" | "floor" | "truncate" | "round" | "sqrt" | "exp" | "ln" => {
                let Some(x) = single(input, at, name)? else { return Ok(vec![]) };
                if let (Value::Quantity { value, unit }, "abs") = (&x.value, name) {
                    return Ok(vec![Item::new(Value::Quantity { value: value.abs(), unit: unit.clone() })]);
                }
                if let (Value::Int(i), "abs" | "ceiling" | "floor" | "truncate" | "round") = (&x.value, name) {
                    return Ok(vec![Item::new(Value::Int(if name == "abs" { i.abs() } else { *i }))]);
                }
                let Some(d) = x.as_number() else { return Err(Error::eval(at, format!("{name}() needs a number"))) };
                let r = match name {
                    "abs" => Value::Dec(d.abs()),
                    "ceiling" => Value::Int(d.ceil() as i64),
                    "floor" => Value::Int(d.floor() as i64),
                    "truncate" => Value::Int(d.trunc() as i64),
                    "round" => {
                        let places = if args.is_empty() { 0 } else { int_arg(0)?.unwrap_or(0) } as i32;
                        let f = 10f64.powi(places);
                        Value::Dec((d * f).round() / f)
                    }
                    "sqrt" if d < 0.0 => return Ok(vec![]),
                    "sqrt" => Value::Dec(d.sqrt()),
                    "exp" => Value::Dec(d.exp()),
                    _ if d <= 0.0 => return Ok(vec![]),
                    _ => Value::Dec(d.ln()),
                };
                vec![Item::new(r)]
            }
            "power" => {
                argc(1..=1)?;
                let (Some(x), Some(y)) = (single(input, at, name)?.and_then(Item::as_number), single(&arg(0)?, at, name)?.and_then(Item::as_number))
                else {
                    return Ok(vec![]);
                };
                let p = x.powf(y);
                if p.is_nan() { vec![] } else { vec![Item::new(Value::Dec(p))] }
            }
            // A quantity from a number, a FHIR Quantity or text like `5 'kg'`, converted to
            // `unit` when asked (the UCUM units forms use: mass, length, temperature); a unit it
            // cannot convert gives empty, as the spec says.
            "toQuantity" => {
                argc(0..=1)?;
                let Some(x) = single(input, at, name)? else { return Ok(vec![]) };
                let Some((value, unit)) = quantity_of(x) else { return Ok(vec![]) };
                let target = if args.is_empty() { None } else { str_arg(0)? };
                match target {
                    None => vec![Item::new(Value::Quantity { value, unit })],
                    Some(to) => match crate::units::convert(value, &unit, &to) {
                        Some(v) => vec![Item::new(Value::Quantity { value: v, unit: to })],
                        None => vec![],
                    },
                }
            }
            "sum" => {
                argc(0..=0)?;
                if input.is_empty() {
                    return Ok(vec![]);
                }
                if input.iter().all(|x| matches!(x.value, Value::Int(_))) {
                    let mut total: i64 = 0;
                    for x in input {
                        if let Value::Int(i) = x.value {
                            total = total.checked_add(i).ok_or_else(|| Error::eval(at, "sum() overflows"))?;
                        }
                    }
                    vec![Item::new(Value::Int(total))]
                } else {
                    let mut total = 0.0;
                    for x in input {
                        total += x.as_number().ok_or_else(|| Error::eval(at, format!("sum() needs numbers, not {}", kind_name(x))))?;
                    }
                    vec![Item::new(Value::Dec(total))]
                }
            }
            // SDC: the score of a coded answer: the coding's own itemWeight/ordinalValue, or the
            // one on the answerOption with that code, found through %questionnaire by the linkId
            // of the response item the answer is in (or directly on the answerOption).
            "weight" | "ordinal" => {
                argc(0..=0)?;
                let questionnaire = self.env.get("questionnaire").and_then(|q| q.first()).and_then(|q| match &q.value {
                    Value::Node(n) => Some(n.json()),
                    _ => None,
                });
                input.iter().filter_map(|x| score_of(x, questionnaire)).map(|d| Item::new(Value::Dec(d))).collect()
            }
            // Case-sensitive, single-line mode (`.` matches a newline), as the spec says; in
            // regex-lite's linear-time dialect. `matches` finds the pattern anywhere, as
            // fhirpath.js does; `matchesFull` (FHIRPath 2.1) needs all of the string.
            "matches" | "matchesFull" | "replaceMatches" => {
                argc(if name == "replaceMatches" { 2..=2 } else { 1..=1 })?;
                let (Some(s), Some(p)) = (input_str()?, str_arg(0)?) else { return Ok(vec![]) };
                let pattern = if name == "matchesFull" { format!("(?s)^(?:{p})$") } else { format!("(?s){p}") };
                let re = regex_lite::RegexBuilder::new(&pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| Error::eval(at, format!("{name}(): not a valid regular expression: {e}")))?;
                if name == "replaceMatches" {
                    let Some(r) = str_arg(1)? else { return Ok(vec![]) };
                    if p.is_empty() {
                        return Ok(vec![Item::new(Value::Str(s))]);
                    }
                    vec![Item::new(Value::Str(re.replace_all(&s, r.as_str()).into_owned()))]
                } else {
                    bool_item(re.is_match(&s))
                }
            }
            "log" => {
                argc(1..=1)?;
                let (Some(x), Some(b)) = (single(input, at, name)?.and_then(Item::as_number), single(&arg(0)?, at, name)?.and_then(Item::as_number))
                else {
                    return Ok(vec![]);
                };
                let r = x.ln() / b.ln();
                if r.is_finite() { vec![Item::new(Value::Dec(round_noise(r)))] } else { vec![] }
            }
            "aggregate" => {
                argc(1..=2)?;
                let mut total: Coll = if args.len() == 2 { arg(1)? } else { vec![] };
                for (i, item) in input.iter().enumerate() {
                    let cx = Cx {
                        env: self.env,
                        steps: Cell::new(self.steps.get()),
                        depth: Cell::new(self.depth.get()),
                        index: Some(i as i64),
                        total: Some(std::rc::Rc::new(total)),
                    };
                    let r = cx.eval(&args[0], std::slice::from_ref(item));
                    self.steps.set(cx.steps.get());
                    total = r?;
                }
                total
            }
            // FHIRPath 3 (in the R4 suite): order by each key, `-key` descending.
            "sort" => {
                let mut keyed: Vec<(Vec<Coll>, Item)> = Vec::with_capacity(input.len());
                for (i, item) in input.iter().enumerate() {
                    let cx = self.with_index(i as i64);
                    let mut keys = Vec::with_capacity(args.len().max(1));
                    if args.is_empty() {
                        keys.push(vec![item.clone()]);
                    }
                    for a in args {
                        let expr = match &a.kind {
                            Kind::Neg(inner) => inner,
                            _ => a,
                        };
                        keys.push(cx.eval(expr, std::slice::from_ref(item))?);
                    }
                    self.steps.set(cx.steps.get());
                    keyed.push((keys, item.clone()));
                }
                let descending: Vec<bool> = args.iter().map(|a| matches!(a.kind, Kind::Neg(_))).collect();
                intake_order::sort_by(&mut keyed, |(ka, _), (kb, _)| {
                    for (i, (a, b)) in ka.iter().zip(kb).enumerate() {
                        // An empty key sorts first either way.
                        let o = match (a.first(), b.first()) {
                            (None, None) => std::cmp::Ordering::Equal,
                            (None, Some(_)) => return std::cmp::Ordering::Less,
                            (Some(_), None) => return std::cmp::Ordering::Greater,
                            (Some(x), Some(y)) => compare(x, y).unwrap_or(std::cmp::Ordering::Equal),
                        };
                        let o = if descending.get(i) == Some(&true) { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
                keyed.into_iter().map(|(_, item)| item).collect()
            }
            "encode" | "decode" | "escape" | "unescape" => {
                argc(1..=1)?;
                let (Some(s), Some(how)) = (input_str()?, str_arg(0)?) else { return Ok(vec![]) };
                let out = match (name, how.as_str()) {
                    ("encode", "base64") => crate::text::base64_encode(s.as_bytes(), false),
                    ("encode", "urlbase64") => crate::text::base64_encode(s.as_bytes(), true),
                    ("encode", "hex") => s.bytes().map(|b| format!("{b:02x}")).collect(),
                    ("decode", "base64" | "urlbase64" | "hex") => {
                        let bytes = if how == "hex" { crate::text::hex_decode(&s) } else { crate::text::base64_decode(&s) };
                        match bytes.and_then(|b| String::from_utf8(b).ok()) {
                            Some(t) => t,
                            None => return Ok(vec![]),
                        }
                    }
                    ("escape", "html") => crate::text::escape_html(&s),
                    ("unescape", "html") => crate::text::unescape_html(&s),
                    ("escape", "json") => crate::text::escape_json(&s),
                    ("unescape", "json") => crate::text::unescape_json(&s),
                    _ => return Err(Error::eval(args[0].at, format!("{name}() does not know the format '{how}'"))),
                };
                vec![Item::new(Value::Str(out))]
            }
            "lowBoundary" | "highBoundary" => {
                argc(0..=1)?;
                let Some(x) = single(input, at, name)? else { return Ok(vec![]) };
                let digits = if args.is_empty() { None } else { int_arg(0)? };
                let high = name == "highBoundary";
                let out = match &x.value {
                    Value::Int(_) | Value::Dec(_) => x.as_number().and_then(|v| decimal_boundary(v, high, digits)).map(Value::Dec),
                    Value::Quantity { value, unit } => {
                        decimal_boundary(*value, high, digits).map(|v| Value::Quantity { value: v, unit: unit.clone() })
                    }
                    _ => match crate::value::moment(x).and_then(|m| m.boundary(high, digits)) {
                        Some(m) if m.time_only => Some(Value::Time(m.format())),
                        Some(m) if m.prec <= 3 => Some(Value::Date(m.format())),
                        Some(m) => Some(Value::DateTime(m.format())),
                        None => None,
                    },
                };
                out.map(|v| vec![Item::new(v)]).unwrap_or_default()
            }
            "precision" => {
                argc(0..=0)?;
                let Some(x) = single(input, at, name)? else { return Ok(vec![]) };
                let p = match &x.value {
                    Value::Int(_) => Some(0),
                    Value::Dec(d) => Some(crate::value::decimals(*d) as i64),
                    _ => crate::value::moment(x).map(|m| m.digits()),
                };
                p.map(|p| vec![Item::new(Value::Int(p))]).unwrap_or_default()
            }
            "comparable" => {
                argc(1..=1)?;
                let (Some(a), Some(b)) = (single(input, at, name)?.and_then(crate::value::quantity), single(&arg(0)?, at, name)?.and_then(crate::value::quantity))
                else {
                    return Ok(vec![]);
                };
                bool_item(crate::value::quantity_in(&a, &b.1).is_some())
            }
            "type" => {
                argc(0..=0)?;
                input.iter().map(type_info).collect()
            }
            "conformsTo" => {
                argc(1..=1)?;
                let Some(url) = str_arg(0)? else { return Ok(vec![]) };
                let Some(ty) = url.strip_prefix("http://hl7.org/fhir/StructureDefinition/") else {
                    return Err(Error::eval(at, format!("conformsTo(): '{url}' is not a profile this evaluator knows")));
                };
                let Some(x) = single(input, at, name)? else { return Ok(vec![]) };
                bool_item(x.type_name().as_deref() == Some(ty))
            }
            // A reference to a resource the evaluation already holds: `#id` in the resource's
            // `contained`, an entry of the Bundle it is in (by `fullUrl` or `Type/id`), or one
            // of the resources the caller gave (`Env::with_resources`). No network: a reference
            // to anything else resolves to nothing, as the spec allows.
            "resolve" => {
                argc(0..=0)?;
                let mut out = Vec::new();
                for x in input {
                    self.step(at, 1)?;
                    // The resource the reference is written in (for text: `%resource`).
                    let (reference, container) = match &x.value {
                        Value::Str(s) => (s.clone(), self.env.get("resource").and_then(|r| r.first()).and_then(|r| match &r.value {
                            Value::Node(n) => Some(n.root()),
                            _ => None,
                        })),
                        Value::Node(n) => match n.json().get("reference").and_then(Json::as_str) {
                            Some(r) => (r.to_owned(), n.enclosing_resource()),
                            None => continue,
                        },
                        _ => continue,
                    };
                    if let Some(found) = resolve_reference(&reference, container.as_ref(), self.env.resources.as_deref().map(|v| &v[..])) {
                        out.push(found);
                    }
                }
                out
            }
            "memberOf" | "htmlChecks" | "getValue" => {
                return Err(Error::unsupported(at, format!("{name}()")));
            }
            other => return Err(Error::unsupported(at, format!("unknown function {other}()"))),
        })
    }

    /// A step that takes in whole subtrees: it reads everything under its input.
    fn took_everything(&self, input: &[Item]) {
        if let Some(log) = &self.env.reads {
            for x in input {
                if let Value::Node(n) = &x.value {
                    log.everything(n);
                }
            }
        }
    }

    fn now(&self, at: usize) -> Result<String, Error> {
        self.env.now.as_deref().map(str::to_owned).ok_or_else(|| Error::eval(at, "now() and today() need the evaluation time, which was not given"))
    }
}

fn describe_range(r: &std::ops::RangeInclusive<usize>) -> String {
    if r.start() == r.end() { r.start().to_string() } else { format!("{} to {}", r.start(), r.end()) }
}

/// The one item of a collection; an error if there are several.
fn single<'c>(c: &'c [Item], at: usize, what: &str) -> Result<Option<&'c Item>, Error> {
    match c {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(Error::eval(at, format!("{what} needs a single value, but got {} values", many.len()))),
    }
}

/// Singleton evaluation of collections as a boolean: empty is unknown, a single boolean is
/// itself, a single other item is true.
fn truth(c: &[Item], at: usize) -> Result<Option<bool>, Error> {
    match single(c, at, "a condition")? {
        None => Ok(None),
        Some(Item { value: Value::Bool(b), .. }) => Ok(Some(*b)),
        Some(_) => Ok(Some(true)),
    }
}

fn union(a: Coll, b: Coll) -> Coll {
    let mut out: Coll = Vec::with_capacity(a.len() + b.len());
    let mut seen = Seen::default();
    for x in a.into_iter().chain(b) {
        if seen.insert(&x) {
            out.push(x);
        }
    }
    out
}

/// The items of a collection so far, to tell whether another is new under `=` (what `union`,
/// `distinct` and `repeat` need) without comparing it with every one: an object node (a
/// response item, a resource) is only ever `=` to a node of equal contents, so object nodes
/// are kept in buckets by a hash of their scalar members (`linkId`, `id`...), and compared
/// only within their bucket. Everything else (text, numbers, dates and quantities, which are
/// `=` across representations) is compared with everything, as before. `repeat(item)` over a
/// form of 800 items was 650,000 comparisons; it is now about 800.
#[derive(Default)]
struct Seen {
    buckets: std::collections::HashMap<u64, Vec<Item>>,
    others: Vec<Item>,
}

impl Seen {
    /// The hash that `=` items share, for object nodes that are not quantities.
    fn key(x: &Item) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let Value::Node(n) = &x.value else { return None };
        if crate::value::quantity(x).is_some() {
            return None;
        }
        let Json::Object(m) = n.json() else { return None };
        let mut h = std::hash::DefaultHasher::new();
        m.len().hash(&mut h);
        for (k, v) in m {
            match v {
                Json::String(s) => (k, s).hash(&mut h),
                Json::Bool(b) => (k, b).hash(&mut h),
                Json::Number(num) => (k, num.as_f64().map(f64::to_bits)).hash(&mut h),
                _ => {}
            }
        }
        Some(h.finish())
    }

    /// Record `x`; false if an item `=` to it was recorded before.
    fn insert(&mut self, x: &Item) -> bool {
        let eq = |y: &Item| equal(x, y) == Some(true);
        let key = Self::key(x);
        let known = match key {
            Some(k) => self.buckets.get(&k).is_some_and(|b| b.iter().any(eq)) || self.others.iter().any(eq),
            // A node outside the buckets may still equal one inside them.
            None => self.others.iter().any(eq) || (matches!(x.value, Value::Node(_)) && self.buckets.values().flatten().any(eq)),
        };
        if !known {
            match key {
                Some(k) => self.buckets.entry(k).or_default().push(x.clone()),
                None => self.others.push(x.clone()),
            }
        }
        !known
    }
}

fn children(item: &Item) -> Coll {
    match &item.value {
        Value::Node(node) => node
            .json()
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != "resourceType")
            .flat_map(|(k, _)| {
                let ty = k.char_indices().find(|(_, c)| c.is_ascii_uppercase()).map(|(i, _)| type_from_suffix(&k[i..]));
                node.member(k, ty)
            })
            .collect(),
        _ => vec![],
    }
}

/// The string form of a value (`toString()`, `join`, `&`).
fn to_string(x: &Item) -> Option<String> {
    Some(match &x.value {
        Value::Str(s) | Value::Date(s) | Value::DateTime(s) | Value::Time(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Dec(d) => number(*d).to_string(),
        Value::Quantity { value, unit } => {
            if is_calendar_unit(unit) {
                format!("{} {unit}", number(*value))
            } else {
                format!("{} '{unit}'", number(*value))
            }
        }
        Value::Node(_) => return None,
    })
}

/// A type name must name a type: FHIR's primitives are lower case and known, so `string1` is an
/// error rather than a silent empty. Capitalised names (resources, datatypes, System types)
/// are not checked: the model here does not list every resource.
fn known_type(name: &str, at: usize) -> Result<(), Error> {
    let bare = name.rsplit('.').next().unwrap_or(name);
    if bare.starts_with(|c: char| c.is_ascii_lowercase()) && !crate::value::is_primitive(bare) && bare != "xhtml" {
        return Err(Error::eval(at, format!("'{name}' is not a type")));
    }
    Ok(())
}

fn kind_name(x: &Item) -> &'static str {
    match x.value {
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Dec(_) => "a number",
        Value::Str(_) => "a string",
        Value::Date(_) | Value::DateTime(_) => "a date",
        Value::Time(_) => "a time",
        Value::Quantity { .. } => "a quantity",
        Value::Node(_) => "an element",
    }
}

fn comparable_kinds(x: &Item, y: &Item) -> bool {
    matches!(
        (&x.value, &y.value),
        (Value::Date(_) | Value::DateTime(_) | Value::Str(_), Value::Date(_) | Value::DateTime(_))
            | (Value::Date(_) | Value::DateTime(_), Value::Str(_))
            | (Value::Time(_), Value::Time(_))
            | (Value::Quantity { .. }, Value::Quantity { .. })
    )
}

fn arithmetic(op: Op, x: &Item, y: &Item, at: usize) -> Result<Coll, Error> {
    use Value::*;
    let v = match (&x.value, &y.value, op) {
        (Str(a), Str(b), Op::Add) => Str(format!("{a}{b}")),
        (Int(a), Int(b), Op::Add) => a.checked_add(*b).map(Int).unwrap_or(Dec(*a as f64 + *b as f64)),
        (Int(a), Int(b), Op::Sub) => a.checked_sub(*b).map(Int).unwrap_or(Dec(*a as f64 - *b as f64)),
        (Int(a), Int(b), Op::Mul) => a.checked_mul(*b).map(Int).unwrap_or(Dec(*a as f64 * *b as f64)),
        (Int(_), Int(0), Op::IntDiv | Op::Mod) => return Ok(vec![]),
        // Truncating division and a remainder with the dividend's sign, as FHIRPath defines them.
        (Int(a), Int(b), Op::IntDiv) => Int(a / b),
        (Int(a), Int(b), Op::Mod) => Int(a % b),
        (Int(_) | Dec(_), Int(_) | Dec(_), _) => {
            let (a, b) = (x.as_number().unwrap_or(0.0), y.as_number().unwrap_or(0.0));
            match op {
                Op::Add => Dec(round_noise(a + b)),
                Op::Sub => Dec(round_noise(a - b)),
                Op::Mul => Dec(round_noise(a * b)),
                Op::Div | Op::IntDiv | Op::Mod if b == 0.0 => return Ok(vec![]),
                Op::Div => Dec(round_noise(a / b)),
                Op::IntDiv => Int((a / b).trunc() as i64),
                _ => Dec(round_noise(a % b)),
            }
        }
        (Quantity { value: a, unit: u }, Quantity { value: b, unit: w }, Op::Add | Op::Sub) => {
            let Some(b) = crate::value::quantity_in(&(*b, w.clone()), u) else {
                return Err(Error::eval(at, format!("cannot add or subtract '{w}' and '{u}'")));
            };
            Quantity { value: if op == Op::Add { a + b } else { a - b }, unit: u.clone() }
        }
        (Quantity { value: a, unit: u }, Int(_) | Dec(_), Op::Mul | Op::Div) => {
            let b = y.as_number().unwrap_or(1.0);
            if op == Op::Div && b == 0.0 {
                return Ok(vec![]);
            }
            Quantity { value: if op == Op::Mul { a * b } else { a / b }, unit: u.clone() }
        }
        (Date(_) | DateTime(_) | Time(_), Quantity { value, unit }, Op::Add | Op::Sub) => {
            let amount = if op == Op::Add { *value } else { -*value };
            let Some(m) = crate::value::moment(x).and_then(|m| m.plus(amount, unit)) else {
                return Err(Error::eval(at, format!("cannot add '{unit}' to a date or time: use a calendar duration (days, months, years)")));
            };
            match &x.value {
                Date(_) => Date(m.format()),
                DateTime(_) => DateTime(m.format()),
                _ => Time(m.format()),
            }
        }
        _ => return Err(Error::eval(at, format!("cannot apply this operator to {} and {}", kind_name(x), kind_name(y)))),
    };
    Ok(vec![Item::new(v)])
}

const WEIGHT_URLS: [&str; 3] = [
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/iso21090-CO-value",
];

/// The weight extension's number on an element, if it has one.
fn weight_ext(el: &Json) -> Option<f64> {
    el.get("extension")?.as_array()?.iter().find_map(|e| {
        let url = e.get("url")?.as_str()?;
        if !WEIGHT_URLS.contains(&url) {
            return None;
        }
        e.get("valueDecimal").or_else(|| e.get("valueInteger")).and_then(Json::as_f64)
    })
}

fn score_of(x: &Item, questionnaire: Option<&Json>) -> Option<f64> {
    let Value::Node(node) = &x.value else { return None };
    // An answer (`answer.weight()`) scores by its coding.
    let coding = node.json().get("valueCoding").unwrap_or(node.json());
    if let Some(w) = weight_ext(coding) {
        return Some(w);
    }
    let ancestry = node.ancestry();
    // Directly on an answerOption (a coding navigated to in the questionnaire).
    if let Some(parent) = ancestry.len().checked_sub(2).map(|i| ancestry[i]) {
        if parent.get("valueCoding").is_some() {
            if let Some(w) = weight_ext(parent) {
                return Some(w);
            }
        }
    }
    // An answer in a response: the nearest enclosing item's linkId, looked up in the form.
    let link_id = ancestry.iter().rev().find_map(|j| j.get("linkId").and_then(Json::as_str))?;
    let item = find_item(questionnaire?, link_id)?;
    let code = coding.get("code").and_then(Json::as_str)?;
    let system = coding.get("system").and_then(Json::as_str);
    item.get("answerOption")?.as_array()?.iter().find_map(|o| {
        let c = o.get("valueCoding")?;
        let same_system = match (system, c.get("system").and_then(Json::as_str)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        (c.get("code").and_then(Json::as_str) == Some(code) && same_system).then(|| weight_ext(o).or_else(|| weight_ext(c)))?
    })
}

/// The questionnaire item with this linkId, anywhere in the form (bounded by the form's size).
fn find_item<'a>(node: &'a Json, link_id: &str) -> Option<&'a Json> {
    let mut stack: Vec<&Json> = node.get("item").and_then(Json::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    while let Some(it) = stack.pop() {
        if it.get("linkId").and_then(Json::as_str) == Some(link_id) {
            return Some(it);
        }
        stack.extend(it.get("item").and_then(Json::as_array).into_iter().flatten());
    }
    None
}

/// `(value, unit)` of what toQuantity() accepts.
fn quantity_of(x: &Item) -> Option<(f64, String)> {
    match &x.value {
        Value::Int(i) => Some((*i as f64, "1".into())),
        Value::Dec(d) => Some((*d, "1".into())),
        Value::Bool(b) => Some((if *b { 1.0 } else { 0.0 }, "1".into())),
        Value::Quantity { value, unit } => Some((*value, unit.clone())),
        Value::Node(n) => {
            let j = n.json();
            let value = j.get("value")?.as_f64()?;
            let unit = j.get("code").or_else(|| j.get("unit")).and_then(Json::as_str).unwrap_or("1");
            Some((value, unit.to_owned()))
        }
        Value::Str(s) => {
            let s = s.trim();
            let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
            let value = intake_text::parse_f64(&s[..end])?;
            let rest = s[end..].trim();
            let unit = match rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
                Some(u) => u.to_owned(),
                None if rest.is_empty() => "1".to_owned(),
                None if is_calendar_unit(rest) => rest.to_owned(),
                None => return None,
            };
            Some((value, unit))
        }
        _ => None,
    }
}

/// `lowBoundary`/`highBoundary` of a decimal given to `decimals(v)` places: half a unit of the
/// last place either way, at `digits` places (8 by default; 0 to 28).
fn decimal_boundary(v: f64, high: bool, digits: Option<i64>) -> Option<f64> {
    let digits = digits.unwrap_or(8);
    if !(0..=28).contains(&digits) {
        return None;
    }
    let half = 0.5 * 10f64.powi(-(crate::value::decimals(v) as i32));
    let edge = if high { v + half } else { v - half };
    let f = 10f64.powi(digits as i32);
    let scaled = round_noise(edge * f);
    Some(round_noise(if high { scaled.ceil() } else { scaled.floor() } / f))
}

/// `type()`: the namespace and name of an item's type, as a small element.
fn type_info(x: &Item) -> Item {
    let (ns, name) = match (&x.ty, &x.value) {
        (Some(t), _) if t.contains('.') => ("FHIR", "BackboneElement".to_owned()),
        (Some(t), _) => ("FHIR", t.to_string()),
        (None, Value::Node(n)) => match n.json().get("resourceType").and_then(Json::as_str) {
            Some(r) => ("FHIR", r.to_owned()),
            None => ("FHIR", "Element".to_owned()),
        },
        (None, v) => (
            "System",
            match v {
                Value::Bool(_) => "Boolean",
                Value::Int(_) => "Integer",
                Value::Dec(_) => "Decimal",
                Value::Str(_) => "String",
                Value::Date(_) => "Date",
                Value::DateTime(_) => "DateTime",
                Value::Time(_) => "Time",
                _ => "Quantity",
            }
            .to_owned(),
        ),
    };
    Item::new(Value::Node(crate::NodeRef::new(serde_json::json!({ "namespace": ns, "name": name }))))
}

/// The resource `reference` names, among those `resolve()` may see (see its comment), from the
/// resource it is written in (`container`).
fn resolve_reference(reference: &str, container: Option<&crate::NodeRef>, resources: Option<&[Item]>) -> Option<Item> {
    let reference = reference.split("/_history/").next().unwrap_or(reference);
    // `Type/id` at the end of a relative or absolute reference.
    let mut parts = reference.rsplitn(3, '/');
    let (id, ty) = (parts.next()?, parts.next());
    let is = |j: &Json| ty.is_some_and(|t| j.get("resourceType").and_then(Json::as_str) == Some(t)) && j.get("id").and_then(Json::as_str) == Some(id);
    let resource = |n: crate::NodeRef| Item { value: Value::Node(n), ty: None };
    if let Some(container) = container {
        if let Some(local) = reference.strip_prefix('#') {
            let contained = container.json().get("contained").and_then(Json::as_array)?;
            let i = contained.iter().position(|c| c.get("id").and_then(Json::as_str) == Some(local))?;
            return Some(resource(container.key("contained").index(i)));
        }
        let doc = container.root();
        if let Some(entries) = doc.json().get("entry").and_then(Json::as_array) {
            let by_url = entries.iter().position(|e| e.get("fullUrl").and_then(Json::as_str) == Some(reference));
            let by_id = || entries.iter().position(|e| e.get("resource").is_some_and(is));
            if let Some(i) = by_url.or_else(by_id) {
                return Some(resource(doc.key("entry").index(i).key("resource")));
            }
        }
    }
    resources?.iter().find(|r| matches!(&r.value, Value::Node(n) if is(n.json()))).cloned()
}

/// `linkId = 'x'` as the one argument of `where`: the literal.
fn link_id_filter(args: &[Node]) -> Option<&str> {
    match args {
        [a] => match &a.kind {
            Kind::Binary(Op::Eq, l, r) => match (&l.kind, &r.kind) {
                (Kind::Ident(m), Kind::Str(want)) if m == "linkId" => Some(want.as_str()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// A selection of items by their place alone: `item` or `repeat(item)` on the focus, on a
/// `%variable`, or on such a selection already narrowed by `where(linkId = '...')`. What it
/// reads of a document is lists of children and nothing else, so a `where(linkId = 'x')` on
/// it may narrow those reads to the presence of items x.
fn by_place(node: &Node) -> bool {
    let base = |b: &Node| match &b.kind {
        Kind::Env(_) => true,
        Kind::Special(s) => s == "$this",
        Kind::Call(Some(t), name, args) => name == "where" && link_id_filter(args).is_some() && by_place(t),
        _ => false,
    };
    match &node.kind {
        Kind::Ident(name) => name == "item",
        Kind::Member(b, name) => name == "item" && base(b),
        Kind::Call(target, name, args) => {
            name == "repeat"
                && matches!(args.as_slice(), [a] if matches!(&a.kind, Kind::Ident(m) if m == "item"))
                && target.as_deref().is_none_or(base)
        }
        _ => false,
    }
}
