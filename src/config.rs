//! Command line + environment -> one validated [`Config`]. The sweep's defaults live here; the list's
//! fallbacks (cache, shipped file: `source.rs`) and the spool's place (`store/spool.rs`) keep theirs beside the
//! code that uses them.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use redis::IntoConnectionInfo;

use crate::cli::Cli;
use crate::output::{Format, Only, Show};
use crate::probe::ProbeConfig;
use crate::store::tls::{PgConfig, SslMode};
use crate::targets::{parse_cidr_list, Cidr, Filter, Range};

pub const DEFAULT_COUNT: usize = 1000;
/// `--max-hosts`: 2^24, a /8. A sweep holds about 60 bytes a host (127.0.0.0/8 peaks near 1 GB), so this keeps a
/// typo'd prefix (a /96 is 4 billion hosts) from exhausting memory while every IPv4 /8 still goes through.
pub const DEFAULT_MAX_HOSTS: usize = 1 << 24;
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
pub const DEFAULT_PROBES: u16 = 1;
pub const DEFAULT_INTERVAL_MS: u64 = 1000;
pub const DEFAULT_RATE: u32 = 10_000;
pub const DEFAULT_REDIS_TTL_S: u64 = 86_400;
pub const DEFAULT_STORE_TIMEOUT_S: u64 = 5;
/// Raw rows: a week. At 15,000 hosts a minute that is about 151M rows, 23 GB (BENCHMARKS.md, "History").
pub const DEFAULT_KEEP_RAW: Duration = Duration::from_secs(7 * 86_400);
/// Hourly rollups: 400 days, a year and a bit for year-over-year comparisons.
pub const DEFAULT_KEEP_HOURLY: Duration = Duration::from_secs(400 * 86_400);
pub const DEFAULT_RESOLVE_TIMEOUT_S: u64 = 5;
/// Rows per Postgres COPY / Redis pipeline, and the longest a finished host waits before it is written.
pub const STORE_BATCH_ROWS: usize = 50_000;
pub const STORE_BATCH_TIME: Duration = Duration::from_millis(20);
/// Results that may wait in memory for the writer before the rest spill to the spool (and come back a file at a
/// time), so that the stores cost the same memory whatever the list size; `PINGER_STORE_QUEUE_ROWS` overrides it.
/// One batch: the writer takes a whole one when it is free (two cost 12 MB more, BENCHMARKS.md "Bounded writer").
pub const STORE_QUEUE_ROWS: usize = STORE_BATCH_ROWS;
/// The environment's allow list: a ceiling that `--allow` can only narrow.
pub const ALLOW_ENV: &str = "PINGER_ALLOW";

// The ranges of the numeric flags (also in `--help` and the README). Wide enough for any real use, narrow enough
// that no deadline or `Duration` arithmetic can overflow and no store is handed a value it refuses: 2^64 - 1 s
// as a store timeout once became a Postgres `statement_timeout` that made the connection fail.
const MAX_MS: u64 = 3_600_000;
/// `--store-timeout`, `--fetch-timeout`, `--resolve-timeout`: an hour (the end of a sweep waits 6 times the
/// store timeout, so 6 h at most).
pub const MAX_TIMEOUT_S: u64 = 3600;
/// `--redis-ttl`: a year; `0` keeps keys forever.
pub const MAX_REDIS_TTL_S: u64 = 365 * 86_400;
/// `--max-list-bytes`: 1 GiB, held in memory while it is read (the shipped list is under 300 kB).
pub const MAX_LIST_BYTES: u64 = 1 << 30;
/// `--count`: one run tags at most 2^32 probes.
pub const MAX_COUNT: usize = u32::MAX as usize;
/// `--rate`: well past what one raw socket sends; `0` is unlimited.
pub const MAX_RATE: u32 = 10_000_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The environment pinger reads (after `.env` is loaded), gathered in one place so that tests can build it.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub allow: Option<String>,
    pub database_url: Option<String>,
    pub postgres_host: Option<String>,
    pub postgres_port: Option<String>,
    pub postgres_user: Option<String>,
    pub postgres_password: Option<String>,
    pub postgres_db: Option<String>,
    pub redis_url: Option<String>,
    pub redis_host: Option<String>,
    pub redis_port: Option<String>,
    pub redis_password: Option<String>,
    /// CA certificates (PEM file) that a `rediss://` server's certificate must lead to, instead of the system's.
    pub redis_ca_cert: Option<String>,
}

