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
//!
//! A large group is split: its children are chunked inside its own element, the same way, so
//! a page whose questions are all in one group (MBS 715 on one page: 480 questions in one
//! group, one chunk built whole before) is built a screen at a time too. A split group among
//! the first questions is built with the page; one past them is a chunk of its own, whose
//! chunks are added when it fills and wait in their place in the page's order (`Place`).

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
/// questions reach it (an item with more is a chunk of its own, or, a group holding more than
/// `SPLIT_QUESTIONS`, is chunked inside).
pub const CHUNK_QUESTIONS: u32 = 20;

/// A group shown on a long page with more questions than this has its children chunked inside
/// its own element (`split`), rather than being one chunk built whole: MBS 715 on one page is
/// one group of 480 questions, one chunk of 480 before.
pub const SPLIT_QUESTIONS: u32 = 2 * CHUNK_QUESTIONS;

/// Where a chunk or a split group is: its page, and its place in the page's order (`path`: its
/// place among the chunks and split groups under the page, or under the split group it is in,
/// which come after that group's own place). Chunks fill in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub page: usize,
    path: Vec<u32>,
}

impl Place {
    /// A page's own place, above its chunks.
    pub fn page(page: usize) -> Place {
        Place { page, path: Vec::new() }
    }

    /// The `i`th chunk or split group under this place.
    pub fn child(&self, i: u32) -> Place {
        let mut path = self.path.clone();
        path.push(i);
        Place { page: self.page, path }
    }
}

/// One chunk: its element once built, and what in it shows.
struct Chunk {
    /// Its place in the page's order (`Place::path`).
    path: Vec<u32>,
    el: Option<web_sys::Element>,
    /// Items shown, and the questions they hold (the estimate).
    shown: u32,
    questions: u32,
    /// Holds a repeating group's rows (never hidden).
    rows: bool,
    /// Built empty: set to fill it (`fill`); None once filled or when built full.
    fill: Option<RwSignal<bool>>,
    /// Holds a split group built empty: filling it builds the group's element and its chunks
    /// empty (they fill in their turn), so it costs a question's worth of a slice, not its
    /// questions.
    split: bool,
}

/// A chunk as it is written: its index on the page and whether it starts hidden.
pub struct Start {
    pub index: usize,
    pub hidden: bool,
}

/// One page's chunks, in the page's order.
#[derive(Default)]
struct Page {
    /// The `Chunks::begin` that made it.
    generation: u32,
    list: Vec<Chunk>,
    /// Questions showing in its chunks so far, as they are added in the page's order (inside
    /// a split group too): the chunks past the first `AT_ONCE_QUESTIONS` are built empty.
    showing: u32,
}

/// The chunks of the pages on screen (one page at a time; the old page's go when its view does).
#[derive(Default)]
pub struct Chunks {
    by_page: RefCell<HashMap<usize, Page>>,
    /// Each chunked item's node: (page, chunk, questions it holds).
    of: RefCell<HashMap<NodeId, (usize, usize, u32)>>,
    generation: std::cell::Cell<u32>,
    /// Chunks changed since the last `flush`: (page, chunk).
    dirty: RefCell<Vec<(usize, usize)>>,
    /// Groups whose view is to chunk their children, and where they are (`split`).
    split: RefCell<HashMap<NodeId, Place>>,
}

impl Chunks {
    /// A page's view is being built: its earlier chunks (if any) are forgotten. Returns the
    /// generation that `forget` takes, so an old view going after a new one was built leaves
    /// the new one's chunks alone.
    pub fn begin(&self, page: usize) -> u32 {
        let generation = self.generation.get().wrapping_add(1);
        self.generation.set(generation);
        self.forget_page(page);
        self.by_page.borrow_mut().insert(page, Page { generation, ..Page::default() });
        generation
    }

    /// Whether the next chunk of `page` is built empty, to fill later: the chunks before it
    /// show `AT_ONCE_QUESTIONS` questions or more.
    pub fn later(&self, page: usize) -> bool {
        self.by_page.borrow().get(&page).is_some_and(|p| p.showing >= AT_ONCE_QUESTIONS)
    }

    /// `questions` more show in the chunks of `page` so far (`later`).
    pub fn count(&self, page: usize, questions: u32) {
        if let Some(p) = self.by_page.borrow_mut().get_mut(&page) {
            p.showing = p.showing.saturating_add(questions);
        }
    }

    /// Group node `n`, at `place`, is to chunk its children inside its own element when its
    /// view is built (view.rs, `group`, which takes this with `take_split`).
    pub fn split(&self, n: NodeId, place: Place) {
        self.split.borrow_mut().insert(n, place);
    }

    /// Where group node `n` is, if `split` asked it to chunk its children.
    pub fn take_split(&self, n: NodeId) -> Option<Place> {
        self.split.borrow_mut().remove(&n)
    }

