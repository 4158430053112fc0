//! A Questionnaire indexed for evaluation: a flat preorder list of items with parents,
//! children, typed SDC settings and resolved enableWhen targets.
//!
//! Loading is where form authors learn what is wrong, so every problem names the item's
//! linkId and its JSON path. Problems that make answers ambiguous (duplicate or missing
//! linkIds, enableWhen on an unknown item) are errors; problems that only make a condition
//! never true are warnings, so forms from other tools still load.

use std::collections::HashMap;
use std::fmt;

use intake_fhir::{
    find_ext, find_exts, json::{JsonRef, Node}, Coding, Cx, FromJson, Json, ModelError, PrimitiveElement, Questionnaire,
    QuestionnaireItem, Value,
};

use crate::sdc;
use crate::value_set::{Fallback, Resolver, ValueSetLibrary};

/// Index of an item in [`Form::items`] (preorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u32);

impl ItemId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The R4 item types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    Group,
    Display,
    Boolean,
    Decimal,
    Integer,
    Date,
    DateTime,
    Time,
    String,
    Text,
    Url,
    Choice,
    OpenChoice,
    Attachment,
    Reference,
    Quantity,
}

impl ItemType {
    pub fn parse(s: &str) -> Option<ItemType> {
        Some(match s {
            "group" => ItemType::Group,
            "display" => ItemType::Display,
            "boolean" => ItemType::Boolean,
            "decimal" => ItemType::Decimal,
            "integer" => ItemType::Integer,
            "date" => ItemType::Date,
            "dateTime" => ItemType::DateTime,
            "time" => ItemType::Time,
            "string" => ItemType::String,
            "text" => ItemType::Text,
            "url" => ItemType::Url,
            "choice" => ItemType::Choice,
            "open-choice" => ItemType::OpenChoice,
            "attachment" => ItemType::Attachment,
            "reference" => ItemType::Reference,
            "quantity" => ItemType::Quantity,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            ItemType::Group => "group",
            ItemType::Display => "display",
            ItemType::Boolean => "boolean",
            ItemType::Decimal => "decimal",
            ItemType::Integer => "integer",
            ItemType::Date => "date",
            ItemType::DateTime => "dateTime",
            ItemType::Time => "time",
            ItemType::String => "string",
            ItemType::Text => "text",
            ItemType::Url => "url",
            ItemType::Choice => "choice",
            ItemType::OpenChoice => "open-choice",
            ItemType::Attachment => "attachment",
            ItemType::Reference => "reference",
            ItemType::Quantity => "quantity",
        }
    }

    /// Items that hold answers (not groups or display text).
    pub fn is_question(self) -> bool {
        !matches!(self, ItemType::Group | ItemType::Display)
    }
}

/// enableWhen comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Exists,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Operator {
    pub fn parse(s: &str) -> Option<Operator> {
        Some(match s {
            "exists" => Operator::Exists,
            "=" => Operator::Eq,
            "!=" => Operator::Ne,
            ">" => Operator::Gt,
            "<" => Operator::Lt,
            ">=" => Operator::Ge,
            "<=" => Operator::Le,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Exists => "exists",
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ge => ">=",
            Operator::Le => "<=",
        }
    }
}

/// One resolved enableWhen condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub question: ItemId,
    pub operator: Operator,
    pub answer: Value,
}

/// How the conditions of an item combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnableBehavior {
    #[default]
    Any,
    All,
}

/// Is answer `a` the option `o`? Codings by concept (system and code), other values by
/// equality: how toggled-off options are matched against answers.
pub fn same_option(o: &Value, a: &Value) -> bool {
    match (o, a) {
        (Value::Coding(x), Value::Coding(y)) => crate::enable_when::codings_equal(x, y),
        _ => o == a,
    }
}

/// A permitted answer with its label and translations.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerChoice {
    pub value: Value,
    pub label: String,
    /// Label translations and synonyms: `(language, text)`; language `None` for a synonym.
    pub designations: Vec<(Option<String>, String)>,
    pub initial_selected: bool,
    /// SDC `optionExclusive`: "None of these" cannot be ticked together with other options.
    pub exclusive: bool,
    /// `questionnaire-optionPrefix`: "(a)", "1." shown before the label.
    pub prefix: Option<String>,
    /// `rendering-xhtml`/`markdown` on the option's text: shown whitelisted, like item text.
    pub rendering: Option<Rendering>,
}

impl AnswerChoice {
    /// The label in a language (its base language's translation, else the label itself).
    pub fn label_in(&self, lang: &str) -> String {
        let base = lang.split('-').next().unwrap_or(lang);
        self.designations.iter().find(|(l, _)| l.as_deref() == Some(base)).map(|(_, t)| t.clone()).unwrap_or_else(|| self.label.clone())
    }

