//! The rhai sandbox that compiles and runs rule scripts (the `rules` feature).
//!
//! Safety: rules come from files an informaticist edits, and a vendor may load their own, so
//! the engine is sandboxed. It is built raw (`Engine::new_raw`) with no standard packages, only
//! the host API: no `eval`, no modules, no I/O, no clock, no script-defined functions (so no
//! recursion at all). Operations, expression depth, string, array and map sizes are capped, so
//! an endless loop or a giant string stops within milliseconds with an error naming the file,
//! line and column. A failing rule never takes the session down: the session records the error
//! and fails *open* (every item the rule could ask is shown), because asking one question too
//! many is safer than silently skipping one.
//!
//! Each script is compiled once when the visit type loads. Its AST is walked to find every
//! linkId it mentions (`answer("x")`, `ask("x", ...)`): unknown linkIds are load errors with
//! positions, and the items a rule can `ask` are *gated*: hidden unless a rule asks for them.
//! At run time the engine records which answers a rule actually read, so after an answer only
//! the rules that read it run again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use intake_fhir::{Date, Value};
use rhai::{ASTNode, Dynamic, Engine, EvalAltResult, Expr, ImmutableString, NativeCallContext, Position, Stmt, AST, FLOAT, INT};

use super::*;
use crate::chart::observed_at;
use crate::questionnaire::Form;

impl Span {
    fn of(pos: Position) -> Span {
        Span { line: pos.line().unwrap_or(0), column: pos.position().unwrap_or(0) }
    }
}

/// Host functions whose first argument is a linkId.
const LINK_ID_FUNCTIONS: &[&str] =
    &["answer", "answers", "answer_in", "answered", "has_answer_code", "ask", "hide", "require", "flag"];

/// Host functions a rule may not call as methods (`x.urgent(...)` would hide the call from the
/// checks just as `"x".ask(...)` would).
const OTHER_HOST_FUNCTIONS: &[&str] = &["urgent"];

/// Every host function a rule may call (`rules/README.md` documents each), for suggestions.
const HOST_FUNCTIONS: &[&str] = &[
    "age", "age_in_months", "allergies", "answer", "answer_in", "answered", "answers", "ask", "conditions", "context", "flag",
    "has_allergy", "has_answer_code", "has_condition", "has_visit_reason", "hide", "is_proxy", "latest_observation",
    "latest_observation_within", "medications", "require", "sex", "takes_medication", "today", "urgent", "valueset", "visit_reason",
];

/// Functions rhai itself provides to a raw engine, and the array helpers registered here.
const BUILT_IN_FUNCTIONS: &[&str] = &["len", "contains", "is_empty", "print", "debug", "type_of", "is_def_var", "is_def_fn"];

/// Function-pointer machinery: `Fn("hide").call("x")` reaches host functions without naming
/// them, so neither the linkId checks nor the gating analysis would see the call.
const FUNCTION_POINTERS: &[&str] = &["Fn", "call", "curry"];

struct RunState {
    facts: Facts,
    answers: Rc<RefCell<AnswerTable>>,
    reads: Vec<ItemId>,
    effects: Effects,
    /// Units of host-function work so far (see [`MAX_HOST_WORK`]).
    host_work: u64,
}

type Slot = Rc<RefCell<Option<RunState>>>;

/// The compiled rules of a visit type.
pub struct RuleBook {
    /// None for a form without rules (any bare Questionnaire): building the sandboxed engine
    /// costs ~9 ms of a browser mount, and there is nothing to run.
    engine: Option<Engine>,
    pub rules: Vec<Rule>,
    /// Each rule's compiled script, by the rule's index.
    asts: Vec<AST>,
    slot: Slot,
    /// The value sets the rules name (`valueset("...")`), listed at load.
    code_sets: CodeSets,
}

impl fmt::Debug for RuleBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleBook").field("rules", &self.rules).finish()
    }
}

/// Syntax errors after the first (on line `first_line`): the script is parsed again with each
/// erroneous line blanked (line numbers kept), up to 20 errors. Errors a blanked line causes
/// further on (an unclosed block reported at the end of the file) are not reported: only
/// errors on later lines, before the end of the file, each line once.
pub fn more_syntax_errors(text: &str, first_line: usize) -> Vec<(usize, usize, String)> {
    // Parsed as the sandbox parses (strict variables, the same nesting limit).
    let mut engine = Engine::new_raw();
    engine.set_max_expr_depths(MAX_EXPR_DEPTH).set_strict_variables(true);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last_line = lines.len();
    let mut out = Vec::new();
    let mut blank = first_line;
    for _ in 0..20 {
        match lines.get_mut(blank.saturating_sub(1)) {
            Some(l) => *l = " ".repeat(l.chars().count()),
            None => break,
        }
        let Err(e) = engine.compile(lines.join("\n")) else { break };
        let (line, column) = (e.position().line().unwrap_or(0), e.position().position().unwrap_or(0));
        if line <= blank || line >= last_line || line == 0 {
            break;
        }
        out.push((line, column, e.err_type().to_string()));
        blank = line;
    }
    out
}

impl RuleBook {
    /// The value sets the rules test chart codes against, by the name they use (for
    /// `intake explain`: which set matched which chart entry).
    pub fn value_sets_used(&self) -> Vec<crate::value_set::CodeSet> {
        let mut out: Vec<_> = self.code_sets.borrow().values().cloned().collect();
        intake_order::sort_by(&mut out, |a, b| a.name.cmp(&b.name));
        out
    }

