//! SDC (Structured Data Capture 4.0) and core extension URLs, readers, and the feature report
//! that tells a form author which SDC features a Questionnaire uses and which we do not run yet.

use std::collections::BTreeMap;

use intake_fhir::{find_ext, CodeableConcept, Extension, Questionnaire, QuestionnaireItem, Value};

use crate::questionnaire::Rendering;

pub const ITEM_CONTROL: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl";
pub const MIN_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/minValue";
pub const MAX_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/maxValue";
pub const MIN_LENGTH: &str = "http://hl7.org/fhir/StructureDefinition/minLength";
pub const REGEX: &str = "http://hl7.org/fhir/StructureDefinition/regex";
pub const OPTION_EXCLUSIVE: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive";
pub const MIN_OCCURS: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs";
pub const MAX_OCCURS: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs";
pub const HIDDEN: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden";
pub const UNIT: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit";
pub const UNIT_OPTION: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption";
pub const ENTRY_FORMAT: &str = "http://hl7.org/fhir/StructureDefinition/entryFormat";
pub const TRANSLATION: &str = "http://hl7.org/fhir/StructureDefinition/translation";
pub const RENDERING_XHTML: &str = "http://hl7.org/fhir/StructureDefinition/rendering-xhtml";
pub const RENDERING_MARKDOWN: &str = "http://hl7.org/fhir/StructureDefinition/rendering-markdown";
pub const CHOICE_ORIENTATION: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-choiceOrientation";
pub const OPTION_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionPrefix";
pub const ORDINAL_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/ordinalValue";
pub const ITEM_WEIGHT: &str = "http://hl7.org/fhir/StructureDefinition/itemWeight";
pub const VARIABLE: &str = "http://hl7.org/fhir/StructureDefinition/variable";
const SDC: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/";
pub const OBSERVATION_EXTRACT: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationExtract";
pub const OBSERVATION_LINK_PERIOD: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-observationLinkPeriod";
pub const ENABLE_WHEN_EXPRESSION: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression";
pub const CALCULATED_EXPRESSION: &str =
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression";
pub const INITIAL_EXPRESSION: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-initialExpression";
pub const SOURCE_QUERIES: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-sourceQueries";
pub const ITEM_POPULATION_CONTEXT: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-itemPopulationContext";
pub const LAUNCH_CONTEXT: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-launchContext";
pub const ANSWER_EXPRESSION: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerExpression";
pub const ANSWER_OPTIONS_TOGGLE: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerOptionsToggleExpression";
pub const CQF_EXPRESSION: &str = "http://hl7.org/fhir/StructureDefinition/cqf-expression";
pub const OPEN_LABEL: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-openLabel";
pub const SHORT_TEXT: &str = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-shortText";

/// Our own extensions live under this base.
pub const INTAKE_BASE: &str = "http://intake-engine.org/fhir";
/// Why the form author asks this item, shown to the patient.
pub const WHY_ASKED: &str = "http://intake-engine.org/fhir/StructureDefinition/why-asked";
/// On a response item (repeating group instance): the chart resource this row was prefilled from.
pub const ON_FILE_SOURCE: &str = "http://intake-engine.org/fhir/StructureDefinition/on-file-source";