impl Env {
    /// Reads the process environment. Call after `dotenvy` has loaded `.env`.
    pub fn from_process() -> Env {
        let v = |k: &str| std::env::var(k).ok().filter(|s| !s.trim().is_empty());
        Env {
            allow: v(ALLOW_ENV),
            database_url: v("DATABASE_URL"),
            postgres_host: v("POSTGRES_HOST"),
            postgres_port: v("POSTGRES_PORT"),
            postgres_user: v("POSTGRES_USER"),
            postgres_password: v("POSTGRES_PASSWORD"),
            postgres_db: v("POSTGRES_DB"),
            redis_url: v("REDIS_URL"),
            redis_host: v("REDIS_HOST"),
            redis_port: v("REDIS_PORT"),
            redis_password: v("REDIS_PASSWORD"),
            redis_ca_cert: v("REDIS_CA_CERT"),
        }
    }
}

/// Where results are stored. A store is on when it is configured (flag, environment or `.env`) and not
/// switched off.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub postgres: Option<PgConfig>,
    pub redis: Option<redis::ConnectionInfo>,
    pub redis_prefix: String,
    pub redis_ttl: Option<u64>,
    pub spool_dir: PathBuf,
    pub timeout: Duration,
    pub keep: crate::store::history::Retention,
}

impl StoreConfig {
    pub fn any(&self) -> bool {
        self.postgres.is_some() || self.redis.is_some()
    }
}

fn postgres_config(cli: &Cli, env: &Env, timeout: Duration) -> Result<Option<PgConfig>, ConfigError> {
    if cli.no_store || cli.no_postgres {
        return Ok(None);
    }
    postgres_from(cli.database_url.as_deref(), env, timeout)
}

/// The Postgres to use from `--database-url`, `DATABASE_URL` or the `POSTGRES_*` variables; `None` if none is set.
pub fn postgres_from(flag: Option<&str>, env: &Env, timeout: Duration) -> Result<Option<PgConfig>, ConfigError> {
    // The message never repeats the string: it may hold a password.
    let parse = |what: &str, url: &str| PgConfig::parse(url).map_err(|e| ConfigError(format!("{what} {e}")));
    let mut cfg = if let Some(url) = flag {
        parse("--database-url", url)?
    } else if let Some(url) = &env.database_url {
        parse("DATABASE_URL", url)?
    } else if env.postgres_host.is_some() || env.postgres_db.is_some() || env.postgres_user.is_some() {
        let mut c = postgres::Config::new();
        c.host(env.postgres_host.as_deref().unwrap_or("127.0.0.1"));
        if let Some(p) = &env.postgres_port {
            c.port(p.parse().map_err(|_| ConfigError(format!("POSTGRES_PORT is not a port: {p:?}")))?);
        }
        c.user(env.postgres_user.as_deref().unwrap_or("postgres"));
        if let Some(p) = &env.postgres_password {
            c.password(p);
        }
        c.dbname(env.postgres_db.as_deref().unwrap_or("pinger"));
        PgConfig::new(c, SslMode::Prefer, None).map_err(ConfigError)?
    } else {
        return Ok(None);
    };
    let ms = timeout.as_millis();
    // JIT compiling pinger's short statements costs more than running them.
    cfg.config.options(&format!("-c statement_timeout={} -c lock_timeout={ms} -c jit=off", ms * 6));
    Ok(Some(cfg))
}

fn redis_config(cli: &Cli, env: &Env) -> Result<Option<redis::ConnectionInfo>, ConfigError> {
    if cli.no_store || cli.no_redis {
        return Ok(None);
    }
    redis_from(cli.redis_url.as_deref(), env)
}

