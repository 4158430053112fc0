//! The intake engine: pure Rust, no DOM, no I/O, no clock (the caller passes "now").
//!
//! ```text
//! VisitType::load(files)      questionnaire + manifest + rules, compiled once
//! Session::new(vt, chart, ..) prefill from the chart, evaluate everything
//! session.answer(node, vals)  re-evaluate only what depends on it; returns what changed
//! response::build(&session)   QuestionnaireResponse
//! extract::bundle(&session)   transaction Bundle with only the differences, idempotent
//! ```
//!
//! Modules are named for the domain: `questionnaire` (the form index), `enable_when`
//! (operator semantics), `rules` (the rhai sandbox), `chart`, `prefill`, `session` and
//! `evaluate` (state and incremental re-evaluation), `validate`, `response`, `extract`.

pub mod answer;
pub mod answers_file;
pub mod chart;
pub mod context;
pub mod enable_when;
mod evaluate;
pub mod explain;
#[cfg(feature = "expressions")]
pub mod expressions;
#[cfg(not(feature = "expressions"))]
#[path = "expressions_absent.rs"]
pub mod expressions;
pub mod extract;
#[cfg(feature = "expressions")]
pub mod fhir_query;
pub mod ids;
pub mod json_locate;
pub mod plain_names;
pub mod prefill;
pub mod questionnaire;
pub mod response;
pub mod rules;
pub mod sdc;
mod small;
pub mod session;
pub mod settle;
pub mod suggest;
#[cfg(feature = "expressions")]
pub mod template_extract;
pub mod units;
pub mod validate;
pub mod value_set;
pub mod visit_type;

pub use intake_fhir as fhir;
#[cfg(feature = "expressions")]
pub use intake_fhirpath as fhirpath;

pub use answer::AnswerError;
pub use chart::{Chart, ChartError};
pub use context::VisitContext;
pub use questionnaire::{Form, FormError, ItemDef, ItemId, ItemType};
pub use session::{Changes, ItemState, NodeId, Session, SessionError};
pub use visit_type::{Diagnostic, VisitType, VisitTypeSource};
