//! Reading and writing FHIR JSON by hand, with the JSON path of every problem.
//!
//! Why by hand and not `#[derive(Deserialize)]`: real forms are sloppy (about
//! one in five corpus Questionnaires is not strictly valid R4: numbers as
//! strings, a single object where an array belongs, empty arrays). We want to
//! read what can be read, record each coercion as a [`Warning`], and fail only
//! where meaning cannot be recovered, naming the exact JSON path
//! (`Questionnaire.item[3].enableWhen[0].operator`). Hand-written readers also cost far
//! fewer wasm bytes than derived ones. They read a [`JsonRef`]: a [`Node`] tree (compact,
//! its strings borrowed from the text: see `node`), or a `serde_json::Value` someone already
//! holds ([`FromJson::from_json`]), in place either way.

use std::borrow::Cow;
use std::fmt;

/// A JSON object.
pub type JsonMap = serde_json::Map<String, Json>;
pub use serde_json::Value as Json;
pub use crate::node::{ArrayRef, JsonRef, Members, Node, Num, ObjRef};

/// One step in a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Field(Cow<'static, str>),
    Index(usize),
}

/// A JSON path rendered the way FHIR people write them: `Questionnaire.item[2].linkId`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(pub Vec<PathSeg>);

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                PathSeg::Field(name) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(name)?;
                }
                PathSeg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        if first {
            f.write_str("(root)")?;
        }
        Ok(())
    }
}

/// What was wrong at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelErrorKind {
    /// The text is not JSON at all.
    Syntax { line: usize, column: usize, message: String },
    /// A value of the wrong JSON type that cannot be coerced.
    WrongType { expected: &'static str, found: &'static str },
    /// `resourceType` is missing or not the one expected here.
    ResourceType { expected: &'static str, found: Option<String> },
    /// A primitive with the right JSON type but an invalid FHIR lexical form.
    Invalid { expected: &'static str, value: String },
    /// More than one `value[x]` (or other choice) variant given.
    ChoiceConflict { first: String, second: String },
    /// An element the engine cannot work without.
    Missing,
}

/// A problem that stops a resource from loading, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelError {
    pub path: JsonPath,
    pub kind: ModelErrorKind,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ModelErrorKind::Syntax { line, column, message } => {
                write!(f, "not valid JSON at line {line}, column {column}: {message}")
            }
            ModelErrorKind::WrongType { expected, found } => {
                write!(f, "at {}: expected {expected}, found {found}", self.path)
            }
            ModelErrorKind::ResourceType { expected, found: Some(found) } => write!(
                f,
                "at {}: expected a {expected} resource, found resourceType \"{found}\"",
                self.path
            ),
            ModelErrorKind::ResourceType { expected, found: None } => {
                write!(f, "at {}: expected a {expected} resource, but resourceType is missing", self.path)
            }
            ModelErrorKind::Invalid { expected, value } => {
                write!(f, "at {}: \"{value}\" is not a valid {expected}", self.path)
            }
            ModelErrorKind::ChoiceConflict { first, second } => write!(
                f,
                "at {}: only one type may be given, found both {first} and {second}",
                self.path
            ),
            ModelErrorKind::Missing => write!(f, "at {}: required element is missing", self.path),
        }
    }
}

impl std::error::Error for ModelError {}

/// Something read leniently: the resource loads, but a strict reader would refuse it.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub path: JsonPath,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

/// Reading context: the current path and the warnings gathered so far.
#[derive(Debug, Default)]
pub struct Cx {
    path: Vec<PathSeg>,
    pub warnings: Vec<Warning>,
}

impl Cx {
    pub fn new(root: &'static str) -> Self {
        Cx { path: vec![PathSeg::Field(Cow::Borrowed(root))], warnings: Vec::new() }
    }

    pub fn path(&self) -> JsonPath {
        JsonPath(self.path.clone())
    }

    pub fn error(&self, kind: ModelErrorKind) -> ModelError {
        ModelError { path: self.path(), kind }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        let path = self.path();
        self.warnings.push(Warning { path, message: message.into() });
    }

    /// One step deeper in the path, until `leave`. For the generic readers, where `field` and
    /// `index` (generic over their closure) would be instantiated for every element type.
    pub fn enter(&mut self, seg: PathSeg) {
        self.path.push(seg);
    }