/// The Redis to use from `--redis-url`, `REDIS_URL` or the `REDIS_*` variables; `None` if none is set.
pub fn redis_from(flag: Option<&str>, env: &Env) -> Result<Option<redis::ConnectionInfo>, ConfigError> {
    let parse = |what: &str, url: &str| {
        url.into_connection_info().map_err(|_| ConfigError(format!("{what} is not a valid Redis URL")))
    };
    let info = if let Some(url) = flag {
        parse("--redis-url", url)?
    } else if let Some(url) = &env.redis_url {
        parse("REDIS_URL", url)?
    } else if let Some(host) = &env.redis_host {
        let port = match &env.redis_port {
            Some(p) => p.parse().map_err(|_| ConfigError(format!("REDIS_PORT is not a port: {p:?}")))?,
            None => 6379,
        };
        let info = (host.as_str(), port)
            .into_connection_info()
            .map_err(|_| ConfigError(format!("REDIS_HOST is not a host: {host:?}")))?;
        match &env.redis_password {
            Some(p) => {
                let settings = info.redis_settings().clone().set_password(p);
                info.set_redis_settings(settings)
            }
            None => info,
        }
    } else {
        return Ok(None);
    };
    match &env.redis_ca_cert {
        Some(ca) => crate::store::tls::redis_with_ca(info, std::path::Path::new(ca)).map(Some).map_err(ConfigError),
        None => Ok(Some(info)),
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Targets from the command line: addresses, blocks, host names.
    pub targets: Vec<String>,
    /// Where the list comes from when there are no targets and no `--hosts-file`.
    pub url: crate::source::UrlConfig,
    pub resolve_timeout: Duration,
    /// Host list path; "-" is stdin.
    pub hosts_file: Option<String>,
    /// Hosts to take; `None` = all.
    pub count: Option<usize>,
    /// `--shard K/N`: the part of the list this pinger probes.
    pub shard: Option<crate::targets::Shard>,
    /// `--vantage`: the name results are stored under ('' without the flag: the unnamed vantage point).
    pub vantage: String,
    /// A larger target set is refused before it is expanded.
    pub max_hosts: usize,
    pub probe: ProbeConfig,
    /// Per-host output: format, which hosts (-a, -u), order.
    pub show: Show,
    pub filter: Filter,
    pub progress: bool,
    pub store: StoreConfig,
    /// Continuous mode: a sweep starts every this long.
    pub every: Option<Duration>,
    /// Drop to this user after opening the raw socket.
    pub user: Option<String>,
    /// `--metrics-listen`: Prometheus metrics served while pinger runs.
    pub metrics: Option<MetricsConfig>,
}

/// Where the Prometheus exposition is served, and whether it has a series per host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    pub listen: std::net::SocketAddr,
    pub per_host: bool,
}

fn metrics_of(cli: &Cli) -> Result<Option<MetricsConfig>, ConfigError> {
    match (&cli.metrics_listen, cli.metrics_per_host) {
        (None, false) => Ok(None),
        (None, true) => Err(ConfigError("--metrics-per-host needs --metrics-listen ADDR".into())),
        (Some(a), per_host) => match a.parse() {
            Ok(listen) => Ok(Some(MetricsConfig { listen, per_host })),
            Err(_) => Err(ConfigError(format!(
                "--metrics-listen takes an address and port like 127.0.0.1:9108 or [::1]:9108, not {a:?}"
            ))),
        },
    }
}

/// `value` (or `default` when the flag is not given), if it lies in `range`; else an error naming the flag, the
/// range and its unit.
fn bounded<T>(flag: &str, value: Option<T>, default: T, range: RangeInclusive<T>, unit: &str) -> Result<T, ConfigError>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    let v = value.unwrap_or(default);
    if !range.contains(&v) {
        let (min, max) = (range.start(), range.end());
        return Err(ConfigError(format!("--{flag} must be between {min} and {max}{unit}, not {v}")));
    }
    Ok(v)
}

fn ms(flag: &str, value: Option<u64>, default: u64, min: u64) -> Result<Duration, ConfigError> {
    bounded(flag, value, default, min..=MAX_MS, " ms").map(Duration::from_millis)
}

fn secs(flag: &str, value: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    bounded(flag, value, default, 1..=MAX_TIMEOUT_S, " s").map(Duration::from_secs)
}

