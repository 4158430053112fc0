//! Autosave is the engine's answers snapshot; resuming is replaying it. For every scenario of
//! every shipped visit type (real charts, prefilled rows, units, proxies, Spanish), the restored
//! session must hold the same answers and compute the same state, node for node.

use std::path::Path;
use std::rc::Rc;

use intake_cli::project::{read_json, Project};
use intake_engine::answers_file::{apply, snapshot};
use intake_engine::context::VisitContext;
use intake_engine::fhir::{DateTime, Json};
use intake_engine::{Chart, Session};

#[test]
fn every_scenario_session_survives_snapshot_and_restore() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let project = Project::locate(Some(root.join("visit-types").to_str().unwrap()), Some(root.join("rules").to_str().unwrap())).unwrap();
    let mut checked = 0;
    for dir in project.visit_type_dirs() {
        let vt = Rc::new(project.load_dir(&dir).unwrap());
        let Ok(rd) = std::fs::read_dir(dir.join("scenarios")) else { continue };
        for f in rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")) {
            let scen = read_json(&f).unwrap();
            let chart_path = f.parent().unwrap().join(scen["chart"].as_str().unwrap());
            let Ok(chart) = Chart::from_text(&std::fs::read_to_string(&chart_path).unwrap()) else { continue };
            let chart = Rc::new(chart);
            let now = DateTime::parse(scen["now"].as_str().unwrap()).unwrap();
            let ctx = scen.get("context").map(|c| VisitContext::from_json(c).unwrap()).unwrap_or_default();
            let mut a = Session::new(vt.clone(), chart.clone(), ctx.clone(), now, "s").unwrap();
            if let Some(ans) = scen.get("answers") {
                if apply(&mut a, ans).is_err() {
                    continue; // scenarios that test refused answers
                }
            }
            let snap = snapshot(&a);
            // Through text, as storage keeps it.
            let snap: Json = serde_json::from_str(&snap.to_string()).unwrap();
            let mut b = Session::new(vt.clone(), chart, ctx, now, "s").unwrap();
            apply(&mut b, &snap).unwrap_or_else(|e| panic!("{}: restore failed: {e}", f.display()));
            let state = |s: &Session| {
                s.preorder()
                    .into_iter()
                    .map(|n| {
                        let node = s.node(n).unwrap();
                        (s.node_key(n), node.answers.clone(), node.state.clone())
                    })
                    .collect::<Vec<_>>()
            };
            let (sa, sb) = (state(&a), state(&b));
            for (x, y) in sa.iter().zip(&sb) {
                assert_eq!(x, y, "{}: node differs after restore", f.display());
            }
            assert_eq!(sa.len(), sb.len(), "{}", f.display());
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} scenarios checked");
}
