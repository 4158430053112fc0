//! A long page's items in chunks that the browser lays out only when they near the screen.
//!
//! Why: a page of more than `LONG_PAGE` questions (view.rs) leaves what is off screen unlaid
//! out (`content-visibility: auto`). Set on each of the page's items, the browser watched
//! every one of them (5,000 questions on one page: 5,000 intersection observations, styles and
//! placeholder boxes, about a fifth of the mount). Set on chunks of about `CHUNK_QUESTIONS`
//! questions, it watches a twentieth as many, and an off-screen chunk's items are not even
//! styled.
//!
//! A chunk that is not laid out has the height it had when it last was, or, before it ever
//! was, an estimate from the questions it shows (`--ik-n` in intake.css). Neither follows items
//! shown or hidden inside it while it is off screen, so the form keeps both honest: the
//! estimate moves with what shows (`toggled`), and a chunk with nothing showing is `hidden`
//! (no box at all: answering "no" to a question that gates the rest of the page leaves no empty
//! stretch to scroll through). A chunk holding a repeating group's rows is never hidden: rows
//! come and go without passing through here.
//!
//! A long page is also built a slice at a time. Building every item of MDS 3.0 on one page
//! (735 questions) was about 170 ms of the mount's 260, and 5,000 answered questions about
//! 590 ms of 820, all before the first paint, though a screen shows a dozen questions. The
//! chunks holding the first `AT_ONCE_QUESTIONS` questions that show are built with the page;
//! the others are built empty (`aria-busy`, their estimated height) and filled in order,
//! `FILL_QUESTIONS` a task after the first paint (`fill`; state.rs, `fill_chunks_soon`), so
//! the patient sees the page at once and it stays responsive while the rest arrives. Only the
//! page waits: the engine holds every item's state from the start (validation, the summary,
//! the response, autosave), and a link to an item not built yet fills the page first (view.rs,
//! `focus_node`).

use std::cell::RefCell;
use std::collections::HashMap;

use intake_engine::session::NodeId;
use leptos::prelude::{RwSignal, Set};

/// Questions showing in the chunks built with a long page: more than a large screen holds.
pub const AT_ONCE_QUESTIONS: u32 = 40;
/// Questions filled into the chunks built empty in each task (`fill`): a slice of MDS 3.0 is
/// about 30 ms of script, under the 50 ms that make a long task.
pub const FILL_QUESTIONS: u32 = 100;

/// About how many questions a chunk holds: the items of a page are taken in order until their
/// questions reach it (an item with more, a large group, is a chunk of its own).
pub const CHUNK_QUESTIONS: u32 = 20;

/// One chunk: its element once built, and what in it shows.
struct Chunk {
    el: Option<web_sys::Element>,
    /// Items shown, and the questions they hold (the estimate).
    shown: u32,
    questions: u32,
    /// Holds a repeating group's rows (never hidden).
    rows: bool,
    /// Built empty: set to fill it (`fill`); None once filled or when built full.
    fill: Option<RwSignal<bool>>,
}

/// A chunk as it is written: its index on the page and whether it starts hidden.
pub struct Start {
    pub index: usize,
    pub hidden: bool,
}

/// The chunks of the pages on screen (one page at a time; the old page's go when its view does).
#[derive(Default)]
pub struct Chunks {
    by_page: RefCell<HashMap<usize, (u32, Vec<Chunk>)>>,
    /// Each chunked item's node: (page, chunk, questions it holds).
    of: RefCell<HashMap<NodeId, (usize, usize, u32)>>,
    generation: std::cell::Cell<u32>,
    /// Chunks changed since the last `flush`: (page, chunk).
    dirty: RefCell<Vec<(usize, usize)>>,
}

impl Chunks {
    /// A page's view is being built: its earlier chunks (if any) are forgotten. Returns the
    /// generation that `forget` takes, so an old view going after a new one was built leaves
    /// the new one's chunks alone.
    pub fn begin(&self, page: usize) -> u32 {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        self.forget_page(page);
        self.by_page.borrow_mut().insert(page, (generation, Vec::new()));
        generation
    }

    /// A chunk of `page` with these items: `(node, shown now, questions it holds)`; `rows`: it
    /// also holds a repeating group's rows; `fill`: built empty, filled when it is set.
    pub fn add(&self, page: usize, items: &[(NodeId, bool, u32)], rows: bool, fill: Option<RwSignal<bool>>) -> Start {
        let mut pages = self.by_page.borrow_mut();
        let list = &mut pages.entry(page).or_default().1;
        let index = list.len();
        let shown = items.iter().filter(|(_, on, _)| *on).count() as u32;
        let questions = items.iter().filter(|(_, on, _)| *on).map(|(_, _, q)| *q).sum();
        list.push(Chunk { el: None, shown, questions, rows, fill });
        let mut of = self.of.borrow_mut();
        for (n, _, q) in items {
            of.insert(*n, (page, index, *q));
        }
        Start { index, hidden: shown == 0 && !rows }
    }

