//! Whole-sweep benchmark: pinger, `fping -q -c1 -i0 -t1000`, and a bare raw-socket baseline, side by side on the
//! same loopback lists, in one run, rounds interleaved so that machine noise hits all three alike.
//!
//! `make bench` (or `cargo bench --bench sweep`) runs it as root. Sizes: env SWEEP_SIZES (default
//! "60000,1000000"), rounds: SWEEP_ROUNDS (default 3). fping is skipped above 65,535 hosts, where it refuses
//! ("not enough sequence numbers"). Every list is 127.0.0.0/8 only, and PINGER_ALLOW is set for every child.
//!
//! The baseline (`sweep --baseline LIST`) is the simplest thing that can sweep: read the list, sendmmsg echo
//! requests in batches of 64, drain recvmmsg after each batch, count echo replies, stop when all came back or
//! one second after the last send. No tagging, no matching, no timestamps: our physical limit.

use std::io::{BufRead, BufReader, Write};
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ALLOW: &str = "127.0.0.0/8,::1/128,198.18.0.0/15,2001:db8::/32";
const BATCH: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--baseline") {
        let received = baseline(Path::new(&args[i + 1]));
        println!("{received}");
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
        let mut times: [Vec<f64>; 3] = Default::default();
        let mut answered = [0usize; 3];
        for _ in 0..rounds {
            let (t, a) = run_pinger(&list);
            times[0].push(t);
            answered[0] = a;
            if have_fping && n <= 65_535 {
                let (t, a) = run_fping(&list);
                times[1].push(t);
                answered[1] = a;
            }
            let (t, a) = run_baseline(&list);
            times[2].push(t);
            answered[2] = a;
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let m: Vec<Option<f64>> = times.iter_mut().map(med).collect();
        let base = m[2].unwrap_or(f64::NAN);
        for (i, name) in ["pinger", "fping -q -c1 -i0 -t1000", "bare baseline"].iter().enumerate() {
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

fn run_baseline(list: &Path) -> (f64, usize) {
    let exe = std::env::current_exe().expect("own path");
    let (t, out) = timed(Command::new(exe).arg("--baseline").arg(list));
    (t, String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0))
}

/// The bare sweep. Returns the number of echo replies received.
fn baseline(list: &Path) -> usize {
    let f = std::fs::File::open(list).expect("open list");
    let addrs: Vec<Ipv4Addr> =
        BufReader::new(f).lines().map_while(Result::ok).filter_map(|l| l.trim().parse().ok()).collect();
    let sock = socket2::Socket::new_raw(socket2::Domain::IPV4, socket2::Type::RAW, Some(socket2::Protocol::ICMPV4))
        .expect("raw socket (run as root)");
    sock.set_nonblocking(true).expect("nonblocking");
    let fd = sock.as_raw_fd();
    let filter: u32 = !1; // echo replies only
    let big: i32 = 64 << 20;
    // SAFETY: plain setsockopt calls with values of the size passed.
    unsafe {
        libc::setsockopt(fd, libc::SOL_RAW, 1, (&filter as *const u32).cast(), 4);
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&big as *const i32).cast(), 4);
    }
    let mut pkts = vec![[0u8; 40]; BATCH];
    let mut rxbufs = vec![[0u8; 2048]; BATCH];
    let mut received = 0usize;
    let mut sent = 0usize;
    let mut last_send = Instant::now();
    while received < addrs.len() {
        if sent < addrs.len() {
            let n = (addrs.len() - sent).min(BATCH);
            // SAFETY: C structs, zero-initialised, pointing into vectors that outlive the call.
            let mut sas: [libc::sockaddr_in; BATCH] = unsafe { zeroed() };
            let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
            for i in 0..n {
                let k = sent + i;
                let p = &mut pkts[i];
                p[0] = 8;
                p[2..4].copy_from_slice(&[0, 0]);
                p[4..6].copy_from_slice(&((k >> 16) as u16).to_be_bytes());
                p[6..8].copy_from_slice(&(k as u16).to_be_bytes());
                let sum = pinger::wire::checksum(&p[..]);
                p[2..4].copy_from_slice(&sum.to_be_bytes());
                sas[i].sin_family = libc::AF_INET as libc::sa_family_t;
                sas[i].sin_addr.s_addr = u32::from(addrs[k]).to_be();
                iovs[i] = libc::iovec { iov_base: p.as_mut_ptr().cast(), iov_len: p.len() };
                msgs[i].msg_hdr.msg_name = (&mut sas[i] as *mut libc::sockaddr_in).cast();
                msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
                msgs[i].msg_hdr.msg_iov = &mut iovs[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: `n` headers initialised above.
            let rc = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as u32, 0) };
            if rc > 0 {
                sent += rc as usize;
                last_send = Instant::now();
            }
        } else if last_send.elapsed() > Duration::from_secs(1) {
            break;
        }
        loop {
            // SAFETY: as above.
            let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
            for i in 0..BATCH {
                iovs[i] = libc::iovec { iov_base: rxbufs[i].as_mut_ptr().cast(), iov_len: 2048 };
                msgs[i].msg_hdr.msg_iov = &mut iovs[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            let rc = unsafe {
                libc::recvmmsg(fd, msgs.as_mut_ptr(), BATCH as u32, libc::MSG_DONTWAIT, std::ptr::null_mut())
            };
            if rc <= 0 {
                break;
            }
            received += msgs[..rc as usize]
                .iter()
                .zip(&rxbufs)
                .filter(|(m, b)| m.msg_len >= 28 && b[((b[0] & 15) * 4) as usize] == 0)
                .count();
            if (rc as usize) < BATCH {
                break;
            }
        }
        if sent == addrs.len() && received < addrs.len() {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    received
}
