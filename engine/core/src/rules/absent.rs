//! Rules in a build without the rules engine (the browser's bare SDC build).
//!
//! A form without rule scripts works exactly as in the full build. A visit type that carries
//! scripts is refused when it loads, naming the first script: running it without its rules
//! would show questions a rule hides and drop the review flags rules raise. The package's
//! shell (`pkg/index.js`) loads the full build whenever the form carries rules, so a patient
//! never reaches this refusal; a host that forces the bare build hears it through `onError`.

use std::cell::RefCell;
use std::rc::Rc;

use super::{AnswerTable, Effects, Facts, Outcome, Rule, RuleError, RuleErrorKind, RuleSource, RuleWarning, Span};
use crate::questionnaire::Form;
use crate::value_set::{CodeSet, ValueSetLibrary};

/// The rules of a visit type: in this build, always none.
#[derive(Debug, Default)]
pub struct RuleBook {
    pub rules: Vec<Rule>,
}

impl RuleBook {
    pub fn value_sets_used(&self) -> Vec<CodeSet> {
        Vec::new()
    }

    pub fn languages(&self) -> Vec<String> {
        Vec::new()
    }

    pub fn compile(form: &Form, sources: &[RuleSource]) -> Result<(RuleBook, Vec<RuleWarning>), RuleError> {
        Self::compile_with(form, sources, &ValueSetLibrary::default())
    }

    /// No scripts: an empty book. Any script: refused, naming it.
    pub fn compile_with(
        _form: &Form,
        sources: &[RuleSource],
        _library: &ValueSetLibrary,
    ) -> Result<(RuleBook, Vec<RuleWarning>), RuleError> {
        match sources.first() {
            Some(src) => Err(RuleError { file: src.name.clone(), span: Span::default(), kind: RuleErrorKind::NotInThisBuild }),
            None => Ok((RuleBook::default(), Vec::new())),
        }
    }

    /// Never reached (the book is empty); were it, the run fails loudly rather than deciding
    /// nothing silently.
    pub fn run(&self, rule: usize, _facts: &Facts, _answers: &Rc<RefCell<AnswerTable>>) -> Outcome {
        let file = self.rules.get(rule).map(|r| r.name.clone()).unwrap_or_default();
        Outcome {
            effects: Effects::default(),
            error: Some(RuleError { file, span: Span::default(), kind: RuleErrorKind::NotInThisBuild }),
            reads: Vec::new(),
        }
    }
}

/// Only scripts have syntax errors, and this build compiles none.
pub fn more_syntax_errors(_text: &str, _first_line: usize) -> Vec<(usize, usize, String)> {
    Vec::new()
}
