//! Writing a part of the page as HTML text, every text and attribute value escaped.
//!
//! Why: an item's element and fixed parts (a question's label, help, unit, error box and a
//! simple control; a group's legend and help) are a dozen to a hundred nodes. As Leptos views
//! each element was a view state, most had a marker comment (with `erase_components`, every
//! element that has children), and each node two to four calls across to the browser. Written
//! as HTML, the browser's parser makes them, the page has no markers inside items (MDS 3.0 on
//! one page: 405 comments; 1,283 while each item's own element was still a Leptos element,
//! 2,951 and 7,325 before that), and the view code for every simple control is one writer
//! (about 7 KB gzip less wasm). Parsing is not cheaper per element than `createElement` from
//! JS (Chromium 148: about 6 µs per element either way); the gain is in what wasm no longer
//! does per node, and in one parse per page (`batch`) rather than one per item.
//!
//! Safety: only this writer produces the HTML, tag and attribute names are the program's own
//! (`&'static str`), and everything that comes from a form, a chart or a translation is
//! escaped. Form markup (rendering-xhtml, markdown) is never passed through: it is parsed into
//! the whitelisted tree of `rich_text` first, and that tree is written out here.

/// HTML text under construction.
#[derive(Default)]
pub struct Html(String);

impl Html {
    pub fn new() -> Html {
        Html(String::with_capacity(256))
    }

    /// `<tag a="v" ...>`: attributes with `None` are left out, `Some("")` is a bare flag.
    pub fn open(&mut self, tag: &'static str, attrs: &[(&'static str, Option<&str>)]) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        for (name, value) in attrs {
            let Some(value) = value else { continue };
            self.0.push(' ');
            self.0.push_str(name);
            if !value.is_empty() {
                self.0.push_str("=\"");
                escape_into(&mut self.0, value);
                self.0.push('"');
            }
        }
        self.0.push('>');
        self
    }

    pub fn close(&mut self, tag: &'static str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    /// Text, escaped.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.0, text);
        self
    }

    /// `<tag attrs>text</tag>`.
    pub fn element(&mut self, tag: &'static str, attrs: &[(&'static str, Option<&str>)], text: &str) -> &mut Self {
        self.open(tag, attrs).text(text).close(tag)
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// Escapes the five characters that could end a text or a quoted attribute value, or start
/// markup or an entity.
///
/// Scans bytes, not chars: the five are ASCII, and in UTF-8 an ASCII byte is always a whole
/// character, so every cut below falls on a character boundary. (A `char` pattern decodes each
/// character first: visibly slower over a large form's text.)
fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        out.push_str(entity);
        from = i + 1;
    }
    out.push_str(&s[from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attribute_values_are_escaped() {
        let mut h = Html::new();
        h.element("label", &[("for", Some("a\"><script>")), ("hidden", None), ("data-x", Some("it's"))], "<img src=x onerror=alert(1)> & co");
        assert_eq!(
            h.finish(),
            "<label for=\"a&quot;&gt;&lt;script&gt;\" data-x=\"it&#39;s\">&lt;img src=x onerror=alert(1)&gt; &amp; co</label>"
        );
    }

    #[test]
    fn specials_beside_multibyte_characters_are_escaped_whole() {
        let mut h = Html::new();
        h.text("é<ñ>&\"中'文€");
        assert_eq!(h.finish(), "é&lt;ñ&gt;&amp;&quot;中&#39;文€");
    }

    #[test]
    fn a_flag_is_bare_and_text_without_specials_is_kept() {
        let mut h = Html::new();
        h.open("input", &[("type", Some("radio")), ("checked", Some(""))]).text("Él dijo: ¿sí?");
        assert_eq!(h.finish(), "<input type=\"radio\" checked>Él dijo: ¿sí?");
    }
}

use leptos::tachys::html::attribute::any_attribute::AnyAttribute;
use leptos::tachys::html::attribute::Attribute;
use leptos::tachys::hydration::Cursor;
use leptos::tachys::renderer::types::{Element, Node};
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::prelude::AnyView;
use leptos::tachys::view::any_view::AnyViewState;
use leptos::tachys::view::{Mountable, Position, PositionState, Render, RenderHtml};
use wasm_bindgen::JsCast;

/// What is done with a `Markup`'s nodes once they are made, before they are in the page: find
/// the elements that change and start the effects that keep them.
pub type Bind = Box<dyn FnOnce(&web_sys::DocumentFragment) + Send>;

/// HTML from `Html`, as a part of a Leptos view: parsed by the browser (with every other
/// `Markup` made before it was built: `batch`), then bound (`Bind`). Its nodes go into the page
/// where the view puts them, with no node of its own.
pub struct Markup {
    /// Where its HTML waits to be parsed; taken when it is built.
    ticket: Option<batch::Ticket>,
    bind: Option<Bind>,
    /// Views built into its first element, after what the HTML put there (`holding`).
    inside: Vec<AnyView>,
}

impl Markup {
    pub fn new(html: String, bind: Option<Bind>) -> Markup {
        Markup::holding(html, bind, Vec::new())
    }

    /// HTML whose first element is a container, and views to build into it at its end, after
    /// `bind`. Why: a question's own element (`<div class="ik-q">`), written in the HTML
    /// rather than as a Leptos element around it, is made by the same parse as its parts
    /// instead of by a dozen calls into the browser and an effect for its class (MDS 3.0 on
    /// one page has 590 of them).
    pub fn holding(html: String, bind: Option<Bind>, inside: Vec<AnyView>) -> Markup {
        Markup { ticket: Some(batch::add(&html)), bind, inside }
    }
}

impl Drop for Markup {
    // A markup made and never built (a view thrown away) gives its place back.
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            batch::discard(ticket);
        }
    }
}

