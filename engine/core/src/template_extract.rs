//! SDC template-based extraction: a Questionnaire that carries its own resource templates
//! (`sdc-questionnaire-templateExtract` pointing at contained resources, filled in by
//! `templateExtractContext` and `templateExtractValue` FHIRPath expressions) turns a
//! QuestionnaireResponse into a transaction Bundle. This is how forms from other tools (CSIRO
//! Smart Forms and others following SDC) say what their answers mean, so we honour it rather
//! than guess from field names.
//!
//! Differences from a plain reading of the spec, all deliberate:
//! - **Idempotent.** fullUrls, allocated ids and the Bundle identifier derive from a seed (the
//!   QuestionnaireResponse's identity), so extracting the same response twice gives the same
//!   Bundle. A POSTed resource whose type has `identifier` and whose template sets no
//!   conditional create gets a stable identifier and `ifNoneExist`, so a retried submit does
//!   not duplicate it.
//! - **Never a half-filled resource.** If an expression in a template fails, or the filled
//!   resource lacks an element R4 requires (an Immunization with no date because that answer
//!   was left empty), that resource is left out and the problem is reported (item, expression
//!   or element, reason) for a person to look at; the rest of the Bundle is still produced.
//! - `x-fhir-query` variables need a server and are not evaluated; expressions that use them
//!   fail and are reported as above.

use std::fmt;

use intake_fhirpath::{Env, Expr, Item, Value};
use serde_json::{Map, Value as Json};

use crate::ids::{uuid_v5, URN_SYSTEM};

const EXT_TEMPLATE: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-templateExtract";
const EXT_CONTEXT: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-templateExtractContext";
const EXT_VALUE: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-templateExtractValue";
const EXT_ALLOCATE: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-extractAllocateId";
const EXT_VARIABLE: &str = "http://hl7.org/fhir/StructureDefinition/variable";
/// CSIRO's extension for PATCH entries (a Parameters template sent as FHIRPath Patch).
const EXT_PATCH_URL: &str = "https://smartforms.csiro.au/ig/StructureDefinition/TemplateExtractExtensionPatchRequestUrl";

/// Resource types with a repeating `identifier`, to which a stable one can be added.
const LIST_IDENTIFIER_TYPES: &[&str] = &[
    "AllergyIntolerance", "CarePlan", "CareTeam", "ClinicalImpression", "Condition", "Consent", "DiagnosticReport",
    "DocumentReference", "Encounter", "FamilyMemberHistory", "Flag", "Goal", "Immunization", "MedicationAdministration",
    "MedicationDispense", "MedicationRequest", "MedicationStatement", "Observation", "Patient", "Practitioner",
    "Procedure", "RelatedPerson", "RiskAssessment", "ServiceRequest", "Specimen", "Task",
];

/// Elements R4 requires (1..1 or 1..*) of the resource types forms extract to. A template
/// that fills to a resource without one of them (no answer for it) would be rejected by a
/// server, or worse accepted by a lenient one; it is left out and reported instead.
const REQUIRED: &[(&str, &[&str])] = &[
    ("AllergyIntolerance", &["patient"]),
    ("CarePlan", &["status", "intent", "subject"]),
    ("Condition", &["subject"]),
    ("DiagnosticReport", &["status", "code"]),
    ("DocumentReference", &["status", "content"]),
    ("Encounter", &["status", "class"]),
    ("FamilyMemberHistory", &["status", "patient", "relationship"]),
    ("Flag", &["status", "code", "subject"]),
    ("Goal", &["lifecycleStatus", "description", "subject"]),
    ("Immunization", &["status", "vaccineCode", "patient", "occurrence[x]"]),
    ("MedicationRequest", &["status", "intent", "medication[x]", "subject"]),
    ("MedicationStatement", &["status", "medication[x]", "subject"]),
    ("Observation", &["status", "code"]),
    ("Procedure", &["status", "subject"]),
    ("RelatedPerson", &["patient"]),
    ("RiskAssessment", &["status", "subject"]),
    ("ServiceRequest", &["status", "intent", "subject"]),
    ("Task", &["status", "intent"]),
];

fn missing_required(rtype: &str, resource: &Map<String, Json>) -> Vec<&'static str> {
    let Some((_, fields)) = REQUIRED.iter().find(|(t, _)| *t == rtype) else { return vec![] };
    fields
        .iter()
        .copied()
        .filter(|f| match f.strip_suffix("[x]") {
            Some(stem) => !resource.keys().any(|k| k.strip_prefix(stem).is_some_and(|s| s.starts_with(|c: char| c.is_ascii_uppercase()))),
            None => !resource.contains_key(*f),
        })
        .collect()
}

