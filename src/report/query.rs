//! The report's questions to Postgres, answered as plain values: every value a bound parameter, every time
//! rendered by Postgres ([`super::ts_sql`]).

use std::net::IpAddr;

use postgres::Client;

use super::ts_sql;

/// An outage's length in seconds: NULL while it goes on, `Infinity` when an end is infinite (Postgres 15 cannot
/// subtract those: `host_outages.duration` fails the whole query).
const OUTAGE_SECS_SQL: &str = "CASE WHEN ended_at IS NULL THEN NULL \
     WHEN isfinite(started_at) AND isfinite(ended_at) THEN extract(epoch FROM ended_at - started_at)::float8 \
     ELSE 'Infinity'::float8 END";

/// One host's availability over a window: a line of the least-available list (here and in `pinger serve`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Availability {
    pub host: String,
    pub checks: i64,
    pub failures: i64,
    pub availability_pct: f64,
    pub loss_pct: Option<f64>,
    /// Its last check in the window was good.
    pub up_now: bool,
    pub last_alive: Option<String>,
    pub last_status_change: Option<String>,
    /// The vantage points that checked it in the window.
    pub vantages: i32,
    /// Those whose latest check of it in the window failed.
    pub down_from: i32,
    /// `up`, `partly down` (some vantage points saw its latest check fail) or `down everywhere` (all did).
    pub state: String,
}

/// How many columns [`availability_columns`] gives: a query's own columns come after them.
pub const AVAILABILITY_WIDTH: usize = 11;

/// The columns [`Availability::from_row`] reads, first in a query's select list, from `pinger_availability`.
pub fn availability_columns() -> String {
    format!(
        "host(host), checks, failures, availability_pct::float8, loss_pct::float8, last_result, {}, {}, vantages, \
         down_from, state",
        ts_sql("last_alive"),
        ts_sql("last_status_change")
    )
}

impl Availability {
    pub fn from_row(r: &postgres::Row) -> Availability {
        Availability {
            host: r.get(0),
            checks: r.get(1),
            failures: r.get(2),
            availability_pct: r.get(3),
            loss_pct: r.get(4),
            up_now: r.get(5),
            last_alive: r.get(6),
            last_status_change: r.get(7),
            vantages: r.get(8),
            down_from: r.get(9),
            state: r.get(10),
        }
    }
}

impl Availability {
    /// What "now" means for the host, for a person: `up` or `down` as seen from the one vantage point that
    /// checked it; with several, which of them saw it down.
    pub fn now_text(&self) -> String {
        match (self.vantages, self.state.as_str()) {
            (1, "up") => "up".into(),
            (1, _) => "down".into(),
            (n, "up") => format!("up (from all {n} vantage points)"),
            (n, "down everywhere") => format!("down everywhere ({n} vantage points)"),
            (n, _) => format!("partly down (from {} of {n} vantage points)", self.down_from),
        }
    }
}

/// The least available hosts over the last `secs` seconds, at most `limit`: every vantage point's checks
/// together, or only `vantage`'s.
pub fn least_available(
    client: &mut Client,
    secs: f64,
    limit: i64,
    vantage: Option<&str>,
) -> Result<Vec<Availability>, postgres::Error> {
    let rows = client.query(
        &format!(
            "SELECT {} FROM pinger_availability(now() - make_interval(secs => $1), NULL, $3) \
             ORDER BY availability_pct, failures DESC, host LIMIT $2",
            availability_columns()
        ),
        &[&secs, &limit, &vantage],
    )?;
    Ok(rows.iter().map(Availability::from_row).collect())
}

/// One host's availability from each vantage point that checked it in the window.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FromVantage {
    pub vantage: String,
    pub checks: i64,
    pub failures: i64,
    pub availability_pct: f64,
    pub loss_pct: Option<f64>,
    /// Its latest check from this vantage point was good.
    pub up_now: bool,
    pub last_alive: Option<String>,
}

