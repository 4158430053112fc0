//! The `intake` subcommands. Each returns its exit code; output goes to stdout, problems to stderr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use intake_engine::value_set::ValueSetLibrary;
use intake_engine::answers_file;
use intake_engine::context::VisitContext;
use intake_engine::explain::{hidden_text, why_source, why_text};
use intake_engine::extract::{self, SubmitError};
use intake_engine::fhir::{DateTime, Json};
use intake_engine::ids::uuid_v5;
use intake_engine::response::Status;
use intake_engine::visit_type::{Diagnostic, Severity};
use intake_engine::{Form, Session, VisitType};

use crate::args::Args;
use crate::project::{display, parse_now, read_chart, read_json, system_now, Project};

pub const USAGE: &str = "\
intake: check, load, fill and explain intake visit types

USAGE:
  intake check [DIR] [--deny-warnings] validate all visit types and rules (default: ./visit-types);
                                      exit 1 on errors, and on warnings with --deny-warnings
  intake load FILE [--value-sets PATH] parse one Questionnaire and summarise it
  intake fill --visit-type ID --chart FILE [--answers FILE] [--now RFC3339] [--submit]
                                      print the QuestionnaireResponse, or with --submit the
                                      write-back transaction Bundle
  intake fill --questionnaire FILE [--chart FILE] [--answers FILE] [--now RFC3339]
                                      the same for a bare Questionnaire from any tool (no
                                      manifest, no rules): calculated answers and the items its
                                      expressions enable, as a browser would fill them
  intake explain --visit-type ID --chart FILE [--answers FILE] [--now RFC3339]
                                      which items are shown, hidden or required, and why
  intake test [DIR] [--emit OUTDIR]   run the scenario files beside each visit type; with --emit,
                                      write each one's chart, QuestionnaireResponse and Bundle
                                      as OUTDIR/<visit-type>.<scenario>.json (for server tests)
  intake serve [DIR] [--port N]       serve a built site (default web/dist) on 127.0.0.1
  intake preview [--visit-type ID] [--chart FILE] [--port N]
                                      live preview on 127.0.0.1 (default port 8081): the form
                                      beside check's errors and explain's panel, reloaded with
                                      the answers kept when a file changes; saves the answers
                                      as a scenario file (needs ./build-web.sh first)
  intake extract QUESTIONNAIRE RESPONSE [--now RFC3339] [--session ID]
                                      SDC template-based extraction: the transaction Bundle a
                                      template-carrying Questionnaire defines for a response;
                                      resources whose template fails are left out and listed
                                      (exit 1)
  intake fhirpath                     evaluate FHIRPath, one JSON request per stdin line:
                                      {\"resource\", \"context\"?, \"vars\"?, \"now\"?} sets the inputs;
                                      {\"expression\"} evaluates over them, answering one line:
                                      {\"result\": [...]} or {\"error\", \"kind\"} (what the
                                      differential test against fhirpath.js uses)
  intake catalog OUTDIR [--charts DIR] write each visit type as one JSON file (questionnaire,
                                      manifest, rules, value sets) plus catalog.json, for hosts
                                      to load (with the browser build each visit type needs)

OPTIONS:
  --dir DIR        visit types directory (default: nearest visit-types/)
  --rules DIR      rules directory (default: rules/ beside the visit types)
  --session ID     session id; the same id makes a retried submit produce the same Bundle
  --context FILE   visit context JSON (reasons, respondent, language, values)
  --reason CODE    a visit reason (shortcut for a one-reason context)
  --lang LANG      language for explain (en, es)
  --value-sets PATH  ValueSets for a bare Questionnaire's answerValueSets: a folder of
                   ValueSet files or one file (a ValueSet or a Bundle of them); a visit
                   type's own are in visit-types/<id>/valuesets/
";

fn print_diagnostics(ds: &[Diagnostic]) {
    for d in ds {
        eprintln!("{d}");
    }
}

/// `intake check [DIR]`
pub fn check(args: &Args) -> i32 {
    let project = match Project::locate(args.positional.first().map(String::as_str).or(args.opt("--dir")), args.opt("--rules")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let dirs = project.visit_type_dirs();
    if dirs.is_empty() {
        eprintln!("{}: error: no visit types (folders with a manifest.json)", display(&project.visit_types));
        return 1;
    }
    let (mut errors, mut warnings) = (0, 0);
    let mut used_rules: Vec<PathBuf> = Vec::new();
    for dir in &dirs {
        // Rules a manifest lists count as used even if the visit type fails to load.
        if let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) {
            if let Ok(m) = intake_engine::visit_type::Manifest::from_text("", &text) {
                used_rules.extend(m.rules.iter().map(|r| project.rules.join(r)));
            }
        }
        match project.load_dir(dir) {
            Ok(vt) => {
                let vt = std::rc::Rc::new(vt);
                let unsettled = unsettled(&vt, dir);
                // The visit type's line says what follows under it: never "ok" above a warning.
                let status = match (unsettled.len(), vt.warnings.len()) {
                    (0, 0) => "ok  ".to_owned(),
                    (0, w) => format!("warn ({w})"),
                    (e, _) => format!("ERR ({e})"),
                };
                println!(
                    "{status}  {}: {} items, {} rules, {} on-file lists",
                    vt.manifest.id,
                    vt.form.items.len(),
                    vt.rules.rules.len(),
                    vt.lists.len()
                );
                print_diagnostics(&vt.warnings);
                print_diagnostics(&unsettled);
                warnings += vt.warnings.len();
                errors += unsettled.len();
            }
            Err(ds) => {
                let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let e = ds.iter().filter(|d| d.severity == Severity::Error).count();
                println!("ERR ({e})  {id}: not loaded");
                print_diagnostics(&ds);
                errors += e;
                warnings += ds.iter().filter(|d| d.severity == Severity::Warning).count();
            }
        }
    }
    // A rule file no visit type lists is dead code an author may think is running.
    if let Ok(rd) = std::fs::read_dir(&project.rules) {
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "rhai")).collect();
        files.sort();
        for f in files {
            if !used_rules.contains(&f) {
                eprintln!("{}: warning: no visit type lists this rule file", display(&f));
                warnings += 1;
            }
        }
    }
    // The last line agrees with the exit status: errors fail; warnings fail only with
    // --deny-warnings (what CI runs), so an author can try a draft without a red result.
    let deny = args.flag("--deny-warnings");
    let failed = errors > 0 || (deny && warnings > 0);
    let verdict = match (failed, warnings > 0) {
        (true, _) if errors > 0 => "failed",
        (true, _) => "failed (--deny-warnings)",
        (false, true) => "passed with warnings (--deny-warnings makes them fail)",
        (false, false) => "passed",
    };
    println!("{} visit types checked: {errors} errors, {warnings} warnings: {verdict}", dirs.len());
    i32::from(failed)
}

