//! Value sets as answer options, without a terminology server.
//!
//! An `answerValueSet` names its options by canonical URL. Real forms point at a contained
//! ValueSet (with an `expansion`, or only the `compose` its author wrote), at a well-known
//! external one (FHIR's `administrative-gender`, LOINC answer lists), or at one only a
//! terminology server can list (SNOMED CT by ECL, RxTerms). The engine never makes a network
//! request, so it resolves, in order:
//!
//! 1. a ValueSet contained in the form (by `#id` or by `url`);
//! 2. the [`ValueSetLibrary`]: ValueSets the host passes and a visit type's own
//!    `valuesets/*.json`;
//! 3. nothing: the item keeps working as free text ([`Fallback`]), the answer goes out as
//!    `valueString` and the write-back asks a clinician to code it. A host with a terminology
//!    server plugs it in at run time (`expandValueSet` in the browser) and its codings are
//!    accepted as given.
//!
//! A value set that can be listed only in part (a `filter`, or "all of code system X") is
//! offered as far as it can be listed, and free text is accepted beside it: the patient's
//! answer may be in the part we cannot list. Never a required question with no way to answer.

use std::collections::HashMap;
use std::fmt;

use intake_fhir::json::{Cx, FromJson, Json};
use intake_fhir::{Coding, ExpansionContains, Value, ValueSet, ValueSetInclude};

use crate::questionnaire::{AnswerChoice, FormWarning};

/// How deep `compose.include.valueSet` may nest before we stop (a cycle in the host's files).
const MAX_DEPTH: usize = 8;

/// ValueSets the host or the visit type supplies, by canonical URL.
#[derive(Debug, Clone, Default)]
pub struct ValueSetLibrary {
    sets: Vec<ValueSet>,
}

/// A ValueSet file or object the library could not take.
#[derive(Debug, Clone, PartialEq)]
pub enum LibraryError {
    /// Not readable as a FHIR ValueSet (the model error carries the JSON path).
    Model { source: String, message: String },
    /// A ValueSet without `url` cannot be named by any `answerValueSet`.
    NoUrl { source: String },
}

impl fmt::Display for LibraryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LibraryError::Model { source, message } => write!(f, "{source}: not a readable ValueSet: {message}"),
            LibraryError::NoUrl { source } => {
                write!(f, "{source}: ValueSet has no url, so no answerValueSet can name it")
            }
        }
    }
}

impl ValueSetLibrary {
    /// Add one ValueSet (JSON already parsed); `source` names it in errors (a file, `valueSets[2]`).
    pub fn add_json(&mut self, json: &Json, source: &str) -> Result<(), LibraryError> {
        let vs = ValueSet::from_json(json, &mut Cx::new("ValueSet"))
            .map_err(|e| LibraryError::Model { source: source.to_owned(), message: e.to_string() })?;
        if vs.url.as_deref().is_none_or(str::is_empty) {
            return Err(LibraryError::NoUrl { source: source.to_owned() });
        }
        self.sets.push(vs);
        Ok(())
    }

    /// Add a ValueSet, or every ValueSet in a Bundle (what terminology exports often are).
    pub fn add_any(&mut self, json: &Json, source: &str) -> Result<usize, LibraryError> {
        if json.get("resourceType").and_then(Json::as_str) == Some("Bundle") {
            let mut n = 0;
            for (i, e) in json.get("entry").and_then(Json::as_array).into_iter().flatten().enumerate() {
                if let Some(r) = e.get("resource").filter(|r| r.get("resourceType").and_then(Json::as_str) == Some("ValueSet")) {
                    self.add_json(r, &format!("{source}: Bundle.entry[{i}]"))?;
                    n += 1;
                }
            }
            return Ok(n);
        }
        self.add_json(json, source).map(|()| 1)
    }

