//! The patient's form. Components render engine state (`NodeVm` signals) and send every change
//! back to the engine; none decides what is shown, required or wrong.
//!
//! Accessibility: native controls only; groups and choice sets are `fieldset`/`legend`; every
//! field has a `label`; help, units, "why we ask" and errors are tied to the control with
//! `aria-describedby`; errors set `aria-invalid` and are announced politely, as are questions
//! that appear. Pages move focus to their heading; the error summary links to each field.

use intake_engine::fhir::{Quantity, Value};
use intake_engine::questionnaire::{ItemDef, ItemId, ItemType, LocalText, Rendering};
use intake_engine::session::NodeId;
use intake_engine::visit_type::{REVIEW_CHANGED, REVIEW_CONFIRMED};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::blank::Blank;
use crate::chunks::Place;
use crate::html::{Bind, Html, Markup};
use crate::rich_text::{self, Rich};
use crate::state::{enabled_in, label_of, NodeVm, Phase, Ui, UiRef};

fn ui(r: UiRef) -> std::rc::Rc<Ui> {
    r.get_value()
}

/// A DOM id (and radio-group name) unique to this form in the document. Two forms mounted in
/// one page must never share ids or radio names: labels would point into the other form and
/// checking a radio in one would uncheck the other's.
///
/// Written by hand, not with `format!`: a page of MDS 3.0 asks for about 3,000 of them while it
/// mounts; with `format!` they took 6.8 ms of that mount, now under 1 ms (`profile.mjs
/// mds-onepage`, `WARMUP=1`, `INCL=dom_id`).
fn dom_id(r: UiRef, kind: &str, n: NodeId) -> String {
    let u = ui(r);
    let mut id = String::with_capacity(u.dom.len() + kind.len() + 11);
    id.push_str(&u.dom);
    id.push_str(kind);
    id.push('-');
    push_decimal(&mut id, n.0);
    id
}

/// `n` in decimal digits, appended.
fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// The whole form.
pub fn form(r: UiRef) -> impl IntoView {
    let u = ui(r);
    let t = u.text;
    let title = u.session.borrow().visit_type().manifest.title_in(u.lang).to_owned();
    let lang = u.lang;
    let root = NodeRef::<leptos::html::Div>::new();
    let restored = u.restored && !u.partly_restored;
    let partly_restored = u.partly_restored;
    view! {
        <div class="ik" part="form" lang=lang node_ref=root>
            // An untitled form gets a plain heading, never an empty one (screen readers announce
            // those) and never none (the page headings below are h3: levels must not skip).
            <h2 class="ik-title" part="title">{if title.trim().is_empty() { t.untitled_form.to_owned() } else { title.clone() }}</h2>
            <p class="ik-note">{if u.persistent { t.saved } else { t.not_saved }}</p>
            {restored.then(|| view! { <p class="ik-note" role="status">{t.answers_restored}</p> })}
            {partly_restored.then(|| view! { <p class="ik-note ik-warn" role="status">{t.answers_partly_restored}</p> })}
            {u.restarted.then(|| view! { <p class="ik-note ik-warn" role="status">{t.restarted}</p> })}
            <div class="ik-sr" aria-live="polite" aria-atomic="true">{move || ui(r).announce.get()}</div>
            // Urgent advisories: announced at once (role=alert) without moving focus; on every
            // page, the review and the thanks page; no way to dismiss them by accident.
            <div class="ik-urgent-region" role="alert">
                {move || {
                    let list = ui(r).urgent.get();
                    (!list.is_empty()).then(|| view! {
                        <div class="ik-urgent" part="urgent">
                            <strong>{t.urgent_title}</strong>
                            {list.into_iter().map(|text| view! { <p>{text}</p> }).collect_view()}
                        </div>
                    })
                }}
            </div>
            {move || ui(r).save_error.get().map(|_| view! { <p class="ik-warn" role="status">{t.save_failed}</p> })}
            {move || rule_notice(r)}
            {move || match ui(r).phase.get() {
                Phase::Submitted => thanks(r).into_any(),
                _ => view! {
                    {progress(r)}
                    {summary(r, root)}
                    // Keyed by the page: another page is built afresh, never patched into the
                    // last one's elements (pages differ in shape, and parts a definition lacks
                    // leave no node to patch against: see `blank`).
                    <For each=move || [ui(r).page.get()] key=|page| *page children=move |page| {
                        let pages = ui(r).pages();
                        if page >= pages.len() { review(r, root).into_any() } else { page_view(r, page, pages[page].clone(), root).into_any() }
                    } />
                }.into_any(),
            }}
        </div>
    }
}

fn rule_notice(r: UiRef) -> Option<impl IntoView> {
    let u = ui(r);
    // Re-read when anything changes on the page.
    u.page.track();
    let has = {
        let s = u.session.borrow();
        !s.rule_errors().is_empty() || s.unsettled()
    };
    has.then(|| view! { <p class="ik-warn" role="status">{u.text.rule_problem}</p> })
}

fn progress(r: UiRef) -> impl IntoView {
    move || {
        let u = ui(r);
        let page = u.page.get();
        let pages = u.pages();
        let shown: Vec<usize> = (0..pages.len()).filter(|p| u.page_enabled(&pages[*p])).collect();
        let total = shown.len() + 1;
        let step = shown.iter().position(|p| *p == page).map(|i| i + 1).unwrap_or(total);
        let t = u.text;
        view! {
            <div class="ik-progress" part="progress">
                <span>{format!("{} {step} {} {total}", t.step, t.of)}</span>
                <progress max=total.to_string() value=step.to_string() aria-label=t.progress></progress>
            </div>
        }
    }
}

/// Focus the element `selector` finds in the form, and scroll it to the middle of the screen.
/// Returns whether it was there.
fn focus_in(root: NodeRef<leptos::html::Div>, selector: &str) -> bool {
    let Some(el) = root.get_untracked().and_then(|r| r.query_selector(selector).ok().flatten()) else { return false };
    if let Ok(h) = el.dyn_into::<web_sys::HtmlElement>() {
        let _ = h.focus();
        let opts = web_sys::ScrollIntoViewOptions::new();
        opts.set_block(web_sys::ScrollLogicalPosition::Center);
        h.scroll_into_view_with_scroll_into_view_options(&opts);
    }
    true
}

/// Focus node `n`'s field. On a long page it may be in a chunk not filled yet (`chunks`):
/// then the page's chunks are all filled now, and the field is focused once they are built.
fn focus_node(r: UiRef, root: NodeRef<leptos::html::Div>, n: NodeId) {
    focus_when_built(r, root, format!("[id='{}']", dom_id(r, "f", n)), FOCUS_TRIES);
}

/// Frames `focus_node` waits at most: a split group's chunks are added when its own chunk
/// fills, so a field two split groups deep is built two fills later.
const FOCUS_TRIES: u8 = 4;

fn focus_when_built(r: UiRef, root: NodeRef<leptos::html::Div>, selector: String, tries: u8) {
    if focus_in(root, &selector) || tries == 0 {
        return;
    }
    // Nothing waits: the field is not on this page (or not shown).
    let Some(u) = r.try_get_value() else { return };
    if !u.chunks.waiting() {
        return;
    }
    u.chunks.fill(u32::MAX);
    request_animation(move || focus_when_built(r, root, selector, tries - 1));
}

