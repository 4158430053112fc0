//! The scenario skeleton `intake preview` saves: for the state of every shipped scenario, the
//! skeleton (expectations filled from that state) must itself pass `intake test`, and must
//! carry the expectations that state has (what rules asked, flags, submit outcome).

use std::path::{Path, PathBuf};
use std::rc::Rc;

use intake_cli::project::{parse_now, read_json, Project};
use intake_cli::scenario::{run_one, skeleton, ScenarioInputs};
use intake_engine::answers_file;
use intake_engine::context::VisitContext;
use intake_engine::fhir::Json;
use intake_engine::{Chart, Session};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_skeleton_of_every_shipped_scenario_state_passes() {
    let project = Project::locate(Some(root().join("visit-types").to_str().unwrap()), None).unwrap();
    let out = std::env::temp_dir().join(format!("intake-skeleton-{}", std::process::id()));
    std::fs::create_dir_all(out.join("charts")).unwrap();
    let mut checked = 0;
    for dir in project.visit_type_dirs() {
        let vt = Rc::new(project.load_dir(&dir).expect("shipped visit types load"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("scenarios")).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        files.sort();
        for f in files {
            let scen = read_json(&f).unwrap();
            let expect = scen.get("expect").cloned().unwrap_or(Json::Null);
            if expect.get("chart_error").is_some() || expect.get("answers_error").is_some() {
                continue; // no session to take a skeleton of
            }
            let chart_path = f.parent().unwrap().join(scen["chart"].as_str().unwrap());
            let chart = Chart::from_text(&std::fs::read_to_string(&chart_path).unwrap()).unwrap();
            let now_text = scen["now"].as_str().unwrap();
            let context_json = scen.get("context").cloned().unwrap_or_else(|| serde_json::json!({}));
            let context = VisitContext::from_json(&context_json).unwrap();
            let mut s = Session::new(vt.clone(), Rc::new(chart), context, parse_now(now_text).unwrap(), "skeleton").unwrap();
            let answers = scen.get("answers").cloned().unwrap_or_else(|| serde_json::json!({}));
            answers_file::apply(&mut s, &answers).unwrap();

            let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
            let chart_name = format!("charts/{stem}.json");
            std::fs::copy(&chart_path, out.join(&chart_name)).unwrap();
            let inputs = ScenarioInputs { description: "skeleton", chart: &chart_name, now: now_text, context: &context_json, answers: &answers };
            let sk = skeleton(&s, &inputs);
            let file = out.join(format!("{}.{stem}.json", vt.manifest.id));
            std::fs::write(&file, serde_json::to_string_pretty(&sk).unwrap()).unwrap();
            let report = run_one(&vt, &file);
            assert!(report.result.is_ok(), "{}: the skeleton fails: {:?}\n{}", f.display(), report.result, serde_json::to_string_pretty(&sk).unwrap());

            // It says what the hand-written scenario says about flags and submit.
            let sk_expect = &sk["expect"];
            let want_submit = expect.get("submit").and_then(Json::as_str).unwrap_or("ok");
            assert_eq!(sk_expect["submit"].as_str(), Some(want_submit), "{}", f.display());
            for flagged in expect.get("flagged").and_then(Json::as_array).into_iter().flatten() {
                let listed = sk_expect["flagged"].as_array().is_some_and(|a| a.contains(flagged));
                assert!(listed, "{}: skeleton misses flagged {flagged}", f.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "checked {checked} scenarios");
    let _ = std::fs::remove_dir_all(&out);
}
