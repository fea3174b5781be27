//! `pinger report`: reads Postgres and prints the least available hosts over a window, or one host's history
//! and outages, as a table or JSON. Every value is a bound parameter.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use argh::FromArgs;

use crate::config::{postgres_from, ConfigError, Env};

pub(crate) mod query;
mod render;

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

    /// only the checks of this vantage point (a pinger's --vantage); without it, every vantage point's together
    #[argh(option)]
    pub vantage: Option<String>,

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

/// Opens the Postgres the settings name (`--database-url`, DATABASE_URL or POSTGRES_*) for a command, with its
/// name as the application name. Also the target as messages name it, and the mapping of its errors.
pub(crate) struct Db {
    pub client: postgres::Client,
    pub cfg: crate::store::tls::PgConfig,
    pub target: String,
}

impl Db {
    pub(crate) fn open(url: Option<&str>, env: &Env, timeout: Duration, app: &str) -> Result<Db, ReportError> {
        let mut cfg = postgres_from(url, env, timeout)?
            .ok_or_else(|| ConfigError("no database: set DATABASE_URL (or POSTGRES_*, or --database-url)".into()))?;
        cfg.config.application_name(app);
        let target = crate::store::postgres::describe(&cfg.config);
        let client = cfg.connect().map_err(|e| ReportError::postgres(&target, &e, cfg.explain(&e)))?;
        Ok(Db { client, cfg, target })
    }

    /// A Postgres error of this connection, sorted as the sweep sorts them.
    pub(crate) fn error(&self, e: &postgres::Error) -> ReportError {
        ReportError::postgres(&self.target, e, self.cfg.explain(e))
    }
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
    let vantage = cli.vantage.as_deref().map(crate::vantage::parse).transpose().map_err(ConfigError)?;
    let vantage = vantage.as_deref();
    let mut db = Db::open(cli.database_url.as_deref(), env, Duration::from_secs(5), "pinger report")?;
    if check_schema(&mut db.client, &db.cfg)? {
        eprintln!(
            "pinger report: warning: an older schema's rows are not migrated yet and not counted; run `pinger migrate`"
        );
    }
    let secs = since.as_secs_f64();
    let written = match host {
        None => {
            let rows = query::least_available(&mut db.client, secs, limit, vantage).map_err(|e| db.error(&e))?;
            if let (Some(v), true) = (vantage, rows.is_empty()) {
                // A misspelt name would otherwise print an empty list, as if every host were fine.
                let known = query::vantages(&mut db.client, secs).map_err(|e| db.error(&e))?;
                return Err(ReportError::NoData(format!(
                    "no checks from vantage point {v:?} in the last {since_text}; vantage points with checks there: {}",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            }
            if json {
                render::least_json(out, &rows)
            } else {
                render::least_table(out, &rows)
            }
        }
        Some(ip) => {
            let h = query::host(&mut db.client, ip, secs, limit, vantage).map_err(|e| db.error(&e))?;
            if h.checks == 0 && h.history.is_empty() && h.outages.is_empty() {
                return Err(ReportError::NoData(format!(
                    "{ip} has no checks in the last {since_text}: it was never swept, or not in this window \
                     (a longer --since, e.g. 365d, looks further back)"
                )));
            }
            if json {
                render::host_json(out, ip, &h)
            } else {
                render::host_table(out, ip, &h, since_text)
            }
        }
    };
    written.map_err(|e| ReportError::Postgres(format!("writing the report: {e}")))
}
