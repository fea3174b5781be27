//! Host names in a list: what counts as one, and how it becomes an address (the system resolver, or under the
//! fence /etc/hosts only). The `Collector` decides when; this file only knows how.

use std::net::IpAddr;
use std::time::Duration;

/// Is `s` a host name (RFC 1123 labels, a last label that is not all digits)?
pub fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(label_ok)
        && s.rsplit('.').next().is_some_and(|last| !last.bytes().all(|b| b.is_ascii_digit()))
}

/// Where names are looked up under the fence (`PINGER_ALLOW` or `--allow`).
pub const HOSTS_FILE: &str = "/etc/hosts";

/// The address `name` has in a hosts file's text (`ADDRESS NAME [ALIAS...]` lines, `#` comments), case-blind;
/// the first IPv4 one wins, as with [`resolve`].
pub fn lookup_hosts_file(table: &str, name: &str) -> Option<IpAddr> {
    let addrs: Vec<IpAddr> = table
        .lines()
        .filter_map(|l| {
            let mut words = l.split('#').next()?.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            words.any(|w| w.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect();
    addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied()
}

/// Resolves host names with the system resolver, in parallel, within `deadline` overall. A name that fails or
/// is not answered in time gets `None`. The first IPv4 address wins (IPv6 only when there is no IPv4).
pub fn resolve(names: &[String], deadline: Duration) -> Vec<Option<IpAddr>> {
    use std::net::ToSocketAddrs;
    let (tx, rx) = crossbeam_channel::unbounded();
    let work = std::sync::Arc::new(std::sync::Mutex::new((0..names.len()).collect::<Vec<_>>()));
    let names_shared: std::sync::Arc<Vec<String>> = std::sync::Arc::new(names.to_vec());
    for _ in 0..names.len().min(16) {
        let (tx, work, names) = (tx.clone(), work.clone(), names_shared.clone());
        // Detached on purpose: a resolver that hangs past the deadline must not hold the sweep.
        let _ = std::thread::Builder::new().name("resolve".into()).spawn(move || loop {
            let Some(i) = work.lock().ok().and_then(|mut w| w.pop()) else { return };
            let addrs: Vec<IpAddr> =
                (names[i].as_str(), 0).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
            let pick = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()).copied();
            if tx.send((i, pick)).is_err() {
                return;
            }
        });
    }
    drop(tx);
    let mut out = vec![None; names.len()];
    let end = std::time::Instant::now() + deadline;
    while let Ok((i, ip)) = rx.recv_deadline(end) {
        out[i] = ip;
    }
    out
}
