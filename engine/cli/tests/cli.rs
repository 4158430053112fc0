//! The CLI contract other tools rely on: commands, exit codes, output shape, diagnostics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> PathBuf {
    root().join("../shared/corpus")
}

fn intake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_intake")).args(args).current_dir(root()).output().expect("run intake")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn load_reads_every_corpus_questionnaire_without_panicking() {
    let catalog = std::fs::read_to_string(corpus().join("QUESTIONNAIRE_CATALOG.tsv")).expect("corpus catalog");
    let files: Vec<PathBuf> = catalog.lines().skip(1).filter_map(|l| l.split('\t').next()).map(|f| corpus().join(f)).collect();
    assert!(files.len() > 300, "catalog lists {} files", files.len());
    let (mut loaded, mut refused) = (0, Vec::new());
    for f in &files {
        let out = intake(&["load", f.to_str().unwrap()]);
        match out.status.code() {
            Some(0) => {
                loaded += 1;
                assert!(text(&out.stdout).starts_with("ok  "), "{}: {}", f.display(), text(&out.stdout));
            }
            Some(1) => {
                let err = text(&out.stderr);
                // A refusal names the file, a line and column, and the JSON path.
                assert!(err.contains(": error: ") && err.contains("Questionnaire"), "{}: unhelpful error: {err}", f.display());
                refused.push(err.lines().next().unwrap_or_default().to_owned());
            }
            other => panic!("{}: intake load exited {other:?} (panic?)\n{}", f.display(), text(&out.stderr)),
        }
    }
    eprintln!("intake load: {loaded} of {} corpus Questionnaires load; {} refused:", files.len(), refused.len());
    for r in &refused {
        eprintln!("  {r}");
    }
    // The figure is part of the contract: a change that loads fewer forms must be noticed.
    assert_eq!(loaded, 328, "corpus Questionnaires that load");
}

