//! SDC expressions in a session: `variable`s (the Questionnaire's and each item's),
//! `enableWhenExpression`, `calculatedExpression`, `initialExpression`, `answerExpression`,
//! `answerOptionsToggleExpression` and `cqf-expression` on text, in FHIRPath over the response
//! as it is being filled (`%resource`), with `%questionnaire`, `%qitem`, `%patient`, the host's
//! launch contexts and the form's variables.
//!
//! Why evaluation is incremental, by recorded reads: an expression may read any answer
//! (`%resource.repeat(item)...`), so what it depends on is known only once it has run. Each
//! variable, and each pass's expressions together, record what they read of the response
//! (`intake_fhirpath::Reads`); the next pass compares that with what changed (`Delta`) and
//! evaluates a variable again, or runs the pass at all, only when something it read changed. A
//! calculated value that changes is an answer change in turn, so the session repeats the pass
//! until nothing changes (bounded: see `Session::propagate`).
//!
//! Context: an item's expressions and variables are evaluated on the node's own response item
//! (`%context`), as SDC says: MBS 715's `%age` reads `item.where(linkId=...)` from its tab's
//! group, and each row of a repeating group is its own context. A node not in the response yet
//! (nothing under it answered) has an empty context. A failing expression never breaks the
//! form: a failing `enableWhenExpression` hides its item (the spec's "not enabled"), a failing
//! calculation leaves the item empty, and the error is reported once, with the JSON path.

use intake_fhir::json::{tree_of, Json};
use intake_fhir::{Extension, Questionnaire, QuestionnaireItem};
use intake_fhirpath::{Env, Expr, Item, NodeRef, Value};

use crate::questionnaire::{FormWarning, ItemId};
use crate::session::NodeId;
use crate::sdc;

/// A named FHIRPath value (`%name`). `expr` is None for a variable in another language: an
/// `x-fhir-query` (then `query` holds it, answered from the chart, see `fhir_query`), or one
/// this engine cannot evaluate, bound to the empty collection so expressions that use it see
/// "nothing known" instead of failing on every pass (the load warning says why).
#[derive(Debug, Clone)]
pub struct Variable {
    /// Shared: bound again on every pass (see `bind_remembered`).
    pub name: std::rc::Rc<str>,
    pub expr: Option<Expr>,
    pub query: Option<QuerySource>,
    /// JSON path of the extension, for messages.
    pub path: String,
    /// The `%names` the expression reads (a change in one of them means evaluating again).
    pub reads_vars: Vec<String>,
}

/// Where a query variable's value comes from.
#[derive(Debug, Clone)]
pub enum QuerySource {
    /// An `x-fhir-query` variable: one search, its `searchset` Bundle.
    One(Vec<crate::fhir_query::Part>),
    /// `sourceQueries`: a contained batch Bundle's searches, answered as a `batch-response`
    /// Bundle named by the batch's id (SDC: `%PrePopQuery`).
    Batch(Vec<Vec<crate::fhir_query::Part>>),
}

/// What a session remembers between expression passes: FHIRPath values and what they read.
/// One field of `Session`, which a build without expressions (`expressions_absent`) leaves out.
#[derive(Default)]
pub(crate) struct Cache {
    /// Per node, as the last expression pass saw them: in the response, and the answers (what
    /// the next pass compares with to find what changed).
    last_present: Vec<bool>,
    last_answers: Vec<Vec<intake_fhir::Value>>,
    /// An expression pass has run (what it read is kept with each result, `expr_cache`).
    expressions_ran: bool,
    /// `%patient` as a shared collection, built at the first expression pass: one binding for
    /// the whole session, so sub-expressions that read only `%patient` are computed once.
    patient_collection: Option<std::rc::Rc<Vec<intake_fhirpath::Item>>>,
    /// FHIRPath sub-expression results remembered across passes (`intake_fhirpath::SharedMemo`).
    expr_memo: std::rc::Rc<intake_fhirpath::SharedMemo>,
    /// Variables' values by (scope node, or the root; variable), with what they read.
    var_cache: crate::small::IdMap<(u32, u32), CachedVar>,
    /// Each node's enableWhen, option and calculated expressions' last results, by kind.
    expr_cache: crate::small::IdMap<(u32, ExprKind), CachedExprs>,
    /// The host's launch contexts as shared collections, built at the first expression pass.
    launch_collections: Option<Vec<(String, std::rc::Rc<Vec<intake_fhirpath::Item>>)>>,
    /// For the first expression pass: the resource each row made by an
    /// `itemPopulationContext` stands for (by node index).
    population_rows: std::collections::HashMap<usize, intake_fhirpath::Item>,
    /// Chart searches already answered, by query (the chart does not change in a session): the
    /// same query gives the very same collection, so a variable holding it stays "unchanged"
    /// and nothing that reads it is evaluated again.
    query_results: std::cell::RefCell<std::collections::HashMap<String, (Vec<intake_fhirpath::Item>, Option<String>)>>,
}

/// A variable's last value in one scope, with what it read of the response.
#[derive(Debug, Clone)]
pub(crate) struct CachedVar {
    /// Shared with every environment it is bound in: rebinding a remembered value on the next
    /// pass is a pointer copy, and the same collection is what `memo` recognises by address.
    value: std::rc::Rc<Vec<Item>>,
    reads: intake_fhirpath::Reads,
    error: Option<(String, String)>,
}

/// What changed in the response since the last pass: linkIds whose answers changed (or that
/// came or went), and items (None: the root) whose list of children changed.
#[derive(Debug, Default)]
pub(crate) struct Delta {
    /// The changes in the shape of reads, normalized: linkIds whose answers changed
    /// (`answers`), child lists that changed (`structure`), and linkIds of items that came into
    /// or left the response (`linked`). A read that meets one of them saw a change.
    changes: intake_fhirpath::Reads,
    /// Names of variables whose value changed in this pass so far: a few at most, looked up
    /// for every remembered result of every pass (a list beats hashing each name there).
    names: Vec<std::rc::Rc<str>>,
    /// No earlier pass to compare with: everything is evaluated.
    everything: bool,
    /// Nodes that came into or left the response.
    moved: std::collections::HashSet<usize, std::hash::BuildHasherDefault<crate::small::IdHasher>>,
}

impl Delta {
    /// Something these reads saw has changed.
    /// `r` must be normalized (`Reads::normalized`): it is searched, not scanned.
    fn changed(&self, r: &intake_fhirpath::Reads) -> bool {
        self.everything || r.saw_any(&self.changes)
    }

    /// A remembered variable must be evaluated again: what it read changed, or a variable it
    /// names did.
    fn touches(&self, v: &Variable, c: &CachedVar) -> bool {
        self.changed(&c.reads) || v.reads_vars.iter().any(|n| self.named(n))
    }

    /// The variable `name` changed in this pass so far.
    fn named(&self, name: &str) -> bool {
        self.names.iter().any(|n| **n == *name)
    }
}

/// What one item's expressions of one kind last did, with what they read: evaluated again
/// only when something they read, a variable they name, or the item's place in the response
/// changed. MBS 715 has 291 `enableWhenExpression`s and 43 calculations; an answer to the age
/// changes the verdicts that read `%age`, not the calculations that read other answers.
#[derive(Debug, Clone)]
pub(crate) struct CachedExprs {
    reads: intake_fhirpath::Reads,
    errors: Vec<(String, String)>,
    /// A calculation's values (the item gets them again if something else changed its answer).
    values: Vec<intake_fhir::Value>,
}

/// Which of an item's expressions a [`CachedExprs`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ExprKind {
    EnableWhen,
    /// `answerExpression`, the option toggles and `cqf-expression` on text, together.
    Options,
    Calculated,
}

