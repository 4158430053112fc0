//! The patient's current chart, read from a FHIR Bundle (searchset, collection, transaction).
//!
//! Identity first: a chart must name exactly one patient. Records merged into it
//! (`Patient.link` type `replaced-by`) count as the same person; any other second patient is
//! an error, because attaching answers to a guessed patient is the worst thing intake can do.
//! Resources that belong to someone else, or to no one, are skipped and listed in
//! [`Chart::notes`] rather than silently used.

use std::fmt;

use intake_fhir::{
    status_code, AllergyIntolerance, AnyResource, CodeableConcept, Coding, Condition, Cx, Date, DateTime, FromJson, Json,
    MedicationRequest, MedicationStatement, ModelError, Observation, Patient, Reference, RelatedPerson, Value,
};

/// A chart resource with the reference and version used to update it safely.
#[derive(Debug, Clone, PartialEq)]
pub struct OnFile<T> {
    /// `AllergyIntolerance/123`, or the entry's `urn:uuid:` when the resource has no id.
    pub reference: String,
    /// `meta.versionId`, used for `If-Match` so a late write never overwrites newer data.
    pub version: Option<String>,
    pub resource: T,
}

/// Where a current medication was recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum MedicationSource {
    Statement(MedicationStatement),
    Request(MedicationRequest),
}

/// A medication the chart says the patient currently takes.
#[derive(Debug, Clone, PartialEq)]
pub struct OnFileMedication {
    pub reference: String,
    pub version: Option<String>,
    pub concept: CodeableConcept,
    /// The ingredients its Medication lists (`Medication.ingredient.itemCodeableConcept`), so a
    /// rule's ingredient-level value set matches a product-coded medication. Not the product's
    /// own codes: an ingredient is not an alternative code for the product.
    pub ingredients: Vec<Coding>,
    pub dosage: Option<String>,
    pub source: MedicationSource,
}

/// Why an entry of the chart was not used (or not used in full).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartNote {
    pub entry: usize,
    pub message: String,
    /// The patient could not review this entry although it is part of their current record
    /// (a medication whose name cannot be read): the write-back asks a clinician to look.
    pub needs_review: bool,
}

/// Problems that make a chart unusable.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartError {
    Model(ModelError),
    NotABundle { found: Option<String> },
    NoPatient,
    /// The Patient has neither an id nor a fullUrl: nothing we write could name the patient.
    PatientWithoutIdentity { entry: usize },
    /// Several patients, not linked as merged records: we will not guess which one is meant.
    SeveralPatients { references: Vec<String> },
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChartError::Model(e) => write!(f, "chart: {e}"),
            ChartError::NotABundle { found: Some(t) } => {
                write!(f, "chart: expected a Bundle or a Patient, found resourceType \"{t}\"")
            }
            ChartError::NotABundle { found: None } => write!(f, "chart: expected a Bundle, but resourceType is missing"),
            ChartError::NoPatient => write!(f, "chart: the Bundle holds no Patient resource"),
            ChartError::PatientWithoutIdentity { entry } => write!(
                f,
                "chart: Bundle.entry[{entry}].resource is the Patient but has neither an id nor a fullUrl; \
                 nothing written back could name the patient, so the chart is refused"
            ),
            ChartError::SeveralPatients { references } => write!(
                f,
                "chart: the Bundle holds {} unlinked patients ({}); refusing to guess which one is the subject",
                references.len(),
                references.join(", ")
            ),
        }
    }
}

impl std::error::Error for ChartError {}

/// The patient's record as intake needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub patient: Patient,
    /// How to reference the patient in what we write: `Patient/123` or `urn:uuid:...`.
    pub patient_ref: String,
    /// Every reference that means this patient (ids, fullUrls, merged-away records).
    pub aliases: Vec<String>,
    /// Records merged into this patient.
    pub merged: Vec<Patient>,
    pub allergies: Vec<OnFile<AllergyIntolerance>>,
    pub medications: Vec<OnFileMedication>,
    pub conditions: Vec<OnFile<Condition>>,
    /// Observations, newest first.
    /// Boxed: a chart can hold 100,000 observations, sorted by date after reading, and an
    /// observation is over a kilobyte to move.
    pub observations: Vec<OnFile<Box<Observation>>>,
    pub related_persons: Vec<OnFile<RelatedPerson>>,
    pub notes: Vec<ChartNote>,
    /// The document the chart was read from, when kept ([`Chart::from_json_kept`]).
    pub source: Option<std::rc::Rc<Json>>,
    /// Observation positions by `code` and by `system|code`, newest first: a rule calling
    /// `latest_observation` in a loop over a chart of thousands of readings costs what matches,
    /// not the whole chart each time.
    observations_by_code: std::collections::HashMap<String, Vec<usize>>,
}

