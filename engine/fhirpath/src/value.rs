//! The items of a FHIRPath collection: system values, and FHIR elements as JSON with the FHIR
//! type when the JSON says it (the suffix of a choice element: `valueCoding` is a `Coding`).

use std::cmp::Ordering;

use crate::temporal::Moment;

use serde_json::Value as Json;

/// One value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Dec(f64),
    Str(String),
    Date(String),
    DateTime(String),
    Time(String),
    Quantity { value: f64, unit: String },
    /// A complex FHIR element or resource.
    Node(NodeRef),
}

/// A place in a shared JSON document. Why not the JSON itself: every expression on every answer
/// navigates the response and the questionnaire (`%questionnaire.item.where(...)`), and copying
/// each child's subtree at every step cost milliseconds per answer on a large form. A child
/// shares its document and records the way down to it.
///
/// The JSON at the place is found once, when the place is made (`at`): `json()` is called for
/// every step of every expression, and walking the way down from the root each time (a map
/// lookup per level) was a fifth of MBS 715's expression time.
#[derive(Debug, Clone)]
pub struct NodeRef {
    doc: std::rc::Rc<Json>,
    path: std::rc::Rc<[Step]>,
    /// Points into `doc` (or at the static `NULL` for an absent member). Valid for as long as
    /// this `NodeRef`: it holds `doc`, whose heap allocation does not move, and the document
    /// is never mutated once shared (an `Rc` hands out only shared references, and this module
    /// never asks it for a unique one), so nothing inside it moves or is freed either.
    at: std::ptr::NonNull<Json>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A member name, shared: every child below copies its parent's way down.
    Key(std::rc::Rc<str>),
    Index(usize),
}

static NULL: Json = Json::Null;

impl Step {
    /// One step down from `json` (`null` where there is nothing).
    fn down<'a>(json: &'a Json, step: &Step) -> &'a Json {
        match step {
            Step::Key(k) => json.get(&**k).unwrap_or(&NULL),
            Step::Index(i) => json.get(*i).unwrap_or(&NULL),
        }
    }
}

impl NodeRef {
    /// A document of its own (one copy of `json`).
    pub fn new(json: Json) -> NodeRef {
        let doc = std::rc::Rc::new(json);
        let at = std::ptr::NonNull::from(&*doc);
        NodeRef { doc, path: std::rc::Rc::from(Vec::new()), at }
    }

    /// The place `path` of `doc`.
    fn at_path(doc: &std::rc::Rc<Json>, path: std::rc::Rc<[Step]>) -> NodeRef {
        let at = std::ptr::NonNull::from(path.iter().fold(&**doc, Step::down));
        NodeRef { doc: doc.clone(), path, at }
    }

    /// The JSON at this place.
    pub fn json(&self) -> &Json {
        // SAFETY: `at` points into `self.doc` (or at a static), which outlives the borrow of
        // `self` and is never mutated; see the field's comment.
        unsafe { self.at.as_ref() }
    }

    /// The JSON of every place from the document down to this one (outermost first).
    pub fn ancestry(&self) -> Vec<&Json> {
        let mut out = vec![&*self.doc];
        for s in self.path.iter() {
            out.push(Step::down(out[out.len() - 1], s));
        }
        out
    }

    /// The nearest resource this place is in (itself, if it is one): where `#id` references
    /// find their `contained` resources.
    pub fn enclosing_resource(&self) -> Option<NodeRef> {
        (0..=self.path.len()).rev().map(|k| NodeRef::at_path(&self.doc, std::rc::Rc::from(&self.path[..k]))).find(|n| n.json().get("resourceType").is_some())
    }

    /// Is `other` a place in the same document (not a copy)?
    pub fn same_doc(&self, other: &NodeRef) -> bool {
        std::rc::Rc::ptr_eq(&self.doc, &other.doc)
    }

    /// The same place of the same document (no comparison of contents).
    pub fn same_place(&self, other: &NodeRef) -> bool {
        self.same_doc(other) && self.path == other.path
    }

