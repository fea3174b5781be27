//! What the terminal sees: per-host lines (table or JSON Lines) on stdout from their own thread, a progress bar
//! and the summary on stderr.
//!
//! Formats results; decides nothing about them.

use std::io::{self, IsTerminal, Write};
use std::net::IpAddr;
use std::str::FromStr;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::outcome::{HostResult, ProbeError, Rtt, Status};
use crate::store::{decimal, ms, Rfc3339Cache};
use crate::time::WallClock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    None,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "none" => Ok(Format::None),
            _ => Err(format!("unknown format {s:?}: use table, json or none")),
        }
    }
}

/// Which hosts get a line (fping's -a and -u); the summary and the stores see every host whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    All,
    /// `-a`: hosts that answered.
    Alive,
    /// `-u`: hosts that did not (timeout or unreachable), as fping's "unreachable" means both.
    NotAlive,
}

/// What the per-host output shows, and in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Show {
    pub format: Format,
    pub only: Only,
    /// Lines in the order of the input (`--in-order`) rather than as each host becomes final.
    pub in_order: bool,
}

impl Only {
    fn admits(self, status: Status) -> bool {
        match self {
            Only::All => true,
            Only::Alive => status == Status::Alive,
            Only::NotAlive => status != Status::Alive,
        }
    }
}

#[derive(Serialize)]
struct JsonError {
    kind: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno: Option<i32>,
    message: String,
}

/// One result as a JSON line, written by hand: `serde_json`'s derive (a map entry a field, the IP address through
/// `Display` and then escaped) and a `String` for the time each line were the printer's whole work, on the core
/// the sweep's kernel work also wants. The first five fields are a contract with scripts; the rest may grow. The
/// test below holds it to what `serde_json` writes for the same fields, byte for byte. `second` is the time
/// formatted last: a sweep's lines share a few seconds.
fn write_json(line: &mut Vec<u8>, r: &HostResult, at_us: i64, second: &mut Rfc3339Cache) {
    line.extend_from_slice(b"{\"host\":\"");
    match r.host {
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push(b'.');
                }
                decimal(line, octet.into());
            }
        }
        // Digits, letters, colons and dots: nothing to escape.
        IpAddr::V6(a) => {
            let _ = write!(line, "{a}");
        }
    }
    line.extend_from_slice(b"\",\"status\":\"");
    line.extend_from_slice(r.status.as_str().as_bytes());
    line.push(b'"');
    let rtt = |f: fn(&Rtt) -> Duration| Number::Float(r.rtt.map(|t| ms(f(&t))));
    for (name, value) in [
        ("rtt_ms", rtt(|t| t.avg)),
        ("sent", Number::Count(r.sent)),
        ("received", Number::Count(r.received)),
        ("loss_pct", Number::Float(Some((r.loss_pct() * 100.0).round() / 100.0))),
        ("refused", Number::Count(r.refused)),
        ("rtt_min_ms", rtt(|t| t.min)),
        ("rtt_max_ms", rtt(|t| t.max)),
        ("duplicates", Number::Count(r.duplicates)),
        ("late", Number::Count(r.late)),
    ] {
        line.extend_from_slice(b",\"");
        line.extend_from_slice(name.as_bytes());
        line.extend_from_slice(b"\":");
        match value {
            Number::Count(n) => decimal(line, n.into()),
            // As `serde_json` writes a number: the shortest form that reads back the same, `null` for none (into a
            // vector, which cannot fail).
            Number::Float(v) => {
                let _ = serde_json::to_writer(&mut *line, &v);
            }
        }
    }
    line.extend_from_slice(b",\"error\":");
    match r.error {
        None => line.extend_from_slice(b"null"),
        // Rare, and its message is prose: the derive escapes it.
        Some(e) => {
            let _ = serde_json::to_writer(&mut *line, &json_error(e));
        }
    }
    line.extend_from_slice(b",\"at\":\"");
    second.write(line, at_us);
    line.extend_from_slice(b"\"}\n");
}

/// A JSON line's numeric fields.
enum Number {
    Count(u16),
    Float(Option<f64>),
}

fn json_error(e: ProbeError) -> JsonError {
    let p = e.parts();
    JsonError {
        kind: if matches!(e, ProbeError::Icmp { .. }) { "icmp" } else { "local" },
        icmp_type: p.icmp_type,
        code: p.code,
        from: p.from,
        errno: p.errno,
        message: e.describe(),
    }
}