impl Chart {
    pub fn from_text(text: &str) -> Result<Chart, ChartError> {
        let json = intake_fhir::json::parse_text(text).map_err(ChartError::Model)?;
        Chart::from_json_kept(json)
    }

    /// [`Chart::from_json`], keeping the document (moved, not copied) so forms from other
    /// tools can search it (`x-fhir-query`, `sourceQueries`: see `fhir_query`).
    pub fn from_json_kept(json: Json) -> Result<Chart, ChartError> {
        let mut chart = Chart::from_json(&json)?;
        chart.source = Some(std::rc::Rc::new(json));
        Ok(chart)
    }

    /// Every resource of the chart's document with its `fullUrl`, for searches. Empty when the
    /// chart was read without keeping its document.
    pub fn resources(&self) -> Vec<(Option<&str>, &Json)> {
        let Some(doc) = self.source.as_deref() else { return Vec::new() };
        if doc.get("resourceType").and_then(Json::as_str) != Some("Bundle") {
            return vec![(None, doc)];
        }
        doc.get("entry")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e.get("fullUrl").and_then(Json::as_str), e.get("resource").filter(|r| r.is_object())?)))
            .collect()
    }

    /// Read a chart from a Bundle, or from a lone Patient resource (a chart with no history).
    pub fn from_json(json: &Json) -> Result<Chart, ChartError> {
        let rt = json.get("resourceType").and_then(Json::as_str);
        // The entries are read in place, not through a typed Bundle: that copied every resource
        // of the chart once more before reading it (a chart can hold 100,000 observations).
        let lone;
        let entries: &[Json] = match rt {
            Some("Bundle") => match json.get("entry") {
                None | Some(Json::Null) => &[],
                Some(Json::Array(a)) => a,
                Some(other) => {
                    let mut cx = Cx::new("Bundle");
                    return Err(ChartError::Model(cx.field("entry", |cx| cx.wrong_type("an array", other))));
                }
            },
            Some("Patient") => {
                lone = [serde_json::json!({ "resource": json.clone() })];
                &lone
            }
            other => return Err(ChartError::NotABundle { found: other.map(str::to_owned) }),
        };
        // Two passes over the entries, in place: first the patients and the Medications other
        // resources point to, then the clinical resources, each read and taken at once.
        // Resource types intake does not use (Encounter, Claim, ...: most of a Synthea chart)
        // are neither read nor copied.
        let mut patients: Vec<Typed> = Vec::new();
        let mut medications: Vec<MedicationEntry> = Vec::new();
        let mut clinical: Vec<(usize, Option<String>, &Json)> = Vec::new();
        let mut empty_entries = Vec::new();
        let mut cx = Cx::new("Bundle");
        for (i, entry) in entries.iter().enumerate() {
            let read = cx.field("entry", |cx| {
                cx.index(i, |cx| -> Result<Option<(Option<String>, &Json)>, ModelError> {
                    let Json::Object(e) = entry else { return Err(cx.wrong_type("an object", entry)) };
                    let full_url = match e.get("fullUrl") {
                        None | Some(Json::Null) => None,
                        Some(Json::String(u)) => Some(u.clone()),
                        Some(other) => return Err(cx.field("fullUrl", |cx| cx.wrong_type("a string", other))),
                    };
                    match e.get("resource") {
                        None | Some(Json::Null) => Ok(None),
                        Some(res @ Json::Object(_)) => Ok(Some((full_url, res))),
                        Some(other) => Err(cx.field("resource", |cx| cx.wrong_type("an object", other))),
                    }
                })
            });
            let Some((full_url, res)) = read.map_err(ChartError::Model)? else {
                empty_entries.push(i);
                continue;
            };
            match res.get("resourceType").and_then(Json::as_str) {
                Some("Patient") => {
                    patients.push((i, full_url, resource_at(&mut cx, i, res)?));
                }
                Some("Medication") => {
                    let mut keys = Vec::new();
                    if let Some(id) = res.get("id").and_then(Json::as_str) {
                        keys.push(format!("Medication/{id}"));
                    }
                    keys.extend(full_url);
                    medications.push((keys, medication_code(res), ingredient_codes(res)));
                }
                Some("AllergyIntolerance" | "MedicationStatement" | "MedicationRequest" | "Condition" | "Observation" | "RelatedPerson") => {
                    clinical.push((i, full_url, res));
                }
                _ => {}
            }
        }
        let (patient_idx, patient, aliases, merged) = choose_patient(&patients)?;
        let patient_ref = match (&patient.id, &patients[patient_idx].1) {
            (Some(id), _) => format!("Patient/{id}"),
            (None, Some(url)) => url.clone(),
            (None, None) => return Err(ChartError::PatientWithoutIdentity { entry: patients[patient_idx].0 }),
        };
        let mut chart = Chart { patient, patient_ref, aliases, merged, ..Chart::none() };
        for i in empty_entries {
            chart.notes.push(ChartNote { entry: i, message: "entry has no resource (only a reference or a search match?); not used".into(), needs_review: false });
        }
        for (i, full_url, res) in clinical {
            chart.take(i, full_url, resource_at(&mut cx, i, res)?, &medications);
        }
        // Newest first; undated observations last.
        intake_order::sort_by_key(&mut chart.observations, |o| {
            std::cmp::Reverse(observed_at(&o.resource).map(|t| t.epoch_millis()))
        });
        for (i, o) in chart.observations.iter().enumerate() {
            let Some(cc) = &o.resource.code else { continue };
            for c in &cc.coding {
                let Some(code) = c.code.as_deref() else { continue };
                let index = &mut chart.observations_by_code;
                index_at(index, code, i);
                if let Some(system) = c.system.as_deref() {
                    let mut key = String::with_capacity(system.len() + 1 + code.len());
                    key.push_str(system);
                    key.push('|');
                    key.push_str(code);
                    index_at(index, &key, i);
                }
            }
        }
        Ok(chart)
    }

    /// No chart: a bare form filled by someone the host has not identified (a self-referral,
    /// a research survey). Nothing is prefilled, the response has no subject, and there is no
    /// write-back (it needs a patient): see [`Chart::has_patient`].
    pub fn none() -> Chart {
        Chart {
            patient: Patient::default(),
            patient_ref: String::new(),
            aliases: Vec::new(),
            merged: Vec::new(),
            allergies: Vec::new(),
            medications: Vec::new(),
            conditions: Vec::new(),
            observations: Vec::new(),
            related_persons: Vec::new(),
            notes: Vec::new(),
            source: None,
            observations_by_code: std::collections::HashMap::new(),
        }
    }

    /// False for [`Chart::none`]: the form has no patient to name or to write back to.
    pub fn has_patient(&self) -> bool {
        !self.patient_ref.is_empty()
    }

    /// True if a reference points at this chart's patient.
    ///
    /// Whole references are compared, base URL included when the reference has one:
    /// `http://other.example/Patient/7` is not our `Patient/7`, and neither is `Group/Patient/7`.
    /// A version suffix (`/_history/2`) still names the same patient.
    pub fn is_patient(&self, r: &Option<Reference>) -> bool {
        let Some(reference) = r.as_ref().and_then(|r| r.reference.as_deref()) else { return false };
        self.is_patient_reference(reference)
    }

    /// [`Chart::is_patient`] for a reference string.
    pub fn is_patient_reference(&self, reference: &str) -> bool {
        let reference = without_history(reference);
        self.aliases.iter().any(|a| a == reference)
    }

    fn take(&mut self, entry: usize, full_url: Option<String>, r: AnyResource, medications: &[MedicationEntry]) {
        let (subject, kind) = match &r {
            AnyResource::AllergyIntolerance(a) => (&a.patient, "AllergyIntolerance"),
            AnyResource::MedicationStatement(m) => (&m.subject, "MedicationStatement"),
            AnyResource::MedicationRequest(m) => (&m.subject, "MedicationRequest"),
            AnyResource::Condition(c) => (&c.subject, "Condition"),
            AnyResource::Observation(o) => (&o.subject, "Observation"),
            AnyResource::RelatedPerson(p) => (&p.patient, "RelatedPerson"),
            _ => return,
        };
        if !self.is_patient(subject) {
            let whose = subject.as_ref().and_then(|s| s.reference.clone());
            self.notes.push(ChartNote {
                entry,
                message: match whose {
                    Some(w) => format!("{kind} belongs to {w}, not to {}; not used", self.patient_ref),
                    None => format!("{kind} names no patient; not used"),
                },
                needs_review: false,
            });
            return;
        }
        let reference = |id: &Option<String>| match id {
            Some(id) => format!("{kind}/{id}"),
            None => full_url.clone().unwrap_or_else(|| format!("{kind}/entry-{entry}")),
        };
        let version = |m: &Option<intake_fhir::Meta>| m.as_ref().and_then(|m| m.version_id.clone());
        match r {
            AnyResource::AllergyIntolerance(a) => {
                if allergy_is_current(&a) {
                    self.allergies.push(OnFile { reference: reference(&a.id), version: version(&a.meta), resource: a });
                }
            }
            AnyResource::Condition(c) => {
                if condition_is_current(&c) {
                    self.conditions.push(OnFile { reference: reference(&c.id), version: version(&c.meta), resource: c });
                } else if c.clinical_status.is_none() && status_code(&c.verification_status) != Some("entered-in-error") {
                    // Incomplete (R4 requires clinicalStatus here): current or not is unknown.
                    self.unknown_status(entry, &reference(&c.id), "clinicalStatus");
                }
            }
            AnyResource::MedicationStatement(m) if m.status.is_none() => self.unknown_status(entry, &reference(&m.id), "status"),
            AnyResource::MedicationRequest(m) if m.status.is_none() => self.unknown_status(entry, &reference(&m.id), "status"),
            AnyResource::Observation(o) if o.status.is_none() => self.notes.push(ChartNote {
                entry,
                message: format!("{} has no status (R4 requires one); not used", reference(&o.id)),
                needs_review: false,
            }),
            AnyResource::MedicationStatement(m) => {
                if matches!(m.status.as_deref(), Some("active") | Some("intended")) {
                    let reference = reference(&m.id);
                    let contained = m.extra.get("contained");
                    if let Some(concept) = self.medication_of(entry, &reference, &m.medication, contained, medications) {
                        let dosage = m.dosage.iter().find_map(|d| d.text.clone());
                        let ingredients = ingredients_of(&m.medication, contained, medications);
                        self.add_medication(OnFileMedication {
                            reference,
                            version: version(&m.meta),
                            concept,
                            ingredients,
                            dosage,
                            source: MedicationSource::Statement(m),
                        });
                    }
                }
            }
            AnyResource::MedicationRequest(m) => {
                let is_order = !matches!(m.intent.as_deref(), Some("proposal"));
                if m.status.as_deref() == Some("active") && is_order {
                    let reference = reference(&m.id);
                    let contained = m.extra.get("contained");
                    if let Some(concept) = self.medication_of(entry, &reference, &m.medication, contained, medications) {
                        let dosage = m.dosage_instruction.iter().find_map(|d| d.text.clone());
                        let ingredients = ingredients_of(&m.medication, contained, medications);
                        self.add_medication(OnFileMedication {
                            reference,
                            version: version(&m.meta),
                            concept,
                            ingredients,
                            dosage,
                            source: MedicationSource::Request(m),
                        });
                    }
                }
            }
            AnyResource::Observation(o) => {
                if matches!(o.status.as_deref(), Some("final") | Some("amended") | Some("corrected") | Some("preliminary")) {
                    self.observations.push(OnFile { reference: reference(&o.id), version: version(&o.meta), resource: Box::new(o) });
                }
            }
            AnyResource::RelatedPerson(p) => {
                self.related_persons.push(OnFile { reference: reference(&p.id), version: None, resource: p });
            }
            _ => {}
        }
    }

    /// A clinical entry without the status that says whether it is current: never shown as
    /// current, never silently dropped either; a clinician is asked to look at it.
    fn unknown_status(&mut self, entry: usize, reference: &str, element: &str) {
        self.notes.push(ChartNote {
            entry,
            message: format!("{reference} has no {element} (R4 requires it), so whether it is current is unknown; it was not shown to the patient, and a clinician is asked to review it"),
            needs_review: true,
        });
    }

    /// What a current medication is: its `medicationCodeableConcept`, or the Medication its
    /// `medicationReference` points to (contained `#id`, or elsewhere in the chart).
    ///
    /// A medication that cannot be named is never dropped silently: it is noted for the host,
    /// and the write-back asks a clinician to review it, since the patient could not.
    fn medication_of(
        &mut self,
        entry: usize,
        owner: &str,
        medication: &Option<Value>,
        contained: Option<&Json>,
        medications: &[MedicationEntry],
    ) -> Option<CodeableConcept> {
        let problem = match medication {
            Some(Value::CodeableConcept(c)) if !c.coding.is_empty() || c.text.is_some() => return Some(c.clone()),
            Some(Value::CodeableConcept(_)) => "its medicationCodeableConcept has neither a coding nor text".to_owned(),
            Some(Value::Reference(r)) => {
                let target = r.reference.as_deref().unwrap_or("");
                let found = if let Some(local) = target.strip_prefix('#') {
                    contained
                        .and_then(Json::as_array)
                        .into_iter()
                        .flatten()
                        .find(|c| {
                            c.get("resourceType").and_then(Json::as_str) == Some("Medication")
                                && c.get("id").and_then(Json::as_str) == Some(local)
                        })
                        .map(medication_code)
                } else if target.is_empty() {
                    None
                } else {
                    let target = without_history(target);
                    medications.iter().find(|(keys, _, _)| keys.iter().any(|k| k == target)).map(|(_, c, _)| c.clone())
                };
                match (found, r.display.as_deref()) {
                    (Some(Some(code)), _) => return Some(code),
                    (Some(None), Some(d)) | (None, Some(d)) if !d.trim().is_empty() => {
                        // Named, but not coded: shown by its name; a change goes to review
                        // (free text is never guessed into a code).
                        return Some(CodeableConcept::text(d));
                    }
                    (Some(None), _) => format!("the Medication {target} has no code"),
                    (None, _) if target.is_empty() => "its medicationReference has no reference".to_owned(),
                    (None, _) => format!("the Medication {target} it points to is not in the chart"),
                }
            }
            Some(_) => "its medication[x] is of an unexpected type".to_owned(),
            None => "it has no medication[x]".to_owned(),
        };
        self.notes.push(ChartNote {
            entry,
            message: format!("{owner} is a current medication, but {problem}; the patient cannot review it, so a clinician is asked to"),
            needs_review: true,
        });
        None
    }

    /// An active "no known allergy" record (SNOMED CT 716186003 and its drug, food,
    /// environmental and latex siblings), if the chart holds one.
    pub fn no_known_allergy(&self) -> Option<&OnFile<AllergyIntolerance>> {
        self.allergies.iter().find(|a| a.resource.code.as_ref().is_some_and(is_no_known_allergy))
    }

    /// Real allergies on the chart (not "no known allergy" records).
    pub fn real_allergies(&self) -> impl Iterator<Item = &OnFile<AllergyIntolerance>> {
        self.allergies.iter().filter(|a| !a.resource.code.as_ref().is_some_and(is_no_known_allergy))
    }

    /// Chart entries the patient could not review although they are current.
    pub fn unreviewable(&self) -> impl Iterator<Item = &ChartNote> {
        self.notes.iter().filter(|n| n.needs_review)
    }

    /// The same drug prescribed twice is one medication to review.
    fn add_medication(&mut self, med: OnFileMedication) {
        if self.medications.iter().any(|m| m.concept.same_concept(&med.concept)) {
            return;
        }
        self.medications.push(med);
    }

    /// Age in whole years on `today`, if the birth date is known.
    pub fn age_years(&self, today: &Date) -> Option<i64> {
        Some(self.patient.birth_date?.whole_years_until(today))
    }

    pub fn age_months(&self, today: &Date) -> Option<i64> {
        Some(self.patient.birth_date?.whole_months_until(today))
    }

    pub fn has_condition(&self, code: &str) -> bool {
        self.conditions.iter().any(|c| c.resource.code.as_ref().is_some_and(|cc| matches_code(cc, code)))
    }

    pub fn has_allergy(&self, code: &str) -> bool {
        self.allergies.iter().any(|a| a.resource.code.as_ref().is_some_and(|cc| matches_code(cc, code)))
    }

    pub fn takes_medication(&self, code: &str) -> bool {
        self.medications.iter().any(|m| matches_code(&m.concept, code))
    }

    /// The newest observation with a code, optionally no older than `within_days` before `now`.
    pub fn latest_observation(&self, code: &str, now: &DateTime, within_days: Option<f64>) -> Option<&OnFile<Box<Observation>>> {
        let positions = self.observations_by_code.get(code)?;
        positions.iter().map(|i| &self.observations[*i]).find(|o| match within_days {
            None => true,
            Some(days) => observed_at(&o.resource).is_some_and(|t| {
                let age_ms = now.epoch_millis() - t.epoch_millis();
                age_ms >= 0 && (age_ms as f64) <= days * 86_400_000.0
            }),
        })
    }
}