    /// Is this the document's root?
    pub fn is_root(&self) -> bool {
        self.path.is_empty()
    }

    /// The whole document this place is in.
    pub fn root(&self) -> NodeRef {
        NodeRef::at_path(&self.doc, std::rc::Rc::from(Vec::new()))
    }

    /// The place of member `key` (which may be absent: its JSON is then `null`).
    pub fn key(&self, key: &str) -> NodeRef {
        self.child(Step::Key(key.into()))
    }

    /// The place of element `i` of this array.
    pub fn index(&self, i: usize) -> NodeRef {
        self.child(Step::Index(i))
    }

    fn child(&self, step: Step) -> NodeRef {
        let at = std::ptr::NonNull::from(Step::down(self.json(), &step));
        let mut path = self.path.to_vec();
        path.push(step);
        NodeRef { doc: self.doc.clone(), path: path.into(), at }
    }

    /// The items of member `key` (each element of an array), typed `ty` when known, sharing
    /// this document.
    pub(crate) fn member(&self, key: &str, ty: Option<TypeName>) -> Vec<Item> {
        let Some(v) = self.json().get(key) else { return Vec::new() };
        match v {
            Json::Array(a) => {
                let at = self.child(Step::Key(key.into()));
                a.iter().enumerate().filter_map(|(i, j)| item_at(j, ty.clone(), || at.child(Step::Index(i)))).collect()
            }
            j => item_at(j, ty, || self.child(Step::Key(key.into()))).into_iter().collect(),
        }
    }
}

impl PartialEq for NodeRef {
    /// Equal contents. The same place is equal at once; otherwise scalar members are compared
    /// before nested ones, so two response items with different linkIds differ without a walk
    /// of their answers (`repeat(item)` compares every new item with all before it).
    fn eq(&self, other: &NodeRef) -> bool {
        self.same_place(other) || json_eq(self.json(), other.json())
    }
}

fn json_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let nested = |v: &Json| matches!(v, Json::Object(_) | Json::Array(_));
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| nested(v) || v == w))
                && x.iter().filter(|(_, v)| nested(v)).all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_eq(v, w)),
        _ => a == b,
    }
}

/// An item for `json`, found at the place `at` makes (called only for objects).
fn item_at(json: &Json, ty: Option<TypeName>, at: impl FnOnce() -> NodeRef) -> Option<Item> {
    match json {
        Json::Object(_) => Some(Item { value: Value::Node(at()), ty }),
        other => Item::from_json(other, ty),
    }
}

/// A FHIR type name: most come from the model's table (`&'static`), so typing an element costs
/// no allocation on the hot path of a form's expressions.
pub type TypeName = std::borrow::Cow<'static, str>;

/// A value with its FHIR type name when known (`Coding`, `string`, `dateTime`).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Value,
    pub ty: Option<TypeName>,
}

const PRIMITIVES: [&str; 20] = [
    "boolean", "integer", "decimal", "string", "code", "id", "uri", "url", "canonical", "markdown", "oid", "uuid",
    "base64Binary", "date", "dateTime", "instant", "time", "positiveInt", "unsignedInt", "integer64",
];

pub(crate) fn is_primitive(name: &str) -> bool {
    PRIMITIVES.contains(&name)
}

/// `Coding` for a complex type suffix, `dateTime` for a primitive one (`valueDateTime`).
pub(crate) fn type_from_suffix(suffix: &str) -> TypeName {
    if let Some(p) = PRIMITIVES.iter().find(|p| p.len() == suffix.len() && suffix.get(1..) == Some(&p[1..]) && p.as_bytes()[0] == suffix.as_bytes()[0].to_ascii_lowercase()) {
        return TypeName::Borrowed(p);
    }
    if let Some(t) = crate::model::DATATYPES.iter().find(|t| **t == suffix) {
        return TypeName::Borrowed(t);
    }
    TypeName::Owned(suffix.to_owned())
}

impl Item {
    pub fn new(value: Value) -> Item {
        Item { value, ty: None }
    }

