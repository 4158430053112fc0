//! Tokens of FHIRPath text, each with its character offset (for error messages).

use crate::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name, or a `backtick`-delimited one.
    Ident(String),
    Str(String),
    Int(i64),
    Dec(f64),
    /// `@2024-01-02`, `@2024-01-02T10:00:00Z` (date or dateTime), `@T10:00` (time).
    Date(String),
    DateTime(String),
    Time(String),
    /// `%name`, `%'name'` or `%`backtick``.
    Env(String),
    /// `$this`, `$index`, `$total`.
    Special(String),
    Sym(&'static str),
    Eof,
}

pub struct Token {
    pub tok: Tok,
    pub at: usize,
}

/// Two-character symbols first, so `<=` is not read as `<` then `=`.
const SYMBOLS: [&str; 22] =
    ["<=", ">=", "!=", "!~", ".", "(", ")", "[", "]", "{", "}", ",", "=", "~", "<", ">", "+", "-", "*", "/", "&", "|"];

pub fn lex(src: &str) -> Result<Vec<Token>, Error> {
    // At most one char per byte: one allocation, not a vector grown as it is filled.
    let mut chars: Vec<char> = Vec::with_capacity(src.len());
    chars.extend(src.chars());
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Comments: // to end of line, /* ... */.
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            if i + 1 >= chars.len() {
                return Err(Error::syntax(start, "a /* comment is not closed"));
            }
            i += 2;
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Tok::Ident(chars[start..i].iter().collect())
        } else if c == '`' {
            let (s, next) = quoted(&chars, i, '`')?;
            i = next;
            Tok::Ident(s)
        } else if c == '\'' {
            let (s, next) = quoted(&chars, i, '\'')?;
            i = next;
            Tok::Str(s)
        } else if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                Tok::Dec(intake_text::parse_f64(&text).ok_or_else(|| Error::syntax(start, format!("bad number {text}")))?)
            } else {
                let text: String = chars[start..i].iter().collect();
                match text.parse() {
                    Ok(n) => Tok::Int(n),
                    Err(_) => Tok::Dec(intake_text::parse_f64(&text).ok_or_else(|| Error::syntax(start, format!("bad number {text}")))?),
                }
            }
        } else if c == '@' {
            i += 1;
            // A '.' belongs to the literal only before a digit (milliseconds): `@2015.is(Date)`
            // is a call on the date.
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || matches!(chars[i], '-' | ':' | '+')
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let text: String = chars[start + 1..i].iter().collect();
            if let Some(t) = text.strip_prefix('T') {
                // A time of day has no zone in FHIRPath.
                if t.contains(['Z', '+', '-']) {
                    return Err(Error::syntax(start, "a time literal cannot have a time zone"));
                }
                Tok::Time(t.to_owned())
            } else if text.contains('T') {
                Tok::DateTime(text.trim_end_matches('T').to_owned())
            } else if text.is_empty() {
                return Err(Error::syntax(start, "'@' must start a date or time"));
            } else {
                Tok::Date(text)
            }
        } else if c == '%' {
            i += 1;
            match chars.get(i) {
                Some('`') | Some('\'') => {
                    let (s, next) = quoted(&chars, i, chars[i])?;
                    i = next;
                    Tok::Env(s)
                }
                _ => {
                    let s = i;
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-') {
                        i += 1;
                    }
                    if s == i {
                        return Err(Error::syntax(start, "'%' must be followed by a variable name"));
                    }
                    Tok::Env(chars[s..i].iter().collect())
                }
            }
        } else if c == '$' {
            i += 1;
            let s = i;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            Tok::Special(chars[s..i].iter().collect())
        } else if let Some(sym) = SYMBOLS.iter().find(|s| {
            // Symbols are ASCII: compared in place (a `Vec<char>` of each of the 22 per
            // symbol token was most of parsing a form's expressions).
            s.bytes().enumerate().all(|(k, b)| chars.get(i + k) == Some(&char::from(b)))
        }) {
            i += sym.len();
            Tok::Sym(sym)
        } else {
            return Err(Error::syntax(start, format!("unexpected character '{c}'")));
        };
        out.push(Token { tok, at: start });
    }
    out.push(Token { tok: Tok::Eof, at: chars.len() });
    Ok(out)
}

/// A quoted string or identifier with FHIRPath escapes; returns the text and the offset after it.
fn quoted(chars: &[char], start: usize, q: char) -> Result<(String, usize), Error> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            c if c == q => return Ok((s, i + 1)),
            '\\' => {
                i += 1;
                match chars.get(i) {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('f') => s.push('\u{c}'),
                    Some('u') => {
                        let hex: String = chars.get(i + 1..i + 5).map(|h| h.iter().collect()).unwrap_or_default();
                        let cp = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                        s.push(cp.ok_or_else(|| Error::syntax(i, "bad \\u escape"))?);
                        i += 4;
                    }
                    Some(c) => s.push(*c),
                    None => break,
                }
            }
            c => s.push(c),
        }
        i += 1;
    }
    Err(Error::syntax(start, format!("unterminated {}", if q == '\'' { "string" } else { "quoted name" })))
}