/// The expressions one item carries.
#[derive(Debug, Clone, Default)]
pub struct ItemExpressions {
    pub variables: Vec<Variable>,
    pub enable_when: Option<(Expr, String)>,
    pub calculated: Option<(Expr, String)>,
    /// `initialExpression`: the item's starting answer, computed once when the session starts
    /// (typically from `%patient`), for an item the chart prefill left empty.
    pub initial: Option<(Expr, String)>,
    /// `answerExpression`: the item's options, computed (from other answers, the chart).
    pub answer_options: Option<(Expr, String)>,
    /// `answerOptionsToggleExpression`s: options offered only while their expression is true.
    pub toggles: Vec<Toggle>,
    /// `cqf-expression` on the item's text: the text, computed.
    pub text: Option<(Expr, String)>,
    /// `itemPopulationContext` on a group: (name, expression, path). For a repeating group,
    /// one row per resource it gives, each row seeing its resource as `%name` when the initial
    /// expressions under it run; for another group, `%name` is the whole result.
    pub population: Option<(String, Expr, String)>,
    /// The `%names` the item's enableWhen, calculated, option and text expressions read.
    names: Vec<String>,
    /// The item needs a scope of its own (`scope`): it has variables or a population context,
    /// or an expression of it names `%context` or `%qitem`. Otherwise its expressions are
    /// evaluated in its parent's environment as they are: MBS 715's 291 `%age` checks name
    /// neither, and building a scope for each was a twentieth of an answer.
    scoped: bool,
}

/// Options an `answerOptionsToggleExpression` governs.
#[derive(Debug, Clone)]
pub struct Toggle {
    pub options: Vec<intake_fhir::Value>,
    pub expr: Expr,
    pub path: String,
}

impl ItemExpressions {
    /// The `enableWhenExpression`'s text, for explanations.
    pub fn enable_when_text(&self) -> Option<&str> {
        self.enable_when.as_ref().map(|(e, _)| e.text())
    }

    /// The item's value is computed (`calculatedExpression`).
    pub fn is_calculated(&self) -> bool {
        self.calculated.is_some()
    }

    /// The item's options are computed (`answerExpression`) or toggled.
    pub fn computes_options(&self) -> bool {
        self.answer_options.is_some() || !self.toggles.is_empty()
    }

    /// The item's text is computed (`cqf-expression`).
    pub fn computes_text(&self) -> bool {
        self.text.is_some()
    }

    /// Expressions whose results the page shows (variables alone change nothing on it).
    fn drives(&self) -> bool {
        self.enable_when.is_some() || self.is_calculated() || self.computes_options() || self.computes_text()
    }

    /// Nothing at all: no expression, variable or population context (what most items are).
    fn is_empty(&self) -> bool {
        !self.any() && self.initial.is_none() && self.population.is_none()
    }

    /// Anything a pass evaluates (the initial expression runs only in the first).
    fn any(&self) -> bool {
        !self.variables.is_empty() || self.drives()
    }
}

/// Every FHIRPath expression of a form, parsed once when the form loads.
#[derive(Debug, Clone, Default)]
pub struct ExpressionBook {
    pub root_variables: Vec<Variable>,
    /// By item, in the form's order (the items' pre-order, as `ItemId`s are); None for an item
    /// without expressions. Boxed because most items of most forms have none: an
    /// `ItemExpressions` inline is 824 bytes (native) per item, where a pointer is 8.
    items: Vec<Option<Box<ItemExpressions>>>,
    /// What `item` gives for an item without expressions.
    empty: ItemExpressions,
    /// The Questionnaire, for `%questionnaire` (PHQ-9 reads its options' scores there), as a
    /// collection built once.
    pub questionnaire: std::rc::Rc<Vec<Item>>,
    /// Some item has an expression the page shows (`ItemExpressions::drives`); variables alone
    /// change nothing on the page, so a form with only those never runs a pass.
    drives: bool,
    /// The form has an `initialExpression` (run once, in the first pass).
    initial: bool,
    /// By item: `%qitem`, the item's definition in `questionnaire` (built with it).
    qitems: Vec<std::rc::Rc<Vec<Item>>>,
    /// Launch contexts the form declares that only the host can give: (name, JSON path).
    host_contexts: Vec<(String, String)>,
}

impl ExpressionBook {
    /// Parse the expressions of a Questionnaire whose items in pre-order are `raw`. What cannot
    /// be parsed, or is not FHIRPath, is a warning with its path and is not evaluated.
    /// `given`: the Questionnaire as given, for `%questionnaire` (written from `q` without it),
    /// made a `Value` only if an expression will run.
    /// Never an error in this build (the build without FHIRPath refuses any expression).
    pub(crate) fn compile(
        q: &Questionnaire,
        given: crate::questionnaire::Given<'_>,
        raw: &[&QuestionnaireItem],
        paths: &[String],
        warnings: &mut Vec<FormWarning>,
    ) -> Result<ExpressionBook, crate::questionnaire::FormError> {
        let mut book = ExpressionBook { items: Vec::with_capacity(raw.len()), ..Default::default() };
        book.root_variables = source_queries(q, warnings).into_iter().chain(variables(&q.extension, "Questionnaire", warnings)).collect();
        for (it, path) in raw.iter().zip(paths) {
            let mut x = ItemExpressions { variables: variables(&it.extension, path, warnings), ..Default::default() };
            x.enable_when = single(&it.extension, sdc::ENABLE_WHEN_EXPRESSION, path, warnings);
            x.calculated = single(&it.extension, sdc::CALCULATED_EXPRESSION, path, warnings);
            x.initial = single(&it.extension, sdc::INITIAL_EXPRESSION, path, warnings);
            x.answer_options = single(&it.extension, sdc::ANSWER_EXPRESSION, path, warnings);
            x.toggles = toggles(&it.extension, path, warnings);
            if let Some(el) = &it.text_ext {
                x.text = single(&el.extension, sdc::CQF_EXPRESSION, &format!("{path}._text"), warnings);
            }
            x.population = population_context(&it.extension, path, it.type_.as_deref() == Some("group"), warnings);
            let mut names = std::collections::BTreeSet::new();
            for e in [&x.enable_when, &x.calculated, &x.answer_options, &x.text].into_iter().flatten() {
                names.extend(e.0.variables());
            }
            for t in &x.toggles {
                names.extend(t.expr.variables());
            }
            x.names = names.into_iter().collect();
            let own_scope_name = |n: &str| n == "context" || n == "qitem";
            x.scoped = !x.variables.is_empty()
                || x.population.is_some()
                || x.names.iter().any(|n| own_scope_name(n))
                || x.initial.iter().any(|e| e.0.variables().iter().any(|n| own_scope_name(n)));
            book.initial |= x.population.is_some();
            book.drives |= x.drives();
            book.initial |= x.initial.is_some();
            book.items.push((!x.is_empty()).then(|| Box::new(x)));
        }
        let mut host_contexts = Vec::new();
        let launch = launch_contexts(q, &mut host_contexts, warnings);
        book.host_contexts = host_contexts;
        check_names(&book, &launch, warnings);
        if book.drives || book.initial {
            book.questionnaire = Env::collection_owning(given.into_json().unwrap_or_else(|| tree_of(q)));
            // `%qitem`: each item's own definition, a place in the one shared Questionnaire.
            if let Some(Value::Node(root)) = book.questionnaire.first().map(|i| &i.value) {
                book.qitems = paths.iter().map(|p| std::rc::Rc::new(vec![Item::new(Value::Node(at_path(root, p)))])).collect();
            }
        }
        Ok(book)
    }

    /// True if some item has an expression the page shows (checked after every answer, so
    /// decided once, at load).
    pub fn drives_the_form(&self) -> bool {
        self.drives
    }

    /// True if the form has an `initialExpression`: the first pass runs even if nothing else
    /// drives the form.
    pub fn has_initial(&self) -> bool {
        self.initial
    }