    /// A JSON value as an item, typed by `ty` when the caller knows the FHIR type.
    pub fn from_json(json: &Json, ty: Option<TypeName>) -> Option<Item> {
        let value = match json {
            Json::Null => return None,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match (n.as_i64(), ty.as_deref()) {
                (Some(i), t) if t != Some("decimal") => Value::Int(i),
                _ => Value::Dec(n.as_f64().unwrap_or(0.0)),
            },
            Json::String(s) => match ty.as_deref() {
                Some("date") => Value::Date(s.clone()),
                Some("dateTime" | "instant") => Value::DateTime(s.clone()),
                Some("time") => Value::Time(s.clone()),
                _ => Value::Str(s.clone()),
            },
            Json::Object(_) => Value::Node(NodeRef::new(json.clone())),
            Json::Array(_) => return None,
        };
        Some(Item { value, ty })
    }

    /// The value as FHIR JSON (what a template receives).
    pub fn to_json(&self) -> Json {
        match &self.value {
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Dec(d) => number(*d),
            Value::Str(s) | Value::Date(s) | Value::DateTime(s) | Value::Time(s) => Json::String(s.clone()),
            Value::Quantity { value, unit } => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), number(*value));
                m.insert("unit".into(), Json::String(unit.clone()));
                if !is_calendar_unit(unit) {
                    m.insert("system".into(), Json::String("http://unitsofmeasure.org".into()));
                    m.insert("code".into(), Json::String(unit.clone()));
                }
                Json::Object(m)
            }
            Value::Node(j) => j.json().clone(),
        }
    }

    /// The type name for `is`/`ofType`: the FHIR type when known, else the system type.
    pub fn type_name(&self) -> Option<String> {
        if let Some(t) = &self.ty {
            return Some(t.to_string());
        }
        Some(
            match &self.value {
                Value::Bool(_) => "boolean",
                Value::Int(_) => "integer",
                Value::Dec(_) => "decimal",
                Value::Str(_) => "string",
                Value::Date(_) => "date",
                Value::DateTime(_) => "dateTime",
                Value::Time(_) => "time",
                Value::Quantity { .. } => "Quantity",
                Value::Node(j) => return j.json().get("resourceType").and_then(Json::as_str).map(str::to_owned),
            }
            .to_owned(),
        )
    }

    /// `is(name)`. A FHIR-typed value (the model or a choice suffix says `code`, `Coding`)
    /// matches its FHIR type and the types it specialises (`Age` is a `Quantity`), not the
    /// System types: FHIR's `boolean` is not `System.Boolean`. A value without a FHIR type
    /// (a literal, or JSON the model does not describe) matches its System type, and the FHIR
    /// primitive of the same name, since its FHIR type is unknown.
    pub fn is_type(&self, name: &str) -> bool {
        let (namespace, bare) = match name.split_once('.') {
            Some((ns @ ("FHIR" | "System"), rest)) => (Some(ns), rest),
            _ => (None, name),
        };
        let system = || match bare {
            "String" => matches!(self.value, Value::Str(_)),
            "Integer" => matches!(self.value, Value::Int(_)),
            "Decimal" => matches!(self.value, Value::Dec(_)),
            "Boolean" => matches!(self.value, Value::Bool(_)),
            "Date" => matches!(self.value, Value::Date(_)),
            "DateTime" => matches!(self.value, Value::DateTime(_)),
            "Time" => matches!(self.value, Value::Time(_)),
            "Quantity" => matches!(self.value, Value::Quantity { .. }),
            _ => false,
        };
        if let Some(t) = &self.ty {
            if namespace == Some("System") {
                return false;
            }
            return t == bare
                || (bare == "Quantity" && matches!(t.as_ref(), "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity" | "MoneyQuantity"))
                || (bare == "BackboneElement" && t.contains('.'))
                || (bare == "Element" && !t.starts_with(|c: char| c.is_ascii_lowercase()) && !crate::model::is_resource(t));
        }
        if let Value::Node(j) = &self.value {
            let rt = j.json().get("resourceType").and_then(Json::as_str);
            return namespace != Some("System")
                && match rt {
                    Some(rt) => rt == bare || matches!(bare, "Resource" | "DomainResource") && (bare == "Resource" || !matches!(rt, "Bundle" | "Parameters" | "Binary")),
                    None => false,
                };
        }
        match namespace {
            Some("System") => system(),
            Some(_) => PRIMITIVES.contains(&bare) && self.type_name().is_some_and(|t| t == bare),
            None => system() || (PRIMITIVES.contains(&bare) && self.type_name().is_some_and(|t| t == bare)),
        }
    }

    /// The text of a string-like value.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) | Value::Date(s) | Value::DateTime(s) | Value::Time(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Dec(d) => Some(d),
            _ => None,
        }
    }
}