/// What extraction needs besides the two resources.
pub struct Options<'a> {
    /// RFC 3339, for `now()`/`today()` and the Bundle timestamp.
    pub now: &'a str,
    /// Stable per submission: ids derive from it. `None`: the response's identifier, or id.
    pub seed: Option<&'a str>,
}

/// A problem with one resource (it was left out), or with a variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// The linkId of the item the template hangs on (`(root)` for the Questionnaire itself).
    pub link_id: String,
    /// Where in the template (`Observation.valueQuantity.value`), or which variable.
    pub location: String,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "item '{}': {}: {}", self.link_id, self.location, self.message)
    }
}

/// The Bundle, and what was left out and why.
#[derive(Debug, Clone)]
pub struct Extraction {
    pub bundle: Json,
    pub issues: Vec<Issue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    NotAQuestionnaire,
    NotAResponse,
    /// The Questionnaire has no templateExtract extension: nothing to extract by template.
    NoTemplates,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAQuestionnaire => write!(f, "the first resource is not a Questionnaire"),
            Error::NotAResponse => write!(f, "the second resource is not a QuestionnaireResponse"),
            Error::NoTemplates => write!(f, "the Questionnaire has no sdc-questionnaire-templateExtract extension"),
        }
    }
}

impl std::error::Error for Error {}

/// Does this Questionnaire extract by template?
pub fn has_templates(questionnaire: &Json) -> bool {
    fn any(items: Option<&Json>) -> bool {
        items.and_then(Json::as_array).is_some_and(|a| a.iter().any(|i| !extensions(i, EXT_TEMPLATE).is_empty() || any(i.get("item"))))
    }
    !extensions(questionnaire, EXT_TEMPLATE).is_empty() || any(questionnaire.get("item"))
}

/// Extract a transaction Bundle from a response to a template-carrying Questionnaire.
pub fn extract(questionnaire: &Json, response: &Json, opts: &Options) -> Result<Extraction, Error> {
    if questionnaire.get("resourceType").and_then(Json::as_str) != Some("Questionnaire") {
        return Err(Error::NotAQuestionnaire);
    }
    if response.get("resourceType").and_then(Json::as_str) != Some("QuestionnaireResponse") {
        return Err(Error::NotAResponse);
    }
    if !has_templates(questionnaire) {
        return Err(Error::NoTemplates);
    }
    let seed = match opts.seed {
        Some(s) => s.to_owned(),
        None => response
            .pointer("/identifier/value")
            .and_then(Json::as_str)
            .or_else(|| response.get("id").and_then(Json::as_str))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid_v5(&response.to_string())),
    };
    let mut env = Env::new().with_now(opts.now);
    env.set_json("resource", response);
    env.set_json("rootResource", response);
    env.set_json("questionnaire", questionnaire);
    let mut x = Extractor { questionnaire, seed, entries: Vec::new(), issues: Vec::new() };
    let root_ctx = vec![item_of(response)];
    x.allocate_ids(questionnaire, "", &mut env);
    x.variables(questionnaire, "(root)", &root_ctx, &mut env);
    x.templates(questionnaire, "(root)", "", &root_ctx, &env);
    x.items(questionnaire.get("item"), response.get("item"), "", &env);
    let subject = response.pointer("/subject/reference").and_then(Json::as_str);
    x.only_about(subject);
    let mut bundle = Map::new();
    bundle.insert("resourceType".into(), "Bundle".into());
    bundle.insert(
        "identifier".into(),
        serde_json::json!({ "system": URN_SYSTEM, "value": format!("urn:uuid:{}", uuid_v5(&format!("{}\u{1f}Bundle", x.seed))) }),
    );
    bundle.insert("type".into(), "transaction".into());
    bundle.insert("timestamp".into(), opts.now.into());
    bundle.insert("entry".into(), Json::Array(x.entries.into_iter().map(|(_, e)| e).collect()));
    Ok(Extraction { bundle: Json::Object(bundle), issues: x.issues })
}

struct Extractor<'a> {
    questionnaire: &'a Json,
    seed: String,
    /// Entries with the linkId of the item their template hangs on.
    entries: Vec<(String, Json)>,
    issues: Vec<Issue>,
}

