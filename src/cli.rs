//! The command line (argh). Only the shape of the flags: every default and every check is in `config.rs`.

use argh::FromArgs;

/// Sweep hosts with ICMP echo from one raw socket and report each host once: alive (with its round-trip time),
/// timeout or unreachable.
///
/// Targets are IP addresses, CIDR blocks, A-B ranges and host names on the command line and/or a host list
/// (--hosts-file).
/// The short letters are fping's, with fping's meaning (-c -p -t -f -g -a -u -q).
///
/// Other commands: `pinger report` (availability and outages from Postgres), `pinger migrate` (bring the
/// database to the current schema) and `pinger serve` (a web view of the history); each has its own --help.
#[derive(FromArgs, Debug, Default, PartialEq)]
pub struct Cli {
    /// addresses, CIDR blocks, ranges (127.0.0.10-127.0.0.20) and host names to probe (e.g. 127.0.0.0/16)
    #[argh(positional)]
    pub targets: Vec<String>,

    /// as fping -g: the targets are one range, START END (two addresses) or one CIDR block
    #[argh(switch, short = 'g')]
    pub generate: bool,

    /// host list: one address, CIDR block, A-B range or host name per line, '#' comments ('-' reads stdin)
    #[argh(option, short = 'f')]
    pub hosts_file: Option<String>,

    /// where the host list comes from when no targets and no --hosts-file are given (default: the original
    /// tool's https://public-dns.info/nameservers-all.txt)
    #[argh(option)]
    pub hosts_url: Option<String>,

    /// seconds the whole fetch of --hosts-url may take before falling back (default 15; 1 to 3600)
    #[argh(option, from_str_fn(seconds))]
    pub fetch_timeout: Option<u64>,

    /// largest list accepted from --hosts-url, in bytes (default 67108864; 1 to 1073741824)
    #[argh(option, from_str_fn(whole_u64))]
    pub max_list_bytes: Option<u64>,

    /// where the last good fetch is kept (default /var/cache/pinger/hosts as root, else ~/.cache/pinger/hosts)
    #[argh(option)]
    pub hosts_cache: Option<String>,

    /// the list to fall back to when the URL fails and there is no cache (default: the shipped `hosts` file,
    /// looked for in the working directory, beside the binary and in /usr/share/pinger)
    #[argh(option)]
    pub fallback_hosts: Option<String>,

    /// seconds to resolve all host names in the list, in parallel (default 5; 1 to 3600)
    #[argh(option, from_str_fn(seconds))]
    pub resolve_timeout: Option<u64>,

    /// hosts to take from the list, in list order (default 1000 for a list, all for command-line targets;
    /// 0 = all; at most 4294967295)
    #[argh(option, from_str_fn(whole_usize))]
    pub count: Option<usize>,

    /// the name this pinger's results are stored under, for several pingers writing one history (1 to 63
    /// letters, digits, '.', '_' or '-'; default: none, the unnamed vantage point)
    #[argh(option, from_str_fn(vantage))]
    pub vantage: Option<String>,

    /// probe only part K of N of the list, for N pingers that split it between them (e.g. 2/3): a host's part is
    /// fixed by a hash of its address, so every host is probed by exactly one of them; --count counts the whole
    /// list first
    #[argh(option, from_str_fn(shard))]
    pub shard: Option<crate::targets::Shard>,

    /// refuse, before probing anything, a sweep of more hosts than this (default 16777216, a /8, about 1 GB of
    /// memory; 1 to 4294967295)
    #[argh(option, from_str_fn(whole_usize))]
    pub max_hosts: Option<usize>,

    /// milliseconds to wait for each reply (default 2000; 1 to 3600000)
    #[argh(option, short = 't', from_str_fn(millis))]
    pub timeout: Option<u64>,

    /// echo requests per host, as fping -c (default 1; 1 to 65535)
    #[argh(option, short = 'c', from_str_fn(whole_u16))]
    pub probes: Option<u16>,

    /// milliseconds between the probes of one host, as fping -p (default 1000; 0 to 3600000)
    #[argh(option, short = 'p', from_str_fn(millis))]
    pub interval: Option<u64>,

    /// probes per second over the whole sweep (default 10000; 0 = as fast as the machine goes; at most
    /// 10000000)
    #[argh(option, from_str_fn(whole_u32))]
    pub rate: Option<u32>,