    /// The languages the rules write reasons in (keys of `#{ en: "...", es: "..." }` maps that
    /// look like language codes), besides English, in order of first use.
    pub fn languages(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ast in &self.asts {
            ast.walk(&mut |path: &[ASTNode]| {
                if let Some(ASTNode::Expr(Expr::Map(m, _))) = path.last() {
                    for (ident, _) in m.0.iter() {
                        let k = ident.name.as_str();
                        let looks_like_language = (k.len() == 2 && k.chars().all(|c| c.is_ascii_lowercase()))
                            || (k.len() == 5 && k.as_bytes()[2] == b'_' && k[..2].chars().all(|c| c.is_ascii_lowercase()));
                        if looks_like_language && k != "en" && !out.iter().any(|o| o == k) {
                            out.push(k.to_owned());
                        }
                    }
                }
                true
            });
        }
        out
    }

    /// Compile scripts against a form. Fails on the first script with a syntax error or an
    /// unknown linkId; warnings (linkIds given as expressions) are returned alongside.
    pub fn compile(form: &Form, sources: &[RuleSource]) -> Result<(RuleBook, Vec<RuleWarning>), RuleError> {
        Self::compile_with(form, sources, &crate::value_set::ValueSetLibrary::default())
    }

    /// [`RuleBook::compile`] with the value sets rules may test codes against
    /// (`valueset("insulins")`: `rules/valuesets/` and the visit type's own).
    pub fn compile_with(
        form: &Form,
        sources: &[RuleSource],
        library: &crate::value_set::ValueSetLibrary,
    ) -> Result<(RuleBook, Vec<RuleWarning>), RuleError> {
        let slot: Slot = Rc::new(RefCell::new(None));
        let code_sets: CodeSets = Rc::default();
        // Rules name items by key; a linkId several items share cannot be named.
        let link_ids: Rc<HashMap<String, ItemId>> = Rc::new(
            form.items.iter().filter(|i| !form.duplicated.contains(&i.key)).map(|i| (i.key.clone(), i.id)).collect(),
        );
        let engine = (!sources.is_empty()).then(|| sandboxed_engine(&slot, &link_ids, &code_sets));
        let mut rules = Vec::new();
        let mut asts = Vec::new();
        let mut warnings = Vec::new();
        for src in sources {
            if src.text.len() > MAX_SCRIPT_BYTES {
                return Err(RuleError {
                    file: src.name.clone(),
                    span: Span::default(),
                    kind: RuleErrorKind::TooLarge { bytes: src.text.len() },
                });
            }
            // A byte-order mark is not part of the script.
            let text = src.text.strip_prefix('\u{feff}').unwrap_or(&src.text);
            let Some(engine) = &engine else { break };
            let ast = engine.compile(text).map_err(|e| RuleError {
                file: src.name.clone(),
                span: Span::of(e.position()),
                kind: RuleErrorKind::Syntax(e.err_type().to_string()),
            })?;
            let (mentions, mut w) = find_mentions(&ast, &src.name, &link_ids)?;
            check_comparisons(&ast, &src.name, form, &link_ids)?;
            collect_code_sets(&ast, &src.name, library, &mut code_sets.borrow_mut())?;
            warnings.append(&mut w);
            let mut gates: Vec<ItemId> = mentions.iter().filter(|m| m.function == "ask").map(|m| m.item).collect();
            intake_order::sort_dedup(&mut gates);
            rules.push(Rule { name: src.name.clone(), mentions, gates });
            asts.push(ast);
        }
        Ok((RuleBook { engine, rules, asts, slot, code_sets }, warnings))
    }

    /// Run one rule. The slot holds the run's state for the host functions and is always
    /// emptied again, also when the script fails.
    pub fn run(&self, rule: usize, facts: &Facts, answers: &Rc<RefCell<AnswerTable>>) -> Outcome {
        let r = &self.rules[rule];
        *self.slot.borrow_mut() = Some(RunState {
            facts: facts.clone(),
            answers: answers.clone(),
            reads: Vec::new(),
            effects: Effects::default(),
            host_work: 0,
        });
        // A rule exists, so the engine does (see `compile`).
        let result = match &self.engine {
            Some(engine) => engine.run_ast(&self.asts[rule]),
            None => Ok(()),
        };
        let (mut reads, effects) = match self.slot.borrow_mut().take() {
            Some(st) => (st.reads, st.effects),
            None => (Vec::new(), Effects::default()),
        };
        intake_order::sort_dedup(&mut reads);
        let error = result.err().map(|e| runtime_error(&r.name, &e));
        Outcome { effects, error, reads }
    }
}

fn runtime_error(file: &str, e: &EvalAltResult) -> RuleError {
    // Errors inside a script function carry the inner error; report the innermost position.
    let mut err = e;
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = err {
        err = inner;
    }
    let span = Span::of(err.position());
    let kind = match err {
        EvalAltResult::ErrorTooManyOperations(_) => RuleErrorKind::Limit(format!(
            "it ran more than {MAX_OPERATIONS} operations (an endless loop?)"
        )),
        EvalAltResult::ErrorStackOverflow(_) => {
            RuleErrorKind::Limit(format!("expressions nested deeper than {MAX_EXPR_DEPTH} levels"))
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            RuleErrorKind::Limit(format!("{what} grew past its limit ({MAX_STRING_SIZE} characters / {MAX_ARRAY_SIZE} items)"))
        }
        EvalAltResult::ErrorTooManyVariables(_) => RuleErrorKind::Limit("too many variables".into()),
        EvalAltResult::ErrorTerminated(..) => RuleErrorKind::Limit(format!(
            "its calls to host functions did more than {MAX_HOST_WORK} units of work (a loop over the chart?)"
        )),
        EvalAltResult::ErrorRuntime(d, _) => RuleErrorKind::Runtime(d.to_string()),
        // A misspelt host function: name the one that was probably meant.
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            let name = sig.split(|c: char| c == ' ' || c == '(').next().unwrap_or(sig);
            let hint = crate::suggest::hint(name, HOST_FUNCTIONS.iter().copied());
            RuleErrorKind::Runtime(format!("no function {sig}{hint}"))
        }
        other => RuleErrorKind::Runtime(other.to_string().split(" (line").next().unwrap_or_default().to_owned()),
    };
    RuleError { file: file.to_owned(), span, kind }
}