    /// Append another library's sets after this one's (earlier sets win a lookup).
    pub fn extend(&mut self, other: &ValueSetLibrary) {
        self.sets.extend(other.sets.iter().cloned());
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// The ValueSets, in lookup order.
    pub fn iter(&self) -> impl Iterator<Item = &ValueSet> {
        self.sets.iter()
    }

    /// The set a canonical names: `url|version` wants that version; a bare `url` takes the
    /// first set with that url.
    pub fn find(&self, canonical: &str) -> Option<&ValueSet> {
        self.sets.iter().find(|vs| is_named(vs, canonical))
    }
}

/// Does this canonical (`url`, or `url|version` for that version) name this set?
fn is_named(vs: &ValueSet, canonical: &str) -> bool {
    let (url, version) = split_canonical(canonical);
    vs.url.as_deref() == Some(url) && version.is_none_or(|v| vs.version.as_deref() == Some(v))
}

/// The codes of a value set, for rules that test chart codes against it
/// (`takes_medication(valueset("insulins"))`): every listed code with its system.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeSet {
    /// How the rule named it.
    pub name: String,
    codes: Vec<(Option<String>, String)>,
}

impl CodeSet {
    /// The first coding of `cc` in the set (system and code; a code without a system in the
    /// set matches any system), for `explain` to say what matched.
    pub fn matching(&self, cc: &intake_fhir::CodeableConcept) -> Option<(Option<String>, String)> {
        cc.coding.iter().find_map(|c| {
            let code = c.code.as_deref()?;
            self.codes
                .iter()
                .any(|(s, k)| k == code && (s.is_none() || *s == c.system))
                .then(|| (c.system.clone(), code.to_owned()))
        })
    }

    /// Is this coding in the set?
    pub fn contains_coding(&self, c: &Coding) -> bool {
        c.code.as_deref().is_some_and(|code| self.codes.iter().any(|(s, k)| k == code && (s.is_none() || *s == c.system)))
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

impl ValueSetLibrary {
    /// Every name a rule may use for a set: its url (with and without `|version`), id and name.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for vs in &self.sets {
            out.extend(vs.url.clone());
            if let (Some(u), Some(v)) = (&vs.url, &vs.version) {
                out.push(format!("{u}|{v}"));
            }
            out.extend(vs.id.clone());
            out.extend(vs.name.clone());
        }
        out
    }

    /// The codes of the set named `reference` (url, `url|version`, id or name), listed as
    /// for `answerValueSet`. `Err` when nothing has that name, or its codes cannot all be listed
    /// (a rule testing against part of a set would silently miss the rest).
    pub fn code_set(&self, reference: &str) -> Result<CodeSet, String> {
        let found = self.find(reference).or_else(|| {
            self.sets.iter().find(|vs| vs.id.as_deref() == Some(reference) || vs.name.as_deref() == Some(reference))
        });
        let Some(vs) = found else {
            let names = self.names();
            return Err(format!(
                "no value set '{reference}' in rules/valuesets/ or the visit type's valuesets/{}",
                crate::suggest::hint(reference, names.iter().map(String::as_str))
            ));
        };
        let url = vs.url.clone().unwrap_or_default();
        let mut warnings = Vec::new();
        let r = Resolver::new(&[], self).resolve(&url, reference, &mut warnings);
        if let Some(fb) = r.fallback {
            return Err(format!("value set '{reference}' cannot be listed here: {fb}"));
        }
        let codes = r
            .options
            .iter()
            .filter_map(|o| o.value.as_coding().and_then(|c| Some((c.system.clone(), c.code.clone()?))))
            .collect();
        Ok(CodeSet { name: reference.to_owned(), codes })
    }
}

/// `http://x/vs|1.0` into the url and the version.
pub fn split_canonical(canonical: &str) -> (&str, Option<&str>) {
    match canonical.split_once('|') {
        Some((u, v)) if !v.is_empty() => (u, Some(v)),
        Some((u, _)) => (u, None),
        None => (canonical, None),
    }
}