    /// A chunk at `place` with these items: `(node, shown now, questions it holds)`; `rows`: it
    /// also holds a repeating group's rows; `fill`: built empty, filled when it is set.
    pub fn add(&self, place: &Place, items: &[(NodeId, bool, u32)], rows: bool, fill: Option<RwSignal<bool>>) -> Start {
        let page = place.page;
        let mut pages = self.by_page.borrow_mut();
        let list = &mut pages.entry(page).or_default().list;
        let index = list.len();
        let shown = items.iter().filter(|(_, on, _)| *on).count() as u32;
        let questions = items.iter().filter(|(_, on, _)| *on).map(|(_, _, q)| *q).sum();
        list.push(Chunk { path: place.path.clone(), el: None, shown, questions, rows, fill, split: false });
        let mut of = self.of.borrow_mut();
        for (n, _, q) in items {
            of.insert(*n, (page, index, *q));
        }
        Start { index, hidden: shown == 0 && !rows }
    }

    /// The chunk `index` of `page` holds a split group built empty (`Chunk::split`).
    pub fn holds_split(&self, page: usize, index: usize) {
        if let Some(chunk) = self.by_page.borrow_mut().get_mut(&page).and_then(|p| p.list.get_mut(index)) {
            chunk.split = true;
        }
    }

    /// The chunk's element, once built: its estimate is set on it.
    pub fn keep(&self, page: usize, index: usize, el: web_sys::Element) {
        if let Some(chunk) = self.by_page.borrow_mut().get_mut(&page).and_then(|p| p.list.get_mut(index)) {
            set_estimate(&el, chunk.questions);
            chunk.el = Some(el);
        }
    }

    /// Fill the next chunks built empty, in the page's order (`Place`), until the questions
    /// they show reach `budget` (at least one chunk; one with nothing showing counts one). Each
    /// is built by its view (view.rs, `chunked`) in the effects that follow; a split group's
    /// chunk adds its own chunks then, waiting in their turn. Returns whether any still wait.
    pub fn fill(&self, budget: u32) -> bool {
        let mut due = Vec::new();
        {
            let mut pages = self.by_page.borrow_mut();
            let mut spent = 0u32;
            // The first waiting chunk in the page's order, each time (a few hundred chunks at
            // most: 5,000 questions are 250).
            while spent < budget || due.is_empty() {
                let Some(chunk) = pages
                    .iter_mut()
                    .flat_map(|(page, p)| p.list.iter_mut().filter(|c| c.fill.is_some()).map(move |c| (*page, c)))
                    .min_by(|(pa, a), (pb, b)| (pa, &a.path).cmp(&(pb, &b.path)))
                    .map(|(_, c)| c)
                else {
                    break;
                };
                spent = spent.saturating_add(if chunk.split { 1 } else { chunk.questions.max(1) });
                if let Some(el) = &chunk.el {
                    let _ = el.remove_attribute("aria-busy");
                }
                due.extend(chunk.fill.take());
            }
        }
        // Set outside the borrow: what a signal wakes may come back here.
        for signal in due {
            signal.try_set(true);
        }
        // Counted after: a chunk filled at once may have added chunks of its own.
        self.waiting()
    }

    /// Whether any chunk waits to be filled.
    pub fn waiting(&self) -> bool {
        self.by_page.borrow().values().any(|p| p.list.iter().any(|c| c.fill.is_some()))
    }

    /// The view of `page` built under `generation` is gone.
    pub fn forget(&self, page: usize, generation: u32) {
        if self.by_page.borrow().get(&page).is_some_and(|p| p.generation == generation) {
            self.forget_page(page);
        }
    }

    fn forget_page(&self, page: usize) {
        if self.by_page.borrow_mut().remove(&page).is_some() {
            self.of.borrow_mut().retain(|_, (p, _, _)| *p != page);
        }
        self.split.borrow_mut().retain(|_, p| p.page != page);
    }

