//! `pinger serve`: a read-only web view of the history in Postgres (rollups, outage log, sweeps) and of "now"
//! in Redis. Pages for people at `/`, `/host/ADDRESS` and `/sweeps`; the same data as JSON under `/api/`.
//!
//! The parts: `route` (URL to a page, or a 400/404), `query` (Postgres, bound parameters only) and `now`
//! (Redis) read a page's `data`; `overview`, `host` and `sweeps` draw it as HTML with `svg` and `smoke` for the
//! charts, and `html` escapes every value. This file is the thin driver: the HTTP server (tiny_http: synchronous
//! like the rest of pinger, no async runtime, four small dependencies), a few worker threads that each keep
//! their own database and Redis connections, and the mapping of failures to statuses. Nothing here writes.

mod cache;
pub mod data;
mod host;
pub mod html;
pub mod now;
mod overview;
pub mod query;
pub mod route;
pub mod smoke;
pub mod svg;
mod sweeps;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::config::{postgres_from, redis_from, ConfigError, Env};
use crate::report::ReportError;
use crate::store::tls::PgConfig;
use cache::{Cache, Lookup};
use data::{Heatmap, HostView, Least, Overview};
use route::{ChartRange, Format, Route, Since};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8089";
/// Requests answered at once: each worker has its own connections, so this is also the most Postgres sees.
const WORKERS: usize = 4;
/// For connections and each statement (Postgres' statement_timeout is 6 times this).
const TIMEOUT: Duration = Duration::from_secs(5);

/// Serve a read-only web view of the history: pages at /, /host/ADDRESS and /sweeps, JSON under /api/.
#[derive(FromArgs, Debug)]
pub struct ServeCli {
    /// address and port to listen on (default 127.0.0.1:8089; the pages have no login: keep it on loopback or
    /// behind a proxy that has one)
    #[argh(option)]
    pub listen: Option<String>,

    /// postgres connection string (default: env DATABASE_URL, or POSTGRES_*)
    #[argh(option)]
    pub database_url: Option<String>,

    /// redis URL for each host's status now (default: env REDIS_URL, or REDIS_HOST/REDIS_PORT/REDIS_PASSWORD;
    /// without one the host pages show Postgres only)
    #[argh(option)]
    pub redis_url: Option<String>,

    /// prefix of the Redis keys, as the sweep was given it (default none)
    #[argh(option)]
    pub redis_prefix: Option<String>,
}

/// What one request gets: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

impl Answer {
    /// An error in the request's format: a page that says it, or `{"error": ..., "status": ...}`.
    pub fn error(format: Format, status: u16, message: &str) -> Answer {
        match format {
            Format::Html => Answer { status, content_type: HTML, body: html::error_page(status, message) },
            Format::Json => Answer {
                status,
                content_type: JSON,
                body: serde_json::json!({ "error": message, "status": status }).to_string(),
            },
        }
    }

    fn json(value: &impl serde::Serialize) -> Answer {
        match serde_json::to_string(value) {
            Ok(body) => Answer { status: 200, content_type: JSON, body },
            Err(e) => Answer::error(Format::Json, 500, &format!("cannot write the answer as JSON: {e}")),
        }
    }
}

/// Why a page could not be made.
enum Failure {
    /// Postgres is away, refused us, or holds another schema: 503, in words.
    Database(String),
    NotFound(String),
}

/// What the workers share: where Postgres is, and the overview's slow answers (`cache.rs`).
pub struct Shared {
    pub pg: PgConfig,
    least: Cache<Least>,
    heatmap: Cache<Heatmap>,
}

impl Shared {
    pub fn new(pg: PgConfig) -> Arc<Shared> {
        Arc::new(Shared { pg, least: Cache::default(), heatmap: Cache::default() })
    }

    /// Computes the overview's slow parts for the offered windows in the background, so that the first visitors
    /// do not wait.
    pub fn warm(self: &Arc<Shared>) {
        let shared = Arc::clone(self);
        std::thread::spawn(move || {
            let Ok(mut c) = shared.pg.connect() else { return };
            // The default page's parts first.
            for (i, label) in route::SINCE_CHOICES.into_iter().enumerate() {
                let at = Instant::now();
                let Ok(d) = humantime::parse_duration(label) else { continue };
                if let Ok(l) = query::least(&mut c, d.as_secs_f64()) {
                    shared.least.store(label, at, Arc::new(l));
                }
                if i == 0 {
                    let at = Instant::now();
                    if let Ok(h) = query::heatmap(&mut c) {
                        shared.heatmap.store(HEATMAP_KEY, at, Arc::new(h));
                    }
                }
            }
        });
    }
}