    pub fn leave(&mut self) {
        self.path.pop();
    }

    /// Run `f` one field deeper in the path.
    pub fn field<T>(&mut self, name: impl Into<Cow<'static, str>>, f: impl FnOnce(&mut Cx) -> T) -> T {
        self.path.push(PathSeg::Field(name.into()));
        let out = f(self);
        self.path.pop();
        out
    }

    /// Run `f` one array index deeper in the path.
    pub fn index<T>(&mut self, i: usize, f: impl FnOnce(&mut Cx) -> T) -> T {
        self.path.push(PathSeg::Index(i));
        let out = f(self);
        self.path.pop();
        out
    }

    pub fn wrong_type(&self, expected: &'static str, found: &Json) -> ModelError {
        self.wrong_node(expected, JsonRef::Value(found))
    }

    pub fn wrong_node(&self, expected: &'static str, found: JsonRef) -> ModelError {
        self.error(ModelErrorKind::WrongType { expected, found: found.kind() })
    }
}

/// The JSON kind of a value, for messages (the same words for either tree: [`JsonRef::kind`]).
pub fn json_kind(v: &Json) -> &'static str {
    JsonRef::Value(v).kind()
}

/// Parse JSON text, turning a syntax error into a [`ModelError`] with line and column.
pub fn parse_text(text: &str) -> Result<Json, ModelError> {
    serde_json::from_str(without_bom(text)).map_err(syntax_error)
}

/// Parse JSON text into the tree the model is read from (see `node`), its strings borrowed
/// from `text`; a syntax error as [`parse_text`] gives it.
pub fn parse_node(text: &str) -> Result<Node<'_>, ModelError> {
    Node::parse(without_bom(text)).map_err(syntax_error)
}

/// A byte-order mark (Windows editors add one) is not content.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

fn syntax_error(e: serde_json::Error) -> ModelError {
    ModelError { path: JsonPath::default(), kind: ModelErrorKind::Syntax { line: e.line(), column: e.column(), message: e.to_string() } }
}

/// A type read from FHIR JSON.
pub trait FromJson: Sized {
    fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError>;

    /// Read from a `serde_json` tree someone already holds (a chart kept for its searches, a
    /// host's object).
    fn from_json(v: &Json, cx: &mut Cx) -> Result<Self, ModelError> {
        Self::from_node(JsonRef::Value(v), cx)
    }
}

/// A type written as FHIR JSON.
pub trait ToJson {
    fn to_json(&self) -> Json;
}

/// A type written straight to JSON text, in declared field order, without building a
/// `serde_json::Value` tree first (much less allocation: the write-back Bundle is written
/// this way). `to_json` and `write_json` produce the same JSON; a test checks it on the corpus.
pub trait WriteJson {
    fn write_json(&self, out: &mut String);

    fn to_json_string(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_json(&mut out);
        out
    }
}

/// Rare, large elements are boxed inside common small ones (a `Reference`'s `identifier`), so
/// the common shape stays small: a chart holds 100,000 observations, each with several
/// references, and every byte of an inline element is copied with each one.
impl<T: FromJson> FromJson for Box<T> {
    fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
        T::from_node(v, cx).map(Box::new)
    }
}

impl<T: WriteJson> WriteJson for Box<T> {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out)
    }
}

/// Write a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push_str(esc);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Write `,"key":` (or `"key":` for the first member).
pub fn write_key(out: &mut String, first: &mut bool, key: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    write_str(out, key);
    out.push(':');
}

pub fn write_opt<T: WriteJson>(out: &mut String, first: &mut bool, key: &str, v: &Option<T>) {
    if let Some(v) = v {
        write_key(out, first, key);
        v.write_json(out);
    }
}

pub fn write_vec<T: WriteJson>(out: &mut String, first: &mut bool, key: &str, v: &[T]) {
    if v.is_empty() {
        return;
    }
    write_key(out, first, key);
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        x.write_json(out);
    }
    out.push(']');
}

