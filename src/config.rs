//! Command line + environment -> one validated [`Config`]. Every default lives here.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use redis::IntoConnectionInfo;

use crate::cli::Cli;
use crate::output::Format;
use crate::probe::ProbeConfig;
use crate::targets::{parse_cidr_list, Cidr, Filter};

pub const DEFAULT_COUNT: usize = 1000;
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
pub const DEFAULT_PROBES: u16 = 1;
pub const DEFAULT_INTERVAL_MS: u64 = 1000;
pub const DEFAULT_RATE: u32 = 10_000;
pub const DEFAULT_REDIS_TTL_S: u64 = 86_400;
pub const DEFAULT_STORE_TIMEOUT_S: u64 = 5;
/// Rows per Postgres COPY / Redis pipeline, and the longest a finished host waits before it is written.
pub const STORE_BATCH_ROWS: usize = 50_000;
pub const STORE_BATCH_TIME: Duration = Duration::from_millis(20);
/// The environment's allow list: a ceiling that `--allow` can only narrow.
pub const ALLOW_ENV: &str = "PINGER_ALLOW";
const MAX_MS: u64 = 3_600_000;

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
        }
    }
}

/// Where results are stored. A store is on when it is configured (flag, environment or `.env`) and not
/// switched off.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub postgres: Option<postgres::Config>,
    pub redis: Option<redis::ConnectionInfo>,
    pub redis_prefix: String,
    pub redis_ttl: Option<u64>,
    pub spool_dir: PathBuf,
    pub timeout: Duration,
}

impl StoreConfig {
    pub fn any(&self) -> bool {
        self.postgres.is_some() || self.redis.is_some()
    }
}

fn postgres_config(cli: &Cli, env: &Env, timeout: Duration) -> Result<Option<postgres::Config>, ConfigError> {
    if cli.no_store || cli.no_postgres {
        return Ok(None);
    }
    postgres_from(cli.database_url.as_deref(), env, timeout)
}

/// The Postgres to use from `--database-url`, `DATABASE_URL` or the `POSTGRES_*` variables; `None` if none is set.
pub fn postgres_from(
    flag: Option<&str>,
    env: &Env,
    timeout: Duration,
) -> Result<Option<postgres::Config>, ConfigError> {
    // The message never repeats the string: it may hold a password.
    let parse = |what: &str, url: &str| {
        postgres::Config::from_str(url)
            .map_err(|_| ConfigError(format!("{what} is not a valid Postgres connection string or URL")))
    };
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
        c
    } else {
        return Ok(None);
    };
    let ms = timeout.as_millis();
    cfg.options(&format!("-c statement_timeout={} -c lock_timeout={ms}", ms * 6));
    Ok(Some(cfg))
}

