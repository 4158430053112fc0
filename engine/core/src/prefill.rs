//! Prefill: put what the chart already holds in front of the patient.
//!
//! - Patient fields named in the manifest (name, birth date, phone, address, ...).
//! - On-file lists: one row per current allergy, medication or problem, marked with the chart
//!   resource it shows, for the patient to confirm, change or mark "no longer".
//! - SDC observation-based population: an item with a `code` and an `observationLinkPeriod`
//!   gets the newest matching observation no older than the period.
//!
//! Prefilled values are remembered (`Node::prefilled`, `Node::on_file`) so the form can say
//! "on file" and write-back can send only what the patient changed.

use intake_fhir::{
    Address, AllergyIntolerance, CodeableConcept, Coding, Condition, ContactPoint, HumanName, Patient, Value,
};

use crate::answer::coerce;
use crate::chart::MedicationSource;
use crate::questionnaire::{ItemDef, ItemId, ItemType};
use crate::session::{NodeId, OnFileRow, Prefilled, Session};
use crate::visit_type::{ListField, ListKind, OnFileList, PatientField};

pub const ADMINISTRATIVE_GENDER: &str = "http://hl7.org/fhir/administrative-gender";
pub const REACTION_SEVERITY: &str = "http://hl7.org/fhir/reaction-event-severity";
pub const ALLERGY_CRITICALITY: &str = "http://hl7.org/fhir/allergy-intolerance-criticality";
pub const LANGUAGE: &str = "urn:ietf:bcp:47";

pub(crate) fn prefill(s: &mut Session) {
    let vt = s.vt.clone();
    let chart = s.facts.chart.clone();
    // The host already said who is answering: the relationship question starts answered (the
    // proxy sees it and may change it), instead of being asked again.
    if let (Some(item), crate::context::Respondent::Proxy(p)) = (vt.respondent_relationship, &s.facts.context.respondent) {
        let def = vt.form.item(item);
        let value = p.relationship.clone().map(Value::Coding).and_then(|v| fit(def, v));
        if let (Some(v), Some(&node)) = (value, s.by_item[item.index()].first()) {
            s.nodes[node.index()].prefilled = Some(Prefilled { source: "context.respondent.relationship".into(), values: vec![v.clone()] });
            s.nodes[node.index()].answers = vec![v];
        }
    }
    for &(item, field) in &vt.patient_fields {
        let def = vt.form.item(item);
        let values: Vec<Value> = patient_field_values(&chart.patient, field)
            .into_iter()
            .filter_map(|v| fit(def, v))
            .take(if def.repeats { usize::MAX } else { 1 })
            .collect();
        if let Some(&node) = s.by_item[item.index()].first() {
            let source = format!("Patient.{}", field.element());
            s.nodes[node.index()].prefilled = Some(Prefilled { source, values: values.clone() });
            s.nodes[node.index()].answers = values;
        }
    }
    for list in &vt.lists {
        let group_def = vt.form.item(list.group);
        let parent = match group_def.parent {
            Some(p) => match s.by_item[p.index()].first() {
                Some(&n) => Some(n),
                None => continue,
            },
            None => None,
        };
        let rows = list_rows(s, list);
        for row in rows {
            let node = s.new_row(list.group, parent);
            s.nodes[node.index()].on_file =
                Some(OnFileRow { kind: list.kind, reference: row.reference.clone(), summary: row.summary.clone() });
            for &(item, field) in &list.fields {
                let def = vt.form.item(item);
                let values: Vec<Value> = row
                    .fields
                    .iter()
                    .filter(|(f, _)| *f == field)
                    .filter_map(|(_, v)| fit(def, v.clone()))
                    .take(if def.repeats { usize::MAX } else { 1 })
                    .collect();
                if let Some(child) = child_of(s, node, item) {
                    s.nodes[child.index()].prefilled = Some(Prefilled { source: row.reference.clone(), values: values.clone() });
                    s.nodes[child.index()].answers = values;
                }
            }
        }
    }
    let now = s.facts.now;
    for def in vt.form.items.iter() {
        let (Some(days), false) = (def.observation_link_period_days, def.in_repeating_group) else { continue };
        let Some(&node) = s.by_item[def.id.index()].first() else { continue };
        let found = def.code.iter().find_map(|c| {
            let code = format!("{}|{}", c.system.as_deref().unwrap_or(""), c.code.as_deref()?);
            let code = if c.system.is_some() { code } else { c.code.clone()? };
            chart.latest_observation(&code, &now, Some(days))
        });
        if let Some(obs) = found {
            if let Some(v) = obs.resource.value.clone().and_then(|v| observation_value_for(def, v)) {
                s.nodes[node.index()].prefilled = Some(Prefilled { source: obs.reference.clone(), values: vec![v.clone()] });
                s.nodes[node.index()].answers = vec![v];
            }
        }
    }
}

/// The child of a row node for an item.
pub(crate) fn child_of(s: &Session, row: NodeId, item: ItemId) -> Option<NodeId> {
    s.nodes[row.index()].children.iter().copied().find(|c| s.nodes[c.index()].item == item)
}