pub fn write_choice<T: Choice>(out: &mut String, first: &mut bool, prefix: &str, v: &Option<T>) {
    if let Some(v) = v {
        if !*first {
            out.push(',');
        }
        *first = false;
        // Prefixes and type names are plain ASCII identifiers: no escaping needed.
        out.push('"');
        out.push_str(prefix);
        out.push_str(&v.choice_suffix());
        out.push_str("\":");
        v.write_choice_value(out);
    }
}

pub fn write_extra(out: &mut String, first: &mut bool, extra: &JsonMap) {
    for (k, v) in extra {
        write_key(out, first, k);
        v.write_json(out);
    }
}

impl WriteJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl WriteJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

impl WriteJson for i64 {
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{self}");
    }
}

impl WriteJson for f64 {
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{}", decimal_json(*self));
    }
}

impl WriteJson for Json {
    fn write_json(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => b.write_json(out),
            Json::Number(n) => {
                use std::fmt::Write;
                let _ = write!(out, "{n}");
            }
            Json::String(s) => write_str(out, s),
            Json::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write_json(out);
                }
                out.push(']');
            }
            Json::Object(m) => {
                out.push('{');
                let mut first = true;
                write_extra(out, &mut first, m);
                out.push('}');
            }
        }
    }
}

/// Read a whole resource from JSON text, returning it with the lenient-read warnings.
pub fn from_text<T: FromJson + Resource>(text: &str) -> Result<(T, Vec<Warning>), ModelError> {
    from_node(JsonRef::Node(&parse_node(text)?))
}

/// Read a whole resource from a JSON value, returning it with the lenient-read warnings.
pub fn from_value<T: FromJson + Resource>(json: &Json) -> Result<(T, Vec<Warning>), ModelError> {
    from_node(JsonRef::Value(json))
}

/// Read a whole resource from a parsed tree, returning it with the lenient-read warnings.
pub fn from_node<T: FromJson + Resource>(node: JsonRef<'_>) -> Result<(T, Vec<Warning>), ModelError> {
    let mut cx = Cx::new(T::RESOURCE_TYPE);
    let value = T::from_node(node, &mut cx)?;
    Ok((value, cx.warnings))
}

/// Implemented by every resource type.
pub trait Resource {
    const RESOURCE_TYPE: &'static str;
}

/// An object being read: remembers which keys were consumed so the rest survive in `extra`.
pub struct Obj<'a> {
    map: ObjRef<'a>,
    /// Keys consumed, inline up to [`INLINE_KEYS`] (no allocation for the usual element: a
    /// chart of 100,000 observations reads ~600,000 objects), then in `more`.
    taken: [&'a str; INLINE_KEYS],
    count: usize,
    more: Vec<&'a str>,
}

const INLINE_KEYS: usize = 16;

impl<'a> Obj<'a> {
    pub fn new(v: JsonRef<'a>, cx: &Cx) -> Result<Self, ModelError> {
        match v.as_object() {
            Some(map) => Ok(Obj { map, taken: [""; INLINE_KEYS], count: 0, more: Vec::new() }),
            None => Err(cx.wrong_node("an object", v)),
        }
    }

    /// Check `resourceType` and consume it.
    pub fn resource_type(&mut self, expected: &'static str, cx: &Cx) -> Result<(), ModelError> {
        let found = self.map.get_key_value("resourceType");
        match found.map(|(k, v)| (k, v.as_str())) {
            Some((k, Some(t))) if t == expected => {
                self.mark(k);
                Ok(())
            }
            other => Err(cx.error(ModelErrorKind::ResourceType { expected, found: other.and_then(|(_, t)| t).map(str::to_owned) })),
        }
    }

