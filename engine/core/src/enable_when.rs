//! enableWhen semantics (FHIR R4 `Questionnaire.item.enableWhen`), as pure functions.
//!
//! - `exists`: true when "the question has an answer" equals the boolean given.
//! - `=`, `>`, `<`, `>=`, `<=`: true when at least one answer satisfies the comparison.
//! - `!=`: true when no answer equals the value (the R5 wording, which is what LHC-Forms and
//!   Smart Forms implement; so `!=` with no answer at all is true).
//! - Any other operator with no answer is false.
//! - Comparisons that cannot be decided are false: dates of different precision
//!   (`2020` vs `2020-05`), quantities in units that cannot be converted, ordering of
//!   booleans or codes.
//!
//! Answers of disabled items never reach these functions: the caller passes only
//! *effective* answers, so a condition on a hidden question behaves as if it were unanswered.

use std::cmp::Ordering;

use intake_fhir::{Coding, Quantity, Value};

use crate::questionnaire::{Condition, EnableBehavior, ItemDef, ItemType, Operator};
use crate::units;

/// Evaluate one condition against the effective answers of its question.
pub fn condition_holds(cond: &Condition, answers: &[Value]) -> bool {
    match cond.operator {
        Operator::Exists => match cond.answer {
            Value::Boolean(want) => !answers.is_empty() == want,
            // A non-boolean `exists` answer is a form error reported at load; treat as "has an answer".
            _ => !answers.is_empty(),
        },
        Operator::Ne => !answers.iter().any(|a| compare(a, &cond.answer) == Some(Ordering::Equal)),
        op => answers.iter().any(|a| match compare(a, &cond.answer) {
            Some(ord) => match op {
                Operator::Eq => ord == Ordering::Equal,
                Operator::Gt => ord == Ordering::Greater && orderable(a),
                Operator::Lt => ord == Ordering::Less && orderable(a),
                Operator::Ge => ord != Ordering::Less && (ord == Ordering::Equal || orderable(a)),
                Operator::Le => ord != Ordering::Greater && (ord == Ordering::Equal || orderable(a)),
                // Handled above.
                Operator::Exists | Operator::Ne => false,
            },
            None => false,
        }),
    }
}

/// Combine the conditions of an item with its enableBehavior. No conditions: enabled.
pub fn item_enabled(behavior: EnableBehavior, results: impl Iterator<Item = bool>) -> bool {
    let mut any_seen = false;
    match behavior {
        EnableBehavior::Any => {
            for r in results {
                if r {
                    return true;
                }
                any_seen = true;
            }
            !any_seen
        }
        EnableBehavior::All => {
            for r in results {
                if !r {
                    return false;
                }
            }
            true
        }
    }
}

/// Values that have an order (booleans and codes only have equality).
fn orderable(v: &Value) -> bool {
    !matches!(v, Value::Boolean(_) | Value::Coding(_) | Value::Reference(_))
}

/// Compare an answer with a condition value. `None` when the two cannot be compared.
pub fn compare(answer: &Value, expected: &Value) -> Option<Ordering> {
    use Value as V;
    match (answer, expected) {
        (V::Boolean(a), V::Boolean(b)) => Some(a.cmp(b)),
        (V::Integer(a), V::Integer(b)) => Some(a.cmp(b)),
        (V::Integer(_) | V::Decimal(_), V::Integer(_) | V::Decimal(_)) => {
            answer.as_number()?.partial_cmp(&expected.as_number()?)
        }
        (V::Date(a), V::Date(b)) => a.partial_cmp_fhir(b),
        (V::DateTime(a), V::DateTime(b)) => a.partial_cmp_fhir(b),
        (V::DateTime(a), V::Date(b)) => a.date.partial_cmp_fhir(b).filter(|o| *o != Ordering::Equal || a.time.is_none()),
        (V::Date(a), V::DateTime(b)) => a.partial_cmp_fhir(&b.date).filter(|o| *o != Ordering::Equal || b.time.is_none()),
        (V::Time(a), V::Time(b)) => a.partial_cmp(b),
        (V::Coding(a), V::Coding(b)) => codings_equal(a, b).then_some(Ordering::Equal).or(Some(Ordering::Less)),
        (V::Quantity(a), V::Quantity(b)) => compare_quantities(a, b),
        // A quantity question compared with a bare number (common in hand-written forms).
        (V::Quantity(a), V::Integer(_) | V::Decimal(_)) => a.value?.partial_cmp(&expected.as_number()?),
        (V::Reference(a), V::Reference(b)) => {
            let same = a.reference.is_some() && a.reference == b.reference;
            Some(if same { Ordering::Equal } else { Ordering::Less })
        }
        _ => {
            let (a, b) = (answer.as_str()?, expected.as_str()?);
            Some(a.cmp(b))
        }
    }
}

/// Codings match on code, and on system when both give one.
pub fn codings_equal(a: &Coding, b: &Coding) -> bool {
    if a.code.is_none() || a.code != b.code {
        return false;
    }
    match (&a.system, &b.system) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

fn compare_quantities(a: &Quantity, b: &Quantity) -> Option<Ordering> {
    let (va, vb) = (a.value?, b.value?);
    match (a.unit_key(), b.unit_key()) {
        (Some(ua), Some(ub)) => units::convert(va, ua, ub)?.partial_cmp(&vb),
        (None, None) => va.partial_cmp(&vb),
        _ => None,
    }
}

/// A load-time check: can this condition ever be true for this question's type?
pub fn type_mismatch(question: &ItemDef, op: Operator, answer: &Value) -> Option<String> {
    use ItemType as T;
    if op == Operator::Exists {
        return (!matches!(answer, Value::Boolean(_)))
            .then(|| format!("'exists' needs answerBoolean, found answer{}", answer.type_name()));
    }
    if matches!(question.item_type, T::Group | T::Display) {
        return Some(format!(
            "'{}' is a {} and never has an answer, so this condition is never true",
            question.link_id,
            question.item_type.code()
        ));
    }
    let ok = match question.item_type {
        T::Boolean => matches!(answer, Value::Boolean(_)),
        T::Decimal | T::Integer => matches!(answer, Value::Decimal(_) | Value::Integer(_)),
        T::Date | T::DateTime => matches!(answer, Value::Date(_) | Value::DateTime(_)),
        T::Time => matches!(answer, Value::Time(_)),
        T::String | T::Text | T::Url => answer.as_str().is_some(),
        T::Choice | T::OpenChoice => matches!(
            answer,
            Value::Coding(_) | Value::String(_) | Value::Integer(_) | Value::Date(_) | Value::Time(_) | Value::Reference(_)
        ),
        T::Quantity => matches!(answer, Value::Quantity(_) | Value::Decimal(_) | Value::Integer(_)),
        T::Reference => matches!(answer, Value::Reference(_)),
        T::Attachment => false,
        T::Group | T::Display => false,
    };
    if !ok {
        return Some(format!(
            "'{}' is a {} question but the condition compares answer{}, so it is never true",
            question.link_id,
            question.item_type.code(),
            answer.type_name()
        ));
    }
    let ordered = matches!(op, Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le);
    if ordered && matches!(answer, Value::Boolean(_) | Value::Coding(_) | Value::Reference(_)) {
        return Some(format!("'{}' cannot be ordered with '{}'", answer.type_name(), op.symbol()));
    }
    None
}
