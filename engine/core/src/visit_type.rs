//! A visit type: a FHIR Questionnaire plus a manifest saying who it is for, which rules
//! branch it, what of the chart it shows for review, and what may be written back.
//!
//! The write-back policy is data, not code: for each resource type and change (add, change,
//! remove) and for each Patient element, the manifest says `auto` (goes into the transaction),
//! `review` (becomes a clinician review Task), or `never` (kept in the response only). Anything
//! the manifest does not mention is `review`: the safe default.
//!
//! The engine does no file I/O: the caller reads the manifest, then the files it names, and
//! hands their text in. Every problem is a [`Diagnostic`] naming file, line, column and item.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use intake_fhir::{Date, Json};

use crate::chart::Chart;
use crate::context::VisitContext;
use crate::json_locate::locate;
use crate::questionnaire::{Form, FormError, ItemId, ItemType};
use crate::rules::{RuleBook, RuleSource};

/// Our CodeSystem for a patient's review of an on-file entry.
pub const ON_FILE_REVIEW_SYSTEM: &str = "http://intake-engine.org/fhir/CodeSystem/on-file-review";
pub const REVIEW_CONFIRMED: &str = "confirmed";
pub const REVIEW_CHANGED: &str = "changed";
pub const REVIEW_NO_LONGER: &str = "no-longer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem in a visit type's files, located for the person who edits them.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub item: Option<String>,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {sev}: ")?;
        if let Some(item) = &self.item {
            write!(f, "item '{item}': ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl Diagnostic {
    /// A diagnostic at a JSON path inside a file's text.
    pub fn at_path(file: &str, text: &str, path: &str, item: Option<String>, severity: Severity, message: String) -> Self {
        let (line, column) = locate(text, path).map(|(l, c)| (Some(l), Some(c))).unwrap_or((None, None));
        Diagnostic { file: file.to_owned(), line, column, item, severity, message }
    }
}

/// What a change to the chart does at write-back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Written in the transaction Bundle.
    Auto,
    /// Sent to a clinician as a review Task; nothing written to the chart.
    #[default]
    Review,
    /// Kept in the QuestionnaireResponse only.
    Never,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "auto" => Action::Auto,
            "review" => Action::Review,
            "never" => Action::Never,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Action::Auto => "auto",
            Action::Review => "review",
            Action::Never => "never",
        }
    }
}

/// Kinds of change a patient can make to the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    Add,
    Change,
    Remove,
}

impl Change {
    pub fn code(self) -> &'static str {
        match self {
            Change::Add => "add",
            Change::Change => "change",
            Change::Remove => "remove",
        }
    }
}

/// The write-back policy of a visit type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Policy {
    /// `(resource type, change) -> action`.
    pub resources: BTreeMap<(String, Change), Action>,
    /// Patient element (`name`, `telecom`, `address`, `birthDate`, `gender`, `communication`) -> action.
    pub patient: BTreeMap<String, Action>,
}

impl Policy {
    pub fn for_resource(&self, resource_type: &str, change: Change) -> Action {
        self.resources.get(&(resource_type.to_owned(), change)).copied().unwrap_or_default()
    }

    pub fn for_patient(&self, element: &str) -> Action {
        self.patient.get(element).copied().unwrap_or_default()
    }
}

/// Which chart list an on-file group reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Allergies,
    Medications,
    Conditions,
}

impl ListKind {
    fn parse(s: &str) -> Option<ListKind> {
        Some(match s {
            "allergies" => ListKind::Allergies,
            "medications" => ListKind::Medications,
            "conditions" | "problems" => ListKind::Conditions,
            _ => return None,
        })
    }

    pub fn resource_type(self) -> &'static str {
        match self {
            ListKind::Allergies => "AllergyIntolerance",
            ListKind::Medications => "MedicationStatement",
            ListKind::Conditions => "Condition",
        }
    }
}

/// What an item inside an on-file group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListField {
    /// The allergy substance, the medication, or the condition.
    Code,
    Reaction,
    Severity,
    Criticality,
    Onset,
    Dosage,
    Note,
}

impl ListField {
    fn parse(s: &str) -> Option<ListField> {
        Some(match s {
            "code" | "medication" | "substance" => ListField::Code,
            "reaction" => ListField::Reaction,
            "severity" => ListField::Severity,
            "criticality" => ListField::Criticality,
            "onset" => ListField::Onset,
            "dosage" => ListField::Dosage,
            "note" => ListField::Note,
            _ => return None,
        })
    }
}

