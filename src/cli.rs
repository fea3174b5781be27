//! The command line (argh). Only the shape of the flags: every default and every check is in `config.rs`.

use argh::FromArgs;

/// Sweep hosts with ICMP echo from one raw socket and report each host once: alive (with its round-trip time),
/// timeout or unreachable.
///
/// Targets are IP addresses and CIDR blocks on the command line and/or a host list (--hosts-file).
///
/// Other commands: `pinger report` (availability and outages from Postgres) and `pinger migrate` (bring the
/// database to the current schema); each has its own --help.
#[derive(FromArgs, Debug, Default, PartialEq)]
pub struct Cli {
    /// addresses, CIDR blocks and host names to probe (e.g. 127.0.0.0/16)
    #[argh(positional)]
    pub targets: Vec<String>,

    /// host list: one address or CIDR block per line, '#' comments ('-' reads stdin)
    #[argh(option, short = 'f')]
    pub hosts_file: Option<String>,

    /// where the host list comes from when no targets and no --hosts-file are given (default: the original
    /// tool's https://public-dns.info/nameservers-all.txt)
    #[argh(option)]
    pub hosts_url: Option<String>,

    /// seconds the whole fetch of --hosts-url may take before falling back (default 15; 1 to 3600)
    #[argh(option)]
    pub fetch_timeout: Option<u64>,

    /// largest list accepted from --hosts-url, in bytes (default 67108864; 1 to 1073741824)
    #[argh(option)]
    pub max_list_bytes: Option<u64>,

    /// where the last good fetch is kept (default /var/cache/pinger/hosts as root, else ~/.cache/pinger/hosts)
    #[argh(option)]
    pub hosts_cache: Option<String>,

    /// the list to fall back to when the URL fails and there is no cache (default: the shipped `hosts` file,
    /// looked for in the working directory, beside the binary and in /usr/share/pinger)
    #[argh(option)]
    pub fallback_hosts: Option<String>,

    /// seconds to resolve all host names in the list, in parallel (default 5; 1 to 3600)
    #[argh(option)]
    pub resolve_timeout: Option<u64>,

    /// hosts to take from the list, in list order (default 1000 for a list, all for command-line targets;
    /// 0 = all; at most 4294967295)
    #[argh(option, short = 'n')]
    pub count: Option<usize>,

    /// refuse, before probing anything, a sweep of more hosts than this (default 16777216, a /8, about 1 GB of
    /// memory; 1 to 4294967295)
    #[argh(option)]
    pub max_hosts: Option<usize>,

    /// milliseconds to wait for each reply (default 2000; 1 to 3600000)
    #[argh(option, short = 't')]
    pub timeout: Option<u64>,

    /// echo requests per host (default 1)
    #[argh(option, short = 'p')]
    pub probes: Option<u16>,

    /// milliseconds between the probes of one host (default 1000; 0 to 3600000)
    #[argh(option, short = 'i')]
    pub interval: Option<u64>,

    /// probes per second over the whole sweep (default 10000; 0 = as fast as the machine goes; at most
    /// 10000000)
    #[argh(option, short = 'r')]
    pub rate: Option<u32>,

    /// per-host output on stdout: table, json (JSON Lines) or none (default table)
    #[argh(option)]
    pub format: Option<String>,

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
    #[argh(option)]
    pub redis_ttl: Option<u64>,

    /// where results wait while Postgres is away (default: env PINGER_SPOOL_DIR, /var/spool/pinger as root,
    /// else ~/.local/state/pinger/spool)
    #[argh(option)]
    pub spool_dir: Option<String>,

    /// seconds for store connections and operations (default 5; 1 to 3600); the end of a sweep waits at most 6
    /// times this for the stores, then spools what is left
    #[argh(option)]
    pub store_timeout: Option<u64>,

    /// raw rows (one per check) are kept this long, in whole UTC days (default 7d)
    #[argh(option)]
    pub keep_raw: Option<String>,

    /// hourly rollups are kept this long (default 400d)
    #[argh(option)]
    pub keep_hourly: Option<String>,

    /// daily rollups are kept this long (default: for ever)
    #[argh(option)]
    pub keep_daily: Option<String>,

    /// probe only addresses inside this CIDR block (repeatable; also env PINGER_ALLOW=cidr,cidr)
    #[argh(option)]
    pub allow: Vec<String>,

    /// sweep again every DURATION (e.g. 5m, 1h) until SIGINT/SIGTERM, which end the current sweep cleanly
    #[argh(option)]
    pub every: Option<String>,

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
