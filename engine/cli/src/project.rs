//! Finding and reading a project's files: `visit-types/<id>/manifest.json`, the Questionnaire
//! it names, the `rules/*.rhai` it lists, charts and answers files.

use std::path::{Path, PathBuf};

use intake_engine::fhir::{DateTime, Json};
use intake_engine::rules::RuleSource;
use intake_engine::visit_type::{Diagnostic, Manifest, Severity, VisitType, VisitTypeSource};
use intake_engine::value_set::ValueSetLibrary;
use intake_engine::Chart;

/// Where a project's visit types and rules are.
#[derive(Debug, Clone)]
pub struct Project {
    pub visit_types: PathBuf,
    pub rules: PathBuf,
}

impl Project {
    /// `dir` or the nearest `visit-types/` above the current directory; rules beside it.
    pub fn locate(dir: Option<&str>, rules: Option<&str>) -> Result<Project, String> {
        let visit_types = match dir {
            Some(d) => PathBuf::from(d),
            None => {
                let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
                cwd.ancestors()
                    .map(|a| a.join("visit-types"))
                    .find(|p| p.is_dir())
                    .ok_or("no visit-types/ directory here or above; pass --dir")?
            }
        };
        if !visit_types.is_dir() {
            return Err(format!("{}: not a directory", visit_types.display()));
        }
        let rules = match rules {
            Some(r) => PathBuf::from(r),
            None => visit_types.parent().unwrap_or(Path::new(".")).join("rules"),
        };
        Ok(Project { visit_types, rules })
    }

    /// Visit type folders (those with a manifest.json), sorted by name.
    pub fn visit_type_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&self.visit_types)
            .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.join("manifest.json").is_file()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs
    }

    /// The visit types' ids (their folder names), sorted.
    pub fn visit_type_ids(&self) -> Vec<String> {
        self.visit_type_dirs().iter().filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).collect()
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.visit_types.join(id)
    }

    /// Read every file of a visit type.
    pub fn read_source(&self, dir: &Path) -> Result<VisitTypeSource, Vec<Diagnostic>> {
        let manifest_path = dir.join("manifest.json");
        let manifest_file = display(&manifest_path);
        let manifest_text = read(&manifest_path).map_err(|d| vec![d])?;
        let manifest = Manifest::from_text(&manifest_file, &manifest_text).map_err(|d| vec![d])?;
        let qpath = dir.join(&manifest.questionnaire);
        let questionnaire_text = read(&qpath).map_err(|d| vec![d])?;
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for name in &manifest.rules {
            let p = self.rules.join(name);
            match read(&p) {
                Ok(text) => rules.push(RuleSource { name: display(&p), text }),
                Err(mut d) => {
                    d.message = format!("{} (listed in {manifest_file})", d.message);
                    errors.push(d)
                }
            }
        }
        // The visit type's own value sets, then the rules' (`rules/valuesets/`, for
        // `valueset("...")` in rules; also visible to the form's answerValueSets).
        let mut value_sets = read_value_sets(&dir.join("valuesets"), &mut errors);
        value_sets.extend(&read_value_sets(&self.rules.join("valuesets"), &mut errors));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(VisitTypeSource { manifest_file, manifest_text, questionnaire_file: display(&qpath), questionnaire_text, rules, value_sets })
    }

    pub fn load_dir(&self, dir: &Path) -> Result<VisitType, Vec<Diagnostic>> {
        VisitType::load(&self.read_source(dir)?)
    }

    pub fn load(&self, id: &str) -> Result<VisitType, Vec<Diagnostic>> {
        let dir = self.dir_of(id);
        if !dir.join("manifest.json").is_file() {
            let known = self.visit_type_ids();
            return Err(vec![Diagnostic {
                file: display(&self.visit_types),
                line: None,
                column: None,
                item: None,
                severity: Severity::Error,
                message: format!("no visit type '{id}' (known: {})", known.join(", ")),
            }]);
        }
        self.load_dir(&dir)
    }
}