/// A repeating group that shows a chart list for confirm / change / no longer, plus additions.
#[derive(Debug, Clone, PartialEq)]
pub struct OnFileList {
    pub group: ItemId,
    pub kind: ListKind,
    pub fields: Vec<(ItemId, ListField)>,
    /// The confirm / change / no-longer question of each on-file row.
    pub status: Option<ItemId>,
    /// Why an entry is no longer true ("stopped because of a cough").
    pub reason: Option<ItemId>,
}

impl OnFileList {
    pub fn field(&self, f: ListField) -> Option<ItemId> {
        self.fields.iter().find(|(_, x)| *x == f).map(|(i, _)| *i)
    }
}

/// Patient elements an item can show and update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientField {
    GivenName,
    FamilyName,
    PreferredName,
    BirthDate,
    Gender,
    Phone,
    Email,
    AddressLine,
    City,
    State,
    PostalCode,
    Language,
}

impl PatientField {
    fn parse(s: &str) -> Option<PatientField> {
        Some(match s {
            "name.given" => PatientField::GivenName,
            "name.family" => PatientField::FamilyName,
            "name.preferred" => PatientField::PreferredName,
            "birthDate" => PatientField::BirthDate,
            "gender" => PatientField::Gender,
            "telecom.phone" => PatientField::Phone,
            "telecom.email" => PatientField::Email,
            "address.line" => PatientField::AddressLine,
            "address.city" => PatientField::City,
            "address.state" => PatientField::State,
            "address.postalCode" => PatientField::PostalCode,
            "communication.language" => PatientField::Language,
            _ => return None,
        })
    }

    /// The Patient element the policy is keyed by.
    pub fn element(self) -> &'static str {
        match self {
            PatientField::GivenName | PatientField::FamilyName | PatientField::PreferredName => "name",
            PatientField::BirthDate => "birthDate",
            PatientField::Gender => "gender",
            PatientField::Phone | PatientField::Email => "telecom",
            PatientField::AddressLine | PatientField::City | PatientField::State | PatientField::PostalCode => {
                "address"
            }
            PatientField::Language => "communication",
        }
    }

    fn expected_types(self) -> &'static [ItemType] {
        match self {
            PatientField::BirthDate => &[ItemType::Date],
            PatientField::Gender | PatientField::Language => &[ItemType::Choice, ItemType::OpenChoice],
            _ => &[ItemType::String, ItemType::Text],
        }
    }
}

/// Who a visit type is for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppliesTo {
    pub min_age_years: Option<i64>,
    pub max_age_years: Option<i64>,
    pub visit_reasons: Vec<String>,
    /// `Some(true)`: only a proxy answers (young children); `Some(false)`: only the patient.
    pub proxy: Option<bool>,
}

/// The manifest as read, before linkIds are resolved against the Questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub id: String,
    pub title: String,
    pub title_translations: Vec<(String, String)>,
    pub description: Option<String>,
    pub questionnaire: String,
    pub rules: Vec<String>,
    pub applies_to: AppliesTo,
    raw_patient_fields: Vec<(String, String)>,
    raw_lists: Vec<RawList>,
    pub policy: Policy,
    /// What the patient is told to do when a rule raises an urgent advisory, per language
    /// (`urgent_care.instruction`); the emergency number belongs here, not in code.
    pub urgent_instruction: Vec<(String, String)>,
    /// `urgent_care.flag`: an urgent advisory also writes a Flag on the patient's record.
    pub urgent_flag: bool,
    /// `respondent_relationship`: the question "how are you related to the patient?", answered
    /// from the host's context when a proxy's relationship is known (never asked twice).
    pub respondent_relationship: Option<String>,
    /// `"units": "metric"`: kg, cm and °C by default whatever the language (a clinic outside
    /// the US, or one that records metric); otherwise US units in US English.
    pub metric_units: bool,
}

/// The instruction shown with an urgent advisory when the manifest gives none (US numbers).
pub const DEFAULT_URGENT_INSTRUCTION: &[(&str, &str)] = &[
    ("en", "Call 911 or go to the nearest emergency department now. Do not wait for your appointment."),
    ("es", "Llame al 911 o vaya ahora mismo a la sala de emergencias más cercana. No espere a su cita."),
];