fn item_of(json: &Json) -> Item {
    Item::new(Value::Node(intake_fhirpath::NodeRef::new(json.clone())))
}

/// The extensions of `node` with this URL.
fn extensions<'j>(node: &'j Json, url: &str) -> Vec<&'j Json> {
    node.get("extension")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter(|e| e.get("url").and_then(Json::as_str) == Some(url)).collect())
        .unwrap_or_default()
}

fn sub_value<'j>(ext: &'j Json, url: &str) -> Option<&'j Json> {
    extensions(ext, url).first().and_then(|e| {
        e.as_object().and_then(|o| o.iter().find(|(k, _)| k.starts_with("value")).map(|(_, v)| v))
    })
}

fn expression_text(v: &Json) -> Option<&str> {
    v.as_str().or_else(|| v.get("expression").and_then(Json::as_str))
}

impl Extractor<'_> {
    fn issue(&mut self, link_id: &str, location: &str, message: impl Into<String>) {
        self.issues.push(Issue { link_id: link_id.into(), location: location.into(), message: message.into() });
    }

    fn eval(&self, expr: &str, ctx: &[Item], env: &Env) -> Result<Vec<Item>, String> {
        let e = Expr::parse(expr).map_err(|e| format!("{expr}: {e}"))?;
        e.evaluate(ctx, env).map_err(|e| format!("{expr}: {e}"))
    }

    /// `extractAllocateId`: a new id per extraction (per item instance for item-level ones),
    /// stable for the same response.
    fn allocate_ids(&mut self, node: &Json, path: &str, env: &mut Env) {
        for ext in extensions(node, EXT_ALLOCATE) {
            if let Some(name) = ext.get("valueString").and_then(Json::as_str) {
                let id = uuid_v5(&format!("{}\u{1f}allocate\u{1f}{path}\u{1f}{name}", self.seed));
                env.set(name, vec![Item::new(Value::Str(id))]);
            }
        }
    }

    /// FHIRPath `variable` extensions, in order, in the context of this item.
    fn variables(&mut self, node: &Json, link_id: &str, ctx: &[Item], env: &mut Env) {
        for ext in extensions(node, EXT_VARIABLE) {
            let Some(ve) = ext.get("valueExpression") else { continue };
            let (Some(name), Some(expr)) = (ve.get("name").and_then(Json::as_str), ve.get("expression").and_then(Json::as_str)) else {
                continue;
            };
            match ve.get("language").and_then(Json::as_str) {
                Some("text/fhirpath") => match self.eval(expr, ctx, env) {
                    Ok(v) => env.set(name, v),
                    Err(e) => {
                        self.issue(link_id, &format!("variable %{name}"), e);
                        env.set(name, vec![]);
                    }
                },
                // x-fhir-query and others need a server; a template that uses one will fail
                // with "%name is not defined" and be reported there.
                _ => {}
            }
        }
    }

    /// Walk Questionnaire items alongside the response items with the same linkId.
    fn items(&mut self, q_items: Option<&Json>, r_items: Option<&Json>, path: &str, env: &Env) {
        let Some(q_items) = q_items.and_then(Json::as_array) else { return };
        let r_items: Vec<&Json> = r_items.and_then(Json::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        for qi in q_items {
            let Some(link_id) = qi.get("linkId").and_then(Json::as_str) else { continue };
            let instances: Vec<&Json> = r_items.iter().copied().filter(|r| r.get("linkId").and_then(Json::as_str) == Some(link_id)).collect();
            for (n, inst) in instances.iter().enumerate() {
                let p = format!("{path}/{link_id}[{n}]");
                let ctx = vec![item_of(inst)];
                let mut env = env.clone();
                self.allocate_ids(qi, &p, &mut env);
                self.variables(qi, link_id, &ctx, &mut env);
                self.templates(qi, link_id, &p, &ctx, &env);
                // Children: of a group, and of each answer of a question.
                self.items(qi.get("item"), inst.get("item"), &p, &env);
                for ans in inst.get("answer").and_then(Json::as_array).into_iter().flatten() {
                    self.items(qi.get("item"), ans.get("item"), &p, &env);
                }
            }
        }
    }

    /// Every templateExtract on this node, for this context.
    fn templates(&mut self, node: &Json, link_id: &str, path: &str, ctx: &[Item], env: &Env) {
        for (k, ext) in extensions(node, EXT_TEMPLATE).into_iter().enumerate() {
            let entry_key = format!("{path}\u{1f}template{k}");
            match self.entry(ext, &entry_key, ctx, env) {
                Ok(Some(e)) => self.entries.push((link_id.to_owned(), e)),
                Ok(None) => {}
                Err((location, message)) => self.issue(link_id, &location, format!("{message}; this resource was left out")),
            }
        }
    }

    /// Leave out every resource about someone other than the response's subject.
    ///
    /// Why: a template fills `subject` from an expression, and an expression can name anyone (an
    /// answer, a constant, another resource). What is extracted from one patient's answers must
    /// never be filed under another patient. The one exception is a Patient this same
    /// extraction writes (a registration form creating or updating the record it is about, as
    /// CSIRO's ComplexTemplateExtract does): that is reported, so a pipeline can check it.
    fn only_about(&mut self, subject: Option<&str>) {
        let Some(subject) = subject else { return };
        let written: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.pointer("/resource/resourceType").and_then(Json::as_str) == Some("Patient"))
            .flat_map(|(_, e)| {
                let url = e.get("fullUrl").and_then(Json::as_str).map(str::to_owned);
                let target = e.pointer("/request/url").and_then(Json::as_str).filter(|u| u.starts_with("Patient/")).map(str::to_owned);
                url.into_iter().chain(target)
            })
            .collect();
        let mut kept = Vec::with_capacity(self.entries.len());
        let mut noted_written = false;
        for (link_id, entry) in std::mem::take(&mut self.entries) {
            let rtype = entry.pointer("/resource/resourceType").and_then(Json::as_str).unwrap_or("").to_owned();
            let mut refused = None;
            for field in ["subject", "patient", "for", "beneficiary"] {
                let Some(r) = entry.pointer(&format!("/resource/{field}/reference")).and_then(Json::as_str) else { continue };
                if r == subject {
                    continue;
                }
                if written.iter().any(|w| w == r) {
                    if !noted_written {
                        noted_written = true;
                        self.issue(&link_id, &format!("{rtype}.{field}"), format!(
                            "refers to {r}, a Patient this extraction writes, not the response's subject {subject}; kept (check this form registers a patient)"
                        ));
                    }
                    continue;
                }
                refused = Some((field, r.to_owned()));
                break;
            }
            match refused {
                Some((field, r)) => self.issue(&link_id, &format!("{rtype}.{field}"), format!(
                    "refers to {r}, but the response is about {subject}; a template may not write about another patient; this resource was left out"
                )),
                None => kept.push((link_id, entry)),
            }
        }
        self.entries = kept;
    }

    fn contained(&self, reference: &str) -> Option<&Json> {
        let id = reference.strip_prefix('#')?;
        self.questionnaire.get("contained")?.as_array()?.iter().find(|c| c.get("id").and_then(Json::as_str) == Some(id))
    }

    /// One Bundle entry from one templateExtract extension. `Ok(None)`: the template filled to
    /// nothing (no answers for it).
    fn entry(&self, ext: &Json, key: &str, ctx: &[Item], env: &Env) -> Result<Option<Json>, (String, String)> {
        let reference = sub_value(ext, "template").and_then(|v| v.get("reference")).and_then(Json::as_str).unwrap_or("");
        let template = self.contained(reference).ok_or_else(|| ("template".to_owned(), format!("no contained resource '{reference}'")))?;
        let rtype = template.get("resourceType").and_then(Json::as_str).unwrap_or("").to_owned();
        let mut t = template.clone();
        if let Some(o) = t.as_object_mut() {
            o.remove("id");
        }
        let filled = fill(&t, ctx, env, &rtype)?;
        let Some(Json::Object(mut resource)) = filled else { return Ok(None) };
        // Only resourceType left: the template matched no answers.
        if resource.len() <= 1 {
            return Ok(None);
        }
        let missing = missing_required(&rtype, &resource);
        if !missing.is_empty() {
            return Err((rtype.clone(), format!("required element {} has no value (no answer for it)", missing.join(", "))));
        }
        let text_of = |url: &str| -> Result<Option<String>, (String, String)> {
            let Some(v) = sub_value(ext, url).and_then(expression_text) else { return Ok(None) };
            let r = self.eval(v, ctx, env).map_err(|e| (url.to_owned(), e))?;
            Ok(r.first().and_then(|i| i.as_str().map(str::to_owned).or_else(|| Some(i.to_json().to_string()))))
        };
        let uuid = uuid_v5(&format!("{}\u{1f}{key}", self.seed));
        let full_url = match text_of("fullUrl")? {
            Some(u) if u.contains(':') => u,
            Some(u) => format!("urn:uuid:{u}"),
            None => format!("urn:uuid:{uuid}"),
        };
        let mut request = Map::new();
        if let Some(url) = text_of(EXT_PATCH_URL)? {
            request.insert("method".into(), "PATCH".into());
            request.insert("url".into(), url.into());
        } else if let Some(id) = text_of("resourceId")? {
            if rtype == "Parameters" {
                // A Parameters template with a target is a FHIRPath Patch of that resource
                // (the target type from the `type` sub-extension), as Smart Forms writes it.
                let target = sub_value(ext, "type").and_then(Json::as_str).unwrap_or("Parameters");
                request.insert("method".into(), "PATCH".into());
                request.insert("url".into(), format!("{target}/{id}").into());
            } else {
                resource.insert("id".into(), id.clone().into());
                request.insert("method".into(), "PUT".into());
                request.insert("url".into(), format!("{rtype}/{id}").into());
            }
        } else {
            request.insert("method".into(), "POST".into());
            request.insert("url".into(), rtype.clone().into());
        }
        for (url, field) in [("ifNoneMatch", "ifNoneMatch"), ("ifModifiedSince", "ifModifiedSince"), ("ifMatch", "ifMatch"), ("ifNoneExist", "ifNoneExist")] {
            if let Some(v) = text_of(url)? {
                request.insert(field.into(), v.into());
            }
        }
        // Idempotency for plain creates: a stable identifier and a conditional create on it.
        if request.get("method").and_then(Json::as_str) == Some("POST")
            && !request.contains_key("ifNoneExist")
            && LIST_IDENTIFIER_TYPES.contains(&rtype.as_str())
        {
            let value = format!("urn:uuid:{}", uuid_v5(&format!("identifier\u{1f}{uuid}")));
            let ident = serde_json::json!({ "system": URN_SYSTEM, "value": value });
            match resource.get_mut("identifier") {
                Some(Json::Array(a)) => a.insert(0, ident),
                _ => {
                    resource.insert("identifier".into(), Json::Array(vec![ident]));
                }
            }
            request.insert("ifNoneExist".into(), format!("identifier={URN_SYSTEM}|{value}").into());
        }
        let mut entry = Map::new();
        entry.insert("fullUrl".into(), full_url.into());
        entry.insert("resource".into(), Json::Object(resource));
        entry.insert("request".into(), Json::Object(request));
        Ok(Some(Json::Object(entry)))
    }
}