    /// Is this answer this option? Codings by concept (system and code: a stored answer has
    /// lost the option's display translations), other values by equality.
    pub fn is(&self, answer: &Value) -> bool {
        match (answer, &self.value) {
            (Value::Coding(a), Value::Coding(o)) => crate::enable_when::codings_equal(a, o),
            _ => *answer == self.value,
        }
    }
}

/// How questionnaire text should be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendering {
    Plain,
    Markdown(String),
    Xhtml(String),
}

/// Text with its translations (from the FHIR translation extension).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalText {
    pub text: String,
    pub translations: Vec<(String, String)>,
    pub rendering: Option<Rendering>,
}

impl LocalText {
    fn read(text: Option<&String>, ext: Option<&PrimitiveElement>) -> Option<LocalText> {
        let text = text?.clone();
        let mut out = LocalText { text, translations: Vec::new(), rendering: None };
        if let Some(el) = ext {
            out.translations = sdc::translations(&el.extension);
            out.rendering = sdc::rendering(&el.extension);
        }
        Some(out)
    }

    /// The text in a language, falling back to the base text. `es-MX` matches `es`.
    pub fn in_lang(&self, lang: &str) -> &str {
        let base = lang.split('-').next().unwrap_or(lang);
        self.translations
            .iter()
            .find(|(l, _)| l == lang)
            .or_else(|| self.translations.iter().find(|(l, _)| l.split('-').next() == Some(base)))
            .map(|(_, t)| t.as_str())
            .unwrap_or(&self.text)
    }
}

/// Everything the engine knows about one item.
#[derive(Debug, Clone)]
pub struct ItemDef {
    pub id: ItemId,
    pub link_id: String,
    /// Unique within the form: the linkId, or `linkId#2` for a later duplicate of it. Used
    /// in answers files, autosave and DOM ids; the response always carries `link_id`.
    pub key: String,
    /// JSON path of the item, for messages: `Questionnaire.item[2].item[0]`.
    pub path: String,
    pub item_type: ItemType,
    pub text: Option<LocalText>,
    pub prefix: Option<String>,
    pub parent: Option<ItemId>,
    pub children: Vec<ItemId>,
    pub depth: u32,
    pub required: bool,
    pub repeats: bool,
    pub read_only: bool,
    /// SDC `questionnaire-hidden`: kept in the response but never shown.
    pub hidden: bool,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub min_value: Option<Box<Value>>,
    pub max_value: Option<Box<Value>>,
    pub regex: Option<String>,
    pub min_occurs: Option<usize>,
    pub max_occurs: Option<usize>,
    pub enable_when: Vec<Condition>,
    pub enable_behavior: EnableBehavior,
    pub options: Vec<AnswerChoice>,
    /// Why the options are not (all) known (an `answerValueSet` nobody could list): the item
    /// also takes free text, flagged for review. See `value_set`.
    pub options_fallback: Option<crate::value_set::Fallback>,
    pub initial: Vec<Value>,
    pub item_control: Option<String>,
    /// `questionnaire-choiceOrientation` = horizontal: options side by side where there is room.
    pub horizontal: bool,
    /// Units a quantity may be given in (`questionnaire-unitOption`), or the one fixed unit.
    pub units: Vec<Coding>,
    pub code: Vec<Coding>,
    pub definition: Option<String>,
    pub help: Option<LocalText>,
    pub entry_format: Option<String>,
    /// SDC observation-based extraction of this item (or this group as a panel).
    pub observation_extract: bool,
    /// SDC observation-based population: prefill from an observation no older than this.
    pub observation_link_period_days: Option<f64>,
    /// Why this item is asked, stated by the form author (our extension).
    /// Boxed, as `min_value`/`max_value` are: few items have one, and every item pays for
    /// the field inline (a 5,000-question form's definitions were 7 MB).
    pub why_asked: Option<Box<LocalText>>,
    /// True when this item or an ancestor is a repeating group.
    pub in_repeating_group: bool,
}

impl ItemDef {
    pub fn is_repeating_group(&self) -> bool {
        self.item_type == ItemType::Group && self.repeats
    }

    /// Label for messages: text if present, else linkId.
    pub fn label(&self) -> &str {
        self.text.as_ref().map(|t| t.text.as_str()).unwrap_or(&self.link_id)
    }
}