/// A construct rules may not use, at its position in the file.
fn forbidden(file: &str, pos: Position, why: String) -> RuleError {
    RuleError { file: file.to_owned(), span: Span::of(pos), kind: RuleErrorKind::Forbidden(why) }
}

/// Walk the AST for host calls whose first argument names an item.
fn find_mentions(
    ast: &AST,
    file: &str,
    link_ids: &HashMap<String, ItemId>,
) -> Result<(Vec<Mention>, Vec<RuleWarning>), RuleError> {
    let mut mentions = Vec::new();
    let mut warnings = Vec::new();
    let mut error = None;
    ast.walk(&mut |path: &[ASTNode]| {
        // A call used as a statement is a `Stmt::FnCall`; inside an expression, an `Expr::FnCall`.
        let (call, pos) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos))) => (call, pos),
            Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => (call, pos),
            // `"x".ask(..)` would hide the linkId from the checks below: refused.
            Some(ASTNode::Expr(Expr::MethodCall(call, pos))) => {
                let name = call.name.as_str();
                if LINK_ID_FUNCTIONS.contains(&name) || OTHER_HOST_FUNCTIONS.contains(&name) || FUNCTION_POINTERS.contains(&name) {
                    error = Some(forbidden(file, *pos, if FUNCTION_POINTERS.contains(&name) {
                        format!("{name}() on a function pointer is not allowed in rules: call host functions by name, e.g. hide(\"item\")")
                    } else {
                        format!("call {name}() as a function with the linkId first, e.g. {name}(\"item\", ...), not as a method: `intake check` must be able to verify the linkId")
                    }));
                    return false;
                }
                return true;
            }
            _ => return true,
        };
        if FUNCTION_POINTERS.contains(&call.name.as_str()) {
            error = Some(forbidden(file, *pos, format!(
                "{}() is not allowed in rules: function pointers hide which items a rule touches; call host functions by name, e.g. hide(\"item\")",
                call.name
            )));
            return false;
        }
        let name = call.name.as_str();
        // A function nobody registered fails only when the rule reaches it, for one patient
        // in a hundred: say so now, with the host function that was probably meant. (The
        // engine has no standard packages and scripts cannot define functions, so what may be
        // called is exactly these lists and rhai's operators.)
        if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && !HOST_FUNCTIONS.contains(&name)
            && !BUILT_IN_FUNCTIONS.contains(&name)
        {
            error = Some(RuleError {
                file: file.to_owned(),
                span: Span::of(*pos),
                kind: RuleErrorKind::Forbidden(format!(
                    "{name}() is not a function rules can call{}; see rules/README.md for the host functions",
                    crate::suggest::hint(name, HOST_FUNCTIONS.iter().chain(BUILT_IN_FUNCTIONS).copied())
                )),
            });
            return false;
        }
        if !LINK_ID_FUNCTIONS.contains(&name) {
            return true;
        }
        match call.args.first() {
            Some(Expr::StringConstant(s, arg_pos)) => match link_ids.get(s.as_str()) {
                Some(item) => mentions.push(Mention {
                    function: name.to_owned(),
                    link_id: s.to_string(),
                    item: *item,
                    span: Span::of(*arg_pos),
                }),
                None => {
                    error = Some(RuleError {
                        file: file.to_owned(),
                        span: Span::of(*arg_pos),
                        kind: RuleErrorKind::UnknownLinkId {
                            function: name.to_owned(),
                            link_id: s.to_string(),
                            suggestion: crate::suggest::nearest(s, link_ids.keys().map(|k| k.as_ref())).map(str::to_owned),
                        },
                    });
                    return false;
                }
            },
            _ => warnings.push(RuleWarning {
                file: file.to_owned(),
                span: Span::of(*pos),
                message: format!(
                    "{name}() is given a computed linkId; `intake check` cannot verify it{}",
                    if name == "ask" { ", and the item will not be hidden before the rule asks for it" } else { "" }
                ),
            }),
        }
        true
    });
    match error {
        Some(e) => Err(e),
        None => Ok((mentions, warnings)),
    }
}

/// A constant a rule compares an answer with, as the checks see it.
enum Constant<'a> {
    Text(&'a str),
    Bool,
    Number,
}

fn constant(e: &Expr) -> Option<(Constant<'_>, Position)> {
    Some(match e {
        Expr::StringConstant(s, p) => (Constant::Text(s.as_str()), *p),
        Expr::BoolConstant(_, p) => (Constant::Bool, *p),
        Expr::IntegerConstant(_, p) => (Constant::Number, *p),
        #[allow(unreachable_patterns)]
        Expr::FloatConstant(_, p) => (Constant::Number, *p),
        _ => return None,
    })
}

/// `answer("x")` with a literal linkId: the linkId.
fn answer_of(e: &Expr) -> Option<&str> {
    match e {
        Expr::FnCall(call, _) if call.name.as_str() == "answer" => match call.args.first() {
            Some(Expr::StringConstant(s, _)) => Some(s.as_str()),
            _ => None,
        },
        _ => None,
    }
}