/// One parse for all the `Markup`s of a view, instead of one each.
///
/// Why: a page's view is made (every question's HTML written) before it is built, and each
/// `Markup` parsed on its own was a `<template>` created, its HTML passed across and parsed,
/// and its content fetched: four calls into the browser and a parser started per question, 600
/// on MDS 3.0 on one page. Now the first `Markup` built parses every one made so far, each
/// inside a `<template>` of one outer template: its content is that markup's fragment, exactly
/// what its own template's content was (the template end tag closes whatever a piece left open,
/// and a piece never holds `</template>`: only `Html` writes it, and text is escaped).
/// MDS 3.0 on one page, devtools trace of the peers-bench page: the browser's HTML parsing
/// during the mount went from 23-26 ms to 12-14 ms, the mount's task from 194-227 to 140-163.
mod batch {
    use std::cell::RefCell;
    use wasm_bindgen::JsCast;

    /// A markup's place: its batch, and its index there.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ticket {
        batch: u32,
        index: u32,
    }

    /// The batch being written: markups made and not yet parsed.
    #[derive(Default)]
    struct Pending {
        id: u32,
        html: String,
        /// Each markup's HTML in `html` (its `<template>` wrapper excluded), and whether it was
        /// dropped unbuilt.
        pieces: Vec<(std::ops::Range<usize>, bool)>,
        /// How many of `pieces` are not dropped: at none, the batch is let go unparsed.
        live: usize,
    }

    /// A parsed batch whose fragments are not all taken yet.
    struct Parsed {
        id: u32,
        fragments: Vec<Option<web_sys::DocumentFragment>>,
        left: usize,
    }

    #[derive(Default)]
    struct Batches {
        pending: Pending,
        parsed: Vec<Parsed>,
    }

    thread_local! {
        static BATCHES: RefCell<Batches> = RefCell::default();
    }

    pub fn add(html: &str) -> Ticket {
        BATCHES.with_borrow_mut(|b| {
            let p = &mut b.pending;
            p.html.push_str("<template>");
            let at = p.html.len();
            p.html.push_str(html);
            p.pieces.push((at..p.html.len(), false));
            p.live += 1;
            p.html.push_str("</template>");
            Ticket { batch: p.id, index: (p.pieces.len() - 1) as u32 }
        })
    }

    /// The markup's nodes, in a fragment of their own (its batch parsed now if it is pending).
    pub fn take(ticket: Ticket) -> web_sys::DocumentFragment {
        BATCHES.with_borrow_mut(|b| {
            if ticket.batch == b.pending.id {
                parse(b);
            }
            take_parsed(b, ticket).unwrap_or_else(super::empty_fragment)
        })
    }

    /// A markup dropped before it was built: nothing of it is kept.
    pub fn discard(ticket: Ticket) {
        BATCHES.with_borrow_mut(|b| {
            if ticket.batch == b.pending.id {
                if let Some(piece) = b.pending.pieces.get_mut(ticket.index as usize).filter(|p| !p.1) {
                    piece.1 = true;
                    b.pending.live -= 1;
                }
                // A count, not a scan of the pieces: a view of thousands of items dropped
                // unbuilt would otherwise cost thousands squared.
                if b.pending.live == 0 {
                    let id = b.pending.id;
                    b.pending = Pending { id, ..Pending::default() };
                }
                return;
            }
            drop(take_parsed(b, ticket));
        })
    }

    /// The markup's fragment out of its parsed batch (none if it was taken, or its batch let
    /// go); the batch goes when its last fragment does.
    fn take_parsed(b: &mut Batches, ticket: Ticket) -> Option<web_sys::DocumentFragment> {
        let at = b.parsed.iter().position(|p| p.id == ticket.batch)?;
        let batch = &mut b.parsed[at];
        let fragment = batch.fragments.get_mut(ticket.index as usize).and_then(Option::take);
        if fragment.is_some() {
            batch.left -= 1;
        }
        if batch.left == 0 {
            b.parsed.swap_remove(at);
        }
        fragment
    }

    /// The HTML of a markup not built yet, for writing the view out as text.
    pub fn html(ticket: Ticket) -> Option<String> {
        BATCHES.with_borrow(|b| {
            if ticket.batch == b.pending.id {
                return b.pending.pieces.get(ticket.index as usize).map(|(range, _)| b.pending.html[range.clone()].to_owned());
            }
            let batch = b.parsed.iter().find(|p| p.id == ticket.batch)?;
            let fragment = batch.fragments.get(ticket.index as usize)?.as_ref()?;
            let holder = leptos::prelude::document().create_element("div").ok()?;
            holder.append_child(&fragment.clone_node_with_deep(true).ok()?).ok()?;
            Some(holder.inner_html())
        })
    }

    /// Parses the pending batch in one call; the next markups start a new one.
    fn parse(b: &mut Batches) {
        let pending = std::mem::take(&mut b.pending);
        b.pending.id = pending.id.wrapping_add(1);
        // `create_element` fails only for an invalid tag name, and "template" is not one; were
        // it to fail, the markups would be empty, as a single markup's was before batching.
        let outer = leptos::prelude::document().create_element("template").ok().map(JsCast::unchecked_into::<web_sys::HtmlTemplateElement>);
        if let Some(outer) = &outer {
            outer.set_inner_html(&pending.html);
        }
        let mut fragments = Vec::with_capacity(pending.pieces.len());
        let mut at = outer.and_then(|o| o.content().first_element_child());
        for (_, dropped) in &pending.pieces {
            let inner = at.take();
            at = inner.as_ref().and_then(|e| e.next_element_sibling());
            // Every piece is its own <template>, so `inner` is this piece's; none (or no content)
            // could only mean the browser parsed the batch otherwise: the markup is then empty,
            // never another markup's nodes.
            let content = inner.map(|e| e.unchecked_into::<web_sys::HtmlTemplateElement>().content());
            fragments.push(if *dropped { None } else { content });
        }
        let left = fragments.iter().filter(|f| f.is_some()).count();
        if left > 0 {
            b.parsed.push(Parsed { id: pending.id, fragments, left });
        }
    }
}

