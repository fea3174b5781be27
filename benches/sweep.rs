//! Whole-sweep benchmark: pinger, `fping -q -c1 -i0 -t1000`, and a bare raw-socket baseline, side by side on the
//! same loopback lists, in one run, rounds interleaved so that machine noise hits all three alike.
//!
//! `make bench` (or `cargo bench --bench sweep`) runs it as root. Sizes: env SWEEP_SIZES (default
//! "60000,1000000"), rounds: SWEEP_ROUNDS (default 3). fping is skipped above 65,535 hosts, where it refuses
//! ("not enough sequence numbers"). Every list is 127.0.0.0/8 only, and PINGER_ALLOW is set for every child.
//!
//! The baseline (`sweep --baseline LIST`, `bare.rs`) is the simplest thing that can sweep: read the list, sendmmsg
//! echo requests in batches of 64, drain recvmmsg after each batch, count echo replies, stop when all came back or
//! one second after the last send. No tagging, no matching, no timestamps: our physical limit. Its io_uring twin
//! (`sweep --baseline-uring LIST`, `uring.rs`) does the same through one ring, to tell whether io_uring would move
//! that limit (issue 17). `sweep --baseline LIST stamped` is the bare loop asking the kernel for what pinger
//! asks on every receive (a kernel timestamp; the sender comes from the IP header): the part of pinger's cost
//! that is exactness.

#[path = "sweep/bare.rs"]
mod bare;
#[path = "sweep/uring.rs"]
mod uring;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const ALLOW: &str = "127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--baseline") {
        let stamped = args.get(i + 2).is_some_and(|a| a == "stamped");
        println!("{}", bare::sweep(Path::new(&args[i + 1]), stamped));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--baseline-uring") {
        println!("{}", uring::sweep(Path::new(&args[i + 1]), uring::Recv::parse(args.get(i + 2))));
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
    println!("| hosts | tool | median wall s | runs | hosts answered | vs baseline | pinger speed-up |");
    println!("|---|---|---|---|---|---|---|");
    for n in sizes {
        let list = dir.join(format!("loopback-{n}.txt"));
        write_list(&list, n);
        let mut times: [Vec<f64>; 6] = Default::default();
        let mut answered = [0usize; 6];
        for _ in 0..rounds {
            let (t, a) = run_pinger(&list);
            times[0].push(t);
            answered[0] = a;
            if have_fping && n <= 65_535 {
                let (t, a) = run_fping(&list);
                times[1].push(t);
                answered[1] = a;
            }
            for (i, mode, recv) in [
                (2, "--baseline", ""),
                (3, "--baseline-uring", "armed"),
                (4, "--baseline-uring", "dontwait"),
                (5, "--baseline", "stamped"),
            ] {
                let (t, a) = run_baseline(&list, mode, recv);
                times[i].push(t);
                answered[i] = a;
            }
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let m: Vec<Option<f64>> = times.iter_mut().map(med).collect();
        let base = m[2].unwrap_or(f64::NAN);
        for (i, name) in [
            "pinger",
            "fping -q -c1 -i0 -t1000",
            "bare baseline",
            "bare io_uring, armed receives",
            "bare io_uring, MSG_DONTWAIT receives",
            "bare baseline with kernel receive timestamps (as pinger)",
        ]
        .iter()
        .enumerate()
        {
            let Some(t) = m[i] else { continue };
            let speedup = if i == 0 { String::new() } else { format!("{:.2}x", t / m[0].unwrap_or(f64::NAN)) };
            let fmt = |v: &[f64]| v.iter().map(|t| format!("{t:.3}")).collect::<Vec<_>>().join(" ");
            println!("| {n} | {name} | {t:.3} | {} | {} | {:.2}x | {speedup} |", fmt(&times[i]), answered[i], t / base);
        }
    }
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
