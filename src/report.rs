//! `pinger report`: reads Postgres and prints the least available hosts over a window, or one host's history
//! and outages, as a table or JSON. Every value is a bound parameter.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use argh::FromArgs;
use serde_json::json;

use crate::config::{postgres_from, ConfigError, Env};

/// Report availability from the Postgres that pinger writes to.
#[derive(FromArgs, Debug)]
pub struct ReportCli {
    /// one host's history and outages (an IP address); without it, the least available hosts
    #[argh(positional)]
    pub host: Option<String>,

    /// the window to report on, back from now (default 24h; e.g. 7d, 90m)
    #[argh(option)]
    pub since: Option<String>,

    /// rows to show (default 20)
    #[argh(option)]
    pub limit: Option<i64>,

    /// table or json (default table)
    #[argh(option)]
    pub format: Option<String>,

    /// postgres connection string (default: env DATABASE_URL, or POSTGRES_*)
    #[argh(option)]
    pub database_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Postgres(String),
    /// Postgres refused pinger: wrong or missing password, no such database, no permission.
    #[error("{0}")]
    Refused(String),
    /// The host asked for has no check in the window.
    #[error("{0}")]
    NoData(String),
}

impl ReportError {
    /// The exit code, with the sweep's meanings: 2 usage or configuration, 3 nothing to report, 6 refused by
    /// Postgres, 1 Postgres could not answer (run it again).
    /// A Postgres error of the report or the migration against `target`, sorted as the sweep sorts them;
    /// `tls` is what the TLS setup says of it, if it was a TLS failure.
    pub fn postgres(target: &str, e: &postgres::Error, tls: Option<String>) -> ReportError {
        if let Some(why) = tls {
            return ReportError::Postgres(format!("postgres {target}: {why}"));
        }
        match crate::store::postgres::classify(target, "failed", e) {
            crate::store::StoreError::Refused(msg) => ReportError::Refused(msg),
            other => ReportError::Postgres(other.to_string()),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Config(_) => 2,
            ReportError::NoData(_) => 3,
            ReportError::Refused(_) => 6,
            ReportError::Postgres(_) => 1,
        }
    }
}

/// A `timestamptz` column as the report prints it, rendered by Postgres: RFC 3339 in UTC to the second (years
/// BC marked so), `infinity` and `-infinity` as Postgres spells them, NULL as NULL. Not in Rust: another tool
/// may write any time Postgres holds, and the driver's `SystemTime` cannot take `-infinity` while humantime
/// formats only 1970 to 9999; both panicked.
pub(crate) fn ts_sql(col: &str) -> String {
    format!(
        "CASE WHEN NOT isfinite({col}) THEN {col}::text \
         ELSE to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
              || CASE WHEN to_char({col} AT TIME ZONE 'UTC', 'BC') = 'BC' THEN ' BC' ELSE '' END END"
    )
}

/// An outage's length in seconds: NULL while it goes on, `Infinity` when an end is infinite (Postgres 15 cannot
/// subtract those: `host_outages.duration` fails the whole query).
const OUTAGE_SECS_SQL: &str = "CASE WHEN ended_at IS NULL THEN NULL \
     WHEN isfinite(started_at) AND isfinite(ended_at) THEN extract(epoch FROM ended_at - started_at)::float8 \
     ELSE 'Infinity'::float8 END";

fn ts(t: Option<String>) -> String {
    t.unwrap_or_else(|| "-".into())
}

/// Checks that the database holds the current schema (the report and `pinger serve` read its rollups): an older
/// one says what to do rather than "no such function". Returns whether an older schema's rows still wait for
/// `pinger migrate` (they are not counted until then).
pub fn check_schema(client: &mut postgres::Client, cfg: &crate::store::tls::PgConfig) -> Result<bool, ReportError> {
    let target = crate::store::postgres::describe(&cfg.config);
    let pg_err = |e: postgres::Error| ReportError::postgres(&target, &e, cfg.explain(&e));
    let (has_schema, pending): (bool, bool) = client
        .query_one("SELECT to_regclass('pinger_schema') IS NOT NULL, to_regclass('pinger_data_old') IS NOT NULL", &[])
        .map(|r| (r.get(0), r.get(1)))
        .map_err(pg_err)?;
    let version: Option<i32> = match has_schema {
        true => client.query_one("SELECT max(version) FROM pinger_schema", &[]).map_err(pg_err)?.get(0),
        false => None,
    };
    if version != Some(crate::store::postgres::SCHEMA_VERSION) {
        return Err(ReportError::Postgres(format!(
            "postgres {target}: {}; run `pinger migrate` (or a sweep) to bring it to schema {}",
            version.map_or("holds no pinger schema".to_string(), |v| format!("holds schema version {v}")),
            crate::store::postgres::SCHEMA_VERSION
        )));
    }
    Ok(pending)
}