    pub fn item(&self, id: ItemId) -> &ItemExpressions {
        self.items.get(id.index()).and_then(|x| x.as_deref()).unwrap_or(&self.empty)
    }

    /// The items that have expressions, with their ids.
    pub fn with_expressions(&self) -> impl Iterator<Item = (ItemId, &ItemExpressions)> + Clone {
        self.items.iter().enumerate().filter_map(|(i, x)| x.as_deref().map(|x| (ItemId(i as u32), x)))
    }
}

/// Whether `compile` may keep the Questionnaire as given for `%questionnaire`: it does only for
/// a form whose items carry an expression, so an item with an extension holding an Expression
/// (or an extension on its text) says yes. A superset, checked before the form is built.
pub(crate) fn may_read_questionnaire(items: &[QuestionnaireItem]) -> bool {
    items.iter().any(|it| {
        it.extension.iter().any(|e| e.value.as_ref().and_then(|v| v.as_expression()).is_some())
            || it.text_ext.as_ref().is_some_and(|t| !t.extension.is_empty())
            || may_read_questionnaire(&it.item)
    })
}

/// One FHIRPath expression from an extension, parsed (None inside: not FHIRPath, or not
/// valid); what is not evaluated is a located warning.
fn parse(ext_index: usize, e: &Extension, path: &str, what: &str, warnings: &mut Vec<FormWarning>) -> Option<(Option<String>, Option<Expr>, String)> {
    let at = format!("{path}.extension[{ext_index}].valueExpression");
    let Some(x) = e.value.as_ref().and_then(|v| v.as_expression()) else {
        warnings.push(FormWarning { path: format!("{path}.extension[{ext_index}]"), message: format!("{what} without a valueExpression; ignored") });
        return None;
    };
    match x.language.as_deref() {
        Some("text/fhirpath") | None => {}
        Some(other) => {
            warnings.push(FormWarning { path: at.clone(), message: format!("{what} in {other} is not evaluated (only text/fhirpath is)") });
            return Some((x.name.clone(), None, at));
        }
    }
    let text = x.expression.as_deref().unwrap_or_default();
    match Expr::parse(text) {
        Ok(expr) => Some((x.name.clone(), Some(expr), at)),
        Err(err) => {
            warnings.push(FormWarning { path: format!("{at}.expression"), message: format!("{what} is not valid FHIRPath ({err}); it is not evaluated") });
            Some((x.name.clone(), None, at))
        }
    }
}

fn variables(exts: &[Extension], path: &str, warnings: &mut Vec<FormWarning>) -> Vec<Variable> {
    let mut out = Vec::new();
    for (i, e) in exts.iter().enumerate() {
        if e.url.as_deref() != Some(sdc::VARIABLE) {
            continue;
        }
        if let Some(x) = e.value.as_ref().and_then(|v| v.as_expression()).filter(|x| x.language.as_deref() == Some("application/x-fhir-query")) {
            let at = format!("{path}.extension[{i}].valueExpression");
            let Some(name) = x.name.clone().filter(|n| !n.is_empty()) else {
                warnings.push(FormWarning { path: at, message: "variable without a name; ignored".into() });
                continue;
            };
            match crate::fhir_query::template(x.expression.as_deref().unwrap_or_default()) {
                Ok(parts) => {
                    let reads_vars = template_variables(&parts);
                    out.push(Variable { name: name.into(), expr: None, query: Some(QuerySource::One(parts)), path: at, reads_vars });
                }
                Err(m) => {
                    warnings.push(FormWarning { path: format!("{at}.expression"), message: format!("x-fhir-query {m}; %{name} is empty") });
                    out.push(Variable { name: name.into(), expr: None, query: None, path: at, reads_vars: Vec::new() });
                }
            }
            continue;
        }
        let Some((name, expr, at)) = parse(i, e, path, "variable", warnings) else { continue };
        match name {
            Some(name) if !name.is_empty() => {
                let reads_vars = expr.as_ref().map(|e| e.variables().into_iter().collect()).unwrap_or_default();
                out.push(Variable { name: name.into(), expr, query: None, path: at, reads_vars })
            }
            _ => warnings.push(FormWarning { path: at, message: "variable without a name; ignored".into() }),
        }
    }
    out
}

/// The `%names` a query template's embedded expressions read.
fn template_variables(parts: &[crate::fhir_query::Part]) -> Vec<String> {
    parts
        .iter()
        .filter_map(|p| match p {
            crate::fhir_query::Part::Expr(e) => Some(e.variables()),
            crate::fhir_query::Part::Text(_) => None,
        })
        .flatten()
        .collect()
}

/// An item's `itemPopulationContext` (on groups only; elsewhere a warning).
fn population_context(exts: &[Extension], path: &str, is_group: bool, warnings: &mut Vec<FormWarning>) -> Option<(String, Expr, String)> {
    let (i, e) = exts.iter().enumerate().find(|(_, e)| e.url.as_deref() == Some(sdc::ITEM_POPULATION_CONTEXT))?;
    let (name, expr, at) = parse(i, e, path, "itemPopulationContext", warnings)?;
    let (Some(name), Some(expr)) = (name.filter(|n| !n.is_empty()), expr) else {
        warnings.push(FormWarning { path: format!("{path}.extension[{i}]"), message: "itemPopulationContext needs a name and a FHIRPath expression; ignored".into() });
        return None;
    };
    if !is_group {
        warnings.push(FormWarning { path: at, message: "itemPopulationContext is for groups; ignored on this item".into() });
        return None;
    }
    Some((name, expr, at))
}

/// `sourceQueries`: the contained batch Bundle it references, as a root variable named by the
/// Bundle's id, evaluated before the form's own variables (they may read it).
fn source_queries(q: &Questionnaire, warnings: &mut Vec<FormWarning>) -> Option<Variable> {
    let (i, e) = q.extension.iter().enumerate().find(|(_, e)| e.url.as_deref() == Some(sdc::SOURCE_QUERIES))?;
    let at = format!("Questionnaire.extension[{i}]");
    let reference = e.value.as_ref().and_then(|v| match v {
        intake_fhir::Value::Reference(r) => r.reference.clone(),
        _ => None,
    });
    let Some(id) = reference.as_deref().and_then(|r| r.strip_prefix('#')) else {
        warnings.push(FormWarning { path: at, message: "sourceQueries must reference a contained batch Bundle (#id); ignored".into() });
        return None;
    };
    let Some(bundle) = q.contained.iter().find(|c| c.get("resourceType").and_then(Json::as_str) == Some("Bundle") && c.get("id").and_then(Json::as_str) == Some(id)) else {
        warnings.push(FormWarning { path: at, message: format!("sourceQueries names #{id}, which is not a contained Bundle; ignored") });
        return None;
    };
    let mut batch = Vec::new();
    for (k, entry) in bundle.get("entry").and_then(Json::as_array).into_iter().flatten().enumerate() {
        let url = entry.get("request").and_then(|r| r.get("url")).and_then(Json::as_str).unwrap_or_default();
        match crate::fhir_query::template(url) {
            Ok(parts) => batch.push(parts),
            Err(m) => {
                warnings.push(FormWarning { path: format!("Bundle #{id} entry[{k}].request.url"), message: format!("{m}; this query answers nothing") });
                batch.push(vec![crate::fhir_query::Part::Text(String::new())]);
            }
        }
    }
    let reads_vars = batch.iter().flat_map(|p| template_variables(p)).collect();
    Some(Variable { name: id.into(), expr: None, query: Some(QuerySource::Batch(batch)), path: at, reads_vars })
}

