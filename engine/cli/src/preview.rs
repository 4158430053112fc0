//! `intake preview`: the author's live view of a visit type, on 127.0.0.1.
//!
//! The page (embedded below, `preview/`) mounts the form through the npm package exactly as a
//! portal does, and beside it shows what `intake check` and `intake explain` say for the same
//! files, chart and answers. The server watches the project's files: when a questionnaire,
//! manifest, rule, value set or chart changes, the page's long poll on `/api/state` returns
//! and the page remounts the form; the answers come back through the form's own autosave
//! restore (what a patient's reload does), so the preview also shows which answers no longer
//! fit. A broken edit leaves the last version that loaded in place and lists the errors at
//! their file:line.
//!
//! Everything is computed by the same code as the CLI commands (`check`'s diagnostics,
//! `explain_text`, the scenario runner), so the page and the command line never disagree.
//! Writes are limited to new scenario files (and their chart) under the visit type's
//! `scenarios/`; nothing is ever overwritten.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use intake_engine::answers_file;
use intake_engine::context::VisitContext;
use intake_engine::fhir::Json;
use intake_engine::visit_type::{Diagnostic, Severity};
use intake_engine::{Chart, Session, VisitType};
use serde_json::json;

use crate::commands::{catalog_entry, explain_text, unsettled};
use crate::project::{display, parse_now, read_chart, Project};
use crate::serve::{static_file, Request, Response};

const PAGE: &str = include_str!("preview/index.html");
const SCRIPT: &str = include_str!("preview/preview.js");
const STYLE: &str = include_str!("preview/preview.css");

/// How long `/api/state?since=...` waits for a change before answering anyway.
const LONG_POLL: Duration = Duration::from_secs(20);
/// How often the files are looked at while waiting.
const WATCH_EVERY: Duration = Duration::from_millis(200);
/// How often one answer reads the files again when they change while it reads them (a file
/// rewritten without pause still gets an answer, with the fingerprint of its last read).
const REREADS: usize = 5;
/// Folders deeper than this under a watched root are not watched (no runaway walks).
const WATCH_DEPTH: usize = 6;

/// What the preview serves.
#[derive(Debug, Clone)]
pub struct Preview {
    pub project: Project,
    /// The npm package folder: its `index.js` and built `dist/` run the form.
    pub pkg: PathBuf,
    /// Folders of demo charts; each visit type's `scenarios/charts/` are offered too.
    pub chart_dirs: Vec<PathBuf>,
    /// Chart files named on the command line; the first is picked at the start.
    pub charts: Vec<PathBuf>,
    /// The visit type picked at the start (`--visit-type`).
    pub visit_type: Option<String>,
}

/// `intake preview [--visit-type ID] [--chart FILE] [--port N]`: set up from the command line
/// and serve until stopped.
pub fn run(args: &crate::args::Args) -> i32 {
    let project = match Project::locate(args.opt("--dir"), args.opt("--rules")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let root = project.visit_types.parent().map(Path::to_path_buf).unwrap_or_default();
    let pkg = args.opt("--pkg").map(PathBuf::from).unwrap_or_else(|| root.join("pkg"));
    if !pkg.join("dist").join("intake_web_bg.wasm").is_file() {
        eprintln!(
            "error: {}: the browser bundle is not built; run ./build-web.sh first (or pass --pkg DIR)",
            display(&pkg.join("dist"))
        );
        return 1;
    }
    let chart_dirs = match args.opt("--charts") {
        Some(d) => vec![PathBuf::from(d)],
        None => vec![root.join("web").join("demo").join("charts")].into_iter().filter(|d| d.is_dir()).collect(),
    };
    let charts: Vec<PathBuf> = args.opt("--chart").map(PathBuf::from).into_iter().collect();
    for c in &charts {
        if let Err(e) = read_chart(c) {
            eprintln!("error: --chart {e}");
            return 1;
        }
    }
    if let Some(id) = args.opt("--visit-type") {
        if !project.dir_of(id).join("manifest.json").is_file() {
            let known = project.visit_type_ids();
            let hint = intake_engine::suggest::hint(id, known.iter().map(String::as_str));
            eprintln!("error: no visit type '{id}'{hint} (known: {})", known.join(", "));
            return 1;
        }
    }
    let port = args.opt("--port").and_then(|p| p.parse().ok()).unwrap_or(8081);
    let preview = Preview { project, pkg, chart_dirs, charts, visit_type: args.opt("--visit-type").map(str::to_owned) };
    println!("Editing a questionnaire, manifest, rule, value set or chart reloads the page with the answers kept.");
    match crate::serve::run("preview", port, move |req| preview.handle(req)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot serve on 127.0.0.1:{port}: {e}");
            1
        }
    }
}

