//! `Blank`: a part of a view that is absent and leaves nothing in the page.
//!
//! Why: Leptos renders an absent part (`()`, `None`) as an empty comment node, so that it has a
//! place to insert the part if it later appears; as a child of an element (we build with
//! `erase_components`, where every child is an `AnyView`) `()` costs two. A question has several
//! parts fixed by its definition (prefix, help, unit, follow-ups): on MDS 3.0 on one page those
//! comments outnumbered the elements, and each is a node the browser creates, inserts and keeps.
//!
//! `Blank` is for parts whose presence is fixed by the item definition and never changes while
//! the view lives. It has no node to insert before, so a view that could switch between
//! `Blank` and something else in place must use `Option` (its placeholder is that anchor).
//! Mind that with erased components a reactive view that returns "the same" element with other
//! content is patched in place, part by part: a view holding `Blank` parts must only ever be
//! patched by one built from the same definition. Pages are keyed for this reason (`view::form`).

use leptos::tachys::html::attribute::any_attribute::AnyAttribute;
use leptos::tachys::html::attribute::Attribute;
use leptos::tachys::hydration::Cursor;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::{Position, PositionState, Render, RenderHtml};

/// Nothing, with no node (see the module doc for where it may be used).
#[derive(Clone, Copy, Debug, Default)]
pub struct Blank;

impl Render for Blank {
    // `()` as a state: mounts nothing, and is no anchor for inserting anything.
    type State = ();

    fn build(self) -> Self::State {}

    fn rebuild(self, _state: &mut Self::State) {}
}

impl AddAnyAttr for Blank {
    type Output<SomeNewAttr: Attribute> = Blank;

    fn add_any_attr<NewAttr: Attribute>(self, _attr: NewAttr) -> Self::Output<NewAttr> {
        self
    }
}

impl RenderHtml for Blank {
    type AsyncOutput = Blank;
    type Owned = Blank;

    const MIN_LENGTH: usize = 0;
    // Told "exists" so that `AnyView` adds no placeholder of its own: the one thing this type
    // is for. Safe because a `Blank` part is never replaced in place (module doc).
    const EXISTS: bool = true;

    fn dry_resolve(&mut self) {}

    async fn resolve(self) -> Self::AsyncOutput {
        self
    }

    fn to_html_with_buf(self, _buf: &mut String, _position: &mut Position, _escape: bool, _mark_branches: bool, _extra_attrs: Vec<AnyAttribute>) {}

    fn hydrate<const FROM_SERVER: bool>(self, _cursor: &Cursor, _position: &PositionState) -> Self::State {}

    fn into_owned(self) -> Self::Owned {
        self
    }
}