impl Manifest {
    /// The urgent-care instruction in a language (its base language, else English).
    pub fn urgent_instruction_in(&self, lang: &str) -> String {
        let base = lang.split('-').next().unwrap_or(lang);
        let pick = |list: &[(String, String)]| {
            list.iter().find(|(l, _)| l == lang || l == base).or_else(|| list.iter().find(|(l, _)| l == "en")).map(|(_, t)| t.clone())
        };
        let defaults: Vec<(String, String)> =
            DEFAULT_URGENT_INSTRUCTION.iter().map(|(l, t)| ((*l).to_owned(), (*t).to_owned())).collect();
        pick(&self.urgent_instruction).or_else(|| pick(&defaults)).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct RawList {
    group: String,
    kind: String,
    fields: Vec<(String, String)>,
    status: Option<String>,
    reason: Option<String>,
}

/// Why a path from a manifest could leave its folder, if it could.
fn unsafe_relative_path(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some("is empty");
    }
    if p.starts_with('/') || p.starts_with('\\') || p.contains(':') {
        return Some("is an absolute path");
    }
    if p.split(['/', '\\']).any(|part| part == ".." ) {
        return Some("goes up out of its folder ('..')");
    }
    if p.chars().any(char::is_control) {
        return Some("contains control characters");
    }
    None
}

impl Manifest {
    /// Read a manifest; `file` names it in diagnostics.
    pub fn from_text(file: &str, text: &str) -> Result<Manifest, Diagnostic> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let json: Json = serde_json::from_str(text).map_err(|e| Diagnostic {
            file: file.to_owned(),
            line: Some(e.line()),
            column: Some(e.column()),
            item: None,
            severity: Severity::Error,
            message: format!("not valid JSON: {e}"),
        })?;
        let err = |path: &str, message: String| Diagnostic::at_path(file, text, path, None, Severity::Error, message);
        let obj = json.as_object().ok_or_else(|| err("", "a manifest is a JSON object".into()))?;
        for key in obj.keys() {
            if !MANIFEST_FIELDS.contains(&key.as_str()) && key != "$comment" && key != "$schema" {
                return Err(err(key, format!("unknown manifest field '{key}'{}", crate::suggest::hint(key, MANIFEST_FIELDS))));
            }
        }
        let string = |key: &str| -> Result<String, Diagnostic> {
            obj.get(key)
                .and_then(Json::as_str)
                .map(str::to_owned)
                .ok_or_else(|| err(key, format!("'{key}' is required and must be a string")))
        };
        let string_map = |path: &str, v: Option<&Json>| -> Result<Vec<(String, String)>, Diagnostic> {
            let Some(v) = v else { return Ok(Vec::new()) };
            let m = v.as_object().ok_or_else(|| err(path, format!("'{path}' must be an object")))?;
            m.iter()
                .map(|(k, v)| {
                    let s = v.as_str().ok_or_else(|| err(&format!("{path}.{k}"), "expected a string".into()))?;
                    Ok((k.clone(), s.to_owned()))
                })
                .collect()
        };
        let string_list = |path: &str, v: Option<&Json>| -> Result<Vec<String>, Diagnostic> {
            let Some(v) = v else { return Ok(Vec::new()) };
            let a = v.as_array().ok_or_else(|| err(path, format!("'{path}' must be an array of strings")))?;
            a.iter()
                .enumerate()
                .map(|(i, s)| {
                    s.as_str().map(str::to_owned).ok_or_else(|| err(&format!("{path}[{i}]"), "expected a string".into()))
                })
                .collect()
        };