pub(crate) fn is_calendar_unit(u: &str) -> bool {
    matches!(
        u.trim_end_matches('s'),
        "year" | "month" | "week" | "day" | "hour" | "minute" | "second" | "millisecond"
    )
}

/// A JSON number; decimals without a fraction are written as integers (`163`, not `163.0`),
/// and binary floating-point noise (`1.63 * 100`) is rounded away.
pub(crate) fn number(d: f64) -> Json {
    let r = round_noise(d);
    if r.fract() == 0.0 && r.abs() < 1e15 {
        Json::from(r as i64)
    } else {
        serde_json::Number::from_f64(r).map(Json::Number).unwrap_or(Json::Null)
    }
}

pub(crate) fn round_noise(d: f64) -> f64 {
    if !d.is_finite() {
        return d;
    }
    let scaled = (d * 1e10).round() / 1e10;
    if (scaled - d).abs() < 1e-9 { scaled } else { d }
}

/// The date, date-time or time an item holds (text compared with a date is read as one).
pub(crate) fn moment(x: &Item) -> Option<Moment> {
    match &x.value {
        Value::Date(s) | Value::DateTime(s) | Value::Str(s) => Moment::parse_date(s),
        Value::Time(s) => Moment::parse_time(s),
        _ => None,
    }
}

/// Value and unit of a System Quantity, or of a FHIR Quantity element (`valueQuantity`).
pub(crate) fn quantity(x: &Item) -> Option<(f64, String)> {
    match &x.value {
        Value::Quantity { value, unit } => Some((*value, unit.clone())),
        Value::Node(n) if matches!(x.ty.as_deref(), Some("Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity" | "MoneyQuantity")) => {
            let j = n.json();
            let v = j.get("value")?.as_f64()?;
            let u = j.get("code").or_else(|| j.get("unit")).and_then(Json::as_str).unwrap_or("1");
            Some((v, u.to_owned()))
        }
        _ => None,
    }
}

/// `q` expressed in `unit`: calendar durations (`week`, `days`) convert to their UCUM
/// definite twins (`wk`, `d`) except years and months, which are not definite durations
/// (`1 year = 1 'a'` is unknown); other units convert through the UCUM table.
pub(crate) fn quantity_in(q: &(f64, String), unit: &str) -> Option<f64> {
    let norm = |u: &str| -> String {
        match crate::temporal::calendar_unit(u) {
            Some("year") if u != "a" => "year".into(),
            Some("month") if u != "mo" => "month".into(),
            Some("week") => "wk".into(),
            Some("day") => "d".into(),
            Some("hour") => "h".into(),
            Some("minute") => "min".into(),
            Some("second") => "s".into(),
            Some("millisecond") => "ms".into(),
            _ => u.to_owned(),
        }
    };
    let (from, to) = (norm(&q.1), norm(unit));
    if from == to {
        return Some(q.0);
    }
    match (from.as_str(), to.as_str()) {
        ("year", "month") => Some(q.0 * 12.0),
        ("month", "year") => Some(q.0 / 12.0),
        ("year" | "month", _) | (_, "year" | "month") => None,
        _ => crate::units::convert(q.0, &from, &to),
    }
}