/// A retention flag: a duration of at least `min_days` whole days and at most 100 years.
fn keep(flag: &str, value: Option<&str>, default: Duration, min_days: u64) -> Result<Duration, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    match humantime::parse_duration(v) {
        Ok(d) if d.as_secs() >= min_days * 86_400 && d <= Duration::from_secs(100 * 365 * 86_400) => Ok(d),
        Ok(_) => Err(ConfigError(format!("{flag} must be between {min_days}d and 100 years (36500d), not {v:?}"))),
        Err(_) => Err(ConfigError(format!("{flag} takes a duration with a unit, like 7d or 400d, not {v:?}"))),
    }
}

/// The command-line targets, checked: addresses, blocks, A-B ranges, host names; with `-g`, fping's range
/// generator: `START END` becomes the range `START-END`, one block stays the block.
fn targets_of(cli: &Cli) -> Result<Vec<String>, ConfigError> {
    if cli.generate {
        if cli.hosts_file.is_some() {
            return Err(ConfigError("-g takes its range from the command line, not with --hosts-file/-f".into()));
        }
        return match &cli.targets[..] {
            [start, end] => {
                let ip = |s: &String| {
                    s.parse::<std::net::IpAddr>()
                        .map_err(|_| ConfigError(format!("-g START END takes two IP addresses, not {s:?}")))
                };
                let range = Range::new(ip(start)?, ip(end)?).map_err(|e| ConfigError(e.to_string()))?;
                Ok(vec![range.to_string()])
            }
            [block] if block.contains('/') && block.parse::<Cidr>().is_ok() => Ok(vec![block.clone()]),
            _ => Err(ConfigError(
                "-g takes a range as START END (-g 127.0.0.1 127.0.0.20) or one CIDR block (-g 127.0.0.0/24)".into(),
            )),
        };
    }
    for t in &cli.targets {
        if t.parse::<Cidr>().is_ok() || t.parse::<Range>().is_ok() || crate::targets::is_hostname(t) {
            continue;
        }
        return Err(ConfigError(match t.parse::<Range>() {
            Err(e @ (crate::targets::RangeError::Backwards(_) | crate::targets::RangeError::MixedFamilies(_))) => {
                e.to_string()
            }
            _ => format!("not an IP address, CIDR block, range or host name: {t:?}"),
        }));
    }
    Ok(cli.targets.clone())
}

/// The per-host output: `--format`, `-q` (no per-host lines), `-a`/`-u` (which hosts), `--in-order`.
fn show_of(cli: &Cli) -> Result<Show, ConfigError> {
    let format = match (cli.format.as_deref(), cli.quiet) {
        (None, false) => Format::Table,
        (None, true) | (Some("none"), true) => Format::None,
        (Some(f), true) => {
            return Err(ConfigError(format!("-q prints no per-host lines, --format {f} asks for them: give one")))
        }
        (Some(f), false) => f.parse().map_err(ConfigError)?,
    };
    let only = match (cli.alive, cli.unreachable) {
        (false, false) => Only::All,
        (true, false) => Only::Alive,
        (false, true) => Only::NotAlive,
        (true, true) => {
            return Err(ConfigError(
                "-a (alive only) and -u (unreachable only) together print every host: give one or neither".into(),
            ))
        }
    };
    Ok(Show { format, only, in_order: cli.in_order })
}

