//! FHIR R4 complex datatypes the engine reads and writes.

use std::borrow::Cow;

use crate::fhir_element;
use crate::json::{decimal_json, Choice, Cx, FromJson, Json, JsonRef, ModelError};
use crate::temporal::{Date, DateTime, Time};

fhir_element! {
    /// A code from a code system (SNOMED CT, LOINC, RxNorm, UCUM, ...).
    pub struct Coding {
        system: opt String = "system",
        version: opt String = "version",
        code: opt String = "code",
        display: opt String = "display",
        user_selected: opt bool = "userSelected",
    }
}

impl Coding {
    pub fn new(system: &str, code: &str, display: &str) -> Self {
        Coding {
            system: Some(system.to_owned()),
            code: Some(code.to_owned()),
            display: (!display.is_empty()).then(|| display.to_owned()),
            ..Default::default()
        }
    }

    /// Same concept: same system and code (display text does not matter).
    pub fn same_concept(&self, other: &Coding) -> bool {
        self.code.is_some() && self.code == other.code && self.system == other.system
    }

    /// `system|code`, the FHIR search token form.
    pub fn token(&self) -> String {
        format!("{}|{}", self.system.as_deref().unwrap_or(""), self.code.as_deref().unwrap_or(""))
    }
}

fhir_element! {
    /// A concept as codings plus the text the person saw or said.
    pub struct CodeableConcept {
        coding: vec Coding = "coding",
        text: opt String = "text",
    }
}

impl CodeableConcept {
    pub fn from_coding(c: Coding) -> Self {
        CodeableConcept { coding: vec![c], ..Default::default() }
    }

    pub fn text(text: &str) -> Self {
        CodeableConcept { text: Some(text.to_owned()), ..Default::default() }
    }

    /// True when any coding has this system and code.
    pub fn has_code(&self, system: &str, code: &str) -> bool {
        self.coding
            .iter()
            .any(|c| c.code.as_deref() == Some(code) && c.system.as_deref() == Some(system))
    }

    /// True when any coding has this code, whatever its system.
    pub fn has_code_any_system(&self, code: &str) -> bool {
        self.coding.iter().any(|c| c.code.as_deref() == Some(code))
    }

    /// True when any coding of one is the same concept as any coding of the other.
    pub fn same_concept(&self, other: &CodeableConcept) -> bool {
        self.coding.iter().any(|a| other.coding.iter().any(|b| a.same_concept(b)))
    }

    /// Human text: `text`, else the first coding's display, else its code.
    pub fn label(&self) -> String {
        if let Some(t) = &self.text {
            return t.clone();
        }
        for c in &self.coding {
            if let Some(d) = &c.display {
                return d.clone();
            }
        }
        self.coding.iter().find_map(|c| c.code.clone()).unwrap_or_default()
    }

    /// The first coding's code, if any.
    pub fn first_code(&self) -> Option<&str> {
        self.coding.iter().find_map(|c| c.code.as_deref())
    }
}

fhir_element! {
    /// A measured amount, with UCUM unit code where known.
    pub struct Quantity {
        value: opt f64 = "value",
        comparator: opt String = "comparator",
        unit: opt String = "unit",
        system: opt String = "system",
        code: opt String = "code",
    }
}

pub const UCUM: &str = "http://unitsofmeasure.org";

impl Quantity {
    pub fn ucum(value: f64, code: &str, unit: &str) -> Self {
        Quantity {
            value: Some(value),
            unit: Some(unit.to_owned()),
            system: Some(UCUM.to_owned()),
            code: Some(code.to_owned()),
            ..Default::default()
        }
    }

    /// The unit key used to compare: the UCUM code if coded, else the unit text.
    pub fn unit_key(&self) -> Option<&str> {
        self.code.as_deref().or(self.unit.as_deref())
    }
}

fhir_element! {
    /// A reference to another resource.
    pub struct Reference {
        reference: opt String = "reference",
        type_: opt String = "type",
        identifier: opt Box<Identifier> = "identifier",
        display: opt String = "display",
    }
}