/// The JSON path of the first place in the Questionnaire that needs FHIRPath: an extension
/// whose value is an `Expression` (at any depth, on the Questionnaire, an item or an item's
/// text) or `sourceQueries`. None: the form runs the same without FHIRPath. A build without
/// FHIRPath refuses a form at this path (`expressions_absent`), and `intake catalog` tells
/// hosts which build a visit type needs by it.
pub fn first_expression(q: &Questionnaire) -> Option<String> {
    // Each level answers with the path below it, so a path is written only along the way to
    // what was found, not for every item and extension looked at (a form loads through this in
    // the builds without FHIRPath).
    fn in_exts(exts: &[Extension]) -> Option<String> {
        exts.iter().enumerate().find_map(|(i, e)| {
            let evaluated = e.value.as_ref().and_then(|v| v.as_expression()).is_some() || e.url.as_deref() == Some(SOURCE_QUERIES);
            let below = if evaluated { Some(String::new()) } else { in_exts(&e.extension) };
            below.map(|rest| format!(".extension[{i}]{rest}"))
        })
    }
    fn in_items(items: &[QuestionnaireItem]) -> Option<String> {
        items.iter().enumerate().find_map(|(i, it)| {
            in_exts(&it.extension)
                .or_else(|| it.text_ext.as_ref().and_then(|t| in_exts(&t.extension)).map(|rest| format!("._text{rest}")))
                .or_else(|| in_items(&it.item))
                .map(|rest| format!(".item[{i}]{rest}"))
        })
    }
    in_exts(&q.extension).or_else(|| in_items(&q.item)).map(|rest| format!("Questionnaire{rest}"))
}

pub fn bool_ext(exts: &[Extension], url: &str) -> bool {
    find_ext(exts, url).and_then(|e| e.value.as_ref()?.as_bool()).unwrap_or(false)
}

pub fn int_ext(exts: &[Extension], url: &str) -> Option<i64> {
    find_ext(exts, url).and_then(|e| e.value.as_ref()?.as_integer())
}

/// The itemControl code (`radio-button`, `drop-down`, `page`, `help`, ...).
pub fn item_control(exts: &[Extension]) -> Option<String> {
    match find_ext(exts, ITEM_CONTROL)?.value.as_ref()? {
        Value::CodeableConcept(CodeableConcept { coding, .. }) => coding.iter().find_map(|c| c.code.clone()),
        Value::Coding(c) => c.code.clone(),
        _ => None,
    }
}

/// `(lang, content)` pairs from FHIR translation extensions.
pub fn translations(exts: &[Extension]) -> Vec<(String, String)> {
    exts.iter()
        .filter(|e| e.url.as_deref() == Some(TRANSLATION))
        .filter_map(|e| {
            let lang = e.sub("lang")?.value.as_ref()?.as_str()?.to_owned();
            let content = e.sub("content")?.value.as_ref()?.as_str()?.to_owned();
            Some((lang, content))
        })
        .collect()
}

/// Rich-text rendering of a text element, if given.
pub fn rendering(exts: &[Extension]) -> Option<Rendering> {
    if let Some(x) = find_ext(exts, RENDERING_XHTML).and_then(|e| e.value.as_ref()?.as_str()) {
        return Some(Rendering::Xhtml(x.to_owned()));
    }
    find_ext(exts, RENDERING_MARKDOWN)
        .and_then(|e| e.value.as_ref()?.as_str())
        .map(|m| Rendering::Markdown(m.to_owned()))
}

/// A `valueDuration` as days (UCUM `d`, `wk`, `mo`, `a`, `h`).
pub fn duration_days(v: &Value) -> Option<f64> {
    let (value, unit) = match v {
        Value::Quantity(q) => (q.value?, q.code.clone().or(q.unit.clone())?),
        Value::Other { json, .. } => (
            json.get("value")?.as_f64()?,
            json.get("code").or(json.get("unit"))?.as_str()?.to_owned(),
        ),
        _ => return None,
    };
    let per = match unit.as_str() {
        "d" | "day" | "days" => 1.0,
        "wk" | "week" | "weeks" => 7.0,
        "mo" | "month" | "months" => 30.0,
        "a" | "year" | "years" => 365.0,
        "h" | "hour" | "hours" => 1.0 / 24.0,
        _ => return None,
    };
    Some(value * per)
}

/// Which SDC features a Questionnaire uses, and which the engine does not run yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureReport {
    pub item_count: usize,
    pub used: BTreeMap<&'static str, usize>,
    /// Where each feature is first used (a JSON path), for warnings that say where.
    pub first_at: BTreeMap<&'static str, String>,
}

