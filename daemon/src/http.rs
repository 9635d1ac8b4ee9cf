//! How dinoedge serves HTTP (the daemon's `/metrics`, the calibrate page): HTTP/1.1 on a TCP
//! listener, held to [`Bounds`] whatever its clients do, so that they cannot take the file
//! descriptors or the time the cameras need:
//!
//! - at most `connections` at a time; more wait in the kernel's backlog, which costs the process
//!   no descriptor (1,100 idle connections to an unbounded endpoint took every descriptor of a
//!   service limited to 1,024, and the cameras could not open their frames);
//! - a request's head must have arrived `head` after the server started waiting for it, or the
//!   connection is closed: an idle keep-alive connection, a client that sends nothing, a
//!   slowloris trickling its headers;
//! - a connection lives at most `lifetime`, however it is used.
//!
//! A failed accept (out of descriptors after all) is logged and tried again a second later,
//! never a busy loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What one endpoint allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub connections: usize,
    pub head: Duration,
    pub lifetime: Duration,
}

/// `/metrics`: a scraper or two, each request a few milliseconds.
pub const METRICS: Bounds =
    Bounds { connections: 16, head: Duration::from_secs(10), lifetime: Duration::from_secs(60) };

/// The calibrate page: one integrator's browser (a few connections), whose fits take seconds.
pub const PAGE: Bounds = Bounds { connections: 32, head: Duration::from_secs(30), lifetime: Duration::from_secs(600) };

/// Serves `app` on `listener` within `bounds` until `shutdown` completes (connections being
/// served then are dropped).
pub async fn serve(listener: TcpListener, app: axum::Router, bounds: Bounds, shutdown: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(bounds.connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => return,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    log::warn!("{}: cannot accept a connection: {e}", address(&listener));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(bounds.head);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            // An error is the client's doing (a reset, a malformed request, too slow a head).
            let _ = tokio::time::timeout(bounds.lifetime, connection).await;
        });
    }
}

fn address(listener: &TcpListener) -> String {
    listener.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    use axum::routing::get;

    use super::*;

    /// A server of `connections` and `head` on a free loopback port, with `/` and a `/slow`
    /// that takes 1 s.
    fn server(connections: usize, head: Duration) -> (tokio::runtime::Runtime, std::net::SocketAddr) {
        let bounds = Bounds { connections, head, lifetime: Duration::from_secs(30) };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                "slow"
            }),
        );
        runtime.spawn(serve(listener, app, bounds, std::future::pending()));
        (runtime, addr)
    }

    /// The whole response of one GET on a new connection.
    fn get_on(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn a_client_that_sends_nothing_is_cut_off_and_holds_no_place_for_long() {
        let head = Duration::from_millis(300);
        let (_runtime, addr) = server(1, head);
        let mut silent = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        // The one place is the silent client's: the next request waits for it to go.
        let response = get_on(addr, "/");
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("ok"), "{response}");
        assert!(started.elapsed() >= head, "served at once: the cap did not hold ({:?})", started.elapsed());
        assert_eq!(silent.read(&mut [0; 16]).unwrap_or(0), 0, "the silent connection was closed");
    }

    #[test]
    fn a_slow_head_is_cut_off_but_a_slow_answer_is_not() {
        let head = Duration::from_millis(300);
        let (_runtime, addr) = server(4, head);
        let mut trickle = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let mut closed = false;
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\n".iter().cycle().take(100) {
            std::thread::sleep(Duration::from_millis(50));
            if trickle.write_all(&[*byte]).is_err() {
                closed = true;
                break;
            }
        }
        let mut rest = Vec::new();
        let _ = trickle.read_to_end(&mut rest);
        assert!(closed || started.elapsed() < Duration::from_secs(5), "the trickling client was served");
        assert!(!String::from_utf8_lossy(&rest).contains("200 OK"), "no answer to a trickled head");
        assert!(get_on(addr, "/slow").ends_with("slow"), "an answer that takes longer than `head` is given");
    }
}
