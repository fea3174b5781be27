//! Whole-sweep benchmark: pinger, `fping -q -c1 -i0 -t1000`, and a bare raw-socket baseline, side by side on the
//! same loopback lists, in one run, rounds interleaved so that machine noise hits all of them alike. Each round runs
//! the tools in a random order; "paired vs baseline" is the median of each run divided by the same round's bare
//! loop, the figure least moved by the machine's speed drifting between rounds.
//!
//! `make bench` (or `cargo bench --bench sweep`) runs it as root. Sizes: env SWEEP_SIZES (default
//! "60000,1000000"), rounds: SWEEP_ROUNDS (default 3). SWEEP_RAW=FILE appends every run as a CSV line (hosts, round,
//! tool, seconds), and `cargo bench --bench sweep -- --pool FILE` (`pool.rs`) pools them: per-run and pooled paired
//! medians with a 95% bootstrap interval. fping is skipped above 65,535 hosts, where it refuses
//! ("not enough sequence numbers"). Every list is 127.0.0.0/8 only, and PINGER_ALLOW is set for every child.
//!
//! The baseline (`sweep --baseline LIST`, `bare.rs`) is the simplest thing that can sweep: read the list, sendmmsg
//! echo requests in batches of 64, drain recvmmsg after each batch, count echo replies, stop when all came back or
//! one second after the last send. No tagging, no matching, no timestamps: our physical limit. Its io_uring twin
//! (`sweep --baseline-uring LIST`, `uring.rs`) does the same through one ring, to tell whether io_uring would move
//! that limit (issue 17). `sweep --baseline LIST stamped` is the bare loop asking the kernel for what pinger
//! asks on every receive (a kernel timestamp; the sender comes from the IP header): the part of pinger's cost
//! that is exactness. `sweep --baseline-split LIST [stamped] [nap]` (`split.rs`, not in the table) sends from one
//! thread and receives on another, to tell whether receiving on the other core would pay.

#[path = "sweep/bare.rs"]
mod bare;
#[path = "sweep/pool.rs"]
mod pool;
#[path = "sweep/split.rs"]
mod split;
#[path = "sweep/uring.rs"]
mod uring;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The tools, in the order of the table's rows.
const NAMES: [&str; 6] = [
    "pinger",
    "fping -q -c1 -i0 -t1000",
    "bare baseline",
    "bare io_uring, armed receives",
    "bare io_uring, MSG_DONTWAIT receives",
    "bare baseline with kernel receive timestamps (as pinger)",
];

