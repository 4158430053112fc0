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

fn refuse(mut stream: TcpStream, status: &str) {
    let _ = stream.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes());
}

fn respond(stream: TcpStream, root: &Path) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request = String::new();
    match read_line_bounded(&mut reader, &mut request) {
        Ok(_) => {}
        Err(true) => return refuse(stream, "414 URI Too Long"),
        Err(false) => return,
    }
    // Drain the headers, bounded in size.
    let mut head = 0;
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
            }
            Err(true) => return refuse(stream, "431 Request Header Fields Too Large"),
            Err(false) => return,
        }
    }
    let mut stream = stream;
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        ("405 Method Not Allowed", "text/plain", b"method not allowed\n".to_vec())
    } else {
        match resolve(root, target).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
            Some((p, body)) => ("200 OK", content_type(&p), body),
            None => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nContent-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&body);
    }
}

/// Serve `root` on 127.0.0.1:`port` until the process is stopped.
pub fn serve(root: &Path, port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    println!("serving {} on http://{addr}/", root.display());
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        let root = root.to_path_buf();
        std::thread::spawn(move || respond(stream, &root));
    }
    Ok(())
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