/// Why an item's options are not (all) known, so it also takes the patient's own words.
#[derive(Debug, Clone, PartialEq)]
pub struct Fallback {
    /// The `answerValueSet` as the form wrote it.
    pub value_set: String,
    pub reason: FallbackReason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FallbackReason {
    /// Neither contained nor given by the host or the visit type.
    NotFound,
    /// `#id` names a contained ValueSet the form does not hold.
    ContainedMissing,
    /// Found, but it lists no codes and says nothing we cannot evaluate.
    Empty,
    /// Found, but part of it needs a terminology server (a filter, a whole code system).
    NeedsTerminology { what: String },
}

impl Fallback {
    /// Some options are listed; the rest of the value set is not.
    pub fn is_partial(&self) -> bool {
        matches!(self.reason, FallbackReason::NeedsTerminology { .. })
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vs = &self.value_set;
        match &self.reason {
            FallbackReason::NotFound => write!(
                f,
                "value set {vs} is not contained in the form nor given by the host (valueSets) or the visit type (valuesets/); the item takes free text, flagged for review"
            ),
            FallbackReason::ContainedMissing => {
                write!(f, "contained value set '{vs}' not found; the item takes free text, flagged for review")
            }
            FallbackReason::Empty => write!(f, "value set {vs} lists no codes; the item takes free text, flagged for review"),
            FallbackReason::NeedsTerminology { what } => write!(
                f,
                "value set {vs} can be listed only in part without a terminology server ({what}); the listed codes are offered and free text is taken too, flagged for review"
            ),
        }
    }
}

/// What an `answerValueSet` resolves to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resolved {
    pub options: Vec<AnswerChoice>,
    pub fallback: Option<Fallback>,
}

/// Resolves `answerValueSet` references for one form: its contained sets, then the library.
/// Results are kept per canonical (a form names the same value set on many items).
pub struct Resolver<'a> {
    contained: Vec<ValueSet>,
    library: &'a ValueSetLibrary,
    cache: HashMap<String, Resolved>,
}