/// A chart the author can pick. Its id is its path as shown (relative to the working
/// directory): stable across restarts, and only ids from this list are ever read.
#[derive(Debug, Clone)]
struct ChartFile {
    id: String,
    path: PathBuf,
}

/// A preview request that cannot be answered, with its HTTP status.
#[derive(Debug)]
struct Refused(&'static str, String);

impl Preview {
    /// Answer one request.
    pub fn handle(&self, req: &Request) -> Response {
        let result = match (req.method.as_str(), req.path()) {
            ("GET", "/" | "/index.html") => Ok(Response::new("200 OK", "text/html; charset=utf-8", PAGE)),
            ("GET", "/preview.js") => Ok(Response::new("200 OK", "text/javascript; charset=utf-8", SCRIPT)),
            ("GET", "/preview.css") => Ok(Response::new("200 OK", "text/css; charset=utf-8", STYLE)),
            ("GET", "/api/state") => Ok(self.state(req)),
            ("GET", "/api/chart") => self.chart_text(req),
            ("POST", "/api/explain") => self.explain(req),
            ("POST", "/api/scenario") => self.save_scenario(req),
            (m, p) if p.starts_with("/pkg/") => Ok(static_file(&self.pkg, m, &req.target["/pkg".len()..])),
            _ => Ok(Response::not_found()),
        };
        result.unwrap_or_else(|Refused(status, message)| Response::json(status, &json!({ "error": message })))
    }

    /// Every file the preview depends on, as (path, length, modified): a change to any of
    /// them changes the fingerprint.
    pub fn fingerprint(&self) -> String {
        let mut files = Vec::new();
        let roots = [&self.project.visit_types, &self.project.rules].into_iter().chain(&self.chart_dirs);
        for root in roots {
            walk(root, 0, &mut files);
        }
        files.extend(self.charts.iter().cloned());
        files.sort();
        let mut h = DefaultHasher::new();
        for f in &files {
            f.hash(&mut h);
            if let Ok(m) = std::fs::metadata(f) {
                m.len().hash(&mut h);
                if let Ok(t) = m.modified().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).map_err(std::io::Error::other)) {
                    t.as_nanos().hash(&mut h);
                }
            }
        }
        format!("{:016x}", h.finish())
    }

    /// The charts on offer: the command line's, each visit type's scenario charts, the demo's.
    fn chart_files(&self) -> Vec<ChartFile> {
        let mut dirs: Vec<PathBuf> = self.project.visit_type_dirs().iter().map(|d| d.join("scenarios").join("charts")).collect();
        dirs.extend(self.chart_dirs.iter().cloned());
        let mut out: Vec<ChartFile> = self.charts.iter().map(|p| ChartFile { id: display(p), path: p.clone() }).collect();
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
                .unwrap_or_default();
            files.sort();
            out.extend(files.into_iter().map(|p| ChartFile { id: display(&p), path: p }));
        }
        out
    }

    fn chart_file(&self, id: &str) -> Result<ChartFile, Refused> {
        self.chart_files()
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| Refused("404 Not Found", format!("no chart '{id}' is on offer")))
    }

    /// `GET /api/state?visitType=ID&since=FINGERPRINT`: the visit types and charts on offer,
    /// and for the chosen visit type its catalog entry (if it loads) and every diagnostic
    /// `intake check` gives it. With `since`, waits until the files differ from that
    /// fingerprint (or a while passes): the page's live reload.
    fn state(&self, req: &Request) -> Response {
        let since = req.query("since");
        let deadline = Instant::now() + LONG_POLL;
        let mut fingerprint = self.fingerprint();
        while since.as_deref() == Some(fingerprint.as_str()) && Instant::now() < deadline {
            std::thread::sleep(WATCH_EVERY);
            fingerprint = self.fingerprint();
        }
        // The fingerprint must name the files as read: an edit saved while they were read (an
        // editor writing twice in quick succession) would otherwise be in this answer under
        // the older fingerprint, and the next poll would report a change the page already
        // shows ("files changed; the form is unchanged" right after the reload).
        let mut state = self.state_read(req);
        for _ in 0..REREADS {
            let after = self.fingerprint();
            if after == fingerprint {
                break;
            }
            fingerprint = after;
            state = self.state_read(req);
        }
        if let Json::Object(m) = &mut state {
            m.insert("fingerprint".into(), Json::String(fingerprint));
        }
        Response::json("200 OK", &state)
    }

    /// The state `GET /api/state` answers with, as the files are now (without its fingerprint).
    fn state_read(&self, req: &Request) -> Json {
        let ids = self.project.visit_type_ids();
        let mut visit_types = Vec::new();
        for id in &ids {
            let title = std::fs::read_to_string(self.project.dir_of(id).join("manifest.json"))
                .ok()
                .and_then(|t| intake_engine::visit_type::Manifest::from_text("", &t).ok())
                .map(|m| m.title)
                .unwrap_or_else(|| id.clone());
            visit_types.push(json!({ "id": id, "title": title }));
        }
        // Each chart read once: the list's labels and the visit type's fitting charts use it.
        let charts: Vec<(ChartFile, Result<Chart, String>)> = self
            .chart_files()
            .into_iter()
            .map(|c| {
                let chart = read_chart(&c.path);
                (c, chart)
            })
            .collect();
        let default_visit_type = self.visit_type.clone().filter(|v| ids.contains(v)).or_else(|| ids.first().cloned());
        let chosen = req.query("visitType").filter(|v| ids.contains(v)).or_else(|| default_visit_type.clone());
        let visit_type = chosen.map(|id| self.visit_type_state(&id, &charts)).unwrap_or(Json::Null);
        let chart_list: Vec<Json> = charts
            .iter()
            .map(|(c, chart)| match chart {
                Ok(chart) => json!({ "id": c.id, "label": chart_label(chart, &c.id) }),
                Err(e) => json!({ "id": c.id, "label": format!("{} (does not load)", c.id), "error": e }),
            })
            .collect();
        let defaults = json!({ "visitType": default_visit_type, "chart": self.charts.first().map(|c| display(c)) });
        json!({ "visitTypes": visit_types, "charts": chart_list, "visitType": visit_type, "defaults": defaults })
    }

    fn visit_type_state(&self, id: &str, charts: &[(ChartFile, Result<Chart, String>)]) -> Json {
        let dir = self.project.dir_of(id);
        let loaded = self.project.read_source(&dir).and_then(|src| VisitType::load(&src).map(|vt| (src, vt)));
        let (src, vt) = match loaded {
            Ok(x) => x,
            Err(ds) => return json!({ "id": id, "entry": Json::Null, "diagnostics": diagnostics_json(&ds) }),
        };
        let vt = Rc::new(vt);
        let mut ds = vt.warnings.clone();
        ds.extend(unsettled(&vt, &dir));
        // Which charts the visit type may start on (its `applies_to`), with its first reason.
        let applies = &vt.manifest.applies_to;
        let mut context = VisitContext::default();
        context.reasons.extend(applies.visit_reasons.first().cloned());
        if applies.proxy == Some(true) {
            context.respondent = intake_engine::context::Respondent::Proxy(Default::default());
        }
        let today = crate::project::system_now().date;
        let mut fitting: Vec<&ChartFile> = charts
            .iter()
            .filter(|(_, chart)| chart.as_ref().is_ok_and(|chart| vt.applies(chart, &context, &today).is_ok()))
            .map(|(c, _)| c)
            .collect();
        // The visit type's own scenario charts first: what its author wrote it for.
        let own = dir.join("scenarios");
        fitting.sort_by_key(|c| !c.path.starts_with(&own));
        let fitting: Vec<&str> = fitting.iter().map(|c| c.id.as_str()).collect();
        json!({
            "id": id,
            "entry": catalog_entry(&src, &vt),
            "diagnostics": diagnostics_json(&ds),
            "reasons": applies.visit_reasons,
            "respondent": match applies.proxy { Some(true) => "proxy", Some(false) => "patient", None => "either" },
            "fittingCharts": fitting,
        })
    }

    /// `GET /api/chart?id=ID`: a chart on offer, as its file holds it.
    fn chart_text(&self, req: &Request) -> Result<Response, Refused> {
        let id = req.query("id").ok_or_else(|| Refused("400 Bad Request", "id is required".into()))?;
        let chart = self.chart_file(&id)?;
        let text = std::fs::read(&chart.path).map_err(|e| Refused("404 Not Found", format!("{id}: {e}")))?;
        Ok(Response::new("200 OK", "application/json; charset=utf-8", text))
    }

    /// The session a request describes, from the files as they are now: `{ visitType, chart,
    /// context, now, snapshot }` where `snapshot` is what the form autosaved. Answers that no
    /// longer fit are skipped and listed, as the form's own restore does.
    fn session(&self, body: &Json) -> Result<(Session, Vec<String>, ChartFile), Refused> {
        let field = |k: &str| body.get(k).and_then(Json::as_str).ok_or_else(|| Refused("400 Bad Request", format!("{k} is required")));
        let id = field("visitType")?;
        if !self.project.visit_type_ids().iter().any(|v| v == id) {
            return Err(Refused("404 Not Found", format!("no visit type '{id}'")));
        }
        let vt = self
            .project
            .load(id)
            .map_err(|_| Refused("409 Conflict", format!("{id} does not load; the check panel lists why")))?;
        let chart_file = self.chart_file(field("chart")?)?;
        let chart = read_chart(&chart_file.path).map_err(|e| Refused("409 Conflict", e))?;
        let context = match body.get("context") {
            Some(c) => VisitContext::from_json(c).map_err(|e| Refused("400 Bad Request", format!("context: {e}")))?,
            None => VisitContext::default(),
        };
        let now = parse_now(field("now")?).map_err(|e| Refused("400 Bad Request", e))?;
        let snapshot = body.get("snapshot").filter(|s| !s.is_null());
        let session_id = snapshot.and_then(|s| s.get("session")).and_then(Json::as_str).unwrap_or("preview");
        let mut session = Session::new(Rc::new(vt), Rc::new(chart), context, now, session_id).map_err(|e| Refused("409 Conflict", e.to_string()))?;
        let problems = match snapshot {
            Some(s) => match answers_file::restore(&mut session, s) {
                Ok(ps) => ps.iter().map(|p| format!("answer not restored: {p}")).collect(),
                Err(e) => vec![format!("answers not restored: {e}")],
            },
            None => Vec::new(),
        };
        Ok((session, problems, chart_file))
    }

    /// `POST /api/explain`: what `intake explain` prints for the page's chart and answers.
    fn explain(&self, req: &Request) -> Result<Response, Refused> {
        let body = parse_body(req)?;
        let (session, problems, _) = self.session(&body)?;
        let lang = session.context().language.clone();
        Ok(Response::json("200 OK", &json!({ "text": explain_text(&session, &lang), "problems": problems })))
    }

    /// `POST /api/scenario`: save the page's answers as a new scenario file of the visit type,
    /// expectations filled from the current state, and run it once to prove it passes.
    fn save_scenario(&self, req: &Request) -> Result<Response, Refused> {
        let body = parse_body(req)?;
        let name = body.get("name").and_then(Json::as_str).unwrap_or("").trim().to_owned();
        if name.is_empty() || name.len() > 80 || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(Refused("400 Bad Request", "name the scenario with lowercase letters, digits and hyphens (it becomes the file name)".into()));
        }
        let (session, problems, chart) = self.session(&body)?;
        if !problems.is_empty() {
            return Err(Refused("409 Conflict", format!("some answers do not fit the visit type as it is now: {}", problems.join("; "))));
        }
        let dir = self.project.dir_of(&session.visit_type().manifest.id).join("scenarios");
        let file = dir.join(format!("{name}.json"));
        if file.exists() {
            return Err(Refused("409 Conflict", format!("{} exists; pick another name (nothing is overwritten)", display(&file))));
        }
        let chart_rel = place_chart(&dir, &chart.path).map_err(|e| Refused("500 Internal Server Error", e))?;
        let answers = body.get("snapshot").and_then(|s| s.get("answers")).cloned().unwrap_or_else(|| json!({}));
        let context = body.get("context").cloned().unwrap_or_else(|| json!({}));
        let now = body.get("now").and_then(Json::as_str).unwrap_or_default();
        let description = body.get("description").and_then(Json::as_str).map(str::trim).filter(|d| !d.is_empty()).unwrap_or("Saved from intake preview: say what this scenario is about.");
        let inputs = crate::scenario::ScenarioInputs { description, chart: &chart_rel, now, context: &context, answers: &answers };
        let scenario = crate::scenario::skeleton(&session, &inputs);
        let text = serde_json::to_string_pretty(&scenario).map_err(|e| Refused("500 Internal Server Error", e.to_string()))? + "\n";
        std::fs::create_dir_all(&dir).map_err(|e| Refused("500 Internal Server Error", format!("{}: {e}", display(&dir))))?;
        std::fs::write(&file, &text).map_err(|e| Refused("500 Internal Server Error", format!("{}: {e}", display(&file))))?;
        let vt = Rc::new(session.visit_type().clone());
        let test = match crate::scenario::run_one(&vt, &file).result {
            Ok(()) => "passed".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        Ok(Response::json("201 Created", &json!({ "path": display(&file), "scenario": scenario, "test": test })))
    }
}

