//! Items an answer shows for the first time, built a frame's worth at a time.
//!
//! Why: an item is built the first time it shows (view.rs, `built_when_shown`); after that,
//! showing and hiding it is one attribute. But one answer can show a great deal for the first
//! time: an age in MBS 715 (the Aboriginal and Torres Strait Islander health check) shows
//! about 36 sections, 177 questions in 74 groups, some 1,900 elements, and building them all
//! held the page for about 70 ms of script before anything on it changed (the next paint came
//! about 120 ms after the key press). Built in document order, a frame's worth at a time
//! (`FIRST_FRAME_QUESTIONS` at once, then `FRAME_QUESTIONS` in each animation frame after),
//! the first of them show at once and the rest follow within a few frames, as a long list's
//! rows do (view.rs, `rows`). Only the page waits: the engine holds every item's state from
//! the answer on, so validation, the summary and the response never depend on it.

use intake_engine::session::NodeId;

/// Questions built with the answer that shows them.
pub const FIRST_FRAME_QUESTIONS: u32 = 40;
/// Questions built in each animation frame after that.
pub const FRAME_QUESTIONS: u32 = 40;

/// Nodes waiting to be built, with the questions each holds, in document order (a form's node
/// ids follow its items' order; a repeating group's rows added later come after, which only
/// puts them later in the queue).
#[derive(Default)]
pub struct Queue {
    waiting: Vec<(NodeId, u32)>,
}

impl Queue {
    /// Nodes to build, each with the questions it holds (a group: those under it). A node
    /// already waiting keeps its place.
    pub fn extend(&mut self, nodes: impl IntoIterator<Item = (NodeId, u32)>) {
        self.waiting.extend(nodes);
        // Stable: of a node added twice, the first stays.
        intake_order::sort_by_key(&mut self.waiting, |(n, _)| n.0);
        self.waiting.dedup_by_key(|(n, _)| n.0);
    }

    /// The next nodes to build, from the front, until their questions reach `budget` (at least
    /// one node, however large). A node for which `still` says no (hidden again, or gone) is
    /// dropped without counting: if it shows again, its answer queues it again.
    pub fn take(&mut self, budget: u32, still: impl Fn(NodeId) -> bool) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut spent = 0u32;
        let mut used = 0;
        for &(n, questions) in &self.waiting {
            if spent >= budget && !out.is_empty() {
                break;
            }
            used += 1;
            if still(n) {
                out.push(n);
                spent = spent.saturating_add(questions.max(1));
            }
        }
        self.waiting.drain(..used);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_in_document_order_a_budget_at_a_time() {
        let mut q = Queue::default();
        q.extend([(NodeId(9), 10), (NodeId(3), 30), (NodeId(5), 15)]);
        // 30 + 15 reaches 40: node 9 waits for the next frame.
        assert_eq!(q.take(40, |_| true), vec![NodeId(3), NodeId(5)]);
        assert!(!q.is_empty());
        assert_eq!(q.take(40, |_| true), vec![NodeId(9)]);
        assert!(q.is_empty());
        assert_eq!(q.take(40, |_| true), Vec::<NodeId>::new());
    }

    #[test]
    fn a_large_group_is_built_whole_and_alone() {
        let mut q = Queue::default();
        q.extend([(NodeId(1), 120), (NodeId(2), 1)]);
        assert_eq!(q.take(40, |_| true), vec![NodeId(1)]);
        assert_eq!(q.take(40, |_| true), vec![NodeId(2)]);
    }

    #[test]
    fn what_hid_again_or_went_is_dropped_without_counting() {
        let mut q = Queue::default();
        q.extend([(NodeId(1), 30), (NodeId(2), 30), (NodeId(3), 5)]);
        // Node 2 hid again before its turn: it costs nothing and is not kept.
        assert_eq!(q.take(35, |n| n != NodeId(2)), vec![NodeId(1), NodeId(3)]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_node_queued_twice_waits_once_in_its_place() {
        let mut q = Queue::default();
        q.extend([(NodeId(4), 1), (NodeId(2), 1)]);
        q.extend([(NodeId(4), 1), (NodeId(1), 1)]);
        assert_eq!(q.take(100, |_| true), vec![NodeId(1), NodeId(2), NodeId(4)]);
    }
}
