//! Write-back: the transaction Bundle for the EHR, holding the QuestionnaireResponse and only
//! what changed versus the chart.
//!
//! What becomes what:
//! - **On-file rows** (allergies, medications, problems): *confirmed* and unchanged rows write
//!   nothing; a *changed* row updates its chart resource (`PUT` with `If-Match` on the chart's
//!   version, so a late submit never overwrites newer data); *no longer* sets the allergy or
//!   problem inactive, or records the medication as stopped with the patient's reason.
//! - **New rows**: a coded AllergyIntolerance (substance + reaction manifestations),
//!   MedicationStatement or Condition, created conditionally. An entry already on the chart
//!   is not written twice.
//! - **SDC observationExtract items**: an Observation per answered item (a group with a code
//!   becomes one panel Observation with components, e.g. home blood pressure as LOINC 85354-9
//!   with systolic 8480-6 / diastolic 8462-4 in mm[Hg]). Values keep the unit given.
//! - **Patient fields**: demographic changes, element by element as the policy allows.
//!
//! Never guessed: a free-text answer where a code is needed, an answer a rule flagged, and any
//! change the visit type's policy marks `review` become a `Task` for a clinician, carrying the
//! proposed resource and the patient's words. `never` changes stay in the response only.
//!
//! Idempotent: every id derives from the session id ([`crate::ids`]); every create is
//! conditional on its identifier (Provenance, which has no identifier, on a `_tag`), so POSTing
//! the same Bundle twice creates nothing twice. One Provenance names every written resource as
//! its target and the QuestionnaireResponse as its source; Observations and
//! MedicationStatements also point back with `derivedFrom`.

use std::fmt;

use intake_fhir::{
    clinical, coded, AllergyIntolerance, AllergyReaction, Annotation, BundleRequest, CodeableConcept,
    Coding, Condition, DateTime, Dosage, Identifier, Json, Meta, MedicationStatement, Observation, ObservationComponent,
    Flag, Patient, Period, Provenance, ProvenanceAgent, ProvenanceEntity, Quantity, QuestionnaireResponse, Reference,
    RelatedPerson, Task, TaskInput, ToJson, Value, WriteJson,
};

use crate::chart::{MedicationSource, OnFileMedication};
use crate::context::{Proxy, Respondent};
use crate::ids::{stable_uuid, uuid_v5, URN_SYSTEM};
use crate::prefill::{child_of, REACTION_SEVERITY};
use crate::questionnaire::{ItemDef, ItemId, ItemType};
use crate::response::{self, author_reference, patient_reference, Status};
use crate::session::{NodeId, Session};
use crate::validate::ValidationError;
use crate::visit_type::{
    Action, Change, ListField, ListKind, OnFileList, PatientField, REVIEW_CHANGED, REVIEW_CONFIRMED, REVIEW_NO_LONGER,
};

/// Our CodeSystem for intake workflow codes (Task.code, tags).
pub const INTAKE_TASK_SYSTEM: &str = "http://intake-engine.org/fhir/CodeSystem/intake-task";
pub const INTAKE_TAG_SYSTEM: &str = "http://intake-engine.org/fhir/CodeSystem/intake-submission";
const LOINC: &str = "http://loinc.org";

/// LOINC codes of vital signs (these Observations get the vital-signs category).
const VITAL_SIGNS: &[&str] =
    &["85354-9", "8480-6", "8462-4", "29463-7", "8302-2", "8310-5", "8867-4", "9279-1", "59408-5", "2708-6", "39156-5", "9843-4"];

/// An item that blocks submit.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidItem {
    pub node: NodeId,
    pub link_id: String,
    /// `allergy[1]/allergy.substance`.
    pub key: String,
    pub errors: Vec<ValidationError>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SubmitError {
    /// Enabled items with validation errors (hidden items never block).
    Invalid(Vec<InvalidItem>),
    /// Rules kept undoing each other. No longer returned by [`bundle`] (an unsettled form is
    /// sent with a review Task, see there); kept so hosts matching on it still compile.
    Unsettled,
    /// The form was filled without a chart ([`Chart::none`](crate::Chart::none)): there is a
    /// response, but no patient to write anything back to.
    NoChart,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Invalid(items) => {
                write!(f, "{} item(s) need attention:", items.len())?;
                for i in items {
                    let msgs: Vec<String> = i.errors.iter().map(|e| e.message("en")).collect();
                    write!(f, "\n  {}: {}", i.key, msgs.join(" "))?;
                }
                Ok(())
            }
            SubmitError::Unsettled => write!(f, "the form's rules did not settle; submit refused"),
            SubmitError::NoChart => write!(
                f,
                "no chart was given: the write-back Bundle needs the patient's chart (the QuestionnaireResponse alone is available)"
            ),
        }
    }
}

impl std::error::Error for SubmitError {}

/// What happened to one change the patient made.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The node key (`allergy[1]`, `home-bp`, `phone`).
    pub item: String,
    pub resource_type: String,
    pub change: Change,
    /// `Auto` written, `Review` sent as a Task, `Never` kept in the response only.
    pub action: Action,
    pub reason: String,
}

/// A resource in the write-back, kept typed until it is written out.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    QuestionnaireResponse(QuestionnaireResponse),
    AllergyIntolerance(AllergyIntolerance),
    MedicationStatement(MedicationStatement),
    Condition(Condition),
    Observation(Observation),
    Patient(Patient),
    RelatedPerson(RelatedPerson),
    Task(Task),
    Flag(Flag),
    Provenance(Provenance),
}

macro_rules! each_resource {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            Resource::QuestionnaireResponse($r) => $e,
            Resource::AllergyIntolerance($r) => $e,
            Resource::MedicationStatement($r) => $e,
            Resource::Condition($r) => $e,
            Resource::Observation($r) => $e,
            Resource::Patient($r) => $e,
            Resource::RelatedPerson($r) => $e,
            Resource::Task($r) => $e,
            Resource::Flag($r) => $e,
            Resource::Provenance($r) => $e,
        }
    };
}

impl Resource {
    pub fn to_json(&self) -> Json {
        each_resource!(self, r => r.to_json())
    }

    pub fn write_json(&self, out: &mut String) {
        each_resource!(self, r => r.write_json(out))
    }

    /// Put our stable identifier first (Provenance has none: it is matched by tag).
    fn set_identifier(&mut self, id: Identifier) {
        match self {
            Resource::QuestionnaireResponse(r) => r.identifier = Some(id),
            Resource::AllergyIntolerance(r) => r.identifier.insert(0, id),
            Resource::MedicationStatement(r) => r.identifier.insert(0, id),
            Resource::Condition(r) => r.identifier.insert(0, id),
            Resource::Observation(r) => r.identifier.insert(0, id),
            Resource::Patient(r) => r.identifier.insert(0, id),
            Resource::RelatedPerson(r) => r.identifier.insert(0, id),
            Resource::Task(r) => r.identifier.insert(0, id),
            Resource::Flag(r) => r.identifier.insert(0, id),
            Resource::Provenance(_) => {}
        }
    }
}

/// One transaction entry. The resource is boxed: resources are large, entries move around.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub full_url: String,
    pub resource: Box<Resource>,
    pub request: BundleRequest,
}