/// One result as a row of the table.
fn write_row(out: &mut impl Write, width: usize, r: &HostResult) -> io::Result<()> {
    let rtt = |f: fn(&Rtt) -> Duration| r.rtt.map_or_else(|| "-".to_string(), |t| format!("{:.3}", ms(f(&t))));
    let mut detail = match r.error {
        Some(e @ ProbeError::Icmp { from, .. }) => format!("{} from {from}", e.describe()),
        Some(e) => e.describe(),
        None if r.late > 0 => counted(u64::from(r.late), "late reply", "late replies"),
        None => String::new(),
    };
    if r.refused > 0 {
        let sep = if detail.is_empty() { "" } else { "; " };
        detail = format!("{}{sep}{detail}", counted(u64::from(r.refused), "send refused", "sends refused"));
    }
    let line = format!(
        "{:<width$}  {:<11}  {:>4}  {:>4}  {:>4}  {:>8}  {:>8}  {:>8}  {:>3}  {}",
        r.host.to_string(),
        r.status.as_str(),
        r.sent,
        r.received,
        format!("{:.0}%", r.loss_pct()),
        rtt(|t| t.avg),
        rtt(|t| t.min),
        rtt(|t| t.max),
        r.duplicates,
        detail
    );
    writeln!(out, "{}", line.trim_end())
}

fn write_header(out: &mut impl Write, width: usize) -> io::Result<()> {
    writeln!(
        out,
        "{:<width$}  {:<11}  {:>4}  {:>4}  {:>4}  {:>8}  {:>8}  {:>8}  {:>3}  DETAIL",
        "HOST", "STATUS", "SENT", "RECV", "LOSS", "AVG_MS", "MIN_MS", "MAX_MS", "DUP"
    )
}

/// How the output thread ended.
#[derive(Debug, Default)]
pub struct Printed {
    /// stdout went away (a closed pipe); the sweep went on without it.
    pub broken: Option<io::Error>,
}

/// The printer's end: batches of results go in, emptied vectors come back for reuse.
pub struct Printer {
    tx: Sender<Vec<HostResult>>,
    spare: Receiver<Vec<HostResult>>,
    handle: JoinHandle<Printed>,
}

impl Printer {
    /// Hands over the results in `batch`, leaving an empty vector (recycled when one is back) in its place.
    pub fn send(&self, batch: &mut Vec<HostResult>) {
        let next = self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(batch.capacity()));
        // The printer only stops receiving if it panicked; the verdicts are counted by the caller anyway.
        let _ = self.tx.send(std::mem::replace(batch, next));
    }

    /// Waits until everything sent is printed.
    pub fn finish(self) -> Printed {
        drop(self.tx);
        // The printer looks for batches on its own clock (see `batches`); this is the one wake-up it gets.
        self.handle.thread().unpark();
        self.handle.join().unwrap_or_default()
    }
}

/// Starts the thread that prints results.
/// `wall` turns a result's `finished_at` into Unix time for the `at` field. `input_order`, the hosts
/// in the order of the input, is given with `--in-order` (`show.in_order`).
pub fn spawn(
    show: Show,
    total: usize,
    input_order: Option<&[IpAddr]>,
    ipv6: bool,
    progress: bool,
    wall: WallClock,
) -> Printer {
    let format = show.format;
    let order = input_order.map(InOrder::new);
    let (tx, rx) = crossbeam_channel::bounded::<Vec<HostResult>>(1024);
    let (spare_tx, spare) = crossbeam_channel::bounded(1024);
    let stdout_tty = io::stdout().is_terminal();
    // A scrolling table on the same terminal is progress enough.
    let show_bar = progress && io::stderr().is_terminal() && !(stdout_tty && format == Format::Table);
    let handle = std::thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            let width = if ipv6 { 39 } else { 15 };
            let lines =
                Lines { format, only: show.only, width, wall, json: Vec::new(), second: Rfc3339Cache::default() };
            print_all(rx, spare_tx, lines, order, total, show_bar)
        })
        .expect("spawning the output thread");
    Printer { tx, spare, handle }
}

/// How each line is written.
struct Lines {
    format: Format,
    only: Only,
    width: usize,
    wall: WallClock,
    /// A JSON line being written, and the second its time was in.
    json: Vec<u8>,
    second: Rfc3339Cache,
}