impl Reference {
    pub fn to(reference: impl Into<String>) -> Self {
        Reference { reference: Some(reference.into()), ..Default::default() }
    }
}

fhir_element! {
    /// A business identifier: MRN, insurance number, our session identifier.
    pub struct Identifier {
        use_: opt String = "use",
        type_: opt CodeableConcept = "type",
        system: opt String = "system",
        value: opt String = "value",
        period: opt Period = "period",
    }
}

fhir_element! {
    /// A time range; either end may be open.
    pub struct Period {
        start: opt DateTime = "start",
        end: opt DateTime = "end",
    }
}

fhir_element! {
    /// A person's name as written.
    pub struct HumanName {
        use_: opt String = "use",
        text: opt String = "text",
        family: opt String = "family",
        given: vec String = "given",
        prefix: vec String = "prefix",
        suffix: vec String = "suffix",
        period: opt Period = "period",
    }
}

impl HumanName {
    /// "Given Family" for display.
    pub fn display(&self) -> String {
        if let Some(t) = &self.text {
            return t.clone();
        }
        let mut parts: Vec<&str> = self.given.iter().map(String::as_str).collect();
        if let Some(f) = &self.family {
            parts.push(f);
        }
        parts.join(" ")
    }

    /// Still in use: no period end before `now`.
    pub fn is_current(&self, now: &DateTime) -> bool {
        match self.period.as_ref().and_then(|p| p.end.as_ref()) {
            Some(end) => end.partial_cmp_fhir(now) != Some(std::cmp::Ordering::Less),
            None => true,
        }
    }
}

fhir_element! {
    /// A postal address.
    pub struct Address {
        use_: opt String = "use",
        type_: opt String = "type",
        text: opt String = "text",
        line: vec String = "line",
        city: opt String = "city",
        district: opt String = "district",
        state: opt String = "state",
        postal_code: opt String = "postalCode",
        country: opt String = "country",
        period: opt Period = "period",
    }
}

fhir_element! {
    /// A phone number, email address, ...
    pub struct ContactPoint {
        system: opt String = "system",
        value: opt String = "value",
        use_: opt String = "use",
        rank: opt i64 = "rank",
        period: opt Period = "period",
    }
}

fhir_element! {
    /// An attached file (answers of type attachment).
    pub struct Attachment {
        content_type: opt String = "contentType",
        language: opt String = "language",
        data: opt String = "data",
        url: opt String = "url",
        size: opt i64 = "size",
        title: opt String = "title",
    }
}

fhir_element! {
    /// A free-text note.
    pub struct Annotation {
        author_string: opt String = "authorString",
        author_reference: opt Reference = "authorReference",
        time: opt DateTime = "time",
        text: opt String = "text",
    }
}

fhir_element! {
    /// Resource metadata.
    pub struct Meta {
        version_id: opt String = "versionId",
        last_updated: opt String = "lastUpdated",
        source: opt String = "source",
        profile: vec String = "profile",
        tag: vec Coding = "tag",
    }
}

fhir_element! {
    /// An SDC expression (FHIRPath, x-fhir-query, or a rule language).
    pub struct Expression {
        description: opt String = "description",
        name: opt String = "name",
        language: opt String = "language",
        expression: opt String = "expression",
        reference: opt String = "reference",
    }
}

fhir_element! {
    /// An extension: a URL and either a value or nested extensions.
    pub struct Extension {
        url: opt String = "url",
        value: choice Value = "value",
        extension: vec Extension = "extension",
    }
}

impl Extension {
    pub fn with_value(url: &str, value: Value) -> Self {
        Extension { url: Some(url.to_owned()), value: Some(value), ..Default::default() }
    }

    pub fn nested(url: &str, extension: Vec<Extension>) -> Self {
        Extension { url: Some(url.to_owned()), extension, ..Default::default() }
    }

