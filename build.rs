//! Tells the tests whether the build runs as root, so that tests which need root show as ignored, with the
//! reason, instead of passing without having run.
//!
//! Rust's test harness cannot ignore a test at run time, and a test that returns early when it is not root is
//! reported `ok`: a run as an ordinary user looked green while most of the suite had done nothing. So the
//! decision is made here, at build time: tests that need root carry
//! `#[cfg_attr(not(pinger_root), ignore = "needs root ...")]`, and this script sets `pinger_root` when the
//! build runs as root. Under `CI=true` it is always set: CI runs as root, and a CI that is not must fail those
//! tests (they check again at run time), never skip them. It has no effect on the library or the binary.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pinger_root)");
    println!("cargo::rerun-if-changed=build.rs");
    // Build scripts run again only when these change: CI, and USER, which sudo sets (the same checkout built by
    // another user).
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=USER");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root || std::env::var("CI").as_deref() == Ok("true") {
        println!("cargo::rustc-cfg=pinger_root");
    }
}
