//! Questionnaire and QuestionnaireResponse (FHIR R4), with the SDC extensions kept on items.

use crate::datatypes::{find_ext, Coding, Extension, Identifier, Meta, PrimitiveElement, Reference, Value};
use crate::fhir_element;
use crate::json::Json;
use crate::temporal::DateTime;

fhir_element! {
    /// A form definition. Visit types are Questionnaires, so forms from other tools load here.
    pub struct Questionnaire: resource "Questionnaire" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        language: opt String = "language",
        contained: vec Json = "contained",
        extension: vec Extension = "extension",
        url: opt String = "url",
        identifier: vec Identifier = "identifier",
        version: opt String = "version",
        name: opt String = "name",
        title: opt String = "title",
        title_ext: opt PrimitiveElement = "_title",
        status: opt String = "status",
        subject_type: vec String = "subjectType",
        date: opt String = "date",
        publisher: opt String = "publisher",
        description: opt String = "description",
        code: vec Coding = "code",
        item: vec QuestionnaireItem = "item",
    }
}

fhir_element! {
    /// One question, group or display item.
    pub struct QuestionnaireItem {
        id: opt String = "id",
        extension: vec Extension = "extension",
        link_id: opt String = "linkId",
        definition: opt String = "definition",
        code: vec Coding = "code",
        prefix: opt String = "prefix",
        prefix_ext: opt PrimitiveElement = "_prefix",
        text: opt String = "text",
        text_ext: opt PrimitiveElement = "_text",
        type_: opt String = "type",
        enable_when: vec EnableWhen = "enableWhen",
        enable_behavior: opt String = "enableBehavior",
        required: opt bool = "required",
        repeats: opt bool = "repeats",
        read_only: opt bool = "readOnly",
        max_length: opt i64 = "maxLength",
        answer_value_set: opt String = "answerValueSet",
        answer_option: vec AnswerOption = "answerOption",
        initial: vec Initial = "initial",
        item: vec QuestionnaireItem = "item",
    }
}

impl QuestionnaireItem {
    pub fn ext(&self, url: &str) -> Option<&Extension> {
        find_ext(&self.extension, url)
    }

    pub fn ext_value(&self, url: &str) -> Option<&Value> {
        self.ext(url).and_then(|e| e.value.as_ref())
    }
}

fhir_element! {
    /// A condition on another item's answer that enables this one.
    pub struct EnableWhen {
        question: opt String = "question",
        operator: opt String = "operator",
        answer: choice Value = "answer",
    }
}

fhir_element! {
    /// A permitted answer.
    pub struct AnswerOption {
        extension: vec Extension = "extension",
        value: choice Value = "value",
        value_string_ext: opt PrimitiveElement = "_valueString",
        initial_selected: opt bool = "initialSelected",
    }
}

fhir_element! {
    /// An initial answer.
    pub struct Initial {
        value: choice Value = "value",
    }
}

fhir_element! {
    /// Answers to a Questionnaire.
    pub struct QuestionnaireResponse: resource "QuestionnaireResponse" {
        id: opt String = "id",
        meta: opt Meta = "meta",
        language: opt String = "language",
        contained: vec Json = "contained",
        extension: vec Extension = "extension",
        identifier: opt Identifier = "identifier",
        based_on: vec Reference = "basedOn",
        part_of: vec Reference = "partOf",
        questionnaire: opt String = "questionnaire",
        status: opt String = "status",
        subject: opt Reference = "subject",
        encounter: opt Reference = "encounter",
        authored: opt DateTime = "authored",
        author: opt Reference = "author",
        source: opt Reference = "source",
        item: vec ResponseItem = "item",
    }
}

fhir_element! {
    /// An item in a response, mirroring a Questionnaire item.
    pub struct ResponseItem {
        extension: vec Extension = "extension",
        link_id: opt String = "linkId",
        definition: opt String = "definition",
        text: opt String = "text",
        answer: vec ResponseAnswer = "answer",
        item: vec ResponseItem = "item",
    }
}

fhir_element! {
    /// One answer; nested items hang under answers for questions with children.
    pub struct ResponseAnswer {
        extension: vec Extension = "extension",
        value: choice Value = "value",
        item: vec ResponseItem = "item",
    }
}

fhir_element! {
    /// A value set: contained in a form, passed by the host, or a visit type's own, read for
    /// `answerValueSet` references.
    pub struct ValueSet: resource "ValueSet" {
        id: opt String = "id",
        url: opt String = "url",
        version: opt String = "version",
        name: opt String = "name",
        title: opt String = "title",
        status: opt String = "status",
        compose: opt ValueSetCompose = "compose",
        expansion: opt ValueSetExpansion = "expansion",
    }
}

fhir_element! {
    pub struct ValueSetCompose {
        include: vec ValueSetInclude = "include",
        exclude: vec ValueSetInclude = "exclude",
    }
}

fhir_element! {
    pub struct ValueSetInclude {
        system: opt String = "system",
        version: opt String = "version",
        concept: vec ValueSetConcept = "concept",
        /// Property filters (`is-a`, `=`, ECL...): need the code system, so a terminology server.
        filter: vec Json = "filter",
        /// Other value sets this one includes by canonical URL.
        value_set: vec String = "valueSet",
    }
}

fhir_element! {
    /// A concept with its designations (synonyms, translations).
    pub struct ValueSetConcept {
        code: opt String = "code",
        display: opt String = "display",
        designation: vec Designation = "designation",
    }
}

fhir_element! {
    pub struct Designation {
        language: opt String = "language",
        use_: opt Coding = "use",
        value: opt String = "value",
    }
}

fhir_element! {
    pub struct ValueSetExpansion {
        contains: vec ExpansionContains = "contains",
    }
}

fhir_element! {
    pub struct ExpansionContains {
        system: opt String = "system",
        code: opt String = "code",
        display: opt String = "display",
        /// A grouping heading, not selectable.
        abstract_: opt bool = "abstract",
        /// No longer for use; not offered.
        inactive: opt bool = "inactive",
        designation: vec Designation = "designation",
        contains: vec ExpansionContains = "contains",
    }
}
