//! What `/metrics` says: counters summed over every sweep since pinger started, gauges of the last sweep, and
//! (with `--metrics-per-host`) a series per host of the last sweep. Sans-IO: a finished sweep's [`Summary`] and
//! [`Observed`] go in, the Prometheus text exposition format (0.0.4) comes out.
//!
//! Names follow Prometheus' conventions: the `pinger_` prefix, `_total` for counters, base units (`_seconds`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::outcome::{HostResult, Stats, Status};
use crate::Summary;

/// Upper bounds of the RTT histograms, in seconds: the rollups' buckets (1 ms to 1 s).
pub const RTT_BOUNDS_S: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// A cumulative histogram of RTTs (one observation per answered check: its mean RTT).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// Observations at or below each bound of [`RTT_BOUNDS_S`] and above the last one (not cumulative here).
    counts: [u64; 11],
    sum_s: f64,
}

impl Histogram {
    pub fn observe(&mut self, s: f64) {
        let i = RTT_BOUNDS_S.iter().position(|b| s <= *b).unwrap_or(RTT_BOUNDS_S.len());
        self.counts[i] += 1;
        self.sum_s += s;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn add(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a += b;
        }
        self.sum_s += o.sum_s;
    }

    /// `name_bucket{labels,le=...}`, `name_sum{labels}`, `name_count{labels}`; `labels` is empty or ends in `,`.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c;
            let le = RTT_BOUNDS_S.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        let bare = labels.trim_end_matches(',');
        let braces = if bare.is_empty() { String::new() } else { format!("{{{bare}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_s);
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// What one sweep's results add, gathered as they arrive (no lock per result).
#[derive(Debug, Default)]
pub struct Observed {
    pub rtt: Histogram,
    /// Only with `--metrics-per-host`: each host's verdict and mean RTT in seconds.
    pub hosts: Option<Vec<(IpAddr, bool, Option<f64>)>>,
}

impl Observed {
    pub fn new(per_host: bool) -> Observed {
        Observed { rtt: Histogram::default(), hosts: per_host.then(Vec::new) }
    }

    pub fn add(&mut self, r: &HostResult) {
        let rtt = r.rtt.map(|t| t.avg.as_secs_f64());
        if let Some(s) = rtt {
            self.rtt.observe(s);
        }
        if let Some(h) = &mut self.hosts {
            h.push((r.host, r.status == Status::Alive, rtt));
        }
    }
}

#[derive(Clone, Debug, Default)]
struct HostSeries {
    up: bool,
    rtt: Histogram,
}

/// Everything `/metrics` shows.
#[derive(Debug, Default)]
pub struct Registry {
    sweeps: u64,
    /// The last sweep: start (Unix s), duration (s), hosts by status, all stored.
    last: Option<(f64, f64, [u64; 3], bool)>,
    packets: Stats,
    rows_postgres: u64,
    rows_redis: u64,
    rows_spooled: u64,
    rows_lost: u64,
    store_errors: u64,
    spool_files: u64,
    spool_bad_files: u64,
    rtt: Histogram,
    hosts: BTreeMap<IpAddr, HostSeries>,
}

fn add_stats(a: &mut Stats, b: &Stats) {
    a.sent += b.sent;
    a.received += b.received;
    a.rx_credited += b.rx_credited;
    a.rx_errors += b.rx_errors;
    a.rx_duplicate += b.rx_duplicate;
    a.rx_late += b.rx_late;
    a.rx_spoofed += b.rx_spoofed;
    a.rx_bad_checksum += b.rx_bad_checksum;
    a.rx_malformed += b.rx_malformed;
    a.rx_foreign += b.rx_foreign;
    a.ip_options += b.ip_options;
    a.send_deferred += b.send_deferred;
    a.send_failed += b.send_failed;
}

impl Registry {
    /// Adds a finished sweep that started at `started_unix` (seconds).
    pub fn record(&mut self, s: &Summary, started_unix: f64, observed: Observed) {
        self.sweeps += 1;
        let hosts = [s.alive as u64, s.timeout as u64, s.unreachable as u64];
        self.last = Some((started_unix, s.wall.as_secs_f64(), hosts, s.all_stored()));
        add_stats(&mut self.packets, &s.stats);
        if let Some(r) = &s.store {
            self.rows_postgres += r.postgres_rows;
            self.rows_redis += r.redis_keys;
            self.rows_spooled += r.spooled_rows;
            self.rows_lost += r.lost_rows;
            self.store_errors += r.warnings.len() as u64 + u64::from(r.timed_out);
            self.spool_files = r.spool_left as u64;
            self.spool_bad_files = r.spool_bad as u64;
        }
        self.rtt.add(&observed.rtt);
        if let Some(list) = observed.hosts {
            // Only the last sweep's hosts keep series: a host that left the list leaves /metrics.
            let mut kept = BTreeMap::new();
            for (host, up, rtt) in list {
                let mut series = self.hosts.remove(&host).unwrap_or_default();
                series.up = up;
                if let Some(s) = rtt {
                    series.rtt.observe(s);
                }
                kept.insert(host, series);
            }
            self.hosts = kept;
        }
    }

    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096 + self.hosts.len() * 1200);
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(&mut o, "pinger_sweeps_total", "counter", "Sweeps finished since pinger started.");
        let _ = writeln!(o, "pinger_sweeps_total {}", self.sweeps);
        if let Some((start, duration, hosts, stored)) = self.last {
            head(&mut o, "pinger_last_sweep_start_timestamp_seconds", "gauge", "When the last sweep started.");
            let _ = writeln!(o, "pinger_last_sweep_start_timestamp_seconds {start}");
            head(
                &mut o,
                "pinger_last_sweep_duration_seconds",
                "gauge",
                "How long the last sweep took, stores included.",
            );
            let _ = writeln!(o, "pinger_last_sweep_duration_seconds {duration}");
            head(&mut o, "pinger_hosts", "gauge", "Hosts of the last sweep by verdict.");
            for (status, n) in ["alive", "timeout", "unreachable"].iter().zip(hosts) {
                let _ = writeln!(o, "pinger_hosts{{status=\"{status}\"}} {n}");
            }
            head(
                &mut o,
                "pinger_last_sweep_stored",
                "gauge",
                "1 if every result of the last sweep is stored, 0 if some wait in the spool.",
            );
            let _ = writeln!(o, "pinger_last_sweep_stored {}", u8::from(stored));
        }
        let p = &self.packets;
        head(&mut o, "pinger_packets_sent_total", "counter", "Echo requests sent.");
        let _ = writeln!(o, "pinger_packets_sent_total {}", p.sent);
        head(&mut o, "pinger_packets_received_total", "counter", "ICMP packets received and used, by class.");
        for (class, n) in
            [("reply", p.rx_credited), ("icmp_error", p.rx_errors), ("duplicate", p.rx_duplicate), ("late", p.rx_late)]
        {
            let _ = writeln!(o, "pinger_packets_received_total{{class=\"{class}\"}} {n}");
        }
        head(&mut o, "pinger_packets_ignored_total", "counter", "ICMP packets received and ignored, by reason.");
        for (reason, n) in [
            ("spoofed", p.rx_spoofed),
            ("bad_checksum", p.rx_bad_checksum),
            ("malformed", p.rx_malformed),
            ("foreign", p.rx_foreign),
        ] {
            let _ = writeln!(o, "pinger_packets_ignored_total{{reason=\"{reason}\"}} {n}");
        }
        head(
            &mut o,
            "pinger_send_retries_total",
            "counter",
            "Sends the kernel pushed back on (EAGAIN/ENOBUFS), retried.",
        );
        let _ = writeln!(o, "pinger_send_retries_total {}", p.send_deferred);
        head(&mut o, "pinger_send_failures_total", "counter", "Sends the kernel refused (counted as lost probes).");
        let _ = writeln!(o, "pinger_send_failures_total {}", p.send_failed);
        head(&mut o, "pinger_rows_stored_total", "counter", "Results written, by store (spool: kept for Postgres).");
        for (store, n) in [("postgres", self.rows_postgres), ("redis", self.rows_redis), ("spool", self.rows_spooled)] {
            let _ = writeln!(o, "pinger_rows_stored_total{{store=\"{store}\"}} {n}");
        }
        head(&mut o, "pinger_rows_lost_total", "counter", "Results neither stored nor spooled.");
        let _ = writeln!(o, "pinger_rows_lost_total {}", self.rows_lost);
        head(&mut o, "pinger_store_errors_total", "counter", "Store failures (warnings, timeouts) seen by the writer.");
        let _ = writeln!(o, "pinger_store_errors_total {}", self.store_errors);
        head(&mut o, "pinger_spool_files", "gauge", "Files waiting in the spool for Postgres after the last sweep.");
        let _ = writeln!(o, "pinger_spool_files {}", self.spool_files);
        head(&mut o, "pinger_spool_bad_files", "gauge", "Spool files set aside as not records (*.bad), for a person.");
        let _ = writeln!(o, "pinger_spool_bad_files {}", self.spool_bad_files);
        head(&mut o, "pinger_check_rtt_seconds", "histogram", "Mean round-trip time of each answered check.");
        self.rtt.render(&mut o, "pinger_check_rtt_seconds", "");
        if !self.hosts.is_empty() {
            head(&mut o, "pinger_host_up", "gauge", "1 if the host answered in the last sweep.");
            for (h, s) in &self.hosts {
                let _ = writeln!(o, "pinger_host_up{{host=\"{}\"}} {}", label(&h.to_string()), u8::from(s.up));
            }
            head(
                &mut o,
                "pinger_host_rtt_seconds",
                "histogram",
                "Mean round-trip time of each answered check, per host.",
            );
            for (h, s) in &self.hosts {
                s.rtt.render(&mut o, "pinger_host_rtt_seconds", &format!("host=\"{}\",", label(&h.to_string())));
            }
        }
        o
    }
}

/// A label value escaped as the text format wants it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Rtt;
    use std::time::Duration;

