//! Unicode case mapping and decimal parsing, from the platform the engine runs on.
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

/// `s` as an `f64`, exactly as `s.parse::<f64>().ok()` reads it: the same syntax (an optional
/// sign; digits with an optional point, at least one digit; an optional exponent; `inf`,
/// `infinity`, `nan` in any case) and the same, correctly rounded, value.
///
/// Why not `str::parse` itself: in the browser its correctly rounded slow path links a 10 KB
/// table of powers of five that gzip cannot shrink. Numbers people and forms write (at most 15
/// significant digits, a power of ten up to 22) are computed here exactly (one rounding, as
/// the standard library's own fast path does); any other is handed, once its syntax is checked,
/// to the browser's `parseFloat`, also correctly rounded.
pub fn parse_f64(s: &str) -> Option<f64> {
    parse_with(s, platform::parse_checked)
}

/// The parse, with `slow` for a valid decimal the fast path cannot compute exactly.
fn parse_with(s: &str, slow: fn(&str) -> f64) -> Option<f64> {
    let b = s.as_bytes();
    let (negative, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let sign = |x: f64| if negative { -x } else { x };
    if body.first().is_some_and(|c| c.is_ascii_alphabetic()) {
        return special(body).map(sign);
    }
    // digits [. digits] [(e|E) [sign] digits], with at least one mantissa digit.
    let mut i = 0;
    let mut mantissa: u64 = 0;
    let mut significant = 0usize;
    let mut scale: i64 = 0;
    let mut any_digit = false;
    let mut seen_point = false;
    while i < body.len() {
        match body[i] {
            c @ b'0'..=b'9' => {
                any_digit = true;
                if mantissa != 0 || c != b'0' {
                    significant += 1;
                }
                if significant <= 19 {
                    mantissa = mantissa * 10 + u64::from(c - b'0');
                    if seen_point {
                        scale -= 1;
                    }
                } else if !seen_point {
                    scale += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    let mut exponent: i64 = 0;
    if i < body.len() {
        if body[i] != b'e' && body[i] != b'E' {
            return None;
        }
        i += 1;
        let negative_exp = match body.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < body.len() && body[i].is_ascii_digit() {
            // Saturates far beyond any exponent that changes the result (inf or 0).
            exponent = (exponent * 10 + i64::from(body[i] - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start || i != body.len() {
            return None;
        }
        if negative_exp {
            exponent = -exponent;
        }
    }
    // Exact when the digits fit in 53 bits and the power of ten is exact (10^22 is the last).
    let power = scale + exponent;
    if significant <= 15 && mantissa < (1 << 53) && (-22..=22).contains(&power) {
        let m = mantissa as f64;
        let p = POWERS[power.unsigned_abs() as usize];
        return Some(sign(if power < 0 { m / p } else { m * p }));
    }
    Some(slow(s))
}

const POWERS: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// `inf`, `infinity` and `nan`, in any case (after the sign).
fn special(body: &[u8]) -> Option<f64> {
    let word = std::str::from_utf8(body).ok()?;
    if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity") {
        Some(f64::INFINITY)
    } else if word.eq_ignore_ascii_case("nan") {
        Some(f64::NAN)
    } else {
        None
    }
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

    /// A decimal whose syntax `parse_with` has checked: `parseFloat` reads all of it.
    pub fn parse_checked(s: &str) -> f64 {
        js_sys::Number::parse_float(s)
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

    pub fn parse_checked(s: &str) -> f64 {
        s.parse().unwrap_or(f64::NAN)
    }
}

#[doc(hidden)]
/// Strings that test `parse_f64` against `str::parse`: edge cases of the syntax and the fast
/// path, then a deterministic mix of digits, points, signs and exponents (this crate's unit
/// tests, and the engine's wasm test, where the slow path is the browser's).
pub fn parse_test_corpus() -> Vec<String> {
    let mut out: Vec<String> = [
        "0", "-0", "+0", "0.0", "-0.000", "1", "-1", "+1", "1.", ".5", "+.5", "-.5", ".", "-", "+", "", " 1", "1 ", "1_0",
        "1e", "1e+", "1e-", "e5", "1e5", "1E5", "1e05", "1e+05", "1e-05", "1.5e3", "1.5E-3", "1.2.3", "1e5.5", "0x10",
        "inf", "-inf", "+Infinity", "INF", "infinit", "nan", "NaN", "-nan", "nan1", "1e22", "1e23", "9007199254740993",
        "9007199254740992", "123456789012345", "1234567890123456", "0.1", "0.2", "0.3", "72.5", "98.6", "37,5", "1e308",
        "1.7976931348623157e308", "1.7976931348623159e308", "1e309", "2.2250738585072014e-308", "4.9e-324", "2e-324",
        "1e-400", "0e500", "0.000000000000000000000000000001", "100000000000000000000000", "0.1e-22", "1e-22", "1e-23",
        "00001.5000", "-00.000e-5", "٣", "１", "1e1000000000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // A small linear congruential generator: the same strings on every run and platform.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let digits = |len: u64, next: &mut dyn FnMut(u64) -> u64| (0..len).map(|_| char::from(b'0' + next(10) as u8)).collect::<String>();
    for _ in 0..4000 {
        let mut s = String::new();
        match next(4) {
            0 => s.push('-'),
            1 => s.push('+'),
            _ => {}
        }
        let whole = next(22);
        s += &digits(whole, &mut next);
        if next(2) == 0 {
            s.push('.');
            s += &digits(next(22), &mut next);
        }
        if next(3) == 0 {
            s.push(if next(2) == 0 { 'e' } else { 'E' });
            match next(3) {
                0 => s.push('-'),
                1 => s.push('+'),
                _ => {}
            }
            s += &digits(next(4), &mut next);
        }
        if next(40) == 0 {
            s.insert(next(s.len() as u64 + 1) as usize, ['.', 'e', ' ', 'x'][next(4) as usize]);
        }
        out.push(s);
    }
    out
}

#[doc(hidden)]
/// Whether two parses agree: the same bits, or both NaN, or both refused.
pub fn same_parse(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_as_the_standard_library_parses_them() {
        let corpus = parse_test_corpus();
        let mut fast = 0;
        for s in &corpus {
            let std = s.parse::<f64>().ok();
            assert!(same_parse(parse_f64(s), std), "{s:?}: {:?} != {std:?}", parse_f64(s));
            // The fast path alone (a slow path that cannot be right): it must never be taken
            // for a string it cannot compute exactly, so either it agrees or it was not used.
            let via_fast = parse_with(s, |_| f64::from_bits(0x7ff8_dead_beef_0001));
            if via_fast.is_some_and(|v| v.to_bits() != 0x7ff8_dead_beef_0001) {
                fast += 1;
                assert!(same_parse(via_fast, std), "fast path {s:?}: {via_fast:?} != {std:?}");
            }
        }
        assert!(fast > 1000, "the fast path reads most of the corpus ({fast} of {})", corpus.len());
    }

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