/// SNOMED CT "no known allergy" findings.
pub const NO_KNOWN_ALLERGY_CODES: &[&str] = &["716186003", "409137002", "429625007", "428607008", "1003774007"];

fn is_no_known_allergy(cc: &CodeableConcept) -> bool {
    NO_KNOWN_ALLERGY_CODES.iter().any(|c| cc.has_code("http://snomed.info/sct", c))
}

/// A reference without its version suffix (`Patient/7/_history/2` is `Patient/7`).
fn without_history(reference: &str) -> &str {
    match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    }
}

/// A Medication resource's `code`, read leniently (a malformed code is no code).
/// A Medication in the chart: the keys it is referenced by, its code, its ingredients' codes.
type MedicationEntry = (Vec<String>, Option<CodeableConcept>, Vec<Coding>);

/// `Medication.ingredient[].itemCodeableConcept` codings.
fn ingredient_codes(json: &Json) -> Vec<Coding> {
    json.get("ingredient")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("itemCodeableConcept"))
        .filter_map(|cc| CodeableConcept::from_json(cc, &mut Cx::new("Medication.ingredient")).ok())
        .flat_map(|cc| cc.coding)
        .collect()
}

/// The ingredients of the Medication a statement or request references (contained or in the
/// chart); none for an inline code.
fn ingredients_of(medication: &Option<Value>, contained: Option<&Json>, medications: &[MedicationEntry]) -> Vec<Coding> {
    let Some(Value::Reference(r)) = medication else { return Vec::new() };
    let target = r.reference.as_deref().unwrap_or("");
    if let Some(local) = target.strip_prefix('#') {
        return contained
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("resourceType").and_then(Json::as_str) == Some("Medication") && c.get("id").and_then(Json::as_str) == Some(local))
            .map(ingredient_codes)
            .unwrap_or_default();
    }
    let target = without_history(target);
    medications.iter().find(|(keys, _, _)| keys.iter().any(|k| k == target)).map(|(_, _, i)| i.clone()).unwrap_or_default()
}