fn single(exts: &[Extension], url: &str, path: &str, warnings: &mut Vec<FormWarning>) -> Option<(Expr, String)> {
    let what = match url {
        sdc::ENABLE_WHEN_EXPRESSION => "enableWhenExpression",
        sdc::INITIAL_EXPRESSION => "initialExpression",
        sdc::ANSWER_EXPRESSION => "answerExpression",
        sdc::CQF_EXPRESSION => "cqf-expression",
        _ => "calculatedExpression",
    };
    let (i, e) = exts.iter().enumerate().find(|(_, e)| e.url.as_deref() == Some(url))?;
    parse(i, e, path, what, warnings).and_then(|(_, expr, at)| Some((expr?, at)))
}

/// The item's `answerOptionsToggleExpression`s: each lists `option`s and one `expression`.
fn toggles(exts: &[Extension], path: &str, warnings: &mut Vec<FormWarning>) -> Vec<Toggle> {
    let mut out = Vec::new();
    for (i, e) in exts.iter().enumerate() {
        if e.url.as_deref() != Some(sdc::ANSWER_OPTIONS_TOGGLE) {
            continue;
        }
        let at = format!("{path}.extension[{i}]");
        let options: Vec<intake_fhir::Value> = e.extension.iter().filter(|x| x.url.as_deref() == Some("option")).filter_map(|x| x.value.clone()).collect();
        let expr = e.extension.iter().enumerate().find(|(_, x)| x.url.as_deref() == Some("expression"));
        let parsed = expr.and_then(|(k, x)| parse(k, x, &at, "answerOptionsToggleExpression", warnings));
        match (options.is_empty(), parsed) {
            (false, Some((_, Some(expr), p))) => out.push(Toggle { options, expr, path: p }),
            (true, _) => warnings.push(FormWarning { path: at, message: "answerOptionsToggleExpression without an option; ignored".into() }),
            (false, None) => warnings.push(FormWarning { path: at, message: "answerOptionsToggleExpression without an expression; ignored".into() }),
            (false, Some(_)) => {}
        }
    }
    out
}

/// The place `Questionnaire.item[0].item[2]` names under the Questionnaire `root`.
fn at_path(root: &NodeRef, path: &str) -> NodeRef {
    path.split('.').skip(1).fold(root.clone(), |at, step| match step.strip_suffix(']').and_then(|s| s.split_once('[')) {
        Some((key, i)) => at.key(key).index(i.parse().unwrap_or(usize::MAX)),
        None => at.key(step),
    })
}

/// Two values of a variable that are surely the same: equal plain values, or the same places
/// of the same document. Elements of two versions of the response are not compared (that can
/// cost a walk of a whole section): the variable counts as changed, and what reads it is
/// evaluated again.
fn surely_same(a: &[Item], b: &[Item]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (&x.value, &y.value) {
            (Value::Node(m), Value::Node(n)) => m.same_place(n),
            (Value::Node(_), _) | (_, Value::Node(_)) => false,
            _ => x == y,
        })
}

/// The scope key of the Questionnaire's own variables in the cache.
const ROOT_SCOPE: u32 = u32::MAX;

/// Launch contexts this engine supplies: the chart's Patient.
const SUPPLIED_CONTEXTS: [&str; 1] = ["patient"];

/// Names every expression may use without declaring them: the spec's, and ours.
const BUILT_IN: [&str; 8] = ["resource", "rootResource", "context", "questionnaire", "qitem", "ucum", "sct", "loinc"];

/// The Questionnaire's `launchContext` names. One this engine does not supply (`encounter`,
/// `user`, a named resource) is a warning: expressions that use it see nothing.
fn launch_contexts(q: &Questionnaire, book_launch: &mut Vec<(String, String)>, warnings: &mut Vec<FormWarning>) -> Vec<String> {
    let mut names = Vec::new();
    for (i, e) in q.extension.iter().enumerate() {
        if e.url.as_deref() != Some(sdc::LAUNCH_CONTEXT) {
            continue;
        }
        let name = e.extension.iter().find(|x| x.url.as_deref() == Some("name")).and_then(|x| {
            let v = x.value.as_ref()?;
            v.as_coding().and_then(|c| c.code.clone()).or_else(|| v.as_str().map(str::to_owned))
        });
        let Some(name) = name else {
            warnings.push(FormWarning { path: format!("Questionnaire.extension[{i}]"), message: "launchContext without a name; ignored".into() });
            continue;
        };
        if !SUPPLIED_CONTEXTS.contains(&name.as_str()) {
            warnings.push(FormWarning {
                path: format!("Questionnaire.extension[{i}]"),
                message: format!(
                    "launch context %{name} comes only from the host (context.launchContext.{name}); without it, expressions that use it see nothing"
                ),
            });
            book_launch.push((name.clone(), format!("Questionnaire.extension[{i}]")));
        }
        names.push(name);
    }
    names
}

/// An expression that names a `%variable` nothing defines (not a variable of the form, not a
/// launch context, not built in) is a warning at its first use: it would silently be empty.
fn check_names(book: &ExpressionBook, launch: &[String], warnings: &mut Vec<FormWarning>) {
    // Extended, not collected: a set collected from an iterator sorts it first, and that sort is
    // a stable sort instantiated for `&str` (5 KB of wasm) nothing else needs.
    let mut known = std::collections::BTreeSet::new();
    known.extend(BUILT_IN.iter().copied().chain(SUPPLIED_CONTEXTS));
    known.extend(launch.iter().map(String::as_str));
    let all_vars = book.root_variables.iter().chain(book.with_expressions().flat_map(|(_, x)| x.variables.iter()));
    known.extend(all_vars.clone().map(|v| &*v.name));
    known.extend(book.with_expressions().filter_map(|(_, x)| x.population.as_ref().map(|(n, _, _)| n.as_str())));
    let exprs = all_vars
        .filter_map(|v| Some((v.expr.as_ref()?, v.path.as_str())))
        .chain(book.with_expressions().flat_map(|(_, x)| {
            [&x.enable_when, &x.calculated, &x.initial, &x.answer_options, &x.text]
                .into_iter()
                .flatten()
                .map(|(e, p)| (e, p.as_str()))
                .chain(x.toggles.iter().map(|t| (&t.expr, t.path.as_str())))
                .chain(x.population.iter().map(|(_, e, p)| (e, p.as_str())))
        }));
    let mut reported = std::collections::BTreeSet::new();
    for (expr, path) in exprs {
        for name in expr.variables() {
            let spec_named = name.starts_with("vs-") || name.starts_with("ext-");
            if !spec_named && !known.contains(name.as_str()) && reported.insert(name.clone()) {
                warnings.push(FormWarning {
                    path: format!("{path}.expression"),
                    message: format!("%{name} is not defined here (not a variable of this form, a launch context or a built-in name); it is empty"),
                });
            }
        }
    }
}

/// The environment every expression of a pass starts from (shared collections: one copy of
/// the response per pass, none of the questionnaire), remembering sub-expression results in
/// `memo` (the session's, kept across passes).
pub(crate) fn base_env(response: &std::rc::Rc<Vec<Item>>, questionnaire: &std::rc::Rc<Vec<Item>>, patient: &std::rc::Rc<Vec<Item>>, now: &str, memo: &std::rc::Rc<intake_fhirpath::SharedMemo>) -> Env {
    // `resolve()` finds the chart's Patient (`%resource.subject.resolve()`).
    let mut env = Env::new().with_now(now).with_resources(patient.clone()).with_memo(memo.clone());
    let response = response.clone();
    env.set_shared("resource", response.clone());
    env.set_shared("rootResource", response.clone());
    env.set_shared("context", response);
    env.set_shared("questionnaire", questionnaire.clone());
    env.set_shared("patient", patient.clone());
    env
}

/// An item's scope: its parent's environment with `%context` (the item's response item) and
/// `%qitem` its own; built the first time the item evaluates something, then kept in `own`.
fn scope<'e>(own: &'e mut Option<Env>, parent: &Env, context: &std::rc::Rc<Vec<Item>>, qitem: Option<&std::rc::Rc<Vec<Item>>>) -> &'e mut Env {
    own.get_or_insert_with(|| {
        let mut env = parent.clone();
        env.set_shared("context", context.clone());
        if let Some(q) = qitem {
            env.set_shared("qitem", q.clone());
        }
        env
    })
}

