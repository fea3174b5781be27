//! Where the host list comes from when no targets are given: a URL (fetched in `source/fetch.rs`, inside the
//! network fence), else the last good fetch (a cache file), else the shipped `hosts` file. It returns bytes and
//! says which source it used, why, and how old it is; parsing is `targets.rs`'s job.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::files;
use crate::targets::Filter;

mod fetch;
mod redact;
pub use fetch::{FetchError, MAX_REDIRECTS};
pub use redact::{redact, ListUrl};

/// The original tool's list: every public resolver that public-dns.info knows.
pub const DEFAULT_URL: &str = "https://public-dns.info/nameservers-all.txt";
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

#[derive(Clone, Debug)]
pub struct UrlConfig {
    /// Shown redacted wherever it is printed or stored.
    pub url: ListUrl,
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
    /// `url` is redacted: this is what is printed and stored.
    Url {
        url: String,
    },
    Cache {
        path: PathBuf,
        age: Duration,
        why: String,
    },
    Shipped {
        path: PathBuf,
        why: String,
    },
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
#[error("no host list: {why}; no cache at {cache}; {shipped}")]
pub struct NoList {
    pub why: String,
    pub cache: String,
    /// Why the shipped list was not the fallback.
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

/// Keeps the list as the cache file, in a directory that is pinger's own, replaced whole and never written
/// through a link (`files.rs`).
fn write_cache(path: &Path, url: &ListUrl, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    files::private_dir(dir)?;
    files::replace(path, |f| {
        writeln!(f, "# pinger: last good copy of {url}")?;
        f.write_all(body)?;
        if !body.ends_with(b"\n") {
            f.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// Fetches the list, or falls back. Warnings (a failed fetch, a cache that could not be written) go to stderr.
pub fn load(cfg: &UrlConfig, filter: &Filter) -> Result<(Vec<u8>, Origin), NoList> {
    let fetched = fetch::fetch(cfg, filter);
    let why = match fetched {
        Ok(body) => {
            if let Err(e) = write_cache(&cfg.cache, &cfg.url, &body) {
                eprintln!("pinger: warning: cannot keep the list in {}: {e}", cfg.cache.display());
            }
            return Ok((body, Origin::Url { url: cfg.url.to_string() }));
        }
        Err(e) => format!("fetching {} failed: {e}", cfg.url),
    };
    if let Ok(body) = files::read_regular(&cfg.cache) {
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
    let shipped = if shipped.is_empty() && !cfg.shipped.is_empty() {
        "the shipped list is not used while PINGER_ALLOW is set (name one with --fallback-hosts)".to_string()
    } else {
        let looked = cfg.shipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        format!("no shipped hosts file (looked at {looked})")
    };
    Err(NoList { why, cache: cfg.cache.display().to_string(), shipped })
}
