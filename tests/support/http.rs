//! A small HTTP/1.1 server on 127.0.0.1 for the download tests: it serves bodies at paths,
//! honours `Range: bytes=N-`, can cut the connection after a number of bytes, and records
//! the requests it saw.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
}

pub struct Server {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    /// Serves `body` at `path`; the first `cut_first` responses stop after `cut_after` bytes.
    pub fn start(path: &str, body: Vec<u8>, cut_after: Option<usize>, cut_first: usize) -> Server {
        Self::serving(vec![(path.to_string(), body)], cut_after, cut_first)
    }

    /// Serves each `(path, body)`, whole.
    pub fn files(files: Vec<(String, Vec<u8>)>) -> Server {
        Self::serving(files, None, 0)
    }

    fn serving(files: Vec<(String, Vec<u8>)>, cut_after: Option<usize>, cut_first: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (files, log) = (Arc::new(files), seen.clone());
        thread::spawn(move || {
            for (i, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let cut = if i < cut_first { cut_after } else { None };
                let _ = serve(stream, &files, cut, &log);
            }
        });
        Server { port, seen }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    files: &[(String, Vec<u8>)],
    cut: Option<usize>,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_string());
        }
    }
    log.lock().unwrap().push(Seen { path: target.clone(), range: range.clone() });
    let mut out = stream;
    let Some((_, body)) = files.iter().find(|(path, _)| *path == target) else {
        return out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let (status, from) = match start {
        Some(n) if n >= body.len() => {
            return out
                .write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Some(n) => (format!("206 Partial Content\r\nContent-Range: bytes {n}-{}/{}", body.len() - 1, body.len()), n),
        None => ("200 OK".to_string(), 0),
    };
    let rest = &body[from..];
    write!(out, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", rest.len())?;
    let sent = cut.map_or(rest.len(), |c| c.min(rest.len()));
    out.write_all(&rest[..sent])?;
    out.flush()
}
