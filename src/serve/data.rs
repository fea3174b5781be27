//! What the pages show, as plain values: each page's data is one struct, read from the stores by `query.rs` and
//! `now.rs`, drawn by the page modules, and served as it is (serde) at `/api/...`. One type, one JSON shape.
//!
//! Times are RFC 3339 text as Postgres renders them (any time Postgres holds, `infinity` included), plus a Unix
//! time in seconds where a chart needs a position.

use serde::Serialize;

/// One run of pinger, as the `sweeps` table keeps it.
#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub id: String,
    pub started_at: String,
    pub started_unix: f64,
    /// `None` while it runs (or when it never finished).
    pub finished_at: Option<String>,
    pub duration_s: Option<f64>,
    pub host_count: i64,
    pub alive: Option<i64>,
    pub timeout: Option<i64>,
    pub unreachable: Option<i64>,
    /// Where its host list came from: user data (a URL, a path).
    pub source: String,
}

pub use crate::report::query::Availability;

/// A run of failed checks of one host.
#[derive(Clone, Debug, Serialize)]
pub struct Outage {
    pub host: String,
    pub started_at: String,
    /// The first good check after it; `None` while it goes on.
    pub ended_at: Option<String>,
    pub failed_checks: i64,
    pub last_failed_at: String,
    /// To its end, or to now while it goes on.
    pub duration_s: Option<f64>,
    /// The vantage point that saw it ('' when unnamed).
    pub vantage: String,
}

/// The "seen from" cells of a list of outages: none when no vantage point in it has a name (a single pinger).
pub fn seen_from(outages: &[Outage]) -> impl Fn(&Outage) -> String + '_ {
    let named = outages.iter().any(|o| !o.vantage.is_empty());
    move |o: &Outage| match (named, o.vantage.is_empty()) {
        (false, _) => String::new(),
        (true, true) => "<td>-</td>".into(),
        (true, false) => format!("<td>{}</td>", super::html::esc(&o.vantage)),
    }
}

/// Availability per UTC day of hosts, or of groups of hosts (networks) when there are many.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Heatmap {
    /// The finished UTC days before today, oldest first (`YYYY-MM-DD`).
    pub days: Vec<String>,
    /// `None`: a row per host; `Some("/24")`: a row per network of that size (IPv6: /64).
    pub grouped_by: Option<String>,
    /// The least available rows first, at most [`HEATMAP_ROWS`].
    pub rows: Vec<HeatRow>,
    /// Rows there would be without the cut.
    pub rows_total: i64,
    /// When it was computed (it is kept for a while: `cache.rs`).
    pub as_of: String,
}

pub const HEATMAP_DAYS: i32 = 14;
pub const HEATMAP_ROWS: i64 = 40;
/// Up to this many hosts the heatmap has a row per host.
pub const HEATMAP_HOST_ROWS: i64 = 40;

#[derive(Clone, Debug, Serialize)]
pub struct HeatRow {
    /// A host address, or a network (`127.2.3.0/24`).
    pub label: String,
    pub hosts: i64,
    pub availability_pct: Option<f64>,
    /// Per day of [`Heatmap::days`]; `None` where nothing was checked.
    pub cells: Vec<Option<f64>>,
}

/// The overview page.
#[derive(Clone, Debug, Serialize)]
pub struct Overview {
    pub now: String,
    /// The window of the least available hosts (`24h`), and its length.
    pub since: String,
    pub since_s: f64,
    pub latest_sweep: Option<Sweep>,
    /// Hosts checked in the window.
    pub hosts_in_window: i64,
    /// The least available first.
    pub least_available: Vec<Availability>,
    /// When the list was computed (it is kept for a while: `cache.rs`).
    pub least_as_of: String,
    /// Outages going on now, the longest first.
    pub outages_now: Vec<Outage>,
    pub outages_now_total: i64,
    pub heatmap: Heatmap,
}

/// The least available hosts over a window, as computed at `as_of`.
#[derive(Clone, Debug)]
pub struct Least {
    pub rows: Vec<Availability>,
    /// Hosts checked in the window.
    pub hosts: i64,
    pub as_of: String,
}

/// The parts of the overview that are read anew for every request.
#[derive(Clone, Debug)]
pub struct Live {
    pub now: String,
    pub latest_sweep: Option<Sweep>,
    pub outages_now: Vec<Outage>,
    pub outages_now_total: i64,
}

pub const LEAST_ROWS: i64 = 20;
pub const OUTAGES_NOW_ROWS: i64 = 20;
pub const HOST_OUTAGE_ROWS: i64 = 50;

/// What Redis says of a host now (the latest sweep's result, until its key expires).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Now {
    /// `alive`, `timeout`, `unreachable`; `None` when Redis has no key for it (or Redis is off or away).
    pub status: Option<String>,
    pub rtt_ms: Option<f64>,
    pub at: Option<String>,
    /// Why there is no answer from Redis: not configured, unreachable.
    pub note: Option<String>,
}

/// Availability of one host over one window.
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    pub window: String,
    pub checks: i64,
    pub failures: i64,
    pub availability_pct: Option<f64>,
    pub loss_pct: Option<f64>,
    pub last_alive: Option<String>,
}

/// One bucket (hour or UTC day) of a host's latency chart. RTTs are of the checks answered in it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The bucket's start, Unix seconds.
    pub t: f64,
    pub checks: i64,
    pub failures: i64,
    pub sent: i64,
    pub received: i64,
    /// Probes lost, in percent of those sent.
    pub loss_pct: f64,
    pub min_ms: Option<f64>,
    /// Estimated from the rollup's RTT histogram, within [min, max].
    pub median_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// A host's page.
#[derive(Clone, Debug, Serialize)]
pub struct HostView {
    pub host: String,
    pub now: Now,
    /// The last check Postgres has.
    pub last_check: Option<String>,
    pub windows: Vec<Window>,
    /// Each vantage point's view over 24 h (one unnamed one when a single pinger writes the history).
    pub vantages: Vec<crate::report::query::FromVantage>,
    /// Newest first.
    pub outages: Vec<Outage>,
    pub range: String,
    /// `hour` or `day`.
    pub grain: String,
    /// The chart's span, Unix seconds: the first bucket's start and now.
    pub from: f64,
    pub to: f64,
    pub points: Vec<Point>,
}

/// The sweeps page: newest first.
#[derive(Clone, Debug, Serialize)]
pub struct Sweeps {
    pub sweeps: Vec<Sweep>,
}
