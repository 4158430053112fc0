//! Questionnaire text with the rendering-xhtml or rendering-markdown extension, made safe.
//!
//! Forms come from other tools and may be hostile. Their markup never reaches `innerHTML` as
//! they wrote it: it is parsed into a small tree of whitelisted elements (emphasis,
//! paragraphs, lists, line breaks, and links to `http(s)` only), everything else becomes plain
//! text. Attributes are dropped, so `onerror=`, `style=`, `javascript:` URLs and `<script>`
//! never reach the page. The page gets the tree written out by `write_html`, with every text
//! and the link targets escaped (`html`).

/// A node of safe rich text.
#[derive(Debug, Clone, PartialEq)]
pub enum Rich {
    Text(String),
    Elem { tag: &'static str, children: Vec<Rich> },
    /// A link to an http(s) URL; anything else is rendered as its text.
    Link { href: String, children: Vec<Rich> },
}

/// Writes safe rich text as HTML. Emphasis and lists keep their tags; block tags become
/// `span.ik-block` (they sit inside labels, where blocks would be invalid); links open in a new
/// tab without access to this page.
pub fn write_html(nodes: &[Rich], out: &mut crate::html::Html) {
    for node in nodes {
        match node {
            Rich::Text(t) => {
                out.text(t);
            }
            Rich::Link { href, children } => {
                out.open("a", &[("href", Some(href)), ("target", Some("_blank")), ("rel", Some("noopener noreferrer"))]);
                write_html(children, out);
                out.close("a");
            }
            Rich::Elem { tag: "br", .. } => {
                out.open("br", &[]);
            }
            Rich::Elem { tag, children } => {
                let (tag, class) = match *tag {
                    "b" | "strong" => ("strong", None),
                    "i" | "em" => ("em", None),
                    "u" => ("u", None),
                    "sub" => ("sub", None),
                    "sup" => ("sup", None),
                    "small" => ("small", None),
                    "ul" => ("ul", None),
                    "ol" => ("ol", None),
                    "li" => ("li", None),
                    _ => ("span", Some("ik-block")),
                };
                out.open(tag, &[("class", class)]);
                write_html(children, out);
                out.close(tag);
            }
        }
    }
}

/// Deepest element nesting kept. Real forms nest a few levels; a hostile one nested 20,000
/// `<div>`s, and rendering that recursively overflowed the wasm stack and broke every form on
/// the page. Deeper markup keeps its text, without the extra structure.
pub const MAX_DEPTH: usize = 16;

const ALLOWED: &[&str] = &["b", "strong", "i", "em", "u", "p", "br", "ul", "ol", "li", "span", "div", "sub", "sup", "small"];

/// Parse a restricted subset of XHTML. Unknown tags keep their text content; `script` and
/// `style` lose their content entirely.
pub fn from_xhtml(src: &str) -> Vec<Rich> {
    let mut stack: Vec<(Option<&'static str>, Option<String>, Vec<Rich>)> = vec![(None, None, Vec::new())];
    let mut rest = src;
    let mut skip_until: Option<String> = None;
    while !rest.is_empty() {
        match rest.find('<') {
            Some(0) => {
                let Some(end) = rest.find('>') else {
                    push_text(&mut stack, rest);
                    break;
                };
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                let closing = tag.starts_with('/');
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if let Some(skip) = &skip_until {
                    if closing && &name == skip {
                        skip_until = None;
                    }
                    continue;
                }
                if !closing && (name == "script" || name == "style") && !tag.ends_with('/') {
                    skip_until = Some(name);
                    continue;
                }
                let self_closing = tag.ends_with('/') || name == "br";
                if closing {
                    // Close the nearest matching open element (ignore stray closers).
                    if let Some(pos) = stack.iter().rposition(|(t, _, _)| t.is_some_and(|t| t == name)) {
                        while stack.len() > pos {
                            close_top(&mut stack);
                        }
                    }
                } else if stack.len() > MAX_DEPTH && !self_closing {
                    // Too deep: the text inside still shows, in the current element.
                } else if name == "a" {
                    let href = attr(tag, "href").filter(|h| safe_href(h));
                    stack.push((Some("a"), href, Vec::new()));
                } else if let Some(allowed) = ALLOWED.iter().find(|a| **a == name) {
                    if self_closing {
                        top(&mut stack).push(Rich::Elem { tag: allowed, children: Vec::new() });
                    } else {
                        stack.push((Some(allowed), None, Vec::new()));
                    }
                }
            }
            Some(i) => {
                if skip_until.is_none() {
                    push_text(&mut stack, &rest[..i]);
                }
                rest = &rest[i..];
            }
            None => {
                if skip_until.is_none() {
                    push_text(&mut stack, rest);
                }
                break;
            }
        }
    }
    while stack.len() > 1 {
        close_top(&mut stack);
    }
    stack.pop().map(|(_, _, c)| c).unwrap_or_default()
}

fn top<'a>(stack: &'a mut [(Option<&'static str>, Option<String>, Vec<Rich>)]) -> &'a mut Vec<Rich> {
    let last = stack.len() - 1;
    &mut stack[last].2
}

fn close_top(stack: &mut Vec<(Option<&'static str>, Option<String>, Vec<Rich>)>) {
    if let Some((tag, href, children)) = stack.pop() {
        let node = match (tag, href) {
            (Some("a"), Some(href)) => Rich::Link { href, children },
            // A link without a safe target is just its text.
            (Some("a"), None) => Rich::Elem { tag: "span", children },
            (Some(t), _) => Rich::Elem { tag: t, children },
            (None, _) => return,
        };
        top(stack).push(node);
    }
}

fn push_text(stack: &mut [(Option<&'static str>, Option<String>, Vec<Rich>)], raw: &str) {
    if raw.is_empty() {
        return;
    }
    let text = decode_entities(raw);
    let children = top(stack);
    if let Some(Rich::Text(prev)) = children.last_mut() {
        prev.push_str(&text);
    } else {
        children.push(Rich::Text(text));
    }
}

/// The value of an attribute in a raw tag (`href="..."`), quotes removed.
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        let after = lower[at + name.len()..].trim_start();
        let before_ok = at > 0 && lower.as_bytes()[at - 1].is_ascii_whitespace();
        if before_ok && after.starts_with('=') {
            let v = after[1..].trim_start();
            let offset = tag.len() - v.len();
            let raw = &tag[offset..];
            let value = match raw.chars().next() {
                Some(q @ ('"' | '\'')) => raw[1..].split(q).next().unwrap_or(""),
                _ => raw.split_whitespace().next().unwrap_or(""),
            };
            return Some(decode_entities(value));
        }
        from = at + name.len();
    }
    None
}

/// Only absolute http(s) links; `javascript:`, `data:` and the like are refused.
pub fn safe_href(href: &str) -> bool {
    let h: String = href.trim().chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    h.starts_with("https://") || h.starts_with("http://")
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e < 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let decoded = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A small, safe markdown subset: paragraphs, `**bold**`, `*italic*`, `- ` lists, and
/// `[text](https://...)` links.
pub fn from_markdown(src: &str) -> Vec<Rich> {
    let mut out = Vec::new();
    let mut list: Vec<Rich> = Vec::new();
    let mut para: Vec<String> = Vec::new();
    let flush_para = |para: &mut Vec<String>, out: &mut Vec<Rich>| {
        if !para.is_empty() {
            out.push(Rich::Elem { tag: "p", children: inline_md(&para.join(" ")) });
            para.clear();
        }
    };
    for line in src.lines() {
        let t = line.trim();
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            flush_para(&mut para, &mut out);
            list.push(Rich::Elem { tag: "li", children: inline_md(item) });
            continue;
        }
        if !list.is_empty() {
            out.push(Rich::Elem { tag: "ul", children: std::mem::take(&mut list) });
        }
        if t.is_empty() {
            flush_para(&mut para, &mut out);
        } else {
            para.push(t.to_owned());
        }
    }
    if !list.is_empty() {
        out.push(Rich::Elem { tag: "ul", children: list });
    }
    flush_para(&mut para, &mut out);
    out
}

fn inline_md(s: &str) -> Vec<Rich> {
    let mut out = Vec::new();
    let mut rest = s;
    let mut text = String::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                flush(&mut text, &mut out);
                out.push(Rich::Elem { tag: "strong", children: vec![Rich::Text(r[..end].to_owned())] });
                rest = &r[end + 2..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('*') {
            if let Some(end) = r.find('*') {
                flush(&mut text, &mut out);
                out.push(Rich::Elem { tag: "em", children: vec![Rich::Text(r[..end].to_owned())] });
                rest = &r[end + 1..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('[') {
            if let (Some(close), true) = (r.find("]("), true) {
                if let Some(paren) = r[close + 2..].find(')') {
                    let label = &r[..close];
                    let href = &r[close + 2..close + 2 + paren];
                    flush(&mut text, &mut out);
                    let children = vec![Rich::Text(label.to_owned())];
                    out.push(if safe_href(href) { Rich::Link { href: href.to_owned(), children } } else { Rich::Elem { tag: "span", children } });
                    rest = &r[close + 3 + paren..];
                    continue;
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut text, &mut out);
    out
}

fn flush(text: &mut String, out: &mut Vec<Rich>) {
    if !text.is_empty() {
        out.push(Rich::Text(std::mem::take(text)));
    }
}

/// Plain text of rich content (for labels where markup is not allowed).
pub fn plain(nodes: &[Rich]) -> String {
    let mut s = String::new();
    for n in nodes {
        match n {
            Rich::Text(t) => s.push_str(t),
            Rich::Elem { children, .. } | Rich::Link { children, .. } => s.push_str(&plain(children)),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html_of(nodes: &[Rich]) -> String {
        let mut h = crate::html::Html::new();
        write_html(nodes, &mut h);
        h.finish()
    }

    #[test]
    fn hostile_markup_is_written_out_inert() {
        let src = r#"<b>Pain</b> <img src=x onerror="alert(1)"> &lt;script&gt;x&lt;/script&gt; <a href="javascript:alert(1)">here</a> <a href='https://example.org/?a=1&b="2"'>info</a><div>block</div>"#;
        assert_eq!(
            html_of(&from_xhtml(src)),
            "<strong>Pain</strong>  &lt;script&gt;x&lt;/script&gt; <span class=\"ik-block\">here</span> \
             <a href=\"https://example.org/?a=1&amp;b=&quot;2&quot;\" target=\"_blank\" rel=\"noopener noreferrer\">info</a>\
             <span class=\"ik-block\">block</span>"
        );
    }

    fn has_tag(nodes: &[Rich], tag: &str) -> bool {
        nodes.iter().any(|n| match n {
            Rich::Elem { tag: t, children } => *t == tag || has_tag(children, tag),
            Rich::Link { children, .. } => tag == "a" || has_tag(children, tag),
            Rich::Text(_) => false,
        })
    }

    #[test]
    fn hostile_markup_is_inert() {
        let nodes = from_xhtml(
            r#"<div xmlns="http://www.w3.org/1999/xhtml">Hello <script>alert(1)</script><img src=x onerror="alert(2)"/><b onclick="alert(3)">bold</b> <a href="javascript:alert(4)">click</a> <a href=" JaVaScRiPt:alert(5)">x</a><style>body{}</style><iframe src="https://evil"></iframe>end</div>"#,
        );
        let text = plain(&nodes);
        assert!(!text.contains("alert"), "{text}");
        assert!(text.contains("Hello") && text.contains("bold") && text.contains("click") && text.contains("end"));
        assert!(has_tag(&nodes, "b") && !has_tag(&nodes, "a"), "{nodes:?}");
        assert!(!format!("{nodes:?}").contains("onclick") && !format!("{nodes:?}").contains("onerror"));
    }

    #[test]
    fn safe_markup_survives() {
        let nodes = from_xhtml("<p>Take <em>one</em> tablet<br/>daily. See <a href='https://example.org/a?b=1&amp;c=2'>leaflet</a></p>");
        assert!(has_tag(&nodes, "em") && has_tag(&nodes, "br") && has_tag(&nodes, "a"));
        assert!(format!("{nodes:?}").contains("https://example.org/a?b=1&c=2"));
        assert_eq!(plain(&from_xhtml("a &lt;b&gt; &amp; &#233;")), "a <b> & é");
    }

    fn depth(nodes: &[Rich]) -> usize {
        nodes
            .iter()
            .map(|n| match n {
                Rich::Elem { children, .. } | Rich::Link { children, .. } => 1 + depth(children),
                Rich::Text(_) => 0,
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn absurd_nesting_is_flattened_and_keeps_its_text() {
        let n = 20_000;
        let src = format!("{}deep text{}", "<div><b>".repeat(n), "</b></div>".repeat(n));
        let nodes = from_xhtml(&src);
        assert!(depth(&nodes) <= MAX_DEPTH, "depth {}", depth(&nodes));
        assert_eq!(plain(&nodes), "deep text");
        // Ordinary nesting is untouched.
        let nodes = from_xhtml("<div><ul><li><b><i>a</i></b></li></ul></div>");
        assert_eq!(depth(&nodes), 5);
    }

    #[test]
    fn markdown_subset() {
        let nodes = from_markdown("**Important:** take *one*\n\n- first\n- second\n\n[site](https://example.org) [bad](javascript:alert(1))");
        assert!(has_tag(&nodes, "strong") && has_tag(&nodes, "em") && has_tag(&nodes, "ul") && has_tag(&nodes, "a"));
        assert_eq!(format!("{nodes:?}").matches("Link").count(), 1);
    }
}