        let id = string("id")?;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(err("id", format!("id '{id}' must be letters, digits and '-' (it is used in URLs)")));
        }
        let mut applies_to = AppliesTo::default();
        if let Some(a) = obj.get("applies_to") {
            let a = a.as_object().ok_or_else(|| err("applies_to", "'applies_to' must be an object".into()))?;
            for (k, v) in a {
                let path = format!("applies_to.{k}");
                match k.as_str() {
                    "min_age_years" => {
                        applies_to.min_age_years = Some(v.as_i64().ok_or_else(|| err(&path, "expected an integer".into()))?)
                    }
                    "max_age_years" => {
                        applies_to.max_age_years = Some(v.as_i64().ok_or_else(|| err(&path, "expected an integer".into()))?)
                    }
                    "visit_reasons" => applies_to.visit_reasons = string_list(&path, Some(v))?,
                    "respondent" => {
                        applies_to.proxy = match v.as_str() {
                            Some("proxy") => Some(true),
                            Some("patient") => Some(false),
                            Some("either") => None,
                            _ => return Err(err(&path, "expected \"patient\", \"proxy\" or \"either\"".into())),
                        }
                    }
                    other => {
                        let hint = crate::suggest::hint(other, ["min_age_years", "max_age_years", "visit_reasons", "respondent"]);
                        return Err(err(&path, format!("unknown field '{other}'{hint} (applies_to has: min_age_years, max_age_years, visit_reasons, respondent)")));
                    }
                }
            }
        }
        let mut raw_lists = Vec::new();
        if let Some(l) = obj.get("on_file_lists") {
            let l = l.as_object().ok_or_else(|| err("on_file_lists", "'on_file_lists' must be an object".into()))?;
            for (group, spec) in l {
                let path = format!("on_file_lists.{group}");
                let s = spec.as_object().ok_or_else(|| err(&path, "expected an object".into()))?;
                raw_lists.push(RawList {
                    group: group.clone(),
                    kind: s
                        .get("kind")
                        .and_then(Json::as_str)
                        .ok_or_else(|| err(&path, "'kind' is required: allergies, medications or conditions".into()))?
                        .to_owned(),
                    fields: string_map(&format!("{path}.fields"), s.get("fields"))?,
                    status: s.get("status").and_then(Json::as_str).map(str::to_owned),
                    reason: s.get("reason").and_then(Json::as_str).map(str::to_owned),
                });
            }
        }
        let mut policy = Policy::default();
        if let Some(w) = obj.get("write_back") {
            let w = w.as_object().ok_or_else(|| err("write_back", "'write_back' must be an object".into()))?;
            for (rt, spec) in w {
                let path = format!("write_back.{rt}");
                let s = spec.as_object().ok_or_else(|| err(&path, "expected an object".into()))?;
                for (k, v) in s {
                    let kpath = format!("{path}.{k}");
                    let action = v.as_str().and_then(Action::parse).ok_or_else(|| {
                        err(&kpath, "expected \"auto\", \"review\" or \"never\"".into())
                    })?;
                    if rt == "Patient" {
                        if !matches!(k.as_str(), "name" | "telecom" | "address" | "birthDate" | "gender" | "communication") {
                            return Err(err(&kpath, format!("Patient element '{k}' is not one intake updates")));
                        }
                        policy.patient.insert(k.clone(), action);
                    } else {
                        let change = match k.as_str() {
                            "add" => Change::Add,
                            "change" => Change::Change,
                            "remove" => Change::Remove,
                            other => return Err(err(&kpath, format!("unknown change '{other}' (add, change, remove)"))),
                        };
                        if !matches!(
                            rt.as_str(),
                            "AllergyIntolerance" | "MedicationStatement" | "Condition" | "Observation"
                        ) {
                            return Err(err(&path, format!("intake does not write {rt} resources")));
                        }
                        policy.resources.insert((rt.clone(), change), action);
                    }
                }
            }
        }
        // Files a manifest names stay inside its project: `../../x` or an absolute path would let
        // `intake catalog` publish any file on the machine beside the visit type.
        let questionnaire = string("questionnaire")?;
        if let Some(why) = unsafe_relative_path(&questionnaire) {
            return Err(err("questionnaire", format!("'{questionnaire}' {why}; name a file inside the visit type's folder")));
        }
        let rules = string_list("rules", obj.get("rules"))?;
        for (i, r) in rules.iter().enumerate() {
            if let Some(why) = unsafe_relative_path(r) {
                return Err(err(&format!("rules[{i}]"), format!("'{r}' {why}; name a file inside rules/")));
            }
        }
        let mut urgent_flag = false;
        let urgent_instruction = match obj.get("urgent_care") {
            None => Vec::new(),
            Some(Json::Object(u)) => {
                for k in u.keys() {
                    if k != "instruction" && k != "flag" {
                        return Err(err(&format!("urgent_care.{k}"), format!("unknown field '{k}' (urgent_care has: instruction, flag)")));
                    }
                }
                if let Some(f) = u.get("flag") {
                    urgent_flag = f.as_bool().ok_or_else(|| err("urgent_care.flag", "expected true or false".into()))?;
                }
                string_map("urgent_care.instruction", u.get("instruction"))?
            }
            Some(_) => return Err(err("urgent_care", "'urgent_care' must be an object: { \"instruction\": { \"en\": \"...\" } }".into())),
        };
        let respondent_relationship = match obj.get("respondent_relationship") {
            None => None,
            Some(Json::String(l)) => Some(l.clone()),
            Some(_) => return Err(err("respondent_relationship", "expected the linkId of the relationship question".into())),
        };
        let metric_units = match obj.get("units").map(|u| u.as_str()) {
            None => false,
            Some(Some("metric")) => true,
            Some(Some("us")) => false,
            Some(_) => return Err(err("units", "expected \"metric\" or \"us\"".into())),
        };
        Ok(Manifest {
            urgent_instruction,
            urgent_flag,
            respondent_relationship,
            metric_units,
            id,
            title: string("title")?,
            title_translations: string_map("title_translations", obj.get("title_translations"))?,
            description: obj.get("description").and_then(Json::as_str).map(str::to_owned),
            questionnaire,
            rules,
            applies_to,
            raw_patient_fields: string_map("patient_fields", obj.get("patient_fields"))?,
            raw_lists,
            policy,
        })
    }

    pub fn title_in(&self, lang: &str) -> &str {
        let base = lang.split('-').next().unwrap_or(lang);
        self.title_translations.iter().find(|(l, _)| l == lang || l == base).map(|(_, t)| t.as_str()).unwrap_or(&self.title)
    }
}