/// The vantage points with checks in the last `secs` seconds, by name (`-` for the unnamed one), from the sweeps
/// they recorded.
pub fn vantages(client: &mut Client, secs: f64) -> Result<Vec<String>, postgres::Error> {
    let rows = client.query(
        "SELECT DISTINCT CASE WHEN vantage = '' THEN '-' ELSE vantage END FROM sweeps \
         WHERE started_at >= now() - make_interval(secs => $1) ORDER BY 1",
        &[&secs],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Each vantage point's view of `ip` over the last `secs` seconds (only `vantage`'s when given), by name.
pub fn by_vantage(
    client: &mut Client,
    ip: IpAddr,
    secs: f64,
    vantage: Option<&str>,
) -> Result<Vec<FromVantage>, postgres::Error> {
    let rows = client.query(
        &format!(
            "SELECT vantage, checks, failures, availability_pct::float8, loss_pct::float8, last_result, {} \
             FROM pinger_availability_by_vantage(now() - make_interval(secs => $2), $1) \
             WHERE $3::text IS NULL OR vantage = $3 ORDER BY vantage",
            ts_sql("last_alive")
        ),
        &[&ip, &secs, &vantage],
    )?;
    Ok(rows
        .iter()
        .map(|r| FromVantage {
            vantage: r.get(0),
            checks: r.get(1),
            failures: r.get(2),
            availability_pct: r.get(3),
            loss_pct: r.get(4),
            up_now: r.get(5),
            last_alive: r.get(6),
        })
        .collect())
}

/// One check of a host's history.
pub struct Check {
    pub at: Option<String>,
    pub status: Option<String>,
    pub rtt_ms: Option<f64>,
    pub vantage: String,
}

/// One outage of a host.
pub struct Outage {
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub failed_checks: i64,
    /// NULL while it goes on; infinite when an end is.
    pub duration_s: Option<f64>,
    /// The vantage point that saw it.
    pub vantage: String,
}

/// One host over the window: its counts (none when it has no check there), its last checks and its outages,
/// newest first, at most `limit` of each.
pub struct Host {
    pub checks: i64,
    pub failures: i64,
    /// NaN when there is no check.
    pub availability_pct: f64,
    pub last_alive: Option<String>,
    pub up_now: Option<bool>,
    pub loss_pct: Option<f64>,
    /// `up`, `partly down` or `down everywhere` (see [`Availability::state`]); none without checks.
    pub state: Option<String>,
    /// Each vantage point's share, by name.
    pub vantages: Vec<FromVantage>,
    pub history: Vec<Check>,
    pub outages: Vec<Outage>,
}

/// One host over the window, from every vantage point or only from `vantage`.
pub fn host(
    client: &mut Client,
    ip: IpAddr,
    secs: f64,
    limit: i64,
    vantage: Option<&str>,
) -> Result<Host, postgres::Error> {
    let window = "now() - make_interval(secs => $2)";
    // $3 is the vantage point (NULL: all), $4 the limit.
    let per = by_vantage(client, ip, secs, vantage)?;
    let summary = client.query_opt(
        &format!(
            "SELECT checks, failures, availability_pct::float8, {}, last_result, loss_pct::float8, state \
             FROM pinger_availability({window}, $1, $3)",
            ts_sql("last_alive")
        ),
        &[&ip, &secs, &vantage],
    )?;
    let history = client.query(
        &format!(
            "SELECT {}, status, rtt_ms, vantage FROM pinger_data WHERE host = $1 AND ping_timestamp >= {window} \
             AND ($3::text IS NULL OR vantage = $3) ORDER BY ping_timestamp DESC LIMIT $4",
            ts_sql("ping_timestamp")
        ),
        &[&ip, &secs, &vantage, &limit],
    )?;
    let outages = client.query(
        &format!(
            "SELECT {}, {}, failed_checks::bigint, {OUTAGE_SECS_SQL}, vantage FROM pinger_outages \
             WHERE host = $1 AND (ended_at IS NULL OR ended_at >= {window}) AND ($3::text IS NULL OR vantage = $3) \
             ORDER BY started_at DESC LIMIT $4",
            ts_sql("started_at"),
            ts_sql("ended_at")
        ),
        &[&ip, &secs, &vantage, &limit],
    )?;
    let (checks, failures, availability_pct) =
        summary.as_ref().map_or((0, 0, f64::NAN), |r| (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, f64>(2)));
    Ok(Host {
        checks,
        failures,
        availability_pct,
        last_alive: summary.as_ref().and_then(|r| r.get(3)),
        up_now: summary.as_ref().map(|r| r.get(4)),
        loss_pct: summary.as_ref().and_then(|r| r.get(5)),
        state: summary.as_ref().map(|r| r.get(6)),
        vantages: per,
        history: history
            .iter()
            .map(|r| Check { at: r.get(0), status: r.get(1), rtt_ms: r.get(2), vantage: r.get(3) })
            .collect(),
        outages: outages
            .iter()
            .map(|r| Outage {
                started_at: r.get(0),
                ended_at: r.get(1),
                failed_checks: r.get(2),
                duration_s: r.get(3),
                vantage: r.get(4),
            })
            .collect(),
    })
}