impl Config {
    /// Validates `cli` against the environment `env`.
    pub fn new(cli: Cli, env: &Env) -> Result<Config, ConfigError> {
        let allow_env = env.allow.as_deref();
        let targets = targets_of(&cli)?;
        let url = crate::source::UrlConfig {
            url: crate::source::ListUrl::new(
                cli.hosts_url.clone().unwrap_or_else(|| crate::source::DEFAULT_URL.into()),
            ),
            timeout: secs("fetch-timeout", cli.fetch_timeout, crate::source::DEFAULT_FETCH_TIMEOUT.as_secs())?,
            max_bytes: bounded(
                "max-list-bytes",
                cli.max_list_bytes,
                crate::source::DEFAULT_MAX_BYTES,
                1..=MAX_LIST_BYTES,
                " bytes",
            )?,
            cache: cli.hosts_cache.clone().map_or_else(crate::source::default_cache, PathBuf::from),
            shipped: cli.fallback_hosts.clone().map_or_else(crate::source::default_shipped, |p| vec![p.into()]),
            shipped_explicit: cli.fallback_hosts.is_some(),
        };
        let probes = cli.probes.unwrap_or(DEFAULT_PROBES);
        if probes == 0 {
            return Err(ConfigError("--probes must be at least 1".into()));
        }
        let mut filter = Filter::default();
        if let Some(env) = allow_env.filter(|s| !s.trim().is_empty()) {
            let list = parse_cidr_list(env).map_err(|e| ConfigError(format!("{ALLOW_ENV}: {e}")))?;
            filter.allow.push(list);
        }
        if !cli.allow.is_empty() {
            let list = cli
                .allow
                .iter()
                .map(|s| parse_cidr_list(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError(format!("--allow: {e}")))?;
            filter.allow.push(list.into_iter().flatten().collect());
        }
        if let Some(n) = cli.count {
            bounded("count", Some(n), n, 0..=MAX_COUNT, " hosts")?;
        }
        let count = match cli.count {
            Some(0) => None,
            Some(n) => Some(n),
            // The original tool took 1000 hosts of its list; targets typed on the command line are all meant.
            None if cli.targets.is_empty() => Some(DEFAULT_COUNT),
            None => None,
        };
        let store_timeout = secs("store-timeout", cli.store_timeout, DEFAULT_STORE_TIMEOUT_S)?;
        let store = StoreConfig {
            postgres: postgres_config(&cli, env, store_timeout)?,
            redis: redis_config(&cli, env)?,
            redis_prefix: cli.redis_prefix.clone().unwrap_or_default(),
            redis_ttl: match bounded("redis-ttl", cli.redis_ttl, DEFAULT_REDIS_TTL_S, 0..=MAX_REDIS_TTL_S, " s")? {
                0 => None,
                s => Some(s),
            },
            spool_dir: cli.spool_dir.clone().map_or_else(crate::store::spool::default_dir, PathBuf::from),
            timeout: store_timeout,
            keep: crate::store::history::Retention {
                raw: keep("--keep-raw", cli.keep_raw.as_deref(), DEFAULT_KEEP_RAW, 1)?,
                hourly: keep("--keep-hourly", cli.keep_hourly.as_deref(), DEFAULT_KEEP_HOURLY, 1)?,
                daily: match cli.keep_daily.as_deref() {
                    None => None,
                    Some(d) => Some(keep("--keep-daily", Some(d), Duration::ZERO, 1)?),
                },
            },
        };
        let show = show_of(&cli)?;
        let every = match &cli.every {
            None => None,
            Some(d) => match humantime::parse_duration(d) {
                Ok(d) if d >= Duration::from_secs(1) => Some(d),
                _ if d.trim().parse::<f64>().is_ok() => {
                    return Err(ConfigError(format!("--every needs a unit: {d}s or {d}m, not {d:?}")))
                }
                _ => {
                    return Err(ConfigError(format!(
                        "--every takes a duration of at least 1s, like 30s or 5m, not {d:?}"
                    )))
                }
            },
        };
        Ok(Config {
            every,
            user: cli.user.clone(),
            metrics: metrics_of(&cli)?,
            targets,
            url,
            resolve_timeout: secs("resolve-timeout", cli.resolve_timeout, DEFAULT_RESOLVE_TIMEOUT_S)?,
            hosts_file: cli.hosts_file,
            count,
            shard: cli.shard,
            vantage: cli.vantage.clone().unwrap_or_default(),
            max_hosts: bounded("max-hosts", cli.max_hosts, DEFAULT_MAX_HOSTS, 1..=MAX_COUNT, " hosts")?,
            probe: ProbeConfig {
                timeout: ms("timeout", cli.timeout, DEFAULT_TIMEOUT_MS, 1)?,
                probes,
                interval: ms("interval", cli.interval, DEFAULT_INTERVAL_MS, 0)?,
                rate: bounded("rate", cli.rate, DEFAULT_RATE, 0..=MAX_RATE, " probes/s")?,
            },
            show,
            filter,
            progress: !cli.no_progress,
            store,
        })
    }
}

#[cfg(test)]
mod tests;