/// The fields a manifest may have (`$comment` and `$schema` are allowed besides).
const MANIFEST_FIELDS: [&str; 13] = [
    "id",
    "title",
    "title_translations",
    "description",
    "questionnaire",
    "rules",
    "applies_to",
    "patient_fields",
    "on_file_lists",
    "write_back",
    "urgent_care",
    "respondent_relationship",
    "units",
];

/// The text of every file of a visit type, with the names used in messages.
#[derive(Debug, Clone)]
pub struct VisitTypeSource {
    pub manifest_file: String,
    pub manifest_text: String,
    pub questionnaire_file: String,
    pub questionnaire_text: String,
    /// The scripts the manifest lists, in its order.
    pub rules: Vec<RuleSource>,
    /// ValueSets the form's `answerValueSet`s may name: the host's first, then the visit
    /// type's own `valuesets/*.json` (see `value_set`).
    pub value_sets: crate::value_set::ValueSetLibrary,
}

/// A loaded visit type: compiled once, shared by every session.
#[derive(Debug)]
pub struct VisitType {
    pub manifest: Manifest,
    pub form: Rc<Form>,
    pub rules: RuleBook,
    pub lists: Vec<OnFileList>,
    pub patient_fields: Vec<(ItemId, PatientField)>,
    /// The relationship question answered from the host's context (see the manifest field).
    pub respondent_relationship: Option<ItemId>,
    /// `gated[item]`: some rule may ask this item, so it is hidden until one does.
    pub gated: Vec<bool>,
    pub warnings: Vec<Diagnostic>,
}

impl VisitType {
    /// Load and check a visit type. Any error is returned as a located diagnostic.
    pub fn load(src: &VisitTypeSource) -> Result<VisitType, Vec<Diagnostic>> {
        let manifest = Manifest::from_text(&src.manifest_file, &src.manifest_text).map_err(|d| vec![d])?;
        let form = Form::from_text_with(&src.questionnaire_text, &src.value_sets)
            .map_err(|e| vec![form_diagnostic(&src.questionnaire_file, &src.questionnaire_text, &e)])?;
        Self::assemble(manifest, form, src)
    }

    /// Load a visit type around an already-parsed form (vendors passing a Questionnaire object).
    pub fn assemble(manifest: Manifest, form: Form, src: &VisitTypeSource) -> Result<VisitType, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let by_path: std::collections::HashMap<&str, &str> =
            if form.warnings.is_empty() { Default::default() } else { form.items.iter().map(|i| (i.path.as_str(), i.link_id.as_str())).collect() };
        let mut warnings: Vec<Diagnostic> = form
            .warnings
            .iter()
            .map(|w| {
                let item = item_at_path(&by_path, &w.path);
                Diagnostic::at_path(
                    &src.questionnaire_file,
                    &src.questionnaire_text,
                    &w.path,
                    item,
                    Severity::Warning,
                    w.message.clone(),
                )
            })
            .collect();
        let mf = &src.manifest_file;
        let mt = &src.manifest_text;
        let lookup = |path: &str, link_id: &str, errors: &mut Vec<Diagnostic>| -> Option<ItemId> {
            let found = form.find(link_id);
            if found.is_none() {
                errors.push(Diagnostic::at_path(
                    mf,
                    mt,
                    path,
                    Some(link_id.to_owned()),
                    Severity::Error,
                    format!(
                        "no item with linkId '{link_id}' in {}{}",
                        src.questionnaire_file,
                        crate::suggest::hint(link_id, form.items.iter().map(|d| d.link_id.as_str()))
                    ),
                ));
            }
            found
        };