    /// per-host output on stdout: table, json (JSON Lines) or none (default table)
    #[argh(option)]
    pub format: Option<String>,

    /// print only the hosts that are alive, as fping -a
    #[argh(switch, short = 'a')]
    pub alive: bool,

    /// print only the hosts that are not (timeout or unreachable), as fping -u
    #[argh(switch, short = 'u')]
    pub unreachable: bool,

    /// no per-host output, only the summary on stderr, as fping -q
    #[argh(switch, short = 'q')]
    pub quiet: bool,

    /// print the hosts in the order of the input (default: as each becomes final, fastest first)
    #[argh(switch)]
    pub in_order: bool,

    /// results go to the terminal only, not to Redis or Postgres
    #[argh(switch)]
    pub no_store: bool,

    /// postgres connection string (default: env DATABASE_URL, or POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DB);
    /// prefer the environment or .env for anything with a password
    #[argh(option)]
    pub database_url: Option<String>,

    /// redis URL (default: env REDIS_URL, or REDIS_HOST/REDIS_PORT/REDIS_PASSWORD)
    #[argh(option)]
    pub redis_url: Option<String>,

    /// do not write to Postgres
    #[argh(switch)]
    pub no_postgres: bool,

    /// do not write to Redis
    #[argh(switch)]
    pub no_redis: bool,

    /// prefix of the Redis keys (default none: the key is the bare address)
    #[argh(option)]
    pub redis_prefix: Option<String>,

    /// seconds a Redis key lives (default 86400; 0 = no expiry; at most 31536000, a year)
    #[argh(option, from_str_fn(seconds))]
    pub redis_ttl: Option<u64>,

    /// where results wait while Postgres is away (default: env PINGER_SPOOL_DIR, /var/spool/pinger as root,
    /// else ~/.local/state/pinger/spool)
    #[argh(option)]
    pub spool_dir: Option<String>,

    /// seconds for store connections and operations (default 5; 1 to 3600); the end of a sweep waits at most 6
    /// times this for the stores, then spools what is left
    #[argh(option, from_str_fn(seconds))]
    pub store_timeout: Option<u64>,

    /// raw rows (one per check) are kept this long, in whole UTC days (default 7d; at least 1d)
    #[argh(option)]
    pub keep_raw: Option<String>,

    /// hourly rollups are kept this long (default 400d; at least 1d)
    #[argh(option)]
    pub keep_hourly: Option<String>,

    /// daily rollups are kept this long (default: for ever; at least 1d)
    #[argh(option)]
    pub keep_daily: Option<String>,

    /// probe only addresses inside this CIDR block (repeatable; also env PINGER_ALLOW=cidr,cidr)
    #[argh(option)]
    pub allow: Vec<String>,

    /// sweep again every DURATION (e.g. 5m, 1h) until SIGINT/SIGTERM, which end the current sweep cleanly
    #[argh(option)]
    pub every: Option<String>,

    /// serve Prometheus metrics at http://ADDR/metrics while pinger runs (with --every), e.g. 127.0.0.1:9108
    #[argh(option)]
    pub metrics_listen: Option<String>,

    /// with --metrics-listen: also a series per host (up, RTT histogram); for lists of hundreds, not millions
    #[argh(switch)]
    pub metrics_per_host: bool,

    /// when started as root: the user to run as once the raw socket is open
    #[argh(option)]
    pub user: Option<String>,

    /// no progress bar on stderr
    #[argh(switch)]
    pub no_progress: bool,

    /// print the version and exit
    #[argh(switch, short = 'V')]
    pub version: bool,
}

/// A whole number, with a message that says what is wrong ("-1", "5s", "1e3", too large).
fn whole<T: std::str::FromStr + std::fmt::Display>(s: &str, max: T) -> Result<T, String> {
    s.parse().map_err(|_| {
        let t = s.trim();
        if t.starts_with('-') {
            "cannot be negative".to_string()
        } else if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            format!("is more than the largest allowed, {max}")
        } else {
            format!("expects a whole number like 1000, not {s:?}")
        }
    })
}

fn whole_u64(s: &str) -> Result<u64, String> {
    whole(s, u64::MAX)
}

fn whole_u32(s: &str) -> Result<u32, String> {
    whole(s, u32::MAX)
}