/// An `enableWhen.answerCoding` that names no option of its question by system and code, but
/// whose code is that of exactly one option: real forms copy the code from one code system and
/// the option from another (the ATSI health check's "Registered for NDIS"), and the item it
/// gates could then never appear. Renderers differ here; we match on the code, because an item
/// its author meant to ask that can never appear loses a question silently, while a match on a
/// code that is unique among the question's options cannot pick the wrong one. The load warns
/// at the path so the author can fix the form. A code-only coding already matches on code; a
/// code shared by several options is left as written (ambiguous: no guess).
fn sloppy_coding(target: &ItemDef, answer: &Value) -> Option<(Value, String)> {
    let Value::Coding(c) = answer else { return None };
    let (Some(system), Some(code)) = (c.system.as_deref(), c.code.as_deref()) else { return None };
    let codings = || target.options.iter().filter_map(|o| o.value.as_coding());
    if codings().any(|o| crate::enable_when::codings_equal(o, c)) {
        return None;
    }
    let mut same_code = codings().filter(|o| o.code.as_deref() == Some(code));
    let only = same_code.next()?;
    if same_code.next().is_some() {
        return None;
    }
    let message = format!(
        "answerCoding {system}|{code} is not an option of '{}'; its code matches the option {}|{code} only, so that option is used (the systems differ)",
        target.link_id,
        only.system.as_deref().unwrap_or("(no system)")
    );
    Some((Value::Coding(Coding { system: only.system.clone(), code: only.code.clone(), display: only.display.clone(), ..Default::default() }), message))
}

/// A load problem, with the item and path it concerns.
#[derive(Debug, Clone, PartialEq)]
pub enum FormError {
    /// Not readable as a Questionnaire at all.
    Model(ModelError),
    MissingLinkId { path: String },
    /// An enableWhen refers to a linkId that several items share: which one is meant?
    AmbiguousLinkId { link_id: String, path: String, question: String },
    UnknownItemType { link_id: String, path: String, found: String, suggestion: Option<String> },
    UnknownOperator { link_id: String, path: String, operator: String, suggestion: Option<String> },
    EnableWhenUnknownQuestion { link_id: String, path: String, question: String, suggestion: Option<String> },
    EnableWhenNoAnswer { link_id: String, path: String },
    /// A FHIRPath expression in a build of the engine without FHIRPath (the browser's lean
    /// builds): refused, never run without it (items it hides would show, scores stay empty).
    ExpressionsNotInThisBuild { path: String },
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default()
}

/// Every R4 item type, for suggestions.
const ITEM_TYPES: [&str; 16] =
    ["group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string", "text", "url", "choice", "open-choice", "attachment", "reference", "quantity"];

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::Model(e) => write!(f, "{e}"),
            FormError::MissingLinkId { path } => write!(f, "at {path}: item has no linkId"),
            FormError::AmbiguousLinkId { link_id, path, question } => write!(
                f,
                "at {path}.question: item '{link_id}' depends on '{question}', but several items share that linkId"
            ),
            FormError::UnknownItemType { link_id, path, found, suggestion } => {
                write!(f, "at {path}.type: item '{link_id}' has unknown type '{found}'{}", did_you_mean(suggestion))
            }
            FormError::UnknownOperator { link_id, path, operator, suggestion } => {
                write!(f, "at {path}.operator: item '{link_id}' uses unknown enableWhen operator '{operator}'{}", did_you_mean(suggestion))
            }
            FormError::EnableWhenUnknownQuestion { link_id, path, question, suggestion } => write!(
                f,
                "at {path}.question: item '{link_id}' depends on '{question}', which is not an item of this form{}",
                did_you_mean(suggestion)
            ),
            FormError::EnableWhenNoAnswer { link_id, path } => {
                write!(f, "at {path}: item '{link_id}' has an enableWhen without answer[x]")
            }
            FormError::ExpressionsNotInThisBuild { path } => write!(
                f,
                "at {path}: the form carries a FHIRPath expression, and this build of the engine has no FHIRPath (the full or SDC build runs it)"
            ),
        }
    }
}

impl std::error::Error for FormError {}

impl From<ModelError> for FormError {
    fn from(e: ModelError) -> Self {
        FormError::Model(e)
    }
}

/// A non-fatal problem found while loading.
#[derive(Debug, Clone, PartialEq)]
pub struct FormWarning {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FormWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.path, self.message)
    }
}

/// A loaded, indexed Questionnaire.
#[derive(Debug, Clone)]
pub struct Form {
    /// The Questionnaire's own elements (url, version, title, extensions): its items and
    /// contained resources are emptied once read (see `build`); they live on as `items` and
    /// `expressions`.
    pub questionnaire: Questionnaire,
    /// Shared (`Arc`): the browser's view holds the definitions it renders, and a copy per
    /// rendered item was a second set of the form's definitions in wasm memory.
    pub items: Vec<std::sync::Arc<ItemDef>>,
    pub roots: Vec<ItemId>,
    by_link_id: HashMap<String, ItemId>,
    /// linkIds used by more than one item (allowed with a warning unless referenced).
    pub duplicated: Vec<String>,
    /// For each item, the items whose enableWhen reads it.
    pub enable_when_dependents: Vec<Vec<ItemId>>,
    pub warnings: Vec<FormWarning>,
    pub features: sdc::FeatureReport,
    /// FHIRPath variables, enableWhenExpression and calculatedExpression, parsed.
    pub expressions: crate::expressions::ExpressionBook,
}