/// A scenario's chart, relative to its folder: a chart already under `scenarios/` is named
/// where it is; any other is copied into `scenarios/charts/` (a new name if a different chart
/// holds that one), so the visit type's scenarios never depend on files outside it.
fn place_chart(scenarios: &Path, chart: &Path) -> Result<String, String> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (scenarios_abs, chart_abs) = (canon(scenarios), canon(chart));
    if let Ok(rel) = chart_abs.strip_prefix(&scenarios_abs) {
        return Ok(rel.to_string_lossy().replace('\\', "/"));
    }
    let text = std::fs::read(chart).map_err(|e| format!("{}: {e}", display(chart)))?;
    let stem = chart.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "chart".into());
    let charts = scenarios.join("charts");
    std::fs::create_dir_all(&charts).map_err(|e| format!("{}: {e}", display(&charts)))?;
    for n in 1..100 {
        let name = if n == 1 { format!("{stem}.json") } else { format!("{stem}-{n}.json") };
        let target = charts.join(&name);
        match std::fs::read(&target) {
            Ok(existing) if existing == text => return Ok(format!("charts/{name}")),
            Ok(_) => continue,
            Err(_) => {
                std::fs::write(&target, &text).map_err(|e| format!("{}: {e}", display(&target)))?;
                return Ok(format!("charts/{name}"));
            }
        }
    }
    Err(format!("{}: too many charts named {stem}", display(&charts)))
}