/// Features the engine reads and acts on.
const SUPPORTED: &[&str] = &[
    "enableWhen",
    "enableBehavior",
    "answerOption",
    "answerValueSet(contained)",
    // From the host's or the visit type's ValueSets, else free text for review (`value_set`).
    "answerValueSet(external)",
    "initial",
    "itemControl",
    "required",
    "repeats",
    "readOnly",
    "maxLength",
    "minLength",
    "minValue/maxValue",
    "regex",
    "minOccurs/maxOccurs",
    "hidden",
    "unit",
    "unitOption",
    "entryFormat",
    "translation",
    "rendering-xhtml/markdown",
    "observationExtract",
    // By `intake extract` (template_extract), not in the browser bundle.
    "templateExtract",
    "observationLinkPeriod",
    "item.definition",
    "item.code",
    "choiceOrientation",
    "optionPrefix",
    "openLabel",
    "shortText",
    // FHIRPath, in the session (`expressions`): evaluated over the whole response.
    "variable",
    "enableWhenExpression",
    "calculatedExpression",
    // Once, when the session starts, for items the chart prefill left empty.
    "initialExpression",
    // Options and text computed in the session, shown by the page.
    "answerExpression",
    "answerOptionsToggleExpression",
    "cqf-expression(text)",
    // %patient from the chart; a context the engine does not supply is a warning of its own.
    "launchContext",
    // SDC population, answered from the chart the host passed (`fhir_query`).
    "sourceQueries",
    "itemPopulationContext",
];

impl FeatureReport {
    pub fn of(q: &Questionnaire) -> FeatureReport {
        let mut r = FeatureReport::default();
        for e in &q.extension {
            if let Some(url) = e.url.as_deref() {
                r.note_ext(url, "Questionnaire");
            }
        }
        if q.contained.iter().any(|c| c.get("resourceType").and_then(|v| v.as_str()) == Some("ValueSet")) {
            r.bump("contained ValueSet", "Questionnaire");
        }
        for (i, it) in q.item.iter().enumerate() {
            r.walk(it, &format!("Questionnaire.item[{i}]"));
        }
        r.used.remove("contained ValueSet");
        r.first_at.remove("contained ValueSet");
        r
    }

    /// One more use of feature `f`, at JSON path `at`.
    fn bump(&mut self, f: &'static str, at: &str) {
        *self.used.entry(f).or_insert(0) += 1;
        self.first_at.entry(f).or_insert_with(|| at.to_owned());
    }

    /// The features item `it` (at JSON path `at`) and its descendants use.
    fn walk(&mut self, it: &QuestionnaireItem, at: &str) {
        self.item_count += 1;
        if !it.enable_when.is_empty() {
            self.bump("enableWhen", at);
        }
        if it.enable_behavior.is_some() {
            self.bump("enableBehavior", at);
        }
        if !it.answer_option.is_empty() {
            self.bump("answerOption", at);
        }
        if let Some(vs) = &it.answer_value_set {
            self.bump(if vs.starts_with('#') { "answerValueSet(contained)" } else { "answerValueSet(external)" }, at);
        }
        if !it.initial.is_empty() {
            self.bump("initial", at);
        }
        if it.required == Some(true) {
            self.bump("required", at);
        }
        if it.repeats == Some(true) {
            self.bump("repeats", at);
        }
        if it.read_only == Some(true) {
            self.bump("readOnly", at);
        }
        if it.max_length.is_some() {
            self.bump("maxLength", at);
        }
        if it.definition.is_some() {
            self.bump("item.definition", at);
        }
        if !it.code.is_empty() {
            self.bump("item.code", at);
        }
        for el in [&it.text_ext, &it.prefix_ext].into_iter().flatten() {
            for e in &el.extension {
                match e.url.as_deref() {
                    Some(TRANSLATION) => self.bump("translation", at),
                    Some(RENDERING_XHTML) | Some(RENDERING_MARKDOWN) => self.bump("rendering-xhtml/markdown", at),
                    Some(CQF_EXPRESSION) => self.bump("cqf-expression(text)", at),
                    _ => {}
                }
            }
        }
        for e in &it.extension {
            if let Some(url) = e.url.as_deref() {
                self.note_ext(url, at);
            }
        }
        for (i, child) in it.item.iter().enumerate() {
            self.walk(child, &format!("{at}.item[{i}]"));
        }
    }