/// Rules that undo each other, found here rather than by a patient: a bounded search over
/// answer states on an adult's and a child's chart. Each is an error at the manifest.
pub fn unsettled(vt: &std::rc::Rc<VisitType>, dir: &Path) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (who, chart) in settle_charts() {
        for state in intake_engine::settle::find_unsettled(vt, &chart, system_now()) {
            out.push(Diagnostic {
                file: display(&dir.join("manifest.json")),
                line: None,
                column: None,
                item: None,
                severity: Severity::Error,
                message: format!("the rules never settle ({who}) when {state}: some rule keeps asking and hiding the same items"),
            });
        }
    }
    out
}

/// Charts the settle search runs on: an adult and a small child, nothing else on file.
fn settle_charts() -> Vec<(&'static str, std::rc::Rc<intake_engine::Chart>)> {
    [("an adult's chart", "1980-05-05", "female"), ("a child's chart", "2023-03-03", "male")]
        .into_iter()
        .filter_map(|(who, birth, sex)| {
            let json = serde_json::json!({"resourceType": "Patient", "id": "settle-check", "birthDate": birth, "gender": sex});
            intake_engine::Chart::from_json(&json).ok().map(|c| (who, std::rc::Rc::new(c)))
        })
        .collect()
}

/// `intake load FILE`
pub fn load(args: &Args) -> i32 {
    let Some(file) = args.positional.first() else {
        eprintln!("usage: intake load FILE");
        return 2;
    };
    let path = Path::new(file);
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("{file}: error: cannot read: {e}");
            return 1;
        }
    };
    let library = match value_sets_arg(args) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match Form::from_text_with(&text, &library) {
        Ok(form) => {
            println!("{}", summary_line(file, &form));
            for w in &form.warnings {
                eprintln!("{file}: warning: {w}");
            }
            0
        }
        Err(e) => {
            let d = intake_engine::visit_type::form_diagnostic(file, &text, &e);
            eprintln!("{d}");
            1
        }
    }
}