impl Lines {
    fn write(&mut self, out: &mut impl Write, r: &HostResult, report: &mut Printed) {
        if report.broken.is_some() || !self.only.admits(r.status) {
            return;
        }
        let done = match self.format {
            Format::None => Ok(()),
            Format::Json => {
                self.json.clear();
                write_json(&mut self.json, r, self.wall.unix_us(r.finished_at), &mut self.second);
                out.write_all(&self.json)
            }
            Format::Table => write_row(out, self.width, r),
        };
        report.broken = done.err();
    }
}

/// `--in-order`: results wait until every host before them in the input has been printed. Costs a slot per host
/// (only when asked for); a host that never became final (a signal) is skipped at the end.
struct InOrder {
    rank: std::collections::HashMap<IpAddr, usize>,
    held: Vec<Option<HostResult>>,
    next: usize,
}

impl InOrder {
    fn new(input: &[IpAddr]) -> InOrder {
        InOrder {
            rank: input.iter().enumerate().map(|(i, ip)| (*ip, i)).collect(),
            held: vec![None; input.len()],
            next: 0,
        }
    }

    /// Holds `r`, then hands over every result whose turn has come.
    fn push(&mut self, r: &HostResult, mut ready: impl FnMut(&HostResult)) {
        if let Some(slot) = self.rank.get(&r.host).and_then(|&i| self.held.get_mut(i)) {
            *slot = Some(*r);
        }
        while let Some(Some(r)) = self.held.get(self.next) {
            ready(r);
            self.next += 1;
        }
    }

    /// The rest, in order, skipping hosts with no result.
    fn drain(&mut self, mut ready: impl FnMut(&HostResult)) {
        for r in self.held[self.next.min(self.held.len())..].iter().flatten() {
            ready(r);
        }
        self.next = self.held.len();
    }
}

fn print_all(
    rx: Receiver<Vec<HostResult>>,
    spare: Sender<Vec<HostResult>>,
    mut lines: Lines,
    mut order: Option<InOrder>,
    total: usize,
    bar: bool,
) -> Printed {
    let (format, width) = (lines.format, lines.width);
    let bar = if bar {
        let pb = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} hosts  {per_sec}  eta {eta}") {
            pb.set_style(style);
        }
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut report = Printed::default();
    if format == Format::Table {
        report.broken = write_header(&mut out, width).err();
    }
    for mut batch in batches(&rx) {
        bar.inc(batch.len() as u64);
        for r in &batch {
            match order.as_mut() {
                Some(o) => o.push(r, |r| lines.write(&mut out, r, &mut report)),
                None => lines.write(&mut out, r, &mut report),
            }
        }
        if rx.is_empty() && report.broken.is_none() {
            report.broken = out.flush().err();
        }
        batch.clear();
        let _ = spare.try_send(batch);
    }
    if let Some(o) = order.as_mut() {
        o.drain(|r| lines.write(&mut out, r, &mut report));
    }
    if report.broken.is_none() {
        report.broken = out.flush().err();
    }
    bar.finish_and_clear();
    report
}

/// How soon the printer looks again after finding no results: at first, and after every batch.
const POLL_MIN: Duration = Duration::from_millis(1);
/// At most this long between looks: the wait doubles while none come (a slow `--rate` hands over every 50 ms).
const POLL_MAX: Duration = Duration::from_millis(32);

/// The batches as they come, until the sender is gone. While none waits the printer sleeps rather than waiting on
/// the channel: a receiver asleep on the channel is woken by every send, a futex call and an interrupt to the other
/// core for each handover, which cost the sweep's loop 1-3% of a 60,000-host sweep. It looks again after
/// [`POLL_MIN`], doubling up to [`POLL_MAX`] while nothing comes; [`Printer::finish`] wakes it once, at the end.
fn batches(rx: &Receiver<Vec<HostResult>>) -> impl Iterator<Item = Vec<HostResult>> + '_ {
    let mut nap = POLL_MIN;
    std::iter::from_fn(move || loop {
        match rx.try_recv() {
            Ok(batch) => {
                nap = POLL_MIN;
                return Some(batch);
            }
            Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                std::thread::park_timeout(nap);
                nap = (nap * 2).min(POLL_MAX);
            }
        }
    })
}

