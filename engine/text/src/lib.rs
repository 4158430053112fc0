//! Unicode case mapping, from the platform the engine runs on.
//!
//! Why a crate of its own: `str::to_lowercase` and `str::to_uppercase` link the standard
//! library's Unicode case tables, which cost the browser bundle 18 KB gzip (measured: 705.9 ->
//! 687.5 KB for the full build), while the browser already holds the same tables. In wasm the
//! mapping is the browser's `String.prototype.toLowerCase` / `toUpperCase` (what fhirpath.js,
//! and so LHC-Forms and Smart Forms, use for FHIRPath's `lower()` and `upper()`); natively
//! (the CLI, the tests) it is the standard library's. Both are full Unicode mappings: `ß`
//! upper-cases to `SS`, a final `Σ` lower-cases to `ς`. ASCII text, nearly all of it, never
//! leaves wasm.
//!
//! Every case mapping in the engine and the front end goes through here: one use of the
//! standard library's anywhere in the bundle links the tables again (`build-web.sh` prints the
//! size; `web/size-attribution.mjs` names `<str>::to_lowercase` if it is back).

/// `s` in lower case (full Unicode mapping).
pub fn lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    platform::lower(s)
}

/// `s` in upper case (full Unicode mapping).
pub fn upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    platform::upper(s)
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use js_sys::JsString;

    pub fn lower(s: &str) -> String {
        JsString::from(s).to_lower_case().into()
    }

    pub fn upper(s: &str) -> String {
        JsString::from(s).to_upper_case().into()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    pub fn lower(s: &str) -> String {
        s.to_lowercase()
    }

    pub fn upper(s: &str) -> String {
        s.to_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_unicode() {
        assert_eq!(lower("HomeBP"), "homebp");
        assert_eq!(upper("penicillin 500 mg"), "PENICILLIN 500 MG");
        assert_eq!(lower("ÉRUPTION Cutánea"), "éruption cutánea");
        assert_eq!(upper("straße"), "STRASSE");
        // A final sigma takes its final form.
        assert_eq!(lower("ΟΔΟΣ"), "οδο\u{3c2}");
        assert_eq!(upper("сыпь"), "СЫПЬ");
        assert_eq!(lower(""), "");
    }
}