        let respondent_relationship = manifest
            .respondent_relationship
            .clone()
            .and_then(|l| lookup("respondent_relationship", &l, &mut errors));
        let mut patient_fields = Vec::new();
        for (link_id, field) in &manifest.raw_patient_fields {
            let path = format!("patient_fields.{link_id}");
            let Some(f) = PatientField::parse(field) else {
                errors.push(Diagnostic::at_path(mf, mt, &path, Some(link_id.clone()), Severity::Error, format!(
                    "unknown patient field '{field}'{} (name.given, name.family, name.preferred, birthDate, gender, telecom.phone, telecom.email, address.line, address.city, address.state, address.postalCode, communication.language)",
                    crate::suggest::hint(field, ["name.given", "name.family", "name.preferred", "birthDate", "gender", "telecom.phone", "telecom.email", "address.line", "address.city", "address.state", "address.postalCode", "communication.language"])
                )));
                continue;
            };
            let Some(item) = lookup(&path, link_id, &mut errors) else { continue };
            let t = form.item(item).item_type;
            if !f.expected_types().contains(&t) {
                errors.push(Diagnostic::at_path(mf, mt, &path, Some(link_id.clone()), Severity::Error, format!(
                    "'{field}' needs an item of type {}, but the item is {}",
                    f.expected_types().iter().map(|t| t.code()).collect::<Vec<_>>().join(" or "),
                    t.code()
                )));
                continue;
            }
            patient_fields.push((item, f));
        }

        let mut lists = Vec::new();
        for raw in &manifest.raw_lists {
            let path = format!("on_file_lists.{}", raw.group);
            let Some(kind) = ListKind::parse(&raw.kind) else {
                errors.push(Diagnostic::at_path(mf, mt, &format!("{path}.kind"), None, Severity::Error, format!(
                    "unknown list kind '{}'{} (allergies, medications, conditions)",
                    raw.kind,
                    crate::suggest::hint(&raw.kind, ["allergies", "medications", "conditions"])
                )));
                continue;
            };
            let Some(group) = lookup(&path, &raw.group, &mut errors) else { continue };
            if !form.item(group).is_repeating_group() {
                errors.push(Diagnostic::at_path(mf, mt, &path, Some(raw.group.clone()), Severity::Error,
                    "an on-file list must be a repeating group (one row per entry)".into()));
                continue;
            }
            let in_group = |item: ItemId| form.item(item).parent == Some(group);
            let mut fields = Vec::new();
            for (link_id, f) in &raw.fields {
                let fpath = format!("{path}.fields.{link_id}");
                let Some(field) = ListField::parse(f) else {
                    errors.push(Diagnostic::at_path(mf, mt, &fpath, Some(link_id.clone()), Severity::Error,
                        format!("unknown list field '{f}'{} (code, reaction, severity, criticality, onset, dosage, note)",
                            crate::suggest::hint(f, ["code", "reaction", "severity", "criticality", "onset", "dosage", "note"]))));
                    continue;
                };
                let Some(item) = lookup(&fpath, link_id, &mut errors) else { continue };
                if !in_group(item) {
                    errors.push(Diagnostic::at_path(mf, mt, &fpath, Some(link_id.clone()), Severity::Error,
                        format!("must be a direct child of the group '{}'", raw.group)));
                    continue;
                }
                fields.push((item, field));
            }
            if !fields.iter().any(|(_, f)| *f == ListField::Code) {
                errors.push(Diagnostic::at_path(mf, mt, &format!("{path}.fields"), Some(raw.group.clone()), Severity::Error,
                    "a list needs one field of role 'code' (the substance, medication or condition)".into()));
            }
            let item_of = |key: &str, v: &Option<String>, errors: &mut Vec<Diagnostic>| -> Option<ItemId> {
                let link_id = v.as_ref()?;
                let p = format!("{path}.{key}");
                let item = lookup(&p, link_id, errors)?;
                if !in_group(item) {
                    errors.push(Diagnostic::at_path(mf, mt, &p, Some(link_id.clone()), Severity::Error,
                        format!("must be a direct child of the group '{}'", raw.group)));
                    return None;
                }
                Some(item)
            };
            let status = item_of("status", &raw.status, &mut errors);
            let reason = item_of("reason", &raw.reason, &mut errors);
            if let Some(s) = status {
                let def = form.item(s);
                let codes: Vec<&str> = def
                    .options
                    .iter()
                    .filter_map(|o| o.value.as_coding())
                    .filter(|c| c.system.as_deref() == Some(ON_FILE_REVIEW_SYSTEM))
                    .filter_map(|c| c.code.as_deref())
                    .collect();
                for need in [REVIEW_CONFIRMED, REVIEW_CHANGED, REVIEW_NO_LONGER] {
                    if !codes.contains(&need) {
                        errors.push(Diagnostic::at_path(mf, mt, &format!("{path}.status"), Some(def.link_id.clone()), Severity::Error,
                            format!("the status item needs an answerOption {ON_FILE_REVIEW_SYSTEM}#{need}")));
                    }
                }
            }
            lists.push(OnFileList { group, kind, fields, status, reason });
        }

