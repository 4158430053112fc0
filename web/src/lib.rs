//! Patient intake in the browser: a Leptos view over the intake engine, and the embedding API
//! (`mount`) that the demo page and the npm package (`pkg/`) both use.
//!
//! Modules: `loader` (visit types and charts from the host's JSON), `state` (engine
//! session to per-node signals, autosave, host callbacks), `view` (the form), `rich_text` (safe
//! rendering of questionnaire markup), `blank` (absent parts that leave no node), `storage`, `i18n`, `term_search` (type-ahead through the host's
//! terminology service), `api` (the `mount` export), `engine_api` (the engine
//! without the form, for hosts with their own UI).

pub mod api;
pub mod blank;
pub mod engine_api;
pub mod i18n;
pub mod loader;
pub mod resume;
pub mod rich_text;
pub mod state;
pub mod storage;
pub mod term_search;
pub mod view;
pub mod warm;
