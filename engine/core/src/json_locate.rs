//! Turn a JSON path (`Questionnaire.item[2].enableWhen[0].question`) into a line and column
//! in the source text, so problems in hand-edited files point at the exact spot.
//!
//! `serde_json::Value` keeps no positions, so this is a small scanner over the text that walks
//! to the path and reports where the deepest reachable part of it starts.

/// Line and column (1-based) of the value at `path`, or of its deepest existing ancestor.
/// The first path segment may be a resource name (`Questionnaire`), which is skipped.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let segments = parse_path(path);
    let bytes = text.as_bytes();
    let start = skip_ws(bytes, 0);
    let offset = walk(bytes, start, &segments);
    Some(line_col(text, offset))
}

#[derive(Debug, PartialEq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for (n, part) in path.split('.').enumerate() {
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        // A leading capitalised name is the resource type, not a key.
        let is_root = n == 0 && name.starts_with(|c: char| c.is_ascii_uppercase());
        if !name.is_empty() && !is_root {
            out.push(Seg::Key(name));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Seg::Index(i));
            }
        }
    }
    out
}

/// Offset of the value at `segs` starting from the value at `pos` (or the deepest reached).
fn walk(b: &[u8], pos: usize, segs: &[Seg]) -> usize {
    let Some((first, rest)) = segs.split_first() else { return pos };
    match (b.get(pos), first) {
        (Some(b'{'), Seg::Key(key)) => {
            let mut p = skip_ws(b, pos + 1);
            while p < b.len() && b[p] == b'"' {
                let key_end = skip_string(b, p);
                let k = std::str::from_utf8(&b[p + 1..key_end.saturating_sub(1)]).unwrap_or("");
                p = skip_ws(b, key_end);
                if b.get(p) != Some(&b':') {
                    return pos;
                }
                p = skip_ws(b, p + 1);
                if k == *key {
                    return walk(b, p, rest);
                }
                p = skip_ws(b, skip_value(b, p));
                if b.get(p) == Some(&b',') {
                    p = skip_ws(b, p + 1);
                }
            }
            pos
        }
        (Some(b'['), Seg::Index(i)) => {
            let mut p = skip_ws(b, pos + 1);
            let mut n = 0;
            while p < b.len() && b[p] != b']' {
                if n == *i {
                    return walk(b, p, rest);
                }
                p = skip_ws(b, skip_value(b, p));
                if b.get(p) == Some(&b',') {
                    p = skip_ws(b, p + 1);
                }
                n += 1;
            }
            pos
        }
        _ => pos,
    }
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && b[p].is_ascii_whitespace() {
        p += 1;
    }
    p
}

/// From an opening quote, the offset just past the closing quote.
fn skip_string(b: &[u8], mut p: usize) -> usize {
    p += 1;
    while p < b.len() {
        match b[p] {
            b'\\' => p += 2,
            b'"' => return p + 1,
            _ => p += 1,
        }
    }
    p
}

fn skip_value(b: &[u8], p: usize) -> usize {
    match b.get(p) {
        Some(b'"') => skip_string(b, p),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut q = p;
            while q < b.len() {
                match b[q] {
                    b'"' => {
                        q = skip_string(b, q);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return q + 1;
                        }
                    }
                    _ => {}
                }
                q += 1;
            }
            q
        }
        _ => {
            let mut q = p;
            while q < b.len() && !matches!(b[q], b',' | b'}' | b']') && !b[q].is_ascii_whitespace() {
                q += 1;
            }
            q
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| offset - i).unwrap_or(offset + 1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = r#"{
  "resourceType": "Questionnaire",
  "item": [
    { "linkId": "a", "type": "boolean" },
    {
      "linkId": "b",
      "enableWhen": [ { "question": "zz", "operator": "=" } ]
    }
  ]
}"#;

    #[test]
    fn finds_nested_values() {
        assert_eq!(locate(DOC, "Questionnaire.item[1].enableWhen[0].question"), Some((7, 37)));
        assert_eq!(locate(DOC, "Questionnaire.item[0].type"), Some((4, 30)));
    }

    #[test]
    fn stops_at_deepest_existing_part() {
        assert_eq!(locate(DOC, "Questionnaire.item[1].missing"), Some((5, 5)));
        assert_eq!(locate(DOC, "Questionnaire.item[9]"), Some((3, 11)));
    }
}
