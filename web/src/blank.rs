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
use leptos::prelude::AnyView;
use leptos::tachys::renderer::types::{Element, Node};
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::any_view::AnyViewState;
use leptos::tachys::view::{Mountable, Position, PositionState, Render, RenderHtml};

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

/// The part when the definition has it, else nothing at all.
pub fn part<V: leptos::prelude::IntoView>(part: Option<V>) -> leptos::prelude::AnyView {
    use leptos::prelude::IntoAny;
    match part {
        Some(v) => v.into_any(),
        None => Blank.into_any(),
    }
}

/// A fixed run of parts, with no node of its own: the children of an element whose parts the
/// item definition fixes. Why: with `erase_components` the view macro gathers an element's
/// several children in a list that ends in a marker comment, and a tuple instead costs its own
/// view code per arity and type. Passed as an element's one child, `Parts` leaves the single
/// marker every child list has, where several children left one more for the list.
///
/// Like `Blank`, for parts that are never replaced in place by a different number of parts:
/// a view that is patched by another built from the same definition keeps its count, and
/// the parts are patched one by one.
pub struct Parts(pub Vec<AnyView>);

/// The parts' states, in order.
pub struct PartsState(Vec<AnyViewState>);

impl Mountable for PartsState {
    fn unmount(&mut self) {
        self.0.iter_mut().for_each(Mountable::unmount);
    }

    fn mount(&mut self, parent: &Element, marker: Option<&Node>) {
        for part in &mut self.0 {
            part.mount(parent, marker);
        }
    }

    fn insert_before_this(&self, child: &mut dyn Mountable) -> bool {
        self.0.iter().any(|part| part.insert_before_this(child))
    }

    fn elements(&self) -> Vec<Element> {
        self.0.iter().flat_map(Mountable::elements).collect()
    }
}

impl Render for Parts {
    type State = PartsState;

    fn build(self) -> Self::State {
        PartsState(self.0.into_iter().map(Render::build).collect())
    }

    fn rebuild(self, state: &mut Self::State) {
        if self.0.len() != state.0.len() {
            // Not for parts that change in number (see the type's doc); should it happen, the
            // new parts go where the old ones were, never lost.
            let mut new = self.build();
            if let Some(first) = state.0.first() {
                for part in &mut new.0 {
                    first.insert_before_this(part);
                }
            }
            state.unmount();
            *state = new;
            return;
        }
        for (part, old) in self.0.into_iter().zip(state.0.iter_mut()) {
            part.rebuild(old);
        }
    }
}

impl AddAnyAttr for Parts {
    type Output<SomeNewAttr: Attribute> = Parts;

    fn add_any_attr<NewAttr: Attribute>(self, _attr: NewAttr) -> Self::Output<NewAttr> {
        self
    }
}

impl RenderHtml for Parts {
    type AsyncOutput = Parts;
    type Owned = Parts;

    const MIN_LENGTH: usize = 0;
    // No placeholder from `AnyView` (see `Blank`): the child list's marker is the anchor.
    const EXISTS: bool = true;

    fn dry_resolve(&mut self) {}

    async fn resolve(self) -> Self::AsyncOutput {
        self
    }

    fn to_html_with_buf(self, buf: &mut String, position: &mut Position, escape: bool, mark_branches: bool, _extra_attrs: Vec<AnyAttribute>) {
        for part in self.0 {
            part.to_html_with_buf(buf, position, escape, mark_branches, Vec::new());
        }
    }

    fn hydrate<const FROM_SERVER: bool>(self, cursor: &Cursor, position: &PositionState) -> Self::State {
        PartsState(self.0.into_iter().map(|part| part.hydrate::<FROM_SERVER>(cursor, position)).collect())
    }

    fn into_owned(self) -> Self::Owned {
        self
    }
}