/// Where an item's expressions are evaluated: its own scope when it needs one
/// (`ItemExpressions::scoped`), else its parent's environment as it is.
fn eval_env<'e>(scoped: bool, own: &'e mut Option<Env>, parent: &'e Env, context: &std::rc::Rc<Vec<Item>>, qitem: Option<&std::rc::Rc<Vec<Item>>>) -> &'e Env {
    if scoped || own.is_some() {
        scope(own, parent, context, qitem)
    } else {
        parent
    }
}

/// An environment that logs what is read into a log of its own.
fn logging(env: &Env, doc: &NodeRef) -> (std::rc::Rc<intake_fhirpath::ReadLog>, Env) {
    let log = std::rc::Rc::new(intake_fhirpath::ReadLog::new(doc));
    let env = env.with_read_log(log.clone());
    (log, env)
}

/// An expression's verdict on enabling: true only for a single `true` (empty or false hides).
pub(crate) fn is_true(out: &[Item]) -> bool {
    matches!(out, [Item { value: Value::Bool(true), .. }])
}

impl crate::session::Session {
    /// One pass over the form's expressions against the response as it stands. Changed
    /// verdicts queue their item's nodes; changed calculations are set as answers (which marks
    /// the expressions dirty again, so `propagate` runs another pass).
    pub(crate) fn run_expressions(&mut self) {
        let vt = self.vt.clone();
        let book = &vt.form.expressions;
        // What changed since the last pass decides what is evaluated again; when nothing any
        // expression or variable read has changed, the pass is skipped (a calculation that
        // nothing reads, like PHQ-9's total, settles without a second pass).
        // The first pass: rows for each resource an itemPopulationContext gives, before the
        // pass looks at the response (which then has those rows).
        if !self.initial_done && book.with_expressions().any(|(_, x)| x.population.is_some()) {
            self.populate_rows();
        }
        let present = crate::response::presence(self);
        let mut delta = self.delta_since_last_pass(&present);
        if self.pass_can_be_skipped(book, &delta) {
            return;
        }
        let qr = crate::response::tree_present(self, &present);
        let patient = match &self.exprs.patient_collection {
            Some(p) => p.clone(),
            None => {
                let p = Env::collection_of(&tree_of(&self.facts.chart.patient));
                self.exprs.patient_collection = Some(p.clone());
                p
            }
        };
        // One copy of the response, shared by `%resource` and every item's `%context`.
        let doc = NodeRef::new(qr);
        let shared = std::rc::Rc::new(vec![Item::new(Value::Node(doc.clone()))]);
        // Results computed from the last pass's response can never be reused: let them go.
        self.exprs.expr_memo.retain_stable(&[&book.questionnaire, &patient]);
        let mut env = base_env(&shared, &book.questionnaire, &patient, &self.facts.now.to_string(), &self.exprs.expr_memo);
        let response: &[Item] = &shared;
        let mut errors = Vec::new();
        // The host's launch contexts (`%encounter`, `%user`): one shared collection each for
        // the session. One the form declares and the host did not give is said once per pass.
        if self.exprs.launch_collections.is_none() {
            let given = self.facts.context.launch.iter().map(|(k, v)| (k.clone(), Env::collection_of(v))).collect();
            self.exprs.launch_collections = Some(given);
        }
        for (name, c) in self.exprs.launch_collections.iter().flatten() {
            env.set_shared(name.clone(), c.clone());
        }
        for (name, path) in &book.host_contexts {
            if !self.facts.context.launch.contains_key(name) {
                errors.push((path.clone(), format!("launch context %{name} was not given (context.launchContext.{name}); expressions that use it see nothing")));
                env.set(name, Vec::new());
            }
        }
        let mut root = env;
        self.bind_remembered(ROOT_SCOPE, false, &book.root_variables, response, &mut root, &doc, &mut delta, &mut errors);
        // Each node's response item (its context), found under its parent's, in form order:
        // every row of a repeating group is evaluated in its own row.
        let mut contexts: Vec<Option<NodeRef>> = vec![None; self.nodes.len()];
        // Item variables are seen by the item and everything under it (in that row). The
        // scopes built in this pass, the root's first; each node's is found through `scope_at`
        // (an index here): a clone of an environment per node, then dropped, was a twentieth of
        // an MBS 715 answer, and most nodes have no scope of their own.
        let mut scopes: Vec<Env> = vec![root];
        let mut scope_at: Vec<u32> = vec![0; self.nodes.len()];
        let order = self.preorder_shared();
        for &n in order.iter() {
            let (id, parent_node) = (self.nodes[n.index()].item, self.nodes[n.index()].parent);
            let i = id.index();
            let x = book.item(id);
            let parent = match parent_node {
                Some(p) => contexts[p.index()].as_ref(),
                None => Some(&doc),
            };
            if present[n.index()] {
                contexts[n.index()] = parent.and_then(|p| self.response_item_of(n, p, &present));
            }
            // Inside a repeating group, rows are populated only under an itemPopulationContext
            // (the row's own, or an enclosing group's), as sdc-populate does: a prefilled value
            // alone must not make an empty row look answered (a "recall" row holding only its
            // hidden subject would be sent).
            let in_populated_row = || match self.row_of(n) {
                Some(row) => {
                    self.exprs.population_rows.contains_key(&row.index())
                        || vt.form.ancestors(id).any(|a| book.item(a).population.is_some())
                }
                None => true,
            };
            let initial = x.initial.as_ref().filter(|_| !self.initial_done && in_populated_row());
            let populating = x.population.is_some() && !self.initial_done;
            if !x.any() && initial.is_none() && !populating {
                scope_at[n.index()] = parent_node.map_or(0, |p| scope_at[p.index()]);
                continue;
            }
            // The item's response item: the focus of its expressions and its `%context`,
            // shared with its scope rather than copied into it, and built only when something
            // here is evaluated (most answers leave most remembered results standing).
            let context_cell: std::cell::OnceCell<std::rc::Rc<Vec<Item>>> = std::cell::OnceCell::new();
            let context = || context_cell.get_or_init(|| std::rc::Rc::new(contexts[n.index()].iter().map(|c| Item::new(Value::Node(c.clone()))).collect()));
            let base_at = parent_node.map_or(0, |p| scope_at[p.index()]);
            let base = &scopes[base_at as usize];
            let qitem = book.qitems.get(i);
            // This item's scope, built by `scope` when something here is evaluated: most
            // answers leave most remembered results standing, and building every item's scope
            // anyway was a tenth of an MBS 715 answer.
            let mut own: Option<Env> = None;
            // In the first pass, a group's population context: its row's resource (repeating),
            // or the expression's whole result.
            if let (Some((name, expr, path)), false) = (&x.population, self.initial_done) {
                let own = scope(&mut own, base, context(), qitem);
                match self.exprs.population_rows.get(&n.index()) {
                    Some(item) => own.set(name, vec![item.clone()]),
                    None if !vt.form.item(id).repeats => match expr.evaluate(context(), own) {
                        Ok(out) => own.set(name, out),
                        Err(e) => errors.push((path.clone(), format!("itemPopulationContext: {e}; nothing is prefilled under it"))),
                    },
                    None => own.set(name, Vec::new()),
                }
            }
            // A node that came into or left the response has a new context: all its variables
            // are evaluated again.
            let moved = delta.moved.contains(&n.index());
            if !x.variables.is_empty() {
                let own = scope(&mut own, base, context(), qitem);
                self.bind_remembered(n.index() as u32, moved, &x.variables, context(), own, &doc, &mut delta, &mut errors);
            }
            let at = n.index();
            if let Some((expr, path)) = &x.enable_when {
                if let Some(c) = self.still_valid(at, ExprKind::EnableWhen, moved, x, &delta) {
                    errors.extend(c.errors.iter().cloned());
                } else {
                    let (log, env) = logging(eval_env(x.scoped, &mut own, base, context(), qitem), &doc);
                    let mut errs = Vec::new();
                    let verdict = match expr.evaluate(context(), &env) {
                        Ok(out) => is_true(&out),
                        Err(e) => {
                            errs.push((path.clone(), format!("enableWhenExpression: {e}; the item is hidden")));
                            false
                        }
                    };
                    if self.expr_enabled[at] != Some(verdict) {
                        self.expr_enabled[at] = Some(verdict);
                        self.enqueue(n);
                    }
                    self.remember(at, ExprKind::EnableWhen, &log, errs, Vec::new(), &mut errors);
                }
            }
            if let Some((expr, path)) = initial {
                // Once, in the first pass: what it read does not matter after it.
                self.set_initial(n, expr, path, context(), eval_env(x.scoped, &mut own, base, context(), qitem), &mut errors);
            }
            if x.answer_options.is_some() || !x.toggles.is_empty() || x.text.is_some() {
                if let Some(c) = self.still_valid(at, ExprKind::Options, moved, x, &delta) {
                    errors.extend(c.errors.iter().cloned());
                } else {
                    let (log, env) = logging(eval_env(x.scoped, &mut own, base, context(), qitem), &doc);
                    let mut errs = Vec::new();
                    self.run_option_expressions(n, x, context(), &env, &mut errs);
                    self.remember(at, ExprKind::Options, &log, errs, Vec::new(), &mut errors);
                }
            }
            match (&x.calculated, self.calc_edited[at]) {
                (Some((expr, path)), false) => {
                    let values = if let Some(c) = self.still_valid(at, ExprKind::Calculated, moved, x, &delta) {
                        errors.extend(c.errors.iter().cloned());
                        c.values.clone()
                    } else {
                        let (log, env) = logging(eval_env(x.scoped, &mut own, base, context(), qitem), &doc);
                        let mut errs = Vec::new();
                        let def = vt.form.item(id);
                        let values: Vec<intake_fhir::Value> = match expr.evaluate(context(), &env) {
                            Ok(out) => out.iter().filter_map(|v| value_for(def, &v.to_json())).collect(),
                            Err(e) => {
                                errs.push((path.clone(), format!("calculatedExpression: {e}; the item is left empty")));
                                Vec::new()
                            }
                        };
                        self.remember(at, ExprKind::Calculated, &log, errs, values.clone(), &mut errors);
                        values
                    };
                    if self.nodes[at].answers != values {
                        self.nodes[at].answers = values;
                        self.mark_changed(n);
                        self.enqueue(n);
                        if self.nodes[at].state.enabled {
                            self.effective_answers_changed(n);
                        }
                    }
                }
                // The patient's own value stands; what the calculation last gave is forgotten,
                // so it is worked out afresh if the patient gives the item back to it.
                (Some(_), true) => {
                    self.exprs.expr_cache.remove(&(at as u32, ExprKind::Calculated));
                }
                (None, _) => {}
            }
            scope_at[n.index()] = match own {
                Some(own) => {
                    scopes.push(own);
                    (scopes.len() - 1) as u32
                }
                None => base_at,
            };
        }
        self.initial_done = true;
        self.exprs.population_rows.clear();
        self.expr_errors = errors;
        self.exprs.expressions_ran = true;
    }

