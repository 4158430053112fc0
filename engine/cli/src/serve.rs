//! `intake serve DIR`: a small static file server for the demo and the browser tests, bound to
//! 127.0.0.1 only. Pages are served with a strict Content-Security-Policy (the same one the
//! embedding docs ask hosts for), so the demo proves the form runs under it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};

pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The file a request path names, never outside the root.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("/");
    let mut out = root.to_path_buf();
    for part in Path::new(path.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    out.is_file().then_some(out)
}

/// Longest request line or header line read; longer ones are refused, never buffered.
const MAX_LINE: u64 = 8 * 1024;
/// All header lines together.
const MAX_HEAD: usize = 64 * 1024;
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One line of at most `MAX_LINE` bytes. `Err(true)`: too long; `Err(false)`: I/O error.
fn read_line_bounded(reader: &mut impl BufRead, line: &mut String) -> Result<usize, bool> {
    let mut bytes = Vec::new();
    let n = reader.take(MAX_LINE + 1).read_until(b'\n', &mut bytes).map_err(|_| false)?;
    if n as u64 > MAX_LINE {
        return Err(true);
    }
    line.push_str(&String::from_utf8_lossy(&bytes));
    Ok(n)
}

/// Largest request body read (the preview's answers and scenario requests); more is refused.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One HTTP request, read with every part bounded.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path and query, as sent (`/api/state?visitType=x`).
    pub target: String,
    pub body: Vec<u8>,
}

impl Request {
    /// The path without query or fragment.
    pub fn path(&self) -> &str {
        self.target.split(['?', '#']).next().unwrap_or("/")
    }

    /// A query parameter, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1.split('#').next().unwrap_or("");
        q.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| percent_decode(v))
    }
}

/// `%xx` and `+` decoding for query values (invalid escapes are kept as written).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler answers.
pub struct Response {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: &'static str, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into() }
    }

    pub fn json(status: &'static str, v: &serde_json::Value) -> Response {
        Response::new(status, "application/json; charset=utf-8", v.to_string())
    }

    pub fn not_found() -> Response {
        Response::new("404 Not Found", "text/plain", "not found\n")
    }
}

/// Answer with a bare status and drop the request.
fn refuse(mut stream: &TcpStream, status: &str) -> Option<Request> {
    let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
    None
}

/// Read one request from `stream`; on a refusal the status has been written.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request = String::new();
    match read_line_bounded(&mut reader, &mut request) {
        Ok(_) => {}
        Err(true) => return refuse(stream, "414 URI Too Long"),
        Err(false) => return None,
    }
    // The headers, bounded in size; only Content-Length is kept.
    let mut head = 0;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match read_line_bounded(&mut reader, &mut line) {
            Ok(0) => break,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(n) => {
                head += n;
                if head > MAX_HEAD {
                    return refuse(stream, "431 Request Header Fields Too Large");
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.trim().eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(usize::MAX);
                    }
                }
            }
            Err(true) => return refuse(stream, "431 Request Header Fields Too Large"),
            Err(false) => return None,
        }
    }
    if length > MAX_BODY {
        return refuse(stream, "413 Content Too Large");
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("/").to_owned());
    Some(Request { method, target, body })
}

fn write_response(mut stream: TcpStream, method: &str, r: &Response) {
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nContent-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&r.body);
    }
}

/// The file `url_path` names under `root` (GET and HEAD only).
pub fn static_file(root: &Path, method: &str, url_path: &str) -> Response {
    if method != "GET" && method != "HEAD" {
        return Response::new("405 Method Not Allowed", "text/plain", "method not allowed\n");
    }
    match resolve(root, url_path).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
        Some((p, body)) => Response::new("200 OK", content_type(&p), body),
        None => Response::not_found(),
    }
}

/// Answer requests on 127.0.0.1:`port` with `handler` (one thread per connection) until the
/// process is stopped. Prints `<what> on http://127.0.0.1:<port>/` first (tests read it).
pub fn run<H>(what: &str, port: u16, handler: H) -> std::io::Result<()>
where
    H: Fn(&Request) -> Response + Send + Sync + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    println!("{what} on http://{addr}/");
    let _ = std::io::stdout().flush();
    let handler = std::sync::Arc::new(handler);
    for stream in listener.incoming().flatten() {
        let handler = handler.clone();
        std::thread::spawn(move || {
            if let Some(req) = read_request(&stream) {
                let response = handler(&req);
                write_response(stream, &req.method, &response);
            }
        });
    }
    Ok(())
}

/// Serve `root` on 127.0.0.1:`port` until the process is stopped.
pub fn serve(root: &Path, port: u16) -> std::io::Result<()> {
    let root = root.to_path_buf();
    run(&format!("serving {}", root.display()), port, move |req| static_file(&root, &req.method, &req.target))
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn request_lines_are_bounded() {
        use std::io::Cursor;
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(100_000));
        let mut r = std::io::BufReader::new(Cursor::new(long.into_bytes()));
        let mut line = String::new();
        assert_eq!(super::read_line_bounded(&mut r, &mut line), Err(true));
        assert!(line.is_empty(), "nothing of an overlong line is kept");
        let mut r = std::io::BufReader::new(Cursor::new(b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec()));
        let mut line = String::new();
        assert_eq!(super::read_line_bounded(&mut r, &mut line), Ok(16));
        assert_eq!(line, "GET / HTTP/1.1\r\n");
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(super::percent_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
        let r = super::Request { method: "GET".into(), target: "/api/state?since=x&visitType=diabetes%2Dfollow-up".into(), body: vec![] };
        assert_eq!(r.path(), "/api/state");
        assert_eq!(r.query("visitType").as_deref(), Some("diabetes-follow-up"));
        assert_eq!(r.query("missing"), None);
    }

    #[test]
    fn bodies_are_read_to_their_length_and_bounded() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let send = move |raw: Vec<u8>| {
            std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&raw).unwrap();
                let mut answer = String::new();
                let _ = std::io::Read::read_to_string(&mut c, &mut answer);
                answer
            })
        };
        let t = send(b"POST /api/explain HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}".to_vec());
        let (stream, _) = listener.accept().unwrap();
        let req = super::read_request(&stream).unwrap();
        assert_eq!((req.method.as_str(), req.body.as_slice()), ("POST", b"{\"a\":1}".as_slice()));
        drop(stream);
        t.join().unwrap();
        let t = send(format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", super::MAX_BODY + 1).into_bytes());
        let (stream, _) = listener.accept().unwrap();
        assert!(super::read_request(&stream).is_none());
        drop(stream);
        assert!(t.join().unwrap().starts_with("HTTP/1.1 413"));
    }

    #[test]
    fn never_leaves_the_root() {
        let root = std::env::temp_dir().join(format!("intake-serve-{}", std::process::id()));
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/index.html"), "x").unwrap();
        assert!(resolve(&root, "/a/").is_some());
        assert!(resolve(&root, "/a/index.html?x=1").is_some());
        assert!(resolve(&root, "/../etc/passwd").is_none());
        assert!(resolve(&root, "/a/../../x").is_none());
    }
}