fn summary(r: UiRef, root: NodeRef<leptos::html::Div>) -> impl IntoView {
    let box_ref = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if !ui(r).summary.get().is_empty() {
            if let Some(b) = box_ref.get() {
                let _ = b.focus();
            }
        }
    });
    move || {
        let u = ui(r);
        let items = u.summary.get();
        (!items.is_empty()).then(|| {
            let t = u.text;
            view! {
                <div class="ik-summary" part="error-summary" role="alert" tabindex="-1" node_ref=box_ref>
                    <h3>{t.problem_title}</h3>
                    <p>{t.problem_intro}</p>
                    <ul>
                        {items.into_iter().map(|(n, msg)| {
                            let href = format!("#{}", dom_id(r, "f", n));
                            view! {
                                <li><a href=href.clone() on:click=move |ev| {
                                    ev.prevent_default();
                                    focus_node(r, root, n);
                                }>{msg}</a></li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            }
        })
    }
}

/// Questions on a page above which off-screen ones are not laid out until scrolled near.
const LONG_PAGE: usize = 60;

fn page_view(r: UiRef, page: usize, items: Vec<ItemId>, root: NodeRef<leptos::html::Div>) -> impl IntoView {
    let u = ui(r);
    let t = u.text;
    let heading = NodeRef::<leptos::html::H3>::new();
    Effect::new(move |prev: Option<()>| {
        // Focus the heading when a page opens: not the form's first page on first render (the
        // host's focus is left alone), but every page after, the first one too when Back
        // returns to it (its Back button went with the page it was on, and the focus with it).
        let u = ui(r);
        let opened_before = u.page_opened.replace(true);
        if prev.is_some() || opened_before || u.page.get_untracked() > 0 {
            if let Some(h) = heading.get() {
                let _ = h.focus();
            }
        }
    });
    // A long page (MDS 3.0 on one page, a long chain) leaves its off-screen questions unlaid
    // out (`.ik-long` in intake.css); a short one is laid out at once, which is cheaper there.
    let long = {
        let s = u.session.borrow();
        items.iter().map(|i| questions_in(s.form(), *i) as usize).sum::<usize>() > LONG_PAGE
    };
    // Its chunks (a long page's) are the form's to follow while this view lives.
    if long {
        let generation = u.chunks.begin(page);
        on_cleanup(move || {
            if let Some(u) = r.try_get_value() {
                u.chunks.forget(page, generation);
            }
        });
    }
    let single_group = {
        let s = u.session.borrow();
        match items.as_slice() {
            [one] => {
                let def = s.form().item(*one);
                (def.item_type == ItemType::Group && !def.repeats).then(|| def.clone())
            }
            _ => None,
        }
    };
    let (title, body) = match single_group {
        Some(def) => {
            let title = def.text.as_ref().map(|t| t.in_lang(u.lang).to_owned()).unwrap_or_default();
            let n = u.session.borrow().nodes_of(def.id).first().copied();
            let body = match n {
                Some(n) if long => view! { {help_of(r, &def, u.lang, n)} {chunked(r, Place::page(page), blocks(r, Some(n)))} }.into_any(),
                Some(n) => view! { {help_of(r, &def, u.lang, n)} {children(r, Some(n))} }.into_any(),
                None => ().into_any(),
            };
            (title, body)
        }
        // A run of top-level items: the form's title heads the page.
        None => {
            let title = u.session.borrow().visit_type().manifest.title_in(u.lang).to_owned();
            let blocks: Vec<Block> = items
                .into_iter()
                .map(|item| {
                    let repeating = ui(r).session.borrow().form().item(item).is_repeating_group();
                    if repeating {
                        return Block { make: Box::new(move || rows(r, None, item).into_any()), shows: Shows::Rows, item };
                    }
                    let n = ui(r).session.borrow().nodes_of(item).first().copied();
                    match n {
                        Some(n) => Block { make: Box::new(move || node(r, n)), shows: Shows::Node(n), item },
                        None => Block { make: Box::new(|| ().into_any()), shows: Shows::Nothing, item },
                    }
                })
                .collect();
            let body = if long { chunked(r, Place::page(page), blocks) } else { blocks.into_iter().map(|b| (b.make)()).collect_view().into_any() };
            (title, body)
        }
    };
    let _ = root;
    view! {
        <section class=if long { "ik-page ik-long" } else { "ik-page" } part="page" aria-labelledby=format!("{}page-{page}", u.dom)>
            <h3 id=format!("{}page-{page}", u.dom) tabindex="-1" node_ref=heading>{if title.trim().is_empty() { t.untitled_page.to_owned() } else { title }}</h3>
            {body}
            <div class="ik-nav">
                {(page > 0).then(|| view! { <button type="button" class="ik-secondary" part="button secondary" on:click=move |_| ui(r).back()>{t.back}</button> })}
                <button type="button" class="ik-primary" part="button primary" on:click=move |_| ui(r).next()>{t.next}</button>
            </div>
        </section>
    }
}

/// What to render under a parent: one block per child item, where a repeating group is one
/// block (its rows and its Add button), even with no rows yet.
fn children(r: UiRef, parent: Option<NodeId>) -> impl IntoView {
    blocks(r, parent).into_iter().map(|b| (b.make)()).collect_view()
}

/// One child item's view under a parent, and what a long page's chunk needs of it.
struct Block {
    /// Makes its view: at once, or when its chunk fills (`chunked`).
    make: Box<dyn Fn() -> AnyView + Send + Sync>,
    shows: Shows,
    /// Its item: a chunk counts the questions in it (only a long page's blocks are counted).
    item: ItemId,
}

/// What a block shows, as a chunk counts it (`chunks`).
enum Shows {
    /// The item's node: shown when the engine says so.
    Node(NodeId),
    /// A repeating group's rows, or an item whose node comes later: what comes and goes
    /// without the chunk hearing of it, so the chunk counts it as always there.
    Rows,
    /// Nothing (a hidden item, help text shown with its parent).
    Nothing,
}

/// The questions in an item: itself if it is one, else those under it.
pub(crate) fn questions_in(form: &intake_engine::Form, item: ItemId) -> u32 {
    let mut stack = vec![item];
    let mut count = 0;
    while let Some(i) = stack.pop() {
        let def = form.item(i);
        count += u32::from(def.item_type.is_question());
        stack.extend(def.children.iter().copied());
    }
    count
}

/// A long page's blocks in chunks (`chunks`), under `place` (the page, or a split group):
/// each chunk a `div.ik-chunk` holding blocks in order until their questions reach
/// `CHUNK_QUESTIONS`. The chunks holding the first `AT_ONCE_QUESTIONS` questions that show on
/// the page are built now; the rest are built empty and filled after the first paint
/// (`Chunks::fill`, through `Ui::fill_chunks_soon`). A group showing more than
/// `SPLIT_QUESTIONS` questions is split: its children are chunked inside its own element
/// (`group`), built now among the first questions, else when its own chunk fills.
fn chunked(r: UiRef, place: Place, blocks: Vec<Block>) -> AnyView {
    let page = place.page;
    // Taken once: a page of 5,000 questions asked for it 15,000 times.
    let u = ui(r);
    let mut out = Vec::new();
    let mut chunk = Pending::default();
    // Places taken under `place`, by chunks and split groups.
    let mut taken = 0u32;
    let mut next = || {
        taken += 1;
        place.child(taken - 1)
    };
    for b in blocks {
        let (held, group) = {
            let s = u.session.borrow();
            let held = match b.shows {
                Shows::Nothing => 0,
                _ => questions_in(s.form(), b.item),
            };
            (held, s.form().item(b.item).item_type == ItemType::Group)
        };
        if let Shows::Node(n) = b.shows {
            if group && held > crate::chunks::SPLIT_QUESTIONS && u.is_enabled(n) {
                if !chunk.makes.is_empty() {
                    out.push(std::mem::take(&mut chunk).close(r, &next()));
                }
                let at = next();
                if !u.chunks.later(page) {
                    u.chunks.split(n, at);
                    out.push((b.make)());
                    continue;
                }
                // Past the first questions (so nothing more is counted): a chunk of its own,
                // split when it fills.
                let make = b.make;
                let own = at.clone();
                let alone = Pending {
                    makes: vec![Box::new(move || {
                        ui(r).chunks.split(n, at.clone());
                        make()
                    })],
                    items: vec![(n, true, held)],
                    questions: held,
                    rows: false,
                    later: true,
                    split: true,
                };
                out.push(alone.close(r, &own));
                continue;
            }
        }
        if chunk.makes.is_empty() {
            chunk.later = u.chunks.later(page);
        }
        chunk.questions += held;
        match b.shows {
            // Display text and groups without questions take room too: a question's worth.
            Shows::Node(n) => {
                let on = u.is_enabled(n);
                u.chunks.count(page, if on { held } else { 0 });
                chunk.items.push((n, on, held.max(1)));
            }
            Shows::Rows => {
                chunk.rows = true;
                u.chunks.count(page, held);
            }
            Shows::Nothing => {}
        }
        chunk.makes.push(b.make);
        if chunk.questions >= crate::chunks::CHUNK_QUESTIONS {
            out.push(std::mem::take(&mut chunk).close(r, &next()));
        }
    }
    if !chunk.makes.is_empty() {
        out.push(chunk.close(r, &next()));
    }
    out.into_iter().collect_view().into_any()
}

/// A chunk of `chunked` being gathered.
#[derive(Default)]
struct Pending {
    makes: Vec<Box<dyn Fn() -> AnyView + Send + Sync>>,
    /// Its nodes: (node, shown now, questions it holds).
    items: Vec<(NodeId, bool, u32)>,
    questions: u32,
    rows: bool,
    /// Built empty, to fill after the first paint.
    later: bool,
    /// Holds a split group (`Chunks::holds_split`).
    split: bool,
}

impl Pending {
    /// The chunk's element at `place` (it has blocks), built now or when it fills.
    fn close(self, r: UiRef, place: &Place) -> AnyView {
        let page = place.page;
        let fill = self.later.then(|| RwSignal::new(false));
        let start = ui(r).chunks.add(place, &self.items, self.rows, fill);
        let index = start.index;
        if self.split {
            ui(r).chunks.holds_split(page, index);
        }
        let makes = self.makes;
        let content = match fill {
            None => makes.into_iter().map(|m| m()).collect_view().into_any(),
            Some(filled) => {
                ui(r).fill_chunks_soon();
                (move || if filled.get() { makes.iter().map(|m| m()).collect_view().into_any() } else { ().into_any() }).into_any()
            }
        };
        view! { <div class="ik-chunk" hidden=start.hidden aria-busy=fill.map(|_| "true") use:keep_chunk=(r, page, index)>{content}</div> }.into_any()
    }
}

/// A directive on a chunk's element: the form keeps it to follow what shows in it.
fn keep_chunk(el: leptos::tachys::renderer::types::Element, (r, page, index): (UiRef, usize, usize)) {
    ui(r).chunks.keep(page, index, el);
}

/// `children`, as blocks.
fn blocks(r: UiRef, parent: Option<NodeId>) -> Vec<Block> {
    let u = ui(r);
    let kids = u.kids(parent);
    let parent_item = parent.and_then(|p| u.session.borrow().node(p).map(|n| n.item));
    let child_items: Vec<ItemId> = match parent_item {
        Some(i) => u.session.borrow().form().item(i).children.clone(),
        None => u.session.borrow().form().roots.clone(),
    };
    child_items
        .into_iter()
        .enumerate()
        .map(move |(at, item)| {
            let (repeating, hidden, help) = {
                let s = u.session.borrow();
                let d = s.form().item(item);
                let help_child = d.item_type == ItemType::Display && matches!(d.item_control.as_deref(), Some("help") | Some("flyover"));
                (d.is_repeating_group(), d.hidden || help_child, help_child)
            };
            if hidden || help {
                return Block { make: Box::new(|| Blank.into_any()), shows: Shows::Nothing, item };
            }
            if repeating {
                return Block { make: Box::new(move || rows(r, parent, item).into_any()), shows: Shows::Rows, item };
            }
            // The item's node is looked for where it usually is (the item's place among its
            // siblings: rows of a repeating group before it move it on), then among all. Each
            // of a 1,000-item page's items copying and searching the whole list was 1,000²
            // steps on the way to the page.
            let find = move |ks: &Vec<NodeId>| {
                let u = ui(r);
                let s = u.session.borrow();
                let is_item = |n: &NodeId| s.node(*n).is_some_and(|x| x.item == item);
                ks.get(at).filter(|n| is_item(n)).or_else(|| ks.iter().find(|n| is_item(n))).copied()
            };
            // A node of an item that does not repeat is made with its parent's and lives as
            // long as it does (only rows come and go): its view needs no effect following the
            // list, and a page of 735 questions had 735 of them, each with its placeholder.
            if let Some(n) = kids.with_untracked(find) {
                return Block { make: Box::new(move || node(r, n)), shows: Shows::Node(n), item };
            }
            Block { make: Box::new(move || (move || kids.with(find).map(|n| node(r, n))).into_any()), shows: Shows::Rows, item }
        })
        .collect()
}

/// `data-repeat` of a node inside a repeating group: its row's position, kept current as rows
/// are added and removed (rows are keyed, so a row's DOM outlives its position). None (no
/// attribute, and no effect: one per question of the page before) outside repeating groups.
fn repeat_attr(r: UiRef, n: NodeId) -> Option<impl Fn() -> Option<String> + Send + Sync + Copy + 'static> {
    let siblings = {
        let u = ui(r);
        let s = u.session.borrow();
        s.row_of(n).map(|row| u.kids(s.node(row).and_then(|x| x.parent)))
    }?;
    Some(move || {
        siblings.track();
        ui(r).repeat_index(n).map(|i| i.to_string())
    })
}

/// A control's hints as the view reads them in its effects: the ids that describe it
/// (`aria-describedby`), whether it is invalid now (`aria-invalid`), whether it is required
/// now. Named once here rather than spelled out at every control.
pub trait Described: Fn() -> Option<String> + Send + Sync + Copy + 'static {}
impl<T: Fn() -> Option<String> + Send + Sync + Copy + 'static> Described for T {}
pub trait Invalid: Fn() -> Option<&'static str> + Send + Sync + Copy + 'static {}
impl<T: Fn() -> Option<&'static str> + Send + Sync + Copy + 'static> Invalid for T {}
pub trait Required: Fn() -> bool + Send + Sync + Copy + 'static {}
impl<T: Fn() -> bool + Send + Sync + Copy + 'static> Required for T {}

/// An item's definition as the view holds it: shared, never copied, by the closures of every
/// control that reads it (a deep copy per closure was kilobytes per question kept for the life
/// of the page: 5,000 questions held three each).
type Def = std::sync::Arc<ItemDef>;

/// One node: a group, display text, or a question.
///
/// Built the first time it is shown, then kept: hiding it again sets `hidden` on the same
/// element, and showing it clears it (`Ui::apply`, through the element `keep` registers). So a
/// change costs what changed (a 999-item chain re-shown is 999 property writes, not 999
/// subtrees rebuilt, nor 999 effects), what the patient typed in a hidden item's field stays
/// as it was, and an item never shown costs nothing.
fn node(r: UiRef, n: NodeId) -> AnyView {
    let u = ui(r);
    let def = u.def(n);
    if def.hidden {
        return Blank.into_any();
    }
    let build = move |hidden: bool| {
        let def = def.clone();
        match def.item_type {
            ItemType::Group => group(r, n, &def, hidden).into_any(),
            ItemType::Display => display(r, n, &def, hidden).into_any(),
            _ => question(r, n, &def, hidden).into_any(),
        }
    };
    built_when_shown(r, n, build)
}

/// The view `build` makes for node `n` (given whether it starts hidden): at once if the node is
/// shown, else the first time it shows; then kept, shown and hidden on the element its `keep`
/// registers. Built hidden if it was hidden again before its view was built.
fn built_when_shown(r: UiRef, n: NodeId, build: impl Fn(bool) -> AnyView + Send + Sync + 'static) -> AnyView {
    let u = ui(r);
    if u.is_enabled(n) {
        return build(false);
    }
    let shows = u.build_trigger(n);
    (move || if shows.get() { build(!ui(r).is_enabled(n)) } else { ().into_any() }).into_any()
}

/// A directive on a built item's outermost element: the form keeps it while the view lives,
/// to show and hide the item on it.
fn keep(el: leptos::tachys::renderer::types::Element, (r, n): (UiRef, NodeId)) {
    let token = ui(r).keep_element(n, el.unchecked_into());
    on_cleanup(move || {
        if let Some(u) = r.try_get_value() {
            u.forget_element(n, token);
        }
    });
}

/// An item's text where an expression computes it (`cqf-expression`), else None: the text as
/// it stands, or the form's while the expression has given none.
fn expression_text(r: UiRef, n: NodeId, def: &ItemDef) -> Option<Memo<String>> {
    let u = ui(r);
    if !u.session.borrow().form().expressions.item(def.id).computes_text() {
        return None;
    }
    let vm = u.vm(n);
    let fallback = def.text.as_ref().map(|t| t.in_lang(u.lang).to_owned()).unwrap_or_default();
    Some(Memo::new(move |_| vm.with(|v| v.text.clone()).unwrap_or_else(|| fallback.clone())))
}

/// The start of an item's own element, written as its `Markup`'s container (see
/// `Markup::holding`); the caller writes its content and closes it.
fn open_item(h: &mut Html, tag: &'static str, class: &'static str, part: Option<&'static str>, id: Option<&str>, def: &ItemDef, hidden: bool) {
    h.open(tag, &[("class", Some(class)), ("part", part), ("id", id), ("data-linkid", Some(&def.link_id)), ("hidden", hidden.then_some(""))]);
}

/// An item's help text, with the id a question's `aria-describedby` names.
fn help_html(h: &mut Html, r: UiRef, n: NodeId, def: &ItemDef, lang: &str) {
    if let Some(help) = &def.help {
        h.open("div", &[("class", Some("ik-help")), ("id", Some(&dom_id(r, "h", n)))]);
        rich_html(Some(help), lang, h);
        h.close("div");
    }
}

/// What every item's element gets once made: kept by the form (shown and hidden on it), and
/// inside a repeating group its row's position as `data-repeat`.
fn bind_item(r: UiRef, n: NodeId, el: &web_sys::Element) {
    keep(el.clone(), (r, n));
    if let Some(repeat) = repeat_attr(r, n) {
        let el = el.clone();
        keep_running(move |_| set_attr(&el, "data-repeat", repeat().as_deref()));
    }
}

/// Display text: one `Markup` (its text in the HTML, or kept by an effect when computed).
fn display(r: UiRef, n: NodeId, def: &Def, hidden: bool) -> Markup {
    let lang = ui(r).lang;
    let computed = expression_text(r, n, def);
    let mut h = Html::new();
    open_item(&mut h, "div", "ik-display", None, None, def, hidden);
    if computed.is_none() {
        rich_html(def.text.as_ref(), lang, &mut h);
    }
    h.close("div");
    let bind: Bind = Box::new(move |parts| {
        let Some(el) = parts.first_element_child() else { return };
        bind_item(r, n, &el);
        if let Some(text) = computed {
            keep_text(el, false, text);
        }
    });
    Markup::holding(h.finish(), Some(bind), Vec::new())
}

/// A group: its fieldset, legend and help are one `Markup` (as a question's are); its "why we
/// ask" and its items are views built into it.
fn group(r: UiRef, n: NodeId, def: &Def, hidden: bool) -> Markup {
    let u = ui(r);
    let lang = u.lang;
    let why = why_of(u.vm(n));
    let computed = expression_text(r, n, def);
    let mut h = Html::new();
    open_item(&mut h, "fieldset", "ik-group", None, Some(&dom_id(r, "f", n)), def, hidden);
    h.open("legend", &[]);
    if computed.is_none() {
        rich_html(def.text.as_ref(), lang, &mut h);
    }
    h.close("legend");
    help_html(&mut h, r, n, def, lang);
    h.close("fieldset");
    let bind: Bind = Box::new(move |parts| {
        let Some(el) = parts.first_element_child() else { return };
        bind_item(r, n, &el);
        if let (Some(text), Some(legend)) = (computed, el.first_element_child()) {
            keep_text(legend, false, text);
        }
    });
    // On a long page, a large group's children are in chunks of its own (`chunked`).
    let kids = match u.chunks.take_split(n) {
        Some(place) => chunked(r, place, blocks(r, Some(n))),
        None => children(r, Some(n)).into_any(),
    };
    let inside = vec![(move || why.get().map(|w| why_view(r, ui(r).text.why_we_ask, w, n))).into_any(), kids];
    Markup::holding(h.finish(), Some(bind), inside)
}

/// Why an item is asked, apart from the rest of its view model: its paragraph is rebuilt only
/// when the text changes, not on every answer to the item (erased views rebuild by setting
/// every attribute again).
fn why_of(vm: RwSignal<NodeVm>) -> Memo<Option<String>> {
    Memo::new(move |_| vm.with(|v| v.why.clone()))
}

fn why_view(r: UiRef, label: &'static str, text: String, n: NodeId) -> impl IntoView {
    view! { <p class="ik-why" id=dom_id(r, "w", n)><span class="ik-why-label">{label}": "</span>{text}</p> }
}

fn help_of(r: UiRef, def: &ItemDef, lang: &str, n: NodeId) -> AnyView {
    if def.help.is_none() {
        return Blank.into_any();
    }
    let mut h = Html::new();
    help_html(&mut h, r, n, def, lang);
    Markup::new(h.finish(), None).into_any()
}

/// The text's markup as safe rich text, when it has markup in this language (a translation
/// is plain text).
fn rich_nodes(t: &LocalText, lang: &str) -> Option<Vec<Rich>> {
    let translated = t.translations.iter().any(|(l, _)| lang.starts_with(l.as_str()));
    match &t.rendering {
        Some(Rendering::Xhtml(x)) if !translated => Some(rich_text::from_xhtml(x)),
        Some(Rendering::Markdown(m)) if !translated => Some(rich_text::from_markdown(m)),
        _ => None,
    }
}

/// Writes the text into `h`: its safe markup, or its plain text in the language.
fn rich_html(text: Option<&LocalText>, lang: &str, h: &mut Html) {
    let Some(t) = text else { return };
    match rich_nodes(t, lang) {
        Some(nodes) => rich_text::write_html(&nodes, h),
        None => {
            h.text(t.in_lang(lang));
        }
    }
}

/// The label of an answer value: its option's label in the language, else its display.
pub fn value_label(def: &ItemDef, v: &Value, lang: &str, t: &crate::i18n::Strings) -> String {
    if let Value::Boolean(b) = v {
        return if *b { t.yes.into() } else { t.no.into() };
    }
    if let Value::Quantity(q) = v {
        let unit = intake_engine::units::label(&intake_engine::fhir::Coding { code: q.code.clone(), display: q.unit.clone(), ..Default::default() });
        let n = q.value.map(intake_engine::fhir::format_decimal).unwrap_or_default();
        return if unit.is_empty() { n } else { format!("{n} {unit}") };
    }
    def.options.iter().find(|o| o.is(v)).map(|o| o.label_in(lang)).unwrap_or_else(|| v.display())
}

/// The same answer as an option's value (`AnswerChoice::is`, for option values held apart
/// from their `AnswerChoice`).
fn same_answer(a: &Value, option: &Value) -> bool {
    match (a, option) {
        (Value::Coding(x), Value::Coding(y)) => intake_engine::enable_when::codings_equal(x, y),
        _ => a == option,
    }
}

fn is_option(def: &ItemDef, v: &Value) -> bool {
    def.options.iter().any(|o| o.is(v))
}

/// A question: label (or legend for a set of choices), hints, control, errors.
fn question(r: UiRef, n: NodeId, def: &Def, hidden: bool) -> impl IntoView {
    let u = ui(r);
    let t = u.text;
    let lang = u.lang;
    let vm = u.vm(n);
    let id = dom_id(r, "f", n);
    let page = u.page_of(n);
    // Whether the errors show: not a memo, as only the question's one effect (`kept_together`)
    // reads it. The view model is read in place (`with`), never cloned (`get`) here and below.
    let show_errors = move || vm.with(|v| (v.touched || ui(r).attempted.with(|a| a.contains(&page))) && (v.draft_error.is_some() || !v.errors.is_empty()));
    // One message per problem: text that is not a valid answer yet says only that ("9O" is
    // not a whole number), not also "this question needs an answer".
    let errors = move || {
        vm.with(|v| match &v.draft_error {
            Some(e) => vec![e.clone()],
            None => v.errors.clone(),
        })
    };
    let has_help = def.help.is_some();
    // A UCUM annotation (`{score}`) is no unit to show.
    let unit_text = (def.units.len() == 1 && def.item_type != ItemType::Quantity)
        .then(|| intake_engine::units::label(&def.units[0]))
        .filter(|u| !u.is_empty());
    let has_unit = unit_text.is_some();
    // What cannot change in this form (the engine says: `fixed_required`, `fixed_why`) is
    // written once, without a memo and an effect per question.
    let (fixed_required, fixed_why, computed_text) = {
        let s = u.session.borrow();
        let why = s.fixed_why(def.id).map(|w| w.map(|w| intake_engine::explain::why_text(s.form(), &w, lang)));
        (s.fixed_required(def.id), why, s.form().expressions.item(def.id).computes_text())
    };
    let has_fixed_why = matches!(fixed_why, Some(Some(_)));
    let why_text = fixed_why.is_none().then(|| why_of(vm));
    let described = move || {
        let mut ids = Vec::new();
        if has_help {
            ids.push(dom_id(r, "h", n));
        }
        if has_unit {
            ids.push(dom_id(r, "u", n));
        }
        if why_text.map_or(has_fixed_why, |w| w.with(Option::is_some)) {
            ids.push(dom_id(r, "w", n));
        }
        if show_errors() {
            ids.push(dom_id(r, "e", n));
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    };
    let invalid = move || show_errors().then_some("true");
    let required = move || vm.with(|v| v.required);
    let as_fieldset = uses_fieldset(def);

    // The question's own element (a fieldset for a set of choices, else a div), its fixed
    // parts, and its control when it is a simple one, are one piece of HTML (see `html`):
    // label or legend (prefix, text, a fixed required mark), help, unit, a fixed "why we ask",
    // the error box, the control.
    let tag = if as_fieldset { "fieldset" } else { "div" };
    let mut h = Html::new();
    open_item(&mut h, tag, "ik-q", Some("question"), Some(&dom_id(r, "q", n)), def, hidden);
    let caption = if as_fieldset { "legend" } else { "label" };
    h.open(caption, &[("for", (!as_fieldset).then_some(id.as_str()))]);
    if let Some(p) = &def.prefix {
        h.element("span", &[("class", Some("ik-prefix"))], &format!("{p} "));
    }
    if !computed_text {
        rich_html(def.text.as_ref(), lang, &mut h);
    }
    if fixed_required == Some(true) {
        h.element("span", &[("class", Some("ik-req"))], &format!(" ({})", t.required));
    }
    h.close(caption);
    help_html(&mut h, r, n, def, lang);
    if let Some(unit) = &unit_text {
        h.element("span", &[("class", Some("ik-unit")), ("id", Some(&dom_id(r, "u", n)))], unit);
    }
    // A "why we ask" that can change is written as it is now, and kept by `keep_why`.
    let why_now = why_text.and_then(|w| w.get_untracked());
    if let Some(why) = fixed_why.as_ref().and_then(Option::as_ref).or(why_now.as_ref()) {
        why_html(&mut h, t.why_we_ask, why, &dom_id(r, "w", n));
    }
    h.element("div", &[("class", Some("ik-errors")), ("id", Some(&dom_id(r, "e", n))), ("aria-live", Some("polite"))], "");
    let simple = simple_control(r, n, def, &id, described, invalid, required, &mut h);
    // Other controls (quantities, files, type-ahead, options an expression computes) are views.
    let control = match simple {
        Some(_) => Blank.into_any(),
        None => control(r, n, def, id.clone(), (described, invalid, required)),
    };
    let text = if computed_text { expression_text(r, n, def) } else { None };
    h.close(tag);
    let has_prefix = def.prefix.is_some();
    let why_id = dom_id(r, "w", n);
    let bind: Bind = Box::new(move |parts| {
        kept_together(|| {
            let Some(question) = parts.first_element_child() else { return };
            bind_item(r, n, &question);
            let Some(caption) = question.first_element_child() else { return };
            if fixed_required.is_none() {
                sync_required(caption.clone(), (Some(required), t));
            }
            if let Some(text) = text {
                keep_text(caption.clone(), has_prefix, text);
            }
            // The error box is the question's last element so far, or the one before a simple
            // control (control views and follow-ups are built into it after this): found by
            // place, not by a selector match (5,000 questions: 9 ms of querySelector).
            let Some(last) = question.last_element_child() else { return };
            let (error_box, control) = match simple {
                Some(_) => (last.previous_element_sibling(), Some(last)),
                None => (Some(last), None),
            };
            let Some(error_box) = error_box else { return };
            if let Some(why) = why_text {
                keep_why(error_box.clone(), why, why_now, t.why_we_ask, why_id);
            }
            if let (Some(bind), Some(control)) = (simple, control) {
                bind(control);
            }
            sync_errors(error_box, question, (show_errors, errors));
        })
    });
    // Items nested under a question (R4 allows it: follow-ups to an answer, such as "Cause of
    // death" under "Living? No") show under it, each shown or hidden like any item.
    let followups = (!def.children.is_empty()).then(|| view! { <div class="ik-followups">{children(r, Some(n))}</div> }.into_any());
    let inside = [Some(control), followups].into_iter().flatten().collect();
    Markup::holding(h.finish(), Some(bind), inside)
}

/// "Why we ask: …", the paragraph the control's `aria-describedby` names.
fn why_html(h: &mut Html, label: &str, text: &str, id: &str) {
    h.open("p", &[("class", Some("ik-why")), ("id", Some(id))]);
    h.element("span", &[("class", Some("ik-why-label"))], &format!("{label}: "));
    h.text(text);
    h.close("p");
}

/// Keeps a question's "why we ask" when it can change: the paragraph is put before the error
/// box when there is a reason, rewritten when it changes, and taken away when there is none.
/// `written`: the reason the question's HTML was written with (its paragraph is there). Each
/// paragraph was parsed on its own after the question before: on the 1,000-item chain
/// answered to the end, where each question says which answer showed it, a thousand
/// `insertAdjacentHTML` calls were 28 ms of a 250 ms mount.
fn keep_why(error_box: web_sys::Element, why: Memo<Option<String>>, written: Option<String>, label: &'static str, id: String) {
    let mut written = written;
    keep_running(move |shown: Option<Option<String>>| {
        let text = why.get();
        // Before its first run the effect has shown nothing of its own: the HTML shows `written`.
        let shown = shown.unwrap_or_else(|| written.take());
        if text == shown {
            return text;
        }
        let paragraph = || error_box.previous_element_sibling().filter(|p| p.class_name() == "ik-why");
        match &text {
            Some(text) => {
                let mut h = Html::new();
                why_html(&mut h, label, text, &id);
                match shown.and_then(|_| paragraph()) {
                    Some(p) => p.set_outer_html(&h.finish()),
                    None => {
                        let _ = error_box.insert_adjacent_html("beforebegin", &h.finish());
                    }
                }
            }
            None => {
                if let Some(p) = paragraph() {
                    p.remove();
                }
            }
        }
        text
    });
}

/// Keeps a label's text that an expression computes (`cqf-expression`): one text node, after
/// the prefix, rewritten when the text changes.
fn keep_text(caption: web_sys::Element, has_prefix: bool, text: Memo<String>) {
    let Some(doc) = caption.owner_document() else { return };
    let node = doc.create_text_node("");
    let after_prefix = if has_prefix { caption.first_child().and_then(|p| p.next_sibling()) } else { caption.first_child() };
    let _ = caption.insert_before(&node, after_prefix.as_ref());
    keep_running(move |_| node.set_node_value(Some(&text.get())));
}

/// Runs `f` on the element's `kind` events while the view that made it lives.
fn listen(el: &web_sys::Element, kind: &'static str, f: impl Fn(web_sys::Event) + 'static) {
    let remove = leptos::tachys::renderer::Rndr::add_event_listener(el, kind, Box::new(move |ev: wasm_bindgen::JsValue| f(ev.unchecked_into())));
    on_cleanup(move || drop(remove));
}

/// Radio and checkbox sets are fieldsets; single inputs have a label.
fn uses_fieldset(def: &ItemDef) -> bool {
    match def.item_type {
        // A statement to tick ("I have no known allergies") is one checkbox with its label.
        ItemType::Boolean => def.item_control.as_deref() != Some("check-box"),
        ItemType::Choice | ItemType::OpenChoice => choice_style(def) != ChoiceStyle::Select && choice_style(def) != ChoiceStyle::Autocomplete,
        // The amount has the question as its label; the unit select has its own.
        _ => false,
    }
}

#[derive(PartialEq, Clone, Copy)]
enum ChoiceStyle {
    Radio,
    Checkbox,
    Select,
    Autocomplete,
}

fn choice_style(def: &ItemDef) -> ChoiceStyle {
    match def.item_control.as_deref() {
        Some("autocomplete") | Some("lookup") => ChoiceStyle::Autocomplete,
        Some("drop-down") if !def.repeats => ChoiceStyle::Select,
        Some("check-box") => ChoiceStyle::Checkbox,
        Some("radio-button") if !def.repeats => ChoiceStyle::Radio,
        _ if def.repeats => ChoiceStyle::Checkbox,
        _ if def.options.is_empty() => ChoiceStyle::Autocomplete,
        _ if def.options.len() > 8 => ChoiceStyle::Select,
        _ => ChoiceStyle::Radio,
    }
}

/// `5'7"`, `5' 7`, `5 ft 7 in`, `5ft7`, `5'`: a height in feet and inches, as total inches.
fn feet_and_inches(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_lowercase().replace('’', "'").replace('”', "\"").replace("''", "\"");
    let (feet, rest) = if let Some(i) = t.find("ft") {
        (&t[..i], t[i + 2..].trim_start_matches(['.', ' ']))
    } else if let Some(i) = t.find('\'') {
        (&t[..i], &t[i + 1..])
    } else {
        return None;
    };
    let feet = intake_text::parse_f64(feet.trim())?;
    let inches_text = rest.trim().trim_end_matches("inches").trim_end_matches("in").trim_end_matches('"').trim();
    let inches = if inches_text.is_empty() { 0.0 } else { intake_text::parse_f64(&inches_text.replace(',', "."))? };
    (feet.is_finite() && inches.is_finite() && (0.0..12.0).contains(&inches) && feet >= 0.0 && feet < 10.0).then_some(feet * 12.0 + inches)
}

/// A date that says when a measurement was taken (inside a group that extracts an
/// Observation): recent, and wanted to the day.
fn is_measurement_date(s: &intake_engine::Session, def: &ItemDef) -> bool {
    def.parent.is_some_and(|p| s.form().item(p).observation_extract)
}

/// The unit a patient most likely measured in, when the form offers it: pounds, inches and °F
/// in US English; kilograms, centimetres and °C in Spanish, or when the visit type's manifest
/// says `"units": "metric"`. The unit stays visible and changeable; answers are stored in UCUM
/// whatever is chosen.
fn preferred_unit(units: &[(String, String)], metric: bool) -> Option<String> {
    let wanted: &[&str] = if metric { &["kg", "cm", "Cel"] } else { &["[lb_av]", "[in_i]", "[ft_i]", "[degF]"] };
    units.iter().find(|(code, _)| wanted.contains(&code.as_str())).map(|(code, _)| code.clone())
}

/// The autocomplete token, input type and input mode for a field the chart fills.
fn autofill_of(f: Option<intake_engine::visit_type::PatientField>) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    use intake_engine::visit_type::PatientField as F;
    match f {
        Some(F::GivenName) => ("given-name", None, None),
        Some(F::FamilyName) => ("family-name", None, None),
        Some(F::PreferredName) => ("nickname", None, None),
        Some(F::BirthDate) => ("bday", None, None),
        Some(F::Phone) => ("tel", Some("tel"), Some("tel")),
        Some(F::Email) => ("email", Some("email"), Some("email")),
        Some(F::AddressLine) => ("address-line1", None, None),
        Some(F::City) => ("address-level2", None, None),
        Some(F::State) => ("address-level1", None, None),
        Some(F::PostalCode) => ("postal-code", None, None),
        _ => ("off", None, None),
    }
}

/// An option's prefix as it is shown before the option's name. A prefix that ends in a letter
/// or digit gets a full stop ("1. Several days", as LHC-Forms shows PHQ-9's scores); one that
/// ends in punctuation is kept as written ("(a) None", "1) Yes").
fn prefix_text(prefix: &str) -> String {
    match prefix.chars().last() {
        Some(c) if c.is_alphanumeric() => format!("{prefix}. "),
        _ => format!("{prefix} "),
    }
}

fn text_of(def: &ItemDef, v: &NodeVm, lang: &str, t: &crate::i18n::Strings) -> String {
    if let Some(d) = &v.draft {
        return d.clone();
    }
    v.answers.first().map(|a| match (def.item_type, a) {
        (ItemType::DateTime, Value::DateTime(d)) => {
            let s = d.to_string();
            s.get(..16).map(str::to_owned).unwrap_or(s)
        }
        (ItemType::Time, Value::Time(tm)) => format!("{:02}:{:02}", tm.hour, tm.minute),
        (ItemType::Date, Value::Date(d)) => crate::i18n::date_display(d, lang),
        (ItemType::Quantity, Value::Quantity(q)) => q.value.map(intake_engine::fhir::format_decimal).unwrap_or_default(),
        _ => value_label(def, a, lang, t),
    }).unwrap_or_default()
}

/// Where a choice's options come from, which decides how it is drawn: the form's own list
/// (written as HTML, or a type-ahead list), the portal's terminology search (for value sets
/// nobody could list), or an expression that computes them (redrawn when they change).
enum ChoiceSource {
    Listed,
    Terminology(js_sys::Function),
    Computed,
}

fn choice_source(r: UiRef, def: &ItemDef) -> ChoiceSource {
    let u = ui(r);
    if let Some(f) = def.options_fallback.as_ref().and(u.terminology()) {
        return ChoiceSource::Terminology(f);
    }
    if u.session.borrow().form().expressions.item(def.id).computes_options() {
        return ChoiceSource::Computed;
    }
    ChoiceSource::Listed
}

/// Whether an option is offered but not selectable now (an options toggle turned it off).
fn is_off(disabled: &[Value], option: &Value) -> bool {
    disabled.iter().any(|o| intake_engine::questionnaire::same_option(o, option))
}

/// Binds a simple control once its HTML is made: `FnOnce(control element)`.
type ControlBind = Box<dyn FnOnce(web_sys::Element) + Send>;

/// Writes a simple control into `h` (text fields, dates, yes/no, radios, checkboxes,
/// drop-downs) and says how to bind it: its value, checked options and aria attributes are
/// kept by one effect, and its events are listened to on the control. `None`: the control is
/// a view of its own (`control`).
#[allow(clippy::too_many_arguments)]
fn simple_control(r: UiRef, n: NodeId, def: &Def, id: &str, described: impl Described, invalid: impl Invalid, required: impl Required, h: &mut Html) -> Option<ControlBind> {
    let u = ui(r);
    let t = u.text;
    let lang = u.lang;
    let vm = u.vm(n);
    let read_only = def.read_only.then_some("");
    // Fields the chart fills (name, phone, email, address) carry the standard autocomplete
    // tokens and input types, so phones offer the patient's own details and the right keyboard.
    let patient_field = u.session.borrow().visit_type().patient_fields.iter().find(|(i, _)| *i == def.id).map(|(_, f)| *f);
    let (autocomplete, field_kind, field_mode) = autofill_of(patient_field);
    // A typed field: the answer is taken when the patient leaves it (or presses Enter); what
    // is typed meanwhile is kept as a draft.
    let typed = |h: &mut Html, kind: &'static str, inputmode: Option<&'static str>, placeholder: Option<String>| -> Option<ControlBind> {
        let kind = if kind == "text" { field_kind.unwrap_or(kind) } else { kind };
        let inputmode = field_mode.or(inputmode);
        // The answer on file is written as the field's `value` attribute: parsed with the rest,
        // where setting each field's value afterwards was a call per field (5,000 answered
        // questions: 40 ms of the mount).
        let written = vm.with_untracked(|v| text_of(def, v, lang, t));
        h.open("input", &[
            ("type", Some(kind)),
            ("id", Some(id)),
            ("inputmode", inputmode),
            ("placeholder", placeholder.as_deref()),
            ("readonly", read_only),
            ("autocomplete", Some(autocomplete)),
            ("value", (!written.is_empty()).then_some(written.as_str())),
        ]);
        let d = def.clone();
        let value = move || vm.with(|v| text_of(&d, v, lang, t));
        Some(Box::new(move |el| bind_typed(r, n, el, written, value, described, invalid, required)))
    };
    match def.item_type {
        // SDC itemControl check-box on a yes/no item: one box to tick, no "No" to a negative
        // statement. Unticked means not stated (no answer), not "false".
        ItemType::Boolean if def.item_control.as_deref() == Some("check-box") => {
            let values = std::sync::Arc::new(vec![Value::Boolean(true)]);
            // Written as `sync_options` keeps it.
            let on = checked_now(vm, &values)[0];
            h.open("div", &[("class", Some("ik-option ik-tick"))]);
            h.open("input", &[("type", Some("checkbox")), ("id", Some(id)), ("checked", on.then_some("")), ("disabled", read_only)]);
            h.close("div");
            Some(Box::new(move |el| {
                sync_options(el.clone(), (vm, values, described, invalid));
                listen(&el, "change", move |ev| {
                    let on = event_target_checked(&ev);
                    ui(r).answer(n, if on { vec![Value::Boolean(true)] } else { Vec::new() })
                });
            }))
        }
        ItemType::Boolean => {
            let values = vec![Value::Boolean(true), Value::Boolean(false)];
            let checked = checked_now(vm, &values);
            h.open("div", &[("class", Some("ik-yes-no"))]);
            for (i, label) in [t.yes, t.no].into_iter().enumerate() {
                option_html(h, "radio", id, i, checked[i], def.read_only, |h| {
                    h.text(label);
                });
            }
            h.close("div");
            let values = std::sync::Arc::new(values);
            Some(Box::new(move |el| {
                sync_options(el.clone(), (vm, values.clone(), described, invalid));
                listen(&el, "change", option_change(r, n, vm, values, false));
            }))
        }
        // Options from the terminology search or an expression are views of their own.
        ItemType::Choice | ItemType::OpenChoice => match choice_source(r, def) {
            ChoiceSource::Listed => choice_html(r, n, def, id, (described, invalid, required), &[], h),
            ChoiceSource::Terminology(_) | ChoiceSource::Computed => None,
        },
        ItemType::Text => {
            let max = def.max_length.map(|m| m.to_string());
            // The answer on file as the text area's content (see `typed`). The parser drops one
            // newline right after the start tag, so a text that starts with one gets one more.
            let written = vm.with_untracked(|v| text_of(def, v, lang, t));
            h.open("textarea", &[("id", Some(id)), ("rows", Some("4")), ("readonly", read_only), ("maxlength", max.as_deref())]);
            if written.starts_with(['\n', '\r']) {
                h.text("\n");
            }
            h.text(&written).close("textarea");
            let d = def.clone();
            let value = move || vm.with(|v| text_of(&d, v, lang, t));
            Some(Box::new(move |el| bind_typed(r, n, el, written, value, described, invalid, required)))
        }
        ItemType::Integer => typed(h, "text", Some("numeric"), def.entry_format.clone()),
        ItemType::Decimal => typed(h, "text", Some("decimal"), def.entry_format.clone()),
        // When a measurement was taken (a date inside an observation-extract group) is recent
        // and exact to the day: a native picker. Other dates (birth dates, "when did it
        // start? a year is fine") are typed, partial where the item allows, with a full
        // keyboard so the slashes the hint shows can be typed.
        ItemType::Date if is_measurement_date(&u.session.borrow(), def) => {
            h.open("input", &[("type", Some("date")), ("id", Some(id)), ("readonly", read_only)]);
            // The picker's value: what is being typed, else a full date; a partial date or an
            // answer of another type is shown as it is (the picker then reads it as empty).
            let iso = move || {
                vm.with(|v| {
                    v.draft.clone().unwrap_or_else(|| match v.answers.first() {
                        Some(Value::Date(x)) if x.day.is_some() => x.to_string(),
                        Some(other) => other.display(),
                        None => String::new(),
                    })
                })
            };
            Some(Box::new(move |el| {
                sync_field(el.clone(), String::new(), (iso, described, invalid, required));
                listen(&el, "change", move |ev| ui(r).answer_text(n, event_target_value(&ev)));
            }))
        }
        ItemType::Date => typed(h, "text", None, Some(def.entry_format.clone().unwrap_or_else(|| t.date_hint.into()))),
        ItemType::DateTime => typed(h, "datetime-local", None, None),
        ItemType::Time => typed(h, "time", None, None),
        ItemType::Url => typed(h, "url", None, def.entry_format.clone()),
        ItemType::Quantity | ItemType::Attachment => None,
        _ => typed(h, "text", None, def.entry_format.clone()),
    }
}

/// A typed field (input or textarea): one effect keeps its value and aria attributes; each
/// keystroke keeps a draft, leaving the field gives the answer.
fn bind_typed<V, D, I, R>(r: UiRef, n: NodeId, el: web_sys::Element, written: String, value: V, described: D, invalid: I, required: R)
where
    V: Fn() -> String + Send + Sync + Clone + 'static,
    D: Described,
    I: Invalid,
    R: Required,
{
    sync_field(el.clone(), written, (value, described, invalid, required));
    listen(&el, "input", move |ev| ui(r).typing(n, event_target_value(&ev)));
    listen(&el, "change", move |ev| ui(r).answer_text(n, event_target_value(&ev)));
}

/// The controls that are views of their own: quantities, files, type-ahead lists, the
/// terminology search, and options an expression computes.
fn control(r: UiRef, n: NodeId, def: &Def, id: String, (described, invalid, required): (impl Described, impl Invalid, impl Required)) -> AnyView {
    let vm = ui(r).vm(n);
    match def.item_type {
        ItemType::Choice | ItemType::OpenChoice => {
            match choice_source(r, def) {
                ChoiceSource::Terminology(f) => {
                    return crate::term_search::control(r, n, def, id, dom_id(r, "dl", n), dom_id(r, "st", n), f, described, invalid, required);
                }
                // A listed choice not written as HTML (`simple_control`) is a type-ahead list.
                ChoiceSource::Listed => return autocomplete_control(r, n, def, id, (described, invalid, required), &[]),
                ChoiceSource::Computed => {}
            }
            // Options an expression computes or toggles: the control is redrawn when they change
            // (not on every answer, which would lose the patient's place).
            let offer = Memo::new(move |_| vm.with(|v| (v.choices.clone(), v.disabled.clone())));
            let d = def.clone();
            (move || {
                let (choices, disabled) = offer.get();
                let d = match choices {
                    Some(c) => Def::new(ItemDef { options: c, ..(*d).clone() }),
                    None => d.clone(),
                };
                let mut h = Html::new();
                match choice_html(r, n, &d, &id, (described, invalid, required), &disabled, &mut h) {
                    Some(bind) => {
                        let bind: Bind = Box::new(move |parts| {
                            if let Some(el) = parts.first_element_child() {
                                bind(el);
                            }
                        });
                        Markup::new(h.finish(), Some(bind)).into_any()
                    }
                    None => autocomplete_control(r, n, &d, id.clone(), (described, invalid, required), &disabled),
                }
            })
            .into_any()
        }
        ItemType::Quantity => quantity_control(r, n, def, id, described, invalid),
        _ => attachment_control(r, n, id, described, invalid),
    }
}

/// Whether `option` is among the answers.
fn chosen(answers: &[Value], option: &Value) -> bool {
    answers.iter().any(|a| same_answer(a, option))
}

/// A radio or a checkbox: an input of a set of options (not an open choice's own words).
fn is_option_input(input: &web_sys::HtmlInputElement) -> bool {
    matches!(input.type_().as_str(), "radio" | "checkbox")
}

/// Writes an attribute only when it changes (a write of the same value is still a mutation for
/// observers and assistive technology).
fn set_attr(el: &web_sys::Element, name: &str, value: Option<&str>) {
    if el.get_attribute(name).as_deref() != value {
        let _ = match value {
            Some(v) => el.set_attribute(name, v),
            None => el.remove_attribute(name),
        };
    }
}

/// Keeps a directive's effect alive as long as the view that built it (effects end when
/// dropped).
fn keep_effect<T: Send + Sync + 'static>(effect: RenderEffect<T>) {
    on_cleanup(move || drop(effect));
}

/// One part of a view kept up to date: run again whenever what it read last time changes.
type Step = Box<dyn FnMut()>;

thread_local! {
    /// The steps of the question being bound (`kept_together`); none outside one.
    static GATHERED: std::cell::RefCell<Option<Vec<Step>>> = const { std::cell::RefCell::new(None) };
}

/// Keeps a part of the view up to date: `f` runs now and again whenever a signal it read
/// changes, and gets what it returned the time before (`None` the first time), so it writes
/// only what changed. Inside `kept_together` it becomes one step of the question's effect;
/// elsewhere it is an effect of its own.
fn keep_running<T: 'static>(mut f: impl FnMut(Option<T>) -> T + 'static) {
    let mut last = None;
    let step = move || last = Some(f(last.take()));
    let mut own = Some(step);
    GATHERED.with_borrow_mut(|g| {
        if let Some(steps) = g.as_mut() {
            steps.extend(own.take().map(|step| Box::new(step) as Step));
        }
    });
    if let Some(mut step) = own {
        keep_effect(RenderEffect::new(move |_| step()));
    }
}