/// The Questionnaire's JSON as given, for `%questionnaire`: written out as a `Value` only
/// when the form's expressions run (`ExpressionBook::compile`; never, in a build without them).
#[cfg_attr(not(feature = "expressions"), allow(dead_code))]
pub(crate) enum Given<'a> {
    Nothing,
    /// A tree the caller gave up.
    Owned(Json),
    /// A tree the caller keeps.
    Json(&'a Json),
    /// The parsed text's own tree.
    Node(&'a Node<'a>),
}

#[cfg_attr(not(feature = "expressions"), allow(dead_code))]
impl Given<'_> {
    pub(crate) fn into_json(self) -> Option<Json> {
        match self {
            Given::Nothing => None,
            Given::Owned(j) => Some(j),
            Given::Json(j) => Some(j.clone()),
            Given::Node(n) => Some(n.to_json()),
        }
    }
}

impl Form {
    /// Parse and index a Questionnaire from JSON text.
    pub fn from_text(text: &str) -> Result<Form, FormError> {
        Form::from_text_with(text, &ValueSetLibrary::default())
    }

    /// Parse and index a Questionnaire whose `answerValueSet`s may name sets in `library`.
    ///
    /// A form without expressions is read from a [`Node`] tree borrowing the text's strings,
    /// never a `serde_json::Value`: MDS 3.0's text (516 KB) made a 2.6 MB `Value` in wasm
    /// memory beside the model read from it, and wasm memory never shrinks back (see
    /// `intake_fhir::node`). A form with expressions keeps its JSON as given for
    /// `%questionnaire` as long as it is filled: that tree is parsed at once, not made twice.
    pub fn from_text_with(text: &str, library: &ValueSetLibrary) -> Result<Form, FormError> {
        if Form::keeps_its_json(text) {
            return Form::from_value_with(intake_fhir::json::parse_text(text)?, library);
        }
        let node = intake_fhir::json::parse_node(text)?;
        Form::from_node_with(&node, library)
    }

    /// Whether a form's text may carry an expression (an SDC `valueExpression`), so the form
    /// may keep its JSON as given for `%questionnaire` (see [`Form::from_text_with`]). A
    /// superset by a substring, checked before anything is parsed: a form it misses still
    /// reads right, through the other path.
    pub fn keeps_its_json(text: &str) -> bool {
        cfg!(feature = "expressions") && text.contains("\"valueExpression\"")
    }

    pub fn from_json(json: &Json) -> Result<Form, FormError> {
        Form::from_json_with(json, &ValueSetLibrary::default())
    }

    /// A Questionnaire someone already parsed, read in place.
    pub fn from_json_with(json: &Json, library: &ValueSetLibrary) -> Result<Form, FormError> {
        Form::read(JsonRef::Value(json), library, Given::Json(json))
    }

    /// Index a Questionnaire already parsed as a `Value`, taking the tree: kept as it is for
    /// `%questionnaire` when an expression may read it, so a caller that parsed the text can
    /// let the text go before the form is read (wasm memory never shrinks back).
    pub fn from_value_with(json: Json, library: &ValueSetLibrary) -> Result<Form, FormError> {
        let mut cx = Cx::new("Questionnaire");
        let q = Questionnaire::from_json(&json, &mut cx)?;
        Form::finish(q, cx, library, Given::Owned(json))
    }

    /// Index a Questionnaire's parsed tree.
    pub fn from_node_with(node: &Node<'_>, library: &ValueSetLibrary) -> Result<Form, FormError> {
        Form::read(JsonRef::Node(node), library, Given::Node(node))
    }

    fn read(tree: JsonRef<'_>, library: &ValueSetLibrary, given: Given<'_>) -> Result<Form, FormError> {
        let mut cx = Cx::new("Questionnaire");
        let q = Questionnaire::from_node(tree, &mut cx)?;
        Form::finish(q, cx, library, given)
    }

    /// The form from its model, with the model's lenient-read warnings first.
    fn finish(q: Questionnaire, cx: Cx, library: &ValueSetLibrary, given: Given<'_>) -> Result<Form, FormError> {
        // A tree given up goes now unless an expression may read it (wasm memory never shrinks back).
        let given = if crate::expressions::may_read_questionnaire(&q.item) { given } else { Given::Nothing };
        let mut form = Form::build(q, library, given)?;
        let model_warnings = cx.warnings.into_iter().map(|w| FormWarning { path: w.path.to_string(), message: w.message });
        let mut all: Vec<FormWarning> = model_warnings.collect();
        all.append(&mut form.warnings);
        form.warnings = all;
        Ok(form)
    }