    /// The chunk's element, once built: its estimate is set on it.
    pub fn keep(&self, page: usize, index: usize, el: web_sys::Element) {
        if let Some(chunk) = self.by_page.borrow_mut().get_mut(&page).and_then(|(_, list)| list.get_mut(index)) {
            set_estimate(&el, chunk.questions);
            chunk.el = Some(el);
        }
    }

    /// Fill the next chunks built empty, in the page's order, until the questions they show
    /// reach `budget` (at least one chunk; one with nothing showing counts one). Each is built
    /// by its view (view.rs, `chunked`) in the effects that follow. Returns whether any still
    /// wait.
    pub fn fill(&self, budget: u32) -> bool {
        let mut due = Vec::new();
        let mut left = false;
        {
            let mut pages = self.by_page.borrow_mut();
            let mut order: Vec<usize> = pages.keys().copied().collect();
            order.sort_unstable();
            let mut spent = 0u32;
            'pages: for page in order {
                let Some((_, list)) = pages.get_mut(&page) else { continue };
                for chunk in list.iter_mut().filter(|c| c.fill.is_some()) {
                    if spent >= budget && !due.is_empty() {
                        left = true;
                        break 'pages;
                    }
                    spent = spent.saturating_add(chunk.questions.max(1));
                    if let Some(el) = &chunk.el {
                        let _ = el.remove_attribute("aria-busy");
                    }
                    due.extend(chunk.fill.take());
                }
            }
        }
        // Set outside the borrow: what a signal wakes may come back here.
        for signal in due {
            signal.try_set(true);
        }
        left
    }

    /// The view of `page` built under `generation` is gone.
    pub fn forget(&self, page: usize, generation: u32) {
        if self.by_page.borrow().get(&page).is_some_and(|(g, _)| *g == generation) {
            self.forget_page(page);
        }
    }

    fn forget_page(&self, page: usize) {
        if self.by_page.borrow_mut().remove(&page).is_some() {
            self.of.borrow_mut().retain(|_, (p, _, _)| *p != page);
        }
    }

    /// Node `n` was shown (`now`) or hidden: its chunk's estimate follows, and the chunk is
    /// hidden when nothing in it shows, on the page at the next `flush`.
    pub fn toggled(&self, n: NodeId, now: bool) {
        let Some((page, index, questions)) = self.of.borrow().get(&n).copied() else { return };
        let mut pages = self.by_page.borrow_mut();
        let Some(chunk) = pages.get_mut(&page).and_then(|(_, list)| list.get_mut(index)) else { return };
        if now {
            chunk.shown += 1;
            chunk.questions += questions;
        } else {
            chunk.shown = chunk.shown.saturating_sub(1);
            chunk.questions = chunk.questions.saturating_sub(questions);
        }
        let mut dirty = self.dirty.borrow_mut();
        if !dirty.contains(&(page, index)) {
            dirty.push((page, index));
        }
    }

    /// Writes the chunks `toggled` changed, once each (the head of the answered 1,000-item chain
    /// hides 999 items in 50 chunks: 50 writes, not 999).
    pub fn flush(&self) {
        let dirty = std::mem::take(&mut *self.dirty.borrow_mut());
        let pages = self.by_page.borrow();
        for (page, index) in dirty {
            let Some(chunk) = pages.get(&page).and_then(|(_, list)| list.get(index)) else { continue };
            let Some(el) = &chunk.el else { continue };
            set_estimate(el, chunk.questions);
            let hidden = chunk.shown == 0 && !chunk.rows;
            if hidden != el.has_attribute("hidden") {
                let _ = if hidden { el.set_attribute("hidden", "") } else { el.remove_attribute("hidden") };
            }
        }
    }
}

