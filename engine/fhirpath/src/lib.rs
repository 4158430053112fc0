//! FHIRPath over FHIR JSON, for SDC: template-based extraction (`templateExtractContext`,
//! `templateExtractValue`, `allocateId`) and `variable` expressions in forms from other tools.
//!
//! Why our own: the FHIRPath crates on crates.io pull a full FHIR model (megabytes of wasm) or
//! a large runtime; forms need paths, filters, a few dozen functions and the operators. This
//! crate evaluates over `serde_json::Value` directly, with FHIR types taken from choice-element
//! names (`valueCoding` is a `Coding`), which is what `ofType()` in extraction templates needs.
//!
//! ```
//! use intake_fhirpath::{Env, Expr};
//! let qr = serde_json::json!({"resourceType": "QuestionnaireResponse", "item": [
//!     {"linkId": "weight", "answer": [{"valueDecimal": 72.5}]}]});
//! let expr = Expr::parse("item.where(linkId = 'weight').answer.value * 2").unwrap();
//! let out = expr.evaluate_json(&qr, &Env::default()).unwrap();
//! assert_eq!(out[0].to_json(), serde_json::json!(145));
//! ```
//!
//! Conformance: 907 of the 935 cases of the official HL7 R4 suite pass (see `CONFORMANCE.md`
//! for the rest and why). Dates follow FHIRPath's partial-precision rules (`temporal`),
//! quantities convert between the UCUM units forms use (`units`), and element types come from
//! a small R4 table (`model`). `resolve()` finds contained resources, Bundle entries and the
//! resources the caller gives (`Env::with_resources`), never the network. Not supported (a
//! clear error names them): terminology functions (`memberOf`), and UCUM unit algebra
//! (`'cm' * 'm'`).

mod eval;
mod lexer;
mod memo;
mod model;
mod parser;
mod reads;
mod temporal;
mod text;
mod units;
mod value;

pub use eval::{Env, Name};
pub use memo::SharedMemo;
pub use parser::Expr;
pub use reads::{ReadLog, Reads};
pub use value::{Item, NodeRef, TypeName, Value};

use std::fmt;

/// What went wrong, and where in the expression (a character offset from 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Character offset in the expression text.
    pub at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not FHIRPath.
    Syntax,
    /// A function or feature this evaluator does not have.
    Unsupported,
    /// Valid FHIRPath that fails on this input (wrong argument type, several items where one
    /// is required, an unknown `%variable`).
    Evaluation,
}

impl Error {
    pub(crate) fn syntax(at: usize, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Syntax, message: message.into(), at }
    }
    pub(crate) fn eval(at: usize, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Evaluation, message: message.into(), at }
    }
    pub(crate) fn unsupported(at: usize, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Unsupported, message: message.into(), at }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Syntax => "syntax error",
            ErrorKind::Unsupported => "not supported",
            ErrorKind::Evaluation => "evaluation error",
        };
        write!(f, "FHIRPath {what} at column {}: {}", self.at + 1, self.message)
    }
}

impl std::error::Error for Error {}