#[test]
fn load_summarises_features_and_refuses_garbage_with_a_position() {
    let out = intake(&["load", "visit-types/hypertension-follow-up/questionnaire.json"]);
    assert_eq!(out.status.code(), Some(0));
    let line = text(&out.stdout);
    assert!(line.contains("\"Blood pressure follow-up\"") && line.contains("enableWhen") && line.contains("translation"), "{line}");
    let dir = tempdir("garbage");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\n  \"resourceType\": \"Questionnaire\",\n  \"item\": [ { \"linkId\": \"a\", \"type\": \"boolean\", \"required\": 12 } ]\n}\n").unwrap();
    let out = intake(&["load", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.json:3:") && err.contains("Questionnaire.item[0].required"), "{err}");
    std::fs::write(&bad, "{ not json").unwrap();
    let err = text(&intake(&["load", bad.to_str().unwrap()]).stderr);
    assert!(err.contains("bad.json:1:") && err.contains("not valid JSON"), "{err}");
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("intake-cli-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A scratch copy of the project's visit types and rules, for a test to edit.
fn project_copy(name: &str) -> PathBuf {
    let dir = tempdir(name);
    copy_dir(&root().join("visit-types"), &dir.join("visit-types"));
    copy_dir(&root().join("rules"), &dir.join("rules"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

#[test]
fn check_passes_on_the_shipped_project_and_names_file_line_item_on_problems() {
    let out = intake(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("4 visit types checked: 0 errors, 0 warnings"));

    let dir = project_copy("check");
    // A typo in a rule, and a manifest pointing at an item that does not exist.
    let rule = dir.join("rules/hypertension.rhai");
    let src = std::fs::read_to_string(&rule).unwrap().replacen("ask(\"cough\"", "ask(\"coughh\"", 1);
    std::fs::write(&rule, src).unwrap();
    let manifest = dir.join("visit-types/pediatric-sick-visit/manifest.json");
    let m = std::fs::read_to_string(&manifest).unwrap().replacen("\"allergy.severity\": \"severity\"", "\"allergy.sevrity\": \"severity\"", 1);
    std::fs::write(&manifest, m).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let rule_line = err.lines().find(|l| l.contains("coughh")).unwrap_or_else(|| panic!("{err}"));
    assert!(rule_line.contains("rules/hypertension.rhai:") && rule_line.contains("item 'coughh'"), "{rule_line}");
    let manifest_line = err.lines().find(|l| l.contains("allergy.sevrity")).unwrap_or_else(|| panic!("{err}"));
    assert!(manifest_line.contains("manifest.json:") && manifest_line.contains(": error: "), "{manifest_line}");
    let parts: Vec<&str> = manifest_line.split(':').collect();
    assert!(parts[1].parse::<usize>().is_ok() && parts[2].parse::<usize>().is_ok(), "file:line:col expected: {manifest_line}");
}

#[test]
fn fill_prints_a_response_or_with_submit_a_transaction_bundle() {
    let scen = "visit-types/hypertension-follow-up/scenarios/maria-confirms-everything-home-reading.json";
    let base = ["--visit-type", "hypertension-follow-up", "--chart", "web/demo/charts/maria-hernandez.json", "--now", "2026-11-20T09:00:00-05:00"];
    let out = intake(&[&["fill"], &base[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let qr: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((qr["resourceType"].as_str(), qr["status"].as_str()), (Some("QuestionnaireResponse"), Some("in-progress")));

    // Unanswered required items: submit is refused, with the items named.
    let out = intake(&[&["fill"], &base[..], &["--submit"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("home-bp-monitoring"), "{}", text(&out.stderr));

    let out = intake(&[&["fill"], &base[..], &["--answers", scen, "--submit"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["type"], "transaction");
    // A retry with the same inputs is the same Bundle, byte for byte.
    let again = intake(&[&["fill"], &base[..], &["--answers", scen, "--submit"]].concat());
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn fill_reports_bad_answers_with_their_path() {
    let dir = tempdir("answers");
    let f = dir.join("answers.json");
    std::fs::write(&f, r#"{"answers": {"home-bp-monitoring": true, "home-bp-systolic": "very high"}}"#).unwrap();
    let out = intake(&[
        "fill", "--visit-type", "hypertension-follow-up", "--chart", "web/demo/charts/maria-hernandez.json",
        "--answers", f.to_str().unwrap(), "--now", "2026-11-20T09:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("answers.home-bp-systolic") && err.contains("whole number"), "{err}");
}

#[test]
fn explain_says_what_is_shown_hidden_and_why() {
    let out = intake(&[
        "explain", "--visit-type", "hypertension-follow-up", "--chart", "web/demo/charts/maria-hernandez.json",
        "--now", "2026-11-20T09:00:00Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let line = |key: &str| t.lines().find(|l| l.contains(key)).unwrap_or_else(|| panic!("no line for {key}:\n{t}")).to_owned();
    assert!(line("visit/home-bp-monitoring").starts_with("shown  req") && line("visit/home-bp-monitoring").contains("high blood pressure"));
    assert!(line("visit/ankle-swelling").starts_with("hidden") && line("visit/ankle-swelling").contains("no rule asked for it"));
    assert!(line("visit/home-bp ").starts_with("hidden") && line("visit/home-bp ").contains("enableWhen not met"));
    assert!(t.contains("write-back not possible yet"));
}

#[test]
fn test_runs_every_scenario() {
    let out = intake(&["test"]);
    let t = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains(" passed, 0 failed"), "{t}");
}

#[test]
fn unknown_commands_and_options_are_usage_errors() {
    assert_eq!(intake(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(intake(&[]).status.code(), Some(2));
    assert_eq!(intake(&["fill", "--chart"]).status.code(), Some(2));
    let out = intake(&["fill", "--visit-type", "nope", "--chart", "web/demo/charts/maria-hernandez.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no visit type 'nope'"), "{}", text(&out.stderr));
}

#[test]
fn check_finds_rules_that_never_settle() {
    let dir = project_copy("settle");
    // Hide a question once it is answered, ask it while it is empty: never settles.
    let rule = dir.join("rules/hypertension.rhai");
    let mut src = std::fs::read_to_string(&rule).unwrap();
    src.push_str("\nif answered(\"dizziness\") { if answered(\"ankle-swelling\") { hide(\"ankle-swelling\"); } else { ask(\"ankle-swelling\", \"x\"); } }\n");
    std::fs::write(&rule, src).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let err = text(&out.stderr);
    let line = err.lines().find(|l| l.contains("never settle")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("hypertension-follow-up/manifest.json") && line.contains("ankle-swelling"), "{line}");
}

#[test]
fn fill_a_bare_questionnaire_computes_its_expressions() {
    let dir = tempdir("fill-bare");
    let answers = dir.join("answers.json");
    std::fs::write(&answers, r#"{"answers": {"/44250-9": {"system": "http://loinc.org", "code": "LA6571-9"},
        "/44255-8": {"system": "http://loinc.org", "code": "LA6569-3"}}}"#).unwrap();
    let phq9 = corpus().join("questionnaires/lforms/R4/phq9.json");
    let out = intake(&["fill", "--questionnaire", phq9.to_str().unwrap(), "--answers", answers.to_str().unwrap(), "--now", "2026-11-20T09:00:00Z"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let qr: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = qr["item"].as_array().unwrap().iter().find(|i| i["linkId"] == "/44261-6").expect("the total is in the response");
    assert_eq!(total["answer"][0]["valueDecimal"], serde_json::json!(4), "3 + 1");
    assert!(text(&out.stderr).contains("no --chart"), "says there is no chart");
    assert!(qr.get("subject").is_none(), "no chart, no subject");
    // The write-back needs a patient: --submit without a chart is refused, saying why.
    let survey = dir.join("survey.json");
    std::fs::write(&survey, r#"{"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "a", "type": "string"}]}"#).unwrap();
    let out = intake(&["fill", "--questionnaire", survey.to_str().unwrap(), "--now", "2026-11-20T09:00:00Z", "--submit"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("needs the patient's chart"), "{}", text(&out.stderr));
    // Without --questionnaire or --visit-type it says what is missing.
    let out = intake(&["fill", "--answers", answers.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--visit-type"), "{}", text(&out.stderr));
}

/// A visit type's own `valuesets/`: checked, bundled by `catalog`, and a broken or missing one
/// is said with its file and position (or as a fallback warning on the item).
#[test]
fn a_visit_types_value_sets_are_checked_and_bundled() {
    let dir = project_copy("valuesets");
    let vt = dir.join("visit-types/hypertension-follow-up");
    let qpath = vt.join("questionnaire.json");
    let mut q: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&qpath).unwrap()).unwrap();
    // The first choice question with coded options gets them from a value set file instead.
    fn first_coded_choice(items: &mut Vec<serde_json::Value>) -> Option<&mut serde_json::Value> {
        for it in items.iter_mut() {
            let coded = it["type"] == "choice" && it["answerOption"].as_array().is_some_and(|o| o.iter().all(|x| x.get("valueCoding").is_some()));
            if coded {
                return Some(it);
            }
            if let Some(kids) = it.get_mut("item").and_then(|k| k.as_array_mut()) {
                if let Some(found) = first_coded_choice(kids) {
                    return Some(found);
                }
            }
        }
        None
    }
    let item = first_coded_choice(q["item"].as_array_mut().unwrap()).expect("a coded choice in the visit type");
    let link_id = item["linkId"].as_str().unwrap().to_owned();
    let options = item.as_object_mut().unwrap().remove("answerOption").unwrap();
    item["answerValueSet"] = serde_json::json!("http://example.org/ValueSet/test-options|1");
    std::fs::write(&qpath, serde_json::to_string_pretty(&q).unwrap()).unwrap();
    let contains: Vec<serde_json::Value> = options.as_array().unwrap().iter().map(|o| o["valueCoding"].clone()).collect();
    std::fs::create_dir_all(vt.join("valuesets")).unwrap();
    let vs = serde_json::json!({"resourceType": "ValueSet", "url": "http://example.org/ValueSet/test-options", "version": "1",
        "status": "active", "expansion": {"contains": contains}});
    std::fs::write(vt.join("valuesets/test-options.json"), serde_json::to_string_pretty(&vs).unwrap()).unwrap();

    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("0 errors, 0 warnings"), "{}{}", text(&out.stdout), text(&out.stderr));
    // The question's options come from the file: answering one by its code works.
    let answers = dir.join("answers.json");
    let code = contains[0]["code"].as_str().unwrap();
    std::fs::write(&answers, serde_json::json!({"answers": {&link_id: code}}).to_string()).unwrap();
    let out = intake(&["fill", "--dir", dir.join("visit-types").to_str().unwrap(), "--rules", dir.join("rules").to_str().unwrap(),
        "--visit-type", "hypertension-follow-up", "--chart", root().join("web/demo/charts/maria-hernandez.json").to_str().unwrap(),
        "--answers", answers.to_str().unwrap(), "--now", "2026-11-20T09:00:00Z"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // ...and a code the file does not list is refused, naming the item.
    std::fs::write(&answers, serde_json::json!({"answers": {&link_id: "not-in-the-file"}}).to_string()).unwrap();
    let out = intake(&["fill", "--dir", dir.join("visit-types").to_str().unwrap(), "--rules", dir.join("rules").to_str().unwrap(),
        "--visit-type", "hypertension-follow-up", "--chart", root().join("web/demo/charts/maria-hernandez.json").to_str().unwrap(),
        "--answers", answers.to_str().unwrap(), "--now", "2026-11-20T09:00:00Z"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(&link_id), "{}", text(&out.stderr));

    let cat = dir.join("catalog");
    let out = intake(&["catalog", cat.to_str().unwrap(), "--dir", dir.join("visit-types").to_str().unwrap(), "--rules", dir.join("rules").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entry: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cat.join("visit-types/hypertension-follow-up.json")).unwrap()).unwrap();
    assert_eq!(entry["valueSets"][0]["url"], "http://example.org/ValueSet/test-options");

    // A broken file: an error at its line and column.
    std::fs::write(vt.join("valuesets/test-options.json"), "{\n  \"resourceType\": \"ValueSet\",\n  \"url\": }").unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.lines().any(|l| l.contains("valuesets/test-options.json:3:")), "{err}");
    // No file at all: the item falls back to free text, and check says which item and why.
    std::fs::remove_file(vt.join("valuesets/test-options.json")).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.lines().any(|l| l.contains(&format!("item '{link_id}'")) && l.contains("free text")), "{all}");
    // A warning alone: the visit type's line says so (never "ok" above it), the last line
    // agrees with the exit status, and --deny-warnings (what CI runs) makes it fail.
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(text(&out.stdout).lines().any(|l| l.starts_with("warn (1)") && l.contains("hypertension-follow-up")), "{all}");
    assert!(text(&out.stdout).contains("0 errors, 1 warnings: passed with warnings"), "{all}");
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap(), "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("failed (--deny-warnings)"), "{}", text(&out.stdout));
}

/// Misspelt names get the nearest valid one: linkIds in rules and manifests, item types,
/// manifest keys, host functions, and linkIds in answers files.
#[test]
fn misspelt_names_get_a_did_you_mean() {
    let dir = project_copy("did-you-mean");
    let edit = |rel: &str, from: &str, to: &str| {
        let p = dir.join(rel);
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains(from), "{rel} has {from}");
        std::fs::write(&p, t.replacen(from, to, 1)).unwrap();
    };
    edit("rules/hypertension.rhai", "ask(\"cough\"", "ask(\"coughh\"");
    edit("visit-types/new-patient-adult/questionnaire.json", "\"type\": \"choice\"", "\"type\": \"choise\"");
    edit("visit-types/pediatric-sick-visit/manifest.json", "\"questionnaire\":", "\"questionaire\":");
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.contains("no item with linkId 'coughh' in this visit type (did you mean 'cough'?)"), "{err}");
    assert!(err.contains("has unknown type 'choise' (did you mean 'choice'?)"), "{err}");
    assert!(err.contains("unknown manifest field 'questionaire' (did you mean 'questionnaire'?)"), "{err}");

    // A host function misspelt: refused at load, at its line, with the one probably meant.
    copy_dir(&root().join("visit-types"), &dir.join("visit-types"));
    copy_dir(&root().join("rules"), &dir.join("rules"));
    let rule = dir.join("rules/hypertension.rhai");
    let mut src = std::fs::read_to_string(&rule).unwrap();
    src.push_str("\nif has_conditon(\"38341003\") { flag(\"cough\", \"x\"); }\n");
    std::fs::write(&rule, src).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.lines().any(|l| l.starts_with("rules/hypertension.rhai:") || l.contains("hypertension.rhai:")), "{err}");
    assert!(err.contains("has_conditon() is not a function rules can call (did you mean 'has_condition'?)"), "{err}");

    // An answers file naming an item that is not there.
    let answers = dir.join("answers.json");
    std::fs::write(&answers, r#"{"answers": {"home-bp-sytolic": 120}}"#).unwrap();
    let out = intake(&["fill", "--visit-type", "hypertension-follow-up", "--chart", root().join("web/demo/charts/maria-hernandez.json").to_str().unwrap(), "--answers", answers.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("(did you mean 'home-bp-systolic'?)"), "{}", text(&out.stderr));
}

/// Rules are checked against the form: a comparison that can never be true (a yes/no question
/// compared with text, a code that is not one of the options) is an error at its position,
/// saying what the item actually holds. Dynamic comparisons are left alone.
#[test]
fn comparisons_that_can_never_be_true_are_errors() {
    let cases = [
        ("if answer(\"home-bp-monitoring\") == \"yes\" { flag(\"cough\", \"x\"); }", "'home-bp-monitoring' is a yes/no question; compare with true or false, not \"yes\""),
        ("if \"120\" == answer(\"home-bp-systolic\") { flag(\"cough\", \"x\"); }", "'home-bp-systolic' is a number question; compare with a number"),
        ("if has_answer_code(\"crisis-symptoms\", \"29857008\") { flag(\"cough\", \"x\"); }", "'29857008' is not one of the options of 'crisis-symptoms' (did you mean '29857009'?)"),
        ("if answer(\"crisis-symptoms\") != \"chest-pain\" { flag(\"cough\", \"x\"); }", "'chest-pain' is not one of the options of 'crisis-symptoms'"),
    ];
    for (line, expected) in cases {
        let dir = project_copy("never-true");
        let rule = dir.join("rules/hypertension.rhai");
        let mut src = std::fs::read_to_string(&rule).unwrap();
        let line_no = src.lines().count() + 2;
        src.push_str(&format!("\n{line}\n"));
        std::fs::write(&rule, src).unwrap();
        let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{line}");
        let err = text(&out.stderr);
        let l = err.lines().find(|l| l.contains("can never be true")).unwrap_or_else(|| panic!("{line}: {err}"));
        assert!(l.contains(expected), "{l}");
        assert!(l.contains(&format!("hypertension.rhai:{line_no}:")), "file:line first: {l}");
    }
    // Right types, and comparisons too dynamic to check, pass.
    let dir = project_copy("never-true-ok");
    let rule = dir.join("rules/hypertension.rhai");
    let mut src = std::fs::read_to_string(&rule).unwrap();
    src.push_str("\nlet code = \"anything\";\nif answer(\"home-bp-monitoring\") == true && has_answer_code(\"crisis-symptoms\", \"none\") && answer(\"crisis-symptoms\") != code { flag(\"cough\", \"x\"); }\n");
    std::fs::write(&rule, src).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A visit type's `applies_to` is enforced: a child's sick visit is refused for an adult,
/// with the reason.
#[test]
fn a_visit_type_that_does_not_apply_is_refused_with_the_reason() {
    let out = intake(&["fill", "--visit-type", "pediatric-sick-visit", "--chart", root().join("web/demo/charts/maria-hernandez.json").to_str().unwrap(), "--now", "2026-11-20T09:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("visit type 'pediatric-sick-visit' does not apply here: it is for patients aged up to 17; this patient is 58"), "{err}");
}

/// The rules speak Spanish, so the questions must too: an item without Spanish text is a
/// warning naming it.
#[test]
fn questions_lacking_a_language_the_rules_speak_are_warned() {
    let dir = project_copy("untranslated");
    let qpath = dir.join("visit-types/hypertension-follow-up/questionnaire.json");
    let mut q: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&qpath).unwrap()).unwrap();
    fn strip_first(items: &mut [serde_json::Value]) -> Option<String> {
        for it in items.iter_mut() {
            if it.get("_text").is_some() {
                it.as_object_mut().unwrap().remove("_text");
                return it["linkId"].as_str().map(str::to_owned);
            }
            if let Some(found) = it.get_mut("item").and_then(|k| k.as_array_mut()).and_then(|k| strip_first(k)) {
                return Some(found);
            }
        }
        None
    }
    let link_id = strip_first(q["item"].as_array_mut().unwrap()).expect("a translated item");
    std::fs::write(&qpath, serde_json::to_string_pretty(&q).unwrap()).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    let err = text(&out.stderr);
    let line = err.lines().find(|l| l.contains("the rules give reasons in 'es'")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains(": warning: ") && line.contains("1 item(s) have no 'es' text") && line.contains(&link_id), "{line}");
}

/// Every syntax error in a rule file is reported, each at its line, not only the first.
#[test]
fn every_syntax_error_in_a_rule_file_is_reported() {
    let dir = project_copy("syntax-errors");
    let rule = dir.join("rules/hypertension.rhai");
    let mut src = std::fs::read_to_string(&rule).unwrap();
    let first = src.lines().count() + 2;
    src.push_str("\nlet a = 1 +;\nlet ok = 2;\nlet b = ;\nlet c = d e;\nlet fine = 3;\n");
    std::fs::write(&rule, src).unwrap();
    let out = intake(&["check", dir.join("visit-types").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let lines: Vec<usize> = err
        .lines()
        .filter(|l| l.contains("hypertension.rhai:") && l.contains("syntax error"))
        .filter_map(|l| l.split(':').nth(1)?.parse().ok())
        .collect();
    assert_eq!(lines, [first, first + 2, first + 3], "{err}");
}

/// `intake explain` says which chart entry matched a rule's value set and by which code, or,
/// when none did, which codes were compared.
#[test]
fn explain_names_the_value_set_and_code_that_matched() {
    let dir = root().join("visit-types/diabetes-follow-up/scenarios/charts");
    let run = |chart: &str| {
        let out = intake(&["explain", "--visit-type", "diabetes-follow-up", "--chart", dir.join(chart).to_str().unwrap(), "--now", "2026-11-20T09:00:00Z"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let on = run("on-insulin.json");
    assert!(on.contains("insulins (5 codes): matched MedicationStatement/dm-insulin-glargine by http://www.nlm.nih.gov/research/umls/rxnorm|274783 (insulin glargine)"), "{on}");
    let off = run("on-metformin.json");
    assert!(off.contains("insulins (5 codes): no chart entry matches; compared: MedicationStatement/dm-metformin-500 http://www.nlm.nih.gov/research/umls/rxnorm|860975"), "{off}");
}

/// `catalog` names the smallest browser build that runs each visit type (pkg/README.md, "Four
/// builds"): rules without FHIRPath for this project's visit types, the full build once a form
/// carries an expression (the demo loads the build it names).
#[test]
fn the_catalog_names_the_build_each_visit_type_needs() {
    let dir = project_copy("catalog-build");
    let qpath = dir.join("visit-types/diabetes-follow-up/questionnaire.json");
    let mut q: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&qpath).unwrap()).unwrap();
    q["item"].as_array_mut().unwrap().push(serde_json::json!({
        "linkId": "four", "type": "integer", "text": "Two and two", "readOnly": true,
        "extension": [{"url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression",
            "valueExpression": {"language": "text/fhirpath", "expression": "2 + 2"}}]}));
    std::fs::write(&qpath, serde_json::to_string_pretty(&q).unwrap()).unwrap();
    let cat = dir.join("catalog");
    let out = intake(&["catalog", cat.to_str().unwrap(), "--dir", dir.join("visit-types").to_str().unwrap(), "--rules", dir.join("rules").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let index: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cat.join("catalog.json")).unwrap()).unwrap();
    let builds: Vec<(String, String)> = index["visitTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v["build"].as_str().unwrap_or("missing").to_owned()))
        .collect();
    assert_eq!(
        builds,
        [("diabetes-follow-up", "full"), ("hypertension-follow-up", "rules"), ("new-patient-adult", "rules"), ("pediatric-sick-visit", "rules")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}
