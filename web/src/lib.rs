//! Patient intake in the browser: a Leptos view over the intake engine, and the embedding API
//! (`mount`) that the demo page and the npm package (`pkg/`) both use.
//!
//! Modules: `loader` (visit types and charts from the host's JSON), `state` (engine
//! session to per-node signals, autosave, host callbacks), `view` (the form), `rich_text` (safe
//! rendering of questionnaire markup), `html` (page parts written as escaped HTML), `blank` (absent parts that leave no node), `storage`, `i18n`, `term_search` (type-ahead through the host's
//! terminology service), `api` (the `mount` export), `engine_api` (the engine
//! without the form, for hosts with their own UI).

pub mod api;
pub mod blank;
pub mod chunks;
pub mod engine_api;
pub mod first_show;
pub mod html;
pub mod i18n;
pub mod loader;
pub mod resume;
pub mod rich_text;
pub mod state;
pub mod storage;
pub mod term_search;
pub mod view;
pub mod warm;

/// Developer builds only (`--features alloc-stats`): live and peak heap bytes, to tell what a
/// mount keeps from what it needed only while it ran (wasm memory is the peak, never given
/// back). `__allocStats()` gives `[live, peak]` and resets the peak to the live figure.
#[cfg(feature = "alloc-stats")]
pub mod alloc_stats {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    /// Live allocations by size (8-byte classes up to 8 KB, the last class for larger ones).
    static BY_SIZE: [AtomicUsize; 1025] = [const { AtomicUsize::new(0) }; 1025];
    fn class(size: usize) -> usize {
        (size.div_ceil(8)).min(1024)
    }
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    struct Counting;

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
            BY_SIZE[class(l.size())].fetch_add(1, Relaxed);
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            LIVE.fetch_sub(l.size(), Relaxed);
            BY_SIZE[class(l.size())].fetch_sub(1, Relaxed);
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            let now = LIVE.fetch_add(new, Relaxed) + new - l.size();
            LIVE.fetch_sub(l.size(), Relaxed);
            PEAK.fetch_max(now, Relaxed);
            BY_SIZE[class(l.size())].fetch_sub(1, Relaxed);
            BY_SIZE[class(new)].fetch_add(1, Relaxed);
            unsafe { System.realloc(p, l, new) }
        }
    }

    #[global_allocator]
    static A: Counting = Counting;

    /// Logs the live heap bytes at a named point.
    pub fn mark(what: &str) {
        web_sys::console::log_1(&format!("alloc-stats {what}: live {} B", LIVE.load(Relaxed)).into());
    }

    /// Live allocations by size class: `[size, count, ...]` (size rounded up to 8; 8200 for
    /// anything over 8 KB).
    #[wasm_bindgen::prelude::wasm_bindgen(js_name = __allocSizes)]
    pub fn alloc_sizes() -> Vec<f64> {
        let mut out = Vec::new();
        for (i, c) in BY_SIZE.iter().enumerate() {
            let c = c.load(Relaxed);
            if c > 0 {
                out.extend([(i * 8) as f64, c as f64]);
            }
        }
        out
    }

    #[wasm_bindgen::prelude::wasm_bindgen(js_name = __allocStats)]
    pub fn alloc_stats() -> Vec<f64> {
        let live = LIVE.load(Relaxed);
        let peak = PEAK.swap(live, Relaxed);
        vec![live as f64, peak as f64]
    }
}