        let rules = match RuleBook::compile_with(&form, &src.rules, &src.value_sets) {
            Ok((book, w)) => {
                for rw in w {
                    warnings.push(Diagnostic {
                        file: rw.file,
                        line: Some(rw.span.line),
                        column: Some(rw.span.column),
                        item: None,
                        severity: Severity::Warning,
                        message: rw.message,
                    });
                }
                Some(book)
            }
            Err(e) => {
                errors.push(Diagnostic {
                    file: e.file.clone(),
                    line: Some(e.span.line),
                    column: Some(e.span.column),
                    item: match &e.kind {
                        crate::rules::RuleErrorKind::UnknownLinkId { link_id, .. } => Some(link_id.clone()),
                        _ => None,
                    },
                    severity: Severity::Error,
                    message: e.to_string().splitn(2, ": ").nth(1).unwrap_or_default().to_owned(),
                });
                // Every syntax error in the file, not only the first: an author fixes them in
                // one pass instead of one `check` per typo.
                if let crate::rules::RuleErrorKind::Syntax(_) = &e.kind {
                    if let Some(r) = src.rules.iter().find(|r| r.name == e.file) {
                        for (line, column, message) in crate::rules::more_syntax_errors(&r.text, e.span.line) {
                            errors.push(Diagnostic {
                                file: e.file.clone(),
                                line: Some(line),
                                column: Some(column),
                                item: None,
                                severity: Severity::Error,
                                message: format!("syntax error: {message}"),
                            });
                        }
                    }
                }
                None
            }
        };
        let Some(rules) = rules.filter(|_| errors.is_empty()) else { return Err(errors) };
        let mut gated = vec![false; form.items.len()];
        for r in &rules.rules {
            for g in &r.gates {
                gated[g.index()] = true;
            }
        }
        warnings.extend(untranslated(&form, &rules, src));
        Ok(VisitType { manifest, form: Rc::new(form), rules, lists, patient_fields, respondent_relationship, gated, warnings })
    }

    /// A visit type for a bare Questionnaire from another tool: no rules, no on-file lists,
    /// nothing written back but the response (every policy is the default, review).
    pub fn from_form(form: Form, rules: &[RuleSource]) -> Result<VisitType, Vec<Diagnostic>> {
        let id: String = form
            .questionnaire
            .id
            .clone()
            .unwrap_or_else(|| "questionnaire".into())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
            .collect();
        let manifest = Manifest {
            id,
            title: form.title("en"),
            title_translations: Vec::new(),
            description: form.questionnaire.description.clone(),
            questionnaire: "questionnaire.json".into(),
            rules: rules.iter().map(|r| r.name.clone()).collect(),
            applies_to: AppliesTo::default(),
            raw_patient_fields: Vec::new(),
            raw_lists: Vec::new(),
            policy: Policy::default(),
            urgent_instruction: Vec::new(),
            urgent_flag: false,
            respondent_relationship: None,
            metric_units: false,
        };
        let src = VisitTypeSource {
            manifest_file: "(none)".into(),
            manifest_text: String::new(),
            questionnaire_file: "questionnaire".into(),
            questionnaire_text: String::new(),
            rules: rules.to_vec(),
            value_sets: Default::default(),
        };
        Self::assemble(manifest, form, &src)
    }

    /// The on-file list whose group is `group`.
    pub fn list_of_group(&self, group: ItemId) -> Option<&OnFileList> {
        self.lists.iter().find(|l| l.group == group)
    }

    /// Does this visit type fit this patient and visit? `Err` says why not.
    pub fn applies(&self, chart: &Chart, context: &VisitContext, today: &Date) -> Result<(), String> {
        let a = &self.manifest.applies_to;
        if let Some(age) = chart.age_years(today) {
            if let Some(min) = a.min_age_years.filter(|m| age < *m) {
                return Err(format!("for patients aged {min} and over; this patient is {age}"));
            }
            if let Some(max) = a.max_age_years.filter(|m| age > *m) {
                return Err(format!("for patients aged up to {max}; this patient is {age}"));
            }
        }
        if !a.visit_reasons.is_empty()
            && !context.reasons.is_empty()
            && !context.reasons.iter().any(|r| a.visit_reasons.contains(r))
        {
            return Err(format!("for visit reasons {}", a.visit_reasons.join(", ")));
        }
        match a.proxy {
            Some(true) if !context.is_proxy() => Err("answered by a parent or guardian".into()),
            Some(false) if context.is_proxy() => Err("answered by the patient themself".into()),
            _ => Ok(()),
        }
    }
}