/// Runs `bind` with every part it keeps up to date (`keep_running`: the control's value and
/// ARIA state, the error box, the required mark, "why we ask") gathered into one effect.
///
/// Why: a question had one effect per part (two to four), and with its memo of whether its
/// errors show, each was a node of the reactive graph to create, subscribe and hold. An
/// answer changes one question's view model, which every part of it reads anyway, so one
/// effect that runs them all does the same work on an answer and much less at mount (5,000
/// answered questions: one effect and no memo per question instead of two effects and a memo).
fn kept_together(bind: impl FnOnce()) {
    let outer = GATHERED.with_borrow_mut(|g| g.replace(Vec::new()));
    bind();
    let mut steps = GATHERED.with_borrow_mut(|g| std::mem::replace(g, outer)).unwrap_or_default();
    if !steps.is_empty() {
        keep_effect(RenderEffect::new(move |_| steps.iter_mut().for_each(|step| step())));
    }
}

/// Keeps a set of option inputs (yes/no, radios, checkboxes, a tick box), on their container:
/// one effect keeps every input's `checked`, `aria-describedby` and `aria-invalid` (and the
/// "other" field's description) as the answers and the question's state change. Each was an
/// effect of its own per input, and a reactive binding holds about 450 bytes of wasm memory
/// for the life of the page: a choice of three options had nine. `values[i]` is the value of
/// the container's i-th radio or checkbox. The inputs are written checked as they are at the
/// time (`simple_control`); the effect's first run finds them there.
fn sync_options<D, I>(el: leptos::tachys::renderer::types::Element, (vm, values, described, invalid): (RwSignal<NodeVm>, std::sync::Arc<Vec<Value>>, D, I))
where
    D: Described,
    I: Invalid,
{
    keep_running(move |before: Option<()>| {
        let (described, invalid) = (described(), invalid());
        vm.track();
        // The first run finds the inputs as they were written (checked as the answers are, no
        // aria attributes): nothing to do unless there is something to describe.
        if before.is_none() && described.is_none() && invalid.is_none() {
            return;
        }
        let Ok(inputs) = el.query_selector_all("input") else { return };
        vm.with_untracked(|v| {
            let mut k = 0;
            for i in 0..inputs.length() {
                let Some(input) = inputs.item(i).and_then(|x| x.dyn_into::<web_sys::HtmlInputElement>().ok()) else { continue };
                set_attr(&input, "aria-describedby", described.as_deref());
                if is_option_input(&input) {
                    set_attr(&input, "aria-invalid", invalid);
                    let on = values.get(k).is_some_and(|x| chosen(&v.answers, x));
                    if input.checked() != on {
                        input.set_checked(on);
                    }
                    k += 1;
                }
            }
        });
    });
}