/// The expression of a template extension on `node`, if any.
fn template_expr<'j>(node: &'j Json, url: &str) -> Option<&'j str> {
    extensions(node, url).first().and_then(|e| e.get("valueString").and_then(Json::as_str))
}

/// Remove our template extensions from an element's `extension` list (others stay).
fn strip_template_extensions(o: &mut Map<String, Json>) {
    if let Some(Json::Array(a)) = o.get_mut("extension") {
        a.retain(|e| !matches!(e.get("url").and_then(Json::as_str), Some(EXT_CONTEXT | EXT_VALUE | EXT_TEMPLATE)));
        if a.is_empty() {
            o.remove("extension");
        }
    }
}

type FillError = (String, String);

fn eval_at(expr: &str, ctx: &[Item], env: &Env, path: &str) -> Result<Vec<Item>, FillError> {
    let e = Expr::parse(expr).map_err(|e| (path.to_owned(), format!("{expr}: {e}")))?;
    e.evaluate(ctx, env).map_err(|e| (path.to_owned(), format!("{expr}: {e}")))
}

/// Fill one template element in `ctx`. `None`: the element is empty and is left out.
fn fill(node: &Json, ctx: &[Item], env: &Env, path: &str) -> Result<Option<Json>, FillError> {
    let Json::Object(obj) = node else { return Ok(Some(node.clone())) };
    let mut out = Map::new();
    // Primitive values with a `_name` companion holding templateExtractValue.
    let keys: Vec<&String> = obj.keys().collect();
    for key in keys {
        if key == "extension" {
            continue;
        }
        let child_path = format!("{path}.{}", key.trim_start_matches('_'));
        if let Some(base) = key.strip_prefix('_') {
            // Handled with its base key below unless the base is absent.
            if obj.contains_key(base) {
                continue;
            }
            primitive(obj, base, ctx, env, &child_path, &mut out)?;
            continue;
        }
        if obj.contains_key(&format!("_{key}")) {
            primitive(obj, key, ctx, env, &child_path, &mut out)?;
            continue;
        }
        let value = &obj[key.as_str()];
        match value {
            Json::Array(items) => {
                let mut filled = Vec::new();
                for it in items {
                    filled.extend(element(it, ctx, env, &child_path, true)?);
                }
                if !filled.is_empty() {
                    out.insert(key.clone(), Json::Array(filled));
                }
            }
            Json::Object(_) => {
                if let Some(v) = element(value, ctx, env, &child_path, false)?.into_iter().next() {
                    out.insert(key.clone(), v);
                }
            }
            other => {
                out.insert(key.clone(), other.clone());
            }
        }
    }
    // The element's own extensions, minus the template machinery.
    if let Some(ext) = obj.get("extension") {
        let mut tmp = Map::new();
        tmp.insert("extension".into(), ext.clone());
        strip_template_extensions(&mut tmp);
        if let Some(e) = tmp.remove("extension") {
            out.insert("extension".into(), e);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(Json::Object(out)))
}

/// A complex element (object) in a template: expanded per context result, replaced by a value
/// expression's result, or filled in place. Several results only where the element repeats.
fn element(node: &Json, ctx: &[Item], env: &Env, path: &str, repeats: bool) -> Result<Vec<Json>, FillError> {
    if let Some(expr) = template_expr(node, EXT_CONTEXT) {
        let results = eval_at(expr, ctx, env, path)?;
        let mut out = Vec::new();
        for r in results.iter().take(if repeats { usize::MAX } else { 1 }) {
            let mut copy = node.clone();
            if let Some(Json::Array(a)) = copy.as_object_mut().and_then(|o| o.get_mut("extension")) {
                a.retain(|e| e.get("url").and_then(Json::as_str) != Some(EXT_CONTEXT));
            }
            out.extend(element(&copy, std::slice::from_ref(r), env, path, false)?);
        }
        return Ok(out);
    }
    if let Some(expr) = template_expr(node, EXT_VALUE) {
        let results = eval_at(expr, ctx, env, path)?;
        return Ok(results.iter().take(if repeats { usize::MAX } else { 1 }).map(Item::to_json).filter(|j| !j.is_null()).collect());
    }
    Ok(fill(node, ctx, env, path)?.into_iter().collect())
}

/// `name` / `_name`: the value expression on `_name` replaces the template's value; with no
/// result the element is left out. Arrays of primitives (`given`, `_given`) take every result.
fn primitive(obj: &Map<String, Json>, base: &str, ctx: &[Item], env: &Env, path: &str, out: &mut Map<String, Json>) -> Result<(), FillError> {
    let meta = &obj[&format!("_{base}")];
    let template_value = obj.get(base);
    match meta {
        Json::Array(metas) => {
            let mut values = Vec::new();
            for (i, m) in metas.iter().enumerate() {
                match template_expr(m, EXT_VALUE) {
                    Some(expr) => values.extend(eval_at(expr, ctx, env, path)?.iter().map(Item::to_json)),
                    None => {
                        if let Some(v) = template_value.and_then(|t| t.get(i)).filter(|v| !v.is_null()) {
                            values.push(v.clone());
                        }
                    }
                }
            }
            values.retain(|v| !v.is_null() && !v.is_object());
            if !values.is_empty() {
                out.insert(base.into(), Json::Array(values));
            }
        }
        Json::Object(_) => match template_expr(meta, EXT_VALUE) {
            Some(expr) => {
                let v = eval_at(expr, ctx, env, path)?;
                if let Some(first) = v.first().map(Item::to_json).filter(|j| !j.is_null() && !j.is_object()) {
                    out.insert(base.into(), first);
                }
            }
            None => {
                if let Some(v) = template_value {
                    out.insert(base.into(), v.clone());
                }
                let mut m = meta.as_object().cloned().unwrap_or_default();
                strip_template_extensions(&mut m);
                if !m.is_empty() {
                    out.insert(format!("_{base}"), Json::Object(m));
                }
            }
        },
        _ => {
            if let Some(v) = template_value {
                out.insert(base.into(), v.clone());
            }
        }
    }
    Ok(())
}