/// Make a chart value fit an item: through the normal checks when it can, otherwise keep a
/// chart coding on a choice item (the chart may use codes outside the form's options) or show
/// its text on a text item.
pub(crate) fn fit(def: &ItemDef, v: Value) -> Option<Value> {
    if let Ok(ok) = coerce(def, v.clone()) {
        return Some(ok);
    }
    match (def.item_type, v) {
        (ItemType::Choice | ItemType::OpenChoice, c @ Value::Coding(_)) => Some(c),
        (ItemType::String | ItemType::Text, other) => Some(Value::String(other.display())),
        (ItemType::OpenChoice, Value::String(s)) => Some(Value::String(s)),
        _ => None,
    }
}

fn observation_value_for(def: &ItemDef, v: Value) -> Option<Value> {
    let v = match (def.item_type, v) {
        (ItemType::Decimal, Value::Quantity(q)) => Value::Decimal(q.value?),
        (ItemType::Integer, Value::Quantity(q)) => Value::Integer(q.value?.round() as i64),
        (ItemType::Choice | ItemType::OpenChoice, Value::CodeableConcept(cc)) => Value::Coding(cc.coding.first()?.clone()),
        (_, v) => v,
    };
    fit(def, v)
}

struct ChartRow {
    reference: String,
    summary: String,
    fields: Vec<(ListField, Value)>,
}

fn concept_value(cc: &CodeableConcept) -> Option<Value> {
    match cc.coding.iter().find(|c| c.code.is_some()) {
        Some(c) => {
            let mut c = c.clone();
            if c.display.is_none() {
                c.display = cc.text.clone();
            }
            Some(Value::Coding(c))
        }
        None => cc.text.clone().map(Value::String),
    }
}

fn onset_date(v: &Option<Value>) -> Option<Value> {
    match v {
        Some(Value::DateTime(d)) => Some(Value::Date(d.date)),
        Some(Value::Date(d)) => Some(Value::Date(*d)),
        Some(Value::Period(p)) => p.start.map(|d| Value::Date(d.date)),
        Some(Value::String(s)) => Some(Value::String(s.clone())),
        _ => None,
    }
}

fn list_rows(s: &Session, list: &OnFileList) -> Vec<ChartRow> {
    let chart = &s.facts.chart;
    // Names in the patient's words: the form's own options for these fields (with their
    // translations) name chart codes they share; see `plain_names`.
    let lang = s.context().language.clone();
    let options = |f: ListField| list.field(f).map(|i| s.form().item(i).options.clone()).unwrap_or_default();
    let (codes, reactions) = (options(ListField::Code), options(ListField::Reaction));
    let name = |cc: &CodeableConcept| crate::plain_names::for_patient(cc, &codes, &lang);
    let reaction = |cc: &CodeableConcept| crate::plain_names::for_patient(cc, &reactions, &lang);
    match list.kind {
        ListKind::Allergies => chart.allergies.iter().map(|a| allergy_row(&a.reference, &a.resource, &name, &reaction)).collect(),
        ListKind::Conditions => chart.conditions.iter().map(|c| condition_row(&c.reference, &c.resource, &name)).collect(),
        ListKind::Medications => chart
            .medications
            .iter()
            .map(|m| {
                let mut fields = Vec::new();
                if let Some(v) = concept_value(&m.concept) {
                    fields.push((ListField::Code, v));
                }
                if let Some(d) = &m.dosage {
                    fields.push((ListField::Dosage, Value::String(d.clone())));
                }
                let note = match &m.source {
                    MedicationSource::Statement(st) => st.note.first().and_then(|n| n.text.clone()),
                    MedicationSource::Request(_) => None,
                };
                if let Some(n) = note {
                    fields.push((ListField::Note, Value::String(n)));
                }
                let summary = match &m.dosage {
                    Some(d) => format!("{}: {d}", name(&m.concept)),
                    None => name(&m.concept),
                };
                ChartRow { reference: m.reference.clone(), summary, fields }
            })
            .collect(),
    }
}

fn allergy_row(
    reference: &str,
    a: &AllergyIntolerance,
    name: &dyn Fn(&CodeableConcept) -> String,
    reaction: &dyn Fn(&CodeableConcept) -> String,
) -> ChartRow {
    let mut fields = Vec::new();
    if let Some(v) = a.code.as_ref().and_then(concept_value) {
        fields.push((ListField::Code, v));
    }
    let mut reactions = Vec::new();
    for r in &a.reaction {
        for m in &r.manifestation {
            if let Some(v) = concept_value(m) {
                reactions.push(intake_text::lower(&reaction(m)));
                fields.push((ListField::Reaction, v));
            }
        }
    }
    if let Some(sev) = a.reaction.iter().find_map(|r| r.severity.clone()) {
        fields.push((ListField::Severity, Value::Coding(Coding::new(REACTION_SEVERITY, &sev, ""))));
    }
    if let Some(c) = &a.criticality {
        fields.push((ListField::Criticality, Value::Coding(Coding::new(ALLERGY_CRITICALITY, c, ""))));
    }
    if let Some(v) = onset_date(&a.onset) {
        fields.push((ListField::Onset, v));
    }
    if let Some(n) = a.note.first().and_then(|n| n.text.clone()) {
        fields.push((ListField::Note, Value::String(n)));
    }
    let name = a.code.as_ref().map(name).unwrap_or_else(|| "Allergy".into());
    let summary = if reactions.is_empty() { name } else { format!("{name} — {}", reactions.join(", ")) };
    ChartRow { reference: reference.to_owned(), summary, fields }
}