/// Runs the report; the output goes to `out`.
pub fn run(cli: ReportCli, env: &Env, out: &mut impl Write) -> Result<(), ReportError> {
    let since_text = cli.since.as_deref().unwrap_or("24h");
    let since = humantime::parse_duration(since_text).map_err(|_| {
        ConfigError(match since_text.parse::<f64>() {
            Ok(_) => format!("--since needs a unit: {since_text}h or {since_text}d, not {since_text:?}"),
            Err(_) => format!("--since takes a duration like 24h or 7d, not {since_text:?}"),
        })
    })?;
    let json = match cli.format.as_deref() {
        None | Some("table") => false,
        Some("json") => true,
        Some(f) => return Err(ConfigError(format!("unknown format {f:?}: use table or json")).into()),
    };
    let limit = cli.limit.unwrap_or(20).max(1);
    let host: Option<IpAddr> = match &cli.host {
        None => None,
        Some(h) => Some(h.parse().map_err(|_| ConfigError(format!("not an IP address: {h:?}")))?),
    };
    let cfg = postgres_from(cli.database_url.as_deref(), env, Duration::from_secs(5))?
        .ok_or_else(|| ConfigError("no database: set DATABASE_URL (or POSTGRES_*, or --database-url)".into()))?;
    let target = crate::store::postgres::describe(&cfg.config);
    let pg_err = |e: postgres::Error| ReportError::postgres(&target, &e, cfg.explain(&e));
    let mut client = cfg.connect().map_err(pg_err)?;
    let pending = check_schema(&mut client, &cfg)?;
    if pending {
        eprintln!(
            "pinger report: warning: an older schema's rows are not migrated yet and not counted; run `pinger migrate`"
        );
    }
    let secs = since.as_secs_f64();
    let w = |r: std::io::Result<()>| r.map_err(|e| ReportError::Postgres(format!("writing the report: {e}")));
    match host {
        None => {
            let rows = client
                .query(
                    &format!(
                        "SELECT host(host), checks, failures, availability_pct::float8, {}, {}, last_result, \
                         loss_pct::float8 FROM pinger_availability(now() - make_interval(secs => $1), NULL) \
                         ORDER BY availability_pct, failures DESC, host LIMIT $2",
                        ts_sql("last_alive"),
                        ts_sql("last_status_change")
                    ),
                    &[&secs, &limit],
                )
                .map_err(pg_err)?;
            if json {
                for r in &rows {
                    let v = json!({
                        "host": r.get::<_, String>(0), "checks": r.get::<_, i64>(1), "failures": r.get::<_, i64>(2),
                        "availability_pct": r.get::<_, f64>(3),
                        "last_alive": r.get::<_, Option<String>>(4),
                        "last_status_change": r.get::<_, Option<String>>(5),
                        "up_now": r.get::<_, bool>(6),
                        "loss_pct": r.get::<_, Option<f64>>(7),
                    });
                    w(writeln!(out, "{v}"))?;
                }
            } else {
                w(writeln!(
                    out,
                    "{:<39}  {:>7}  {:>8}  {:>7}  {:>6}  {:<20}  {:<20}  NOW",
                    "HOST", "CHECKS", "FAILURES", "AVAIL%", "LOSS%", "LAST ALIVE", "LAST CHANGE"
                ))?;
                for r in &rows {
                    w(writeln!(
                        out,
                        "{:<39}  {:>7}  {:>8}  {:>7.2}  {:>6}  {:<20}  {:<20}  {}",
                        r.get::<_, String>(0),
                        r.get::<_, i64>(1),
                        r.get::<_, i64>(2),
                        r.get::<_, f64>(3),
                        r.get::<_, Option<f64>>(7).map_or("-".into(), |l| format!("{l:.2}")),
                        ts(r.get(4)),
                        ts(r.get(5)),
                        if r.get::<_, bool>(6) { "up" } else { "down" }
                    ))?;
                }
            }
        }
        Some(ip) => {
            let window = "now() - make_interval(secs => $2)";
            let summary = client
                .query_opt(
                    &format!(
                        "SELECT checks, failures, availability_pct::float8, {}, last_result, loss_pct::float8 \
                         FROM pinger_availability({window}, $1)",
                        ts_sql("last_alive")
                    ),
                    &[&ip, &secs],
                )
                .map_err(pg_err)?;
            let history = client
                .query(
                    &format!(
                        "SELECT {}, status, rtt_ms FROM pinger_data WHERE host = $1 AND ping_timestamp >= {window} \
                         ORDER BY ping_timestamp DESC LIMIT $3",
                        ts_sql("ping_timestamp")
                    ),
                    &[&ip, &secs, &limit],
                )
                .map_err(pg_err)?;
            let outages = client
                .query(
                    &format!(
                        "SELECT {}, {}, failed_checks::bigint, {OUTAGE_SECS_SQL} FROM pinger_outages \
                         WHERE host = $1 AND (ended_at IS NULL OR ended_at >= {window}) ORDER BY started_at DESC LIMIT $3",
                        ts_sql("started_at"),
                        ts_sql("ended_at")
                    ),
                    &[&ip, &secs, &limit],
                )
                .map_err(pg_err)?;
            let (checks, failures, pct) = summary
                .as_ref()
                .map_or((0, 0, f64::NAN), |r| (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, f64>(2)));
            if checks == 0 && history.is_empty() && outages.is_empty() {
                return Err(ReportError::NoData(format!(
                    "{ip} has no checks in the last {since_text}: it was never swept, or not in this window \
                     (a longer --since, e.g. 365d, looks further back)"
                )));
            }
            let last_alive: Option<String> = summary.as_ref().and_then(|r| r.get(3));
            let up_now: Option<bool> = summary.as_ref().map(|r| r.get(4));
            let loss: Option<f64> = summary.as_ref().and_then(|r| r.get(5));
            if json {
                let v = json!({
                    "host": ip.to_string(), "checks": checks, "failures": failures,
                    "availability_pct": if pct.is_nan() { None } else { Some(pct) },
                    "last_alive": last_alive, "up_now": up_now, "loss_pct": loss,
                    "history": history.iter().map(|r| json!({
                        "at": ts(r.get(0)), "status": r.get::<_, Option<String>>(1), "rtt_ms": r.get::<_, Option<f64>>(2),
                    })).collect::<Vec<_>>(),
                    "outages": outages.iter().map(|r| json!({
                        "started_at": ts(r.get(0)), "ended_at": r.get::<_, Option<String>>(1),
                        "failed_checks": r.get::<_, i64>(2), "duration_s": r.get::<_, Option<f64>>(3),
                    })).collect::<Vec<_>>(),
                });
                w(writeln!(out, "{v}"))?;
            } else {
                w(writeln!(
                    out,
                    "{ip}: {}, {failures} failed, availability {} over {since_text}; probe loss {}",
                    crate::output::counted(checks as u64, "check", "checks"),
                    if pct.is_nan() { "-".to_string() } else { format!("{pct:.2}%") },
                    loss.map_or("-".to_string(), |l| format!("{l:.2}%"))
                ))?;
                w(writeln!(out, "\noutages (newest first):{}", if outages.is_empty() { " none" } else { "" }))?;
                for r in &outages {
                    let dur = match r.get::<_, Option<f64>>(3) {
                        None => "ongoing".into(),
                        Some(s) if s.is_infinite() => "infinite".into(),
                        // `as` saturates: a negative length (an end before its start) shows as 0s, never panics.
                        Some(s) => humantime::format_duration(Duration::from_secs(s as u64)).to_string(),
                    };
                    w(writeln!(
                        out,
                        "  {:<20}  to  {:<20}  {:>17}  {dur}",
                        ts(r.get(0)),
                        ts(r.get(1)),
                        crate::output::counted(r.get::<_, i64>(2) as u64, "failed check", "failed checks")
                    ))?;
                }
                w(writeln!(out, "\nhistory (newest first):"))?;
                for r in &history {
                    let rtt = r.get::<_, Option<f64>>(2).map_or("-".into(), |v| format!("{v:.3} ms"));
                    w(writeln!(
                        out,
                        "  {:<20}  {:<11}  {rtt}",
                        ts(r.get(0)),
                        r.get::<_, Option<String>>(1).unwrap_or_default()
                    ))?;
                }
            }
        }
    }
    Ok(())
}