/// `n` and the noun for it: "1 late reply", "2 late replies".
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::time::Time;

    /// The line as `serde_json` writes it from a derived struct: what the hand-written one must equal.
    #[derive(Serialize)]
    struct JsonLine {
        host: IpAddr,
        status: Status,
        rtt_ms: Option<f64>,
        sent: u16,
        received: u16,
        loss_pct: f64,
        refused: u16,
        rtt_min_ms: Option<f64>,
        rtt_max_ms: Option<f64>,
        duplicates: u16,
        late: u16,
        error: Option<JsonError>,
        at: String,
    }

    fn theirs(r: &HostResult, at_us: i64) -> String {
        let line = JsonLine {
            host: r.host,
            status: r.status,
            rtt_ms: r.rtt.map(|t| ms(t.avg)),
            sent: r.sent,
            received: r.received,
            loss_pct: (r.loss_pct() * 100.0).round() / 100.0,
            refused: r.refused,
            rtt_min_ms: r.rtt.map(|t| ms(t.min)),
            rtt_max_ms: r.rtt.map(|t| ms(t.max)),
            duplicates: r.duplicates,
            late: r.late,
            error: r.error.map(json_error),
            at: crate::store::rfc3339(at_us),
        };
        serde_json::to_string(&line).unwrap() + "\n"
    }

    fn ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
            // Mostly zeros, as real IPv6 addresses are: the `::` forms.
            (any::<u16>(), any::<u16>(), 0..8usize).prop_map(|(a, b, at)| {
                let mut s = [0u16; 8];
                s[at] = a;
                s[7] = b;
                IpAddr::V6(Ipv6Addr::from(s))
            }),
        ]
    }

    fn result() -> impl Strategy<Value = HostResult> {
        let status = prop_oneof![Just(Status::Alive), Just(Status::Unreachable), Just(Status::Timeout)];
        let nanos = prop_oneof![0..2_000_000u64, 0..100_000_000_000u64];
        let rtt = proptest::option::of((nanos.clone(), nanos.clone(), nanos)).prop_map(|o| {
            o.map(|(a, b, c)| Rtt {
                avg: Duration::from_nanos(a),
                min: Duration::from_nanos(b),
                max: Duration::from_nanos(c),
            })
        });
        let error = proptest::option::of(prop_oneof![
            (any::<u8>(), any::<u8>(), ip()).prop_map(|(icmp_type, code, from)| ProbeError::Icmp {
                icmp_type,
                code,
                from
            }),
            any::<i32>().prop_map(|errno| ProbeError::Local { errno }),
        ]);
        (ip(), status, any::<[u16; 5]>(), rtt, error).prop_map(|(host, status, n, rtt, error)| HostResult {
            host,
            status,
            sent: n[0],
            refused: n[1],
            received: n[2],
            duplicates: n[3],
            late: n[4],
            rtt,
            error,
            finished_at: Time(0),
        })
    }

    proptest! {
        #[test]
        fn a_json_line_is_what_serde_json_writes(
            rs in proptest::collection::vec(result(), 1..20),
            // 2001 to 2033, in steps that cross seconds and stay within them.
            start in 1_000_000_000_000_000i64..2_000_000_000_000_000,
            steps in proptest::collection::vec(0..1_500_000i64, 20),
        ) {
            let (mut second, mut at) = (Rfc3339Cache::default(), start);
            for (r, step) in rs.iter().zip(steps) {
                at += step;
                let mut mine = Vec::new();
                write_json(&mut mine, r, at, &mut second);
                prop_assert_eq!(String::from_utf8(mine).unwrap(), theirs(r, at));
            }
        }
    }

    #[test]
    fn a_json_line_reads_back_as_the_result() {
        let r = HostResult {
            host: "127.0.0.1".parse().unwrap(),
            status: Status::Alive,
            sent: 3,
            refused: 0,
            received: 2,
            duplicates: 1,
            late: 0,
            rtt: Some(Rtt {
                avg: Duration::from_micros(41),
                min: Duration::from_micros(12),
                max: Duration::from_micros(70),
            }),
            error: None,
            finished_at: Time(0),
        };
        let mut line = Vec::new();
        write_json(&mut line, &r, 1_795_000_000_123_456, &mut Rfc3339Cache::default());
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["host"], "127.0.0.1");
        assert_eq!(v["status"], "alive");
        assert_eq!(v["rtt_ms"], 0.041);
        assert_eq!(v["loss_pct"], 33.33);
        assert_eq!(v["duplicates"], 1);
        assert_eq!(v["error"], serde_json::Value::Null);
        assert_eq!(v["at"], "2026-11-18T11:06:40.123456Z");
        assert!(line.ends_with(b"}\n"));
    }
}
