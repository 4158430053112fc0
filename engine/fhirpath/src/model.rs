//! The FHIR R4 types of the elements forms and charts navigate most, for `is`/`as`/`ofType`/
//! `type()` and for reading `birthDate` as a date rather than text.
//!
//! Why a table and not the R4 model: the full set of StructureDefinitions is megabytes of wasm;
//! expressions in forms touch a few dozen elements of a dozen resources and datatypes. A choice
//! element (`valueQuantity`) is typed by its suffix without this table; an element the table
//! does not know keeps its JSON kind (text, number, boolean) and is still navigable.

/// The complex datatypes a choice suffix or `is(...)` can name.
pub(crate) const DATATYPES: [&str; 27] = [
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "Count", "Distance", "Dosage",
    "Duration", "Expression", "Extension", "HumanName", "Identifier", "Meta", "Money", "Narrative", "Period", "Quantity",
    "Range", "Ratio", "Reference", "SampledData", "Signature", "Timing", "SimpleQuantity",
];

/// The type of element `name` of a value of type `parent` (a resource or datatype name).
pub(crate) fn element_type(parent: &str, name: &str) -> Option<&'static str> {
    // Every resource and element.
    match name {
        "extension" | "modifierExtension" => return Some("Extension"),
        "meta" => return Some("Meta"),
        "text" if is_domain_resource(parent) => return Some("Narrative"),
        "identifier" if parent != "Reference" => return Some("Identifier"),
        "subject" | "patient" | "encounter" | "performer" | "recorder" | "asserter" | "author" | "source" | "basedOn" | "partOf"
        | "managingOrganization" | "generalPractitioner" | "requester" | "hasMember" | "derivedFrom" | "specimen" | "device"
        | "focus" | "informationSource" | "assigner" => {
            return (!matches!(parent, "Extension" | "Coding" | "CodeableConcept")).then_some("Reference");
        }
        "period" => return Some("Period"),
        _ => {}
    }
    Some(match (parent, name) {
        ("Patient", "active") => "boolean",
        ("Patient", "name") => "HumanName",
        ("Patient" | "Practitioner" | "RelatedPerson" | "Organization", "telecom") => "ContactPoint",
        ("Patient" | "Practitioner" | "RelatedPerson", "gender") => "code",
        ("Patient" | "Practitioner" | "RelatedPerson", "birthDate") => "date",
        ("Patient" | "Practitioner" | "RelatedPerson" | "Organization", "address") => "Address",
        ("Patient", "maritalStatus") => "CodeableConcept",
        ("Patient" | "Practitioner", "photo") => "Attachment",
        ("Observation" | "Condition" | "AllergyIntolerance" | "MedicationStatement" | "MedicationRequest" | "Procedure"
        | "Immunization" | "QuestionnaireResponse" | "Questionnaire" | "Encounter" | "DiagnosticReport", "status") => "code",
        ("Observation" | "Condition" | "DiagnosticReport" | "Procedure" | "MedicationStatement" | "MedicationRequest", "category") => {
            "CodeableConcept"
        }
        ("Observation" | "Condition" | "AllergyIntolerance" | "Procedure" | "DiagnosticReport" | "Observation.component", "code") => {
            "CodeableConcept"
        }
        ("Observation", "issued") => "instant",
        ("Observation" | "Observation.component", "interpretation" | "dataAbsentReason") => "CodeableConcept",
        ("Observation" | "Condition" | "AllergyIntolerance" | "MedicationStatement" | "Procedure" | "Immunization", "note") => "Annotation",
        ("Observation" | "Condition", "bodySite") | ("Observation", "method") => "CodeableConcept",
        ("Condition" | "AllergyIntolerance", "clinicalStatus" | "verificationStatus") => "CodeableConcept",
        ("Condition", "severity") => "CodeableConcept",
        ("Condition" | "AllergyIntolerance", "recordedDate") => "dateTime",
        ("AllergyIntolerance", "type" | "criticality") => "code",
        ("AllergyIntolerance", "category") => "code",
        ("AllergyIntolerance", "lastOccurrence") => "dateTime",
        ("MedicationStatement", "dateAsserted") | ("MedicationRequest", "authoredOn") => "dateTime",
        ("MedicationStatement" | "MedicationRequest", "dosage" | "dosageInstruction") => "Dosage",
        ("Questionnaire", "url") => "uri",
        ("Questionnaire", "version" | "name" | "title" | "publisher") => "string",
        ("Questionnaire", "date") => "dateTime",
        ("Questionnaire", "experimental") => "boolean",
        ("Questionnaire", "description" | "purpose") => "markdown",
        ("Questionnaire" | "QuestionnaireResponse" | "Questionnaire.item" | "QuestionnaireResponse.item", "item") => return nested(parent),
        ("QuestionnaireResponse.item.answer", "item") => "QuestionnaireResponse.item",
        ("QuestionnaireResponse.item", "answer") => "QuestionnaireResponse.item.answer",
        ("Questionnaire.item" | "QuestionnaireResponse.item", "linkId" | "text") => "string",
        ("Questionnaire.item" | "QuestionnaireResponse.item", "definition") => "uri",
        ("Questionnaire.item", "type" | "enableBehavior") => "code",
        ("Questionnaire.item", "required" | "repeats" | "readOnly") => "boolean",
        ("Questionnaire.item", "prefix") => "string",
        ("Questionnaire.item", "maxLength") => "integer",
        ("Questionnaire.item", "answerValueSet") => "canonical",
        ("Questionnaire.item", "code") => "Coding",
        ("QuestionnaireResponse", "questionnaire") => "canonical",
        ("QuestionnaireResponse", "authored") => "dateTime",
        ("HumanName", "use") => "code",
        ("HumanName", "text" | "family" | "given" | "prefix" | "suffix") => "string",
        ("Period", "start" | "end") => "dateTime",
        ("Identifier", "use") => "code",
        ("Identifier", "type") => "CodeableConcept",
        ("Identifier", "system") => "uri",
        ("Identifier", "value") => "string",
        ("Coding", "system") => "uri",
        ("Coding", "version" | "display") => "string",
        ("Coding", "code") => "code",
        ("Coding", "userSelected") => "boolean",
        ("CodeableConcept", "coding") => "Coding",
        ("CodeableConcept", "text") => "string",
        ("Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity", "value") => "decimal",
        ("Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity", "comparator" | "code") => "code",
        ("Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity", "unit") => "string",
        ("Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity", "system") => "uri",
        ("Range", "low" | "high") => "SimpleQuantity",
        ("Ratio", "numerator" | "denominator") => "Quantity",
        ("Reference", "reference" | "display") => "string",
        ("Reference", "type") => "uri",
        ("Reference", "identifier") => "Identifier",
        ("ContactPoint", "system" | "use") => "code",
        ("ContactPoint", "value") => "string",
        ("ContactPoint", "rank") => "positiveInt",
        ("Address", "use" | "type") => "code",
        ("Address", "text" | "line" | "city" | "district" | "state" | "postalCode" | "country") => "string",
        ("Attachment", "contentType" | "language") => "code",
        ("Attachment", "url") => "url",
        ("Attachment", "title") => "string",
        ("Attachment", "creation") => "dateTime",
        ("Annotation", "time") => "dateTime",
        ("Annotation", "text") => "markdown",
        // R4 types `Extension.url`, `Element.id` and `Resource.id` as System.String (the
        // StructureDefinitions say so), so they stay untyped here.
        ("Meta", "versionId") => "id",
        ("Meta", "lastUpdated") => "instant",
        ("Meta", "profile") => "canonical",
        ("Meta", "security" | "tag") => "Coding",
        ("Narrative", "status") => "code",
        ("Narrative", "div") => "xhtml",
        (_, "language") if is_resource(parent) => "code",
        (_, "implicitRules") if is_resource(parent) => "uri",
        _ => return None,
    })
}

/// The backbone element type a nested `item` has.
fn nested(parent: &str) -> Option<&'static str> {
    Some(if parent.starts_with("QuestionnaireResponse") { "QuestionnaireResponse.item" } else { "Questionnaire.item" })
}

/// A resource type name: capitalised and not one of the datatypes (nor a backbone path).
pub(crate) fn is_resource(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && !name.contains('.') && !DATATYPES.contains(&name)
}

fn is_domain_resource(name: &str) -> bool {
    is_resource(name) && !matches!(name, "Bundle" | "Parameters" | "Binary")
}
