//! Checking and normalising answers before they enter a session.
//!
//! Every answer is checked against its item's type; nothing malformed is stored. Where a value
//! can be read as the item's type without loss (an integer for a decimal, a date for a
//! dateTime) it is converted. Choice answers are mapped onto the item's options, so the
//! response always carries the option's full coding; for open-choice items, free text that
//! *exactly* names an option (its display, a synonym, or a translation, ignoring case and
//! spacing) becomes that coded option. Anything else stays free text: we never guess a code.

use std::fmt;

use intake_fhir::{Coding, Date, DateTime, Quantity, Reference, Time, Value};

use crate::questionnaire::{AnswerChoice, ItemDef, ItemType};

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerError {
    UnknownItem { link_id: String },
    NotAQuestion { link_id: String, item_type: &'static str },
    ReadOnly { link_id: String },
    WrongType { link_id: String, expected: &'static str, got: String },
    NotAnOption { link_id: String, value: String },
    UnknownUnit { link_id: String, unit: String, allowed: Vec<String> },
    TooManyAnswers { link_id: String },
    Unparseable { link_id: String, expected: &'static str, text: String },
    /// The row or item was removed, or the id does not belong to this session.
    NoSuchNode,
    /// The item sits in a repeating group: say which row.
    AmbiguousRow { link_id: String },
    /// Of the right type, but outside what FHIR R4 can carry (an integer beyond 32 bits, a
    /// year before 0001).
    OutOfRange { link_id: String, what: String },
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::UnknownItem { link_id } => write!(f, "'{link_id}' is not an item of this form"),
            AnswerError::NotAQuestion { link_id, item_type } => {
                write!(f, "'{link_id}' is a {item_type} item and takes no answer")
            }
            AnswerError::ReadOnly { link_id } => write!(f, "'{link_id}' is read-only"),
            AnswerError::WrongType { link_id, expected, got } => {
                write!(f, "'{link_id}' expects {expected}, got {got}")
            }
            AnswerError::NotAnOption { link_id, value } => {
                write!(f, "'{value}' is not one of the options of '{link_id}'")
            }
            AnswerError::UnknownUnit { link_id, unit, allowed } => {
                write!(f, "'{link_id}' takes units {}, not '{unit}'", allowed.join(", "))
            }
            AnswerError::TooManyAnswers { link_id } => write!(f, "'{link_id}' takes one answer, not several"),
            AnswerError::Unparseable { link_id, expected, text } => {
                write!(f, "'{link_id}' expects {expected}; \"{text}\" is not one")
            }
            AnswerError::NoSuchNode => write!(f, "that item is no longer part of the form"),
            AnswerError::AmbiguousRow { link_id } => {
                write!(f, "'{link_id}' is inside a repeating group; say which row the answer belongs to")
            }
            AnswerError::OutOfRange { link_id, what } => write!(f, "'{link_id}': {what}"),
        }
    }
}

impl std::error::Error for AnswerError {}

fn expected(t: ItemType) -> &'static str {
    match t {
        ItemType::Boolean => "yes or no",
        ItemType::Decimal => "a number",
        ItemType::Integer => "a whole number",
        ItemType::Date => "a date (YYYY, YYYY-MM or YYYY-MM-DD)",
        ItemType::DateTime => "a date and time",
        ItemType::Time => "a time (hh:mm)",
        ItemType::String | ItemType::Text => "text",
        ItemType::Url => "a web address",
        ItemType::Choice => "one of the options",
        ItemType::OpenChoice => "one of the options or your own words",
        ItemType::Attachment => "a file",
        ItemType::Reference => "a reference",
        ItemType::Quantity => "an amount with a unit",
        ItemType::Group | ItemType::Display => "no answer",
    }
}

