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
    assert!(text(&out.stdout).contains("3 visit types checked: 0 errors, 0 warnings"));

    let dir = tempdir("check");
    copy_dir(&root().join("visit-types"), &dir.join("visit-types"));
    copy_dir(&root().join("rules"), &dir.join("rules"));
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
    let dir = tempdir("settle");
    copy_dir(&root().join("visit-types"), &dir.join("visit-types"));
    copy_dir(&root().join("rules"), &dir.join("rules"));
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