    fn result(host: &str, rtt_ms: Option<u64>) -> HostResult {
        HostResult {
            host: host.parse().unwrap(),
            status: if rtt_ms.is_some() { Status::Alive } else { Status::Timeout },
            sent: 1,
            refused: 0,
            received: u16::from(rtt_ms.is_some()),
            duplicates: 0,
            late: 0,
            rtt: rtt_ms.map(|m| Rtt {
                avg: Duration::from_millis(m),
                min: Duration::from_millis(m),
                max: Duration::from_millis(m),
            }),
            error: None,
            finished_at: crate::time::Time::ZERO,
        }
    }

    fn sweep(reg: &mut Registry, per_host: bool, results: &[HostResult]) {
        let mut obs = Observed::new(per_host);
        let mut s = Summary { hosts: results.len(), ..Summary::default() };
        for r in results {
            obs.add(r);
            match r.status {
                Status::Alive => s.alive += 1,
                _ => s.timeout += 1,
            }
        }
        s.stats.sent = results.len() as u64;
        reg.record(&s, 1_700_000_000.0, obs);
    }

    #[test]
    fn gauges_are_the_last_sweeps_and_counters_add_up() {
        let mut reg = Registry::default();
        assert!(reg.render().contains("pinger_sweeps_total 0\n"));
        assert!(!reg.render().contains("pinger_hosts{"), "no sweep, no hosts gauge");
        sweep(&mut reg, false, &[result("127.0.0.1", Some(3)), result("127.0.0.2", None)]);
        sweep(&mut reg, false, &[result("127.0.0.1", Some(30)), result("127.0.0.2", Some(1))]);
        let text = reg.render();
        assert!(text.contains("pinger_sweeps_total 2\n"));
        assert!(
            text.contains("pinger_hosts{status=\"alive\"} 2\n")
                && text.contains("pinger_hosts{status=\"timeout\"} 0\n")
        );
        assert!(text.contains("pinger_packets_sent_total 4\n"));
        assert!(text.contains("pinger_check_rtt_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(text.contains("pinger_check_rtt_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("pinger_check_rtt_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("pinger_check_rtt_seconds_count 3\n"));
        assert!(!text.contains("pinger_host_up"), "no per-host series unless asked for");
    }

    #[test]
    fn per_host_series_follow_the_last_sweeps_list() {
        let mut reg = Registry::default();
        sweep(&mut reg, true, &[result("127.0.0.1", Some(3)), result("127.0.0.2", None)]);
        sweep(&mut reg, true, &[result("127.0.0.1", Some(4)), result("127.0.0.3", Some(1))]);
        let text = reg.render();
        assert!(text.contains("pinger_host_up{host=\"127.0.0.1\"} 1\n"));
        assert!(text.contains("pinger_host_up{host=\"127.0.0.3\"} 1\n"));
        assert!(!text.contains("127.0.0.2"), "a host no longer swept has no series");
        assert!(text.contains("pinger_host_rtt_seconds_count{host=\"127.0.0.1\"} 2\n"));
        assert!(text.contains("pinger_host_rtt_seconds_bucket{host=\"127.0.0.1\",le=\"0.005\"} 2\n"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