    /// The first nested extension with this URL.
    pub fn sub(&self, url: &str) -> Option<&Extension> {
        self.extension.iter().find(|e| e.url.as_deref() == Some(url))
    }
}

fhir_element! {
    /// The extension holder of a primitive (`_text`, `_prefix`): translations, rendering.
    pub struct PrimitiveElement {
        id: opt String = "id",
        extension: vec Extension = "extension",
    }
}

/// Find the first extension with a URL among a list.
pub fn find_ext<'a>(exts: &'a [Extension], url: &str) -> Option<&'a Extension> {
    exts.iter().find(|e| e.url.as_deref() == Some(url))
}

/// All extensions with a URL.
pub fn find_exts<'a>(exts: &'a [Extension], url: &'a str) -> impl Iterator<Item = &'a Extension> + 'a {
    exts.iter().filter(move |e| e.url.as_deref() == Some(url))
}

/// A `value[x]` / `answer[x]` / `initial[x]`: one value of one of FHIR's types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Boolean(bool),
    Integer(i64),
    Decimal(f64),
    String(String),
    /// `uri`, `url`, `canonical`, `code`, `id`, `markdown`, `oid`: strings with a type name.
    Text { type_name: &'static str, value: String },
    Date(Date),
    DateTime(DateTime),
    Time(Time),
    Coding(Coding),
    Quantity(Quantity),
    Reference(Reference),
    /// Boxed: rare, and the largest variants set the size of every value.
    Attachment(Box<Attachment>),
    CodeableConcept(CodeableConcept),
    Period(Period),
    Expression(Expression),
    Identifier(Box<Identifier>),
    /// Any other type, kept verbatim (e.g. `valueRange`, `valueInstant`).
    Other { type_name: String, json: Json },
}

const TEXT_TYPES: [&str; 8] = ["Uri", "Url", "Canonical", "Code", "Id", "Markdown", "Oid", "Uuid"];

impl Value {
    /// The FHIR type suffix, as in `valueCoding`.
    pub fn type_name(&self) -> &str {
        match self {
            Value::Boolean(_) => "Boolean",
            Value::Integer(_) => "Integer",
            Value::Decimal(_) => "Decimal",
            Value::String(_) => "String",
            Value::Text { type_name, .. } => type_name,
            Value::Date(_) => "Date",
            Value::DateTime(_) => "DateTime",
            Value::Time(_) => "Time",
            Value::Coding(_) => "Coding",
            Value::Quantity(_) => "Quantity",
            Value::Reference(_) => "Reference",
            Value::Attachment(_) => "Attachment",
            Value::CodeableConcept(_) => "CodeableConcept",
            Value::Period(_) => "Period",
            Value::Expression(_) => "Expression",
            Value::Identifier(_) => "Identifier",
            Value::Other { type_name, .. } => type_name,
        }
    }

    /// String content of string-like values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Text { value: s, .. } => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_expression(&self) -> Option<&Expression> {
        match self {
            Value::Expression(e) => Some(e),
            _ => None,
        }
    }

    pub fn as_coding(&self) -> Option<&Coding> {
        match self {
            Value::Coding(c) => Some(c),
            _ => None,
        }
    }

    /// A number, for integer and decimal values.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Decimal(d) => Some(*d),
            Value::Quantity(q) => q.value,
            _ => None,
        }
    }

    /// A short human rendering for summaries and review screens.
    pub fn display(&self) -> String {
        match self {
            Value::Boolean(true) => "Yes".into(),
            Value::Boolean(false) => "No".into(),
            Value::Integer(i) => i.to_string(),
            Value::Decimal(d) => format_decimal(*d),
            Value::String(s) | Value::Text { value: s, .. } => s.clone(),
            Value::Date(d) => d.to_string(),
            Value::DateTime(d) => d.to_string(),
            Value::Time(t) => t.to_string(),
            Value::Coding(c) => c.display.clone().or_else(|| c.code.clone()).unwrap_or_default(),
            Value::Quantity(q) => {
                let v = q.value.map(format_decimal).unwrap_or_default();
                match q.unit.as_deref().or(q.code.as_deref()) {
                    Some(u) => format!("{v} {u}"),
                    None => v,
                }
            }
            Value::Reference(r) => r.display.clone().or_else(|| r.reference.clone()).unwrap_or_default(),
            Value::Attachment(a) => a.title.clone().unwrap_or_else(|| "attachment".into()),
            Value::CodeableConcept(c) => c.label(),
            Value::Period(_) | Value::Expression(_) | Value::Identifier(_) | Value::Other { .. } => {
                self.to_choice().1.to_string()
            }
        }
    }
}