    pub fn from_questionnaire(q: Questionnaire) -> Result<Form, FormError> {
        Form::from_questionnaire_with(q, &ValueSetLibrary::default())
    }

    pub fn from_questionnaire_with(q: Questionnaire, library: &ValueSetLibrary) -> Result<Form, FormError> {
        Form::build(q, library, Given::Nothing)
    }

    /// `given`: the Questionnaire as given, when an expression may read it (see `finish`).
    fn build(q: Questionnaire, library: &ValueSetLibrary, given: Given<'_>) -> Result<Form, FormError> {
        let value_sets = Resolver::new(&q.contained, library);
        // Sized at once: an ItemDef is large (680 B native), and a Vec that doubles as it
        // grows holds up to twice the form (wasm memory never shrinks back).
        let mut raw = Vec::new();
        collect_raw(&q.item, &mut raw);
        let mut b = Builder { items: Vec::with_capacity(raw.len()), by_link_id: HashMap::with_capacity(raw.len()), warnings: Vec::new(), value_sets, duplicated: Vec::new() };
        let mut roots = Vec::new();
        for (i, item) in q.item.iter().enumerate() {
            let path = format!("Questionnaire.item[{i}]");
            roots.push(b.add(item, None, 0, false, path)?);
        }
        // Second pass: enableWhen targets can be anywhere in the form.
        let mut dependents = vec![Vec::new(); b.items.len()];
        for (idx, item) in raw.iter().enumerate() {
            let id = ItemId(idx as u32);
            let mut conditions = Vec::new();
            for (k, ew) in item.enable_when.iter().enumerate() {
                let def = &b.items[idx];
                let path = format!("{}.enableWhen[{k}]", def.path);
                let question = ew.question.clone().unwrap_or_default();
                if b.duplicated.contains(&question) {
                    return Err(FormError::AmbiguousLinkId { link_id: def.link_id.clone(), path, question });
                }
                let Some(&target) = b.by_link_id.get(&question) else {
                    let suggestion = crate::suggest::nearest(&question, b.by_link_id.keys().map(String::as_str)).map(str::to_owned);
                    return Err(FormError::EnableWhenUnknownQuestion { link_id: def.link_id.clone(), path, question, suggestion });
                };
                let op_text = ew.operator.as_deref().unwrap_or("");
                let Some(operator) = Operator::parse(op_text) else {
                    let suggestion = crate::suggest::nearest(op_text, ["exists", "=", "!=", ">", "<", ">=", "<="]).map(str::to_owned);
                    return Err(FormError::UnknownOperator { link_id: def.link_id.clone(), path, operator: op_text.into(), suggestion });
                };
                let Some(answer) = ew.answer.clone() else {
                    return Err(FormError::EnableWhenNoAnswer { link_id: def.link_id.clone(), path });
                };
                let target_def = &b.items[target.index()];
                if let Some(msg) = crate::enable_when::type_mismatch(target_def, operator, &answer) {
                    b.warnings.push(FormWarning { path: path.clone(), message: msg });
                }
                let answer = match sloppy_coding(target_def, &answer) {
                    Some((fixed, message)) => {
                        b.warnings.push(FormWarning { path: format!("{path}.answerCoding"), message });
                        fixed
                    }
                    None => answer,
                };
                if !dependents[target.index()].contains(&id) {
                    dependents[target.index()].push(id);
                }
                conditions.push(Condition { question: target, operator, answer });
            }
            b.items[idx].enable_when = conditions;
        }
        if let Some(cycle) = find_cycle(&b.items) {
            let names: Vec<&str> = cycle.iter().map(|i| b.items[i.index()].link_id.as_str()).collect();
            b.warnings.push(FormWarning {
                path: b.items[cycle[0].index()].path.clone(),
                message: format!(
                    "enableWhen conditions form a cycle ({}); which items show can depend on the order answers were given",
                    names.join(" -> ")
                ),
            });
        }
        let features = sdc::FeatureReport::of(&q);
        for (path, message) in features.unsupported_warnings() {
            b.warnings.push(FormWarning { path, message });
        }
        let paths: Vec<String> = b.items.iter().map(|d| d.path.clone()).collect();
        let expressions = crate::expressions::ExpressionBook::compile(&q, given, &raw, &paths, &mut b.warnings)?;
        drop(raw);
        // Everything the items and contained resources say is in `items` and `expressions` now;
        // a second copy of the item tree would stay for the session's life (on a 5,000-question
        // form, more memory than the definitions).
        let mut q = q;
        q.item = Vec::new();
        q.contained = Vec::new();
        Ok(Form {
            questionnaire: q,
            items: b.items.into_iter().map(std::sync::Arc::new).collect(),
            roots,
            by_link_id: b.by_link_id,
            duplicated: b.duplicated,
            enable_when_dependents: dependents,
            warnings: b.warnings,
            features,
            expressions,
        })
    }