/// A new, empty fragment of the page's document.
fn empty_fragment() -> web_sys::DocumentFragment {
    leptos::prelude::document().create_document_fragment()
}

/// A `Markup`'s nodes: in `fragment` while not in the page, else from `first` to `last`.
pub struct MarkupState {
    /// Holds the nodes while they are off the page; none while they are in it. Why not kept
    /// empty: a parsed template's content holds its template, and that template is in the
    /// batch's outer template: one fragment kept would keep the whole batch's templates.
    fragment: Option<web_sys::DocumentFragment>,
    first: Option<web_sys::Node>,
    last: Option<web_sys::Node>,
    /// The views built into the first element: never read, but held, since a reactive view's
    /// effect lives in its state and ends when the state is dropped. (They move with the
    /// element, so mounting and unmounting the markup moves them too.)
    _inside: Vec<AnyViewState>,
}

impl MarkupState {
    /// The nodes, first to last, wherever they are.
    fn nodes(&self) -> Vec<web_sys::Node> {
        let mut out = Vec::new();
        let mut at = self.first.clone();
        while let Some(node) = at {
            let done = self.last.as_ref().is_some_and(|l| l.is_same_node(Some(&node)));
            at = if done { None } else { node.next_sibling() };
            out.push(node);
        }
        out
    }
}