    fn take(&mut self, key: &'static str) -> Option<JsonRef<'a>> {
        let (k, v) = self.map.get_key_value(key)?;
        self.mark(k);
        Some(v)
    }

    /// Record a key as consumed, once: `rest` relies on the count.
    fn mark(&mut self, k: &'a str) {
        // The keys are the map's own, so the same key is the same pointer.
        if self.is_taken(k) {
            return;
        }
        if self.count < INLINE_KEYS {
            self.taken[self.count] = k;
        } else {
            self.more.push(k);
        }
        self.count += 1;
    }

    fn is_taken(&self, k: &str) -> bool {
        self.taken[..self.count.min(INLINE_KEYS)].iter().chain(&self.more).any(|t| std::ptr::eq(*t, k))
    }

    /// An optional single value. `null` reads as absent (with a warning).
    ///
    /// The lenient part (null, an array of one) is `single`, not generic: this function is
    /// instantiated for every element type the model reads, and only the read itself is.
    pub fn opt<T: FromJson>(&mut self, key: &'static str, cx: &mut Cx) -> Result<Option<T>, ModelError> {
        let Some(v) = self.take(key) else { return Ok(None) };
        cx.enter(PathSeg::Field(Cow::Borrowed(key)));
        let out = match single(v, cx) {
            Single::Absent => Ok(None),
            Single::Value(v) => T::from_node(v, cx).map(Some),
            Single::First(v) => {
                cx.enter(PathSeg::Index(0));
                let out = T::from_node(v, cx).map(Some);
                cx.leave();
                out
            }
        };
        cx.leave();
        out
    }

    /// A repeating element. A bare value reads as a list of one; `[]` reads as empty.
    pub fn vec<T: FromJson>(&mut self, key: &'static str, cx: &mut Cx) -> Result<Vec<T>, ModelError> {
        let Some(v) = self.take(key) else { return Ok(Vec::new()) };
        cx.enter(PathSeg::Field(Cow::Borrowed(key)));
        let out = match list(v, cx) {
            List::Items(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut failed = None;
                for i in 0..items.len() {
                    let Some(item) = items.get(i) else { break };
                    if item_is_skipped(item, i, cx) {
                        continue;
                    }
                    cx.enter(PathSeg::Index(i));
                    let read = T::from_node(item, cx);
                    cx.leave();
                    match read {
                        Ok(x) => out.push(x),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                failed.map_or(Ok(out), Err)
            }
            List::Absent => Ok(Vec::new()),
            List::One(single) => T::from_node(single, cx).map(|x| vec![x]),
        };
        cx.leave();
        out
    }

    /// A choice element `prefix[x]`: finds `prefixBoolean`, `prefixCoding`, ...
    pub fn choice<T: Choice>(&mut self, prefix: &'static str, cx: &mut Cx) -> Result<Option<T>, ModelError> {
        let Some((key, v)) = self.find_choice(prefix, cx)? else { return Ok(None) };
        cx.enter(PathSeg::Field(Cow::Owned(key.to_owned())));
        let out = T::from_choice(&key[prefix.len()..], v, cx).map(Some);
        cx.leave();
        out
    }

    /// The one `prefix[x]` key present and its value, consumed (not generic: see `opt`).
    fn find_choice(&mut self, prefix: &'static str, cx: &mut Cx) -> Result<Option<(&'a str, JsonRef<'a>)>, ModelError> {
        let mut found: Option<(&'a str, JsonRef<'a>)> = None;
        for (k, v) in self.map.members() {
            let Some(suffix) = k.strip_prefix(prefix) else { continue };
            if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
                continue;
            }
            if let Some((first, _)) = found {
                return Err(cx.field(prefix, |cx| {
                    cx.error(ModelErrorKind::ChoiceConflict { first: first.to_owned(), second: k.to_string() })
                }));
            }
            found = Some((k, v));
        }
        if let Some((key, _)) = found {
            self.mark(key);
        }
        Ok(found)
    }

    /// Everything not consumed, kept so that unknown content survives a round trip.
    pub fn rest(self) -> JsonMap {
        let mut out = JsonMap::new();
        // Keys are unique and each is taken once: all taken means nothing is left (the usual case).
        if self.count == self.map.len() {
            return out;
        }
        for (k, v) in self.map.members() {
            if !self.is_taken(k) {
                out.insert(k.to_owned(), v.to_json());
            }
        }
        out
    }
}

/// What an optional element's JSON reads as (`Obj::opt`), the warnings said.
enum Single<'v> {
    Absent,
    Value(JsonRef<'v>),
    /// A one-element array where a single value belongs: its element, at `[0]`.
    First(JsonRef<'v>),
}

fn single<'v>(v: JsonRef<'v>, cx: &mut Cx) -> Single<'v> {
    if v.is_null() {
        cx.warn("null is not allowed in FHIR JSON; read as absent");
        return Single::Absent;
    }
    // Common in hand-written forms.
    match v.as_array().filter(|items| items.len() == 1).and_then(|items| items.get(0)) {
        Some(first) => {
            cx.warn("an array of one where a single value belongs; read its element");
            Single::First(first)
        }
        None => Single::Value(v),
    }
}

/// What a repeating element's JSON reads as (`Obj::vec`), the warnings said.
enum List<'v> {
    Items(ArrayRef<'v>),
    Absent,
    /// A single value where an array belongs: a list of one.
    One(JsonRef<'v>),
}

fn list<'v>(v: JsonRef<'v>, cx: &mut Cx) -> List<'v> {
    if let Some(items) = v.as_array() {
        if items.is_empty() {
            cx.warn("empty arrays are not allowed in FHIR JSON; read as absent");
        }
        List::Items(items)
    } else if v.is_null() {
        cx.warn("null is not allowed in FHIR JSON; read as absent");
        List::Absent
    } else {
        cx.warn("a single value where an array belongs; read as a list of one");
        List::One(v)
    }
}