    /// Node `at`'s remembered result for `kind`, if nothing it depends on has changed: what
    /// its expressions read, the variables they name, and the node's place in the response.
    fn still_valid(&self, at: usize, kind: ExprKind, moved: bool, x: &ItemExpressions, delta: &Delta) -> Option<&CachedExprs> {
        if moved || (!delta.names.is_empty() && x.names.iter().any(|name| delta.named(name))) {
            return None;
        }
        self.exprs.expr_cache.get(&(at as u32, kind)).filter(|c| !delta.changed(&c.reads))
    }

    /// Keep what node `at`'s expressions of `kind` just did, and add their errors to the pass's.
    fn remember(
        &mut self,
        at: usize,
        kind: ExprKind,
        log: &intake_fhirpath::ReadLog,
        errs: Vec<(String, String)>,
        values: Vec<intake_fhir::Value>,
        errors: &mut Vec<(String, String)>,
    ) {
        let reads = log.take().normalized();
        errors.extend(errs.iter().cloned());
        self.exprs.expr_cache.insert((at as u32, kind), CachedExprs { reads, errors: errs, values });
    }

    /// True when nothing this pass would see differs from what the last pass read: every
    /// remembered expression result's reads are untouched, every variable is remembered and
    /// untouched, no node with expressions came or went, and the initial expressions have run.
    fn pass_can_be_skipped(&self, book: &ExpressionBook, delta: &Delta) -> bool {
        if !self.exprs.expressions_ran || (book.has_initial() && !self.initial_done) {
            return false;
        }
        if self.exprs.expr_cache.values().any(|c| delta.changed(&c.reads)) {
            return false;
        }
        if delta.moved.iter().any(|&n| book.item(self.nodes[n].item).any()) {
            return false;
        }
        let clean = |scope: u32, vars: &[Variable]| {
            vars.iter().enumerate().all(|(k, v)| self.exprs.var_cache.get(&(scope, k as u32)).is_some_and(|c| !delta.touches(v, c)))
        };
        clean(ROOT_SCOPE, &book.root_variables)
            && self.preorder_shared().iter().all(|&n| clean(n.index() as u32, &book.item(self.nodes[n.index()].item).variables))
    }

    /// Compare the response this pass reads with the one the last pass read: answers changed,
    /// items that came or went (and so the child lists of their parents). Keeps this pass's
    /// state for the next comparison.
    fn delta_since_last_pass(&mut self, present: &[bool]) -> Delta {
        let mut d = Delta { everything: self.exprs.last_present.is_empty(), ..Default::default() };
        let c = &mut d.changes;
        let link = |s: &Self, n: usize| s.vt.form.item(s.nodes[n].item).link_id.clone();
        for (n, &now) in present.iter().enumerate() {
            let was = self.exprs.last_present.get(n).copied().unwrap_or(false);
            if was != now {
                d.moved.insert(n);
                c.linked.push(link(self, n));
                c.answers.push(link(self, n));
                c.structure.push(Some(link(self, n)));
                c.structure.push(self.nodes[n].parent.map(|p| link(self, p.index())));
            } else if now && self.exprs.last_answers.get(n) != Some(&self.nodes[n].answers) {
                c.answers.push(link(self, n));
            }
        }
        // Kept in place: a copy of every node's answers per pass was an allocation per
        // answered item, and between two passes few answers change.
        self.exprs.last_present.clear();
        self.exprs.last_present.extend_from_slice(present);
        self.exprs.last_answers.resize_with(self.nodes.len(), Vec::new);
        for (last, node) in self.exprs.last_answers.iter_mut().zip(&self.nodes) {
            if *last != node.answers {
                last.clone_from(&node.answers);
            }
        }
        d.changes = std::mem::take(&mut d.changes).normalized();
        d
    }