fn medication_code(json: &Json) -> Option<CodeableConcept> {
    let code = json.get("code")?;
    let cc = CodeableConcept::from_json(code, &mut Cx::new("Medication.code")).ok()?;
    (!cc.coding.is_empty() || cc.text.is_some()).then_some(cc)
}

/// `code` may be a bare code (any system) or `system|code`.
pub fn matches_code(cc: &CodeableConcept, code: &str) -> bool {
    match code.split_once('|') {
        Some((system, code)) => cc.has_code(system, code),
        None => cc.has_code_any_system(code),
    }
}

/// When an observation was made: effectiveDateTime, the start of effectivePeriod, else issued.
pub fn observed_at(o: &Observation) -> Option<DateTime> {
    match &o.effective {
        Some(Value::DateTime(d)) => Some(*d),
        Some(Value::Period(p)) => p.start,
        Some(Value::Other { json, .. }) => json.as_str().and_then(DateTime::parse),
        _ => o.issued.as_deref().and_then(DateTime::parse),
    }
}

fn allergy_is_current(a: &AllergyIntolerance) -> bool {
    let clinical = status_code(&a.clinical_status);
    let verification = status_code(&a.verification_status);
    clinical.is_none_or(|c| c == "active") && !matches!(verification, Some("refuted") | Some("entered-in-error"))
}