/// The codes a choice item's answer can be, when the form lists them all (None: free text is
/// possible, or the value set could not be listed, so any code may be right).
fn known_codes(def: &crate::questionnaire::ItemDef) -> Option<Vec<String>> {
    use crate::questionnaire::ItemType;
    if def.item_type != ItemType::Choice || def.options_fallback.is_some() || def.options.is_empty() {
        return None;
    }
    Some(
        def.options
            .iter()
            .filter_map(|o| match &o.value {
                Value::Coding(c) => c.code.clone(),
                Value::String(t) => Some(t.clone()),
                other => Some(other.display()),
            })
            .collect(),
    )
}

/// Rules checked against the form: `answer("x") == C` (and `!=`, either way round) and
/// `has_answer_code("x", "c")` where C cannot be what item x holds. Such a condition can never
/// be true, and "0 errors" would ship a flag that never fires. Where a rule is too dynamic to
/// check (a computed linkId or value), nothing is said.
fn check_comparisons(ast: &AST, file: &str, form: &Form, link_ids: &HashMap<String, ItemId>) -> Result<(), RuleError> {
    use crate::questionnaire::ItemType as T;
    let problem = |link_id: &str, c: &Constant| -> Option<String> {
        let def = form.item(*link_ids.get(link_id)?);
        let kind = match def.item_type {
            T::Boolean => "a yes/no question; compare with true or false",
            T::Integer | T::Decimal | T::Quantity => "a number question; compare with a number",
            T::String | T::Text | T::Date | T::DateTime | T::Time | T::Url => "answered with text; compare with text",
            T::Choice | T::OpenChoice => "a choice question; its answer is an option's code (text)",
            _ => return None,
        };
        match (def.item_type, c) {
            (T::Boolean, Constant::Bool) | (T::Integer | T::Decimal | T::Quantity, Constant::Number) => None,
            (T::String | T::Text | T::Date | T::DateTime | T::Time | T::Url | T::OpenChoice, Constant::Text(_)) => None,
            (T::Choice, Constant::Text(code)) => {
                let codes = known_codes(def)?;
                if codes.iter().any(|k| k == code) {
                    return None;
                }
                Some(format!(
                    "'{code}' is not one of the options of '{link_id}'{} (its codes: {})",
                    crate::suggest::hint(code, codes.iter().map(String::as_str)),
                    codes.join(", ")
                ))
            }
            (_, Constant::Text(t)) => Some(format!("'{link_id}' is {kind}, not \"{t}\"")),
            (_, Constant::Bool) | (_, Constant::Number) => Some(format!("'{link_id}' is {kind}")),
        }
    };
    first_problem_in_calls(ast, file, |call, _| {
        let found = match (call.name.as_str(), call.args.as_slice()) {
            ("==" | "!=", [a, b]) => match (answer_of(a), constant(b), answer_of(b), constant(a)) {
                (Some(l), Some((c, pos)), _, _) | (_, _, Some(l), Some((c, pos))) => problem(l, &c).map(|m| (m, pos)),
                _ => None,
            },
            ("has_answer_code", [Expr::StringConstant(l, _), Expr::StringConstant(code, pos)]) => {
                problem(l.as_str(), &Constant::Text(code.as_str())).filter(|_| {
                    link_ids.get(l.as_str()).is_some_and(|i| matches!(form.item(*i).item_type, T::Choice))
                }).map(|m| (m, *pos))
            }
            _ => None,
        };
        found.map(|(message, pos)| (format!("this can never be true: {message}"), pos))
    })
}

/// The value sets the rules name, by the name they use, listed once at load.
type CodeSets = Rc<RefCell<HashMap<String, crate::value_set::CodeSet>>>;

/// `valueset("x")` calls: each names a set that exists and can be listed in full, by a name
/// written in the rule (a computed name could not be checked, and is refused like a computed
/// linkId would be hidden from checks).
fn collect_code_sets(
    ast: &AST,
    file: &str,
    library: &crate::value_set::ValueSetLibrary,
    sets: &mut HashMap<String, crate::value_set::CodeSet>,
) -> Result<(), RuleError> {
    first_problem_in_calls(ast, file, |call, pos| {
        if call.name.as_str() != "valueset" {
            return None;
        }
        match call.args.as_slice() {
            [Expr::StringConstant(name, arg_pos)] => match library.code_set(name) {
                Ok(set) => {
                    sets.insert(name.to_string(), set);
                    None
                }
                Err(m) => Some((m, *arg_pos)),
            },
            _ => Some(("valueset() takes the value set's name, url or id as text, e.g. valueset(\"insulins\")".to_owned(), pos)),
        }
    })
}

/// Walk every function call of a script (as a statement or inside an expression) until `check`
/// finds a problem: the first one is the error, at the position `check` gives.
fn first_problem_in_calls(ast: &AST, file: &str, mut check: impl FnMut(&rhai::FnCallExpr, Position) -> Option<(String, Position)>) -> Result<(), RuleError> {
    let mut error = None;
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, pos) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, pos))) => (&**call, *pos),
            Some(ASTNode::Stmt(Stmt::FnCall(call, pos))) => (&**call, *pos),
            _ => return true,
        };
        match check(call, pos) {
            Some((message, at)) => {
                error = Some(RuleError { file: file.to_owned(), span: Span::of(at), kind: RuleErrorKind::Forbidden(message) });
                false
            }
            None => true,
        }
    });
    error.map_or(Ok(()), Err)
}