/// A decimal without a useless `.0`.
pub fn format_decimal(d: f64) -> String {
    decimal_json(d).to_string()
}

impl Choice for Value {
    fn from_choice(suffix: &str, v: JsonRef<'_>, cx: &mut Cx) -> Result<Self, ModelError> {
        Ok(match suffix {
            "Boolean" => Value::Boolean(bool::from_node(v, cx)?),
            "Integer" => Value::Integer(i64::from_node(v, cx)?),
            "Decimal" => Value::Decimal(f64::from_node(v, cx)?),
            "String" => Value::String(String::from_node(v, cx)?),
            "Date" => Value::Date(Date::from_node(v, cx)?),
            "DateTime" => Value::DateTime(DateTime::from_node(v, cx)?),
            "Time" => Value::Time(Time::from_node(v, cx)?),
            "Coding" => Value::Coding(Coding::from_node(v, cx)?),
            "Quantity" => Value::Quantity(Quantity::from_node(v, cx)?),
            "Reference" => Value::Reference(Reference::from_node(v, cx)?),
            "Attachment" => Value::Attachment(Box::new(Attachment::from_node(v, cx)?)),
            "CodeableConcept" => Value::CodeableConcept(CodeableConcept::from_node(v, cx)?),
            "Period" => Value::Period(Period::from_node(v, cx)?),
            "Expression" => Value::Expression(Expression::from_node(v, cx)?),
            "Identifier" => Value::Identifier(Box::new(Identifier::from_node(v, cx)?)),
            other => match TEXT_TYPES.iter().find(|t| **t == other) {
                Some(t) => Value::Text { type_name: t, value: String::from_node(v, cx)? },
                None => Value::Other { type_name: other.to_owned(), json: v.to_json() },
            },
        })
    }

    fn choice_suffix(&self) -> Cow<'static, str> {
        match self {
            Value::Text { type_name, .. } => Cow::Borrowed(*type_name),
            Value::Other { type_name, .. } => Cow::Owned(type_name.clone()),
            other => Cow::Owned(other.type_name().to_owned()),
        }
    }

    fn write_choice_value(&self, out: &mut String) {
        use crate::json::WriteJson;
        match self {
            Value::Boolean(b) => b.write_json(out),
            Value::Integer(i) => i.write_json(out),
            Value::Decimal(d) => d.write_json(out),
            Value::String(s) | Value::Text { value: s, .. } => s.write_json(out),
            Value::Date(d) => d.write_json(out),
            Value::DateTime(d) => d.write_json(out),
            Value::Time(t) => t.write_json(out),
            Value::Coding(c) => c.write_json(out),
            Value::Quantity(q) => q.write_json(out),
            Value::Reference(r) => r.write_json(out),
            Value::Attachment(a) => a.write_json(out),
            Value::CodeableConcept(c) => c.write_json(out),
            Value::Period(p) => p.write_json(out),
            Value::Expression(e) => e.write_json(out),
            Value::Identifier(i) => i.write_json(out),
            Value::Other { json, .. } => json.write_json(out),
        }
    }

    fn to_choice(&self) -> (Cow<'static, str>, Json) {
        let mut text = String::new();
        self.write_choice_value(&mut text);
        (self.choice_suffix(), serde_json::from_str(&text).unwrap_or(Json::Null))
    }
}