impl Mountable for MarkupState {
    fn unmount(&mut self) {
        // Into a fragment, in order, so a later mount puts them back as they were.
        if self.fragment.is_none() {
            let fragment = empty_fragment();
            for node in self.nodes() {
                let _ = fragment.append_child(&node);
            }
            self.fragment = Some(fragment);
        }
    }

    fn mount(&mut self, parent: &Element, marker: Option<&Node>) {
        // Already in the page: nothing to insert (as an emptied fragment inserted nothing).
        if let Some(fragment) = self.fragment.take() {
            let _ = parent.insert_before(&fragment, marker);
        }
    }

    fn insert_before_this(&self, child: &mut dyn Mountable) -> bool {
        let Some(first) = &self.first else { return false };
        let Some(parent) = first.parent_element() else { return false };
        child.mount(&parent, Some(first));
        true
    }

    fn elements(&self) -> Vec<Element> {
        self.nodes().into_iter().filter_map(|n| n.dyn_into::<Element>().ok()).collect()
    }
}

impl Render for Markup {
    type State = MarkupState;

    fn build(mut self) -> Self::State {
        let fragment = match self.ticket.take() {
            Some(ticket) => batch::take(ticket),
            None => empty_fragment(),
        };
        if let Some(bind) = self.bind.take() {
            bind(&fragment);
        }
        let container = fragment.first_element_child();
        let inside = std::mem::take(&mut self.inside)
            .into_iter()
            .map(|view| {
                let mut state = view.build();
                // No first element would mean HTML without the container `holding` promises:
                // the views then go at the end of the markup rather than nowhere.
                match &container {
                    Some(c) => state.mount(c, None),
                    None => state.mount(fragment.unchecked_ref(), None),
                }
                state
            })
            .collect();
        let (first, last) = (fragment.first_child(), fragment.last_child());
        MarkupState { fragment: Some(fragment), first, last, _inside: inside }
    }

    fn rebuild(self, state: &mut Self::State) {
        // New nodes where the old ones are, then the old ones out (a part redrawn, such as a
        // drop-down whose options an expression computes).
        // (Not in the page: the new nodes wait in their fragment for the mount.)
        let mut new = self.build();
        state.insert_before_this(&mut new);
        state.unmount();
        *state = new;
    }
}

impl AddAnyAttr for Markup {
    type Output<SomeNewAttr: Attribute> = Markup;

    fn add_any_attr<NewAttr: Attribute>(self, _attr: NewAttr) -> Self::Output<NewAttr> {
        self
    }
}

impl RenderHtml for Markup {
    type AsyncOutput = Markup;
    type Owned = Markup;

    const MIN_LENGTH: usize = 0;

    fn dry_resolve(&mut self) {}

    async fn resolve(self) -> Self::AsyncOutput {
        self
    }

    fn to_html_with_buf(mut self, buf: &mut String, position: &mut Position, escape: bool, mark_branches: bool, _extra_attrs: Vec<AnyAttribute>) {
        let Some(html) = self.ticket.take().and_then(|t| {
            let html = batch::html(t);
            batch::discard(t);
            html
        }) else {
            return;
        };
        // The views `inside` go before the container's end tag, the last thing in the HTML.
        let end = if self.inside.is_empty() { html.len() } else { html.rfind("</").unwrap_or(html.len()) };
        buf.push_str(&html[..end]);
        for view in std::mem::take(&mut self.inside) {
            view.to_html_with_buf(buf, position, escape, mark_branches, Vec::new());
        }
        buf.push_str(&html[end..]);
    }

    // The form is rendered in the browser only; there is no server HTML to hydrate.
    fn hydrate<const FROM_SERVER: bool>(self, _cursor: &Cursor, _position: &PositionState) -> Self::State {
        self.build()
    }

    fn into_owned(self) -> Self::Owned {
        self
    }
}