    pub fn item(&self, id: ItemId) -> &ItemDef {
        &self.items[id.index()]
    }

    /// The item's definition, shared: for a caller that holds it while it changes the session.
    /// (Such callers cloned the definition itself, with its options and texts: a third of
    /// restoring 5,000 saved answers.)
    pub fn item_shared(&self, id: ItemId) -> std::sync::Arc<ItemDef> {
        std::sync::Arc::clone(&self.items[id.index()])
    }

    /// The item with this key (a linkId names its first item; `linkId#2` a later duplicate).
    pub fn find(&self, key: &str) -> Option<ItemId> {
        self.by_link_id.get(key).copied()
    }

    /// Ancestors of an item, nearest first.
    pub fn ancestors(&self, id: ItemId) -> impl Iterator<Item = ItemId> + '_ {
        std::iter::successors(self.item(id).parent, move |p| self.item(*p).parent)
    }

    /// True if `ancestor` is `id` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: ItemId, id: ItemId) -> bool {
        ancestor == id || self.ancestors(id).any(|a| a == ancestor)
    }

    /// The canonical to put in `QuestionnaireResponse.questionnaire`.
    pub fn canonical(&self) -> Option<String> {
        let url = self.questionnaire.url.clone()?;
        Some(match &self.questionnaire.version {
            Some(v) => format!("{url}|{v}"),
            None => url,
        })
    }

    /// Form title in a language.
    pub fn title(&self, lang: &str) -> String {
        let base = self.questionnaire.title.clone().or_else(|| self.questionnaire.name.clone()).unwrap_or_default();
        let lt = LocalText::read(Some(&base), self.questionnaire.title_ext.as_ref());
        lt.map(|t| t.in_lang(lang).to_owned()).unwrap_or(base)
    }
}

/// A cycle in "is enabled depending on": an item depends on its parent and on the questions
/// its enableWhen reads. Returns the items of the first cycle found.
fn find_cycle(items: &[ItemDef]) -> Option<Vec<ItemId>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let deps = |i: usize| {
        items[i].parent.into_iter().chain(items[i].enable_when.iter().map(|c| c.question)).collect::<Vec<_>>()
    };
    let mut mark = vec![Mark::New; items.len()];
    for start in 0..items.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // Iterative DFS keeping the path, so deep forms cannot overflow the stack.
        let mut path: Vec<(usize, Vec<ItemId>)> = vec![(start, deps(start))];
        mark[start] = Mark::Active;
        while let Some((node, pending)) = path.last_mut() {
            match pending.pop() {
                Some(next) => {
                    let n = next.index();
                    match mark[n] {
                        Mark::Active => {
                            let from = path.iter().position(|(x, _)| *x == n).unwrap_or(0);
                            let mut cycle: Vec<ItemId> = path[from..].iter().map(|(x, _)| ItemId(*x as u32)).collect();
                            cycle.push(next);
                            return Some(cycle);
                        }
                        Mark::New => {
                            mark[n] = Mark::Active;
                            path.push((n, deps(n)));
                        }
                        Mark::Done => {}
                    }
                }
                None => {
                    mark[*node] = Mark::Done;
                    path.pop();
                }
            }
        }
    }
    None
}

fn collect_raw<'a>(items: &'a [QuestionnaireItem], out: &mut Vec<&'a QuestionnaireItem>) {
    for it in items {
        out.push(it);
        collect_raw(&it.item, out);
    }
}

struct Builder<'a> {
    items: Vec<ItemDef>,
    by_link_id: HashMap<String, ItemId>,
    warnings: Vec<FormWarning>,
    value_sets: Resolver<'a>,
    duplicated: Vec<String>,
}

