//! Interface strings in English and Spanish. Questionnaire text comes from the FHIR translation
//! extension; these are only the form's own words (buttons, headings, messages).

/// Every string the interface shows.
pub struct Strings {
    pub lang: &'static str,
    pub next: &'static str,
    pub back: &'static str,
    pub review_title: &'static str,
    pub review_intro: &'static str,
    pub submit: &'static str,
    pub submitting: &'static str,
    pub step: &'static str,
    pub of: &'static str,
    pub required: &'static str,
    pub why_we_ask: &'static str,
    pub on_file: &'static str,
    pub add_another: &'static str,
    pub remove: &'static str,
    pub row: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub other: &'static str,
    /// A search field backed by the portal's terminology service (`expandValueSet`).
    pub searching: &'static str,
    pub search_found: &'static str,
    pub search_none: &'static str,
    pub search_failed: &'static str,
    pub type_answer: &'static str,
    pub choose: &'static str,
    pub problem_title: &'static str,
    pub problem_intro: &'static str,
    pub edit: &'static str,
    pub no_answer: &'static str,
    pub thanks_title: &'static str,
    pub thanks_body: &'static str,
    pub saved: &'static str,
    pub new_question: &'static str,
    /// After the first few announced: "12 more new questions below."
    pub more_new_questions: &'static str,
    pub date_hint: &'static str,
    pub unit: &'static str,
    pub confirm_all: &'static str,
    pub error_title: &'static str,
    pub rule_problem: &'static str,
    pub progress: &'static str,
    pub answers_restored: &'static str,
    pub answers_partly_restored: &'static str,
    pub urgent_title: &'static str,
    pub untitled_page: &'static str,
    /// The heading of a form without a title (headings must not skip a level).
    pub untitled_form: &'static str,
    pub error_body: &'static str,
    pub not_saved: &'static str,
    pub save_failed: &'static str,
    pub send_failed: &'static str,
    pub retry: &'static str,
    pub clear_answer: &'static str,
    pub file_attached: &'static str,
    /// After an internal error the form was started again from its autosave.
    pub restarted: &'static str,
    /// After a second internal error: the form gives up and says how to continue.
    pub stopped_body: &'static str,
}

pub const EN: Strings = Strings {
    lang: "en",
    next: "Next",
    back: "Back",
    review_title: "Check your answers",
    review_intro: "Please check your answers before you send them. You can still change any of them.",
    submit: "Send my answers",
    submitting: "Sending…",
    step: "Step",
    of: "of",
    required: "required",
    why_we_ask: "Why we ask",
    on_file: "On file",
    add_another: "Add another",
    remove: "Remove",
    row: "Entry",
    yes: "Yes",
    no: "No",
    other: "Something else (type it)",
    searching: "Searching…",
    search_found: "matches: choose one, or keep your own words",
    search_none: "No matches. Your own words will be sent as you typed them.",
    search_failed: "Search is not available right now. Your own words will be sent as you typed them.",
    type_answer: "Type your answer",
    choose: "Choose…",
    problem_title: "There is a problem",
    problem_intro: "Please fix these before you continue:",
    edit: "Change",
    no_answer: "Not answered",
    thanks_title: "Thank you",
    thanks_body: "Your answers were sent to your care team.",
    saved: "Your answers are saved on this device as you go.",
    new_question: "New question",
    more_new_questions: "more new questions below.",
    date_hint: "For example 6/21/2019 (month/day/year), 6/2019, or just 2019",
    unit: "Unit",
    confirm_all: "Everything else here is still correct",
    error_title: "This form cannot be shown",
    rule_problem: "Some questions are shown because a check could not run. Please answer them.",
    progress: "Progress",
    answers_restored: "We restored the answers you already gave.",
    urgent_title: "Get medical help now",
    untitled_page: "Questions",
    untitled_form: "Your form",
    error_body: "This form can't be opened right now. Please contact your clinic.",
    not_saved: "Your answers are kept on this page until you send them; they are not saved on this device.",
    save_failed: "Your answers could not be saved on this device. Keep this page open until you send them.",
    send_failed: "Your answers could not be sent. Nothing is lost: they are still here. Please try again.",
    retry: "Try sending again",
    answers_partly_restored: "Some of your earlier answers could not be brought back because the form has changed; please check your answers before sending.",
    clear_answer: "Clear answer",
    file_attached: "File attached",
    restarted: "Something went wrong, so the form was started again. Your answers are still here; please check the last one you gave.",
    stopped_body: "This form stopped working. Please reload the page to continue. If it happens again, contact your clinic.",
};