/// A visit type's own ValueSets (`valuesets/*.json`: a ValueSet, or a Bundle of them, as
/// terminology tools export), in file-name order. A file that is not one is an error at its
/// line and column; no folder means none.
pub fn read_value_sets(dir: &Path, errors: &mut Vec<Diagnostic>) -> ValueSetLibrary {
    let mut lib = ValueSetLibrary::default();
    let Ok(rd) = std::fs::read_dir(dir) else { return lib };
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    for f in files {
        let text = match read(&f) {
            Ok(t) => t,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let json = match intake_engine::fhir::json::parse_text(&text) {
            Ok(j) => j,
            Err(e) => {
                errors.push(intake_engine::visit_type::form_diagnostic(&display(&f), &text, &intake_engine::FormError::Model(e)));
                continue;
            }
        };
        if let Err(e) = lib.add_any(&json, &display(&f)) {
            errors.push(Diagnostic { file: display(&f), line: None, column: None, item: None, severity: Severity::Error, message: e.to_string() });
        }
    }
    lib
}

/// A path as shown in messages: relative to the current directory when possible.
pub fn display(p: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd.as_ref().and_then(|c| p.strip_prefix(c).ok()).unwrap_or(p);
    shown.display().to_string()
}

fn read(p: &Path) -> Result<String, Diagnostic> {
    let err = |line: Option<usize>, column: Option<usize>, message: String| Diagnostic {
        file: display(p),
        line,
        column,
        item: None,
        severity: Severity::Error,
        message,
    };
    let bytes = std::fs::read(p).map_err(|e| err(None, None, format!("cannot read: {e}")))?;
    decode(bytes).map_err(|(line, column, m)| err(Some(line), Some(column), m))
}

pub fn read_text(p: &Path) -> Result<String, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("{}: cannot read: {e}", display(p)))?;
    decode(bytes).map_err(|(line, column, m)| format!("{}:{line}:{column}: {m}", display(p)))
}

/// File bytes as text: UTF-8, with a leading byte-order mark (which Windows editors add)
/// dropped. Anything else that is not UTF-8 is an error at its line and column, never
/// replaced silently.
fn decode(bytes: Vec<u8>) -> Result<String, (usize, usize, String)> {
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            Ok(text)
        }
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..at];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let column = at - before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) + 1;
            Err((line, column, "not valid UTF-8 here; save the file as UTF-8".to_owned()))
        }
    }
}

pub fn read_json(p: &Path) -> Result<Json, String> {
    let text = read_text(p)?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: not valid JSON: {e}", display(p), e.line(), e.column()))
}

/// The first key of a JSON object that is not one of `allowed`, with a "did you mean" for it
/// (scenario and answers files refuse unknown keys: a misspelt one would be ignored silently).
pub fn unknown_key(v: &Json, allowed: &[&str]) -> Option<(String, String)> {
    let Json::Object(m) = v else { return None };
    let k = m.keys().find(|k| !allowed.contains(&k.as_str()))?;
    Some((k.clone(), intake_engine::suggest::hint(k, allowed.iter().copied())))
}

pub fn read_chart(p: &Path) -> Result<Chart, String> {
    let text = read_text(p)?;
    Chart::from_text(&text).map_err(|e| format!("{}: {e}", display(p)))
}

pub fn parse_now(s: &str) -> Result<DateTime, String> {
    DateTime::parse(s)
        .filter(|d| d.time.is_some())
        .ok_or_else(|| format!("--now: \"{s}\" is not an RFC 3339 date-time such as 2026-11-26T09:30:00Z"))
}

/// The current time in UTC, whole seconds (the CLI is the engine's clock).
pub fn system_now() -> DateTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let date = intake_engine::fhir::Date::ymd(1970, 1, 1).plus_days(days);
    let text = format!("{date}T{:02}:{:02}:{:02}Z", rem / 3600, (rem / 60) % 60, rem % 60);
    DateTime::parse(&text).unwrap_or(DateTime { date, time: None, offset_minutes: Some(0), zulu: true })
}