const ALLOW: &str = "127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--baseline") {
        let stamped = args.get(i + 2).is_some_and(|a| a == "stamped");
        println!("{}", bare::sweep(Path::new(&args[i + 1]), stamped));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--baseline-split") {
        let has = |word: &str| args[i + 2..].iter().any(|a| a == word);
        println!("{}", split::sweep(Path::new(&args[i + 1]), has("stamped"), has("nap")));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--baseline-uring") {
        println!("{}", uring::sweep(Path::new(&args[i + 1]), uring::Recv::parse(args.get(i + 2))));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--pool") {
        if let Err(e) = pool::report(Path::new(args.get(i + 1).map_or("", String::as_str))) {
            eprintln!("sweep --pool: {e}");
            std::process::exit(2);
        }
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list`: nothing to enumerate
    }
    let sizes: Vec<usize> = std::env::var("SWEEP_SIZES")
        .unwrap_or_else(|_| "60000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rounds: usize = std::env::var("SWEEP_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let have_fping = Command::new("fping").arg("--version").output().is_ok();
    println!(
        "| hosts | tool | median wall s | runs | hosts answered | vs baseline | paired vs baseline | pinger speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut seed = seed();
    let mut raw = std::env::var_os("SWEEP_RAW")
        .map(|p| std::fs::OpenOptions::new().create(true).append(true).open(p).expect("open SWEEP_RAW"));
    for n in sizes {
        let list = dir.join(format!("loopback-{n}.txt"));
        write_list(&list, n);
        let mut times: [Vec<f64>; 6] = Default::default();
        let mut answered = [0usize; 6];
        let with_fping = have_fping && n <= 65_535;
        for round in 0..rounds {
            // Each round runs the tools in a fresh random order: the machine's speed drifts over seconds and a
            // tool always run first (or right after fping) would carry that drift in every round.
            let mut order = [0, 1, 2, 3, 4, 5];
            for i in (1..order.len()).rev() {
                order.swap(i, (next(&mut seed) % (i as u64 + 1)) as usize);
            }
            for i in order {
                let (t, a) = match i {
                    0 => run_pinger(&list),
                    1 if with_fping => run_fping(&list),
                    1 => continue,
                    2 => run_baseline(&list, "--baseline", ""),
                    3 => run_baseline(&list, "--baseline-uring", "armed"),
                    4 => run_baseline(&list, "--baseline-uring", "dontwait"),
                    _ => run_baseline(&list, "--baseline", "stamped"),
                };
                times[i].push(t);
                answered[i] = a;
                if let Some(f) = raw.as_mut() {
                    writeln!(f, "{n},{round},\"{}\",{t:.6}", NAMES[i]).expect("write SWEEP_RAW");
                }
            }
        }
        let med = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let m: Vec<Option<f64>> = times.iter().map(|v| med(v)).collect();
        let base = m[2].unwrap_or(f64::NAN);
        for (i, name) in NAMES.iter().enumerate() {
            let Some(t) = m[i] else { continue };
            let speedup = if i == 0 { String::new() } else { format!("{:.2}x", t / m[0].unwrap_or(f64::NAN)) };
            // The same round's bare loop divides each run: a slow stretch of the machine hits both.
            let paired: Vec<f64> = times[i].iter().zip(&times[2]).map(|(t, b)| t / b).collect();
            let paired = med(&paired).unwrap_or(f64::NAN);
            let fmt = |v: &[f64]| {
                let mut v = v.to_vec();
                v.sort_by(f64::total_cmp);
                v.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(" ")
            };
            println!(
                "| {n} | {name} | {t:.3} | {} | {} | {:.2}x | {paired:.2}x | {speedup} |",
                fmt(&times[i]),
                answered[i],
                t / base
            );
        }
    }
}

/// A seed for the rounds' order, different in each run (no random-number crate for six swaps).
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
}

/// xorshift64: the next number from `seed`, which it advances.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn write_list(path: &Path, n: usize) {
    if std::fs::metadata(path).is_ok() {
        return;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create list"));
    let first = u32::from(Ipv4Addr::new(127, 0, 0, 1));
    for i in 0..n as u32 {
        writeln!(f, "{}", Ipv4Addr::from(first + i)).expect("write list");
    }
}

fn timed(cmd: &mut Command) -> (f64, std::process::Output) {
    let t = Instant::now();
    let out = cmd.env("PINGER_ALLOW", ALLOW).stdin(Stdio::null()).output().expect("run benchmark child");
    (t.elapsed().as_secs_f64(), out)
}

fn run_pinger(list: &Path) -> (f64, usize) {
    let (t, out) = timed(Command::new(env!("CARGO_BIN_EXE_pinger")).args([
        "--hosts-file",
        list.to_str().unwrap_or_default(),
        "--count",
        "0",
        "--rate",
        "0",
        "--timeout",
        "1000",
        "--format",
        "json",
        "--no-store",
        "--no-progress",
    ]));
    let alive = out.stdout.split(|&b| b == b'\n').filter(|l| l.windows(9).any(|w| w == b"\"alive\",\"")).count();
    (t, alive)
}

fn run_fping(list: &Path) -> (f64, usize) {
    let (t, out) = timed(Command::new("fping").args(["-q", "-c1", "-i0", "-t1000", "-f"]).arg(list));
    let alive = String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains("1/1/0%")).count();
    (t, alive)
}

fn run_baseline(list: &Path, mode: &str, recv: &str) -> (f64, usize) {
    let exe = std::env::current_exe().expect("own path");
    let (t, out) = timed(Command::new(exe).arg(mode).arg(list).arg(recv));
    (t, String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0))
}