fn redis_config(cli: &Cli, env: &Env) -> Result<Option<redis::ConnectionInfo>, ConfigError> {
    if cli.no_store || cli.no_redis {
        return Ok(None);
    }
    let parse = |what: &str, url: &str| {
        url.into_connection_info().map_err(|_| ConfigError(format!("{what} is not a valid Redis URL")))
    };
    let info = if let Some(url) = &cli.redis_url {
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
    Ok(Some(info))
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
    pub probe: ProbeConfig,
    pub format: Format,
    pub filter: Filter,
    pub progress: bool,
    pub store: StoreConfig,
    /// Continuous mode: a sweep starts every this long.
    pub every: Option<Duration>,
    /// Drop to this user after opening the raw socket.
    pub user: Option<String>,
}

fn ms(flag: &str, value: Option<u64>, default: u64, min: u64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if !(min..=MAX_MS).contains(&v) {
        return Err(ConfigError(format!("--{flag} must be between {min} and {MAX_MS} ms, not {v}")));
    }
    Ok(Duration::from_millis(v))
}

impl Config {
    /// Validates `cli` against the environment `env`.
    pub fn new(cli: Cli, env: &Env) -> Result<Config, ConfigError> {
        let allow_env = env.allow.as_deref();
        for t in &cli.targets {
            if t.parse::<Cidr>().is_err() && !crate::targets::is_hostname(t) {
                return Err(ConfigError(format!("not an IP address, CIDR block or host name: {t:?}")));
            }
        }
        let targets = cli.targets.clone();
        let url = crate::source::UrlConfig {
            url: crate::source::ListUrl::new(
                cli.hosts_url.clone().unwrap_or_else(|| crate::source::DEFAULT_URL.into()),
            ),
            timeout: match cli.fetch_timeout {
                Some(0) => return Err(ConfigError("--fetch-timeout must be at least 1 s".into())),
                Some(s) => Duration::from_secs(s),
                None => crate::source::DEFAULT_FETCH_TIMEOUT,
            },
            max_bytes: cli.max_list_bytes.unwrap_or(crate::source::DEFAULT_MAX_BYTES),
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
        let count = match cli.count {
            Some(0) => None,
            Some(n) => Some(n),
            // The original tool took 1000 hosts of its list; targets typed on the command line are all meant.
            None if cli.targets.is_empty() => Some(DEFAULT_COUNT),
            None => None,
        };
        let store_timeout = Duration::from_secs(cli.store_timeout.unwrap_or(DEFAULT_STORE_TIMEOUT_S).max(1));
        let store = StoreConfig {
            postgres: postgres_config(&cli, env, store_timeout)?,
            redis: redis_config(&cli, env)?,
            redis_prefix: cli.redis_prefix.clone().unwrap_or_default(),
            redis_ttl: match cli.redis_ttl.unwrap_or(DEFAULT_REDIS_TTL_S) {
                0 => None,
                s => Some(s),
            },
            spool_dir: cli.spool_dir.clone().map_or_else(crate::store::spool::default_dir, PathBuf::from),
            timeout: store_timeout,
        };
        let format = match cli.format.as_deref() {
            None => Format::Table,
            Some(f) => f.parse().map_err(ConfigError)?,
        };
        let every = match &cli.every {
            None => None,
            Some(d) => match humantime::parse_duration(d) {
                Ok(d) if d >= Duration::from_secs(1) => Some(d),
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
            targets,
            url,
            resolve_timeout: Duration::from_secs(cli.resolve_timeout.unwrap_or(5)),
            hosts_file: cli.hosts_file,
            count,
            probe: ProbeConfig {
                timeout: ms("timeout", cli.timeout, DEFAULT_TIMEOUT_MS, 1)?,
                probes,
                interval: ms("interval", cli.interval, DEFAULT_INTERVAL_MS, 0)?,
                rate: cli.rate.unwrap_or(DEFAULT_RATE),
            },
            format,
            filter,
            progress: !cli.no_progress,
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(targets: &[&str]) -> Cli {
        Cli { targets: targets.iter().map(|s| s.to_string()).collect(), ..Cli::default() }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::new(cli(&["127.0.0.1"]), &Env::default()).unwrap();
        assert_eq!(c.probe.timeout, Duration::from_millis(2000));
        assert_eq!((c.probe.probes, c.probe.rate, c.count), (1, 10_000, None));
        let f = Config::new(Cli { hosts_file: Some("list".into()), ..Cli::default() }, &Env::default()).unwrap();
        assert_eq!(f.count, Some(1000));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = |c: Cli, allow: Option<&str>| {
            Config::new(c, &Env { allow: allow.map(String::from), ..Env::default() }).unwrap_err().0
        };
        assert!(err(cli(&["127.0.0.1/40"]), None).contains("127.0.0.1/40"));
        assert!(err(cli(&["not a host"]), None).contains("not a host"));
        assert!(err(Cli { timeout: Some(0), ..cli(&["127.0.0.1"]) }, None).contains("--timeout"));
        assert!(err(Cli { probes: Some(0), ..cli(&["127.0.0.1"]) }, None).contains("--probes"));
        assert!(err(Cli { format: Some("xml".into()), ..cli(&["127.0.0.1"]) }, None).contains("xml"));
        assert!(err(cli(&["127.0.0.1"]), Some("127.0.0.0/8,nonsense")).contains("PINGER_ALLOW"));
    }

    #[test]
    fn stores_come_from_flags_env_or_dotenv_parts_and_never_echo_a_password() {
        let env = Env {
            postgres_host: Some("db.internal".into()),
            postgres_user: Some("pinger".into()),
            postgres_password: Some("s3cret-pw".into()),
            postgres_db: Some("pings".into()),
            redis_host: Some("cache.internal".into()),
            redis_port: Some("6380".into()),
            ..Env::default()
        };
        let c = Config::new(cli(&["127.0.0.1"]), &env).unwrap();
        let pg = c.store.postgres.as_ref().unwrap();
        assert_eq!((pg.get_dbname(), pg.get_user()), (Some("pings"), Some("pinger")));
        assert_eq!(c.store.redis.as_ref().unwrap().addr().to_string(), "cache.internal:6380");
        assert_eq!(c.store.redis_ttl, Some(86_400));
        let off = Config::new(Cli { no_store: true, ..cli(&["127.0.0.1"]) }, &env).unwrap();
        assert!(!off.store.any());
        assert!(!Config::new(cli(&["127.0.0.1"]), &Env::default()).unwrap().store.any());
        let bad = Env { database_url: Some("postgres://u:s3cret-pw@host:notaport/db".into()), ..Env::default() };
        let e = Config::new(cli(&["127.0.0.1"]), &bad).unwrap_err().0;
        assert!(e.contains("DATABASE_URL") && !e.contains("s3cret"), "{e}");
    }
}
