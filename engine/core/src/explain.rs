//! Plain-language reasons: why an item is shown to the patient, why another is not.
//!
//! The patient sees [`why_text`] next to a question that appeared because of something they
//! said or something in their chart; `intake explain` prints both for informaticists.

use crate::questionnaire::{Form, Operator};
use crate::session::{Hidden, Why};

/// Why an item is shown, in the patient's language (`en`, `es`).
pub fn why_text(form: &Form, why: &Why, lang: &str) -> String {
    let es = lang.starts_with("es");
    match why {
        Why::Rule { reason: Some(r), .. } | Why::Author(r) if !r.text.is_empty() => r.in_lang(lang).to_owned(),
        Why::Rule { .. } | Why::Author(_) => {
            if es { "Le preguntamos por su historia clínica.".into() } else { "We ask because of your health record.".into() }
        }
        Why::Answer { question, operator, value } => {
            let q = form.item(*question);
            let label = q.text.as_ref().map(|t| t.in_lang(lang).to_owned()).unwrap_or_else(|| q.link_id.clone());
            let shown = option_label(form, *question, value, lang);
            // Inside a row (a medicine, an allergy) the question is the row's own and its text
            // is generic ("Is this still correct?"): name the choice, not the question.
            if q.in_repeating_group && *operator == Operator::Eq {
                return if es {
                    format!("Porque eligió \u{201c}{shown}\u{201d}.")
                } else {
                    format!("Because you chose \u{201c}{shown}\u{201d}.")
                };
            }
            match (operator, es) {
                (Operator::Exists, false) => format!("You answered \u{201c}{label}\u{201d}."),
                (Operator::Exists, true) => format!("Respondió \u{201c}{label}\u{201d}."),
                (Operator::Eq, false) => format!("You answered \u{201c}{shown}\u{201d} to \u{201c}{label}\u{201d}."),
                (Operator::Eq, true) => format!("Respondió \u{201c}{shown}\u{201d} a \u{201c}{label}\u{201d}."),
                (_, false) => format!("Because of your answer to \u{201c}{label}\u{201d}."),
                (_, true) => format!("Por su respuesta a \u{201c}{label}\u{201d}."),
            }
        }
    }
}

/// The label of an answer value, using the option's translation when the value is an option.
fn option_label(form: &Form, question: crate::questionnaire::ItemId, value: &intake_fhir::Value, lang: &str) -> String {
    let es = lang.starts_with("es");
    if let intake_fhir::Value::Boolean(b) = value {
        return match (b, es) {
            (true, false) => "Yes".into(),
            (false, false) => "No".into(),
            (true, true) => "Sí".into(),
            (false, true) => "No".into(),
        };
    }
    let def = form.item(question);
    def.options
        .iter()
        .find(|o| crate::enable_when::compare(&o.value, value) == Some(std::cmp::Ordering::Equal))
        .map(|o| o.label_in(lang))
        .unwrap_or_else(|| value.display())
}

/// Why an item is hidden, for form authors (English).
pub fn hidden_text(form: &Form, hidden: &Hidden, item: crate::questionnaire::ItemId) -> String {
    match hidden {
        Hidden::Parent => "its group is hidden".into(),
        Hidden::EnableWhen => {
            let def = form.item(item);
            let conds: Vec<String> = def
                .enable_when
                .iter()
                .map(|c| format!("{} {} {}", form.item(c.question).link_id, c.operator.symbol(), c.answer.display()))
                .collect();
            let joiner = match def.enable_behavior {
                crate::questionnaire::EnableBehavior::All => " and ",
                crate::questionnaire::EnableBehavior::Any => " or ",
            };
            format!("enableWhen not met: {}", conds.join(joiner))
        }
        Hidden::NotAsked => "no rule asked for it".into(),
        Hidden::Expression => match form.expressions.item(item).enable_when_text() {
            Some(text) => format!("enableWhenExpression is not true: {text}"),
            None => "enableWhenExpression is not true".into(),
        },
        Hidden::Rule { rule, reason: Some(r) } => format!("hidden by {rule}: {}", r.text),
        Hidden::Rule { rule, reason: None } => format!("hidden by {rule}"),
        Hidden::NewRow => "a row the patient added: nothing on file to review".into(),
    }
}

/// Why an item is shown, for form authors: the patient text plus where it came from.
pub fn why_source(why: &Why) -> String {
    match why {
        Why::Rule { rule, .. } => format!("rule {rule}"),
        Why::Answer { .. } => "enableWhen".into(),
        Why::Author(_) => "form author".into(),
    }
}