    /// Node `n` was shown (`now`) or hidden: its chunk's estimate follows, and the chunk is
    /// hidden when nothing in it shows, on the page at the next `flush`.
    pub fn toggled(&self, n: NodeId, now: bool) {
        let Some((page, index, questions)) = self.of.borrow().get(&n).copied() else { return };
        let mut pages = self.by_page.borrow_mut();
        let Some(chunk) = pages.get_mut(&page).and_then(|p| p.list.get_mut(index)) else { return };
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
            let Some(chunk) = pages.get(&page).and_then(|p| p.list.get(index)) else { continue };
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

    fn at(page: usize, i: u32) -> Place {
        Place::page(page).child(i)
    }

    impl Chunks {
        /// (items shown, questions shown, hidden) of a chunk.
        fn state(&self, page: usize, index: usize) -> (u32, u32, bool) {
            let pages = self.by_page.borrow();
            let c = &pages[&page].list[index];
            (c.shown, c.questions, c.shown == 0 && !c.rows)
        }
    }

    #[test]
    fn a_chunk_follows_what_shows_and_hides_when_nothing_does() {
        let chunks = Chunks::default();
        let g = chunks.begin(0);
        let (a, b, c) = (NodeId(1), NodeId(2), NodeId(3));
        let first = chunks.add(&at(0, 0), &[(a, true, 1), (b, false, 5)], false, None);
        let second = chunks.add(&at(0, 1), &[(c, false, 3)], false, None);
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
        chunks.add(&at(0, 0), &[(a, true, 1)], false, None);
        chunks.forget(0, g);
        assert_eq!(chunks.state(0, 0), (1, 1, false));
        chunks.forget(0, g2);
        assert!(chunks.by_page.borrow().is_empty() && chunks.of.borrow().is_empty());
    }

    #[test]
    fn a_chunk_with_rows_is_never_hidden() {
        let chunks = Chunks::default();
        chunks.begin(2);
        let start = chunks.add(&at(2, 0), &[(NodeId(4), false, 2)], true, None);
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
        chunks.add(&at(0, 0), &[(NodeId(1), true, 20)], false, None);
        chunks.add(&at(0, 1), &[(NodeId(2), true, 30)], false, Some(waiting[0]));
        // Nothing in it shows: it costs one.
        chunks.add(&at(0, 2), &[(NodeId(3), false, 20)], false, Some(waiting[1]));
        chunks.add(&at(0, 3), &[(NodeId(4), true, 60)], false, Some(waiting[2]));
        chunks.add(&at(0, 4), &[(NodeId(5), true, 10)], false, Some(waiting[3]));
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
    fn chunks_past_the_first_screen_wait_counting_a_split_groups_too() {
        let chunks = Chunks::default();
        chunks.begin(0);
        assert!(!chunks.later(0));
        chunks.count(0, AT_ONCE_QUESTIONS - 1);
        assert!(!chunks.later(0));
        // A split group's children count on its page as the page's own do.
        chunks.split(NodeId(3), at(0, 0));
        chunks.count(0, 1);
        assert!(chunks.later(0));
        assert_eq!(chunks.take_split(NodeId(3)), Some(at(0, 0)));
        assert_eq!(chunks.take_split(NodeId(3)), None);
        // A page built again starts counting again, and forgets its groups not built yet.
        chunks.split(NodeId(4), at(0, 0));
        chunks.begin(0);
        assert!(!chunks.later(0));
        assert_eq!(chunks.take_split(NodeId(4)), None);
        // A page never begun has nothing waiting.
        assert!(!chunks.later(7));
    }

    #[test]
    fn a_split_groups_chunks_fill_in_their_place_in_the_page_not_when_they_were_added() {
        use leptos::prelude::GetUntracked;
        let chunks = Chunks::default();
        chunks.begin(0);
        let signals: Vec<RwSignal<bool>> = (0..3).map(|_| RwSignal::new(false)).collect();
        // The page: a chunk holding a large group (filled first), then a chunk after it.
        chunks.add(&at(0, 0), &[(NodeId(1), true, 100)], false, Some(signals[0]));
        chunks.add(&at(0, 1), &[(NodeId(2), true, 10)], false, Some(signals[1]));
        assert!(chunks.fill(1));
        // Filling the group's chunk added the group's own: it comes before the page's next.
        chunks.add(&at(0, 0).child(0), &[(NodeId(3), true, 10)], false, Some(signals[2]));
        assert!(chunks.fill(1));
        assert_eq!(signals.iter().map(|s| s.get_untracked()).collect::<Vec<_>>(), [true, false, true]);
        assert!(!chunks.fill(1));
        assert!(signals[1].get_untracked());
    }

    #[test]
    fn a_chunk_holding_a_split_group_costs_one_question_of_a_slice() {
        use leptos::prelude::GetUntracked;
        let chunks = Chunks::default();
        chunks.begin(0);
        let (a, b) = (RwSignal::new(false), RwSignal::new(false));
        let start = chunks.add(&at(0, 0), &[(NodeId(1), true, 80)], false, Some(a));
        chunks.holds_split(0, start.index);
        chunks.add(&at(0, 1), &[(NodeId(2), true, 30)], false, Some(b));
        // Its 80 questions fill in chunks of their own: 1 + 30 is within 40.
        assert!(!chunks.fill(40));
        assert_eq!((a.get_untracked(), b.get_untracked()), (true, true));
        // Its estimate is still its questions.
        assert_eq!(chunks.state(0, 0), (1, 80, false));
    }

    #[test]
    fn a_chunk_counts_what_shows_when_it_fills() {
        use leptos::prelude::GetUntracked;
        let chunks = Chunks::default();
        chunks.begin(1);
        let (a, b) = (RwSignal::new(false), RwSignal::new(false));
        chunks.add(&at(1, 0), &[(NodeId(7), false, 50)], false, Some(a));
        chunks.add(&at(1, 1), &[(NodeId(8), true, 5)], false, Some(b));
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