/// The chunk's estimate in questions, `--ik-n` (intake.css turns it into a height). Set
/// through the element's style object, never as a `style` attribute: a host's
/// Content-Security-Policy may refuse inline style attributes (pkg/README.md), and Chromium
/// parses each one (about 50-300 µs; the 1,000-item chain's 50 chunks were 16 ms of its mount).
pub fn set_estimate(el: &web_sys::Element, questions: u32) {
    use wasm_bindgen::JsCast;
    if let Some(el) = el.dyn_ref::<web_sys::HtmlElement>() {
        let _ = el.style().set_property("--ik-n", &questions.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Chunks {
        /// (items shown, questions shown, hidden) of a chunk.
        fn state(&self, page: usize, index: usize) -> (u32, u32, bool) {
            let pages = self.by_page.borrow();
            let c = &pages[&page].1[index];
            (c.shown, c.questions, c.shown == 0 && !c.rows)
        }
    }

    #[test]
    fn a_chunk_follows_what_shows_and_hides_when_nothing_does() {
        let chunks = Chunks::default();
        let g = chunks.begin(0);
        let (a, b, c) = (NodeId(1), NodeId(2), NodeId(3));
        let first = chunks.add(0, &[(a, true, 1), (b, false, 5)], false, None);
        let second = chunks.add(0, &[(c, false, 3)], false, None);
        assert_eq!((first.index, first.hidden, second.index, second.hidden), (0, false, 1, true));
        assert_eq!(chunks.state(0, 0), (1, 1, false));
        chunks.toggled(b, true);
        assert_eq!(chunks.state(0, 0), (2, 6, false));
        chunks.toggled(a, false);
        chunks.toggled(b, false);
        assert_eq!(chunks.state(0, 0), (0, 0, true));
        chunks.toggled(c, true);
        assert_eq!(chunks.state(0, 1), (1, 3, false));
        // A node in no chunk changes nothing.
        chunks.toggled(NodeId(9), true);
        assert_eq!(chunks.state(0, 0), (0, 0, true));
        // An old view going after the page was built again leaves the new chunks alone.
        let g2 = chunks.begin(0);
        chunks.add(0, &[(a, true, 1)], false, None);
        chunks.forget(0, g);
        assert_eq!(chunks.state(0, 0), (1, 1, false));
        chunks.forget(0, g2);
        assert!(chunks.by_page.borrow().is_empty() && chunks.of.borrow().is_empty());
    }

    #[test]
    fn a_chunk_with_rows_is_never_hidden() {
        let chunks = Chunks::default();
        chunks.begin(2);
        let start = chunks.add(2, &[(NodeId(4), false, 2)], true, None);
        assert!(!start.hidden);
        chunks.toggled(NodeId(4), true);
        chunks.toggled(NodeId(4), false);
        assert_eq!(chunks.state(2, 0), (0, 0, false));
    }

    #[test]
    fn chunks_built_empty_fill_in_order_a_budget_at_a_time() {
        use leptos::prelude::GetUntracked;
        let chunks = Chunks::default();
        chunks.begin(0);
        let waiting: Vec<RwSignal<bool>> = (0..4).map(|_| RwSignal::new(false)).collect();
        chunks.add(0, &[(NodeId(1), true, 20)], false, None);
        chunks.add(0, &[(NodeId(2), true, 30)], false, Some(waiting[0]));
        // Nothing in it shows: it costs one.
        chunks.add(0, &[(NodeId(3), false, 20)], false, Some(waiting[1]));
        chunks.add(0, &[(NodeId(4), true, 60)], false, Some(waiting[2]));
        chunks.add(0, &[(NodeId(5), true, 10)], false, Some(waiting[3]));
        let filled = || waiting.iter().map(|s| s.get_untracked()).collect::<Vec<_>>();
        // 30 + 1 is under 40, so the 60 goes too; the last waits.
        assert!(chunks.fill(40));
        assert_eq!(filled(), [true, true, true, false]);
        assert!(!chunks.fill(40));
        assert_eq!(filled(), [true, true, true, true]);
        // Nothing left: nothing happens.
        assert!(!chunks.fill(40));
    }

    #[test]
    fn a_chunk_counts_what_shows_when_it_fills() {
        use leptos::prelude::GetUntracked;
        let chunks = Chunks::default();
        chunks.begin(1);
        let (a, b) = (RwSignal::new(false), RwSignal::new(false));
        chunks.add(1, &[(NodeId(7), false, 50)], false, Some(a));
        chunks.add(1, &[(NodeId(8), true, 5)], false, Some(b));
        // Hidden when added, shown since: 50 questions, the whole budget.
        chunks.toggled(NodeId(7), true);
        assert!(chunks.fill(10));
        assert_eq!((a.get_untracked(), b.get_untracked()), (true, false));
        // A page's view built again starts its chunks over: the old page's wait no more.
        chunks.begin(1);
        assert!(!chunks.fill(10));
        assert!(!b.get_untracked());
    }
}