/// Check and normalise a list of answers for an item.
pub fn coerce_all(def: &ItemDef, values: Vec<Value>) -> Result<Vec<Value>, AnswerError> {
    if !def.item_type.is_question() {
        return Err(AnswerError::NotAQuestion { link_id: def.link_id.clone(), item_type: def.item_type.code() });
    }
    if values.len() > 1 && !def.repeats {
        return Err(AnswerError::TooManyAnswers { link_id: def.link_id.clone() });
    }
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        // Blank text is no answer (a cleared field), not an empty string: FHIR forbids empty
        // values, and a blank must not satisfy `required` or fail a format check.
        if matches!(&v, Value::String(s) if s.trim().is_empty()) {
            continue;
        }
        let v = coerce(def, v)?;
        // The same answer twice in a repeating item is one answer.
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Check and normalise one answer.
pub fn coerce(def: &ItemDef, v: Value) -> Result<Value, AnswerError> {
    let wrong = |v: &Value| AnswerError::WrongType {
        link_id: def.link_id.clone(),
        expected: expected(def.item_type),
        got: format!("{} {}", v.type_name(), v.display()),
    };
    let out_of_range = |what: String| AnswerError::OutOfRange { link_id: def.link_id.clone(), what };
    use ItemType as T;
    Ok(match (def.item_type, v) {
        (T::Boolean, v @ Value::Boolean(_)) => v,
        // FHIR's integer is 32-bit: a larger value would be invalid R4 on the wire.
        (T::Integer, Value::Integer(i)) if i32::try_from(i).is_err() => {
            return Err(out_of_range(format!("{i} is larger than a whole-number answer can be")))
        }
        (T::Integer, v @ Value::Integer(_)) => v,
        (T::Date | T::DateTime, Value::Date(d)) if d.year < 1 => {
            return Err(out_of_range(format!("year {:04} is before the first year a FHIR date can hold (0001)", d.year)))
        }
        (T::DateTime, Value::DateTime(d)) if d.date.year < 1 => {
            return Err(out_of_range(format!("year {:04} is before the first year a FHIR date can hold (0001)", d.date.year)))
        }
        (T::Decimal, Value::Integer(i)) => Value::Decimal(i as f64),
        (T::Decimal, Value::Decimal(d)) if d.is_finite() => Value::Decimal(d),
        (T::Date, v @ Value::Date(_)) => v,
        (T::DateTime, v @ Value::DateTime(_)) => v,
        (T::DateTime, Value::Date(d)) => Value::DateTime(DateTime { date: d, time: None, offset_minutes: None, zulu: false }),
        (T::Time, v @ Value::Time(_)) => v,
        (T::String | T::Text, Value::String(s)) => Value::String(without_control_characters(s)),
        (T::Url, Value::String(s)) => Value::Text { type_name: "Uri", value: s },
        (T::Url, v @ Value::Text { type_name: "Uri" | "Url", .. }) => v,
        (T::Reference, v @ Value::Reference(_)) => v,
        (T::Attachment, v @ Value::Attachment(_)) => v,
        (T::Quantity, v) => quantity(def, v)?,
        (T::Choice, v) => match choose(def, &v) {
            Some(option) => option,
            // Options nobody could list in full (see `value_set`): a coding the host's
            // terminology search returned is taken as given, and the patient's own words as
            // free text that the write-back sends for coding.
            None if def.options_fallback.is_some() || def.options.is_empty() => match v {
                c @ Value::Coding(_) => c,
                Value::String(s) if def.options_fallback.is_some() => Value::String(without_control_characters(s)),
                other => return Err(AnswerError::NotAnOption { link_id: def.link_id.clone(), value: other.display() }),
            },
            None => return Err(AnswerError::NotAnOption { link_id: def.link_id.clone(), value: v.display() }),
        },
        (T::OpenChoice, v) => match choose(def, &v) {
            Some(option) => option,
            None => match v {
                Value::String(s) => Value::String(without_control_characters(s)),
                c @ Value::Coding(_) => c,
                other => return Err(wrong(&other)),
            },
        },
        (_, v) => return Err(wrong(&v)),
    })
}

/// Text without control characters other than tab and line breaks: FHIR strings may not hold
/// them (NUL, BEL, ESC pasted from elsewhere carry no meaning), and a receiver may choke on them.
fn without_control_characters(s: String) -> String {
    if !s.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return s;
    }
    s.chars().filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect()
}

/// The option an answer names: by code or equal value, or (for text) by exact label match.
/// The option's own extensions (display translations) are not part of the answer.
fn choose(def: &ItemDef, v: &Value) -> Option<Value> {
    choose_option(def, v).map(|mut o| {
        if let Value::Coding(c) = &mut o {
            c.extra.remove("_display");
        }
        o
    })
}

fn choose_option(def: &ItemDef, v: &Value) -> Option<Value> {
    match v {
        Value::Coding(c) => def
            .options
            .iter()
            .find(|o| o.value.as_coding().is_some_and(|oc| crate::enable_when::codings_equal(oc, c)))
            .map(|o| o.value.clone()),
        Value::String(s) => {
            let by_code = def.options.iter().find(|o| match &o.value {
                Value::Coding(c) => c.code.as_deref() == Some(s.as_str()),
                Value::String(x) => x == s,
                _ => false,
            });
            by_code.or_else(|| match_label(&def.options, s)).map(|o| o.value.clone())
        }
        other => def.options.iter().find(|o| &o.value == other).map(|o| o.value.clone()),
    }
}

