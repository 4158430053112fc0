//! SDC expressions in a build without FHIRPath (the browser's `rules` and `basic` builds).
//!
//! A form without expressions works exactly as in the full build. A form that carries one
//! (any extension whose value is an `Expression`, at any depth, or `sourceQueries`) is refused
//! when it loads, naming where: run without its expressions, it would show the items an
//! `enableWhenExpression` hides and leave its scores and calculated answers empty. The
//! package's shell (`pkg/index.js`) loads a build with FHIRPath whenever the form's JSON holds
//! a `valueExpression` or `sourceQueries` (a superset of what is refused here), so a patient
//! never reaches this refusal; a host that forces a lean build hears it through `onError`.
//! Leaving FHIRPath out saves what `build-web.sh` prints as the difference between the builds.

use intake_fhir::{Questionnaire, QuestionnaireItem};

use crate::questionnaire::{FormError, FormWarning, ItemId};
use crate::sdc;

/// A form's expressions: in this build, always none.
#[derive(Debug, Clone, Default)]
pub struct ExpressionBook {
    empty: ItemExpressions,
}

impl ExpressionBook {
    /// No expression: an empty book. Any expression: refused, naming the first.
    pub(crate) fn compile(
        q: &Questionnaire,
        _given: crate::questionnaire::Given<'_>,
        _raw: &[&QuestionnaireItem],
        _paths: &[String],
        _warnings: &mut Vec<FormWarning>,
    ) -> Result<ExpressionBook, FormError> {
        match sdc::first_expression(q) {
            Some(path) => Err(FormError::ExpressionsNotInThisBuild { path }),
            None => Ok(ExpressionBook::default()),
        }
    }

    pub fn drives_the_form(&self) -> bool {
        false
    }

    pub fn has_initial(&self) -> bool {
        false
    }

    pub fn item(&self, _id: ItemId) -> &ItemExpressions {
        &self.empty
    }
}

/// One item's expressions: none.
#[derive(Debug, Clone, Default)]
pub struct ItemExpressions;

impl ItemExpressions {
    pub fn enable_when_text(&self) -> Option<&str> {
        None
    }

    pub fn is_calculated(&self) -> bool {
        false
    }

    pub fn computes_options(&self) -> bool {
        false
    }

    pub fn computes_text(&self) -> bool {
        false
    }
}

/// The Questionnaire's JSON is never kept for `%questionnaire`: nothing reads it.
pub(crate) fn may_read_questionnaire(_items: &[QuestionnaireItem]) -> bool {
    false
}

impl crate::session::Session {
    /// Never called with anything to do: the book neither drives the form nor has initial
    /// expressions (`evaluate` asks both first), since a form with any is refused at load.
    pub(crate) fn run_expressions(&mut self) {}
}

#[cfg(test)]
mod tests {
    use crate::questionnaire::{Form, FormError};

    /// The path `Form::from_text` refuses the form at, or None if it loads.
    fn refused_at(items: &str, root_extension: &str) -> Option<String> {
        let text = format!(r#"{{"resourceType": "Questionnaire", "status": "active", "extension": [{root_extension}], "item": [{items}]}}"#);
        match Form::from_text(&text) {
            Ok(_) => None,
            Err(FormError::ExpressionsNotInThisBuild { path }) => Some(path),
            Err(other) => panic!("refused for another reason: {other}"),
        }
    }

    #[test]
    fn a_form_without_expressions_loads() {
        let items = r#"{"linkId": "a", "type": "boolean", "text": "Well?", "extension": [{"url": "http://example.org/x", "valueString": "%resource"}]},
            {"linkId": "b", "type": "string", "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": true}]}"#;
        assert_eq!(refused_at(items, ""), None);
    }

    #[test]
    fn any_expression_is_refused_where_it_is() {
        let calc = r#"{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression", "valueExpression": {"language": "text/fhirpath", "expression": "1 + 1"}}"#;
        let group = format!(r#"{{"linkId": "g", "type": "group", "item": [{{"linkId": "a", "type": "boolean"}}, {{"linkId": "sum", "type": "integer", "extension": [{calc}]}}]}}"#);
        assert_eq!(refused_at(&group, "").as_deref(), Some("Questionnaire.item[0].item[1].extension[0]"));
        // Nested in a complex extension (answerOptionsToggleExpression).
        let toggle = r#"{"linkId": "c", "type": "choice", "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-answerOptionsToggleExpression",
            "extension": [{"url": "option", "valueCoding": {"code": "x"}}, {"url": "expression", "valueExpression": {"language": "text/fhirpath", "expression": "true"}}]}]}"#;
        assert_eq!(refused_at(toggle, "").as_deref(), Some("Questionnaire.item[0].extension[0].extension[1]"));
        // On the item's text, and on the Questionnaire (a variable).
        let text = r#"{"linkId": "t", "type": "display", "text": "x", "_text": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/cqf-expression", "valueExpression": {"language": "text/fhirpath", "expression": "'y'"}}]}}"#;
        assert_eq!(refused_at(text, "").as_deref(), Some("Questionnaire.item[0]._text.extension[0]"));
        let variable = r#"{"url": "http://hl7.org/fhir/StructureDefinition/variable", "valueExpression": {"name": "v", "language": "text/fhirpath", "expression": "1"}}"#;
        assert_eq!(refused_at(r#"{"linkId": "a", "type": "boolean"}"#, variable).as_deref(), Some("Questionnaire.extension[0]"));
    }
}
