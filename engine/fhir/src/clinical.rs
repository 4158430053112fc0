//! The clinical and workflow resources a chart holds and a write-back creates.

use crate::datatypes::{
    Address, Annotation, CodeableConcept, Coding, ContactPoint, Extension, HumanName, Identifier, Meta, Period, Reference,
    Value,
};
use crate::fhir_element;
use crate::json::Json;
use crate::temporal::{Date, DateTime};

fhir_element! {
    /// The patient: demographics and identifiers.
    pub struct Patient: resource "Patient" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        active: opt bool = "active",
        name: vec HumanName = "name",
        telecom: vec ContactPoint = "telecom",
        gender: opt String = "gender",
        birth_date: opt Date = "birthDate",
        deceased: choice Value = "deceased",
        address: vec Address = "address",
        marital_status: opt CodeableConcept = "maritalStatus",
        communication: vec PatientCommunication = "communication",
        link: vec PatientLink = "link",
    }
}

fhir_element! {
    pub struct PatientCommunication {
        language: opt CodeableConcept = "language",
        preferred: opt bool = "preferred",
    }
}

fhir_element! {
    /// A link to another Patient record (merged records: `replaced-by`, `replaces`, `seealso`).
    pub struct PatientLink {
        other: opt Reference = "other",
        type_: opt String = "type",
    }
}

fhir_element! {
    /// An allergy or intolerance.
    pub struct AllergyIntolerance: resource "AllergyIntolerance" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        clinical_status: opt CodeableConcept = "clinicalStatus",
        verification_status: opt CodeableConcept = "verificationStatus",
        type_: opt String = "type",
        category: vec String = "category",
        criticality: opt String = "criticality",
        code: opt CodeableConcept = "code",
        patient: opt Reference = "patient",
        encounter: opt Reference = "encounter",
        onset: choice Value = "onset",
        recorded_date: opt DateTime = "recordedDate",
        recorder: opt Reference = "recorder",
        asserter: opt Reference = "asserter",
        note: vec Annotation = "note",
        reaction: vec AllergyReaction = "reaction",
    }
}

fhir_element! {
    /// One reaction: the manifestations seen and how bad.
    pub struct AllergyReaction {
        substance: opt CodeableConcept = "substance",
        manifestation: vec CodeableConcept = "manifestation",
        description: opt String = "description",
        onset: opt DateTime = "onset",
        severity: opt String = "severity",
        note: vec Annotation = "note",
    }
}

fhir_element! {
    /// What the patient says they take (or stopped taking).
    pub struct MedicationStatement: resource "MedicationStatement" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        based_on: vec Reference = "basedOn",
        status: opt String = "status",
        status_reason: vec CodeableConcept = "statusReason",
        category: opt CodeableConcept = "category",
        medication: choice Value = "medication",
        subject: opt Reference = "subject",
        context: opt Reference = "context",
        effective: choice Value = "effective",
        date_asserted: opt DateTime = "dateAsserted",
        information_source: opt Reference = "informationSource",
        derived_from: vec Reference = "derivedFrom",
        reason_code: vec CodeableConcept = "reasonCode",
        note: vec Annotation = "note",
        dosage: vec Dosage = "dosage",
    }
}

fhir_element! {
    /// A prescription; read from charts (Synthea and many EHRs list current meds this way).
    pub struct MedicationRequest: resource "MedicationRequest" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        status: opt String = "status",
        intent: opt String = "intent",
        medication: choice Value = "medication",
        subject: opt Reference = "subject",
        authored_on: opt DateTime = "authoredOn",
        requester: opt Reference = "requester",
        reason_code: vec CodeableConcept = "reasonCode",
        dosage_instruction: vec Dosage = "dosageInstruction",
    }
}

fhir_element! {
    /// How a medication is taken; the engine reads and writes the text form.
    pub struct Dosage {
        sequence: opt i64 = "sequence",
        text: opt String = "text",
        as_needed: choice Value = "asNeeded",
    }
}

fhir_element! {
    /// A problem or diagnosis.
    pub struct Condition: resource "Condition" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        clinical_status: opt CodeableConcept = "clinicalStatus",
        verification_status: opt CodeableConcept = "verificationStatus",
        category: vec CodeableConcept = "category",
        severity: opt CodeableConcept = "severity",
        code: opt CodeableConcept = "code",
        body_site: vec CodeableConcept = "bodySite",
        subject: opt Reference = "subject",
        encounter: opt Reference = "encounter",
        onset: choice Value = "onset",
        abatement: choice Value = "abatement",
        recorded_date: opt DateTime = "recordedDate",
        recorder: opt Reference = "recorder",
        asserter: opt Reference = "asserter",
        note: vec Annotation = "note",
    }
}