    /// Bind `vars` into `env` in order: a variable nothing it read has changed since the last
    /// pass keeps its value (unless its scope `moved`: came into or left the response, so its
    /// `%context` is new); the others are evaluated, recording what they read. A variable
    /// whose value changes marks its name changed for everything evaluated after it.
    #[allow(clippy::too_many_arguments)]
    fn bind_remembered(&mut self, scope: u32, moved: bool, vars: &[Variable], input: &[Item], env: &mut Env, doc: &NodeRef, delta: &mut Delta, errors: &mut Vec<(String, String)>) {
        for (k, v) in vars.iter().enumerate() {
            let key = (scope, k as u32);
            if let Some(c) = self.exprs.var_cache.get(&key).filter(|c| !moved && !delta.touches(v, c)) {
                env.set_shared(v.name.clone(), c.value.clone());
                errors.extend(c.error.clone());
                continue;
            }
            let log = std::rc::Rc::new(intake_fhirpath::ReadLog::new(doc));
            let (value, problem) = self.variable_value(v, input, &env.with_read_log(log.clone()));
            let error = problem.map(|e| (v.path.clone(), format!("variable %{}: {e}", v.name)));
            errors.extend(error.clone());
            if self.exprs.var_cache.get(&key).is_none_or(|c| !surely_same(&c.value, &value)) {
                if !delta.named(&v.name) {
                    delta.names.push(v.name.clone());
                }
            }
            let value = std::rc::Rc::new(value);
            env.set_shared(v.name.clone(), value.clone());
            self.exprs.var_cache.insert(key, CachedVar { value, reads: log.take().normalized(), error });
        }
    }

    /// Rows for itemPopulationContext: for each top-level repeating group (or one under
    /// non-repeating groups) that has one, its expression is evaluated over the starting
    /// response with the form's own variables, and the group gets one row per resource, the
    /// i-th row remembering the i-th resource for the first pass (`population_rows`). A group
    /// inside another repeating group is populated row by row only in its first parent row.
    fn populate_rows(&mut self) {
        let vt = self.vt.clone();
        let book = &vt.form.expressions;
        let qr = crate::response::tree(self);
        let patient = Env::collection_of(&tree_of(&self.facts.chart.patient));
        let doc = NodeRef::new(qr);
        let shared = std::rc::Rc::new(vec![Item::new(Value::Node(doc))]);
        let mut env = base_env(&shared, &book.questionnaire, &patient, &self.facts.now.to_string(), &self.exprs.expr_memo);
        for (k, v) in &self.facts.context.launch {
            env.set_shared(k.clone(), Env::collection_of(v));
        }
        for v in &book.root_variables {
            let value = self.variable_value(v, &shared, &env).0;
            env.set(&v.name, value);
        }
        for (item, x) in book.with_expressions() {
            let Some((_, expr, _)) = &x.population else { continue };
            if !vt.form.item(item).is_repeating_group() {
                continue;
            }
            // The variables of the groups around it too (forms declare their queries on the
            // top group as often as on the Questionnaire), evaluated over the response root.
            let mut scope = env.clone();
            let mut around: Vec<crate::questionnaire::ItemId> = vt.form.ancestors(item).collect();
            around.reverse();
            for a in around {
                for v in &book.item(a).variables {
                    let value = self.variable_value(v, &shared, &scope).0;
                    scope.set(&v.name, value);
                }
            }
            // Failures are reported by the pass itself (the rows then stay as they are).
            let Ok(found) = expr.evaluate(&shared, &scope) else { continue };
            // The rows under the group's first parent (see above).
            if let Some(parent) = self.by_item[item.index()].first().map(|r| self.nodes[r.index()].parent) {
                let mut rows = self.rows(parent, item);
                while rows.len() < found.len() {
                    let row = self.new_row(item, parent);
                    self.enqueue_rows_of(row);
                    rows.push(row);
                }
                for (row, resource) in rows.iter().zip(&found) {
                    self.exprs.population_rows.insert(row.index(), resource.clone());
                }
            }
        }
    }

    /// A query variable's value: its searches, with `{{...}}` filled in from `env`, answered
    /// from the chart (see `fhir_query`). One search gives its `searchset` Bundle; a batch
    /// gives a `batch-response` Bundle whose entries hold each search's Bundle, as a server
    /// would answer. A search that cannot be answered is reported (with the variable's path):
    /// a single search leaves the variable empty; in a batch, its entry is an error and the
    /// others still answer.
    fn answer_query(&self, q: &QuerySource, input: &[Item], env: &Env) -> (Vec<Item>, Option<String>) {
        let fill = |parts: &[crate::fhir_query::Part]| -> Result<String, String> {
            let mut url = String::new();
            for p in parts {
                match p {
                    crate::fhir_query::Part::Text(t) => url.push_str(t),
                    crate::fhir_query::Part::Expr(e) => {
                        let out = e.evaluate(input, env).map_err(|e| format!("in {{{{...}}}}: {e}"))?;
                        match out.first().map(|i| i.to_json()) {
                            Some(Json::String(s)) => url.push_str(&s),
                            Some(other) => url.push_str(other.to_string().trim_matches('"')),
                            None => {}
                        }
                    }
                }
            }
            Ok(url)
        };
        // Each search's URL, filled in once: together they are the cache key (the same searches
        // give the very same collection), and a batch entry whose URL cannot be filled in is an
        // error entry of its own, as a failing search is.
        let urls: Vec<Result<String, String>> = match q {
            QuerySource::One(parts) => vec![fill(parts)],
            QuerySource::Batch(all) => all.iter().map(|p| fill(p)).collect(),
        };
        let batch = matches!(q, QuerySource::Batch(_));
        let key = urls.iter().map(|u| format!("{u:?}")).collect::<Vec<_>>().join("\u{1f}") + if batch { "\u{1f}batch" } else { "" };
        if let Some(hit) = self.exprs.query_results.borrow().get(&key) {
            return hit.clone();
        }
        let answer = self.search_chart(batch, &urls);
        self.exprs.query_results.borrow_mut().insert(key, answer.clone());
        answer
    }