impl<'a> Resolver<'a> {
    /// `contained` is the form's `contained` array (non-ValueSet entries are skipped).
    pub fn new(contained: &[Json], library: &'a ValueSetLibrary) -> Resolver<'a> {
        let contained = contained
            .iter()
            .filter(|c| c.get("resourceType").and_then(Json::as_str) == Some("ValueSet"))
            .filter_map(|c| ValueSet::from_json(c, &mut Cx::new("ValueSet")).ok())
            .collect();
        Resolver { contained, library, cache: HashMap::new() }
    }

    /// The options `canonical` names. `path` is the item's `answerValueSet` JSON path, for
    /// warnings (a filter we cannot run, an excluded code system...).
    pub fn resolve(&mut self, canonical: &str, path: &str, warnings: &mut Vec<FormWarning>) -> Resolved {
        if let Some(r) = self.cache.get(canonical) {
            return r.clone();
        }
        let r = self.resolve_uncached(canonical, path, warnings, 0);
        self.cache.insert(canonical.to_owned(), r.clone());
        r
    }

    fn find(&self, canonical: &str) -> Option<&ValueSet> {
        if let Some(id) = canonical.strip_prefix('#') {
            return self.contained.iter().find(|vs| vs.id.as_deref() == Some(id));
        }
        self.contained.iter().find(|vs| is_named(vs, canonical)).or_else(|| self.library.find(canonical))
    }

    fn resolve_uncached(&self, canonical: &str, path: &str, warnings: &mut Vec<FormWarning>, depth: usize) -> Resolved {
        let fallback = |reason| Resolved { options: Vec::new(), fallback: Some(Fallback { value_set: canonical.to_owned(), reason }) };
        let Some(vs) = self.find(canonical) else {
            return fallback(if canonical.starts_with('#') { FallbackReason::ContainedMissing } else { FallbackReason::NotFound });
        };
        // An expansion is what the value set's publisher computed: it wins over compose.
        let mut options = Vec::new();
        if let Some(exp) = vs.expansion.as_ref().filter(|e| !e.contains.is_empty()) {
            flatten_expansion(&exp.contains, &mut options);
            return Resolved { options, fallback: None };
        }
        let Some(compose) = &vs.compose else { return fallback(FallbackReason::Empty) };
        let mut unlisted: Vec<String> = Vec::new();
        for (i, inc) in compose.include.iter().enumerate() {
            let at = format!("{path} -> {canonical} compose.include[{i}]");
            self.include(inc, &at, warnings, depth, &mut options, &mut unlisted);
        }
        for (i, exc) in compose.exclude.iter().enumerate() {
            if !exc.filter.is_empty() || !exc.value_set.is_empty() || (exc.concept.is_empty() && exc.system.is_some()) {
                warnings.push(FormWarning {
                    path: format!("{path} -> {canonical} compose.exclude[{i}]"),
                    message: "an exclude by filter, value set or whole code system cannot be applied without a terminology server; listed codes are offered as they are".into(),
                });
            }
            options.retain(|o| {
                !exc.concept.iter().any(|c| {
                    o.value.as_coding().is_some_and(|oc| oc.code == c.code && (exc.system.is_none() || oc.system == exc.system))
                })
            });
        }
        dedup(&mut options);
        match (options.is_empty(), unlisted.is_empty()) {
            (true, true) => fallback(FallbackReason::Empty),
            (_, false) => {
                let what = unlisted.join("; ");
                Resolved { options, fallback: Some(Fallback { value_set: canonical.to_owned(), reason: FallbackReason::NeedsTerminology { what } }) }
            }
            (false, true) => Resolved { options, fallback: None },
        }
    }

    /// One `compose.include`: its concepts, the value sets it pulls in, and what it asks for
    /// that we cannot list (noted in `unlisted`, warned at `at`).
    fn include(
        &self,
        inc: &ValueSetInclude,
        at: &str,
        warnings: &mut Vec<FormWarning>,
        depth: usize,
        options: &mut Vec<AnswerChoice>,
        unlisted: &mut Vec<String>,
    ) {
        let system = inc.system.as_deref().unwrap_or("(no system)");
        if !inc.filter.is_empty() {
            let f: Vec<String> = inc
                .filter
                .iter()
                .map(|f| {
                    let s = |k: &str| f.get(k).and_then(Json::as_str).unwrap_or("?").to_owned();
                    format!("{} {} {}", s("property"), s("op"), s("value"))
                })
                .collect();
            let what = format!("filter {} on {system}", f.join(", "));
            warnings.push(FormWarning { path: at.to_owned(), message: format!("{what} needs a terminology server; it is not listed") });
            unlisted.push(what);
        } else if inc.concept.is_empty() && inc.value_set.is_empty() && inc.system.is_some() {
            let what = format!("all of code system {system}");
            warnings.push(FormWarning { path: at.to_owned(), message: format!("{what} cannot be listed without a terminology server") });
            unlisted.push(what);
        } else {
            for c in &inc.concept {
                let coding = Coding {
                    system: inc.system.clone(),
                    version: inc.version.clone(),
                    code: c.code.clone(),
                    display: c.display.clone(),
                    ..Default::default()
                };
                options.push(choice(coding, &c.designation));
            }
        }
        for other in &inc.value_set {
            if depth >= MAX_DEPTH {
                warnings.push(FormWarning { path: at.to_owned(), message: format!("value set {other} nests too deeply (a cycle?); not listed") });
                unlisted.push(format!("value set {other}"));
                continue;
            }
            let r = self.resolve_uncached(other, at, warnings, depth + 1);
            // Listing both an include.valueSet and concepts means the intersection; we offer
            // the union only when one side is empty (the common case: one or the other).
            options.extend(r.options);
            if let Some(fb) = r.fallback {
                unlisted.push(match fb.reason {
                    FallbackReason::NeedsTerminology { what } => what,
                    _ => format!("value set {other}"),
                });
            }
        }
    }
}

/// An expansion's codes, nested `contains` flattened; abstract headings and inactive codes are
/// not offered.
pub fn flatten_expansion(contains: &[ExpansionContains], out: &mut Vec<AnswerChoice>) {
    for c in contains {
        if c.code.is_some() && c.abstract_ != Some(true) && c.inactive != Some(true) {
            let coding = Coding { system: c.system.clone(), code: c.code.clone(), display: c.display.clone(), ..Default::default() };
            out.push(choice(coding, &c.designation));
        }
        flatten_expansion(&c.contains, out);
    }
}

/// A value set's code as an option: labelled by its display (else its code), with its
/// designations as label translations.
fn choice(coding: Coding, designations: &[intake_fhir::Designation]) -> AnswerChoice {
    AnswerChoice {
        label: coding.display.clone().or_else(|| coding.code.clone()).unwrap_or_default(),
        value: Value::Coding(coding),
        designations: designations.iter().filter_map(|d| Some((d.language.clone(), d.value.clone()?))).collect(),
        initial_selected: false,
        exclusive: false,
        prefix: None,
        rendering: None,
    }
}

/// The same code from two includes is one option.
fn dedup(options: &mut Vec<AnswerChoice>) {
    let mut seen: Vec<(Option<String>, Option<String>)> = Vec::new();
    options.retain(|o| match o.value.as_coding() {
        Some(c) => {
            let k = (c.system.clone(), c.code.clone());
            if seen.contains(&k) {
                false
            } else {
                seen.push(k);
                true
            }
        }
        None => true,
    });
}

/// Options from an expansion a host's terminology callback returned (`expandValueSet`): the
/// same reading as a stored expansion.
pub fn options_of_expansion(json: &Json) -> Result<Vec<AnswerChoice>, String> {
    let vs = ValueSet::from_json(json, &mut Cx::new("ValueSet")).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if let Some(exp) = &vs.expansion {
        flatten_expansion(&exp.contains, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(r: &Resolved) -> Vec<String> {
        r.options.iter().filter_map(|o| o.value.as_coding()?.code.clone()).collect()
    }

    fn resolve(contained: Json, lib: &ValueSetLibrary, canonical: &str) -> (Resolved, Vec<FormWarning>) {
        let c = vec![contained];
        let mut r = Resolver::new(&c, lib);
        let mut w = Vec::new();
        (r.resolve(canonical, "Questionnaire.item[0].answerValueSet", &mut w), w)
    }

    #[test]
    fn expansion_wins_over_compose_and_skips_abstract_and_inactive() {
        let vs = json!({"resourceType": "ValueSet", "id": "a",
            "compose": {"include": [{"system": "s", "concept": [{"code": "from-compose"}]}]},
            "expansion": {"contains": [
                {"abstract": true, "display": "Heading", "contains": [{"system": "s", "code": "x", "display": "X"}]},
                {"system": "s", "code": "old", "inactive": true},
                {"system": "s", "code": "y"}]}});
        let (r, w) = resolve(vs, &ValueSetLibrary::default(), "#a");
        assert_eq!(codes(&r), ["x", "y"]);
        assert!(r.fallback.is_none() && w.is_empty());
    }

    #[test]
    fn compose_include_exclude_and_designations() {
        let vs = json!({"resourceType": "ValueSet", "id": "a", "url": "http://x/vs",
            "compose": {"include": [{"system": "s", "concept": [
                {"code": "1", "display": "One", "designation": [{"language": "es", "value": "Uno"}]},
                {"code": "2", "display": "Two"}, {"code": "3", "display": "Three"}]}],
                "exclude": [{"system": "s", "concept": [{"code": "2"}]}]}});
        let (r, w) = resolve(vs.clone(), &ValueSetLibrary::default(), "#a");
        assert_eq!(codes(&r), ["1", "3"]);
        assert_eq!(r.options[0].label_in("es"), "Uno");
        assert!(w.is_empty());
        // By url, with and without a version the set does not state.
        assert_eq!(codes(&resolve(vs.clone(), &ValueSetLibrary::default(), "http://x/vs").0), ["1", "3"]);
        assert_eq!(
            resolve(vs, &ValueSetLibrary::default(), "http://x/vs|9").0.fallback.map(|f| f.reason),
            Some(FallbackReason::NotFound)
        );
    }

    #[test]
    fn filter_is_partial_with_a_warning_naming_the_path() {
        let vs = json!({"resourceType": "ValueSet", "id": "a", "compose": {"include": [
            {"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "404684003"}]},
            {"system": "s", "concept": [{"code": "k"}]}]}});
        let (r, w) = resolve(vs, &ValueSetLibrary::default(), "#a");
        assert_eq!(codes(&r), ["k"]);
        let fb = r.fallback.expect("partial");
        assert!(fb.is_partial());
        assert!(fb.to_string().contains("concept is-a 404684003"), "{fb}");
        assert_eq!(w.len(), 1);
        assert!(w[0].path.starts_with("Questionnaire.item[0].answerValueSet -> #a compose.include[0]"), "{}", w[0].path);
    }

    #[test]
    fn library_by_canonical_and_version_and_nested_value_sets() {
        let mut lib = ValueSetLibrary::default();
        lib.add_json(&json!({"resourceType": "ValueSet", "url": "http://x/yn", "version": "1",
            "compose": {"include": [{"system": "s", "concept": [{"code": "old"}]}]}}), "a.json").unwrap();
        lib.add_json(&json!({"resourceType": "ValueSet", "url": "http://x/yn", "version": "2",
            "compose": {"include": [{"system": "s", "concept": [{"code": "y"}, {"code": "n"}]}]}}), "b.json").unwrap();
        lib.add_json(&json!({"resourceType": "ValueSet", "url": "http://x/both",
            "compose": {"include": [{"valueSet": ["http://x/yn|2"]}, {"system": "s", "concept": [{"code": "u"}]}]}}), "c.json").unwrap();
        let none = json!({"resourceType": "Basic"});
        assert_eq!(codes(&resolve(none.clone(), &lib, "http://x/yn").0), ["old"]);
        assert_eq!(codes(&resolve(none.clone(), &lib, "http://x/yn|2").0), ["y", "n"]);
        assert_eq!(codes(&resolve(none.clone(), &lib, "http://x/both").0), ["y", "n", "u"]);
        let missing = resolve(none, &lib, "#gone").0.fallback.expect("missing");
        assert_eq!(missing.reason, FallbackReason::ContainedMissing);
        assert!(matches!(lib.add_json(&json!({"resourceType": "ValueSet"}), "d.json"), Err(LibraryError::NoUrl { .. })));
        assert!(matches!(lib.add_json(&json!({"resourceType": "Patient"}), "e.json"), Err(LibraryError::Model { .. })));
    }

    #[test]
    fn a_cycle_of_value_sets_ends() {
        let mut lib = ValueSetLibrary::default();
        lib.add_json(&json!({"resourceType": "ValueSet", "url": "http://x/a", "compose": {"include": [{"valueSet": ["http://x/b"]}]}}), "a").unwrap();
        lib.add_json(&json!({"resourceType": "ValueSet", "url": "http://x/b", "compose": {"include": [{"valueSet": ["http://x/a"]}]}}), "b").unwrap();
        let (r, w) = resolve(json!({}), &lib, "http://x/a");
        assert!(r.options.is_empty());
        assert!(r.fallback.is_some());
        assert!(w.iter().any(|w| w.message.contains("nests too deeply")));
    }
}
