//! Patient intake in the browser: a Leptos view over the intake engine, and the embedding API
//! (`mount`) that the demo page and the npm package (`pkg/`) both use.
//!
//! Modules: `loader` (visit types and charts from embedded data or host JSON), `state` (engine
//! session to per-node signals, autosave, host callbacks), `view` (the form), `rich_text` (safe
//! rendering of questionnaire markup), `storage`, `i18n`, `api` (wasm-bindgen exports).

pub mod api;
pub mod engine_api;
pub mod i18n;
pub mod loader;
pub mod rich_text;
pub mod state;
pub mod storage;
pub mod view;
