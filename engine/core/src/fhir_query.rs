//! `x-fhir-query` answered from the chart the host passed, never from a server.
//!
//! SDC population (`sourceQueries`, `x-fhir-query` variables) asks a FHIR server questions like
//! `Condition?patient={{%patient.id}}&clinical-status=active&_sort=-date&_count=1`. The
//! engine makes no network request: the host already gave the chart, so the query is answered
//! by searching it, with the parameters real forms use. A parameter this module does not
//! implement is an error, not ignored: ignoring a filter would return more than the form asked
//! for, and prefill the wrong thing. Resources of another patient are never returned.
//!
//! Dates compare at the precision the query gives (`ge2024` is the year), as FHIR search does;
//! time zones are not normalised (a chart's dates share one zone in practice).

use std::fmt;

use intake_fhir::json::Json;
use serde_json::json;

/// A query that cannot be answered locally.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// Not `Type?params` (or `Type`).
    NotAQuery { query: String },
    /// A search parameter this engine does not evaluate.
    Unsupported { resource_type: String, parameter: String },
    /// A parameter value that cannot be read (a date that is not one).
    BadValue { parameter: String, value: String },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::NotAQuery { query } => write!(f, "{query:?} is not a FHIR search (Type?parameter=value)"),
            QueryError::Unsupported { resource_type, parameter } => write!(
                f,
                "search parameter '{parameter}' on {resource_type} is not supported when answering from the chart (supported: patient, subject, _id, code, category, clinical-status, verification-status, status, date, questionnaire, _sort by date/authored/_lastUpdated, _count, _include of a reference); the query returns nothing"
            ),
            QueryError::BadValue { parameter, value } => write!(f, "search parameter '{parameter}': {value:?} cannot be read"),
        }
    }
}

/// A parsed search: resource type and (name, value) pairs, values percent-decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub resource_type: String,
    pub params: Vec<(String, String)>,
}

impl Query {
    /// Read `Condition?patient=1&code=x`, `/Condition?...` or `http://base/Condition?...`.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let bad = || QueryError::NotAQuery { query: text.to_owned() };
        let (path, query) = text.trim().split_once('?').unwrap_or((text.trim(), ""));
        let resource_type = path.trim_end_matches('/').rsplit('/').next().filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_uppercase())).ok_or_else(bad)?;
        if !resource_type.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        let params = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Ok(Query { resource_type: resource_type.to_owned(), params })
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => {
                    out.push(v);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The elements a token parameter reads on a resource type.
fn token_elements(resource_type: &str, param: &str) -> Option<&'static [&'static str]> {
    Some(match (resource_type, param) {
        ("MedicationStatement" | "MedicationRequest" | "MedicationAdministration" | "MedicationDispense", "code") => &["medicationCodeableConcept"],
        ("Immunization", "code" | "vaccine-code") => &["vaccineCode"],
        (_, "code") => &["code"],
        (_, "category") => &["category"],
        (_, "clinical-status") => &["clinicalStatus"],
        (_, "verification-status") => &["verificationStatus"],
        (_, "status") => &["status"],
        _ => return None,
    })
}

/// Where a resource's `date` is, by type (the search parameter's path in R4).
fn date_of(r: &Json) -> Option<String> {
    let s = |k: &str| r.get(k).and_then(Json::as_str).map(str::to_owned);
    let start = |k: &str| r.get(k).and_then(|p| p.get("start")).and_then(Json::as_str).map(str::to_owned);
    match r.get("resourceType").and_then(Json::as_str)? {
        "Observation" | "DiagnosticReport" => s("effectiveDateTime").or_else(|| s("effectiveInstant")).or_else(|| start("effectivePeriod")).or_else(|| s("issued")),
        "Condition" => s("onsetDateTime").or_else(|| start("onsetPeriod")).or_else(|| s("recordedDate")),
        "AllergyIntolerance" => s("recordedDate").or_else(|| s("onsetDateTime")),
        "Encounter" => start("period"),
        "Immunization" => s("occurrenceDateTime").or_else(|| s("recorded")),
        "Procedure" => s("performedDateTime").or_else(|| start("performedPeriod")),
        "MedicationStatement" => s("effectiveDateTime").or_else(|| start("effectivePeriod")).or_else(|| s("dateAsserted")),
        "MedicationRequest" => s("authoredOn"),
        _ => s("date").or_else(|| s("authored")),
    }
}

