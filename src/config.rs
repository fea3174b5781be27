//! Command line + environment -> one validated [`Config`]. Every default lives here.

use std::time::Duration;

use crate::cli::Cli;
use crate::output::Format;
use crate::probe::ProbeConfig;
use crate::targets::{parse_cidr_list, Cidr, Filter};

pub const DEFAULT_COUNT: usize = 1000;
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
pub const DEFAULT_PROBES: u16 = 1;
pub const DEFAULT_INTERVAL_MS: u64 = 1000;
pub const DEFAULT_RATE: u32 = 10_000;
/// The environment's allow list: a ceiling that `--allow` can only narrow.
pub const ALLOW_ENV: &str = "PINGER_ALLOW";
const MAX_MS: u64 = 3_600_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[derive(Clone, Debug)]
pub struct Config {
    /// Targets from the command line.
    pub targets: Vec<Cidr>,
    /// Host list path; "-" is stdin.
    pub hosts_file: Option<String>,
    /// Hosts to take; `None` = all.
    pub count: Option<usize>,
    pub probe: ProbeConfig,
    pub format: Format,
    pub filter: Filter,
    pub progress: bool,
}

fn ms(flag: &str, value: Option<u64>, default: u64, min: u64) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if !(min..=MAX_MS).contains(&v) {
        return Err(ConfigError(format!("--{flag} must be between {min} and {MAX_MS} ms, not {v}")));
    }
    Ok(Duration::from_millis(v))
}

impl Config {
    /// Validates `cli`; `allow_env` is the value of `PINGER_ALLOW`, if set.
    pub fn new(cli: Cli, allow_env: Option<&str>) -> Result<Config, ConfigError> {
        let targets = cli
            .targets
            .iter()
            .map(|t| t.parse::<Cidr>().map_err(|e| ConfigError(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() && cli.hosts_file.is_none() {
            return Err(ConfigError(
                "no targets: give addresses or CIDR blocks, or --hosts-file PATH (see --help)".into(),
            ));
        }
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
            None if cli.hosts_file.is_some() => Some(DEFAULT_COUNT),
            None => None,
        };
        let format = match cli.format.as_deref() {
            None => Format::Table,
            Some(f) => f.parse().map_err(ConfigError)?,
        };
        Ok(Config {
            targets,
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
        let c = Config::new(cli(&["127.0.0.1"]), None).unwrap();
        assert_eq!(c.probe.timeout, Duration::from_millis(2000));
        assert_eq!((c.probe.probes, c.probe.rate, c.count), (1, 10_000, None));
        let f = Config::new(Cli { hosts_file: Some("list".into()), ..Cli::default() }, None).unwrap();
        assert_eq!(f.count, Some(1000));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let err = |c: Cli, env: Option<&str>| Config::new(c, env).unwrap_err().0;
        assert!(err(cli(&["127.0.0.1/40"]), None).contains("127.0.0.1/40"));
        assert!(err(cli(&[]), None).contains("no targets"));
        assert!(err(Cli { timeout: Some(0), ..cli(&["127.0.0.1"]) }, None).contains("--timeout"));
        assert!(err(Cli { probes: Some(0), ..cli(&["127.0.0.1"]) }, None).contains("--probes"));
        assert!(err(Cli { format: Some("xml".into()), ..cli(&["127.0.0.1"]) }, None).contains("xml"));
        assert!(err(cli(&["127.0.0.1"]), Some("127.0.0.0/8,nonsense")).contains("PINGER_ALLOW"));
    }
}
