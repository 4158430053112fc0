//! Resuming from a saved snapshot: the same rules for `mount` (autosave) and `createSession`
//! (`saved` from the host).
//!
//! - A snapshot must say whose it is: one without a `patient`, or for another patient or
//!   visit type, is never loaded (and never deleted).
//! - The session id comes from the snapshot (unless the host names one), so a resumed session
//!   emits the same identifiers and a retried submit does not duplicate on the server.
//! - Text cut short is salvaged up to the last complete entry; entries that no longer fit the
//!   form are skipped one by one, never taking the rest down with them (`answers_file::restore`).
//! - A stored Bundle is trusted only if it is the one this session would send now
//!   (`extract::bundle_identifier` covers patient, questionnaire and answers) and it was sent
//!   recently; otherwise it belongs to an earlier visit or to other answers.

use intake_engine::answers_file;
use intake_engine::extract;
use intake_engine::fhir::{DateTime, Json};
use intake_engine::{Chart, Session, VisitType};

/// A stored Bundle older than this is an earlier visit, not a submit to resume.
const SENT_RECENTLY_MS: i64 = 12 * 3600 * 1000;

/// Snapshot text from storage, read as far as it can be.
pub struct Read {
    pub snapshot: Option<Json>,
    /// What went wrong reading it (developer text, for `onError`).
    pub problem: Option<String>,
}

/// Parse stored snapshot text; a truncated snapshot is salvaged.
pub fn read(text: &str, key: &str) -> Read {
    if let Ok(j) = serde_json::from_str::<Json>(text) {
        return Read { snapshot: Some(j), problem: None };
    }
    match answers_file::salvage(text) {
        Some(j) => Read {
            snapshot: Some(j),
            problem: Some(format!("saved answers under '{key}' were cut short ({} characters); the complete entries were restored", text.len())),
        },
        None => Read { snapshot: None, problem: Some(format!("saved answers under '{key}' could not be read at all")) },
    }
}

/// Why a snapshot must not be loaded for this chart and visit type, if it must not.
pub fn owner_problem(saved: &Json, chart: &Chart, vt: &VisitType) -> Option<String> {
    let patient = saved.get("patient").and_then(Json::as_str);
    let visit = saved.get("visit_type").and_then(Json::as_str);
    match (patient, visit) {
        (None, _) => Some("the saved answers do not say which patient they belong to; they were not loaded and are kept".into()),
        (_, None) => Some("the saved answers do not say which visit type they belong to; they were not loaded and are kept".into()),
        (Some(p), Some(v)) if !chart.is_patient_reference(p) || v != vt.manifest.id => Some(format!(
            "the saved answers are for {p} ({v}), not {} ({}); they were not loaded and are kept",
            chart.patient_ref, vt.manifest.id
        )),
        _ => None,
    }
}

/// The session id a snapshot carries.
pub fn session_id(saved: &Json) -> Option<String> {
    saved.get("session").and_then(Json::as_str).filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

/// Apply a snapshot's answers; returns the entries that could not be restored (developer text).
pub fn restore_answers(session: &mut Session, saved: &Json) -> Vec<String> {
    match answers_file::restore(session, saved) {
        Ok(problems) => problems.iter().map(|p| format!("saved answer not restored: {p}")).collect(),
        Err(e) => vec![format!("saved answers not restored: {e}")],
    }
}

/// The stored Bundle, if it is exactly what this session would send now and was sent
/// recently; otherwise why not.
pub fn stored_bundle(session: &Session, saved: &Json) -> Result<Option<String>, String> {
    let Some(text) = saved.get("bundle").and_then(Json::as_str) else { return Ok(None) };
    let Ok(bundle) = serde_json::from_str::<Json>(text) else {
        return Err("the saved submission could not be read; the answers were restored for sending again".into());
    };
    let id = bundle.pointer("/identifier/value").and_then(Json::as_str).unwrap_or("");
    if id != extract::bundle_identifier(session) {
        return Err("the saved submission does not match these answers, this patient or this form; it was not reused".into());
    }
    let subject = bundle.pointer("/entry/0/resource/subject/reference").and_then(Json::as_str).unwrap_or("");
    if !session.chart().is_patient_reference(subject) {
        return Err(format!("the saved submission is for {subject}, not {}; it was not reused", session.chart().patient_ref));
    }
    Ok(Some(text.to_owned()))
}

/// True if the snapshot holds a submission sent well before `now`: an earlier visit that was
/// finished, not a session to resume (it must not open on "Thank you", nor hand back that
/// Bundle).
pub fn sent_earlier(saved: &Json, now: &DateTime) -> bool {
    let Some(text) = saved.get("bundle").and_then(Json::as_str) else { return false };
    let sent = serde_json::from_str::<Json>(text)
        .ok()
        .and_then(|b| b.get("timestamp").and_then(Json::as_str).and_then(DateTime::parse));
    match sent {
        Some(t) => now.epoch_millis() - t.epoch_millis() > SENT_RECENTLY_MS || t.epoch_millis() > now.epoch_millis() + 60_000,
        None => true,
    }
}