/// A language the rules give reasons in, but the questions are not written in: a Spanish-
/// speaking patient would read Spanish reasons beside English questions. One warning per
/// language, naming how many items lack it and the first few.
fn untranslated(form: &Form, rules: &RuleBook, src: &VisitTypeSource) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for lang in rules.languages() {
        let missing: Vec<&crate::questionnaire::ItemDef> = form
            .items
            .iter()
            .map(|d| &**d)
            .filter(|d| !d.hidden)
            .filter(|d| d.text.as_ref().is_some_and(|t| !t.text.trim().is_empty() && !t.translations.iter().any(|(l, _)| l == &lang || l.split('-').next() == Some(lang.as_str()))))
            .collect();
        let Some(first) = missing.first() else { continue };
        let names: Vec<&str> = missing.iter().take(5).map(|d| d.link_id.as_str()).collect();
        out.push(Diagnostic::at_path(
            &src.questionnaire_file,
            &src.questionnaire_text,
            &format!("{}.text", first.path),
            Some(first.link_id.clone()),
            Severity::Warning,
            format!(
                "the rules give reasons in '{lang}', but {} item(s) have no '{lang}' text (translation extension): {}{}",
                missing.len(),
                names.join(", "),
                if missing.len() > names.len() { ", ..." } else { "" }
            ),
        ));
    }
    out
}

/// The linkId of the item a Questionnaire JSON path is inside, if any: the deepest item whose
/// path is the warning's path or an ancestor of it (`Questionnaire.item[3]` for
/// `Questionnaire.item[3].extension[0]`, not `Questionnaire.item[31]`'s).
///
/// Called once per form warning (MBS 715: 59 warnings, 808 items). The ancestors are looked
/// up by path, from the deepest: every item's path against every warning was 48,000
/// comparisons for that form.
fn item_at_path(by_path: &std::collections::HashMap<&str, &str>, path: &str) -> Option<String> {
    let mut p = path;
    loop {
        if let Some(link_id) = by_path.get(p) {
            return Some((*link_id).to_owned());
        }
        p = &p[..p.rfind('.')?];
    }
}

/// A Questionnaire load error as a located diagnostic.
pub fn form_diagnostic(file: &str, text: &str, e: &FormError) -> Diagnostic {
    let (path, item) = match e {
        FormError::Model(m) => {
            if let intake_fhir::ModelErrorKind::Syntax { line, column, .. } = m.kind {
                return Diagnostic {
                    file: file.into(),
                    line: Some(line),
                    column: Some(column),
                    item: None,
                    severity: Severity::Error,
                    message: e.to_string(),
                };
            }
            (m.path.to_string(), None)
        }
        FormError::MissingLinkId { path } => (path.clone(), None),
        FormError::AmbiguousLinkId { link_id, path, .. } => (format!("{path}.question"), Some(link_id.clone())),
        FormError::UnknownItemType { link_id, path, .. } => (format!("{path}.type"), Some(link_id.clone())),
        FormError::UnknownOperator { link_id, path, .. } => (format!("{path}.operator"), Some(link_id.clone())),
        FormError::EnableWhenUnknownQuestion { link_id, path, .. } => (format!("{path}.question"), Some(link_id.clone())),
        FormError::EnableWhenNoAnswer { link_id, path } => (path.clone(), Some(link_id.clone())),
        FormError::ExpressionsNotInThisBuild { path } => (path.clone(), None),
    };
    Diagnostic::at_path(file, text, &path, item, Severity::Error, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_names_the_deepest_item_its_path_is_inside() {
        let by_path: std::collections::HashMap<&str, &str> = [
            ("Questionnaire.item[3]", "three"),
            ("Questionnaire.item[31]", "thirty-one"),
            ("Questionnaire.item[3].item[0]", "three.zero"),
        ]
        .into_iter()
        .collect();
        let at = |p: &str| item_at_path(&by_path, p);
        assert_eq!(at("Questionnaire.item[3].item[0].extension(regex)").as_deref(), Some("three.zero"));
        assert_eq!(at("Questionnaire.item[3].maxLength").as_deref(), Some("three"));
        assert_eq!(at("Questionnaire.item[3]").as_deref(), Some("three"));
        // item[31] is not inside item[3]: prefixes are whole path steps.
        assert_eq!(at("Questionnaire.item[31].linkId").as_deref(), Some("thirty-one"));
        assert_eq!(at("Questionnaire.item[4].type"), None);
        assert_eq!(at("Questionnaire.contained[0].url"), None);
    }
}