/// The write-back result: the transaction and a readable account of every decision.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBack {
    /// `urn:uuid:...`, stable for the session: `Bundle.identifier`.
    pub identifier: String,
    pub timestamp: DateTime,
    pub entries: Vec<Entry>,
    pub decisions: Vec<Decision>,
}

impl WriteBack {
    /// The transaction Bundle as JSON text, written directly (no intermediate tree).
    pub fn to_json_string(&self) -> String {
        let mut out = String::with_capacity(4096 + self.entries.len() * 1024);
        out.push_str("{\"resourceType\":\"Bundle\",\"identifier\":");
        Identifier { system: Some(URN_SYSTEM.into()), value: Some(self.identifier.clone()), ..Default::default() }.write_json(&mut out);
        out.push_str(",\"type\":\"transaction\",\"timestamp\":");
        self.timestamp.write_json(&mut out);
        out.push_str(",\"entry\":[");
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"fullUrl\":");
            intake_fhir::json::write_str(&mut out, &e.full_url);
            out.push_str(",\"resource\":");
            e.resource.write_json(&mut out);
            out.push_str(",\"request\":");
            e.request.write_json(&mut out);
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    /// The transaction Bundle as a JSON tree (for callers that inspect it).
    pub fn to_json(&self) -> Json {
        serde_json::from_str(&self.to_json_string()).unwrap_or(Json::Null)
    }
}

/// Every enabled item with validation errors, in document order.
pub fn submit_problems(s: &Session) -> Vec<InvalidItem> {
    s.preorder()
        .into_iter()
        .filter_map(|n| {
            let node = s.node(n)?;
            (node.state.enabled && !node.state.errors.is_empty()).then(|| InvalidItem {
                node: n,
                link_id: s.def(n).link_id.clone(),
                key: s.node_key(n),
                errors: node.state.errors.clone(),
            })
        })
        .collect()
}

/// The QR alone, for a submit-less preview or an in-progress save.
pub fn response_json(s: &Session, status: Status) -> Json {
    response::build(s, status).to_json()
}

/// Build the transaction Bundle. Refuses while enabled items have errors.
pub fn bundle(s: &Session) -> Result<WriteBack, SubmitError> {
    // An unsettled form (rules that keep undoing each other) is not refused: refusing left the
    // patient with a Send that silently did nothing. It fails open instead: what the patient
    // entered is sent, and a review Task lists the answers the oscillating rules hid.
    let problems = submit_problems(s);
    if !problems.is_empty() {
        return Err(SubmitError::Invalid(problems));
    }
    if !s.chart().has_patient() {
        return Err(SubmitError::NoChart);
    }
    // The response's items are built once; every identifier derives from their digest.
    let (qr, submission) = response::build_with_submission(s, Status::Completed);
    let mut b = Builder::new(s, submission);
    b.entries.push(Entry {
        full_url: b.qr_url.clone(),
        resource: Box::new(Resource::QuestionnaireResponse(qr)),
        request: post_request("QuestionnaireResponse", &response::response_uuid_of(&b.submission)),
    });
    b.reporter = b.reporter_reference();
    for list in &s.visit_type().lists {
        for row in rows_of_list(s, list) {
            b.list_row(list, row);
        }
    }
    b.observations();
    b.patient_changes();
    b.urgent();
    b.flags();
    b.uncoded_choices();
    b.empty_read_only();
    b.rule_failures();
    b.unsettled_rules();
    b.unreviewable_chart_entries();
    b.provenance();
    Ok(WriteBack {
        identifier: bundle_identifier_of(&b.submission),
        timestamp: s.now(),
        entries: b.entries,
        decisions: b.decisions,
    })
}

/// The identifier the write-back Bundle of this session's current content has. A stored
/// Bundle with another identifier was built for other answers, another patient or another
/// form, and must not be handed back as this session's.
pub fn bundle_identifier(s: &Session) -> String {
    bundle_identifier_of(&response::submission_id(s))
}

fn bundle_identifier_of(submission: &str) -> String {
    format!("urn:uuid:{}", stable_uuid(submission, "Bundle"))
}

fn rows_of_list(s: &Session, list: &OnFileList) -> Vec<NodeId> {
    s.nodes_of(list.group).iter().copied().filter(|n| s.node(*n).is_some_and(|x| x.state.enabled)).collect()
}

fn post_request(resource_type: &str, uuid: &str) -> BundleRequest {
    BundleRequest {
        method: Some("POST".into()),
        url: Some(resource_type.into()),
        if_none_exist: Some(format!("identifier={URN_SYSTEM}|urn:uuid:{uuid}")),
        ..Default::default()
    }
}

/// The entry's `fullUrl`: a UUID derived from, but never equal to, the identifier's.
///
/// Why not the same: servers replace every textual occurrence of a fullUrl in the Bundle with the
/// id they assign (Medplum does), identifier values and `ifNoneExist` queries included. If the
/// identifier equalled the fullUrl, the stored identifier would become `Type/<server id>` and a
/// retried submit would match nothing and create everything twice.
fn full_url(uuid: &str) -> String {
    format!("urn:uuid:{}", uuid_v5(&format!("fullUrl\u{1f}{uuid}")))
}

fn urn_identifier(uuid: &str) -> Identifier {
    Identifier { system: Some(URN_SYSTEM.into()), value: Some(format!("urn:uuid:{uuid}")), ..Default::default() }
}

/// A date the patient gave, as a dateTime at the same precision.
fn as_date_time(v: &Value) -> Option<Value> {
    match v {
        Value::Date(d) => Some(Value::DateTime(DateTime { date: *d, time: None, offset_minutes: None, zulu: false })),
        Value::DateTime(d) => Some(Value::DateTime(*d)),
        _ => None,
    }
}

fn date_only(now: DateTime) -> DateTime {
    DateTime { date: now.date, time: None, offset_minutes: None, zulu: false }
}

/// A coded answer as a CodeableConcept; free text is `Err` (never guessed into a code).
fn concept_of(v: &Value) -> Result<CodeableConcept, String> {
    match v {
        Value::Coding(c) if c.code.is_some() => {
            let mut c = c.clone();
            c.user_selected = None;
            Ok(CodeableConcept { text: c.display.clone(), coding: vec![c], ..Default::default() })
        }
        Value::CodeableConcept(cc) if !cc.coding.is_empty() => Ok(cc.clone()),
        other => Err(other.display()),
    }
}

struct Builder<'a> {
    s: &'a Session,
    /// [`response::submission_id`]: what every identifier derives from.
    submission: String,
    qr_url: String,
    patient: Reference,
    /// Who reported: the patient, or a RelatedPerson for a proxy.
    reporter: Reference,
    entries: Vec<Entry>,
    /// Resources written, for the Provenance.
    targets: Vec<Reference>,
    decisions: Vec<Decision>,
    /// Concepts added by earlier rows of this submit (the same allergy listed twice is one).
    added: Vec<(ListKind, CodeableConcept)>,
}

impl<'a> Builder<'a> {
    fn new(s: &'a Session, submission: String) -> Self {
        let qr_url = full_url(&response::response_uuid_of(&submission));
        let patient = patient_reference(s);
        let b = Builder {
            s,
            submission,
            qr_url,
            reporter: patient.clone(),
            patient,
            entries: Vec::new(),
            targets: Vec::new(),
            decisions: Vec::new(),
            added: Vec::new(),
        };
        b
    }