fn sandboxed_engine(slot: &Slot, link_ids: &Rc<HashMap<String, ItemId>>, code_sets: &CodeSets) -> Engine {
    let mut engine = Engine::new_raw();
    // No standard packages: rhai's built-in operators already cover arithmetic and comparisons
    // of the types rules see, and the array package alone instantiates sorting for every
    // element type (about 75 KB of wasm on a patient's phone). Rules get exactly the array
    // functions they need.
    register_array_api(&mut engine);
    register_checked_arithmetic(&mut engine);
    engine
        // Off, so the checked arithmetic below replaces rhai's built-in operators on numbers.
        .set_fast_operators(false)
        .set_max_operations(MAX_OPERATIONS)
        .set_max_expr_depths(MAX_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_ARRAY_SIZE)
        .set_max_variables(256)
        .set_strict_variables(true);
    engine.disable_symbol("eval");
    // Scripts may print while being written; the output goes nowhere (no I/O from rules).
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    // rhai calls `print`/`debug` to render the value, then hands it to the (silent) callbacks.
    engine.register_fn("print", |_: Dynamic| -> ImmutableString { ImmutableString::new() });
    engine.register_fn("debug", |_: Dynamic| -> ImmutableString { ImmutableString::new() });
    // Host work is checked between rhai operations: over budget, the run stops like any limit.
    let s = slot.clone();
    engine.on_progress(move |_| {
        let over = s.borrow().as_ref().is_some_and(|st| st.host_work > MAX_HOST_WORK);
        over.then(|| Dynamic::from("host work limit"))
    });
    register_chart_api(&mut engine, slot, code_sets);
    register_answer_api(&mut engine, slot, link_ids);
    register_effect_api(&mut engine, slot, link_ids);
    engine
}

type HostResult<T> = Result<T, Box<EvalAltResult>>;

fn host_error(ctx: &NativeCallContext, msg: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(msg.into(), ctx.call_position()).into()
}

/// Read the facts of the current run, charging one unit of host work plus what the chart
/// holds (`f` may walk any of its lists).
fn with_facts<T>(slot: &Slot, f: impl FnOnce(&Facts) -> T) -> Option<T> {
    if let Some(st) = slot.borrow_mut().as_mut() {
        let c = &st.facts.chart;
        st.host_work += 1 + ((c.conditions.len() + c.allergies.len() + c.medications.len()) as u64) + (c.observations.len() as u64 >> 8);
    }
    slot.borrow().as_ref().map(|st| f(&st.facts))
}

fn today(facts: &Facts) -> Date {
    facts.now.date
}

fn register_chart_api(engine: &mut Engine, slot: &Slot, code_sets: &CodeSets) {
    let s = slot.clone();
    engine.register_fn("age", move || -> INT {
        with_facts(&s, |f| f.chart.age_years(&today(f))).flatten().unwrap_or(-1)
    });
    let s = slot.clone();
    engine.register_fn("age_in_months", move || -> INT {
        with_facts(&s, |f| f.chart.age_months(&today(f))).flatten().unwrap_or(-1)
    });
    let s = slot.clone();
    engine.register_fn("sex", move || -> ImmutableString {
        with_facts(&s, |f| f.chart.patient.gender.clone().unwrap_or_else(|| "unknown".into()))
            .unwrap_or_default()
            .into()
    });
    let s = slot.clone();
    engine.register_fn("today", move || -> ImmutableString {
        with_facts(&s, |f| today(f).to_string()).unwrap_or_default().into()
    });
    let s = slot.clone();
    engine.register_fn("has_condition", move |code: &str| -> bool {
        with_facts(&s, |f| f.chart.has_condition(code)).unwrap_or(false)
    });
    let s = slot.clone();
    engine.register_fn("has_allergy", move |code: &str| -> bool {
        with_facts(&s, |f| f.chart.has_allergy(code)).unwrap_or(false)
    });
    let s = slot.clone();
    engine.register_fn("takes_medication", move |code: &str| -> bool {
        with_facts(&s, |f| f.chart.takes_medication(code)).unwrap_or(false)
    });
    // Codes as value sets: `takes_medication(valueset("insulins"))` matches any code of the
    // set (with its system), in place of listing every product code in the rule.
    engine.register_type_with_name::<crate::value_set::CodeSet>("ValueSet");
    let sets = code_sets.clone();
    engine.register_fn("valueset", move |name: &str| -> Dynamic {
        sets.borrow().get(name).cloned().map(Dynamic::from).unwrap_or(Dynamic::UNIT)
    });
    let s = slot.clone();
    engine.register_fn("takes_medication", move |set: crate::value_set::CodeSet| -> bool {
        // By the medication's own codes, or by an ingredient its Medication lists.
        with_facts(&s, |f| f.chart.medications.iter().any(|m| set.matching(&m.concept).is_some() || m.ingredients.iter().any(|c| set.contains_coding(c))))
            .unwrap_or(false)
    });
    let s = slot.clone();
    engine.register_fn("has_condition", move |set: crate::value_set::CodeSet| -> bool {
        with_facts(&s, |f| f.chart.conditions.iter().any(|c| c.resource.code.as_ref().is_some_and(|cc| set.matching(cc).is_some()))).unwrap_or(false)
    });
    let s = slot.clone();
    engine.register_fn("has_allergy", move |set: crate::value_set::CodeSet| -> bool {
        with_facts(&s, |f| f.chart.allergies.iter().any(|a| a.resource.code.as_ref().is_some_and(|cc| set.matching(cc).is_some()))).unwrap_or(false)
    });
    let s = slot.clone();
    engine.register_fn("conditions", move || -> rhai::Array {
        with_facts(&s, |f| {
            f.chart
                .conditions
                .iter()
                .filter_map(|c| c.resource.code.as_ref())
                .map(|cc| concept_map(cc).into())
                .collect()
        })
        .unwrap_or_default()
    });
    let s = slot.clone();
    engine.register_fn("allergies", move || -> rhai::Array {
        with_facts(&s, |f| {
            f.chart
                .allergies
                .iter()
                .map(|a| {
                    let mut m = a.resource.code.as_ref().map(concept_map).unwrap_or_default();
                    m.insert("criticality".into(), a.resource.criticality.clone().unwrap_or_default().into());
                    let reactions: rhai::Array = a
                        .resource
                        .reaction
                        .iter()
                        .flat_map(|r| r.manifestation.iter().map(|c| Dynamic::from(c.label())))
                        .collect();
                    m.insert("reactions".into(), reactions.into());
                    m.into()
                })
                .collect()
        })
        .unwrap_or_default()
    });
    let s = slot.clone();
    engine.register_fn("medications", move || -> rhai::Array {
        with_facts(&s, |f| {
            f.chart
                .medications
                .iter()
                .map(|m| {
                    let mut map = concept_map(&m.concept);
                    map.insert("dosage".into(), m.dosage.clone().unwrap_or_default().into());
                    map.into()
                })
                .collect()
        })
        .unwrap_or_default()
    });
    let s = slot.clone();
    engine.register_fn("latest_observation", move |code: &str| -> Dynamic {
        with_facts(&s, |f| observation_map(f, code, None)).unwrap_or(Dynamic::UNIT)
    });
    let s = slot.clone();
    engine.register_fn("latest_observation_within", move |code: &str, days: INT| -> Dynamic {
        with_facts(&s, |f| observation_map(f, code, Some(days as f64))).unwrap_or(Dynamic::UNIT)
    });
    let s = slot.clone();
    engine.register_fn("visit_reason", move || -> ImmutableString {
        with_facts(&s, |f| f.context.reasons.first().cloned().unwrap_or_default()).unwrap_or_default().into()
    });
    let s = slot.clone();
    engine.register_fn("has_visit_reason", move |reason: &str| -> bool {
        with_facts(&s, |f| f.context.reasons.iter().any(|r| r == reason)).unwrap_or(false)
    });
    let s = slot.clone();
    engine.register_fn("is_proxy", move || -> bool { with_facts(&s, |f| f.context.is_proxy()).unwrap_or(false) });
    let s = slot.clone();
    engine.register_fn("context", move |key: &str| -> Dynamic {
        with_facts(&s, |f| f.context.values.get(key).map(|v| Dynamic::from(v.clone())))
            .flatten()
            .unwrap_or(Dynamic::UNIT)
    });
}

