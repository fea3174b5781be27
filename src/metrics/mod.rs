//! `--metrics-listen ADDR`: Prometheus metrics of a running pinger (most useful with `--every`). The sweep
//! gathers what each result adds in an [`Observed`] of its own and hands it over once, with the sweep's
//! [`Summary`], when the sweep is over; a small HTTP thread (tiny_http, as `pinger serve`) renders the
//! [`Registry`] at `/metrics` under the same lock. The engine never waits on a scrape: the lock is taken once
//! per sweep on the sweep's side.

mod registry;

use std::sync::{Arc, Mutex};

pub use registry::{Histogram, Observed, Registry, RTT_BOUNDS_S};

use crate::config::{ConfigError, MetricsConfig};
use crate::Summary;

/// The registry shared between the sweeps and the HTTP thread.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub per_host: bool,
}

impl Metrics {
    /// Adds a finished sweep.
    pub fn record(&self, s: &Summary, started_unix: f64, observed: Observed) {
        // A panic while rendering cannot leave the registry half-updated in a way that matters: take it anyway.
        let mut r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        r.record(s, started_unix, observed);
    }

    pub fn render(&self) -> String {
        self.registry.lock().unwrap_or_else(|p| p.into_inner()).render()
    }
}

fn header(k: &str, v: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("a constant header is valid")
}

/// Listens on `cfg.listen` and serves `/metrics` from a thread of its own until the process ends.
pub fn serve(cfg: &MetricsConfig) -> Result<Arc<Metrics>, ConfigError> {
    let server = tiny_http::Server::http(cfg.listen)
        .map_err(|e| ConfigError(format!("--metrics-listen: cannot listen on {}: {e}", cfg.listen)))?;
    let bound = server.server_addr().to_ip().unwrap_or(cfg.listen);
    let metrics = Arc::new(Metrics { registry: Mutex::new(Registry::default()), per_host: cfg.per_host });
    let shared = Arc::clone(&metrics);
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                let path = req.url().split('?').next().unwrap_or("");
                let (status, kind, body) = match (req.method(), path) {
                    (tiny_http::Method::Get | tiny_http::Method::Head, "/metrics") => {
                        (200, "text/plain; version=0.0.4; charset=utf-8", shared.render())
                    }
                    (tiny_http::Method::Get | tiny_http::Method::Head, "/") => (
                        200,
                        "text/html; charset=utf-8",
                        "<!DOCTYPE html><title>pinger</title><p>pinger: metrics at <a href=\"/metrics\">/metrics</a>"
                            .to_string(),
                    ),
                    _ => (404, "text/plain; charset=utf-8", "not found: the metrics are at /metrics\n".to_string()),
                };
                let response = tiny_http::Response::from_string(body)
                    .with_status_code(status)
                    .with_header(header("Content-Type", kind));
                let _ = req.respond(response);
            }
        })
        .map_err(|e| ConfigError(format!("--metrics-listen: cannot start its thread: {e}")))?;
    eprintln!("pinger: metrics at http://{bound}/metrics");
    Ok(metrics)
}