fn parse_body(req: &Request) -> Result<Json, Refused> {
    serde_json::from_slice(&req.body).map_err(|e| Refused("400 Bad Request", format!("the request body is not JSON: {e}")))
}

fn chart_label(chart: &Chart, id: &str) -> String {
    let name = intake_engine::prefill::current_name(&chart.patient, false).map(|n| n.display()).unwrap_or_else(|| chart.patient_ref.clone());
    let born = chart.patient.birth_date.map(|d| format!(", born {d}")).unwrap_or_default();
    format!("{name}{born} — {id}")
}

fn diagnostics_json(ds: &[Diagnostic]) -> Json {
    Json::Array(
        ds.iter()
            .map(|d| {
                json!({
                    "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                    "file": d.file, "line": d.line, "column": d.column, "item": d.item, "message": d.message,
                    "text": d.to_string(),
                })
            })
            .collect(),
    )
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() && depth < WATCH_DEPTH => walk(&p, depth + 1, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("intake-preview-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_chart_outside_the_scenarios_is_copied_in_once() {
        let root = temp("place");
        let scen = root.join("vt/scenarios");
        std::fs::create_dir_all(scen.join("charts")).unwrap();
        std::fs::write(root.join("demo.json"), "{\"a\":1}").unwrap();
        assert_eq!(place_chart(&scen, &root.join("demo.json")).unwrap(), "charts/demo.json");
        assert_eq!(place_chart(&scen, &root.join("demo.json")).unwrap(), "charts/demo.json", "the same chart is reused");
        std::fs::create_dir_all(root.join("other")).unwrap();
        std::fs::write(root.join("other/demo.json"), "{\"a\":2}").unwrap();
        assert_eq!(place_chart(&scen, &root.join("other/demo.json")).unwrap(), "charts/demo-2.json", "a different chart never overwrites");
        assert_eq!(place_chart(&scen, &scen.join("charts/demo.json")).unwrap(), "charts/demo.json", "a scenario chart is named in place");
    }

    #[test]
    fn the_fingerprint_follows_edits() {
        let root = temp("fp");
        std::fs::create_dir_all(root.join("visit-types/a")).unwrap();
        std::fs::create_dir_all(root.join("rules")).unwrap();
        std::fs::write(root.join("rules/x.rhai"), "ask(\"a\", \"b\");").unwrap();
        let p = Preview {
            project: Project { visit_types: root.join("visit-types"), rules: root.join("rules") },
            pkg: root.join("pkg"),
            chart_dirs: vec![],
            charts: vec![],
            visit_type: None,
        };
        let before = p.fingerprint();
        assert_eq!(before, p.fingerprint(), "stable while nothing changes");
        std::fs::write(root.join("rules/x.rhai"), "ask(\"a\", \"b\"); // edited").unwrap();
        assert_ne!(before, p.fingerprint(), "an edit to a rule changes it");
    }
}