/// Does a CodeableConcept, Coding, code or array of them match `system|code`, `code`, `|code`
/// or `system|`?
fn token_matches(v: &Json, token: &str) -> bool {
    let (system, code) = match token.split_once('|') {
        Some((s, c)) => (Some(s), c),
        None => (None, token),
    };
    let coding_ok = |c: &Json| {
        let cs = c.get("system").and_then(Json::as_str);
        let cc = c.get("code").and_then(Json::as_str);
        let sys_ok = match system {
            None => true,
            Some("") => cs.is_none(),
            Some(s) => cs == Some(s),
        };
        sys_ok && (code.is_empty() || cc == Some(code))
    };
    match v {
        Json::String(s) => system.is_none_or(str::is_empty) && s == code,
        Json::Array(a) => a.iter().any(|x| token_matches(x, token)),
        Json::Object(o) => match o.get("coding") {
            Some(Json::Array(cs)) => cs.iter().any(coding_ok),
            _ => o.contains_key("code") && coding_ok(v),
        },
        _ => false,
    }
}

/// `ge2024-01-01` into ("ge", "2024-01-01").
fn date_prefix(v: &str) -> (&str, &str) {
    for p in ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"] {
        if let Some(rest) = v.strip_prefix(p) {
            return (p, rest);
        }
    }
    ("eq", v)
}

fn date_matches(found: &str, value: &str, parameter: &str) -> Result<bool, QueryError> {
    let (op, want) = date_prefix(value);
    let plausible = want.len() >= 4 && want.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    if !plausible || matches!(op, "sa" | "eb") {
        return Err(QueryError::BadValue { parameter: parameter.to_owned(), value: value.to_owned() });
    }
    // Compared at the query's precision: `2024-03` matches any day of March 2024.
    let have = found.get(..want.len()).unwrap_or(found);
    Ok(match op {
        "eq" => have == want,
        "ne" => have != want,
        "gt" => have > want,
        "lt" => have < want,
        "ge" => have >= want,
        _ => have <= want,
    })
}