fhir_element! {
    /// A measurement or finding.
    pub struct Observation: resource "Observation" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        based_on: vec Reference = "basedOn",
        status: opt String = "status",
        category: vec CodeableConcept = "category",
        code: opt CodeableConcept = "code",
        subject: opt Reference = "subject",
        encounter: opt Reference = "encounter",
        effective: choice Value = "effective",
        issued: opt String = "issued",
        performer: vec Reference = "performer",
        value: choice Value = "value",
        data_absent_reason: opt CodeableConcept = "dataAbsentReason",
        interpretation: vec CodeableConcept = "interpretation",
        note: vec Annotation = "note",
        method: opt CodeableConcept = "method",
        derived_from: vec Reference = "derivedFrom",
        component: vec ObservationComponent = "component",
    }
}

fhir_element! {
    /// One part of a panel observation (e.g. systolic within a blood pressure).
    pub struct ObservationComponent {
        code: opt CodeableConcept = "code",
        value: choice Value = "value",
        data_absent_reason: opt CodeableConcept = "dataAbsentReason",
    }
}

fhir_element! {
    /// Who did what to which resources, and from what source.
    pub struct Provenance: resource "Provenance" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        target: vec Reference = "target",
        recorded: opt String = "recorded",
        activity: opt CodeableConcept = "activity",
        agent: vec ProvenanceAgent = "agent",
        entity: vec ProvenanceEntity = "entity",
        reason: vec CodeableConcept = "reason",
    }
}

fhir_element! {
    pub struct ProvenanceAgent {
        type_: opt CodeableConcept = "type",
        role: vec CodeableConcept = "role",
        who: opt Reference = "who",
        on_behalf_of: opt Reference = "onBehalfOf",
    }
}

fhir_element! {
    pub struct ProvenanceEntity {
        role: opt String = "role",
        what: opt Reference = "what",
    }
}

fhir_element! {
    /// A piece of work for a person: here, a clinician reviewing an intake answer.
    pub struct Task: resource "Task" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        contained: vec Json = "contained",
        extension: vec Extension = "extension",
        identifier: vec Identifier = "identifier",
        status: opt String = "status",
        intent: opt String = "intent",
        priority: opt String = "priority",
        code: opt CodeableConcept = "code",
        description: opt String = "description",
        focus: opt Reference = "focus",
        for_: opt Reference = "for",
        authored_on: opt DateTime = "authoredOn",
        requester: opt Reference = "requester",
        reason_code: opt CodeableConcept = "reasonCode",
        note: vec Annotation = "note",
        input: vec TaskInput = "input",
    }
}

fhir_element! {
    /// A warning about the patient for everyone who opens their record (an urgent intake
    /// advisory, when the visit type asks for one).
    pub struct Flag: resource "Flag" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        identifier: vec Identifier = "identifier",
        status: opt String = "status",
        category: vec CodeableConcept = "category",
        code: opt CodeableConcept = "code",
        subject: opt Reference = "subject",
        period: opt Period = "period",
        author: opt Reference = "author",
    }
}

fhir_element! {
    pub struct TaskInput {
        type_: opt CodeableConcept = "type",
        value: choice Value = "value",
    }
}

fhir_element! {
    /// A person answering for the patient (parent, guardian, carer).
    pub struct RelatedPerson: resource "RelatedPerson" {
        id: opt String = "id",
        identifier: vec Identifier = "identifier",
        patient: opt Reference = "patient",
        relationship: vec CodeableConcept = "relationship",
        name: vec HumanName = "name",
    }
}

/// `clinicalStatus` codings use these systems.
pub const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
pub const ALLERGY_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
pub const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
pub const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The status code of a `clinicalStatus`-like concept, if coded.
pub fn status_code(cc: &Option<CodeableConcept>) -> Option<&str> {
    cc.as_ref().and_then(|c| c.first_code())
}

/// A concept with one coding in a system.
pub fn coded(system: &str, code: &str, display: &str) -> CodeableConcept {
    CodeableConcept::from_coding(Coding::new(system, code, display))
}

/// A concept from a `value[x]` that holds a medication concept (or a reference's display).
pub fn medication_concept(v: &Option<Value>) -> Option<CodeableConcept> {
    match v {
        Some(Value::CodeableConcept(c)) => Some(c.clone()),
        Some(Value::Reference(r)) => r.display.as_deref().map(CodeableConcept::text),
        _ => None,
    }
}
