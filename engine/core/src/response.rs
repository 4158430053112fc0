//! Building the QuestionnaireResponse from a session.
//!
//! The item tree mirrors the Questionnaire and holds only enabled items with answers (and the
//! groups around them): answers the patient gave to questions later hidden stay in the session
//! (so re-showing restores them) but never reach the response. Rows prefilled from the chart
//! carry an extension naming their chart resource, so the response alone says what was
//! confirmed, changed or stopped.

use intake_fhir::{
    Extension, HumanName, Identifier, JsonMap, QuestionnaireResponse, Reference, RelatedPerson, ResponseAnswer,
    ResponseItem, ToJson, Value,
};

use crate::context::{Proxy, Respondent};
use crate::ids::{stable_uuid, URN_SYSTEM};
use crate::sdc::ON_FILE_SOURCE;
use crate::session::{NodeId, Session};

/// `in-progress` while answering, `completed` at submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Completed,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::InProgress => "in-progress",
            Status::Completed => "completed",
        }
    }
}

/// The QR's stable UUID, from the [`submission_id`] of what is submitted.
pub fn response_uuid_of(submission: &str) -> String {
    stable_uuid(submission, "QuestionnaireResponse")
}

/// The id every write-back identifier derives from: the session id plus a digest of the
/// content (patient, questionnaire, respondent, and the response items).
///
/// Why content too: a retried submit of the same answers must reuse every identifier (so the
/// server's conditional creates match and nothing is written twice), but a submit after the
/// patient changed an answer must not reuse them, or the server would keep the first version
/// and silently drop the change. Time is left out, so a retry minutes later still matches.
pub fn submission_id(s: &Session) -> String {
    submission_id_of(s, &items(s, s.roots()))
}

fn submission_id_of(s: &Session, items: &[ResponseItem]) -> String {
    use intake_fhir::WriteJson;
    let form = s.form();
    let mut content = String::new();
    content.push_str(&s.chart().patient_ref);
    content.push('\u{1f}');
    content.push_str(&form.canonical().unwrap_or_default());
    content.push('\u{1f}');
    author_reference(s).0.write_json(&mut content);
    content.push('\u{1f}');
    for item in items {
        item.write_json(&mut content);
    }
    format!("{}\u{1f}{}", s.id(), crate::ids::uuid_v5(&content))
}

/// The patient as a reference, with their display name and current record number, so the
/// receiving system can check identity rather than trust a bare id.
pub fn patient_reference(s: &Session) -> Reference {
    let chart = s.chart();
    let display = crate::prefill::current_name(&chart.patient, false).map(HumanName::display);
    let identifier = current_identifier(&chart.patient, &s.now());
    Reference { reference: Some(chart.patient_ref.clone()), display, identifier: identifier.map(Box::new), ..Default::default() }
}

/// The identifier to carry: a current (not `old`, not ended) one, preferring an MRN.
pub fn current_identifier(p: &intake_fhir::Patient, now: &intake_fhir::DateTime) -> Option<Identifier> {
    let current = |i: &&Identifier| {
        i.use_.as_deref() != Some("old")
            && i.value.is_some()
            && i.period.as_ref().and_then(|p| p.end.as_ref()).is_none_or(|end| end.partial_cmp_fhir(now) == Some(std::cmp::Ordering::Greater))
    };
    let is_mrn = |i: &&Identifier| i.type_.as_ref().is_some_and(|t| t.has_code_any_system("MR"));
    let found = p.identifier.iter().filter(current).find(is_mrn).or_else(|| p.identifier.iter().find(current))?;
    Some(Identifier { use_: None, period: None, ..found.clone() })
}