/// The one `change` listener of a set of option inputs, on their container (one per input
/// before): the input's `value` is its index in `values`. A tick in a checkbox list adds or
/// removes that value; a radio replaces the answer. Changes from other fields in the container
/// (an open choice's own words) are theirs to handle.
fn option_change(r: UiRef, n: NodeId, vm: RwSignal<NodeVm>, values: std::sync::Arc<Vec<Value>>, multi: bool) -> impl Fn(web_sys::Event) + 'static {
    move |ev| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        if !is_option_input(&input) {
            return;
        }
        let Some(v) = input.value().parse::<usize>().ok().and_then(|i| values.get(i)) else { return };
        let mut vals = vm.get_untracked().answers;
        if multi {
            vals.retain(|x| !same_answer(x, v));
            if input.checked() {
                vals.push(v.clone());
            }
        } else {
            vals = vec![v.clone()];
        }
        ui(r).answer(n, vals);
    }
}

/// A directive on a text field: one effect keeps its value, `aria-describedby`, `aria-invalid`
/// and `aria-required` (four effects before; see `sync_options`). The value is written only
/// when it differs from what the field shows, so typing is never overwritten by itself.
fn sync_field<V, D, I, R>(el: leptos::tachys::renderer::types::Element, written: String, (value, described, invalid, required): (V, D, I, R))
where
    V: Fn() -> String + Send + Sync + Clone + 'static,
    D: Described,
    I: Invalid,
    R: Required,
{
    // An input, or a textarea (its own `value`, not an input's).
    let area = el.dyn_ref::<web_sys::HtmlTextAreaElement>().cloned();
    let mut written = Some(written);
    keep_running(move |before: Option<Aria>| {
        let v = value();
        // The field was written holding `written` (let go after this first run); after that,
        // what it shows is what the patient typed.
        let first = written.take();
        if before.is_some() || first.as_deref() != Some(v.as_str()) {
            match &area {
                Some(area) if area.value() != v => area.set_value(&v),
                None => {
                    let input: &web_sys::HtmlInputElement = el.unchecked_ref();
                    if input.value() != v {
                        input.set_value(&v);
                    }
                }
                _ => {}
            }
        }
        let now = Aria { described: described(), invalid: invalid(), required: required() };
        now.write(&el, before.as_ref());
        now
    });
}