    /// The searches over the chart (see `answer_query`): one gives its `searchset` Bundle, a
    /// batch a `batch-response` Bundle with an entry per search.
    fn search_chart(&self, batch: bool, urls: &[Result<String, String>]) -> (Vec<Item>, Option<String>) {
        let chart = &self.facts.chart;
        let resources = chart.resources();
        let is_patient = |r: &str| chart.is_patient_reference(r);
        let run = |url: &Result<String, String>| -> Result<Json, String> {
            let url = url.as_ref().map_err(String::clone)?;
            let query = crate::fhir_query::Query::parse(url).map_err(|e| e.to_string())?;
            crate::fhir_query::search(&resources, &is_patient, &query).map_err(|e| format!("{url}: {e}"))
        };
        let (bundle, problem) = if !batch {
            match urls.first().map(run) {
                Some(Ok(b)) => (b, None),
                Some(Err(e)) => return (Vec::new(), Some(e)),
                None => return (Vec::new(), None),
            }
        } else {
            // Each search answers on its own, as a server's batch does: one that fails is an
            // error entry there, and the others still answer.
            let mut entries = Vec::new();
            let mut failures = Vec::new();
            for url in urls {
                match run(url) {
                    Ok(b) => entries.push(serde_json::json!({"resource": b, "response": {"status": "200 OK"}})),
                    Err(e) => {
                        entries.push(serde_json::json!({"response": {"status": "400 Bad Request"}}));
                        failures.push(e);
                    }
                }
            }
            let b = serde_json::json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries});
            (b, (!failures.is_empty()).then(|| failures.join("; ")))
        };
        (Env::collection_of(&bundle).to_vec(), problem)
    }

    /// A variable's value and, if it failed, why: its FHIRPath, its chart search, or nothing
    /// (a language this engine does not evaluate, warned at load).
    fn variable_value(&self, v: &Variable, input: &[Item], env: &Env) -> (Vec<Item>, Option<String>) {
        match (&v.expr, &v.query) {
            (Some(expr), _) => match expr.evaluate(input, env) {
                Ok(value) => (value, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            },
            (None, Some(q)) => self.answer_query(q, input, env),
            (None, None) => (Vec::new(), None),
        }
    }

    /// An `initialExpression`'s result as the starting answer of every empty node of the item
    /// (one value unless the item repeats). It counts as prefilled from the record: the patient
    /// sees it and may change it, and only a change is written back.
    fn set_initial(&mut self, n: NodeId, expr: &Expr, path: &str, input: &[Item], env: &Env, errors: &mut Vec<(String, String)>) {
        if !self.nodes[n.index()].answers.is_empty() {
            return;
        }
        let vt = self.vt.clone();
        let def = vt.form.item(self.nodes[n.index()].item);
        let out = match expr.evaluate(input, env) {
            Ok(out) => out,
            Err(e) => {
                errors.push((path.to_owned(), format!("initialExpression: {e}; the item starts empty")));
                return;
            }
        };
        let mut values: Vec<intake_fhir::Value> = out.iter().filter_map(|v| value_for(def, &v.to_json())).collect();
        if values.len() < out.len() {
            errors.push((path.to_owned(), format!("initialExpression: {} of {} values do not fit a {} item; left out", out.len() - values.len(), out.len(), def.item_type.code())));
        }
        if !def.repeats {
            values.truncate(1);
        }
        if values.is_empty() {
            return;
        }
        self.nodes[n.index()].answers = values.clone();
        self.nodes[n.index()].prefilled = Some(crate::session::Prefilled { source: format!("initialExpression at {path}"), values });
        self.mark_changed(n);
        self.enqueue(n);
        if self.nodes[n.index()].state.enabled {
            self.effective_answers_changed(n);
        }
    }

    /// The node's computed options (`answerExpression`), the options its toggles turn off, and
    /// its computed text (`cqf-expression`). A change marks the node changed, so the page
    /// redraws it; a failure keeps the form's own options and text and is reported.
    fn run_option_expressions(&mut self, n: NodeId, x: &ItemExpressions, input: &[Item], env: &Env, errors: &mut Vec<(String, String)>) {
        let mut changed = false;
        if let Some((expr, path)) = &x.answer_options {
            let choices = match expr.evaluate(input, env) {
                Ok(out) => {
                    let mut choices: Vec<crate::questionnaire::AnswerChoice> = Vec::new();
                    for item in &out {
                        match choice_of(&item.to_json()) {
                            Some(c) if !choices.iter().any(|o| o.value == c.value) => choices.push(c),
                            Some(_) => {}
                            None => errors.push((path.clone(), format!("answerExpression: {} is not an option value; left out", item.to_json()))),
                        }
                    }
                    Some(choices)
                }
                Err(e) => {
                    errors.push((path.clone(), format!("answerExpression: {e}; the form's own options are shown")));
                    None
                }
            };
            if self.dyn_choices[n.index()] != choices {
                self.dyn_choices[n.index()] = choices;
                changed = true;
            }
        }
        if !x.toggles.is_empty() {
            let mut off: Vec<intake_fhir::Value> = Vec::new();
            for t in &x.toggles {
                let on = match t.expr.evaluate(input, env) {
                    Ok(out) => is_true(&out),
                    Err(e) => {
                        errors.push((t.path.clone(), format!("answerOptionsToggleExpression: {e}; its options are not offered")));
                        false
                    }
                };
                if !on {
                    off.extend(t.options.iter().cloned());
                }
            }
            if self.off_options[n.index()] != off {
                self.off_options[n.index()] = off;
                changed = true;
            }
        }
        if let Some((expr, path)) = &x.text {
            let text = match expr.evaluate(input, env) {
                Ok(out) => match out.as_slice() {
                    [] => None,
                    [one] => one.as_str().map(str::to_owned).or_else(|| Some(one.to_json().to_string())),
                    _ => {
                        errors.push((path.clone(), "cqf-expression on text gave several values; the form's own text is shown".into()));
                        None
                    }
                },
                Err(e) => {
                    errors.push((path.clone(), format!("cqf-expression: {e}; the form's own text is shown")));
                    None
                }
            };
            if self.dyn_text[n.index()] != text {
                self.dyn_text[n.index()] = text;
                changed = true;
            }
        }
        if changed {
            self.mark_changed(n);
            self.enqueue(n);
        }
    }

    /// Node `n`'s item in the response, under its parent's (`parent`): among the parent's
    /// response items with `n`'s linkId, the one at `n`'s place among its siblings of that item
    /// that are in the response (rows that are empty or hidden are left out of it).
    fn response_item_of(&self, n: NodeId, parent: &NodeRef, present: &[bool]) -> Option<NodeRef> {
        let node = &self.nodes[n.index()];
        let siblings = match node.parent {
            Some(p) => &self.nodes[p.index()].children,
            None => &self.roots,
        };
        let k = siblings.iter().take_while(|m| **m != n).filter(|m| self.nodes[m.index()].item == node.item && present[m.index()]).count();
        let link_id = self.vt.form.item(node.item).link_id.as_str();
        let is = |j: &Json| j.get("linkId").and_then(Json::as_str) == Some(link_id);
        let json = parent.json();
        if let Some(items) = json.get("item").and_then(Json::as_array) {
            let i = items.iter().enumerate().filter(|(_, j)| is(j)).nth(k)?.0;
            return Some(parent.key("item").index(i));
        }
        // Under a question, its children are in its (first) answer.
        let answers = json.get("answer").and_then(Json::as_array)?;
        answers.iter().enumerate().find_map(|(a, answer)| {
            let i = answer.get("item").and_then(Json::as_array)?.iter().enumerate().filter(|(_, j)| is(j)).nth(k)?.0;
            Some(parent.key("answer").index(a).key("item").index(i))
        })
    }
}

/// An `answerExpression` result as an option: a Coding (labelled by its display, else its
/// code), or a plain value (text, a whole number, a date) labelled by itself.
fn choice_of(json: &Json) -> Option<crate::questionnaire::AnswerChoice> {
    use intake_fhir::Value as V;
    let (value, label) = match json {
        Json::Object(o) if o.contains_key("code") || o.contains_key("display") => {
            let c: intake_fhir::Coding = intake_fhir::FromJson::from_json(json, &mut intake_fhir::Cx::new("answerExpression")).ok()?;
            let label = c.display.clone().or_else(|| c.code.clone()).unwrap_or_default();
            (V::Coding(c), label)
        }
        Json::String(s) => (V::String(s.clone()), s.clone()),
        Json::Number(n) if n.is_i64() => (V::Integer(n.as_i64()?), n.to_string()),
        _ => return None,
    };
    Some(crate::questionnaire::AnswerChoice { value, label, designations: Vec::new(), initial_selected: false, exclusive: false, prefix: None, rendering: None })
}

/// A FHIRPath result as an answer of the item's type; what does not fit is left out.
fn value_for(def: &crate::questionnaire::ItemDef, json: &Json) -> Option<intake_fhir::Value> {
    use crate::questionnaire::ItemType;
    // A whole number computed for an integer item (FHIRPath sums are decimals: 7.0).
    let json = match (def.item_type, json.as_f64()) {
        (ItemType::Integer, Some(f)) if f.fract() == 0.0 && f.abs() < 2_147_483_648.0 => Json::from(f as i64),
        // A date-time from the chart (a Condition's onset) for a date item: its date, as the
        // record states it (no conversion between time zones).
        // A number or yes/no for a text item is its text (a string item stays a string).
        (ItemType::String | ItemType::Text, _) if json.is_number() || json.is_boolean() => Json::String(json.to_string()),
        (ItemType::Date, _) => match json.as_str() {
            Some(t) if t.len() > 10 && t.as_bytes().get(10) == Some(&b'T') => Json::String(t[..10].to_owned()),
            _ => json.clone(),
        },
        _ => json.clone(),
    };
    // Checked like a patient's answer: a code that is not one of a choice item's options is
    // not an answer to it (a chart problem list offered to a short list keeps what is on it).
    crate::answers_file::json_value(def, &json).ok().and_then(|v| crate::answer::coerce(def, v).ok())
}