fn condition_row(reference: &str, c: &Condition, name: &dyn Fn(&CodeableConcept) -> String) -> ChartRow {
    let mut fields = Vec::new();
    if let Some(v) = c.code.as_ref().and_then(concept_value) {
        fields.push((ListField::Code, v));
    }
    if let Some(v) = onset_date(&c.onset) {
        fields.push((ListField::Onset, v));
    }
    if let Some(n) = c.note.first().and_then(|n| n.text.clone()) {
        fields.push((ListField::Note, Value::String(n)));
    }
    let summary = c.code.as_ref().map(name).unwrap_or_else(|| "Condition".into());
    ChartRow { reference: reference.to_owned(), summary, fields }
}

/// The patient's current name of a kind: official (legal) first, else usual, else any current.
pub fn current_name(p: &Patient, preferred: bool) -> Option<&HumanName> {
    let current = |n: &&HumanName| n.period.as_ref().and_then(|p| p.end.as_ref()).is_none() && n.use_.as_deref() != Some("old");
    if preferred {
        return p
            .name
            .iter()
            .filter(current)
            .find(|n| matches!(n.use_.as_deref(), Some("nickname")))
            .or_else(|| p.name.iter().filter(current).find(|n| n.use_.as_deref() == Some("usual")));
    }
    p.name
        .iter()
        .filter(current)
        .find(|n| n.use_.as_deref() == Some("official"))
        .or_else(|| p.name.iter().filter(current).find(|n| !matches!(n.use_.as_deref(), Some("nickname") | Some("maiden"))))
}

fn current_telecom<'a>(p: &'a Patient, system: &str) -> Option<&'a ContactPoint> {
    let mut candidates: Vec<&ContactPoint> = p
        .telecom
        .iter()
        .filter(|t| t.system.as_deref() == Some(system) && t.period.as_ref().and_then(|p| p.end.as_ref()).is_none())
        .filter(|t| t.use_.as_deref() != Some("old"))
        .collect();
    intake_order::sort_by_key(&mut candidates, |t| (t.rank.unwrap_or(i64::MAX), if t.use_.as_deref() == Some("mobile") { 0 } else { 1 }));
    candidates.first().copied()
}

/// The current home address (or the first current one).
pub fn current_address(p: &Patient) -> Option<&Address> {
    let current = |a: &&Address| a.period.as_ref().and_then(|p| p.end.as_ref()).is_none() && a.use_.as_deref() != Some("old");
    p.address.iter().filter(current).find(|a| a.use_.as_deref() == Some("home")).or_else(|| p.address.iter().find(current))
}

/// What the chart holds for a patient field, as answer values.
pub fn patient_field_values(p: &Patient, field: PatientField) -> Vec<Value> {
    let s = |x: Option<String>| x.filter(|t| !t.is_empty()).map(Value::String).into_iter().collect::<Vec<_>>();
    match field {
        PatientField::GivenName => s(current_name(p, false).map(|n| n.given.join(" "))),
        PatientField::FamilyName => s(current_name(p, false).and_then(|n| n.family.clone())),
        PatientField::PreferredName => s(current_name(p, true).map(|n| n.given.join(" "))),
        PatientField::BirthDate => p.birth_date.map(Value::Date).into_iter().collect(),
        PatientField::Gender => p
            .gender
            .as_deref()
            .map(|g| Value::Coding(Coding::new(ADMINISTRATIVE_GENDER, g, "")))
            .into_iter()
            .collect(),
        PatientField::Phone => s(current_telecom(p, "phone").and_then(|t| t.value.clone())),
        PatientField::Email => s(current_telecom(p, "email").and_then(|t| t.value.clone())),
        PatientField::AddressLine => s(current_address(p).map(|a| a.line.join(", "))),
        PatientField::City => s(current_address(p).and_then(|a| a.city.clone())),
        PatientField::State => s(current_address(p).and_then(|a| a.state.clone())),
        PatientField::PostalCode => s(current_address(p).and_then(|a| a.postal_code.clone())),
        PatientField::Language => p
            .communication
            .iter()
            .find(|c| c.preferred == Some(true))
            .or(p.communication.first())
            .and_then(|c| c.language.as_ref())
            .and_then(|l| l.coding.first().cloned())
            .map(Value::Coding)
            .into_iter()
            .collect(),
    }
}