fn condition_is_current(c: &Condition) -> bool {
    let clinical = status_code(&c.clinical_status);
    let verification = status_code(&c.verification_status);
    clinical.is_some_and(|s| matches!(s, "active" | "recurrence" | "relapse"))
        && !matches!(verification, Some("refuted") | Some("entered-in-error"))
}

type Typed = (usize, Option<String>, AnyResource);

/// Read entry `i`'s resource, its errors located at `Bundle.entry[i].resource`.
fn resource_at(cx: &mut Cx, i: usize, res: &Json) -> Result<AnyResource, ChartError> {
    cx.field("entry", |cx| cx.index(i, |cx| cx.field("resource", |cx| AnyResource::from_json(res, cx)))).map_err(ChartError::Model)
}

/// Pick the one patient the chart is about. Returns (index in `typed`, patient, aliases, merged).
fn choose_patient(typed: &[Typed]) -> Result<(usize, Patient, Vec<String>, Vec<Patient>), ChartError> {
    let patients: Vec<(usize, &Option<String>, &Patient)> = typed
        .iter()
        .enumerate()
        .filter_map(|(k, (_, url, r))| match r {
            AnyResource::Patient(p) => Some((k, url, p)),
            _ => None,
        })
        .collect();
    if patients.is_empty() {
        return Err(ChartError::NoPatient);
    }
    let refs_of = |url: &Option<String>, p: &Patient| {
        let mut v = Vec::new();
        if let Some(id) = &p.id {
            v.push(format!("Patient/{id}"));
        }
        if let Some(u) = url {
            v.push(u.clone());
        }
        v
    };
    // Records merged away point at their survivor with `replaced-by`.
    let survivors: Vec<&(usize, &Option<String>, &Patient)> = patients
        .iter()
        .filter(|(_, _, p)| !p.link.iter().any(|l| l.type_.as_deref() == Some("replaced-by")))
        .collect();
    let survivor = match survivors.as_slice() {
        [one] => *one,
        _ => {
            let references = patients.iter().flat_map(|(_, u, p)| refs_of(u, p).into_iter().take(1)).collect();
            return Err(ChartError::SeveralPatients { references });
        }
    };
    let (k, url, p) = *survivor;
    let mut aliases = refs_of(url, p);
    let mut merged = Vec::new();
    for (k2, url2, p2) in &patients {
        if *k2 == k {
            continue;
        }
        // Only records that say they were replaced by the survivor are the same person.
        let points_to_survivor = p2.link.iter().any(|l| {
            l.type_.as_deref() == Some("replaced-by")
                && l.other.as_ref().and_then(|o| o.reference.as_deref()).is_some_and(|r| {
                    let r = without_history(r);
                    aliases.iter().any(|a| r == a)
                })
        });
        if !points_to_survivor {
            let references = patients.iter().flat_map(|(_, u, p)| refs_of(u, p).into_iter().take(1)).collect();
            return Err(ChartError::SeveralPatients { references });
        }
        aliases.extend(refs_of(url2, p2));
        merged.push((*p2).clone());
    }
    Ok((k, p.clone(), aliases, merged))
}

/// Add observation `i` under `key` (once), allocating the key only the first time it is seen:
/// 100,000 readings of one code share one entry.
fn index_at(index: &mut std::collections::HashMap<String, Vec<usize>>, key: &str, i: usize) {
    let list = match index.get_mut(key) {
        Some(list) => list,
        None => index.entry(key.to_owned()).or_default(),
    };
    if list.last() != Some(&i) {
        list.push(i);
    }
}