/// Whether entry `i` of an array is `null`, skipped with a warning at its index.
fn item_is_skipped(item: JsonRef, i: usize, cx: &mut Cx) -> bool {
    if !item.is_null() {
        return false;
    }
    cx.enter(PathSeg::Index(i));
    cx.warn("null array entry skipped");
    cx.leave();
    true
}

/// A FHIR choice type (`value[x]`, `answer[x]`, ...), read from its suffix.
pub trait Choice: Sized {
    fn from_choice(suffix: &str, v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError>;
    /// The suffix and JSON to write, e.g. `("Coding", {...})`.
    fn to_choice(&self) -> (Cow<'static, str>, Json);
    /// The suffix alone (`Coding`).
    fn choice_suffix(&self) -> Cow<'static, str>;
    /// Write the value as JSON text.
    fn write_choice_value(&self, out: &mut String);
}

/// The JSON tree of an element, from its text. Elements are written once, by the streaming
/// writer; the tree form (for tests, pretty printing, inspection) is parsed from that text, so
/// there is one serialiser to keep correct and to ship.
pub fn tree_of<T: WriteJson + ?Sized>(v: &T) -> Json {
    serde_json::from_str(&v.to_json_string()).unwrap_or(Json::Null)
}

// ---- primitives -------------------------------------------------------------

impl FromJson for String {
    fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
        if let Some(s) = v.as_str() {
            if s.is_empty() {
                cx.warn("empty strings are not allowed in FHIR JSON");
            }
            Ok(s.to_owned())
        } else if let Some(n) = v.as_num() {
            cx.warn(format!("a number where a string belongs; read as \"{n}\""));
            Ok(n.to_string())
        } else if let Some(b) = v.as_bool() {
            cx.warn(format!("a boolean where a string belongs; read as \"{b}\""));
            Ok(b.to_string())
        } else {
            Err(cx.wrong_node("a string", v))
        }
    }
}

impl ToJson for String {
    fn to_json(&self) -> Json {
        Json::String(self.clone())
    }
}

impl FromJson for bool {
    fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
        if let Some(b) = v.as_bool() {
            return Ok(b);
        }
        match v.as_str() {
            Some(s) if s == "true" || s == "false" => {
                cx.warn(format!("a string where a boolean belongs; read \"{s}\" as {s}"));
                Ok(s == "true")
            }
            _ => Err(cx.wrong_node("a boolean", v)),
        }
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Json {
        Json::Bool(*self)
    }
}

impl FromJson for i64 {
    fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
        if let Some(n) = v.as_num() {
            let invalid = |cx: &Cx| cx.error(ModelErrorKind::Invalid { expected: "integer", value: n.to_string() });
            return match n {
                Num::Int(i) => Ok(i),
                Num::UInt(u) => i64::try_from(u).map_err(|_| invalid(cx)),
                Num::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    cx.warn(format!("integer written as {n}; read as {}", f as i64));
                    Ok(f as i64)
                }
                Num::Float(_) => Err(invalid(cx)),
            };
        }
        match v.as_str() {
            Some(s) => match s.trim().parse::<i64>() {
                Ok(i) => {
                    cx.warn(format!("a string where an integer belongs; read \"{s}\" as {i}"));
                    Ok(i)
                }
                Err(_) => Err(cx.error(ModelErrorKind::Invalid { expected: "integer", value: s.to_owned() })),
            },
            None => Err(cx.wrong_node("an integer", v)),
        }
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Json {
        Json::from(*self)
    }
}