const HEATMAP_KEY: &str = "heatmap";

/// One worker's connections; each is made when first needed and made anew after a failure.
pub struct Worker {
    shared: Arc<Shared>,
    pg: PgConfig,
    client: Option<postgres::Client>,
    redis: now::RedisNow,
}

impl Worker {
    pub fn new(shared: Arc<Shared>, redis: now::RedisNow) -> Worker {
        Worker { pg: shared.pg.clone(), shared, client: None, redis }
    }

    /// The value `cache` holds for `key`, computed by `compute` when there is none (and refreshed in the
    /// background, on a connection of its own, when it is getting old).
    fn cached<V: Send + Sync + 'static>(
        &mut self,
        cache: fn(&Shared) -> &Cache<V>,
        key: &str,
        compute: impl Fn(&mut postgres::Client) -> query::Result<V> + Send + 'static,
    ) -> Result<Arc<V>, Failure> {
        let now = Instant::now();
        match cache(&self.shared).lookup(key, now) {
            Lookup::Fresh(v) | Lookup::Stale(v) => Ok(v),
            Lookup::Refresh(v) => {
                let (shared, key) = (Arc::clone(&self.shared), key.to_string());
                std::thread::spawn(move || {
                    let at = Instant::now();
                    match shared.pg.connect().and_then(|mut c| compute(&mut c)) {
                        Ok(fresh) => cache(&shared).store(&key, at, Arc::new(fresh)),
                        Err(_) => cache(&shared).failed(&key),
                    }
                });
                Ok(v)
            }
            Lookup::Missing => {
                let v = Arc::new(self.with_db(&compute)?);
                cache(&self.shared).store(key, now, Arc::clone(&v));
                Ok(v)
            }
        }
    }

    /// The overview: the latest sweep and the outages now as they are, the slow parts as `cache.rs` keeps them
    /// (windows other than the offered ones are computed for each request).
    fn overview(&mut self, since: &Since) -> Result<Overview, Failure> {
        let live = self.with_db(query::live)?;
        let secs = since.secs;
        let least = if route::SINCE_CHOICES.contains(&since.label.as_str()) {
            self.cached(|s| &s.least, &since.label, move |c| query::least(c, secs))?
        } else {
            Arc::new(self.with_db(|c| query::least(c, secs))?)
        };
        let heatmap = self.cached(|s| &s.heatmap, HEATMAP_KEY, query::heatmap)?;
        Ok(Overview {
            now: live.now,
            since: since.label.clone(),
            since_s: since.secs,
            latest_sweep: live.latest_sweep,
            hosts_in_window: least.hosts,
            least_available: least.rows.clone(),
            least_as_of: least.as_of.clone(),
            outages_now: live.outages_now,
            outages_now_total: live.outages_now_total,
            heatmap: Heatmap::clone(&heatmap),
        })
    }

    fn db_error(&mut self, e: &postgres::Error) -> Failure {
        self.client = None;
        let target = crate::store::postgres::describe(&self.pg.config);
        Failure::Database(format!(
            "the database does not answer: {}",
            ReportError::postgres(&target, e, self.pg.explain(e))
        ))
    }

    fn client(&mut self) -> Result<&mut postgres::Client, Failure> {
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.client = None;
        }
        if self.client.is_none() {
            let mut c = self.pg.connect().map_err(|e| self.db_error(&e))?;
            crate::report::check_schema(&mut c, &self.pg).map_err(|e| Failure::Database(e.to_string()))?;
            self.client = Some(c);
        }
        self.client.as_mut().ok_or_else(|| Failure::Database("no connection".into()))
    }

    /// Runs `f` on the connection; a Postgres error drops the connection (made anew next time). A connection
    /// kept from an earlier request may have died with a restarted server: then `f` runs once more on a new one.
    fn with_db<T>(&mut self, mut f: impl FnMut(&mut postgres::Client) -> query::Result<T>) -> Result<T, Failure> {
        let kept = self.client.is_some();
        match f(self.client()?) {
            Ok(v) => Ok(v),
            Err(e) if kept && (e.is_closed() || e.code() == Some(&postgres::error::SqlState::ADMIN_SHUTDOWN)) => {
                self.client = None;
                let r = f(self.client()?);
                r.map_err(|e| self.db_error(&e))
            }
            Err(e) => Err(self.db_error(&e)),
        }
    }

    fn host(&mut self, addr: IpAddr, range: ChartRange) -> Result<HostView, Failure> {
        let Some(query::HostHistory { windows, vantages, outages, last_check }) =
            self.with_db(|c| query::host(c, addr))?
        else {
            return Err(Failure::NotFound(format!(
                "no check of {addr} is stored: it was never swept into this database, or its history has expired"
            )));
        };
        let (from, to, points) = self.with_db(|c| query::points(c, addr, range.buckets(), range.daily()))?;
        Ok(HostView {
            host: addr.to_string(),
            now: self.redis.get(addr),
            last_check,
            windows,
            vantages,
            outages,
            range: range.label().into(),
            grain: if range.daily() { "day" } else { "hour" }.into(),
            from,
            to,
            points,
        })
    }

    /// The answer to `url` (path and query). Never panics on input; a bug's panic is caught by the caller.
    pub fn answer(&mut self, url: &str) -> Answer {
        let (format, route) = match route::route(url) {
            Ok(r) => r,
            Err((format, refusal)) => return Answer::error(format, refusal.status(), refusal.message()),
        };
        let result = match &route {
            Route::Overview { since } => self.overview(since).map(|o| {
                if format == Format::Json {
                    Answer::json(&o)
                } else {
                    page(overview::render(&o))
                }
            }),
            Route::Host { addr, range } => self.host(*addr, *range).map(|h| match format {
                Format::Json => Answer::json(&h),
                Format::Html => page(host::render(&h, *range)),
            }),
            Route::Sweeps { limit } => self.with_db(|c| query::sweeps(c, *limit)).map(|s| match format {
                Format::Json => Answer::json(&data::Sweeps { sweeps: s }),
                Format::Html => page(sweeps::render(&s)),
            }),
        };
        match result {
            Ok(a) => a,
            Err(Failure::NotFound(m)) => Answer::error(format, 404, &m),
            Err(Failure::Database(m)) => Answer::error(format, 503, &m),
        }
    }
}