/// Arithmetic that never fails on a patient's ordinary values.
///
/// Why: rhai stops a script on integer overflow or division by zero. A BMI rule dividing by a
/// height of 0 would then stop the whole rule, and everything after that line would go
/// unchecked for this patient. Here such a result is *unknown* (`()`), which compares false
/// with everything and stays unknown through further arithmetic, so `bmi > 30` is simply not
/// true and the rest of the rule still runs. Floats that come out infinite or NaN are unknown
/// too.
fn register_checked_arithmetic(engine: &mut Engine) {
    // Every registration goes through a plain `fn` pointer of one of a few signatures, so rhai's
    // registration machinery is instantiated once per signature, not once per operator (which
    // cost about 15 KB of wasm on the patient's phone).
    type Unit = ();
    macro_rules! op {
        ($name:literal, $assign:literal, $op:expr) => {{
            engine.register_fn($name, int_int::<{ $op }> as fn(INT, INT) -> Dynamic);
            engine.register_fn($name, float_float::<{ $op }> as fn(FLOAT, FLOAT) -> Dynamic);
            engine.register_fn($name, int_float::<{ $op }> as fn(INT, FLOAT) -> Dynamic);
            engine.register_fn($name, float_int::<{ $op }> as fn(FLOAT, INT) -> Dynamic);
            engine.register_fn($name, unknown as fn(Unit, INT) -> Dynamic);
            engine.register_fn($name, unknown as fn(INT, Unit) -> Dynamic);
            engine.register_fn($name, unknown as fn(Unit, FLOAT) -> Dynamic);
            engine.register_fn($name, unknown as fn(FLOAT, Unit) -> Dynamic);
            engine.register_fn($name, unknown as fn(Unit, Unit) -> Dynamic);
            // `x += y` with a number on the right: the same checks; the variable becomes
            // unknown on failure. (The right side is typed, so `text += "..."` keeps rhai's
            // own string concatenation.)
            engine.register_fn($assign, assign::<{ $op }, INT> as fn(&mut Dynamic, INT));
            engine.register_fn($assign, assign::<{ $op }, FLOAT> as fn(&mut Dynamic, FLOAT));
            engine.register_fn($assign, assign::<{ $op }, Unit> as fn(&mut Dynamic, Unit));
        }};
    }
    op!("+", "+=", ADD);
    op!("-", "-=", SUB);
    op!("*", "*=", MUL);
    op!("/", "/=", DIV);
    op!("%", "%=", REM);
    op!("**", "**=", POW);
    // Unary operators (also rhai built-ins only in its fast-operator mode).
    engine.register_fn("!", |b: bool| !b);
    engine.register_fn("-", |a: INT| known_int(a.checked_neg()));
    engine.register_fn("-", |a: FLOAT| -a);
    engine.register_fn("-", |_: Unit| Dynamic::UNIT);
    engine.register_fn("+", |a: INT| a);
    engine.register_fn("+", |a: FLOAT| a);
}

const ADD: u8 = 0;
const SUB: u8 = 1;
const MUL: u8 = 2;
const DIV: u8 = 3;
const REM: u8 = 4;
const POW: u8 = 5;

fn known_float(x: FLOAT) -> Dynamic {
    if x.is_finite() { Dynamic::from(x) } else { Dynamic::UNIT }
}