/// Who answered: the patient, a RelatedPerson from the chart, or a contained one.
pub fn author_reference(s: &Session) -> (Reference, Option<RelatedPerson>) {
    match &s.context().respondent {
        Respondent::Patient if !s.chart().has_patient() => (Reference::default(), None),
        Respondent::Patient => (patient_reference(s), None),
        Respondent::Proxy(Proxy { reference: Some(r), name, .. }) => {
            (Reference { reference: Some(r.clone()), display: name.clone(), ..Default::default() }, None)
        }
        Respondent::Proxy(Proxy { relationship, name, .. }) => {
            let rp = RelatedPerson {
                id: Some("respondent".into()),
                patient: s.chart().has_patient().then(|| Reference::to(s.chart().patient_ref.clone())),
                relationship: relationship.iter().cloned().map(intake_fhir::CodeableConcept::from_coding).collect(),
                name: name.iter().map(|n| HumanName { text: Some(n.clone()), ..Default::default() }).collect(),
                ..Default::default()
            };
            (Reference { reference: Some("#respondent".into()), display: name.clone(), ..Default::default() }, Some(rp))
        }
    }
}

/// Build the QuestionnaireResponse. Completed, it carries the identifier of its submission
/// (see [`submission_id`]); in progress it has none.
///
/// Why none in progress: the identifier names what is submitted, a digest of the whole
/// content, so while answering it was new with every answer and named nothing a host could
/// keep (a draft stored under it would be a new draft per answer). And the host's `onChange`
/// builds this on every answer: on a form of 5,000 answers the digest was two thirds of it.
pub fn build(s: &Session, status: Status) -> QuestionnaireResponse {
    match status {
        Status::InProgress => response_of(s, status, None, items(s, s.roots())),
        Status::Completed => build_with_submission(s, status).0,
    }
}

/// The QuestionnaireResponse and the [`submission_id`] of its content, computed from the same
/// items (the write-back derives every identifier from it).
pub fn build_with_submission(s: &Session, status: Status) -> (QuestionnaireResponse, String) {
    let item = items(s, s.roots());
    let submission = submission_id_of(s, &item);
    let uuid = response_uuid_of(&submission);
    let identifier = Identifier { system: Some(URN_SYSTEM.into()), value: Some(format!("urn:uuid:{uuid}")), ..Default::default() };
    (response_of(s, status, Some(identifier), item), submission)
}

/// The response as a JSON tree, as the form's FHIRPath sees it (`%resource`): the tree of what
/// [`build`] makes in progress (no `identifier`), built straight from the session.
///
/// Why not `tree_of(&build(..))`: every expression pass of every answer builds it, and
/// writing the whole response as text and parsing it back was a fifth of an answer's time on
/// MBS 715 (808 items). A test checks the two agree.
pub fn tree(s: &Session) -> intake_fhir::Json {
    tree_present(s, &presence(s))
}

/// [`tree`], given [`presence`] of the same session (the expression pass has it already).
pub(crate) fn tree_present(s: &Session, present: &[bool]) -> intake_fhir::Json {
    use intake_fhir::Json;
    let mut out = s.response_header.get_or_init(|| intake_fhir::json::tree_of(&response_of(s, Status::InProgress, None, Vec::new()))).clone();
    let items: Vec<Json> = s
        .roots()
        .iter()
        .filter(|n| present[n.index()])
        .map(|n| item_tree(s, *n, present))
        .collect();
    if let (Json::Object(m), false) = (&mut out, items.is_empty()) {
        m.insert("item".into(), Json::Array(items));
    }
    out
}