pub const ES: Strings = Strings {
    lang: "es",
    next: "Siguiente",
    back: "Atrás",
    review_title: "Revise sus respuestas",
    review_intro: "Revise sus respuestas antes de enviarlas. Todavía puede cambiar cualquiera.",
    submit: "Enviar mis respuestas",
    submitting: "Enviando…",
    step: "Paso",
    of: "de",
    required: "obligatoria",
    why_we_ask: "Por qué preguntamos",
    on_file: "Registrado",
    add_another: "Agregar otro",
    remove: "Quitar",
    row: "Registro",
    yes: "Sí",
    no: "No",
    other: "Otra cosa (escríbala)",
    searching: "Buscando…",
    search_found: "resultados: elija uno, o deje sus propias palabras",
    search_none: "Sin resultados. Se enviarán sus palabras tal como las escribió.",
    search_failed: "La búsqueda no está disponible ahora. Se enviarán sus palabras tal como las escribió.",
    type_answer: "Escriba su respuesta",
    choose: "Elija…",
    problem_title: "Hay un problema",
    problem_intro: "Corrija lo siguiente antes de continuar:",
    edit: "Cambiar",
    no_answer: "Sin respuesta",
    thanks_title: "Gracias",
    thanks_body: "Sus respuestas se enviaron a su equipo médico.",
    saved: "Sus respuestas se guardan en este dispositivo mientras avanza.",
    new_question: "Pregunta nueva",
    more_new_questions: "preguntas nuevas más abajo.",
    date_hint: "Por ejemplo 21/6/2019 (día/mes/año), 6/2019 o solo 2019",
    unit: "Unidad",
    confirm_all: "Todo lo demás aquí sigue siendo correcto",
    error_title: "No se puede mostrar este formulario",
    rule_problem: "Algunas preguntas se muestran porque una verificación no pudo ejecutarse. Respóndalas, por favor.",
    progress: "Progreso",
    answers_restored: "Recuperamos las respuestas que ya había dado.",
    urgent_title: "Busque atención médica ahora",
    untitled_page: "Preguntas",
    untitled_form: "Su formulario",
    error_body: "No se puede abrir este formulario en este momento. Comuníquese con su clínica.",
    not_saved: "Sus respuestas se conservan en esta página hasta que las envíe; no se guardan en este dispositivo.",
    save_failed: "No se pudieron guardar sus respuestas en este dispositivo. Mantenga esta página abierta hasta enviarlas.",
    send_failed: "No se pudieron enviar sus respuestas. No se perdió nada: siguen aquí. Inténtelo de nuevo.",
    retry: "Intentar enviar de nuevo",
    answers_partly_restored: "Algunas de sus respuestas anteriores no se pudieron recuperar porque el formulario cambió; revise sus respuestas antes de enviarlas.",
    clear_answer: "Borrar respuesta",
    file_attached: "Archivo adjunto",
    restarted: "Algo salió mal y el formulario se volvió a abrir. Sus respuestas siguen aquí; revise la última que dio.",
    stopped_body: "Este formulario dejó de funcionar. Vuelva a cargar la página para continuar. Si vuelve a ocurrir, comuníquese con su clínica.",
};

/// The interface language for a BCP-47 tag: Spanish for `es*`, English otherwise.
pub fn strings(lang: &str) -> &'static Strings {
    if lang.to_ascii_lowercase().starts_with("es") { &ES } else { &EN }
}

/// The language code we use for a requested tag.
pub fn normalise_lang(lang: &str) -> &'static str {
    strings(lang).lang
}

