//! Writing a part of the page as HTML text, every text and attribute value escaped.
//!
//! Why: a question's fixed parts (its label, help, unit, error box and a simple control) are
//! a dozen to a hundred nodes. As Leptos views each element was a view state, most had a
//! marker comment (with `erase_components`, every element that has children), and each node
//! two to four calls across to the browser. Written as HTML, the browser's parser makes them
//! in one call, the page has no markers inside questions (MDS 3.0 on one page: 1,283 comments
//! instead of 2,951, 7,325 before `blank::Parts`), and the view code for every simple control
//! is one writer (about 7 KB gzip less wasm). Parsing is not cheaper per element than
//! `createElement` from JS (Chromium 148: about 6 µs per element either way); the gain is in
//! what wasm no longer does per node.
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
fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
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
use leptos::tachys::view::{Mountable, Position, PositionState, Render, RenderHtml};
use wasm_bindgen::JsCast;

/// What is done with a `Markup`'s nodes once they are made, before they are in the page: find
/// the elements that change and start the effects that keep them.
pub type Bind = Box<dyn FnOnce(&web_sys::DocumentFragment) + Send>;

/// HTML from `Html`, as a part of a Leptos view: parsed by the browser in one call, then bound
/// (`Bind`). Its nodes go into the page where the view puts them, with no node of its own.
pub struct Markup {
    html: String,
    bind: Option<Bind>,
}

impl Markup {
    pub fn new(html: String, bind: Option<Bind>) -> Markup {
        Markup { html, bind }
    }
}

/// A `Markup`'s nodes: in `fragment` while not in the page, else from `first` to `last`.
pub struct MarkupState {
    fragment: web_sys::DocumentFragment,
    first: Option<web_sys::Node>,
    last: Option<web_sys::Node>,
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
        // Back into the fragment, in order, so a later mount puts them back as they were.
        if self.fragment.first_child().is_none() {
            for node in self.nodes() {
                let _ = self.fragment.append_child(&node);
            }
        }
    }

    fn mount(&mut self, parent: &Element, marker: Option<&Node>) {
        let _ = parent.insert_before(&self.fragment, marker);
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

    fn build(self) -> Self::State {
        let fragment = leptos::prelude::document()
            .create_element("template")
            .ok()
            .and_then(|t| t.dyn_into::<web_sys::HtmlTemplateElement>().ok())
            .map(|t| {
                t.set_inner_html(&self.html);
                t.content()
            })
            .unwrap_or_else(|| leptos::prelude::document().create_document_fragment());
        if let Some(bind) = self.bind {
            bind(&fragment);
        }
        let (first, last) = (fragment.first_child(), fragment.last_child());
        MarkupState { fragment, first, last }
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

    fn to_html_with_buf(self, buf: &mut String, _position: &mut Position, _escape: bool, _mark_branches: bool, _extra_attrs: Vec<AnyAttribute>) {
        buf.push_str(&self.html);
    }

    // The form is rendered in the browser only; there is no server HTML to hydrate.
    fn hydrate<const FROM_SERVER: bool>(self, _cursor: &Cursor, _position: &PositionState) -> Self::State {
        self.build()
    }

    fn into_owned(self) -> Self::Owned {
        self
    }
}