impl Builder<'_> {
    fn add(
        &mut self,
        item: &QuestionnaireItem,
        parent: Option<ItemId>,
        depth: u32,
        in_repeating: bool,
        path: String,
    ) -> Result<ItemId, FormError> {
        let id = ItemId(self.items.len() as u32);
        let link_id = match &item.link_id {
            Some(l) if !l.is_empty() => l.clone(),
            _ => return Err(FormError::MissingLinkId { path }),
        };
        // Invisible linkIds ("a\u{200b}" beside "a") make two items look like one in every
        // message and rule: load them, but say so.
        if link_id.trim().is_empty() || link_id.chars().any(|c| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}')) {
            self.warnings.push(FormWarning {
                path: format!("{path}.linkId"),
                message: format!("linkId {link_id:?} contains invisible or control characters; rules and messages cannot name it reliably"),
            });
        }
        // Duplicate linkIds are invalid R4, but common (MDS 3.0 has one). Answers are kept per
        // item, so a duplicate only becomes a problem when a condition or rule names it.
        let key = match self.by_link_id.get(&link_id) {
            None => link_id.clone(),
            Some(prev) => {
                self.warnings.push(FormWarning {
                    path: format!("{path}.linkId"),
                    message: format!(
                        "linkId '{link_id}' is already used at {}; both items load, and nothing may refer to it",
                        self.items[prev.index()].path
                    ),
                });
                if !self.duplicated.contains(&link_id) {
                    self.duplicated.push(link_id.clone());
                }
                let n = (2..).find(|n| !self.by_link_id.contains_key(&format!("{link_id}#{n}"))).unwrap_or(2);
                format!("{link_id}#{n}")
            }
        };
        let type_text = item.type_.as_deref().unwrap_or("");
        let item_type = match ItemType::parse(type_text) {
            Some(t) => t,
            // STU3's "question" type still appears in old forms; a string is its closest R4 reading.
            None if type_text == "question" => {
                self.warnings.push(FormWarning {
                    path: format!("{path}.type"),
                    message: "STU3 type 'question' read as 'string'".into(),
                });
                ItemType::String
            }
            None => {
                let suggestion = crate::suggest::nearest(type_text, ITEM_TYPES).map(str::to_owned);
                return Err(FormError::UnknownItemType { link_id, path, found: type_text.into(), suggestion });
            }
        };
        let exts = &item.extension;
        let repeats = item.repeats.unwrap_or(false);
        let in_repeating_group = in_repeating || (item_type == ItemType::Group && repeats);
        let (options, options_fallback) = self.options(item, item_type, &path);
        let mut units: Vec<Coding> = find_exts(exts, sdc::UNIT_OPTION)
            .filter_map(|e| e.value.as_ref()?.as_coding().cloned())
            .collect();
        if let Some(c) = find_ext(exts, sdc::UNIT).and_then(|e| e.value.as_ref()?.as_coding()) {
            units.push(c.clone());
        }
        // A pattern that does not compile would block every submit of this item: warn with the
        // path and do not enforce it.
        let mut regex = find_ext(exts, sdc::REGEX).and_then(|e| e.value.as_ref()?.as_str().map(str::to_owned));
        if let Some(problem) = regex.as_deref().and_then(crate::validate::pattern_problem) {
            self.warnings.push(FormWarning {
                path: format!("{path}.extension(regex)"),
                message: format!("regex {:?} cannot be used ({problem}); answers are not checked against it", regex.as_deref().unwrap_or("")),
            });
            regex = None;
        }
        if let Some(n) = item.max_length.filter(|n| *n < 1) {
            self.warnings.push(FormWarning {
                path: format!("{path}.maxLength"),
                message: format!("maxLength {n} is not a positive length; it is ignored"),
            });
        }
        if item_type == ItemType::Group && item.item.is_empty() {
            self.warnings.push(FormWarning {
                path: path.clone(),
                message: format!("group '{link_id}' has no items; it shows nothing (R4 requires a group to contain items)"),
            });
        }
        if item_type == ItemType::Display && !item.item.is_empty() {
            self.warnings.push(FormWarning {
                path: format!("{path}.item"),
                message: format!("display item '{link_id}' has child items, which R4 forbids; other tools may not show them"),
            });
        }
        let def = ItemDef {
            id,
            key: key.clone(),
            link_id: link_id.clone(),
            path: path.clone(),
            item_type,
            text: LocalText::read(item.text.as_ref(), item.text_ext.as_ref()),
            prefix: item.prefix.clone(),
            parent,
            children: Vec::new(),
            depth,
            required: item.required.unwrap_or(false),
            repeats,
            read_only: item.read_only.unwrap_or(false),
            hidden: sdc::bool_ext(exts, sdc::HIDDEN),
            max_length: item.max_length.and_then(|n| usize::try_from(n).ok()),
            min_length: sdc::int_ext(exts, sdc::MIN_LENGTH).and_then(|n| usize::try_from(n).ok()),
            min_value: find_ext(exts, sdc::MIN_VALUE).and_then(|e| e.value.clone()).map(Box::new),
            max_value: find_ext(exts, sdc::MAX_VALUE).and_then(|e| e.value.clone()).map(Box::new),
            regex,
            min_occurs: sdc::int_ext(exts, sdc::MIN_OCCURS).and_then(|n| usize::try_from(n).ok()),
            max_occurs: sdc::int_ext(exts, sdc::MAX_OCCURS).and_then(|n| usize::try_from(n).ok()),
            enable_when: Vec::new(),
            enable_behavior: match item.enable_behavior.as_deref() {
                Some("all") => EnableBehavior::All,
                _ => EnableBehavior::Any,
            },
            options,
            options_fallback,
            initial: item.initial.iter().filter_map(|i| i.value.clone()).collect(),
            item_control: sdc::item_control(exts),
            horizontal: find_ext(exts, sdc::CHOICE_ORIENTATION).and_then(|e| e.value.as_ref()?.as_str().map(|v| v == "horizontal")).unwrap_or(false),
            units,
            code: item.code.clone(),
            definition: item.definition.clone(),
            help: None,
            entry_format: find_ext(exts, sdc::ENTRY_FORMAT).and_then(|e| e.value.as_ref()?.as_str().map(str::to_owned)),
            observation_extract: sdc::bool_ext(exts, sdc::OBSERVATION_EXTRACT),
            observation_link_period_days: find_ext(exts, sdc::OBSERVATION_LINK_PERIOD)
                .and_then(|e| sdc::duration_days(e.value.as_ref()?)),
            why_asked: find_ext(exts, sdc::WHY_ASKED).and_then(|e| {
                let s = e.value.as_ref()?.as_str()?.to_owned();
                Some(Box::new(LocalText { translations: sdc::translations(&e.extension), text: s, rendering: None }))
            }),
            in_repeating_group,
        };
        self.items.push(def);
        self.by_link_id.insert(key, id);
        let mut children = Vec::new();
        for (i, child) in item.item.iter().enumerate() {
            let child_path = format!("{path}.item[{i}]");
            let cid = self.add(child, Some(id), depth + 1, in_repeating_group, child_path)?;
            // A display child with itemControl help/flyover is the parent's help text, not an item to show.
            let cdef = &self.items[cid.index()];
            if cdef.item_type == ItemType::Display
                && matches!(cdef.item_control.as_deref(), Some("help") | Some("flyover"))
            {
                let help = cdef.text.clone();
                self.items[id.index()].help = help;
            }
            children.push(cid);
        }
        self.items[id.index()].children = children;
        Ok(id)
    }

    /// The item's options (its `answerOption`s, else its `answerValueSet` resolved) and, when
    /// they are not all known, why (the item then also takes free text).
    fn options(&mut self, item: &QuestionnaireItem, item_type: ItemType, path: &str) -> (Vec<AnswerChoice>, Option<Fallback>) {
        if !item.answer_option.is_empty() {
            let options = item
                .answer_option
                .iter()
                .filter_map(|o| {
                    let value = o.value.clone()?;
                    let mut designations: Vec<(Option<String>, String)> = Vec::new();
                    if let Value::Coding(c) = &value {
                        if let Some(Json::Object(m)) = c.extra.get("_display") {
                            if let Ok(el) = PrimitiveElement::from_json(&Json::Object(m.clone()), &mut Cx::new("Coding")) {
                                designations
                                    .extend(sdc::translations(&el.extension).into_iter().map(|(l, t)| (Some(l), t)));
                            }
                        }
                    }
                    if let Some(el) = &o.value_string_ext {
                        designations.extend(sdc::translations(&el.extension).into_iter().map(|(l, t)| (Some(l), t)));
                    }
                    // Rich text on the option: on `_valueString`, or on a coding's `_display`.
                    let rendering = o.value_string_ext.as_ref().and_then(|el| sdc::rendering(&el.extension)).or_else(|| match &value {
                        Value::Coding(c) => match c.extra.get("_display") {
                            Some(j @ Json::Object(_)) => PrimitiveElement::from_json(j, &mut Cx::new("Coding")).ok().and_then(|el| sdc::rendering(&el.extension)),
                            _ => None,
                        },
                        _ => None,
                    });
                    Some(AnswerChoice {
                        label: value.display(),
                        value,
                        designations,
                        initial_selected: o.initial_selected.unwrap_or(false),
                        exclusive: sdc::bool_ext(&o.extension, sdc::OPTION_EXCLUSIVE),
                        prefix: find_ext(&o.extension, sdc::OPTION_PREFIX).and_then(|e| e.value.as_ref()?.as_str().map(str::to_owned)),
                        rendering,
                    })
                })
                .collect();
            return (options, None);
        }
        match &item.answer_value_set {
            // Only choice questions read options; a value set on another type is ignored as before.
            Some(vs) if matches!(item_type, ItemType::Choice | ItemType::OpenChoice) => {
                let at = format!("{path}.answerValueSet");
                let r = self.value_sets.resolve(vs, &at, &mut self.warnings);
                if let Some(fb) = &r.fallback {
                    self.warnings.push(FormWarning { path: at, message: fb.to_string() });
                }
                (r.options, r.fallback)
            }
            _ => (Vec::new(), None),
        }
    }
}