impl FromJson for f64 {
    fn from_node(v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
        if let Some(n) = v.as_num() {
            return Ok(n.as_f64());
        }
        match v.as_str() {
            Some(s) => match intake_text::parse_f64(s.trim()) {
                Some(f) if f.is_finite() => {
                    cx.warn(format!("a string where a decimal belongs; read \"{s}\" as {f}"));
                    Ok(f)
                }
                _ => Err(cx.error(ModelErrorKind::Invalid { expected: "decimal", value: s.to_owned() })),
            },
            None => Err(cx.wrong_node("a decimal", v)),
        }
    }
}

impl ToJson for f64 {
    fn to_json(&self) -> Json {
        decimal_json(*self)
    }
}

/// A decimal as JSON: whole numbers without a trailing `.0` so `120` stays `120`.
pub fn decimal_json(f: f64) -> Json {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Json::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)
    }
}

impl FromJson for Json {
    fn from_node(v: JsonRef<'_>, _cx: &mut Cx) -> Result<Self, ModelError> {
        Ok(v.to_json())
    }
}

impl ToJson for Json {
    fn to_json(&self) -> Json {
        self.clone()
    }
}

/// Declare a FHIR element struct with its JSON reader and writer.
///
/// Field kinds: `opt T` (0..1), `vec T` (0..*), `choice T` (a `[x]` element).
/// Every struct also gets `extra`, holding unknown keys so they survive a round trip.
#[macro_export]
macro_rules! fhir_element {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(: resource $rt:literal)? {
            $( $(#[$fmeta:meta])* $field:ident : $kind:ident $ty:ty = $json:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $crate::fhir_element!(@ty $kind $ty), )*
            /// Elements this model does not name, kept verbatim for the round trip.
            pub extra: $crate::json::JsonMap,
        }

        $( impl $crate::json::Resource for $name { const RESOURCE_TYPE: &'static str = $rt; } )?

        impl $crate::json::FromJson for $name {
            fn from_node(v: $crate::json::JsonRef<'_>, cx: &mut $crate::json::Cx) -> Result<Self, $crate::json::ModelError> {
                #[allow(unused_mut)]
                let mut obj = $crate::json::Obj::new(v, cx)?;
                $( obj.resource_type($rt, cx)?; )?
                Ok($name {
                    $( $field: $crate::fhir_element!(@read obj cx $kind $json), )*
                    extra: obj.rest(),
                })
            }
        }

        impl $crate::json::WriteJson for $name {
            fn write_json(&self, out: &mut String) {
                out.push('{');
                #[allow(unused_mut)]
                let mut first = true;
                $(
                    $crate::json::write_key(out, &mut first, "resourceType");
                    $crate::json::write_str(out, $rt);
                )?
                $( $crate::fhir_element!(@wr out first self.$field, $kind $json); )*
                $crate::json::write_extra(out, &mut first, &self.extra);
                out.push('}');
            }
        }

        impl $crate::json::ToJson for $name {
            fn to_json(&self) -> $crate::json::Json {
                $crate::json::tree_of(self)
            }
        }
    };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@ty vec $ty:ty) => { Vec<$ty> };
    (@ty choice $ty:ty) => { Option<$ty> };
    (@read $obj:ident $cx:ident opt $json:literal) => { $obj.opt($json, $cx)? };
    (@read $obj:ident $cx:ident vec $json:literal) => { $obj.vec($json, $cx)? };
    (@read $obj:ident $cx:ident choice $json:literal) => { $obj.choice($json, $cx)? };
    (@wr $out:ident $first:ident $v:expr, opt $json:literal) => { $crate::json::write_opt($out, &mut $first, $json, &$v) };
    (@wr $out:ident $first:ident $v:expr, vec $json:literal) => { $crate::json::write_vec($out, &mut $first, $json, &$v) };
    (@wr $out:ident $first:ident $v:expr, choice $json:literal) => { $crate::json::write_choice($out, &mut $first, $json, &$v) };
}
