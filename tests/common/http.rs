//! A tiny HTTP/1.1 server on 127.0.0.1 for the host-list tests: each path answers one way a real server can.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
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
    pub port: u16,
}

impl HttpServer {
    /// Serves `route(path)` until the test process ends.
    pub fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test HTTP server");
        let port = listener.local_addr().expect("addr").port();
        let route = std::sync::Arc::new(route);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let route = route.clone();
                std::thread::spawn(move || serve(conn, &*route));
            }
        });
        HttpServer { port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
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
