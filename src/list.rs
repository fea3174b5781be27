//! The host list of a run, from what the configuration names: command-line targets and/or a host list file
//! (stdin too), or else the list from `--hosts-url` or its fallbacks (`source.rs`), read by the `targets`
//! Collector into the addresses to probe.

use std::fs::File;
use std::io::{self, BufReader};

use crate::config::Config;
use crate::targets::{Addrs, Collector, ListReport};
use crate::{source, Error};

/// Reads the targets the configuration names: command-line targets and/or a host list file; with neither, the
/// list from the URL (or its fallbacks). Returns the hosts in input order (the sweep spreads them over networks
/// before probing, see [`targets::spread`]), what happened to the list, and where it came from.
pub fn collect_targets(cfg: &Config) -> Result<(Addrs, ListReport, String), Error> {
    let mut c = Collector::new(cfg.filter.clone(), cfg.count, cfg.max_hosts).with_shard(cfg.shard);
    for t in &cfg.targets {
        // Checked in Config: every target is an address, a block or a name.
        c.add_text(t);
    }
    let origin = match (&cfg.hosts_file, cfg.targets.is_empty()) {
        (Some(path), _) => {
            let err = |source| Error::HostsFile { path: path.clone(), source };
            if path == "-" {
                c.read("stdin", io::stdin().lock()).map_err(err)?;
            } else {
                let f = File::open(path).map_err(err)?;
                c.expect_bytes(f.metadata().map_or(0, |m| m.len()));
                c.read(path, BufReader::with_capacity(1 << 16, f)).map_err(err)?;
            }
            match (path.as_str(), cfg.targets.is_empty()) {
                ("-", true) => "stdin".to_string(),
                (p, true) => format!("file {p}"),
                (p, false) => format!("command line and file {p}"),
            }
        }
        (None, false) => "command line".to_string(),
        (None, true) => {
            let (body, origin) = source::load(&cfg.url, &cfg.filter)?;
            if !matches!(origin, source::Origin::Url { .. }) {
                eprintln!("pinger: warning: host list from {origin}");
            }
            let name = match &origin {
                source::Origin::Url { url } => url.clone(),
                source::Origin::Cache { path, .. } | source::Origin::Shipped { path, .. } => path.display().to_string(),
            };
            c.expect_bytes(body.len() as u64);
            c.read(&name, &body[..]).map_err(|e| Error::HostsFile { path: name.clone(), source: e })?;
            origin.to_string()
        }
    };
    let (hosts, report) = c.finish(cfg.resolve_timeout)?;
    Ok((hosts, report, origin))
}
