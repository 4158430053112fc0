//! Answer validation: required, length, pattern, value range and occurrence limits.
//!
//! Validation follows show/hide exactly: the session only validates enabled items, so a
//! hidden required question never blocks submit (a common complaint about other renderers).

use std::cmp::Ordering;
use std::fmt;

use intake_fhir::Value;

use crate::enable_when::compare;
use crate::questionnaire::{ItemDef, ItemType};

/// One problem with the answers of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidationError {
    Required,
    TooLong { max: usize },
    TooShort { min: usize },
    Pattern { pattern: String },
    BelowMin { min: String },
    AboveMax { max: String },
    TooFewAnswers { min: usize },
    TooManyAnswers { max: usize },
    /// The regex extension itself could not be compiled (a form problem, reported once).
    BadPattern { pattern: String },
}

impl ValidationError {
    /// A stable code hosts can use to pick their own wording.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::Required => "required",
            ValidationError::TooLong { .. } => "too-long",
            ValidationError::TooShort { .. } => "too-short",
            ValidationError::Pattern { .. } => "pattern",
            ValidationError::BelowMin { .. } => "below-min",
            ValidationError::AboveMax { .. } => "above-max",
            ValidationError::TooFewAnswers { .. } => "too-few",
            ValidationError::TooManyAnswers { .. } => "too-many",
            ValidationError::BadPattern { .. } => "bad-pattern",
        }
    }

    /// The message in a language (`en`, `es`).
    pub fn message(&self, lang: &str) -> String {
        let es = lang.starts_with("es");
        match (self, es) {
            (ValidationError::Required, false) => "This question needs an answer.".into(),
            (ValidationError::Required, true) => "Esta pregunta necesita una respuesta.".into(),
            (ValidationError::TooLong { max }, false) => format!("Please use at most {max} characters."),
            (ValidationError::TooLong { max }, true) => format!("Use como máximo {max} caracteres."),
            (ValidationError::TooShort { min }, false) => format!("Please use at least {min} characters."),
            (ValidationError::TooShort { min }, true) => format!("Use al menos {min} caracteres."),
            (ValidationError::Pattern { .. }, false) => "This is not in the expected format.".into(),
            (ValidationError::Pattern { .. }, true) => "El formato no es el esperado.".into(),
            (ValidationError::BelowMin { min }, false) => format!("The lowest allowed value is {min}."),
            (ValidationError::BelowMin { min }, true) => format!("El valor mínimo permitido es {min}."),
            (ValidationError::AboveMax { max }, false) => format!("The highest allowed value is {max}."),
            (ValidationError::AboveMax { max }, true) => format!("El valor máximo permitido es {max}."),
            (ValidationError::TooFewAnswers { min }, false) => format!("Please give at least {min}."),
            (ValidationError::TooFewAnswers { min }, true) => format!("Indique al menos {min}."),
            (ValidationError::TooManyAnswers { max }, false) => format!("Please give at most {max}."),
            (ValidationError::TooManyAnswers { max }, true) => format!("Indique como máximo {max}."),
            (ValidationError::BadPattern { pattern }, _) => format!("The form's pattern /{pattern}/ is invalid."),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message("en"))
    }
}

/// Validate the answers of one enabled question. `required` includes rule-made requirements.
pub fn validate_answers(def: &ItemDef, answers: &[Value], required: bool) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    if answers.is_empty() {
        // A read-only item the patient cannot fill (a required name the chart did not give)
        // must not stop them sending everything else; the write-back asks a clinician instead
        // (`extract`, "required but empty").
        if required && !def.read_only {
            errors.push(ValidationError::Required);
        }
        return errors;
    }
    if def.repeats {
        if let Some(min) = def.min_occurs.filter(|m| answers.len() < *m) {
            errors.push(ValidationError::TooFewAnswers { min });
        }
        if let Some(max) = def.max_occurs.filter(|m| answers.len() > *m) {
            errors.push(ValidationError::TooManyAnswers { max });
        }
    }
    for a in answers {
        if let Some(s) = a.as_str() {
            let chars = s.chars().count();
            if let Some(max) = def.max_length.filter(|m| chars > *m) {
                push_once(&mut errors, ValidationError::TooLong { max });
            }
            if let Some(min) = def.min_length.filter(|m| chars < *m) {
                push_once(&mut errors, ValidationError::TooShort { min });
            }
            if let Some(pattern) = &def.regex {
                match pattern_matches(&anchored(pattern), s) {
                    Some(false) => push_once(&mut errors, ValidationError::Pattern { pattern: pattern.clone() }),
                    Some(true) => {}
                    None => push_once(&mut errors, ValidationError::BadPattern { pattern: pattern.clone() }),
                }
            }
        }
        if let Some(min) = &def.min_value {
            if compare(a, min) == Some(Ordering::Less) {
                push_once(&mut errors, ValidationError::BelowMin { min: min.display() });
            }
        }
        if let Some(max) = &def.max_value {
            if compare(a, max) == Some(Ordering::Greater) {
                push_once(&mut errors, ValidationError::AboveMax { max: max.display() });
            }
        }
    }
    errors
}

/// Does `text` match `pattern`? `None` if the pattern is invalid (the form loader already
/// warned and dropped such patterns, so this is a second line of defence).
///
/// regex-lite on every target: one dialect for `intake check` and the patient's browser, and
/// matching in O(pattern × text) time, so no pattern can freeze the page.
fn pattern_matches(pattern: &str, text: &str) -> Option<bool> {
    regex_lite::Regex::new(pattern).ok().map(|re| re.is_match(text))
}

/// Why a regex extension cannot be used, if it cannot (checked when the form loads).
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Some(format!("the pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}", pattern.len()));
    }
    regex_lite::RegexBuilder::new(&anchored(pattern))
        .size_limit(1 << 20)
        .build()
        .err()
        .map(|e| e.to_string().lines().last().unwrap_or("invalid pattern").trim().to_owned())
}

/// Longest regex extension accepted.
pub const MAX_PATTERN_BYTES: usize = 1_000;

/// The regex extension matches the whole answer (as in FHIR validators), not a substring.
fn anchored(p: &str) -> String {
    format!("^(?:{p})$")
}

fn push_once(errors: &mut Vec<ValidationError>, e: ValidationError) {
    if !errors.contains(&e) {
        errors.push(e);
    }
}

/// Validate a repeating group's number of rows.
pub fn validate_rows(def: &ItemDef, rows: usize, required: bool) -> Vec<ValidationError> {
    debug_assert_eq!(def.item_type, ItemType::Group);
    let mut errors = Vec::new();
    let min = def.min_occurs.or(required.then_some(1));
    if let Some(min) = min.filter(|m| rows < *m) {
        errors.push(if min == 1 && required { ValidationError::Required } else { ValidationError::TooFewAnswers { min } });
    }
    if let Some(max) = def.max_occurs.filter(|m| rows > *m) {
        errors.push(ValidationError::TooManyAnswers { max });
    }
    errors
}
