//! A tiny HTTP/1.1 server on 127.0.0.1 for the host-list tests: each path answers one way a real server can.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a path answers.
#[derive(Clone)]
pub enum Reply {
    /// Status, extra headers, body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Reads the request, then holds the connection without a word.
    Silent,
}

pub struct HttpServer {
    pub ip: &'static str,
    pub port: u16,
    connections: Arc<AtomicUsize>,
}

impl HttpServer {
    /// Serves `route(path)` on 127.0.0.1 until the test process ends.
    pub fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> HttpServer {
        HttpServer::start_at("127.0.0.1", route)
    }

    /// Serves `route(path)` on `ip` (a loopback address: all of 127.0.0.0/8 is this machine) until the test
    /// process ends.
    pub fn start_at(ip: &'static str, route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> HttpServer {
        assert!(ip.starts_with("127."), "test servers listen on loopback only, not {ip}");
        let listener = TcpListener::bind((ip, 0)).expect("bind test HTTP server");
        let port = listener.local_addr().expect("addr").port();
        let route = Arc::new(route);
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let route = route.clone();
                std::thread::spawn(move || serve(conn, &*route));
            }
        });
        HttpServer { ip, port, connections }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.ip, self.port)
    }

    /// Connections accepted so far, whether or not they sent a request.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve(mut conn: TcpStream, route: &dyn Fn(&str) -> Reply) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&req);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    match route(&path) {
        Reply::Silent => std::thread::sleep(Duration::from_secs(60)),
        Reply::Full(status, headers, body) => {
            let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = conn.write_all(out.as_bytes());
            let _ = conn.write_all(&body);
        }
    }
}
