//! Regression tests for the attack campaign (issue 13): clinical data must never be lost, and
//! what is written must never be wrong, whatever a rule, a chart or a snapshot does.

mod support;

use intake_engine::extract;
use intake_engine::fhir::Value;
use serde_json::json;
use support::*;

fn vitals_q() -> serde_json::Value {
    questionnaire(json!([
        {"linkId": "chest-pain", "type": "boolean", "text": "Chest pain today?"},
        {"linkId": "height", "type": "integer", "text": "Height (cm)"},
        {"linkId": "weight", "type": "integer", "text": "Weight (kg)"},
        {"linkId": "weight-plan", "type": "string", "text": "Weight plan"},
        {"linkId": "chest-pain-detail", "type": "string", "text": "Tell us about the chest pain"}
    ]))
}

/// The rule flags chest pain first, then computes a BMI from the height.
const BMI_RULE: &str = r#"
if answer("chest-pain") == true {
    flag("chest-pain", "Chest pain today: contact the patient today");
    require("chest-pain-detail");
}
let h = answer("height");
let w = answer("weight");
if h != () && w != () {
    let bmi = w * 10000 / (h * h);
    if bmi > 30 { ask("weight-plan", "Asked because your BMI is over 30"); }
}
"#;

#[test]
fn division_by_zero_in_a_rule_is_unknown_not_a_failure() {
    let vt = visit_type(vitals_q(), &[("rules/bmi.rhai", BMI_RULE)]);
    let mut s = session(&vt);
    s.answer_link_id("chest-pain", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("weight", vec![Value::Integer(80)]).unwrap();
    s.answer_link_id("height", vec![Value::Integer(0)]).unwrap();
    assert!(s.rule_errors().is_empty(), "0 is an ordinary answer: {:?}", s.rule_errors());
    let flagged = s.nodes_of(s.form().find("chest-pain").unwrap())[0];
    assert_eq!(s.node(flagged).unwrap().state.flags.len(), 1, "the chest-pain flag survives");
    assert!(!shown(&s, "weight-plan"), "an unknown BMI is not over 30");
    // And the arithmetic still works on ordinary values.
    s.answer_link_id("height", vec![Value::Integer(150)]).unwrap();
    assert!(shown(&s, "weight-plan"), "80 kg at 150 cm is a BMI of 35");
}

#[test]
fn overflow_in_a_rule_is_unknown_not_a_failure() {
    let rule = r#"
let h = answer("height");
if h != () {
    let x = h * 9223372036854775807;
    let y = h;
    y *= 9223372036854775807;
    if x == () && y == () && -(-9223372036854775807 - 1) == () { ask("weight-plan", "overflow is unknown"); }
}
"#;
    let vt = visit_type(vitals_q(), &[("rules/overflow.rhai", rule)]);
    let mut s = session(&vt);
    s.answer_link_id("height", vec![Value::Integer(3)]).unwrap();
    assert!(s.rule_errors().is_empty(), "{:?}", s.rule_errors());
    assert!(shown(&s, "weight-plan"), "x, y and the negation are unknown");
}

#[test]
fn effects_decided_before_a_failure_survive_and_the_failure_reaches_the_write_back() {
    // A rule that throws after it raised a flag: a real run-time failure.
    let rule = r#"
if answer("chest-pain") == true {
    flag("chest-pain", "Chest pain today: contact the patient today");
}
if answer("height") == 0 { throw "height of zero"; }
if false { ask("weight-plan"); }
"#;
    let vt = visit_type(vitals_q(), &[("rules/fails.rhai", rule)]);
    let mut s = session(&vt);
    s.answer_link_id("chest-pain", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("height", vec![Value::Integer(0)]).unwrap();
    assert_eq!(s.rule_errors().len(), 1);
    let cp = s.nodes_of(s.form().find("chest-pain").unwrap())[0];
    assert_eq!(s.node(cp).unwrap().state.flags.len(), 1, "the flag raised before the failure is kept");
    assert!(shown(&s, "weight-plan"), "fail open: the failed rule's gated items are shown");
    let why = s.node(s.nodes_of(s.form().find("weight-plan").unwrap())[0]).unwrap().state.why.clone().unwrap();
    let text = intake_engine::explain::why_text(s.form(), &why, "en");
    assert!(!text.contains("rules/") && !text.contains(".rhai"), "no developer text for the patient: {text}");
    s.answer_link_id("weight-plan", vec![Value::String("walk".into())]).unwrap();
    let wb = extract::bundle(&s).unwrap();
    let json = wb.to_json_string();
    assert!(json.contains("Chest pain today: contact the patient today"), "flag Task present");
    assert!(json.contains("Rule rules/fails.rhai failed for this patient"), "failure Task present: {json}");
}

// ---- the chart -------------------------------------------------------------------------

use intake_engine::chart::ChartError;
use intake_engine::Chart;

fn bundle(entries: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}

fn patient_entry() -> serde_json::Value {
    json!({"fullUrl": "http://ehr.example/fhir/Patient/p1",
           "resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-02-03"}})
}

const LISINOPRIL: &str = "314076";

#[test]
fn medication_references_resolve_to_contained_and_bundled_medications() {
    let med = |id: &str| json!({"resourceType": "Medication", "id": id, "code": {"coding": [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": LISINOPRIL, "display": "lisinopril 10 MG Oral Tablet"}]}});
    let contained = json!({"resource": {"resourceType": "MedicationRequest", "id": "mr1", "status": "active", "intent": "order",
        "contained": [med("m1")],
        "medicationReference": {"reference": "#m1"}, "subject": {"reference": "Patient/p1"}}});
    let bundled = json!({"resource": {"resourceType": "MedicationStatement", "id": "ms1", "status": "active",
        "medicationReference": {"reference": "Medication/m2"}, "subject": {"reference": "Patient/p1"}}});
    let metformin = json!({"resource": {"resourceType": "Medication", "id": "m2", "code": {"coding": [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975", "display": "metformin"}]}}});
    let missing = json!({"resource": {"resourceType": "MedicationRequest", "id": "mr3", "status": "active", "intent": "order",
        "medicationReference": {"reference": "Medication/not-here"}, "subject": {"reference": "Patient/p1"}}});
    let chart = Chart::from_json(&bundle(vec![patient_entry(), contained, bundled, metformin, missing])).unwrap();
    assert!(chart.takes_medication(LISINOPRIL), "contained Medication resolved: {:?}", chart.medications);
    assert!(chart.takes_medication("860975"), "bundled Medication resolved");
    assert_eq!(chart.medications.len(), 2);
    let unreviewable: Vec<_> = chart.unreviewable().collect();
    assert_eq!(unreviewable.len(), 1, "the unresolvable one is counted: {:?}", chart.notes);
    assert!(unreviewable[0].message.contains("MedicationRequest/mr3") && unreviewable[0].message.contains("Medication/not-here"));
}

#[test]
fn an_unresolvable_medication_becomes_a_review_task() {
    let missing = json!({"resource": {"resourceType": "MedicationRequest", "id": "mr3", "status": "active", "intent": "order",
        "medicationReference": {"reference": "Medication/not-here"}, "subject": {"reference": "Patient/p1"}}});
    let chart = std::rc::Rc::new(Chart::from_json(&bundle(vec![patient_entry(), missing])).unwrap());
    let vt = visit_type(vitals_q(), &[]);
    let s = intake_engine::Session::new(vt, chart, Default::default(), now(), "s1").unwrap();
    let json = extract::bundle(&s).unwrap().to_json_string();
    assert!(json.contains("MedicationRequest/mr3"), "a clinician is asked to review it: {json}");
}

#[test]
fn a_patient_without_id_or_full_url_is_refused() {
    let b = bundle(vec![json!({"resource": {"resourceType": "Patient", "birthDate": "1960-02-03"}})]);
    let e = Chart::from_json(&b).unwrap_err();
    assert!(matches!(e, ChartError::PatientWithoutIdentity { entry: 0 }), "{e}");
    assert!(e.to_string().contains("entry[0]"), "{e}");
}

#[test]
fn references_are_compared_whole() {
    let cond = |subject: &str, id: &str| json!({"resource": {"resourceType": "Condition", "id": id,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]},
        "subject": {"reference": subject}}});
    let chart = Chart::from_json(&bundle(vec![
        patient_entry(),
        cond("http://other.example/Patient/p1", "c1"),
        cond("Group/Patient/p1", "c2"),
        cond("Patient/p1", "c3"),
        cond("http://ehr.example/fhir/Patient/p1", "c4"),
        cond("Patient/p1/_history/3", "c5"),
    ]))
    .unwrap();
    let used: Vec<&str> = chart.conditions.iter().map(|c| c.reference.as_str()).collect();
    assert_eq!(used, ["Condition/c3", "Condition/c4", "Condition/c5"]);
    assert_eq!(chart.notes.len(), 2, "{:?}", chart.notes);
}

#[test]
fn many_observations_are_read_and_sorted_newest_first() {
    // (100,000 is the benchmark's size: `cargo bench -p intake-engine -- chart`.)
    let mut entries = vec![patient_entry()];
    for i in 0..20_000u32 {
        // Dates in a scrambled order.
        let day = (i.wrapping_mul(7919)) % 3650;
        let (y, d) = (2015 + day / 365, day % 365);
        let (m, dd) = (1 + d / 31, 1 + d % 28);
        entries.push(json!({"resource": {"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "effectiveDateTime": format!("{y}-{m:02}-{dd:02}"), "subject": {"reference": "Patient/p1"},
            "valueQuantity": {"value": 120 + (i % 40), "unit": "mm[Hg]"}}}));
    }
    let chart = Chart::from_json(&bundle(entries)).unwrap();
    assert_eq!(chart.observations.len(), 20_000);
    let dates: Vec<i64> = chart
        .observations
        .iter()
        .map(|o| intake_engine::chart::observed_at(&o.resource).unwrap().epoch_millis())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

// ---- identifiers follow content ----------------------------------------------------------

fn ids_of(wb: &serde_json::Value) -> Vec<String> {
    let mut ids = vec![wb["identifier"]["value"].as_str().unwrap().to_owned()];
    for e in wb["entry"].as_array().unwrap() {
        if let Some(q) = e["request"]["ifNoneExist"].as_str() {
            ids.push(q.to_owned());
        }
    }
    ids
}

#[test]
fn identifiers_change_with_content_and_stay_for_a_retry() {
    let vt = visit_type(vitals_q(), &[("rules/bmi.rhai", BMI_RULE)]);
    let mut s = session(&vt);
    s.answer_link_id("chest-pain", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("chest-pain-detail", vec![Value::String("pressure".into())]).unwrap();
    let first = extract::bundle(&s).unwrap().to_json();
    let retry = extract::bundle(&s).unwrap().to_json();
    assert_eq!(ids_of(&first), ids_of(&retry), "a retry of the same content keeps every identifier");
    s.answer_link_id("chest-pain-detail", vec![Value::String("sharp, since this morning".into())]).unwrap();
    let changed = extract::bundle(&s).unwrap().to_json();
    let (a, b) = (ids_of(&first), ids_of(&changed));
    assert!(a.iter().all(|id| !b.contains(id)), "changed content shares no identifier with the first submit:\n{a:?}\n{b:?}");
    // Back to the first content: the first identifiers again (the server already has them).
    s.answer_link_id("chest-pain-detail", vec![Value::String("pressure".into())]).unwrap();
    assert_eq!(ids_of(&first), ids_of(&extract::bundle(&s).unwrap().to_json()));
    assert_eq!(extract::bundle_identifier(&s), first["identifier"]["value"].as_str().unwrap());
}

// ---- restoring a snapshot ----------------------------------------------------------------

use intake_engine::answers_file;

#[test]
fn a_restore_keeps_every_entry_that_still_fits() {
    let vt = visit_type(vitals_q(), &[]);
    let mut s = session(&vt);
    let file = json!({"format": "intake-answers/1", "visit_type": "t", "patient": "Patient/p1", "answers": {
        "chest-pain": true,
        "renamed-in-v2": "lost?",
        "height": "tall",
        "weight": 80,
        "weight-plan": "walk more"
    }});
    let problems = answers_file::restore(&mut s, &file).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].path.contains("renamed-in-v2") || problems[1].path.contains("renamed-in-v2"));
    for (link, want) in [("chest-pain", Value::Boolean(true)), ("weight", Value::Integer(80)), ("weight-plan", Value::String("walk more".into()))] {
        let n = s.node_of_link_id(link).unwrap();
        assert_eq!(s.node(n).unwrap().answers, vec![want], "{link} restored after the bad entries");
    }
    // The strict form (CLI, scenarios) still names the first problem.
    let mut s2 = session(&vt);
    assert!(answers_file::apply(&mut s2, &file).is_err());
}

#[test]
fn a_truncated_snapshot_gives_back_its_complete_entries() {
    let full = r#"{"format":"intake-answers/1","visit_type":"t","patient":"Patient/p1","answers":{"chest-pain":true,"weight":80,"weight-plan":"walk mo"#;
    let j = answers_file::salvage(full).expect("salvaged");
    assert_eq!(j["answers"]["chest-pain"], json!(true));
    assert_eq!(j["answers"]["weight"], json!(80));
    assert!(j["answers"].get("weight-plan").is_none(), "the cut entry is not guessed");
    assert!(answers_file::salvage("{\"format\": ").is_none() || answers_file::salvage("{\"format\": ").is_some_and(|j| j.get("answers").is_none()));
    assert!(answers_file::salvage("not json at all").is_none());
}

// ---- what is emitted is valid R4 whatever the input ---------------------------------------

#[test]
fn out_of_range_and_control_character_answers_never_reach_the_output() {
    let q = questionnaire(json!([
        {"linkId": "n", "type": "integer", "text": "How many?"},
        {"linkId": "d", "type": "date", "text": "When?"},
        {"linkId": "t", "type": "string", "text": "Anything else?"}
    ]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let e = s.answer_link_id("n", vec![Value::Integer(i64::from(i32::MAX) + 1)]).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    s.answer_link_id("n", vec![Value::Integer(i64::from(i32::MAX))]).unwrap();
    let d = intake_engine::fhir::Date::parse("0000-01-01").unwrap();
    let e = s.answer_link_id("d", vec![Value::Date(d)]).unwrap_err();
    assert!(e.to_string().contains("0001"), "{e}");
    s.answer_link_id("t", vec![Value::String("chest\u{0}pain\u{7}\u{1b}[31m\tnow\nok".into())]).unwrap();
    let n = s.node_of_link_id("t").unwrap();
    assert_eq!(s.node(n).unwrap().answers, vec![Value::String("chestpain[31m\tnow\nok".into())]);
}

// ---- who answered ------------------------------------------------------------------------

#[test]
fn a_respondent_reference_must_be_a_related_person_of_this_patient_in_the_chart() {
    use intake_engine::context::VisitContext;
    let chart = std::rc::Rc::new(
        Chart::from_json(&bundle(vec![
            patient_entry(),
            json!({"resource": {"resourceType": "RelatedPerson", "id": "mum", "patient": {"reference": "Patient/p1"},
                "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}]}]}}),
        ]))
        .unwrap(),
    );
    let vt = visit_type(vitals_q(), &[]);
    let with = |reference: &str| {
        let ctx = VisitContext::from_json(&json!({"respondent": {"relationship": "MTH", "name": "Ana", "reference": reference}})).unwrap();
        intake_engine::Session::new(vt.clone(), chart.clone(), ctx, now(), "s1").map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(with("RelatedPerson/mum"), Ok(()));
    for bad in ["javascript:alert(1)", "Patient/other", "RelatedPerson/not-in-chart", "Organization/x", "RelatedPerson/mum/../../Patient/x"] {
        let e = with(bad).expect_err(bad);
        assert!(e.starts_with("context.respondent.reference:"), "{bad}: {e}");
    }
}

#[test]
fn a_snapshot_cut_anywhere_after_its_header_still_says_whose_it_is() {
    let vt = visit_type(vitals_q(), &[]);
    let mut s = session(&vt);
    s.answer_link_id("chest-pain", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("weight", vec![Value::Integer(80)]).unwrap();
    s.answer_link_id("weight-plan", vec![Value::String("walk, \"more\" {daily}".into())]).unwrap();
    let text = answers_file::snapshot_text(&s, None, &[]);
    let answers_at = text.find("\"answers\"").unwrap();
    assert!(text.find("\"patient\"").unwrap() < answers_at, "identity first: {text}");
    let mut best = 0;
    for cut in answers_at + 12..text.len() {
        let Some(j) = answers_file::salvage(&text[..cut]) else { continue };
        assert_eq!(j["patient"], json!("Patient/p1"), "cut at {cut}");
        let mut restored = session(&vt);
        let problems = answers_file::restore(&mut restored, &j).unwrap();
        assert!(problems.is_empty(), "cut at {cut}: {problems:?}");
        best = best.max(j["answers"].as_object().map_or(0, |m| m.len()));
    }
    assert_eq!(best, 2, "cut just before the end, all complete entries come back");
}

// ---- load gaps -----------------------------------------------------------------------------

#[test]
fn a_manifest_cannot_name_files_outside_its_project() {
    for bad in ["../../etc/passwd", "/etc/passwd", "rules/../../x.rhai", "C:\\x.rhai"] {
        let errs = try_visit_type(vitals_q(), &[], json!({"rules": [bad]})).expect_err(bad);
        let e = errs[0].to_string();
        assert!(e.starts_with("manifest.json:") && e.contains("name a file inside rules/"), "{bad}: {e}");
    }
    let errs = try_visit_type(vitals_q(), &[], json!({"questionnaire": "../other/q.json"})).expect_err("questionnaire");
    assert!(errs[0].to_string().contains("'..'"), "{}", errs[0]);
}

#[test]
fn a_byte_order_mark_is_not_content_and_odd_items_are_warned_about() {
    let mut text = String::from("\u{feff}");
    text.push_str(&questionnaire(json!([
        {"linkId": "g", "type": "group", "text": "Empty group"},
        {"linkId": "d", "type": "display", "text": "Note", "item": [{"linkId": "d.child", "type": "string"}]},
        {"linkId": "s\u{200b}", "type": "string", "text": "Looks like s"},
        {"linkId": "m", "type": "string", "maxLength": -3}
    ])).to_string());
    let form = intake_engine::Form::from_text(&text).expect("a BOM does not stop a form from loading");
    let warnings: Vec<String> = form.warnings.iter().map(|w| w.to_string()).collect();
    for want in ["has no items", "display item 'd' has child items", "invisible", "maxLength -3"] {
        assert!(warnings.iter().any(|w| w.contains(want)), "{want}: {warnings:?}");
    }
}

#[test]
fn chart_entries_without_a_resource_are_noted() {
    let chart = Chart::from_json(&bundle(vec![patient_entry(), json!({"fullUrl": "http://x/Condition/1"})])).unwrap();
    assert!(chart.notes.iter().any(|n| n.entry == 1 && n.message.contains("no resource")), "{:?}", chart.notes);
}

// ---- rules that never settle ---------------------------------------------------------------

/// Issue 13, item 14: a rule that hides a question once answered and asks it while empty.
const OSCILLATING: &str = r#"
if answer("chest-pain") == true {
    if answered("chest-pain-detail") { hide("chest-pain-detail"); } else { ask("chest-pain-detail", "Tell us more"); }
}
"#;

#[test]
fn rules_that_never_settle_fail_open_and_the_write_back_says_so() {
    let vt = visit_type(vitals_q(), &[("rules/oscillates.rhai", OSCILLATING)]);
    let mut s = session(&vt);
    s.answer_link_id("chest-pain", vec![Value::Boolean(true)]).unwrap();
    s.answer_link_id("chest-pain-detail", vec![Value::String("crushing, since 6 am".into())]).unwrap();
    assert!(s.unsettled(), "the rule undoes itself");
    let wb = extract::bundle(&s).expect("an unsettled form is still sent, never a dead Send");
    let json = wb.to_json_string();
    assert!(json.contains("never settled"), "{json}");
    assert!(json.contains("crushing, since 6 am"), "the patient's words reach the clinician: {json}");
}

#[test]
fn check_finds_rules_that_never_settle() {
    let vt = visit_type(vitals_q(), &[("rules/oscillates.rhai", OSCILLATING)]);
    let found = intake_engine::settle::find_unsettled(&vt, &chart(), now());
    assert!(!found.is_empty(), "the oscillation is found");
    assert!(found[0].contains("chest-pain"), "{found:?}");
    let calm = visit_type(vitals_q(), &[("rules/bmi.rhai", BMI_RULE)]);
    assert!(intake_engine::settle::find_unsettled(&calm, &chart(), now()).is_empty());
}

// ---- regex extension -------------------------------------------------------------------------

fn with_regex(pattern: &str) -> serde_json::Value {
    questionnaire(json!([{"linkId": "zip", "type": "string", "text": "ZIP code",
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": pattern}]}]))
}

#[test]
fn an_invalid_regex_is_a_load_warning_and_never_blocks_submit() {
    let form = intake_engine::Form::from_json(&with_regex("[0-9{5")).unwrap();
    assert!(form.warnings.iter().any(|w| w.path.contains("regex") && w.message.contains("cannot be used")), "{:?}", form.warnings);
    let vt = visit_type(with_regex("[0-9{5"), &[]);
    let mut s = session(&vt);
    s.answer_link_id("zip", vec![Value::String("02139".into())]).unwrap();
    assert!(extract::bundle(&s).is_ok(), "a broken pattern never blocks sending");
}

#[test]
fn patterns_match_whole_answers_in_linear_time() {
    let vt = visit_type(with_regex("[0-9]{5}"), &[]);
    let mut s = session(&vt);
    s.answer_link_id("zip", vec![Value::String("0213".into())]).unwrap();
    assert!(extract::bundle(&s).is_err(), "0213 is not a ZIP code");
    s.answer_link_id("zip", vec![Value::String("02139".into())]).unwrap();
    assert!(extract::bundle(&s).is_ok());
    // The classic catastrophic pattern: linear here, whatever the input.
    let vt = visit_type(with_regex("(a+)+$"), &[]);
    let mut s = session(&vt);
    s.answer_link_id("zip", vec![Value::String(format!("{}!", "a".repeat(5_000)))]).unwrap();
    assert!(extract::bundle(&s).is_err());
}

#[test]
fn clinical_entries_without_a_status_are_noted_for_review() {
    let chart = Chart::from_json(&bundle(vec![
        patient_entry(),
        json!({"resource": {"resourceType": "Condition", "id": "c1", "code": {"text": "diabetes"}, "subject": {"reference": "Patient/p1"}}}),
        json!({"resource": {"resourceType": "MedicationStatement", "id": "m1", "medicationCodeableConcept": {"text": "warfarin"}, "subject": {"reference": "Patient/p1"}}}),
        json!({"resource": {"resourceType": "Observation", "id": "o1", "code": {"text": "weight"}, "subject": {"reference": "Patient/p1"}}}),
    ]))
    .unwrap();
    let review: Vec<&str> = chart.unreviewable().map(|n| n.message.as_str()).collect();
    assert_eq!(review.len(), 2, "{review:?}");
    assert!(review[0].contains("Condition/c1") && review[1].contains("MedicationStatement/m1"), "{review:?}");
    assert!(chart.notes.iter().any(|n| n.message.contains("Observation/o1 has no status")), "{:?}", chart.notes);
}

// ---- exclusive options ----------------------------------------------------------------------

#[test]
fn none_of_these_and_other_options_never_stand_together() {
    use intake_engine::fhir::Coding;
    let q = questionnaire(json!([{"linkId": "s", "type": "choice", "repeats": true, "text": "Any of these?", "answerOption": [
        {"valueCoding": {"system": "http://snomed.info/sct", "code": "29857009", "display": "Chest pain"}},
        {"valueCoding": {"system": "http://snomed.info/sct", "code": "267036007", "display": "Shortness of breath"}},
        {"valueCoding": {"code": "none", "display": "None of these",
            "_display": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/translation",
                "extension": [{"url": "lang", "valueCode": "es"}, {"url": "content", "valueString": "Ninguno"}]}]}},
         "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive", "valueBoolean": true}]}]}]));
    let vt = visit_type(q, &[]);
    let mut s = session(&vt);
    let c = |code: &str| Value::Coding(Coding { code: Some(code.into()), ..Default::default() });
    let codes = |s: &intake_engine::Session| -> Vec<String> {
        let n = s.node_of_link_id("s").unwrap();
        s.node(n).unwrap().answers.iter().filter_map(|v| v.as_coding().and_then(|c| c.code.clone())).collect()
    };
    s.answer_link_id("s", vec![c("29857009"), c("267036007")]).unwrap();
    s.answer_link_id("s", vec![c("29857009"), c("267036007"), c("none")]).unwrap();
    assert_eq!(codes(&s), ["none"], "ticking None clears the others");
    s.answer_link_id("s", vec![c("none"), c("29857009")]).unwrap();
    assert_eq!(codes(&s), ["29857009"], "ticking another option clears None");
}