/// Normalised for exact matching: lower case, single spaces, no accents on Latin letters.
/// (Latin folding is spelled out rather than using Unicode case tables, which cost wasm bytes;
/// option labels and synonyms are in Latin script.)
pub fn normalise(s: &str) -> String {
    let folded: String = s
        .trim()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            'ç' | 'Ç' => 'c',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The option whose label, synonym or translation is exactly this text.
pub fn match_label<'a>(options: &'a [AnswerChoice], text: &str) -> Option<&'a AnswerChoice> {
    let want = normalise(text);
    if want.is_empty() {
        return None;
    }
    let matches: Vec<&AnswerChoice> = options
        .iter()
        .filter(|o| normalise(&o.label) == want || o.designations.iter().any(|(_, d)| normalise(d) == want))
        .collect();
    // Two options answering to the same words is ambiguous: leave it as free text for review.
    match matches.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn quantity(def: &ItemDef, v: Value) -> Result<Value, AnswerError> {
    let mut q = match v {
        Value::Quantity(q) => q,
        Value::Integer(_) | Value::Decimal(_) if def.units.len() == 1 => Quantity {
            value: v.as_number(),
            ..Default::default()
        },
        other => {
            return Err(AnswerError::WrongType {
                link_id: def.link_id.clone(),
                expected: expected(def.item_type),
                got: format!("{} {}", other.type_name(), other.display()),
            })
        }
    };
    if !q.value.is_some_and(f64::is_finite) {
        return Err(AnswerError::Unparseable { link_id: def.link_id.clone(), expected: "a number", text: String::new() });
    }
    if def.units.is_empty() {
        return Ok(Value::Quantity(q));
    }
    let given = q.code.clone().or_else(|| q.unit.clone());
    let unit = match given.as_deref() {
        None if def.units.len() == 1 => Some(&def.units[0]),
        None => None,
        Some(u) => def.units.iter().find(|c| c.code.as_deref() == Some(u) || c.display.as_deref() == Some(u)),
    };
    let Some(unit) = unit else {
        return Err(AnswerError::UnknownUnit {
            link_id: def.link_id.clone(),
            unit: given.unwrap_or_default(),
            allowed: def.units.iter().filter_map(|c| c.code.clone()).collect(),
        });
    };
    q.system = unit.system.clone();
    q.code = unit.code.clone();
    q.unit = unit.display.clone().or_else(|| unit.code.clone());
    Ok(Value::Quantity(q))
}

/// Read an answer typed as text (from a form field or a command line) for an item.
pub fn parse_text(def: &ItemDef, text: &str) -> Result<Value, AnswerError> {
    let t = text.trim();
    let bad = |expected: &'static str| AnswerError::Unparseable { link_id: def.link_id.clone(), expected, text: t.to_owned() };
    use ItemType as T;
    let v = match def.item_type {
        T::Boolean => match normalise(t).as_str() {
            "true" | "yes" | "y" | "si" => Value::Boolean(true),
            "false" | "no" | "n" => Value::Boolean(false),
            _ => return Err(bad("yes or no")),
        },
        T::Integer => Value::Integer(t.parse().map_err(|_| bad("a whole number"))?),
        T::Decimal => {
            let d = intake_text::parse_f64(&t.replace(',', ".")).ok_or_else(|| bad("a number"))?;
            if !d.is_finite() {
                return Err(bad("a number"));
            }
            Value::Decimal(d)
        }
        T::Date => Value::Date(Date::parse(t).ok_or_else(|| bad("a date (YYYY, YYYY-MM or YYYY-MM-DD)"))?),
        T::DateTime => match DateTime::parse(t) {
            Some(d) => Value::DateTime(d),
            // HTML datetime-local inputs send `YYYY-MM-DDThh:mm` without seconds.
            None => Value::DateTime(DateTime::parse(&format!("{t}:00")).ok_or_else(|| bad("a date and time"))?),
        },
        T::Time => Value::Time(Time::parse(t).ok_or_else(|| bad("a time (hh:mm)"))?),
        T::Quantity => {
            let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic() || c == '[' || c == '°') {
                Some(i) => (t[..i].trim(), Some(t[i..].trim())),
                None => (t, None),
            };
            let value = intake_text::parse_f64(&num.replace(',', ".")).ok_or_else(|| bad("an amount with a unit"))?;
            Value::Quantity(Quantity { value: Some(value), code: unit.map(str::to_owned), ..Default::default() })
        }
        T::Reference => Value::Reference(Reference::to(t)),
        T::Choice | T::OpenChoice => {
            if let Some(o) = def.options.iter().find(|o| o.value.as_coding().and_then(|c| c.code.as_deref()) == Some(t)) {
                o.value.clone()
            } else {
                Value::String(t.to_owned())
            }
        }
        _ => Value::String(t.to_owned()),
    };
    coerce(def, v)
}

/// A coding as a display label for messages.
pub fn coding_label(c: &Coding) -> String {
    c.display.clone().or_else(|| c.code.clone()).unwrap_or_default()
}