/// `intake extract QUESTIONNAIRE RESPONSE`: SDC template-based extraction.
pub fn extract_template(args: &Args) -> i32 {
    let [q, r] = args.positional.as_slice() else {
        eprintln!("usage: intake extract QUESTIONNAIRE RESPONSE [--now RFC3339] [--session ID]");
        return 2;
    };
    let (questionnaire, response) = match (read_json(Path::new(q)), read_json(Path::new(r))) {
        (Ok(q), Ok(r)) => (q, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let now = match args.opt("--now") {
        Some(n) => match parse_now(n) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        None => system_now(),
    };
    let now = now.to_string();
    let opts = intake_engine::template_extract::Options { now: &now, seed: args.opt("--session") };
    match intake_engine::template_extract::extract(&questionnaire, &response, &opts) {
        Ok(x) => {
            println!("{}", serde_json::to_string_pretty(&x.bundle).unwrap_or_default());
            for i in &x.issues {
                eprintln!("{r}: left out for review: {i}");
            }
            if x.issues.is_empty() { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("{q}: error: {e}");
            1
        }
    }
}

/// One line: title, items by kind, features used, features not supported yet.
pub fn summary_line(file: &str, form: &Form) -> String {
    let groups = form.items.iter().filter(|i| i.item_type == intake_engine::ItemType::Group).count();
    let display_items = form.items.iter().filter(|i| i.item_type == intake_engine::ItemType::Display).count();
    let questions = form.items.len() - groups - display_items;
    let title = form.title("en");
    let mut line = format!(
        "ok  {file}: \"{}\" {} items ({questions} questions, {groups} groups, {display_items} display)",
        if title.is_empty() { "(untitled)" } else { &title },
        form.items.len()
    );
    let used: Vec<String> = form.features.used.iter().map(|(f, n)| format!("{f}\u{d7}{n}")).collect();
    if !used.is_empty() {
        let _ = write!(line, "; features: {}", used.join(", "));
    }
    let unsupported = form.features.unsupported();
    if !unsupported.is_empty() {
        let _ = write!(line, "; not supported yet: {}", unsupported.join(", "));
    }
    if !form.warnings.is_empty() {
        let _ = write!(line, "; {} warnings", form.warnings.len());
    }
    line
}

/// Everything needed to start a session from files.
pub struct Inputs {
    pub vt: Rc<VisitType>,
    pub chart: Rc<intake_engine::Chart>,
    pub context: VisitContext,
    pub now: DateTime,
    pub session_id: String,
    pub answers: Option<Json>,
}

/// Read the inputs of `fill` / `explain` from the command line.
pub fn inputs(args: &Args) -> Result<Inputs, String> {
    let (id, vt) = match args.opt("--questionnaire") {
        Some(q) => bare_questionnaire(q, &value_sets_arg(args)?)?,
        None => {
            let project = Project::locate(args.opt("--dir"), args.opt("--rules"))?;
            let id = args.require("--visit-type")?;
            (id.to_owned(), project.load(id).map_err(|ds| ds.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))?)
        }
    };
    let id = id.as_str();
    let chart = match (args.opt("--chart"), args.opt("--questionnaire")) {
        (Some(c), _) => read_chart(&PathBuf::from(c))?,
        // A bare form needs no chart to be filled: nothing is prefilled, the response has no
        // subject, and only --submit (the write-back needs a patient) refuses.
        (None, Some(_)) => {
            eprintln!("note: no --chart: nothing is prefilled and the response has no subject");
            intake_engine::Chart::none()
        }
        (None, None) => return Err("--chart FILE is required".into()),
    };
    let answers = match args.opt("--answers") {
        Some(p) => Some(read_json(Path::new(p)).and_then(|a| check_answers_file(&a).map(|()| a).map_err(|e| format!("{p}: {e}")))?),
        None => None,
    };
    let mut context = match (args.opt("--context"), answers.as_ref().and_then(|a| a.get("context"))) {
        (Some(p), _) => VisitContext::from_json(&read_json(Path::new(p))?).map_err(|e| format!("{p}: {e}"))?,
        (None, Some(c)) => VisitContext::from_json(c).map_err(|e| format!("answers file: {e}"))?,
        (None, None) => VisitContext::default(),
    };
    if let Some(r) = args.opt("--reason") {
        context.reasons.push(r.to_owned());
    }
    if let Some(l) = args.opt("--lang") {
        context.language = l.to_owned();
    }
    let now = match args.opt("--now").or_else(|| answers.as_ref().and_then(|a| a.get("now")).and_then(Json::as_str)) {
        Some(n) => parse_now(n)?,
        None => system_now(),
    };
    let session_id = match args.opt("--session").or_else(|| answers.as_ref().and_then(|a| a.get("session")).and_then(Json::as_str)) {
        Some(s) => s.to_owned(),
        // Same inputs and time, same ids: a retried command yields the same Bundle.
        None => uuid_v5(&format!(
            "{id}|{}|{}|{now}",
            chart.patient_ref,
            answers.as_ref().map(Json::to_string).unwrap_or_default()
        )),
    };
    Ok(Inputs { vt: Rc::new(vt), chart: Rc::new(chart), context, now, session_id, answers })
}

/// The top-level keys of an answers file in its file form (`visit-types/answers.schema.json`):
/// a misspelt one (`"answer"`, `"contexts"`) would otherwise be ignored, its content with it.
/// A scenario file serves as an answers file too (its chart and expectations are not read).
const ANSWERS_FILE_KEYS: &[&str] = &[
    "$schema", "$comment", "format", "visit_type", "patient", "session", "now", "context", "page", "drafts", "bundle", "sent", "answers",
    "description", "chart", "expect",
];

fn check_answers_file(file: &Json) -> Result<(), String> {
    let Json::Object(m) = file else { return Err("an answers file is a JSON object".into()) };
    if !m.contains_key("answers") {
        return Ok(()); // the bare form: every key is a linkId, checked against the form
    }
    if let Some((k, hint)) = crate::project::unknown_key(file, ANSWERS_FILE_KEYS) {
        return Err(format!("unknown key '{k}'{hint} (an answers file has: {})", ANSWERS_FILE_KEYS.join(", ")));
    }
    match m.get("format") {
        Some(Json::String(f)) if f == answers_file::FORMAT => Ok(()),
        None => Ok(()),
        Some(other) => Err(format!("format is {other}; this engine reads \"{}\"", answers_file::FORMAT)),
    }
}

/// `--value-sets PATH`: a folder of ValueSet files (as a visit type's `valuesets/`), or one
/// file (a ValueSet or a Bundle of them), for `answerValueSet`s the form does not contain.
fn value_sets_arg(args: &Args) -> Result<ValueSetLibrary, String> {
    let Some(p) = args.opt("--value-sets") else { return Ok(ValueSetLibrary::default()) };
    let path = Path::new(p);
    let mut errors = Vec::new();
    let lib = if path.is_dir() {
        crate::project::read_value_sets(path, &mut errors)
    } else {
        let mut lib = ValueSetLibrary::default();
        let json = read_json(path)?;
        lib.add_any(&json, p).map_err(|e| e.to_string())?;
        lib
    };
    if errors.is_empty() {
        Ok(lib)
    } else {
        Err(errors.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))
    }
}

/// A Questionnaire file as a visit type of its own (no rules; every write-back policy is the
/// default, review). Its load warnings go to stderr with their paths.
fn bare_questionnaire(path: &str, library: &ValueSetLibrary) -> Result<(String, intake_engine::VisitType), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let form = Form::from_text_with(&text, library).map_err(|e| format!("{path}: {e}"))?;
    for w in &form.warnings {
        eprintln!("{path}: warning: {w}");
    }
    let vt = intake_engine::VisitType::from_form(form, &[]).map_err(|ds| ds.iter().map(|d| format!("{path}: {d}")).collect::<Vec<_>>().join("\n"))?;
    Ok((vt.manifest.id.clone(), vt))
}

