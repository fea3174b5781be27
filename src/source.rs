//! Where the host list comes from when no targets are given: a URL (ureq, with connect and overall timeouts, a
//! size cap, bounded redirects, gzip, a clear User-Agent), else the last good fetch (a cache file), else the
//! shipped `hosts` file. It returns bytes and says which source it used, why, and how old it is; parsing is
//! `targets.rs`'s job.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::targets::Filter;

/// The original tool's list: every public resolver that public-dns.info knows.
pub const DEFAULT_URL: &str = "https://public-dns.info/nameservers-all.txt";
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;
const MAX_REDIRECTS: u32 = 5;

#[derive(Clone, Debug)]
pub struct UrlConfig {
    pub url: String,
    /// Overall deadline of the fetch (connect is bounded by the smaller of this and 5 s).
    pub timeout: Duration,
    pub max_bytes: u64,
    /// Where the last good fetch is kept.
    pub cache: PathBuf,
    /// The shipped list, tried in order.
    pub shipped: Vec<PathBuf>,
    /// `shipped` was named with `--fallback-hosts` (not the default search).
    pub shipped_explicit: bool,
}

/// Where the list came from, for the summary and the `sweeps` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Url { url: String },
    Cache { path: PathBuf, age: Duration, why: String },
    Shipped { path: PathBuf, why: String },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Url { url } => write!(f, "{url} (fetched now)"),
            Origin::Cache { path, age, why } => {
                write!(f, "cache {} (fetched {} ago) because {why}", path.display(), human(*age))
            }
            Origin::Shipped { path, why } => write!(f, "shipped list {} because {why}", path.display()),
        }
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no host list: {why}; no cache at {cache}; no shipped hosts file (looked at {shipped})")]
pub struct NoList {
    pub why: String,
    pub cache: String,
    pub shipped: String,
}

/// The default cache file: `$XDG_CACHE_HOME/pinger/hosts` (`~/.cache/pinger/hosts`), or `/var/cache/pinger/hosts`
/// for root.
pub fn default_cache() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return "/var/cache/pinger/hosts".into();
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("pinger/hosts")
}

/// Where the shipped `hosts` file may be: the working directory (as the original ran), beside the binary, and
/// the system data directory.
pub fn default_shipped() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from("hosts")];
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        v.push(dir.join("hosts"));
    }
    v.push(PathBuf::from("/usr/share/pinger/hosts"));
    v
}

/// Refuses to contact a host the network guard does not allow: with `PINGER_ALLOW` set, the URL must name
/// `localhost` or an address inside it. (A name would need a DNS query, which is traffic too.)
fn guard(url: &str, filter: &Filter) -> Result<(), String> {
    if filter.allow.is_empty() {
        return Ok(());
    }
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(());
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if filter.allow.iter().all(|l| l.iter().any(|c| c.contains(ip))) => Ok(()),
        _ => Err(format!("{host:?} is outside PINGER_ALLOW, so it was not contacted")),
    }
}

fn fetch(cfg: &UrlConfig) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(cfg.timeout))
        .timeout_connect(Some(cfg.timeout.min(Duration::from_secs(5))))
        .max_redirects(MAX_REDIRECTS)
        .user_agent(concat!("pinger/", env!("CARGO_PKG_VERSION"), " (host list fetch)"))
        .build()
        .into();
    let mut resp = agent.get(&cfg.url).call().map_err(|e| e.to_string())?;
    let body = resp.body_mut().with_config().limit(cfg.max_bytes).read_to_vec().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => format!("the list is larger than the {} byte cap", cfg.max_bytes),
        e => e.to_string(),
    })?;
    // An error page served with 200 is not a list: keep the last good one instead.
    let text = String::from_utf8_lossy(&body);
    let any = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .any(|l| l.parse::<crate::targets::Cidr>().is_ok());
    if !any {
        return Err("the response holds no address".into());
    }
    Ok(body)
}

fn write_cache(path: &Path, url: &str, body: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp)?;
    writeln!(f, "# pinger: last good copy of {url}")?;
    f.write_all(body)?;
    if !body.ends_with(b"\n") {
        f.write_all(b"\n")?;
    }
    f.sync_all()?;
    fs::rename(&tmp, path)
}

/// Fetches the list, or falls back. Warnings (a failed fetch, a cache that could not be written) go to stderr.
pub fn load(cfg: &UrlConfig, filter: &Filter) -> Result<(Vec<u8>, Origin), NoList> {
    let fetched = guard(&cfg.url, filter).and_then(|()| fetch(cfg));
    let why = match fetched {
        Ok(body) => {
            if let Err(e) = write_cache(&cfg.cache, &cfg.url, &body) {
                eprintln!("pinger: warning: cannot keep the list in {}: {e}", cfg.cache.display());
            }
            return Ok((body, Origin::Url { url: cfg.url.clone() }));
        }
        Err(e) => format!("fetching {} failed: {e}", cfg.url),
    };
    if let Ok(body) = fs::read(&cfg.cache) {
        let age = fs::metadata(&cfg.cache)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or_default();
        return Ok((body, Origin::Cache { path: cfg.cache.clone(), age, why }));
    }
    // The shipped list is thousands of public resolvers: where PINGER_ALLOW fences a test machine in, only a
    // list someone named explicitly may be the fallback (a stray test once swept the shipped one that way).
    let shipped: &[PathBuf] = if filter.allow.is_empty() || cfg.shipped_explicit { &cfg.shipped } else { &[] };
    for path in shipped {
        if let Ok(body) = fs::read(path) {
            return Ok((body, Origin::Shipped { path: path.clone(), why: format!("{why} and there is no cache yet") }));
        }
    }
    let why = if shipped.is_empty() && !cfg.shipped.is_empty() {
        format!("{why}; the shipped list is not used while PINGER_ALLOW is set (name one with --fallback-hosts)")
    } else {
        why
    };
    Err(NoList {
        why,
        cache: cfg.cache.display().to_string(),
        shipped: cfg.shipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse_cidr_list;

    #[test]
    fn the_guard_lets_only_allowed_hosts_be_contacted() {
        let f = Filter { allow: vec![parse_cidr_list("127.0.0.0/8,::1/128").unwrap()] };
        assert!(guard("http://127.0.0.1:8080/list", &f).is_ok());
        assert!(guard("http://user:pw@127.0.0.2/list", &f).is_ok());
        assert!(guard("http://[::1]:80/list", &f).is_ok());
        assert!(guard("http://localhost:9/x", &f).is_ok());
        assert!(guard(DEFAULT_URL, &f).is_err());
        assert!(guard("http://198.18.0.1/list", &f).is_err());
        assert!(guard(DEFAULT_URL, &Filter::default()).is_ok(), "no guard set: anything goes");
    }
}