/// The legend of a row the patient added: what it is ("New allergy"), numbered only when
/// there are several. Spanish avoids gendered adjectives that would have to agree with the
/// noun ("nueva entrada" agrees with "entrada" itself).
pub fn new_row_label(lang: &str, what: &str, number: Option<usize>) -> String {
    let n = number.map(|n| format!(" {n}")).unwrap_or_default();
    if lang.starts_with("es") {
        format!("{what}: nueva entrada{n}")
    } else {
        format!("New {}{n}", intake_text::lower(what))
    }
}

/// The button that adds a row: "Add allergy" when there is none, "Add another allergy" after.
pub fn add_row_label(lang: &str, what: &str, has_rows: bool) -> String {
    match (lang.starts_with("es"), has_rows) {
        (true, false) => format!("Agregar: {}", intake_text::lower(what)),
        (true, true) => format!("Agregar otra entrada: {}", intake_text::lower(what)),
        (false, false) => format!("Add {}", intake_text::lower(what)),
        (false, true) => format!("Add another {}", intake_text::lower(what)),
    }
}

/// A date typed the way people write it where they live, as the ISO text the engine reads:
/// month/day/year in English (US), day/month/year in Spanish; `6/2019` is a month. Anything
/// else (ISO dates, a bare year, text that is not a date) is returned unchanged, for the
/// engine to read or to refuse with its message.
pub fn date_input(text: &str, lang: &str) -> String {
    let t = text.trim();
    let parts: Vec<&str> = t.split(['/', '.', '-']).collect();
    let num = |s: &str| (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten();
    let day_first = lang.starts_with("es");
    match parts.as_slice() {
        // ISO (YYYY-MM-DD, YYYY-MM) stays as it is.
        [y, ..] if y.len() == 4 => t.to_owned(),
        [a, b, y] if y.len() == 4 => match (num(a), num(b), num(y)) {
            (Some(a), Some(b), Some(y)) => {
                let (m, d) = if day_first { (b, a) } else { (a, b) };
                format!("{y:04}-{m:02}-{d:02}")
            }
            _ => t.to_owned(),
        },
        [m, y] if y.len() == 4 => match (num(m), num(y)) {
            (Some(m), Some(y)) => format!("{y:04}-{m:02}"),
            _ => t.to_owned(),
        },
        _ => t.to_owned(),
    }
}

/// A date as people write it where they live (the inverse of [`date_input`]).
pub fn date_display(d: &intake_engine::fhir::Date, lang: &str) -> String {
    match (d.month, d.day) {
        (Some(m), Some(day)) if lang.starts_with("es") => format!("{day}/{m}/{:04}", d.year),
        (Some(m), Some(day)) => format!("{m}/{day}/{:04}", d.year),
        (Some(m), None) => format!("{m}/{:04}", d.year),
        _ => format!("{:04}", d.year),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_and_shown_as_written_where_the_patient_lives() {
        assert_eq!(date_input("11/18/2026", "en"), "2026-11-18");
        assert_eq!(date_input("11/02/1991", "en"), "1991-11-02");
        assert_eq!(date_input("18/11/2026", "es"), "2026-11-18");
        assert_eq!(date_input(" 6/2019 ", "en"), "2019-06");
        assert_eq!(date_input("2019-06-21", "es"), "2019-06-21");
        assert_eq!(date_input("2019", "en"), "2019");
        assert_eq!(date_input("last tuesday", "en"), "last tuesday");
        // An impossible date stays impossible: the engine refuses it with its message.
        assert_eq!(date_input("18/11/2026", "en"), "2026-18-11");
        let d = intake_engine::fhir::Date::parse("2026-11-18").unwrap();
        assert_eq!(date_display(&d, "en"), "11/18/2026");
        assert_eq!(date_display(&d, "es"), "18/11/2026");
        for lang in ["en", "es"] {
            assert_eq!(date_input(&date_display(&d, lang), lang), "2026-11-18", "round trip in {lang}");
        }
    }
}