fn known_int(x: Option<INT>) -> Dynamic {
    x.map(Dynamic::from).unwrap_or(Dynamic::UNIT)
}

fn int_op(op: u8, a: INT, b: INT) -> Dynamic {
    known_int(match op {
        ADD => a.checked_add(b),
        SUB => a.checked_sub(b),
        MUL => a.checked_mul(b),
        DIV => a.checked_div(b),
        REM => a.checked_rem(b),
        _ => u32::try_from(b).ok().and_then(|b| a.checked_pow(b)),
    })
}

fn float_op(op: u8, a: FLOAT, b: FLOAT) -> Dynamic {
    known_float(match op {
        ADD => a + b,
        SUB => a - b,
        MUL => a * b,
        DIV => a / b,
        REM => a % b,
        _ => a.powf(b),
    })
}

fn int_int<const OP: u8>(a: INT, b: INT) -> Dynamic {
    int_op(OP, a, b)
}

fn float_float<const OP: u8>(a: FLOAT, b: FLOAT) -> Dynamic {
    float_op(OP, a, b)
}

fn int_float<const OP: u8>(a: INT, b: FLOAT) -> Dynamic {
    float_op(OP, a as FLOAT, b)
}

fn float_int<const OP: u8>(a: FLOAT, b: INT) -> Dynamic {
    float_op(OP, a, b as FLOAT)
}

fn unknown<A, B>(_: A, _: B) -> Dynamic {
    Dynamic::UNIT
}

fn assign<const OP: u8, B: Into<Dynamic>>(a: &mut Dynamic, b: B) {
    let b: Dynamic = b.into();
    let r = match (a.as_int(), a.as_float(), b.as_int(), b.as_float()) {
        (Ok(x), _, Ok(y), _) => int_op(OP, x, y),
        (Ok(x), _, _, Ok(y)) => float_op(OP, x as FLOAT, y),
        (_, Ok(x), Ok(y), _) => float_op(OP, x, y as FLOAT),
        (_, Ok(x), _, Ok(y)) => float_op(OP, x, y),
        _ if OP == ADD && a.is_string() => Dynamic::from(format!("{a}{b}")),
        _ => Dynamic::UNIT,
    };
    *a = r;
}

/// `len`, `is_empty`, `contains` (and so the `in` operator), and `for x in array`.
fn register_array_api(engine: &mut Engine) {
    engine.register_iterator::<rhai::Array>();
    engine.register_fn("len", |a: &mut rhai::Array| a.len() as INT);
    engine.register_fn("is_empty", |a: &mut rhai::Array| a.is_empty());
    engine.register_fn("contains", |a: &mut rhai::Array, x: Dynamic| a.iter().any(|y| same_value(y, &x)));
}

/// Equality of the plain values rules handle (booleans, numbers, strings, unit).
fn same_value(a: &Dynamic, b: &Dynamic) -> bool {
    if let (Some(x), Some(y)) = (a.clone().try_cast::<INT>(), b.clone().try_cast::<INT>()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_float().or_else(|_| a.as_int().map(|i| i as FLOAT)), b.as_float().or_else(|_| b.as_int().map(|i| i as FLOAT))) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.clone().try_cast::<ImmutableString>(), b.clone().try_cast::<ImmutableString>()) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.as_bool(), b.as_bool()) {
        return x == y;
    }
    a.is_unit() && b.is_unit()
}

fn concept_map(cc: &intake_fhir::CodeableConcept) -> rhai::Map {
    let mut m = rhai::Map::new();
    let first = cc.coding.first();
    m.insert("code".into(), first.and_then(|c| c.code.clone()).unwrap_or_default().into());
    m.insert("system".into(), first.and_then(|c| c.system.clone()).unwrap_or_default().into());
    m.insert("display".into(), cc.label().into());
    m
}

fn observation_map(f: &Facts, code: &str, within: Option<f64>) -> Dynamic {
    let Some(obs) = f.chart.latest_observation(code, &f.now, within) else { return Dynamic::UNIT };
    let o = &obs.resource;
    let mut m = rhai::Map::new();
    if let Some(v) = &o.value {
        m.insert("value".into(), value_to_dynamic(v));
        if let Value::Quantity(q) = v {
            m.insert("unit".into(), q.unit_key().unwrap_or_default().to_owned().into());
        }
    }
    if let Some(t) = observed_at(o) {
        m.insert("date".into(), t.date.to_string().into());
        let days = (f.now.epoch_millis() - t.epoch_millis()) / 86_400_000;
        m.insert("days_ago".into(), (days as INT).into());
    }
    let mut comps = rhai::Map::new();
    for c in &o.component {
        if let (Some(code), Some(v)) = (c.code.as_ref().and_then(|c| c.first_code()), &c.value) {
            comps.insert(code.into(), value_to_dynamic(v));
        }
    }
    m.insert("components".into(), comps.into());
    m.into()
}

/// How an answer looks to a rule: booleans, numbers and strings; a coding is its code;
/// a quantity is its number; a date is its `YYYY-MM-DD` text.
pub fn value_to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Boolean(b) => (*b).into(),
        Value::Integer(i) => (*i as INT).into(),
        Value::Decimal(d) => (*d as FLOAT).into(),
        Value::Quantity(q) => q.value.map(|x| Dynamic::from(x as FLOAT)).unwrap_or(Dynamic::UNIT),
        Value::Coding(c) => c.code.clone().unwrap_or_default().into(),
        other => other.display().into(),
    }
}

fn resolve(ctx: &NativeCallContext, link_ids: &HashMap<String, ItemId>, id: &str) -> HostResult<ItemId> {
    link_ids
        .get(id)
        .copied()
        .ok_or_else(|| host_error(ctx, format!("no item with linkId '{id}' in this visit type")))
}