    fn note_ext(&mut self, url: &str, at: &str) {
        let name: &'static str = match url {
            ITEM_CONTROL => "itemControl",
            MIN_VALUE | MAX_VALUE => "minValue/maxValue",
            MIN_LENGTH => "minLength",
            REGEX => "regex",
            MIN_OCCURS | MAX_OCCURS => "minOccurs/maxOccurs",
            HIDDEN => "hidden",
            UNIT => "unit",
            UNIT_OPTION => "unitOption",
            ENTRY_FORMAT => "entryFormat",
            CHOICE_ORIENTATION => "choiceOrientation",
            OPTION_PREFIX => "optionPrefix",
            ORDINAL_VALUE | ITEM_WEIGHT => "ordinalValue/itemWeight",
            VARIABLE => "variable",
            OBSERVATION_EXTRACT => "observationExtract",
            OBSERVATION_LINK_PERIOD => "observationLinkPeriod",
            ENABLE_WHEN_EXPRESSION => "enableWhenExpression",
            CALCULATED_EXPRESSION => "calculatedExpression",
            INITIAL_EXPRESSION => "initialExpression",
            OPEN_LABEL => "openLabel",
            SHORT_TEXT => "shortText",
            WHY_ASKED => "why-asked",
            u if u.starts_with(SDC) => match &u[SDC.len()..] {
                "sdc-questionnaire-launchContext" => "launchContext",
                "sdc-questionnaire-answerExpression" => "answerExpression",
                "sdc-questionnaire-itemPopulationContext" => "itemPopulationContext",
                "sdc-questionnaire-templateExtract" => "templateExtract",
                "sdc-questionnaire-templateExtractContext" => "templateExtract",
                "sdc-questionnaire-templateExtractValue" => "templateExtract",
                "sdc-questionnaire-extractAllocateId" => "extractAllocateId",
                "sdc-questionnaire-sourceQueries" => "sourceQueries",
                "sdc-questionnaire-itemExtractionContext" => "itemExtractionContext",
                "sdc-questionnaire-definitionExtract" => "definitionExtract",
                "sdc-questionnaire-answerOptionsToggleExpression" => "answerOptionsToggleExpression",
                "sdc-questionnaire-targetConstraint" => "targetConstraint",
                "sdc-questionnaire-collapsible" => "collapsible",
                "sdc-questionnaire-preferredTerminologyServer" => "preferredTerminologyServer",
                "sdc-questionnaire-width" => "width",
                "sdc-questionnaire-entryMode" => "entryMode",
                _ => "other SDC extension",
            },
            u if u.contains("cqf-expression") => "cqf-expression",
            u if u.contains("cqf-library") => "cqf-library",
            _ => return,
        };
        self.bump(name, at);
    }

    /// Features present that the engine does not act on yet.
    pub fn unsupported(&self) -> Vec<&'static str> {
        self.used.keys().copied().filter(|f| !SUPPORTED.contains(f) && *f != "why-asked").collect()
    }

    /// One warning per unsupported feature, at its first use, saying how many uses there are:
    /// what `intake check` prints and the browser passes to the host's `onError` once.
    pub fn unsupported_warnings(&self) -> Vec<(String, String)> {
        self.unsupported()
            .into_iter()
            .map(|f| {
                let n = self.used.get(f).copied().unwrap_or(0);
                let at = self.first_at.get(f).cloned().unwrap_or_else(|| "Questionnaire".into());
                let more = if n > 1 { format!(" (used {n} times; this is the first)") } else { String::new() };
                (at, format!("{f} is not supported yet and is ignored: the form works without it{more}"))
            })
            .collect()
    }
}