/// Answer `q` from `resources` (the chart's, with their fullUrls). `is_patient` says whether a
/// reference names the chart's patient. Returns a `searchset` Bundle.
pub fn search(resources: &[(Option<&str>, &Json)], is_patient: &dyn Fn(&str) -> bool, q: &Query) -> Result<Json, QueryError> {
    let rt = q.resource_type.as_str();
    let mut sort: Option<(bool, &str)> = None;
    let mut count: Option<usize> = None;
    let mut includes: Vec<&str> = Vec::new();
    // Checked first, so an unsupported parameter fails whatever the chart holds.
    for (k, v) in &q.params {
        let name = k.split(':').next().unwrap_or(k);
        match name {
            "patient" | "subject" | "_id" | "date" => {}
            "questionnaire" if rt == "QuestionnaireResponse" => {}
            "_sort" => {
                let (desc, key) = match v.strip_prefix('-') {
                    Some(k) => (true, k),
                    None => (false, v.as_str()),
                };
                match key {
                    "date" | "authored" | "_lastUpdated" => sort = Some((desc, key)),
                    _ => return Err(QueryError::Unsupported { resource_type: rt.to_owned(), parameter: format!("_sort={v}") }),
                }
            }
            // `Type:param`: the resources that element references, added as includes.
            "_include" => match v.split(':').collect::<Vec<_>>().as_slice() {
                [t, el] if *t == rt => includes.push(el),
                _ => return Err(QueryError::Unsupported { resource_type: rt.to_owned(), parameter: format!("_include={v}") }),
            },
            "_count" => count = Some(v.parse().map_err(|_| QueryError::BadValue { parameter: "_count".into(), value: v.clone() })?),
            "_format" => {}
            _ if token_elements(rt, name).is_some() && !k.contains(':') => {}
            _ => return Err(QueryError::Unsupported { resource_type: rt.to_owned(), parameter: k.clone() }),
        }
    }
    let mut hits: Vec<(Option<&str>, &Json)> = Vec::new();
    'resources: for &(url, r) in resources {
        if r.get("resourceType").and_then(Json::as_str) != Some(rt) {
            continue;
        }
        // Another patient's resource is never an answer.
        let owner = ["subject", "patient"].iter().find_map(|k| r.get(*k).and_then(|x| x.get("reference")).and_then(Json::as_str));
        if owner.is_some_and(|o| !is_patient(o)) {
            continue;
        }
        for (k, v) in &q.params {
            let ok = match k.as_str() {
                "patient" | "subject" => {
                    let wanted = if v.contains('/') { v.clone() } else { format!("Patient/{v}") };
                    if rt == "Patient" {
                        false
                    } else {
                        is_patient(&wanted) && owner.is_some()
                    }
                }
                "_id" => v.split(',').any(|id| r.get("id").and_then(Json::as_str) == Some(id)),
                "questionnaire" => r.get("questionnaire").and_then(Json::as_str).is_some_and(|have| {
                    // A canonical matches with or without its version.
                    let base = |c: &str| c.split('|').next().unwrap_or(c).to_owned();
                    have == v || (!v.contains('|') && base(have) == *v)
                }),
                "date" => match date_of(r) {
                    Some(d) => date_matches(&d, v, k)?,
                    None => false,
                },
                "_sort" | "_count" | "_format" | "_include" => true,
                name => match token_elements(rt, name) {
                    Some(els) => v.split(',').any(|t| els.iter().any(|e| r.get(*e).is_some_and(|x| token_matches(x, t)))),
                    None => false,
                },
            };
            if !ok {
                continue 'resources;
            }
        }
        hits.push((url, r));
    }
    if let Some((desc, key)) = sort {
        let key_of = |r: &Json| match key {
            "authored" => r.get("authored").and_then(Json::as_str).map(str::to_owned),
            "_lastUpdated" => r.get("meta").and_then(|m| m.get("lastUpdated")).and_then(Json::as_str).map(str::to_owned),
            _ => date_of(r),
        };
        intake_order::sort_by(&mut hits, |a, b| {
            let (x, y) = (key_of(a.1), key_of(b.1));
            // Undated last either way.
            match (x, y) {
                (Some(x), Some(y)) if desc => y.cmp(&x),
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }
    let total = hits.len();
    if let Some(n) = count {
        hits.truncate(n);
    }
    // Included resources: what the matches reference through the named element
    // (`MedicationStatement:medication` follows `medicationReference`), found in the chart by
    // `Type/id` or fullUrl, each once.
    let mut included: Vec<(Option<&str>, &Json)> = Vec::new();
    for el in &includes {
        for (_, r) in &hits {
            let element = r.get(*el).or_else(|| r.get(&format!("{el}Reference")));
            let Some(reference) = element.and_then(|x| x.get("reference")).and_then(Json::as_str) else { continue };
            let found = resources.iter().find(|(url, x)| {
                *url == Some(reference)
                    || matches!((x.get("resourceType").and_then(Json::as_str), x.get("id").and_then(Json::as_str)), (Some(t), Some(id)) if reference == format!("{t}/{id}"))
            });
            if let Some(&(url, x)) = found {
                if !included.iter().any(|(_, y)| std::ptr::eq(*y, x)) && !hits.iter().any(|(_, y)| std::ptr::eq(*y, x)) {
                    included.push((url, x));
                }
            }
        }
    }
    let entry: Vec<Json> = hits
        .into_iter()
        .map(|h| (h, "match"))
        .chain(included.into_iter().map(|h| (h, "include")))
        .map(|((url, r), mode)| {
            let mut e = json!({"resource": r, "search": {"mode": mode}});
            if let Some(u) = url {
                e["fullUrl"] = Json::String(u.to_owned());
            }
            e
        })
        .collect();
    Ok(json!({"resourceType": "Bundle", "type": "searchset", "total": total, "entry": entry}))
}

/// `{{expression}}` parts of an x-fhir-query: literal text and embedded FHIRPath.
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Expr(intake_fhirpath::Expr),
}

/// Split a query template; an embedded expression that does not parse is an error message.
pub fn template(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        parts.push(Part::Text(rest[..i].to_owned()));
        let after = &rest[i + 2..];
        let j = after.find("}}").ok_or_else(|| format!("'{{{{' without '}}}}' in {text:?}"))?;
        let expr = intake_fhirpath::Expr::parse(after[..j].trim()).map_err(|e| format!("{{{{{}}}}}: {e}", after[..j].trim()))?;
        parts.push(Part::Expr(expr));
        rest = &after[j + 2..];
    }
    parts.push(Part::Text(rest.to_owned()));
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Vec<Json> {
        vec![
            json!({"resourceType": "Patient", "id": "p1"}),
            json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}, "onsetDateTime": "2019-04-01"}),
            json!({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}]},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195662009"}]}, "onsetDateTime": "2023-01-10"}),
            json!({"resourceType": "Condition", "id": "other", "subject": {"reference": "Patient/p2"},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}}),
            json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "effectiveDateTime": "2024-02-01T10:00:00Z"}),
            json!({"resourceType": "Observation", "id": "o2", "subject": {"reference": "Patient/p1"}, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}, "effectiveDateTime": "2025-06-01T10:00:00Z"}),
        ]
    }

    fn ids(q: &str) -> Result<Vec<String>, QueryError> {
        let c = chart();
        let res: Vec<(Option<&str>, &Json)> = c.iter().map(|r| (None, r)).collect();
        let is_p1 = |r: &str| r == "Patient/p1";
        let b = search(&res, &is_p1, &Query::parse(q)?)?;
        Ok(b["entry"].as_array().unwrap().iter().map(|e| e["resource"]["id"].as_str().unwrap().to_owned()).collect())
    }

    #[test]
    fn the_parameters_forms_use() {
        assert_eq!(ids("Condition?patient=p1").unwrap(), ["c1", "c2"], "never another patient's");
        assert_eq!(ids("Condition?subject=Patient/p1&clinical-status=active").unwrap(), ["c1"]);
        assert_eq!(ids("Condition?patient=p2").unwrap(), Vec::<String>::new());
        assert_eq!(ids("Condition?code=http://snomed.info/sct%7C38341003").unwrap(), ["c1"]);
        assert_eq!(ids("Condition?code=195662009,38341003").unwrap(), ["c1", "c2"]);
        assert_eq!(ids("Condition?category=problem-list-item").unwrap(), ["c1"]);
        assert_eq!(ids("Observation?code=29463-7&_sort=-date&_count=1").unwrap(), ["o2"]);
        assert_eq!(ids("Observation?code=29463-7&_sort=date").unwrap(), ["o1", "o2"]);
        assert_eq!(ids("Observation?date=ge2025&status=final").unwrap(), ["o2"]);
        assert_eq!(ids("Observation?date=lt2024-03").unwrap(), ["o1"]);
        assert_eq!(ids("/Condition?_id=c2").unwrap(), ["c2"]);
        assert_eq!(ids("https://example.org/fhir/Observation?patient=p1&code=|29463-7").unwrap(), Vec::<String>::new(), "|code: no system");
    }

    #[test]
    fn includes_and_questionnaire_responses() {
        let c = vec![
            json!({"resourceType": "Medication", "id": "m1", "code": {"text": "Amlodipine"}}),
            json!({"resourceType": "MedicationStatement", "id": "s1", "status": "active", "subject": {"reference": "Patient/p1"}, "medicationReference": {"reference": "Medication/m1"}}),
            json!({"resourceType": "QuestionnaireResponse", "id": "r1", "status": "completed", "subject": {"reference": "Patient/p1"}, "questionnaire": "http://x/q|2", "authored": "2024-01-01"}),
            json!({"resourceType": "QuestionnaireResponse", "id": "r2", "status": "completed", "subject": {"reference": "Patient/p1"}, "questionnaire": "http://x/q|3", "authored": "2025-01-01"}),
        ];
        let res: Vec<(Option<&str>, &Json)> = c.iter().map(|r| (None, r)).collect();
        let is_p1 = |r: &str| r == "Patient/p1";
        let b = search(&res, &is_p1, &Query::parse("MedicationStatement?patient=p1&status=active&_include=MedicationStatement:medication").unwrap()).unwrap();
        let modes: Vec<(&str, &str)> = b["entry"].as_array().unwrap().iter().map(|e| (e["resource"]["id"].as_str().unwrap(), e["search"]["mode"].as_str().unwrap())).collect();
        assert_eq!(modes, [("s1", "match"), ("m1", "include")]);
        let b = search(&res, &is_p1, &Query::parse("QuestionnaireResponse?questionnaire=http://x/q&status=completed&_sort=-authored&_count=1&patient=p1").unwrap()).unwrap();
        assert_eq!(b["entry"][0]["resource"]["id"], "r2");
        assert_eq!(b["total"], 2);
    }

    #[test]
    fn what_it_cannot_answer_is_an_error_not_a_superset() {
        assert!(matches!(ids("Condition?patient=p1&onset-age=gt10"), Err(QueryError::Unsupported { .. })));
        assert!(matches!(ids("Condition?_sort=code"), Err(QueryError::Unsupported { .. })));
        assert!(matches!(ids("Condition?code:text=diabetes"), Err(QueryError::Unsupported { .. })));
        assert!(matches!(ids("Observation?date=soon"), Err(QueryError::BadValue { .. })));
        assert!(matches!(ids("?patient=1"), Err(QueryError::NotAQuery { .. })));
    }

    #[test]
    fn templates_split_around_embedded_fhirpath() {
        let parts = template("Condition?patient={{%patient.id}}&_count=1").unwrap();
        assert_eq!(parts.len(), 3);
        assert!(matches!(&parts[1], Part::Expr(_)));
        assert!(template("Condition?patient={{%patient.id").is_err());
        assert!(template("Condition?patient={{%patient..id}}").is_err());
    }
}