fn whole_u16(s: &str) -> Result<u16, String> {
    whole(s, u16::MAX)
}

fn vantage(s: &str) -> Result<String, String> {
    crate::vantage::parse(s).map_err(|e| e.trim_start_matches("--vantage ").to_string())
}

fn shard(s: &str) -> Result<crate::targets::Shard, String> {
    s.parse().map_err(|e: crate::targets::BadShard| e.to_string().trim_start_matches("--shard ").to_string())
}

fn whole_usize(s: &str) -> Result<usize, String> {
    whole(s, usize::MAX)
}

/// Milliseconds: a bare number (as fping takes them), or a duration with its unit (`2s`, `500ms`).
fn millis(s: &str) -> Result<u64, String> {
    if s.trim().starts_with('-') {
        return Err("cannot be negative".into());
    }
    s.parse().or_else(|_| {
        humantime::parse_duration(s)
            .map_err(|_| format!("expects milliseconds like 2000, or a duration like 2s or 500ms, not {s:?}"))
            .and_then(|d| u64::try_from(d.as_millis()).map_err(|_| "is too long".to_string()))
    })
}

/// Seconds: a bare number, or a duration in whole seconds with its unit (`30s`, `5m`, `1d`).
fn seconds(s: &str) -> Result<u64, String> {
    if s.trim().starts_with('-') {
        return Err("cannot be negative".into());
    }
    s.parse().or_else(|_| match humantime::parse_duration(s) {
        Ok(d) if d.subsec_nanos() == 0 => Ok(d.as_secs()),
        Ok(_) => Err(format!("takes whole seconds, not {s:?}")),
        Err(_) => Err(format!("expects seconds like 30, or a duration like 30s or 5m, not {s:?}")),
    })
}

/// What pinger calls the short flag `arg` that fping has and pinger does not (or not with fping's meaning), for
/// the line after argh's "Unrecognized argument".
pub fn fping_letter_hint(arg: &str) -> Option<&'static str> {
    Some(match arg {
        "-r" => "-r is fping's retries (pinger sends --probes/-c probes and does not retry); pinger's rate is --rate",
        "-n" => "-n is fping's show-names; pinger's number of hosts to take is --count",
        "-i" => "-i is fping's interval between any two packets; pinger's is --rate (packets per second)",
        "-s" => "pinger always prints fping -s's summary (on stderr)",
        "-e" => "pinger always shows the round-trip time",
        _ => return None,
    })
}

/// The subcommand `word` is likely a typo of (`repot`, `reprot`, `migrat`): one that is at most two edits away
/// and is not itself an address, a block, a flag or a host name with a dot.
pub fn typo_of_subcommand(word: &str) -> Option<&'static str> {
    if word.starts_with('-') || word.contains(['.', ':', '/']) || word.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    ["report", "migrate", "serve"].into_iter().find(|s| *s != word && edits(word, s) <= 2)
}

/// Levenshtein distance, for short words.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::typo_of_subcommand;

    #[test]
    fn numbers_with_a_wrong_form_say_what_is_expected() {
        assert_eq!(super::whole_u32("-1").unwrap_err(), "cannot be negative");
        assert!(super::whole_u16("99999").unwrap_err().contains("largest allowed, 65535"));
        assert!(super::whole_usize("1e3").unwrap_err().contains("whole number like 1000"));
        assert_eq!(super::millis("5s"), Ok(5000));
        assert_eq!(super::millis("250"), Ok(250));
        assert!(super::millis("soon").unwrap_err().contains("2s or 500ms"));
        assert_eq!(super::seconds("5m"), Ok(300));
        assert!(super::seconds("1.5s").unwrap_err().contains("whole seconds"));
    }

    #[test]
    fn near_misses_of_a_subcommand_are_typos_and_hosts_are_not() {
        for (w, want) in [("repot", Some("report")), ("reprot", Some("report")), ("rport", Some("report"))] {
            assert_eq!(typo_of_subcommand(w), want, "{w}");
        }
        assert_eq!(typo_of_subcommand("migrat"), Some("migrate"));
        for w in ["report", "localhost", "127.0.0.1", "127.0.0.0/8", "::1", "--rate", "rep.ort", "gateway"] {
            assert_eq!(typo_of_subcommand(w), None, "{w}");
        }
    }
}