/// A control's aria attributes as an effect last wrote them: only this effect writes them,
/// so a change is known without asking the page.
#[derive(Clone, Default, PartialEq)]
struct Aria {
    described: Option<String>,
    invalid: Option<&'static str>,
    required: bool,
}

impl Aria {
    /// Writes what differs from `before` (the control was written with none of them).
    fn write(&self, el: &web_sys::Element, before: Option<&Aria>) {
        let none = Aria::default();
        let before = before.unwrap_or(&none);
        if self.described != before.described {
            set_attr(el, "aria-describedby", self.described.as_deref());
        }
        if self.invalid != before.invalid {
            set_attr(el, "aria-invalid", self.invalid);
        }
        if self.required != before.required {
            set_attr(el, "aria-required", self.required.then_some("true"));
        }
    }
}

/// A directive on a question's label (or legend) whose "required" can change: one effect adds
/// " (required)" at its end when the question becomes required and takes it away when it
/// stops. As a reactive part of the label it was also two marker nodes per question. `None`:
/// the mark is fixed and built with the label.
fn sync_required<R>(el: leptos::tachys::renderer::types::Element, (required, t): (Option<R>, &'static crate::i18n::Strings))
where
    R: Required,
{
    let Some(required) = required else { return };
    // The label is written without the mark.
    keep_running(move |shown: Option<bool>| {
        let want = required();
        if want != shown.unwrap_or(false) {
            if want {
                if let Some(span) = el.owner_document().and_then(|d| d.create_element("span").ok()) {
                    span.set_class_name("ik-req");
                    span.set_text_content(Some(&format!(" ({})", t.required)));
                    let _ = el.append_child(&span);
                }
            } else if let Some(mark) = el.last_element_child().filter(|c| c.class_name() == "ik-req") {
                mark.remove();
            }
        }
        want
    });
}

/// A question's error box: one effect puts the question's messages in it, one paragraph each,
/// when they are to show (the box is `aria-live`, so they are announced), and empties it when
/// not; the same effect marks the question `ik-invalid` meanwhile. As a reactive child it was
/// two marker nodes per question, and the class an effect of its own.
fn sync_errors<S, E>(el: leptos::tachys::renderer::types::Element, question: web_sys::Element, (show, errors): (S, E))
where
    S: Fn() -> bool + 'static,
    E: Fn() -> Vec<String> + 'static,
{
    // The box is written empty, the question's class "ik-q", and only this effect changes them.
    keep_running(move |before: Option<(bool, Vec<String>)>| {
        let (shown_before, shown) = before.unzip();
        let showing = show();
        let now = if showing { errors() } else { Vec::new() };
        // The question is marked invalid while its errors show.
        if showing != shown_before.unwrap_or(false) {
            question.set_class_name(if showing { "ik-q ik-invalid" } else { "ik-q" });
        }
        // Unchanged messages are left as they are: rewriting them would announce them again.
        if now != shown.unwrap_or_default() {
            el.set_text_content(None);
            if let Some(doc) = el.owner_document() {
                for message in &now {
                    let Ok(p) = doc.create_element("p") else { break };
                    p.set_class_name("ik-error");
                    p.set_text_content(Some(message));
                    let _ = el.append_child(&p);
                }
            }
        }
        (showing, now)
    });
}

/// Keeps a drop-down's choice, `aria-describedby`, `aria-invalid` and `aria-required` in one
/// effect (four before). The first option ("Choose…") has the value "", option i the value i.
fn keep_select<S, D, I, R>(el: web_sys::Element, selected: S, described: D, invalid: I, required: R)
where
    S: Fn() -> String + Send + Sync + 'static,
    D: Described,
    I: Invalid,
    R: Required,
{
    let select: web_sys::HtmlSelectElement = el.unchecked_into();
    // The choice is written when it changes, never read back: in Chromium 148 reading a
    // drop-down's `value` after the page changed forces a style and layout pass (a drop-down's
    // kind can depend on its style), 1-1.5 ms per answer on MDS 3.0. Written with "Choose…"
    // selected.
    keep_running(move |before: Option<(String, Aria)>| {
        let v = selected();
        if before.as_ref().map_or(!v.is_empty(), |(was, _)| *was != v) {
            select.set_value(&v);
        }
        let now = Aria { described: described(), invalid: invalid(), required: required() };
        now.write(&select, before.as_ref().map(|(_, a)| a));
        (v, now)
    });
}

/// A choice's options as `(value, label)`, the label with the option's prefix ("a)", "1."),
/// which belongs to its name wherever it is shown.
fn option_labels(def: &ItemDef, lang: &str) -> Vec<(Value, String)> {
    def.options
        .iter()
        .map(|o| {
            let label = o.label_in(lang);
            (o.value.clone(), match &o.prefix {
                Some(p) => format!("{}{label}", prefix_text(p)),
                None => label,
            })
        })
        .collect()
}

/// Writes a choice's control into `h` (a drop-down, or a set of radios or checkboxes with the
/// open choice's own words) and says how to bind it. `disabled`: options offered but not
/// selectable now. `None` for a type-ahead list, which is a view (`autocomplete_control`).
#[allow(clippy::too_many_arguments)]
fn choice_html(
    r: UiRef,
    n: NodeId,
    def: &Def,
    id: &str,
    (described, invalid, required): (impl Described, impl Invalid, impl Required),
    disabled: &[Value],
    h: &mut Html,
) -> Option<ControlBind> {
    let u = ui(r);
    let t = u.text;
    let lang = u.lang;
    let vm = u.vm(n);
    let off = |v: &Value| is_off(disabled, v);
    let options = option_labels(def, lang);
    let values = std::sync::Arc::new(options.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>());
    let style = choice_style(def);
    match style {
        ChoiceStyle::Autocomplete => None,
        ChoiceStyle::Select => {
            h.open("select", &[("id", Some(id))]);
            h.element("option", &[("value", Some(""))], t.choose);
            for (i, (v, label)) in options.iter().enumerate() {
                h.element("option", &[("value", Some(&i.to_string())), ("disabled", off(v).then_some(""))], label);
            }
            h.close("select");
            Some(Box::new(move |el| {
                let list = values.clone();
                let selected = move || vm.with(|v| v.answers.first().and_then(|a| list.iter().position(|o| same_answer(a, o))).map(|i| i.to_string()).unwrap_or_default());
                keep_select(el.clone(), selected, described, invalid, required);
                listen(&el, "change", move |ev| {
                    let v = event_target_value(&ev);
                    let vals = v.parse::<usize>().ok().and_then(|i| values.get(i)).map(|o| vec![o.clone()]).unwrap_or_default();
                    ui(r).answer(n, vals);
                });
            }))
        }
        ChoiceStyle::Radio | ChoiceStyle::Checkbox => {
            let multi = style == ChoiceStyle::Checkbox || def.repeats;
            // A value set listed only in part takes the patient's own words too (see `value_set`).
            let open = def.item_type == ItemType::OpenChoice || def.options_fallback.is_some();
            let class = match (multi, def.horizontal) {
                (true, true) => "ik-options ik-multi ik-horizontal",
                (true, false) => "ik-options ik-multi",
                (false, true) => "ik-options ik-horizontal",
                (false, false) => "ik-options",
            };
            let checked = checked_now(vm, &values);
            h.open("div", &[("class", Some(class))]);
            for (i, (v, label)) in options.iter().enumerate() {
                option_html(h, if multi { "checkbox" } else { "radio" }, id, i, checked[i], off(v), |h| {
                    // Rich option text (rendering-xhtml) in the label, after its prefix.
                    match def.options.get(i).filter(|o| o.rendering.is_some()) {
                        Some(o) => {
                            if let Some(p) = &o.prefix {
                                h.text(&prefix_text(p));
                            }
                            let text = LocalText { text: o.label_in(lang), translations: Vec::new(), rendering: o.rendering.clone() };
                            rich_html(Some(&text), lang, h);
                        }
                        None => {
                            h.text(label);
                        }
                    }
                });
            }
            if open {
                // Open choice: the patient's own words, beside the options.
                let other_id = format!("{id}-other");
                h.open("div", &[("class", Some("ik-other"))]);
                h.element("label", &[("for", Some(&other_id))], t.other);
                h.open("input", &[("type", Some("text")), ("id", Some(&other_id))]);
                h.close("div");
            }
            h.close("div");
            let d = def.clone();
            Some(Box::new(move |el| {
                sync_options(el.clone(), (vm, values.clone(), described, invalid));
                listen(&el, "change", option_change(r, n, vm, values, multi));
                if let Some(other) = el.last_element_child().filter(|_| open).and_then(|div| div.last_element_child()) {
                    bind_other(r, n, d, other, multi);
                }
            }))
        }
    }
}

/// Which of `values` the answers hold now: how a set's inputs are written (`sync_options`
/// keeps them after).
fn checked_now(vm: RwSignal<NodeVm>, values: &[Value]) -> Vec<bool> {
    vm.with_untracked(|v| values.iter().map(|x| chosen(&v.answers, x)).collect())
}

/// Option `i` of a set of radios or checkboxes, its input and label (`label` writes the
/// label's content). The set's first option's id is `id`, which is also the radio group's
/// name (the id the question's label and the error summary target).
fn option_html(h: &mut Html, kind: &'static str, id: &str, i: usize, checked: bool, disabled: bool, label: impl FnOnce(&mut Html)) {
    let rid = if i == 0 { id.to_owned() } else { format!("{id}-{i}") };
    h.open("div", &[("class", Some("ik-option"))]);
    h.open("input", &[
        ("type", Some(kind)),
        ("id", Some(&rid)),
        ("name", Some(id)),
        ("value", Some(&i.to_string())),
        ("checked", checked.then_some("")),
        ("disabled", disabled.then_some("")),
    ]);
    h.open("label", &[("for", Some(&rid))]);
    label(h);
    h.close("label").close("div");
}

/// An open choice's own words: kept as the answer that is none of the options, and given
/// beside the ticked options (instead of the chosen one, for a single answer).
fn bind_other(r: UiRef, n: NodeId, d: Def, input: web_sys::Element, multi: bool) {
    let vm = ui(r).vm(n);
    let field: web_sys::HtmlInputElement = input.clone().unchecked_into();
    let d2 = d.clone();
    keep_running(move |before: Option<()>| {
        let free = vm.with(|v| v.answers.iter().find(|a| !is_option(&d2, a)).map(|a| a.display()).unwrap_or_default());
        // Written empty; after that, what it shows is what the patient typed.
        if (before.is_some() || !free.is_empty()) && field.value() != free {
            field.set_value(&free);
        }
    });
    listen(&input, "change", move |ev| {
        let text = event_target_value(&ev);
        let mut vals: Vec<Value> = vm.get_untracked().answers.into_iter().filter(|a| is_option(&d, a)).collect();
        if !multi {
            vals.clear();
        }
        if !text.trim().is_empty() {
            match intake_engine::answer::parse_text(&d, &text) {
                Ok(v) => vals.push(v),
                Err(_) => vals.push(Value::String(text)),
            }
        }
        ui(r).answer(n, vals);
    });
}

/// A choice from a long list: a text field with the options offered as the patient types
/// (`datalist`); the typed text is matched to an option by the engine.
fn autocomplete_control(
    r: UiRef,
    n: NodeId,
    def: &Def,
    id: String,
    (described, invalid, required): (impl Described, impl Invalid, impl Required),
    disabled: &[Value],
) -> AnyView {
    let u = ui(r);
    let t = u.text;
    let lang = u.lang;
    let vm = u.vm(n);
    let list_id = dom_id(r, "dl", n);
    let d = def.clone();
    let value = move || vm.with(|v| text_of(&d, v, lang, t));
    let offered: Vec<String> = option_labels(def, lang)
        .into_iter()
        .filter(|(v, _)| !is_off(disabled, v))
        .map(|(_, l)| l)
        .collect();
    view! {
        <input type="text" id=id list=list_id.clone() prop:value=value autocomplete="off"
            aria-describedby=described aria-invalid=invalid aria-required=move || required().then_some("true")
            on:change=move |ev| ui(r).answer_text(n, event_target_value(&ev)) />
        <datalist id=list_id>
            {offered.into_iter().map(|l| view! { <option value=l></option> }).collect_view()}
        </datalist>
    }
    .into_any()
}

fn quantity_control(
    r: UiRef,
    n: NodeId,
    def: &Def,
    id: String,
    described: impl Described,
    invalid: impl Invalid,
) -> AnyView {
    let u = ui(r);
    let t = u.text;
    let lang = u.lang;
    let vm = u.vm(n);
    let units: Vec<(String, String)> = def
        .units
        .iter()
        .map(|c| (c.code.clone().unwrap_or_default(), intake_engine::units::label(c)))
        .collect();
    let unit_sig = RwSignal::new(
        vm.get_untracked()
            .answers
            .first()
            .and_then(|a| match a {
                Value::Quantity(q) => q.code.clone(),
                _ => None,
            })
            .or_else(|| {
                let metric = u.session.borrow().visit_type().manifest.metric_units || lang.starts_with("es");
                preferred_unit(&units, metric).or_else(|| units.first().map(|u| u.0.clone()))
            })
            .unwrap_or_default(),
    );
    let number = RwSignal::new(String::new());
    let units_have_inches = units.iter().any(|(c, _)| c == "[in_i]");
    let d = def.clone();
    let value = move || vm.with(|v| text_of(&d, v, lang, t));
    let commit = move || {
        let text = number.get_untracked();
        if text.trim().is_empty() {
            ui(r).answer(n, vec![]);
            return;
        }
        // Heights are often said in feet and inches (5'7", 5 ft 7 in): taken as inches when
        // the form measures in inches (the unit switches to it, visibly).
        if let Some(inches) = feet_and_inches(&text) {
            if units_have_inches {
                unit_sig.set("[in_i]".to_owned());
                let q = Quantity { value: Some(inches), code: Some("[in_i]".into()), ..Default::default() };
                ui(r).answer(n, vec![Value::Quantity(q)]);
                return;
            }
        }
        match intake_text::parse_f64(&text.trim().replace(',', ".")) {
            Some(v) if v.is_finite() => {
                let code = unit_sig.get_untracked();
                let q = Quantity { value: Some(v), code: (!code.is_empty()).then_some(code), ..Default::default() };
                ui(r).answer(n, vec![Value::Quantity(q)]);
            }
            _ => ui(r).answer_text(n, text),
        }
    };
    let unit_id = format!("{id}-unit");
    let many = units.len() > 1;
    let unit_view = if many {
        let units2 = units.clone();
        view! {
            <label for=unit_id.clone() class="ik-unit-label">{t.unit}</label>
            <select id=unit_id prop:value=move || unit_sig.get()
                on:change=move |ev| { unit_sig.set(event_target_value(&ev)); if !number.get_untracked().is_empty() { commit(); } }>
                {units2.into_iter().map(|(c, l)| view! { <option value=c>{l}</option> }).collect_view()}
            </select>
        }
        .into_any()
    } else {
        units.first().map(|(_, l)| view! { <span class="ik-unit">{l.clone()}</span> }).into_any()
    };
    view! {
        <div class="ik-quantity">
            <input type="text" inputmode=if units_have_inches { "text" } else { "decimal" } id=id prop:value=value aria-describedby=described aria-invalid=invalid
                on:change=move |ev| { number.set(event_target_value(&ev)); commit(); } />
            {unit_view}
        </div>
    }
    .into_any()
}

fn attachment_control(
    r: UiRef,
    n: NodeId,
    id: String,
    described: impl Described,
    invalid: impl Invalid,
) -> AnyView {
    let u = ui(r);
    let t = u.text;
    let vm = u.vm(n);
    view! {
        <input type="file" id=id aria-describedby=described aria-invalid=invalid
            on:change=move |ev| {
                let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
                let Some(file) = input.files().and_then(|f| f.get(0)) else { ui(r).answer(n, vec![]); return };
                let name = file.name();
                let kind = file.type_();
                let size = file.size() as i64;
                let reader = match web_sys::FileReader::new() { Ok(x) => x, Err(_) => return };
                let rd = reader.clone();
                let onload = wasm_bindgen::closure::Closure::once_into_js(move || {
                    let data = rd.result().ok().and_then(|v| v.as_string()).unwrap_or_default();
                    let b64 = data.split_once(',').map(|(_, b)| b.to_owned()).unwrap_or_default();
                    let a = intake_engine::fhir::Attachment {
                        content_type: Some(kind), data: Some(b64), size: Some(size), title: Some(name), ..Default::default()
                    };
                    // The form may be gone by the time the file is read.
                    if let Some(u) = r.try_get_value() {
                        u.answer(n, vec![Value::Attachment(Box::new(a))]);
                    }
                });
                reader.set_onload(Some(onload.unchecked_ref()));
                let _ = reader.read_as_data_url(&file);
            } />
        {move || vm.with(|v| v.answers.first().map(|a| a.display())).map(|name| view! { <p class="ik-note">{t.file_attached}": "{name}</p> })}
    }
    .into_any()
}

/// The rows of a repeating group, and its Add button. Rows from the chart show what is on file
/// and ask whether it is still correct; their fields open only when the patient says it changed.
fn rows(r: UiRef, parent: Option<NodeId>, group: ItemId) -> impl IntoView {
    let u = ui(r);
    let t = u.text;
    let kids = u.kids(parent);
    let (label, is_list, parent_enabled) = {
        let s = u.session.borrow();
        let d = s.form().item(group);
        let label = d.text.as_ref().map(|x| x.in_lang(u.lang).to_owned()).unwrap_or_default();
        (label, s.visit_type().list_of_group(group).is_some(), parent.map(|p| u.shown(p)))
    };
    let row_ids = move || {
        kids.get().into_iter().filter(|n| ui(r).session.borrow().node(*n).is_some_and(|x| x.item == group)).collect::<Vec<_>>()
    };
    let has_unreviewed = move || {
        let u = ui(r);
        let s = u.session.borrow();
        let Some(list) = s.visit_type().list_of_group(group) else { return false };
        row_ids().iter().any(|row| {
            s.node(*row).is_some_and(|x| x.on_file.is_some())
                && x_status(&s, *row, list.status).is_some_and(|st| u.vm(st).with(|v| v.answers.is_empty()))
        })
    };
    let lang = u.lang;
    // A long list (500 medicines restored from autosave) is put on the page a few rows per
    // frame: the form is usable at once and the main thread is never held for the whole list
    // (it was 0.8 s for 500 rows). The rest follow within frames; every row is in the engine
    // from the start, so validation, the summary and the write-back see them all.
    let shown = RwSignal::new(ROWS_FIRST_FRAME);
    let visible_rows = move || {
        let mut ids = row_ids();
        ids.truncate(shown.get());
        ids
    };
    Effect::new(move |_| {
        if row_ids().len() > shown.get() {
            request_animation(move || {
                let _ = shown.try_update(|k| *k = k.saturating_add(ROWS_PER_FRAME));
            });
        }
    });
    let list = NodeRef::<leptos::html::Div>::new();
    view! {
        <div class="ik-rows" node_ref=list>
            <For each=visible_rows key=|n| *n children=move |row| row_view(r, row) />
            {move || (is_list && has_unreviewed()).then(|| view! {
                <button type="button" class="ik-secondary" part="button secondary" on:click=move |_| ui(r).confirm_unreviewed(parent, group)>{t.confirm_all}</button>
            })}
            {move || parent_enabled.is_none_or(|p| p.get()).then(|| {
                let add_label = crate::i18n::add_row_label(lang, &label, !row_ids().is_empty());
                view! {
                    <button type="button" class="ik-add" on:click=move |_| {
                        // The new row is the patient's focus: show everything up to it now,
                        // and move the keyboard into its first field.
                        shown.set(usize::MAX);
                        if let Some(row) = ui(r).add_row(parent, group) {
                            let first_field = format!("#{} :is(input, select, textarea)", dom_id(r, "f", row));
                            request_animation(move || {
                                focus_in(list, &first_field);
                            });
                        }
                    }>{add_label}</button>
                }
            })}
        </div>
    }
}

/// Rows rendered in the first frame of a repeating group, and then per frame.
const ROWS_FIRST_FRAME: usize = 20;
const ROWS_PER_FRAME: usize = 20;

fn x_status(s: &intake_engine::Session, row: NodeId, status: Option<ItemId>) -> Option<NodeId> {
    let status = status?;
    s.node(row)?.children.iter().copied().find(|c| s.node(*c).is_some_and(|x| x.item == status))
}

fn row_view(r: UiRef, row: NodeId) -> AnyView {
    let u = ui(r);
    let t = u.text;
    let (on_file, status_node, new_label, list_status) = {
        let s = u.session.borrow();
        let node = s.node(row);
        let on_file = node.and_then(|x| x.on_file.clone());
        let group = node.map(|x| x.item);
        let list = group.and_then(|g| s.visit_type().list_of_group(g).cloned());
        let status = list.as_ref().and_then(|l| x_status(&s, row, l.status));
        let parent = node.and_then(|x| x.parent);
        // Rows the patient added are named for what they are ("New allergy"), numbered among
        // themselves only when there are several.
        let added: Vec<NodeId> = group
            .map(|g| s.rows(parent, g).into_iter().filter(|x| s.node(*x).is_some_and(|n| n.on_file.is_none())).collect())
            .unwrap_or_default();
        let what = group.and_then(|g| s.form().item(g).text.as_ref().map(|x| x.in_lang(u.lang).to_owned())).unwrap_or_else(|| t.row.to_owned());
        let number = (added.len() > 1).then(|| added.iter().position(|x| *x == row).unwrap_or(0) + 1);
        (on_file, status, crate::i18n::new_row_label(u.lang, &what, number), list.and_then(|l| l.status))
    };
    let legend = match &on_file {
        Some(of) => format!("{}: {}", t.on_file, of.summary),
        None => new_label.clone(),
    };
    let status_vm = status_node.map(|s| u.vm(s));
    let has_on_file = on_file.is_some();
    // Fields of an on-file row open when the patient says it changed.
    let fields_open = move || match (status_vm, has_on_file) {
        (Some(svm), true) => svm.with(|v| {
            v.answers.iter().any(|a| a.as_coding().and_then(|c| c.code.as_deref()) == Some(REVIEW_CHANGED))
        }),
        _ => true,
    };
    let is_on_file = status_vm.is_some() && on_file_flag(&u, row);
    let kids = u.kids(Some(row));
    let child_items: Vec<ItemId> = {
        let s = u.session.borrow();
        s.node(row).map(|x| s.form().item(x.item).children.clone()).unwrap_or_default()
    };
    let list_status_item = list_status;
    // Built when it first shows, then kept and hidden like any item (see `node`): a row whose
    // group an answer hides and shows again (MBS 715's carers' details, by age) keeps its DOM.
    let build = move |hidden: bool| {
        let legend = legend.clone();
        let items = child_items.clone();
        view! {
            <fieldset class=if is_on_file { "ik-row ik-on-file" } else { "ik-row" } id=dom_id(r, "f", row) hidden=hidden use:keep=(r, row)>
                <legend>{legend}</legend>
                {status_node.map(|s| node(r, s))}
                {items.into_iter().filter(|i| Some(*i) != list_status_item).map(|item| {
                    let is_reason = {
                        let u = ui(r);
                        let s = u.session.borrow();
                        s.visit_type().list_of_group(s.node(row).map(|x| x.item).unwrap_or(item)).and_then(|l| l.reason) == Some(item)
                    };
                    (move || {
                        let n = kids.get().into_iter().find(|n| ui(r).session.borrow().node(*n).is_some_and(|x| x.item == item))?;
                        // The reason shows by its own enableWhen; other fields follow "changed".
                        (is_reason || fields_open()).then(|| node(r, n))
                    }).into_any()
                }).collect_view()}
                {(!is_on_file).then(|| view! {
                    <button type="button" class="ik-remove" on:click=move |_| ui(r).remove_row(row)>{t.remove}" "{format!("({new_label})")}</button>
                })}
            </fieldset>
        }
        .into_any()
    };
    built_when_shown(r, row, build)
}

fn on_file_flag(u: &Ui, row: NodeId) -> bool {
    u.session.borrow().node(row).is_some_and(|x| x.on_file.is_some())
}

/// Every answer, grouped by page, each with a link back to change it; then Submit.
fn review(r: UiRef, root: NodeRef<leptos::html::Div>) -> impl IntoView {
    let u = ui(r);
    let t = u.text;
    let lang = u.lang;
    let heading = NodeRef::<leptos::html::H3>::new();
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    let sections: Vec<(usize, String, Vec<(NodeId, String, String)>)> = {
        let s = u.session.borrow();
        let pages = u.pages();
        pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.iter().any(|item| s.nodes_of(*item).iter().any(|n| enabled_in(&s, *n))))
            .map(|(i, p)| {
                let title = match p.as_slice() {
                    [one] if s.form().item(*one).item_type == ItemType::Group => {
                        s.form().item(*one).text.as_ref().map(|x| x.in_lang(lang).to_owned()).unwrap_or_default()
                    }
                    _ => s.visit_type().manifest.title_in(lang).to_owned(),
                };
                let rows: Vec<(NodeId, String, String)> = s
                    .preorder()
                    .into_iter()
                    // Compact: only what the patient answered, and of chart data only what they
                    // changed (a confirmed medicine is one line: its name and "Yes, still correct").
                    .filter(|n| {
                        s.node(*n).is_some_and(|x| {
                            x.state.enabled
                                && !s.def(*n).hidden
                                && s.def(*n).item_type.is_question()
                                && !x.answers.is_empty()
                                && !x.prefilled.as_ref().is_some_and(|p| s.row_of(*n).is_some_and(|r| r != *n) && p.values == x.answers)
                                && (p.contains(&x.item) || s.form().ancestors(x.item).any(|a| p.contains(&a)))
                        })
                    })
                    .map(|n| {
                        let def = s.def(n);
                        let node = s.node(n);
                        let answers = node.map(|x| x.answers.clone()).unwrap_or_default();
                        let shown = if answers.is_empty() {
                            t.no_answer.to_owned()
                        } else {
                            answers.iter().map(|a| value_label(def, a, lang, t)).collect::<Vec<_>>().join(", ")
                        };
                        let row = s.row_of(n).and_then(|rw| s.node(rw)).and_then(|x| x.on_file.as_ref().map(|o| o.summary.clone()));
                        let label = match row {
                            Some(summary) => format!("{summary} — {}", label_of(&s, n, lang)),
                            None => label_of(&s, n, lang),
                        };
                        (n, label, shown)
                    })
                    .collect();
                (i, title, rows)
            })
            .collect()
    };
    let phase = u.phase;
    view! {
        <section class="ik-page ik-review" part="page review" aria-labelledby=format!("{}review-h", ui(r).dom)>
            <h3 id=format!("{}review-h", ui(r).dom) tabindex="-1" node_ref=heading>{t.review_title}</h3>
            <p>{t.review_intro}</p>
            {sections.into_iter().map(|(page, title, rows)| view! {
                <h4>{title}</h4>
                <dl class="ik-answers">
                    {rows.into_iter().map(|(n, label, shown)| view! {
                        <div class="ik-answer">
                            <dt>{label.clone()}</dt>
                            <dd>{shown}" "
                                <button type="button" class="ik-link" aria-label=format!("{} — {label}", t.edit)
                                    on:click=move |_| {
                                        ui(r).change_from_review(page);
                                        request_animation(move || focus_node(r, root, n));
                                    }>{t.edit}</button>
                            </dd>
                        </div>
                    }).collect_view()}
                </dl>
            }).collect_view()}
            {move || (phase.get() == Phase::SendFailed).then(|| view! { <p class="ik-warn ik-send-failed" role="alert">{t.send_failed}</p> })}
            <div class="ik-nav">
                <button type="button" class="ik-secondary" part="button secondary" disabled=move || phase.get() != Phase::Filling on:click=move |_| ui(r).back()>{t.back}</button>
                <button type="button" class="ik-primary" part="button primary" disabled=move || phase.get() == Phase::Submitting
                    on:click=move |_| { let _ = ui(r).submit(); }>
                    {move || match phase.get() {
                        Phase::Submitting => t.submitting,
                        Phase::SendFailed => t.retry,
                        _ => t.submit,
                    }}
                </button>
            </div>
        </section>
    }
}

fn request_animation(f: impl FnOnce() + 'static) {
    let cb = wasm_bindgen::closure::Closure::once_into_js(f);
    if let Some(w) = web_sys::window() {
        let _ = w.request_animation_frame(cb.unchecked_ref());
    }
}

fn thanks(r: UiRef) -> impl IntoView {
    let t = ui(r).text;
    let heading = NodeRef::<leptos::html::H3>::new();
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    view! {
        <section class="ik-page ik-thanks" part="page thanks" role="status">
            <h3 tabindex="-1" node_ref=heading>{t.thanks_title}</h3>
            <p>{t.thanks_body}</p>
        </section>
    }
}

/// Keep the confirmed code reachable for the review convenience button.
pub const CONFIRMED: &str = REVIEW_CONFIRMED;

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_written_digit_for_digit() {
        for n in [0, 7, 10, 99, 735, 1_000_000, u32::MAX] {
            let mut out = String::from("ik1-q-");
            super::push_decimal(&mut out, n);
            assert_eq!(out, format!("ik1-q-{n}"));
        }
    }

    #[test]
    fn heights_in_feet_and_inches() {
        for (typed, inches) in [("5'7\"", 67.0), ("5' 7", 67.0), ("5 ft 7 in", 67.0), ("5ft7", 67.0), ("6'", 72.0), ("5’ 11”", 71.0), ("5'7.5", 67.5)] {
            assert_eq!(super::feet_and_inches(typed), Some(inches), "{typed}");
        }
        for not in ["170", "5'13", "abc", "12'3", "'5"] {
            assert_eq!(super::feet_and_inches(not), None, "{not}");
        }
    }
}