    /// A proxy without a chart RelatedPerson is created once per patient and person (the id
    /// derives from them, not from the session), so the same parent is not duplicated.
    fn reporter_reference(&mut self) -> Reference {
        let s = self.s;
        match &s.context().respondent {
            Respondent::Patient => self.patient.clone(),
            Respondent::Proxy(Proxy { reference: Some(r), name, .. }) => {
                Reference { reference: Some(r.clone()), display: name.clone(), ..Default::default() }
            }
            Respondent::Proxy(Proxy { relationship, name, .. }) => {
                let (_, contained) = author_reference(s);
                let Some(mut rp) = contained else { return self.patient.clone() };
                let key = format!(
                    "RelatedPerson|{}|{}|{}",
                    s.chart().patient_ref,
                    relationship.as_ref().and_then(|c| c.code.clone()).unwrap_or_default(),
                    crate::answer::normalise(name.as_deref().unwrap_or(""))
                );
                let uuid = uuid_v5(&key);
                rp.id = None;
                rp.identifier = vec![urn_identifier(&uuid)];
                let url = full_url(&uuid);
                self.entries.push(Entry {
                    full_url: url.clone(),
                    resource: Box::new(Resource::RelatedPerson(rp)),
                    request: post_request("RelatedPerson", &uuid),
                });
                Reference { reference: Some(url), display: name.clone(), ..Default::default() }
            }
        }
    }

    fn decide(&mut self, item: String, resource_type: &str, change: Change, action: Action, reason: impl Into<String>) {
        self.decisions.push(Decision { item, resource_type: resource_type.into(), change, action, reason: reason.into() });
    }

    /// POST a new resource conditionally; returns its fullUrl.
    fn create(&mut self, key: &str, resource_type: &str, mut resource: Resource) -> String {
        let uuid = stable_uuid(&self.submission, key);
        resource.set_identifier(urn_identifier(&uuid));
        let url = full_url(&uuid);
        self.entries.push(Entry { full_url: url.clone(), resource: Box::new(resource), request: post_request(resource_type, &uuid) });
        self.targets.push(Reference::to(url.clone()));
        url
    }

    /// PUT an updated chart resource, guarded by its version.
    fn update(&mut self, reference: &str, version: Option<&str>, resource: Resource) {
        self.entries.push(Entry {
            full_url: reference.to_owned(),
            resource: Box::new(resource),
            request: BundleRequest {
                method: Some("PUT".into()),
                url: Some(reference.into()),
                if_match: version.map(|v| format!("W/\"{v}\"")),
                ..Default::default()
            },
        });
        self.targets.push(Reference::to(reference));
    }

    /// A Task asking a clinician to review, with the proposed resource when there is one.
    fn review(&mut self, key: &str, description: String, focus: Reference, inputs: Vec<(&str, Value)>, proposed: Option<Resource>) {
        let mut contained = Vec::new();
        let mut input: Vec<TaskInput> = inputs
            .into_iter()
            .map(|(t, v)| TaskInput { type_: Some(CodeableConcept::text(t)), value: Some(v), ..Default::default() })
            .collect();
        if let Some(p) = proposed {
            let mut p = p.to_json();
            if let Json::Object(m) = &mut p {
                m.insert("id".into(), Json::String("proposed".into()));
                m.remove("meta");
            }
            contained.push(p);
            input.push(TaskInput {
                type_: Some(CodeableConcept::text("proposed-resource")),
                value: Some(Value::Reference(Reference::to("#proposed"))),
                ..Default::default()
            });
        }
        self.task(
            key,
            Task {
                contained,
                intent: Some("proposal".into()),
                priority: Some("routine".into()),
                code: Some(coded(INTAKE_TASK_SYSTEM, "review-intake-answer", "Review a patient-reported intake answer")),
                description: Some(description),
                focus: Some(focus),
                input,
                ..Default::default()
            },
        );
    }

    /// Post a requested Task for this patient, from this reporter, now, under the stable
    /// identifier of `key` (so a retried submit posts the same Task).
    fn task(&mut self, key: &str, task: Task) {
        let uuid = stable_uuid(&self.submission, key);
        let task = Task {
            identifier: vec![urn_identifier(&uuid)],
            status: Some("requested".into()),
            for_: Some(self.patient.clone()),
            authored_on: Some(self.s.now()),
            requester: Some(self.reporter.clone()),
            ..task
        };
        self.entries.push(Entry {
            full_url: full_url(&uuid),
            resource: Box::new(Resource::Task(task)),
            request: post_request("Task", &uuid),
        });
    }

    fn qr_ref(&self) -> Reference {
        Reference::to(self.qr_url.clone())
    }

    /// Answers of a row's field (only if that item is enabled).
    fn field(&self, row: NodeId, item: Option<ItemId>) -> Vec<Value> {
        let Some(item) = item else { return Vec::new() };
        match child_of(self.s, row, item).and_then(|c| self.s.node(c)) {
            Some(n) if n.state.enabled => n.answers.clone(),
            _ => Vec::new(),
        }
    }

    /// Did the patient change any prefilled field of this row?
    fn row_edited(&self, row: NodeId, list: &OnFileList) -> bool {
        list.fields.iter().any(|(item, _)| {
            child_of(self.s, row, *item)
                .and_then(|c| self.s.node(c))
                .is_some_and(|n| n.prefilled.as_ref().is_some_and(|p| p.values != n.answers))
        })
    }

