//! Hand-written, lenient FHIR R4 model: only the resources and datatypes the intake engine
//! reads and writes.
//!
//! Why not a generated full-R4 crate: measured here, they cost 1.6-2.2 MB gzip of wasm just to
//! parse a Questionnaire, over five times the budget of the whole page. These types read leniently
//! (coercions become [`json::Warning`]s), fail with the JSON path of the problem
//! ([`json::ModelError`]), and keep unknown elements in `extra` so nothing is lost on a round trip.
//! Choice types (`value[x]`, `answer[x]`, `initial[x]`) are the [`Value`] enum.

pub mod bundle;
pub mod clinical;
pub mod datatypes;
pub mod json;
pub mod node;
pub mod questionnaire;
pub mod temporal;

pub use bundle::{Bundle, BundleEntry, BundleRequest};
pub use clinical::*;
pub use datatypes::*;
pub use json::{from_node, from_text, from_value, Choice, Cx, FromJson, Json, JsonMap, JsonPath, ModelError, ModelErrorKind, ToJson, Warning, WriteJson};
pub use questionnaire::*;
pub use temporal::{Date, DateTime, Precision, Time};

/// A resource typed by its `resourceType`, for reading charts.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyResource {
    Patient(Patient),
    AllergyIntolerance(AllergyIntolerance),
    MedicationStatement(MedicationStatement),
    MedicationRequest(MedicationRequest),
    Condition(Condition),
    Observation(Observation),
    QuestionnaireResponse(QuestionnaireResponse),
    RelatedPerson(RelatedPerson),
    /// Anything else (Encounter, Claim, ...), kept as JSON.
    Other(Json),
}

impl AnyResource {
    /// Read a resource of any type; types the engine does not model stay JSON.
    pub fn from_json(v: &Json, cx: &mut Cx) -> Result<AnyResource, ModelError> {
        AnyResource::from_node(json::JsonRef::Value(v), cx)
    }

    /// [`AnyResource::from_json`] from either tree.
    pub fn from_node(v: json::JsonRef<'_>, cx: &mut Cx) -> Result<AnyResource, ModelError> {
        let rt = v.get("resourceType").and_then(json::JsonRef::as_str).unwrap_or("");
        Ok(match rt {
            "Patient" => AnyResource::Patient(Patient::from_node(v, cx)?),
            "AllergyIntolerance" => AnyResource::AllergyIntolerance(AllergyIntolerance::from_node(v, cx)?),
            "MedicationStatement" => AnyResource::MedicationStatement(MedicationStatement::from_node(v, cx)?),
            "MedicationRequest" => AnyResource::MedicationRequest(MedicationRequest::from_node(v, cx)?),
            "Condition" => AnyResource::Condition(Condition::from_node(v, cx)?),
            "Observation" => AnyResource::Observation(Observation::from_node(v, cx)?),
            "QuestionnaireResponse" => AnyResource::QuestionnaireResponse(QuestionnaireResponse::from_node(v, cx)?),
            "RelatedPerson" => AnyResource::RelatedPerson(RelatedPerson::from_node(v, cx)?),
            _ => AnyResource::Other(v.to_json()),
        })
    }
}