/// Answers of an item, recording the read.
fn read_answers(slot: &Slot, item: ItemId) -> Vec<Value> {
    let mut guard = slot.borrow_mut();
    let Some(st) = guard.as_mut() else { return Vec::new() };
    st.host_work += 1;
    st.reads.push(item);
    let table = st.answers.borrow();
    table.get(item.index()).cloned().unwrap_or_default()
}

fn register_answer_api(engine: &mut Engine, slot: &Slot, link_ids: &Rc<HashMap<String, ItemId>>) {
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("answer", move |ctx: NativeCallContext, id: &str| -> HostResult<Dynamic> {
        let item = resolve(&ctx, &l, id)?;
        Ok(read_answers(&s, item).first().map(value_to_dynamic).unwrap_or(Dynamic::UNIT))
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("answers", move |ctx: NativeCallContext, id: &str| -> HostResult<rhai::Array> {
        let item = resolve(&ctx, &l, id)?;
        Ok(read_answers(&s, item).iter().map(value_to_dynamic).collect())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("answer_in", move |ctx: NativeCallContext, id: &str, unit: &str| -> HostResult<Dynamic> {
        let item = resolve(&ctx, &l, id)?;
        let Some(Value::Quantity(q)) = read_answers(&s, item).into_iter().next() else { return Ok(Dynamic::UNIT) };
        let (Some(v), Some(from)) = (q.value, q.unit_key()) else { return Ok(Dynamic::UNIT) };
        match crate::units::convert(v, from, unit) {
            Some(x) => Ok(Dynamic::from(x as FLOAT)),
            None => Err(host_error(&ctx, format!("cannot convert '{id}' from {from} to {unit}"))),
        }
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("answered", move |ctx: NativeCallContext, id: &str| -> HostResult<bool> {
        let item = resolve(&ctx, &l, id)?;
        Ok(!read_answers(&s, item).is_empty())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("has_answer_code", move |ctx: NativeCallContext, id: &str, code: &str| -> HostResult<bool> {
        let item = resolve(&ctx, &l, id)?;
        Ok(read_answers(&s, item).iter().any(|v| match v {
            Value::Coding(c) => c.code.as_deref() == Some(code),
            other => other.as_str() == Some(code),
        }))
    });
}

/// A reason is a string, or a map of language to string (`#{ en: "...", es: "..." }`).
fn reason_from(ctx: &NativeCallContext, d: &Dynamic) -> HostResult<LocalText> {
    if let Some(s) = d.clone().try_cast::<ImmutableString>() {
        return Ok(LocalText { text: s.to_string(), translations: Vec::new(), rendering: None });
    }
    if let Some(m) = d.clone().try_cast::<rhai::Map>() {
        let mut translations: Vec<(String, String)> =
            m.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        intake_order::sort_by_key(&mut translations, |(lang, _)| lang.clone());
        let text = m
            .get("en")
            .map(|v| v.to_string())
            .or_else(|| translations.first().map(|(_, t)| t.clone()))
            .unwrap_or_default();
        return Ok(LocalText { text, translations, rendering: None });
    }
    Err(host_error(ctx, format!("a reason must be a string or a map of language to text, not {}", d.type_name())))
}

fn with_effects(slot: &Slot, f: impl FnOnce(&mut Effects)) {
    if let Some(st) = slot.borrow_mut().as_mut() {
        f(&mut st.effects);
    }
}

fn register_effect_api(engine: &mut Engine, slot: &Slot, link_ids: &Rc<HashMap<String, ItemId>>) {
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("ask", move |ctx: NativeCallContext, id: &str| -> HostResult<()> {
        let item = resolve(&ctx, &l, id)?;
        with_effects(&s, |e| e.ask.push((item, None)));
        Ok(())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("ask", move |ctx: NativeCallContext, id: &str, reason: Dynamic| -> HostResult<()> {
        let item = resolve(&ctx, &l, id)?;
        let reason = reason_from(&ctx, &reason)?;
        with_effects(&s, |e| e.ask.push((item, Some(reason))));
        Ok(())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("hide", move |ctx: NativeCallContext, id: &str| -> HostResult<()> {
        let item = resolve(&ctx, &l, id)?;
        with_effects(&s, |e| e.hide.push((item, None)));
        Ok(())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("hide", move |ctx: NativeCallContext, id: &str, reason: Dynamic| -> HostResult<()> {
        let item = resolve(&ctx, &l, id)?;
        let reason = reason_from(&ctx, &reason)?;
        with_effects(&s, |e| e.hide.push((item, Some(reason))));
        Ok(())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("require", move |ctx: NativeCallContext, id: &str| -> HostResult<()> {
        let item = resolve(&ctx, &l, id)?;
        with_effects(&s, |e| e.require.push(item));
        Ok(())
    });
    let s = slot.clone();
    engine.register_fn("urgent", move |ctx: NativeCallContext, reason: Dynamic| -> HostResult<()> {
        let reason = reason_from(&ctx, &reason)?;
        with_effects(&s, |e| {
            if !e.urgent.contains(&reason) {
                e.urgent.push(reason)
            }
        });
        Ok(())
    });
    let (s, l) = (slot.clone(), link_ids.clone());
    engine.register_fn("flag", move |ctx: NativeCallContext, id: &str, reason: Dynamic| -> HostResult<()> {
        let item = resolve(&ctx, &l, id)?;
        let reason = reason_from(&ctx, &reason)?;
        with_effects(&s, |e| e.flag.push((item, reason)));
        Ok(())
    });
}