    /// Flags raised by rules on this row or its fields.
    fn row_flags(&self, row: NodeId) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![row];
        while let Some(n) = stack.pop() {
            if let Some(node) = self.s.node(n) {
                if node.state.enabled {
                    out.extend(node.state.flags.iter().map(|f| f.text.clone()));
                }
                stack.extend(node.children.iter().copied());
            }
        }
        out
    }

    fn list_row(&mut self, list: &OnFileList, row: NodeId) {
        let Some(node) = self.s.node(row) else { return };
        let key = self.s.node_key(row);
        let status = self
            .field(row, list.status)
            .first()
            .and_then(|v| v.as_coding().and_then(|c| c.code.clone()));
        let reason = self.field(row, list.reason).first().map(|v| v.display());
        let rt = list.kind.resource_type();
        match node.on_file.clone() {
            Some(on_file) => {
                let edited = self.row_edited(row, list);
                let change = match status.as_deref() {
                    Some(REVIEW_NO_LONGER) => Change::Remove,
                    Some(REVIEW_CHANGED) => Change::Change,
                    Some(REVIEW_CONFIRMED) | None if edited => Change::Change,
                    Some(REVIEW_CONFIRMED) => {
                        self.decide(key, rt, Change::Change, Action::Never, format!("{} confirmed unchanged", on_file.summary));
                        return;
                    }
                    _ => return,
                };
                if change == Change::Change && !edited {
                    self.decide(key, rt, Change::Change, Action::Never, "marked changed, but nothing was edited");
                    return;
                }
                self.existing_entry(list, row, &key, &on_file.reference, change, reason);
            }
            None => self.new_entry(list, row, &key),
        }
    }

    /// The action for a change: policy, forced to review by a rule flag or missing codes.
    fn action_for(&self, rt: &str, change: Change, flags: &[String], uncoded: &[String]) -> (Action, String) {
        if !uncoded.is_empty() {
            return (Action::Review, format!("could not be coded with confidence: {}", uncoded.join(", ")));
        }
        if !flags.is_empty() {
            return (Action::Review, format!("flagged by a rule: {}", flags.join("; ")));
        }
        // A chart that says "no known allergy" and lists allergies (or is about to get one)
        // contradicts itself: which is true is a clinician's call, not an automatic write.
        if rt == "AllergyIntolerance" {
            let chart = self.s.chart();
            if let Some(nka) = chart.no_known_allergy() {
                if chart.real_allergies().next().is_some() || change == Change::Add {
                    return (
                        Action::Review,
                        format!("the chart holds an active \"no known allergy\" record ({}) alongside allergies; a clinician resolves it", nka.reference),
                    );
                }
            }
        }
        let a = self.s.visit_type().manifest.policy.for_resource(rt, change);
        (a, format!("policy for {rt} {}: {}", change.code(), a.code()))
    }

    fn existing_entry(
        &mut self,
        list: &OnFileList,
        row: NodeId,
        key: &str,
        reference: &str,
        change: Change,
        reason: Option<String>,
    ) {
        let chart = self.s.chart().clone();
        let flags = self.row_flags(row);
        let now = self.s.now();
        let note = |what: &str| Annotation {
            time: Some(now),
            author_reference: Some(self.reporter.clone()),
            text: Some(match &reason {
                Some(r) => format!("{what} (patient-reported at intake): {r}"),
                None => format!("{what} (patient-reported at intake)"),
            }),
            ..Default::default()
        };
        match list.kind {
            ListKind::Allergies => {
                let Some(on) = chart.allergies.iter().find(|a| a.reference == reference) else { return };
                let mut a = on.resource.clone();
                let mut uncoded = Vec::new();
                if change == Change::Remove {
                    a.clinical_status = Some(coded(clinical::ALLERGY_CLINICAL, "inactive", "Inactive"));
                    a.note.push(note("No longer applies"));
                } else {
                    self.apply_allergy_fields(&mut a, list, row, &mut uncoded);
                    a.note.push(note("Updated"));
                }
                let (action, why) = self.action_for("AllergyIntolerance", change, &flags, &uncoded);
                self.emit_update(key, "AllergyIntolerance", change, action, why, reference, on.version.as_deref(), Resource::AllergyIntolerance(a));
            }
            ListKind::Conditions => {
                let Some(on) = chart.conditions.iter().find(|c| c.reference == reference) else { return };
                let mut c = on.resource.clone();
                let mut uncoded = Vec::new();
                if change == Change::Remove {
                    c.clinical_status = Some(coded(clinical::CONDITION_CLINICAL, "inactive", "Inactive"));
                    c.note.push(note("No longer applies"));
                } else {
                    if let Some(v) = self.field(row, list.field(ListField::Code)).first() {
                        match concept_of(v) {
                            Ok(cc) => c.code = Some(cc),
                            Err(t) => uncoded.push(t),
                        }
                    }
                    if let Some(v) = self.field(row, list.field(ListField::Onset)).first().and_then(as_date_time) {
                        c.onset = Some(v);
                    }
                    c.note.push(note("Updated"));
                }
                let (action, why) = self.action_for("Condition", change, &flags, &uncoded);
                self.emit_update(key, "Condition", change, action, why, reference, on.version.as_deref(), Resource::Condition(c));
            }
            ListKind::Medications => {
                let Some(on) = chart.medications.iter().find(|m| m.reference == reference).cloned() else { return };
                self.medication_change(list, row, key, &on, change, reason, &flags);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_update(
        &mut self,
        key: &str,
        rt: &str,
        change: Change,
        action: Action,
        why: String,
        reference: &str,
        version: Option<&str>,
        resource: Resource,
    ) {
        match action {
            Action::Auto => self.update(reference, version, resource),
            Action::Review => {
                let verb = if change == Change::Remove { "says this no longer applies" } else { "reports a change to" };
                let summary = self.summary_of(reference);
                self.review(
                    &format!("Task|{key}"),
                    format!("Patient {verb}: {summary}. Review before updating the chart ({why})."),
                    Reference::to(reference),
                    vec![("questionnaire-response", Value::Reference(self.qr_ref()))],
                    Some(resource),
                );
            }
            Action::Never => {}
        }
        self.decide(key.to_owned(), rt, change, action, why);
    }

    fn summary_of(&self, reference: &str) -> String {
        self.s
            .nodes_of_on_file(reference)
            .and_then(|n| self.s.node(n))
            .and_then(|n| n.on_file.as_ref().map(|o| o.summary.clone()))
            .unwrap_or_else(|| reference.to_owned())
    }

    fn apply_allergy_fields(&self, a: &mut AllergyIntolerance, list: &OnFileList, row: NodeId, uncoded: &mut Vec<String>) {
        if let Some(v) = self.field(row, list.field(ListField::Code)).first() {
            match concept_of(v) {
                Ok(cc) => a.code = Some(cc),
                Err(t) => uncoded.push(t),
            }
        }
        let mut manifestations = Vec::new();
        for v in self.field(row, list.field(ListField::Reaction)) {
            match concept_of(&v) {
                Ok(cc) => manifestations.push(cc),
                Err(t) => {
                    uncoded.push(t.clone());
                    manifestations.push(CodeableConcept::text(&t));
                }
            }
        }
        let severity = self
            .field(row, list.field(ListField::Severity))
            .first()
            .and_then(|v| v.as_coding())
            .filter(|c| c.system.as_deref() == Some(REACTION_SEVERITY))
            .and_then(|c| c.code.clone());
        if !manifestations.is_empty() {
            a.reaction = vec![AllergyReaction { manifestation: manifestations, severity, ..Default::default() }];
        } else if list.field(ListField::Reaction).is_some() {
            a.reaction.clear();
        }
        if let Some(c) = self.field(row, list.field(ListField::Criticality)).first().and_then(|v| v.as_coding()) {
            a.criticality = c.code.clone();
        }
        if let Some(v) = self.field(row, list.field(ListField::Onset)).first().and_then(as_date_time) {
            a.onset = Some(v);
        }
        if let Some(n) = self.field(row, list.field(ListField::Note)).first() {
            a.note.push(Annotation { text: Some(n.display()), ..Default::default() });
        }
    }

    fn new_entry(&mut self, list: &OnFileList, row: NodeId, key: &str) {
        let code_values = self.field(row, list.field(ListField::Code));
        let Some(code_value) = code_values.first() else { return };
        let flags = self.row_flags(row);
        let rt = list.kind.resource_type();
        // The chart already has it: no second write.
        if let Ok(cc) = concept_of(code_value) {
            let chart = self.s.chart();
            let already = match list.kind {
                ListKind::Allergies => chart.allergies.iter().any(|a| a.resource.code.as_ref().is_some_and(|c| c.same_concept(&cc))),
                ListKind::Conditions => {
                    chart.conditions.iter().any(|c| c.resource.code.as_ref().is_some_and(|c| c.same_concept(&cc)))
                }
                ListKind::Medications => chart.medications.iter().any(|m| m.concept.same_concept(&cc)),
            };
            let earlier_row = self.added.iter().any(|(k, c)| *k == list.kind && c.same_concept(&cc));
            if already || earlier_row {
                let where_ = if already { "already on the chart" } else { "listed twice" };
                self.decide(key.to_owned(), rt, Change::Add, Action::Never, format!("{where_}: {}", cc.label()));
                return;
            }
            self.added.push((list.kind, cc));
        }
        let now = self.s.now();
        let mut uncoded = Vec::new();
        let resource = match list.kind {
            ListKind::Allergies => {
                let mut a = AllergyIntolerance {
                    clinical_status: Some(coded(clinical::ALLERGY_CLINICAL, "active", "Active")),
                    verification_status: Some(coded(clinical::ALLERGY_VERIFICATION, "unconfirmed", "Unconfirmed")),
                    patient: Some(self.patient.clone()),
                    recorded_date: Some(now),
                    asserter: Some(self.reporter.clone()),
                    ..Default::default()
                };
                self.apply_allergy_fields(&mut a, list, row, &mut uncoded);
                if a.code.is_none() {
                    a.code = Some(CodeableConcept::text(&code_value.display()));
                }
                Resource::AllergyIntolerance(a)
            }
            ListKind::Conditions => {
                let code = match concept_of(code_value) {
                    Ok(cc) => cc,
                    Err(t) => {
                        uncoded.push(t.clone());
                        CodeableConcept::text(&t)
                    }
                };
                let c = Condition {
                    clinical_status: Some(coded(clinical::CONDITION_CLINICAL, "active", "Active")),
                    verification_status: Some(coded(clinical::CONDITION_VERIFICATION, "unconfirmed", "Unconfirmed")),
                    category: vec![coded(clinical::CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
                    code: Some(code),
                    subject: Some(self.patient.clone()),
                    onset: self.field(row, list.field(ListField::Onset)).first().and_then(as_date_time),
                    recorded_date: Some(now),
                    asserter: Some(self.reporter.clone()),
                    note: self
                        .field(row, list.field(ListField::Note))
                        .iter()
                        .map(|n| Annotation { text: Some(n.display()), ..Default::default() })
                        .collect(),
                    ..Default::default()
                };
                Resource::Condition(c)
            }
            ListKind::Medications => {
                let med = match concept_of(code_value) {
                    Ok(cc) => cc,
                    Err(t) => {
                        uncoded.push(t.clone());
                        CodeableConcept::text(&t)
                    }
                };
                let dosage = self.field(row, list.field(ListField::Dosage)).first().map(|d| d.display());
                Resource::MedicationStatement(self.medication_statement("active", med, dosage, None, None))
            }
        };
        let (action, why) = self.action_for(rt, Change::Add, &flags, &uncoded);
        let label = code_value.display();
        match action {
            Action::Auto => {
                self.create(&format!("{rt}|{key}"), rt, resource);
            }
            Action::Review => {
                let what = match list.kind {
                    ListKind::Allergies => "an allergy",
                    ListKind::Conditions => "a health problem",
                    ListKind::Medications => "a medication",
                };
                let detail = if uncoded.is_empty() {
                    String::new()
                } else {
                    format!(" It could not be coded with confidence (\"{}\"): please code it.", uncoded.join("\", \""))
                };
                self.review(
                    &format!("Task|{key}"),
                    format!("Patient reported {what}: \"{label}\".{detail} Review before adding it to the chart ({why})."),
                    self.qr_ref(),
                    vec![("patient-words", Value::String(label.clone()))],
                    Some(resource),
                );
            }
            Action::Never => {}
        }
        self.decide(key.to_owned(), rt, Change::Add, action, why);
    }

    fn medication_statement(
        &self,
        status: &str,
        medication: CodeableConcept,
        dosage: Option<String>,
        based_on: Option<Reference>,
        status_reason: Option<String>,
    ) -> MedicationStatement {
        MedicationStatement {
            status: Some(status.into()),
            status_reason: status_reason.iter().map(|r| CodeableConcept::text(r)).collect(),
            based_on: based_on.into_iter().collect(),
            medication: Some(Value::CodeableConcept(medication)),
            subject: Some(self.patient.clone()),
            effective: Some(Value::DateTime(date_only(self.s.now()))),
            date_asserted: Some(self.s.now()),
            information_source: Some(self.reporter.clone()),
            derived_from: vec![self.qr_ref()],
            dosage: dosage.map(|d| Dosage { text: Some(d), ..Default::default() }).into_iter().collect(),
            ..Default::default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn medication_change(
        &mut self,
        list: &OnFileList,
        row: NodeId,
        key: &str,
        on: &OnFileMedication,
        change: Change,
        reason: Option<String>,
        flags: &[String],
    ) {
        let dosage = self.field(row, list.field(ListField::Dosage)).first().map(|d| d.display());
        let status = if change == Change::Remove { "stopped" } else { "active" };
        let (action, why) = self.action_for("MedicationStatement", change, flags, &[]);
        match &on.source {
            // The patient's own earlier statement is updated in place.
            MedicationSource::Statement(ms) => {
                let mut m = ms.clone();
                m.status = Some(status.into());
                if change == Change::Remove {
                    m.status_reason = reason.iter().map(|r| CodeableConcept::text(r)).collect();
                } else if dosage.is_some() {
                    m.dosage = dosage.map(|d| Dosage { text: Some(d), ..Default::default() }).into_iter().collect();
                }
                m.date_asserted = Some(self.s.now());
                m.information_source = Some(self.reporter.clone());
                if !m.derived_from.contains(&self.qr_ref()) {
                    m.derived_from.push(self.qr_ref());
                }
                self.emit_update(key, "MedicationStatement", change, action, why, &on.reference, on.version.as_deref(), Resource::MedicationStatement(m));
            }
            // A prescriber's order is not the patient's to edit: record what the patient says
            // as a new MedicationStatement based on it.
            MedicationSource::Request(_) => {
                let ms = self.medication_statement(
                    status,
                    on.concept.clone(),
                    if change == Change::Remove { None } else { dosage },
                    Some(Reference::to(on.reference.clone())),
                    if change == Change::Remove { reason } else { None },
                );
                let summary = self.summary_of(&on.reference);
                match action {
                    Action::Auto => {
                        self.create(&format!("MedicationStatement|{key}"), "MedicationStatement", Resource::MedicationStatement(ms));
                    }
                    Action::Review => {
                        let verb = if change == Change::Remove { "has stopped" } else { "takes differently" };
                        self.review(
                            &format!("Task|{key}"),
                            format!("Patient {verb}: {summary}. Review before updating the medication list ({why})."),
                            Reference::to(on.reference.clone()),
                            vec![("questionnaire-response", Value::Reference(self.qr_ref()))],
                            Some(Resource::MedicationStatement(ms)),
                        );
                    }
                    Action::Never => {}
                }
                self.decide(key.to_owned(), "MedicationStatement", change, action, why);
            }
        }
    }

    /// SDC observation-based extraction.
    fn observations(&mut self) {
        let s = self.s;
        for n in s.preorder() {
            let Some(node) = s.node(n) else { continue };
            let def = s.def(n);
            if !node.state.enabled || !def.observation_extract || def.code.is_empty() {
                continue;
            }
            // Inside an extracted panel group, items are components, not Observations.
            if s.form().ancestors(def.id).any(|a| {
                let ad = s.form().item(a);
                ad.observation_extract && ad.item_type == ItemType::Group && !ad.code.is_empty()
            }) {
                continue;
            }
            let key = s.node_key(n);
            let mut obs = Observation {
                status: Some("final".into()),
                code: Some(CodeableConcept { coding: def.code.clone(), text: def.text.as_ref().map(|t| t.text.clone()), ..Default::default() }),
                subject: Some(self.patient.clone()),
                effective: Some(Value::DateTime(s.now())),
                performer: vec![self.reporter.clone()],
                derived_from: vec![self.qr_ref()],
                ..Default::default()
            };
            let vital = def.code.iter().any(|c| c.system.as_deref() == Some(LOINC) && VITAL_SIGNS.contains(&c.code.as_deref().unwrap_or("")));
            obs.category = vec![if vital {
                coded(clinical::OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")
            } else {
                coded(clinical::OBSERVATION_CATEGORY, "survey", "Survey")
            }];
            let mut flags: Vec<String> = node.state.flags.iter().map(|f| f.text.clone()).collect();
            if def.item_type == ItemType::Group {
                for &c in &node.children {
                    let Some(cn) = s.node(c) else { continue };
                    let cdef = s.def(c);
                    // An uncoded date in a panel says when it was measured.
                    if cn.state.enabled
                        && cdef.code.is_empty()
                        && matches!(cdef.item_type, ItemType::Date | ItemType::DateTime)
                    {
                        if let Some(when) = cn.answers.first().and_then(as_date_time) {
                            obs.effective = Some(when);
                        }
                        continue;
                    }
                    if !cn.state.enabled || cdef.code.is_empty() {
                        continue;
                    }
                    flags.extend(cn.state.flags.iter().map(|f| f.text.clone()));
                    if let Some(v) = cn.answers.first().and_then(|v| observation_value(cdef, v)) {
                        obs.component.push(ObservationComponent {
                            code: Some(CodeableConcept { coding: cdef.code.clone(), ..Default::default() }),
                            value: Some(v),
                            ..Default::default()
                        });
                    }
                }
                if obs.component.is_empty() {
                    continue;
                }
            } else {
                // A prefilled value the patient left alone is already on the chart.
                if node.prefilled.as_ref().is_some_and(|p| p.values == node.answers) {
                    continue;
                }
                let Some(v) = node.answers.first().and_then(|v| observation_value(def, v)) else { continue };
                obs.value = Some(v);
            }
            let (mut action, mut why) = self.action_for("Observation", Change::Add, &flags, &[]);
            // A reading dated in the future (beyond a day of clock skew and time zones) is a
            // typo or a wrong device clock: never filed as a final result.
            if let Some(Value::DateTime(when)) = &obs.effective {
                let skew_ms = 24 * 3600 * 1000;
                if when.epoch_millis() > s.now().epoch_millis() + skew_ms && action != Action::Never {
                    action = Action::Review;
                    why = format!("dated {when}, after today ({}): a clinician checks the date", s.now().date);
                }
            }
            match action {
                Action::Auto => {
                    self.create(&format!("Observation|{key}"), "Observation", Resource::Observation(obs));
                }
                Action::Review => {
                    let label = def.label().to_owned();
                    self.review(
                        &format!("Task|{key}"),
                        format!("Patient-reported {label}: review before filing ({why})."),
                        self.qr_ref(),
                        vec![],
                        Some(Resource::Observation(obs)),
                    );
                }
                Action::Never => {}
            }
            self.decide(key, "Observation", Change::Add, action, why);
        }
    }

    /// Demographic changes, element by element under the Patient policy.
    fn patient_changes(&mut self) {
        let s = self.s;
        let chart = s.chart();
        let mut updated: Patient = chart.patient.clone();
        let mut auto_elements: Vec<&'static str> = Vec::new();
        let mut review_lines: Vec<String> = Vec::new();
        let today = date_only(s.now());
        let mut name_changed = (None::<String>, None::<String>);
        let mut preferred = None::<String>;
        for &(item, field) in &s.visit_type().patient_fields {
            let Some(&n) = s.nodes_of(item).first() else { continue };
            let Some(node) = s.node(n) else { continue };
            if !node.state.enabled {
                continue;
            }
            let before = node.prefilled.as_ref().map(|p| p.values.clone()).unwrap_or_default();
            if node.answers == before || node.answers.is_empty() {
                continue;
            }
            let new = node.answers[0].clone();
            let element = field.element();
            let action = if node.state.flags.is_empty() { s.visit_type().manifest.policy.for_patient(element) } else { Action::Review };
            let old_text = before.first().map(|v| v.display()).unwrap_or_else(|| "(none)".into());
            let label = s.def(n).label().to_owned();
            let why = format!("policy for Patient.{element}: {}", action.code());
            self.decide(s.node_key(n), "Patient", Change::Change, action, why);
            match action {
                Action::Never => continue,
                Action::Review => {
                    review_lines.push(format!("{label}: \"{old_text}\" -> \"{}\"", new.display()));
                    continue;
                }
                Action::Auto => {}
            }
            if !auto_elements.contains(&element) {
                auto_elements.push(element);
            }
            let text = new.display();
            match field {
                PatientField::GivenName => name_changed.0 = Some(text),
                PatientField::FamilyName => name_changed.1 = Some(text),
                PatientField::PreferredName => preferred = Some(text),
                PatientField::BirthDate => updated.birth_date = match new {
                    Value::Date(d) => Some(d),
                    _ => updated.birth_date,
                },
                PatientField::Gender => updated.gender = new.as_coding().and_then(|c| c.code.clone()),
                PatientField::Phone | PatientField::Email => {
                    let system = if field == PatientField::Phone { "phone" } else { "email" };
                    set_telecom(&mut updated, system, &text);
                }
                PatientField::AddressLine | PatientField::City | PatientField::State | PatientField::PostalCode => {
                    set_address(&mut updated, field, &text, today);
                }
                PatientField::Language => {
                    if let Some(c) = new.as_coding() {
                        updated.communication.retain(|x| x.preferred != Some(true));
                        updated.communication.insert(
                            0,
                            intake_fhir::PatientCommunication {
                                language: Some(CodeableConcept::from_coding(c.clone())),
                                preferred: Some(true),
                                ..Default::default()
                            },
                        );
                    }
                }
            }
        }
        if name_changed.0.is_some() || name_changed.1.is_some() {
            change_legal_name(&mut updated, name_changed.0, name_changed.1, today);
        }
        if let Some(p) = preferred {
            updated.name.retain(|n| n.use_.as_deref() != Some("nickname"));
            updated.name.push(intake_fhir::HumanName { use_: Some("nickname".into()), given: vec![p], ..Default::default() });
        }
        let patient_ref = chart.patient_ref.clone();
        if !auto_elements.is_empty() {
            let version = chart.patient.meta.as_ref().and_then(|m| m.version_id.clone());
            let mut p = updated;
            // The server sets version and time; what else meta held (profiles, tags) stays. An
            // emptied meta is dropped: FHIR forbids empty elements.
            p.meta = p
                .meta
                .map(|m| Meta { version_id: None, last_updated: None, ..m })
                .filter(|m| m.to_json().as_object().is_some_and(|o| !o.is_empty()));
            self.update(&patient_ref, version.as_deref(), Resource::Patient(p));
        }
        if !review_lines.is_empty() {
            self.review(
                "Task|Patient",
                format!("Patient reports new details; review before updating the record: {}.", review_lines.join("; ")),
                Reference::to(patient_ref),
                vec![("questionnaire-response", Value::Reference(self.qr_ref()))],
                None,
            );
        }
    }

    /// A `stat` Task for every urgent advisory: the patient was already told to seek care now;
    /// the care team must hear of it at once too, not in the routine review queue.
    fn urgent(&mut self) {
        let s = self.s;
        let lang = s.context().language.clone();
        let instruction = s.visit_type().manifest.urgent_instruction_in(&lang);
        for (rule, reason) in s.urgent() {
            let patient_text = reason.in_lang(&lang).to_owned();
            self.task(
                &format!("Task|urgent|{}", reason.text),
                Task {
                    intent: Some("order".into()),
                    priority: Some("stat".into()),
                    code: Some(coded(INTAKE_TASK_SYSTEM, "urgent-advisory", "Urgent advisory shown to the patient during intake")),
                    description: Some(format!("URGENT: {}. The patient was told: \"{patient_text} {instruction}\" (raised by {rule})", reason.text.trim_end_matches('.'))),
                    focus: Some(self.qr_ref()),
                    ..Default::default()
                },
            );
            self.decide("urgent".into(), "Task", Change::Add, Action::Review, format!("urgent advisory: {}", reason.text));
            if s.visit_type().manifest.urgent_flag {
                let flag = Flag {
                    status: Some("active".into()),
                    category: vec![coded("http://terminology.hl7.org/CodeSystem/flag-category", "clinical", "Clinical")],
                    code: Some(CodeableConcept {
                        coding: vec![Coding::new(INTAKE_TASK_SYSTEM, "urgent-advisory", "Urgent advisory shown to the patient during intake")],
                        text: Some(format!("Urgent at intake: {}", reason.text)),
                        ..Default::default()
                    }),
                    subject: Some(self.patient.clone()),
                    period: Some(Period { start: Some(s.now()), end: None, ..Default::default() }),
                    author: Some(self.reporter.clone()),
                    ..Default::default()
                };
                self.create(&format!("Flag|urgent|{}", reason.text), "Flag", Resource::Flag(flag));
            }
        }
    }

    /// A Task for every answer a rule flagged for review.
    fn flags(&mut self) {
        let s = self.s;
        for n in s.preorder() {
            let Some(node) = s.node(n) else { continue };
            if !node.state.enabled || node.state.flags.is_empty() {
                continue;
            }
            let def = s.def(n);
            let answer = node.answers.iter().map(Value::display).collect::<Vec<_>>().join(", ");
            let reasons: Vec<String> = node.state.flags.iter().map(|f| f.text.clone()).collect();
            let mut inputs = vec![("item", Value::String(def.link_id.clone()))];
            if !answer.is_empty() {
                inputs.push(("answer", Value::String(answer)));
            }
            let key = s.node_key(n);
            self.review(
                &format!("Task|flag|{key}"),
                format!("Review \"{}\": {}", def.label(), reasons.join("; ")),
                self.qr_ref(),
                inputs,
                None,
            );
            self.decide(key, "Task", Change::Add, Action::Review, format!("flagged by a rule: {}", reasons.join("; ")));
        }
    }

    /// A Task for every choice answered in the patient's own words because the form's options
    /// could not be listed (an `answerValueSet` nobody resolved): the words are in the
    /// response as `valueString`, and a clinician codes them; nothing is guessed into a code.
    fn uncoded_choices(&mut self) {
        let s = self.s;
        for n in s.preorder() {
            let Some(node) = s.node(n) else { continue };
            let def = s.def(n);
            let Some(fb) = def.options_fallback.as_ref() else { continue };
            if !node.state.enabled {
                continue;
            }
            let words: Vec<String> = node.answers.iter().filter_map(|a| match a {
                Value::String(t) => Some(t.clone()),
                _ => None,
            }).collect();
            if words.is_empty() {
                continue;
            }
            let key = s.node_key(n);
            let quoted = words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ");
            self.review(
                &format!("Task|uncoded|{key}"),
                format!(
                    "Code \"{}\": the patient answered in their own words ({quoted}) because the options of value set {} could not be listed.",
                    def.label(),
                    fb.value_set
                ),
                self.qr_ref(),
                vec![("item", Value::String(def.link_id.clone())), ("answer", Value::String(words.join(", "))), ("valueSet", Value::String(fb.value_set.clone()))],
                None,
            );
            self.decide(key, "Task", Change::Add, Action::Review, format!("answered as free text: {fb}"));
        }
    }

    /// One Task for required read-only items left empty: the patient could not fill them (the
    /// chart did not give the value they show), so they did not block the send, and a clinician
    /// must supply them.
    fn empty_read_only(&mut self) {
        let s = self.s;
        let mut missing: Vec<(String, String)> = Vec::new();
        for n in s.preorder() {
            let Some(node) = s.node(n) else { continue };
            let def = s.def(n);
            if def.read_only && def.item_type.is_question() && node.state.enabled && node.state.required && node.answers.is_empty() {
                missing.push((s.node_key(n), def.label().to_owned()));
            }
        }
        if missing.is_empty() {
            return;
        }
        let names: Vec<String> = missing.iter().map(|(_, l)| format!("\"{l}\"")).collect();
        self.review(
            "Task|read-only-empty",
            format!("Required read-only answers were empty and the patient could not fill them: {}. Supply them from the record.", names.join(", ")),
            self.qr_ref(),
            missing.iter().map(|(k, _)| ("item", Value::String(k.clone()))).collect(),
            None,
        );
        self.decide("read-only".into(), "Task", Change::Add, Action::Review, format!("required read-only items empty: {}", names.join(", ")));
    }

    /// A Task for every rule that failed for this patient. Its gated items were shown and what
    /// it decided before failing was kept, but whatever it would have checked afterwards was not
    /// checked: a clinician must look at these answers, and the failure must not pass unnoticed.
    fn rule_failures(&mut self) {
        let s = self.s;
        let mut seen: Vec<String> = Vec::new();
        for e in s.rule_errors() {
            let text = e.to_string();
            if seen.contains(&text) {
                continue;
            }
            seen.push(text.clone());
            self.review(
                &format!("Task|rule-failed|{}", e.file),
                format!("Rule {} failed for this patient: {text}. Review the answers it checks; decisions it made before failing were kept.", e.file),
                self.qr_ref(),
                vec![("rule", Value::String(e.file.clone())), ("error", Value::String(text.clone()))],
                None,
            );
            self.decide(e.file.clone(), "Task", Change::Add, Action::Review, format!("rule failed: {text}"));
        }
    }

    /// A Task when the rules never settled: the clinician sees every answer that was hidden at
    /// the moment of sending (it is not in the response), so nothing the patient said is lost.
    fn unsettled_rules(&mut self) {
        let s = self.s;
        if !s.unsettled() {
            return;
        }
        let hidden: Vec<String> = s
            .preorder()
            .into_iter()
            .filter_map(|n| {
                let node = s.node(n)?;
                (!node.state.enabled && !node.answers.is_empty()).then(|| {
                    let answers: Vec<String> = node.answers.iter().map(Value::display).collect();
                    format!("{} = {}", s.node_key(n), answers.join(", "))
                })
            })
            .collect();
        let rules: Vec<String> = s.visit_type().rules.rules.iter().map(|r| r.name.clone()).collect();
        let inputs = hidden.iter().map(|h| ("hidden-answer", Value::String(h.clone()))).collect();
        self.review(
            "Task|rules-unsettled",
            format!(
                "The form's rules ({}) kept changing which questions apply and never settled for this patient; review the answers. Answers hidden when the form was sent: {}",
                rules.join(", "),
                if hidden.is_empty() { "none".to_owned() } else { hidden.join("; ") }
            ),
            self.qr_ref(),
            inputs,
            None,
        );
        self.decide("rules".into(), "Task", Change::Add, Action::Review, "rules did not settle".to_owned());
    }

    /// A Task for current chart entries the patient could not review (a medication whose name
    /// could not be read): the patient was never asked about them, and the clinician must know.
    fn unreviewable_chart_entries(&mut self) {
        let s = self.s;
        let notes: Vec<String> = s.chart().unreviewable().map(|n| format!("Bundle.entry[{}]: {}", n.entry, n.message)).collect();
        if notes.is_empty() {
            return;
        }
        let inputs = notes.iter().map(|n| ("chart-entry", Value::String(n.clone()))).collect();
        self.review(
            "Task|chart-unreviewable",
            format!(
                "{} current chart entr{} could not be shown to the patient for review: {}",
                notes.len(),
                if notes.len() == 1 { "y" } else { "ies" },
                notes.join("; ")
            ),
            self.qr_ref(),
            inputs,
            None,
        );
        self.decide("chart".into(), "Task", Change::Add, Action::Review, format!("{} chart entries not reviewable by the patient", notes.len()));
    }

    /// One Provenance: everything written came from this QuestionnaireResponse, from this person.
    fn provenance(&mut self) {
        if self.targets.is_empty() {
            return;
        }
        let s = self.s;
        let uuid = stable_uuid(&self.submission, "Provenance");
        let tag = Coding::new(INTAKE_TAG_SYSTEM, &format!("urn:uuid:{uuid}"), "");
        let mut agent = ProvenanceAgent {
            type_: Some(coded("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author")),
            who: Some(self.reporter.clone()),
            ..Default::default()
        };
        if matches!(s.context().respondent, Respondent::Proxy(_)) {
            agent.on_behalf_of = Some(self.patient.clone());
        }
        let p = Provenance {
            meta: Some(Meta { tag: vec![tag], ..Default::default() }),
            target: self.targets.clone(),
            recorded: Some(s.now().to_string()),
            activity: Some(coded("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "UPDATE", "revise")),
            agent: vec![agent],
            entity: vec![ProvenanceEntity { role: Some("source".into()), what: Some(self.qr_ref()), ..Default::default() }],
            ..Default::default()
        };
        self.entries.push(Entry {
            full_url: full_url(&uuid),
            resource: Box::new(Resource::Provenance(p)),
            request: BundleRequest {
                method: Some("POST".into()),
                url: Some("Provenance".into()),
                if_none_exist: Some(format!("_tag={INTAKE_TAG_SYSTEM}|urn:uuid:{uuid}")),
                ..Default::default()
            },
        });
    }
}

/// An answer as an Observation value: numbers with the item's unit become Quantities.
fn observation_value(def: &ItemDef, v: &Value) -> Option<Value> {
    let unit = def.units.first();
    Some(match v {
        Value::Integer(_) | Value::Decimal(_) => {
            let mut q = Quantity { value: v.as_number(), ..Default::default() };
            if let Some(u) = unit {
                q.system = u.system.clone();
                q.code = u.code.clone();
                q.unit = u.display.clone().or_else(|| u.code.clone());
            } else if let Value::Integer(i) = v {
                return Some(Value::Integer(*i));
            }
            Value::Quantity(q)
        }
        Value::Quantity(q) => Value::Quantity(q.clone()),
        Value::Coding(c) => Value::CodeableConcept(CodeableConcept::from_coding(c.clone())),
        Value::Boolean(b) => Value::Boolean(*b),
        Value::String(s) => Value::String(s.clone()),
        Value::Date(_) | Value::DateTime(_) => as_date_time(v)?,
        Value::Time(t) => Value::Time(*t),
        _ => return None,
    })
}

fn set_telecom(p: &mut Patient, system: &str, value: &str) {
    match p
        .telecom
        .iter_mut()
        .find(|t| t.system.as_deref() == Some(system) && t.period.as_ref().and_then(|x| x.end.as_ref()).is_none())
    {
        Some(t) => t.value = Some(value.to_owned()),
        None => p.telecom.push(intake_fhir::ContactPoint {
            system: Some(system.into()),
            value: Some(value.into()),
            use_: Some(if system == "phone" { "mobile" } else { "home" }.into()),
            ..Default::default()
        }),
    }
}

/// A moved patient: the old address is kept as history, the new one becomes home.
fn set_address(p: &mut Patient, field: PatientField, text: &str, today: DateTime) {
    let idx = p.address.iter().position(|a| {
        a.use_.as_deref() != Some("old") && a.period.as_ref().and_then(|x| x.end.as_ref()).is_none()
    });
    let mut new = match idx {
        Some(i) if p.address[i].period.as_ref().and_then(|x| x.start).is_some_and(|s| s.date == today.date) => {
            // Already replaced in this submit (several address fields changed): edit the new one.
            p.address.remove(i)
        }
        Some(i) => {
            let old = &mut p.address[i];
            let copy = old.clone();
            old.use_ = Some("old".into());
            old.period.get_or_insert_with(Default::default).end = Some(today);
            intake_fhir::Address { use_: Some("home".into()), period: Some(intake_fhir::Period { start: Some(today), ..Default::default() }), ..copy }
        }
        None => intake_fhir::Address { use_: Some("home".into()), period: Some(intake_fhir::Period { start: Some(today), ..Default::default() }), ..Default::default() },
    };
    new.text = None;
    match field {
        PatientField::AddressLine => new.line = text.split(", ").map(str::to_owned).collect(),
        PatientField::City => new.city = Some(text.into()),
        PatientField::State => new.state = Some(text.into()),
        PatientField::PostalCode => new.postal_code = Some(text.into()),
        _ => {}
    }
    p.address.push(new);
}

/// A legal name change keeps the old name as history (`use: old`, period ended today).
fn change_legal_name(p: &mut Patient, given: Option<String>, family: Option<String>, today: DateTime) {
    let idx = p.name.iter().position(|n| n.use_.as_deref() == Some("official") && n.period.as_ref().and_then(|x| x.end.as_ref()).is_none());
    let base = idx.map(|i| p.name[i].clone()).unwrap_or_default();
    if let Some(i) = idx {
        p.name[i].use_ = Some("old".into());
        p.name[i].period.get_or_insert_with(Default::default).end = Some(today);
    }
    let mut new = intake_fhir::HumanName {
        use_: Some("official".into()),
        period: Some(intake_fhir::Period { start: Some(today), ..Default::default() }),
        ..base
    };
    new.text = None;
    if let Some(g) = given {
        new.given = g.split_whitespace().map(str::to_owned).collect();
    }
    if let Some(f) = family {
        new.family = Some(f);
    }
    p.name.push(new);
}