pub fn start(i: &Inputs) -> Result<Session, String> {
    let mut s = Session::new(i.vt.clone(), i.chart.clone(), i.context.clone(), i.now, &i.session_id).map_err(|e| e.to_string())?;
    if let Some(a) = &i.answers {
        answers_file::apply(&mut s, a).map_err(|e| format!("answers file: {e}"))?;
    }
    Ok(s)
}

fn pretty(j: &Json) -> String {
    serde_json::to_string_pretty(j).unwrap_or_else(|_| j.to_string())
}

/// `intake fill`
pub fn fill(args: &Args) -> i32 {
    let session = match inputs(args).and_then(|i| start(&i)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    for e in session.rule_errors() {
        eprintln!("warning: {e} (items this rule could ask are shown)");
    }
    for (path, e) in session.expression_errors() {
        eprintln!("warning: at {path}: {e}");
    }
    if !args.flag("--submit") {
        println!("{}", pretty(&extract::response_json(&session, Status::InProgress)));
        return 0;
    }
    match extract::bundle(&session) {
        Ok(wb) => {
            println!("{}", pretty(&wb.to_json()));
            0
        }
        Err(e @ (SubmitError::Invalid(_) | SubmitError::Unsettled | SubmitError::NoChart)) => {
            eprintln!("submit refused: {e}");
            1
        }
    }
}

/// `intake explain`
pub fn explain(args: &Args) -> i32 {
    let session = match inputs(args).and_then(|i| start(&i)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    print!("{}", explain_text(&session, args.opt("--lang").unwrap_or("en")));
    0
}

/// The explanation as text (also used by scenario failure messages).
pub fn explain_text(s: &Session, lang: &str) -> String {
    let mut out = String::new();
    let vt = s.visit_type();
    let chart = s.chart();
    let name = intake_engine::prefill::current_name(&chart.patient, false).map(|n| n.display()).unwrap_or_default();
    let _ = writeln!(out, "{} ({}) for {name} [{}]", vt.manifest.title_in(lang), vt.manifest.id, chart.patient_ref);
    let _ = writeln!(
        out,
        "chart: {} allergies, {} medications, {} problems, {} observations on file; {} entries not used",
        chart.allergies.len(),
        chart.medications.len(),
        chart.conditions.len(),
        chart.observations.len(),
        chart.notes.len()
    );
    for n in &chart.notes {
        let _ = writeln!(out, "  chart entry {}: {}", n.entry, n.message);
    }
    // Which chart entries the rules' value sets matched, by which code; and, where none did,
    // the codes that were compared (a product-only chart against an ingredient-level set).
    let sets = vt.rules.value_sets_used();
    if !sets.is_empty() {
        let _ = writeln!(out, "value sets the rules use:");
        let label = |c: &intake_engine::fhir::Coding| {
            format!("{}|{}{}", c.system.as_deref().unwrap_or(""), c.code.as_deref().unwrap_or(""), c.display.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())
        };
        for set in &sets {
            let mut matched = Vec::new();
            let mut compared = Vec::new();
            for m in &chart.medications {
                let by_code = m.concept.coding.iter().find(|c| set.contains_coding(c));
                let by_ingredient = m.ingredients.iter().find(|c| set.contains_coding(c));
                match (by_code, by_ingredient) {
                    (Some(c), _) => matched.push(format!("{} by {}", m.reference, label(c))),
                    (None, Some(c)) => matched.push(format!("{} by its ingredient {}", m.reference, label(c))),
                    (None, None) => compared.extend(m.concept.coding.iter().chain(&m.ingredients).map(|c| format!("{} {}", m.reference, label(c)))),
                }
            }
            let entries = chart.conditions.iter().map(|c| (&c.reference, c.resource.code.as_ref())).chain(chart.allergies.iter().map(|a| (&a.reference, a.resource.code.as_ref())));
            for (reference, code) in entries {
                let Some(cc) = code else { continue };
                match cc.coding.iter().find(|c| set.contains_coding(c)) {
                    Some(c) => matched.push(format!("{reference} by {}", label(c))),
                    None => compared.extend(cc.coding.iter().map(|c| format!("{reference} {}", label(c)))),
                }
            }
            if matched.is_empty() {
                let _ = writeln!(out, "  {} ({} codes): no chart entry matches; compared: {}", set.name, set.len(), if compared.is_empty() { "nothing coded".to_owned() } else { compared.join(", ") });
            } else {
                let _ = writeln!(out, "  {} ({} codes): matched {}", set.name, set.len(), matched.join("; "));
            }
        }
    }
    if let Err(why) = vt.applies(chart, s.context(), &s.now().date) {
        let _ = writeln!(out, "note: this visit type is meant {why}");
    }
    let _ = writeln!(out);
    for n in s.preorder() {
        let Some(node) = s.node(n) else { continue };
        let def = s.def(n);
        let key = s.node_key(n);
        let indent = "  ".repeat(def.depth as usize);
        let st = &node.state;
        let (shown, reason) = if st.enabled {
            let why = st.why.as_ref().map(|w| format!("{}: {}", why_source(w), why_text(s.form(), w, lang))).unwrap_or_default();
            ("shown ", why)
        } else {
            ("hidden", st.hidden.as_ref().map(|h| hidden_text(s.form(), h, node.item)).unwrap_or_default())
        };
        let req = if st.required { "req" } else { "   " };
        let mut line = format!("{shown} {req} {indent}{key}");
        if let Some(of) = &node.on_file {
            let _ = write!(line, "  [on file: {} = {}]", of.reference, of.summary);
        }
        if !node.answers.is_empty() {
            let vals: Vec<String> = node.answers.iter().map(|v| v.display()).collect();
            let _ = write!(line, " = {}", vals.join(", "));
            if node.prefilled.as_ref().is_some_and(|p| p.values == node.answers) {
                line.push_str(" (on file)");
            }
        }
        if !reason.is_empty() {
            let _ = write!(line, "  -- {reason}");
        }
        let _ = writeln!(out, "{line}");
        for f in &st.flags {
            let _ = writeln!(out, "       {indent}  ! review: {}", f.text);
        }
        for e in &st.errors {
            let _ = writeln!(out, "       {indent}  x {}", e.message(lang));
        }
    }
    for e in s.rule_errors() {
        let _ = writeln!(out, "\nrule error: {e} (items it could ask are shown)");
    }
    for (rule, text) in s.urgent() {
        let _ = writeln!(
            out,
            "\nURGENT ({rule}): the patient is told at once: \"{} {}\"",
            text.text,
            s.visit_type().manifest.urgent_instruction_in(&s.context().language)
        );
    }
    let _ = writeln!(out);
    match extract::bundle(s) {
        Ok(wb) => {
            let _ = writeln!(out, "write-back ({} entries):", wb.entries.len());
            for d in &wb.decisions {
                let _ = writeln!(out, "  {:<7} {:<20} {:<6} {}  -- {}", d.action.code(), d.resource_type, d.change.code(), d.item, d.reason);
            }
        }
        Err(e) => {
            let _ = writeln!(out, "write-back not possible yet: {e}");
        }
    }
    out
}

/// `intake test [DIR]`
pub fn test(args: &Args) -> i32 {
    let project = match Project::locate(args.positional.first().map(String::as_str).or(args.opt("--dir")), args.opt("--rules")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let report = crate::scenario::run_all(&project);
    if let Some(dir) = args.opt("--emit") {
        if let Err(e) = emit(Path::new(dir), &report) {
            eprintln!("error: --emit {dir}: {e}");
            return 2;
        }
    }
    for r in &report {
        match &r.result {
            Ok(()) => println!("ok    {}", r.name),
            Err(msg) => println!("FAIL  {}\n{}", r.name, indent_block(msg)),
        }
    }
    let failed = report.iter().filter(|r| r.result.is_err()).count();
    println!("{} scenarios: {} passed, {failed} failed", report.len(), report.len() - failed);
    if report.is_empty() || failed > 0 { 1 } else { 0 }
}

/// Write what each passing scenario produced, with its chart, as one JSON file per scenario.
fn emit(dir: &Path, report: &[crate::scenario::Report]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for r in report.iter().filter(|r| r.result.is_ok()) {
        let (Some(chart), Some(response)) = (&r.chart, &r.response) else { continue };
        let chart = crate::project::read_json(chart)?;
        // "visit-types/hypertension-follow-up/scenarios/stopped-med.json" -> "hypertension-follow-up.stopped-med"
        let path = Path::new(&r.name);
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let visit = path.parent().and_then(Path::parent).and_then(Path::file_name).map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let out = serde_json::json!({ "scenario": r.name, "chart": chart, "response": response, "bundle": r.bundle });
        let file = dir.join(format!("{visit}.{stem}.json"));
        std::fs::write(&file, out.to_string()).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

fn indent_block(s: &str) -> String {
    s.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
}

/// A visit type as hosts load it: `{ id, manifest, questionnaire, rules: { name: text },
/// valueSets: [ValueSet] }` (what `mount` and `createSession` take as `visitType`).
pub fn catalog_entry(src: &intake_engine::visit_type::VisitTypeSource, vt: &VisitType) -> Json {
    let parse = |t: &str| serde_json::from_str::<Json>(t).unwrap_or(Json::Null);
    let rules: serde_json::Map<String, Json> =
        vt.manifest.rules.iter().zip(&src.rules).map(|(name, r)| (name.clone(), Json::String(r.text.clone()))).collect();
    let value_sets: Vec<Json> = src.value_sets.iter().map(intake_engine::fhir::ToJson::to_json).collect();
    let mut entry = serde_json::json!({
        "id": vt.manifest.id, "manifest": parse(&src.manifest_text), "questionnaire": parse(&src.questionnaire_text), "rules": rules,
    });
    // The visit type's own ValueSets travel with it, so a host needs no terminology server
    // for them (see `value_set`).
    if !value_sets.is_empty() {
        entry["valueSets"] = Json::Array(value_sets);
    }
    entry
}

/// The smallest build of the browser module that runs a visit type (`pkg/README.md`, "Four
/// builds"): with the rules engine if it has rule scripts, with FHIRPath if its form has an
/// expression (`sdc::first_expression`, the very test a build without FHIRPath refuses by).
pub fn build_for(src: &intake_engine::visit_type::VisitTypeSource) -> &'static str {
    let rules = !src.rules.is_empty();
    // Unreadable text never gets here (the visit type loaded); if it did, the full build runs it.
    let expressions = intake_engine::fhir::from_text::<intake_engine::fhir::Questionnaire>(&src.questionnaire_text)
        .map_or(true, |(q, _)| intake_engine::sdc::first_expression(&q).is_some());
    match (rules, expressions) {
        (true, true) => "full",
        (true, false) => "rules",
        (false, true) => "sdc",
        (false, false) => "basic",
    }
}

/// `intake catalog OUTDIR`: every visit type as `visit-types/<id>.json` ({ id, manifest,
/// questionnaire, rules: { name: text }, valueSets: [ValueSet] }), demo charts as `charts/<id>.json`, and a
/// `catalog.json` index. All minified. Hosts load these and pass them to `mount`.
pub fn catalog(args: &Args) -> i32 {
    let Some(out) = args.positional.first() else {
        eprintln!("usage: intake catalog OUTDIR [--charts DIR]");
        return 2;
    };
    let project = match Project::locate(args.opt("--dir"), args.opt("--rules")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let out = Path::new(out);
    let write = |rel: &str, v: &Json| -> Result<(), String> {
        let p = out.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&p, v.to_string()).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut index_types = Vec::new();
    for dir in project.visit_type_dirs() {
        let src = match project.read_source(&dir) {
            Ok(s) => s,
            Err(ds) => {
                print_diagnostics(&ds);
                return 1;
            }
        };
        let vt = match VisitType::load(&src) {
            Ok(vt) => vt,
            Err(ds) => {
                print_diagnostics(&ds);
                return 1;
            }
        };
        let entry = catalog_entry(&src, &vt);
        if let Err(e) = write(&format!("visit-types/{}.json", vt.manifest.id), &entry) {
            eprintln!("error: {e}");
            return 1;
        }
        let titles: serde_json::Map<String, Json> =
            vt.manifest.title_translations.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
        index_types.push(serde_json::json!({
            "id": vt.manifest.id, "title": vt.manifest.title, "titles": titles, "description": vt.manifest.description,
            "file": format!("visit-types/{}.json", vt.manifest.id), "build": build_for(&src),
        }));
    }
    let mut index_charts = Vec::new();
    if let Some(dir) = args.opt("--charts") {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let id = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let chart = match read_chart(&f) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            };
            let json = match read_json(&f) {
                Ok(j) => j,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            };
            if let Err(e) = write(&format!("charts/{id}.json"), &json) {
                eprintln!("error: {e}");
                return 1;
            }
            let name = intake_engine::prefill::current_name(&chart.patient, false).map(|n| n.display()).unwrap_or_default();
            index_charts.push(serde_json::json!({
                "id": id, "name": name, "birthDate": chart.patient.birth_date.map(|d| d.to_string()),
                "gender": chart.patient.gender, "file": format!("charts/{id}.json"),
            }));
        }
    }
    let index = serde_json::json!({ "visitTypes": index_types, "charts": index_charts });
    if let Err(e) = write("catalog.json", &index) {
        eprintln!("error: {e}");
        return 1;
    }
    println!("wrote {} visit types and {} charts to {}", index_types.len(), index_charts.len(), out.display());
    0
}

/// `intake fhirpath`: a batch evaluator on stdin/stdout, so tests can compare this FHIRPath
/// engine with another (fhirpath.js) over thousands of expressions in one process. The inputs
/// (a megabyte of questionnaire, say) are sent once and reused by the expressions after them.
pub fn fhirpath_batch() -> i32 {
    use intake_engine::fhirpath::{Env, Expr, Item};
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut env = Env::new();
    let mut input: Vec<Item> = Vec::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let req = match serde_json::from_str::<Json>(&line) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "{}", serde_json::json!({"error": format!("request is not JSON: {e}"), "kind": "request"}));
                continue;
            }
        };
        let Some(text) = req.get("expression").and_then(Json::as_str) else {
            // New inputs.
            let resource = req.get("resource").cloned().unwrap_or(Json::Null);
            env = Env::new().with_now(req.get("now").and_then(Json::as_str).unwrap_or("2026-11-20T09:00:00Z"));
            let shared = Env::collection_of(&resource);
            env.set_shared("resource", shared.clone());
            env.set_shared("rootResource", shared.clone());
            let context = req.get("context").cloned().unwrap_or_else(|| resource.clone());
            env.set_json("context", &context);
            if let Some(Json::Object(vars)) = req.get("vars") {
                for (k, v) in vars {
                    env.set_json(k, v);
                }
            }
            input = match &context {
                Json::Array(a) => a.iter().filter_map(|j| Item::from_json(j, None)).collect(),
                j => Item::from_json(j, None).into_iter().collect(),
            };
            continue;
        };
        let reply = match Expr::parse(text).and_then(|e| e.evaluate(&input, &env)) {
            Ok(items) => serde_json::json!({"result": items.iter().map(Item::to_json).collect::<Vec<_>>()}),
            Err(e) => serde_json::json!({"error": e.to_string(), "kind": format!("{:?}", e.kind).to_lowercase()}),
        };
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            return 1;
        }
    }
    0
}
