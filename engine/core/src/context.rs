//! The visit context: why the patient is coming, who is answering, in which language.
//!
//! Who answers matters: a parent answering for a child is the QuestionnaireResponse's author,
//! the child is its subject, and what the parent says is recorded as coming from them.

use std::collections::BTreeMap;
use std::fmt;

use intake_fhir::{Coding, Json};

/// HL7 v3 RoleCode, used for a proxy's relationship to the patient.
pub const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";

/// Who fills in the form.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Respondent {
    #[default]
    Patient,
    /// Someone answering for the patient.
    Proxy(Proxy),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Proxy {
    /// v3 RoleCode such as `MTH` (mother), `FTH` (father), `GRD` (guardian).
    pub relationship: Option<Coding>,
    pub name: Option<String>,
    /// A RelatedPerson already in the chart, when the host knows which one.
    pub reference: Option<String>,
}

/// Context a host passes when it starts a session.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitContext {
    /// Visit reason codes as the scheduling system gives them (`bp-follow-up`, `sick-visit`).
    pub reasons: Vec<String>,
    pub respondent: Respondent,
    /// BCP-47 language of the form (`en`, `es`).
    pub language: String,
    /// Anything else a rule may ask for with `context(key)`.
    pub values: BTreeMap<String, String>,
    /// SDC launch contexts the host gives, by name (`encounter`, `user`, or a name the form
    /// declares): FHIR resources that forms' expressions read as `%encounter`, `%user`.
    /// `patient` is not among them: it is the chart's.
    pub launch: BTreeMap<String, serde_json::Value>,
}

impl Default for VisitContext {
    fn default() -> Self {
        VisitContext { reasons: Vec::new(), respondent: Respondent::Patient, language: "en".into(), values: BTreeMap::new(), launch: BTreeMap::new() }
    }
}

/// A context field that is not what we expect.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "context.{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ContextError {}

impl VisitContext {
    pub fn is_proxy(&self) -> bool {
        matches!(self.respondent, Respondent::Proxy(_))
    }

    /// Read `{ "reasons": [...], "respondent": {...}, "language": "es", "values": {...} }`.
    pub fn from_json(v: &Json) -> Result<VisitContext, ContextError> {
        let err = |field: &str, message: &str| ContextError { field: field.into(), message: message.into() };
        let Json::Object(m) = v else { return Err(err("", "expected an object")) };
        let mut ctx = VisitContext::default();
        for (k, val) in m {
            match k.as_str() {
                "reasons" | "reason" => match val {
                    Json::String(s) => ctx.reasons.push(s.clone()),
                    Json::Array(a) => {
                        for r in a {
                            ctx.reasons.push(r.as_str().ok_or_else(|| err("reasons", "expected strings"))?.to_owned());
                        }
                    }
                    _ => return Err(err("reasons", "expected a string or an array of strings")),
                },
                "language" => ctx.language = val.as_str().ok_or_else(|| err("language", "expected a string"))?.to_owned(),
                "respondent" => ctx.respondent = respondent_from(val).map_err(|m| err("respondent", &m))?,
                "values" => {
                    let Json::Object(vals) = val else { return Err(err("values", "expected an object")) };
                    for (vk, vv) in vals {
                        let text = match vv {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        ctx.values.insert(vk.clone(), text);
                    }
                }
                "launchContext" => {
                    let Json::Object(named) = val else { return Err(err("launchContext", "expected an object of named FHIR resources")) };
                    for (name, resource) in named {
                        let field = format!("launchContext.{name}");
                        if name == "patient" {
                            return Err(err(&field, "%patient is the chart's Patient; give the chart instead"));
                        }
                        if resource.get("resourceType").and_then(Json::as_str).is_none() {
                            return Err(err(&field, "expected a FHIR resource (an object with a resourceType)"));
                        }
                        ctx.launch.insert(name.clone(), resource.clone());
                    }
                }
                other => return Err(err(other, "unknown context field (expected reasons, respondent, language, values, launchContext)")),
            }
        }
        Ok(ctx)
    }
}

fn respondent_from(v: &Json) -> Result<Respondent, String> {
    match v {
        Json::String(s) if s == "patient" => Ok(Respondent::Patient),
        Json::Object(m) => {
            let relationship = match m.get("relationship") {
                Some(Json::String(code)) => Some(Coding::new(ROLE_CODE, code, role_display(code))),
                Some(Json::Object(_)) => {
                    let c = m.get("relationship").cloned().unwrap_or(Json::Null);
                    Some(
                        intake_fhir::FromJson::from_json(&c, &mut intake_fhir::Cx::new("relationship"))
                            .map_err(|e: intake_fhir::ModelError| e.to_string())?,
                    )
                }
                None => None,
                Some(_) => return Err("relationship must be a v3 RoleCode string or a Coding".into()),
            };
            Ok(Respondent::Proxy(Proxy {
                relationship,
                name: m.get("name").and_then(Json::as_str).map(str::to_owned),
                reference: m.get("reference").and_then(Json::as_str).map(str::to_owned),
            }))
        }
        _ => Err("expected \"patient\" or an object describing the proxy".into()),
    }
}

/// Displays for the RoleCodes intake forms use most.
pub fn role_display(code: &str) -> &'static str {
    match code {
        "MTH" => "mother",
        "FTH" => "father",
        "PRN" => "parent",
        "GRD" => "guardian",
        "SPS" => "spouse",
        "CHILD" => "child",
        "FAMMEMB" => "family member",
        "NBOR" => "neighbor",
        "FRND" => "friend",
        _ => "",
    }
}
