//! Clinical-context branching rules, written by informaticists in rhai (`rules/*.rhai`).
//!
//! A rule reads the chart, the visit context and the current answers, and decides: ask an
//! item (with the patient-facing reason it is asked), hide one, make one required, or flag an
//! answer for clinician review. The host API is documented in `rules/README.md`.
//!
//! This module holds what the rest of the engine sees of rules (sources, errors, effects,
//! outcomes). The rhai sandbox that runs them is `script`, built with the `rules` feature.
//! Without it (the browser's bare SDC build, for forms that carry no rules) `absent` stands in:
//! a visit type with rule scripts is refused at load with [`RuleErrorKind::NotInThisBuild`],
//! never run without its rules. That build leaves out rhai, about a third of the wasm's code.

use std::fmt;
use std::rc::Rc;

use intake_fhir::{DateTime, Value};

use crate::chart::Chart;
use crate::context::VisitContext;
use crate::questionnaire::{ItemId, LocalText};

#[cfg(feature = "rules")]
mod script;
#[cfg(feature = "rules")]
pub use script::{more_syntax_errors, value_to_dynamic, RuleBook};

#[cfg(not(feature = "rules"))]
mod absent;
#[cfg(not(feature = "rules"))]
pub use absent::{more_syntax_errors, RuleBook};

/// Limits that make a hostile or broken script stop fast.
pub const MAX_OPERATIONS: u64 = 50_000;
/// Expression nesting allowed in a script (deeper nesting is refused when it loads).
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_STRING_SIZE: usize = 4_096;
pub const MAX_ARRAY_SIZE: usize = 1_000;
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// Work host functions may do in one run (about one unit per call, plus the items a call
/// builds or reads). rhai counts only its own operations: a loop of 10,000 cheap-looking
/// `conditions()` calls on a large chart would otherwise run far past the operation limit.
pub const MAX_HOST_WORK: u64 = 200_000;

/// A rule script as text, with the name used in messages (its path).
#[derive(Debug, Clone)]
pub struct RuleSource {
    pub name: String,
    pub text: String,
}

/// Where in a rule file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: usize,
    pub column: usize,
}

/// A rule problem: what and where.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub file: String,
    pub span: Span,
    pub kind: RuleErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RuleErrorKind {
    TooLarge { bytes: usize },
    Syntax(String),
    UnknownLinkId { function: String, link_id: String, suggestion: Option<String> },
    /// A call form the static checks cannot follow (`"x".ask(..)`, `Fn("hide").call(..)`).
    Forbidden(String),
    /// The script ran too long, recursed too deep, or built too large a value.
    Limit(String),
    Runtime(String),
    /// Rule scripts reached a build of the engine made without the rules engine (the bare SDC
    /// build, `--no-default-features`): the embedding should have loaded the full build.
    NotInThisBuild,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.span.line, self.span.column)?;
        match &self.kind {
            RuleErrorKind::TooLarge { bytes } => {
                write!(f, "rule script is {bytes} bytes; the limit is {MAX_SCRIPT_BYTES}")
            }
            RuleErrorKind::Syntax(m) => write!(f, "syntax error: {m}"),
            RuleErrorKind::Forbidden(m) => write!(f, "{m}"),
            RuleErrorKind::UnknownLinkId { function, link_id, suggestion } => {
                write!(f, "{function}(\"{link_id}\"): no item with linkId '{link_id}' in this visit type")?;
                match suggestion {
                    Some(s) => write!(f, " (did you mean '{s}'?)"),
                    None => Ok(()),
                }
            }
            RuleErrorKind::Limit(m) => write!(f, "rule stopped: {m}"),
            RuleErrorKind::Runtime(m) => write!(f, "rule failed: {m}"),
            RuleErrorKind::NotInThisBuild => write!(
                f,
                "this build of the engine has no rules engine (the bare SDC build); load the full build to run rule scripts"
            ),
        }
    }
}

impl std::error::Error for RuleError {}

/// A non-fatal finding about a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleWarning {
    pub file: String,
    pub span: Span,
    pub message: String,
}

/// A linkId a rule mentions, found by reading the script.
#[derive(Debug, Clone, PartialEq)]
pub struct Mention {
    pub function: String,
    pub link_id: String,
    pub item: ItemId,
    pub span: Span,
}

/// One compiled rule script.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub mentions: Vec<Mention>,
    /// Items this rule may `ask`: they stay hidden unless some rule asks for them.
    pub gates: Vec<ItemId>,
}

/// What one run of a rule decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effects {
    pub ask: Vec<(ItemId, Option<LocalText>)>,
    pub hide: Vec<(ItemId, Option<LocalText>)>,
    pub require: Vec<ItemId>,
    pub flag: Vec<(ItemId, LocalText)>,
    /// Urgent advisories: shown to the patient at once, sent as `stat` Tasks.
    pub urgent: Vec<LocalText>,
}

impl Effects {
    /// Items whose state these effects touch.
    pub fn touched(&self) -> impl Iterator<Item = ItemId> + '_ {
        self.ask
            .iter()
            .map(|(i, _)| *i)
            .chain(self.hide.iter().map(|(i, _)| *i))
            .chain(self.require.iter().copied())
            .chain(self.flag.iter().map(|(i, _)| *i))
    }
}

/// The outcome of a run: what it decided, the error that stopped it (if one did), and which
/// items' answers the run read before it ended.
///
/// Why effects survive an error: a rule that flagged chest pain on line 3 and then divided by
/// a height of 0 on line 9 has still decided that chest pain needs a clinician. Dropping the
/// flag because of an unrelated later line would silently lose a review; so what a run decided
/// before it failed stays, the failure itself is reported (and becomes a review Task in the
/// write-back), and the rule's gated items are shown (fail open). A failed run keeps its reads
/// so it runs again when they change.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub effects: Effects,
    pub error: Option<RuleError>,
    pub reads: Vec<ItemId>,
}

/// Session-constant inputs to rules.
#[derive(Debug, Clone)]
pub struct Facts {
    pub chart: Rc<Chart>,
    pub now: DateTime,
    pub context: Rc<VisitContext>,
}

/// Effective answers by item, kept current by the session.
pub type AnswerTable = Vec<Vec<Value>>;