pub(crate) fn quantity_cmp(a: &(f64, String), b: &(f64, String)) -> Option<Ordering> {
    round_noise(quantity_in(a, &b.1)?).partial_cmp(&round_noise(b.0))
}

/// `=`: `None` where FHIRPath says the result is empty (dates of different precision,
/// quantities that cannot be compared).
pub(crate) fn equal(a: &Item, b: &Item) -> Option<bool> {
    use Value::*;
    Some(match (&a.value, &b.value) {
        (Int(_) | Dec(_), Int(_) | Dec(_)) => round_noise(a.as_number()?) == round_noise(b.as_number()?),
        (Date(_) | DateTime(_) | Time(_), Date(_) | DateTime(_) | Time(_)) | (Str(_), Date(_) | DateTime(_)) | (Date(_) | DateTime(_), Str(_)) => {
            match (moment(a), moment(b)) {
                // A date is never a time of day.
                (Some(x), Some(y)) if x.time_only != y.time_only => false,
                (Some(x), Some(y)) => x.compare(&y)? == Ordering::Equal,
                _ => a.as_str() == b.as_str(),
            }
        }
        (Str(x), Time(y)) | (Time(y), Str(x)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        _ if quantity(a).is_some() && quantity(b).is_some() => quantity_cmp(&quantity(a)?, &quantity(b)?)? == Ordering::Equal,
        (Node(x), Node(y)) => x == y,
        _ => false,
    })
}

/// `~`: strings ignore case and surrounding/internal whitespace runs; dates of different
/// precision are simply not equivalent.
pub(crate) fn equivalent(a: &Item, b: &Item) -> bool {
    use Value::*;
    match (&a.value, &b.value) {
        (Str(x), Str(y)) => norm(x) == norm(y),
        (Int(_) | Dec(_), Int(_) | Dec(_)) => {
            let (x, y) = (a.as_number().unwrap_or(f64::NAN), b.as_number().unwrap_or(f64::NAN));
            let places = decimals(x).min(decimals(y)) as i32;
            let f = 10f64.powi(places);
            (x * f).round() == (y * f).round()
        }
        (Date(_) | DateTime(_) | Time(_), Date(_) | DateTime(_) | Time(_)) => match (moment(a), moment(b)) {
            (Some(x), Some(y)) => x.prec.min(6) == y.prec.min(6) && x.compare(&y) == Some(Ordering::Equal),
            _ => false,
        },
        _ => match (quantity(a), quantity(b)) {
            // At the precision of the less precise value (`4 'g' ~ 4040 'mg'`).
            (Some(x), Some(y)) => {
                let Some(y_in_x) = quantity_in(&y, &x.1) else { return false };
                let f = 10f64.powi(decimals(x.0).min(decimals(y.0)) as i32);
                (x.0 * f).round() == (y_in_x * f).round()
            }
            _ => match (&a.value, &b.value) {
                (Node(x), Node(y)) => x == y,
                _ => equal(a, b).unwrap_or(false),
            },
        },
    }
}

fn norm(s: &str) -> String {
    intake_text::lower(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

pub(crate) fn decimals(x: f64) -> usize {
    let s = format!("{}", round_noise(x));
    s.split_once('.').map(|(_, f)| f.len()).unwrap_or(0)
}

/// `<` and friends: `None` for incomparable values (the result is empty).
pub(crate) fn compare(a: &Item, b: &Item) -> Option<Ordering> {
    use Value::*;
    match (&a.value, &b.value) {
        (Int(_) | Dec(_), Int(_) | Dec(_)) => a.as_number()?.partial_cmp(&b.as_number()?),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Date(_) | DateTime(_) | Str(_), Date(_) | DateTime(_)) | (Date(_) | DateTime(_), Str(_)) | (Time(_), Time(_)) => {
            moment(a)?.compare(&moment(b)?)
        }
        _ => quantity_cmp(&quantity(a)?, &quantity(b)?),
    }
}