fn page(body: String) -> Answer {
    Answer { status: 200, content_type: HTML, body }
}

fn header(k: &str, v: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("a constant header is valid")
}

/// Answers one request: GET and HEAD only; a panic becomes a 500 without details (and a new connection).
fn respond(req: tiny_http::Request, w: &mut Worker) {
    let format = if req.url().starts_with("/api/") { Format::Json } else { Format::Html };
    let answer = match req.method() {
        tiny_http::Method::Get | tiny_http::Method::Head => {
            let url = req.url().to_string();
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.answer(&url))).unwrap_or_else(|_| {
                w.client = None;
                Answer::error(format, 500, "internal error: the request could not be answered (see pinger's log)")
            })
        }
        _ => Answer::error(format, 405, "only GET and HEAD: this view is read-only"),
    };
    let mut response = tiny_http::Response::from_string(answer.body)
        .with_status_code(answer.status)
        .with_header(header("Content-Type", answer.content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
        // No script, nothing from elsewhere: the pages are HTML with inline style and inline SVG.
        .with_header(header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
        ));
    if answer.status == 405 {
        response = response.with_header(header("Allow", "GET, HEAD"));
    }
    let _ = req.respond(response);
}

/// Runs the server until the process is stopped. `out` gets the line that says where it listens.
pub fn run(cli: ServeCli, env: &Env, out: &mut impl Write) -> Result<(), ReportError> {
    let listen = cli.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let addr: SocketAddr = listen.parse().map_err(|_| {
        ConfigError(format!("--listen takes an address and port like {DEFAULT_LISTEN}, not {listen:?}"))
    })?;
    let mut pg = postgres_from(cli.database_url.as_deref(), env, TIMEOUT)?
        .ok_or_else(|| ConfigError("no database: set DATABASE_URL (or POSTGRES_*, or --database-url)".into()))?;
    if pg.config.get_connect_timeout().is_none() {
        pg.config.connect_timeout(TIMEOUT);
    }
    let redis = redis_from(cli.redis_url.as_deref(), env)?;
    let server = tiny_http::Server::http(addr).map_err(|e| ConfigError(format!("cannot listen on {addr}: {e}")))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let _ = writeln!(
        out,
        "pinger serve: listening on http://{bound}/ ({}; {})",
        crate::store::postgres::describe(&pg.config),
        redis.as_ref().map_or("no redis".to_string(), |r| format!("redis {}", crate::store::redis::describe(r)))
    );
    let _ = out.flush();
    let server = Arc::new(server);
    let shared = Shared::new(pg);
    shared.warm();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let server = Arc::clone(&server);
            let mut w = Worker::new(
                Arc::clone(&shared),
                now::RedisNow::new(redis.clone(), cli.redis_prefix.clone().unwrap_or_default(), TIMEOUT),
            );
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    respond(req, &mut w);
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}