/// One present node's response item as JSON: [`item`], built as a tree.
fn item_tree(s: &Session, n: NodeId, present: &[bool]) -> intake_fhir::Json {
    use intake_fhir::{Choice, Json};
    let def = s.def(n);
    let Some(node) = s.node(n) else {
        return Json::Null;
    };
    let mut m = intake_fhir::JsonMap::new();
    m.insert("linkId".into(), Json::String(def.link_id.clone()));
    if let Some(d) = &def.definition {
        m.insert("definition".into(), Json::String(d.clone()));
    }
    if let Some(t) = &def.text {
        m.insert("text".into(), Json::String(t.text.clone()));
    }
    if let Some(of) = &node.on_file {
        let e = Extension::with_value(
            ON_FILE_SOURCE,
            Value::Reference(Reference::to(of.reference.clone())),
        );
        m.insert(
            "extension".into(),
            Json::Array(vec![intake_fhir::json::tree_of(&e)]),
        );
    }
    let children: Vec<Json> = node
        .children
        .iter()
        .filter(|c| present[c.index()])
        .map(|c| item_tree(s, *c, present))
        .collect();
    if def.item_type.is_question() {
        let mut children = Some(children);
        let answers = node
            .answers
            .iter()
            .map(|v| {
                let (suffix, value) = v.to_choice();
                let mut a = intake_fhir::JsonMap::new();
                a.insert(format!("value{suffix}"), value);
                // Items nested under a question belong under its (first) answer.
                if let Some(c) = children.take().filter(|c| !c.is_empty()) {
                    a.insert("item".into(), Json::Array(c));
                }
                Json::Object(a)
            })
            .collect();
        m.insert("answer".into(), Json::Array(answers));
    } else {
        m.insert("item".into(), Json::Array(children));
    }
    Json::Object(m)
}

/// The response around its items; `identifier` is `None` only for [`tree`].
fn response_of(s: &Session, status: Status, identifier: Option<Identifier>, item: Vec<ResponseItem>) -> QuestionnaireResponse {
    let (author, contained) = author_reference(s);
    // Without a chart nobody is named: no subject, and no author unless a proxy was given.
    let author = (author != Reference::default()).then_some(author);
    let form = s.form();
    let questionnaire = form.canonical().or_else(|| form.questionnaire.id.as_ref().map(|id| format!("Questionnaire/{id}")));
    QuestionnaireResponse {
        language: Some(s.context().language.clone()),
        contained: contained.iter().map(ToJson::to_json).collect(),
        identifier,
        questionnaire,
        status: Some(status.code().into()),
        subject: s.chart().has_patient().then(|| patient_reference(s)),
        authored: Some(s.now()),
        author: author.clone(),
        source: author,
        item,
        ..Default::default()
    }
}

/// Per node: whether it has an item in the response `build` makes (enabled, and answered or
/// with something answered under it). Mirrors `item` below, for the expression pass, which
/// must find each node's own response item (a row of a repeating group, among its siblings).
pub(crate) fn presence(s: &Session) -> Vec<bool> {
    let mut present = vec![false; s.nodes.len()];
    for &n in s.preorder_shared().iter().rev() {
        let Some(node) = s.node(n) else { continue };
        present[n.index()] = node.state.enabled
            && if s.def(n).item_type.is_question() { !node.answers.is_empty() } else { node.children.iter().any(|c| present[c.index()]) };
    }
    present
}

fn items(s: &Session, nodes: &[NodeId]) -> Vec<ResponseItem> {
    nodes.iter().filter_map(|n| item(s, *n)).collect()
}

fn item(s: &Session, n: NodeId) -> Option<ResponseItem> {
    let node = s.node(n)?;
    if !node.state.enabled {
        return None;
    }
    let def = s.def(n);
    let children = items(s, &node.children);
    let mut out = ResponseItem {
        link_id: Some(def.link_id.clone()),
        definition: def.definition.clone(),
        text: def.text.as_ref().map(|t| t.text.clone()),
        extension: Vec::new(),
        answer: Vec::new(),
        item: Vec::new(),
        extra: JsonMap::new(),
    };
    if let Some(of) = &node.on_file {
        out.extension.push(Extension::with_value(ON_FILE_SOURCE, Value::Reference(Reference::to(of.reference.clone()))));
    }
    if def.item_type.is_question() {
        if node.answers.is_empty() {
            return None;
        }
        out.answer = node
            .answers
            .iter()
            .map(|v| ResponseAnswer { value: Some(v.clone()), ..Default::default() })
            .collect();
        // Items nested under a question belong under its (first) answer.
        if let Some(first) = out.answer.first_mut() {
            first.item = children;
        }
    } else {
        if children.is_empty() {
            return None;
        }
        out.item = children;
    }
    Some(out)
}
