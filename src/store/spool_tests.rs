//! The spool against what a directory can hold besides records: links, FIFOs, and temporary files a crash left.
//! Written against `Spool::open`, `write` and `read` only, and judged by what is left on disk.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Spool;
use crate::store::{Record, SweepInfo};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pinger-spool-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn record() -> Record {
    Record::Sweep(SweepInfo {
        id: uuid::Uuid::new_v4(),
        started_us: 1,
        finished_us: None,
        host_count: 1,
        alive: None,
        timeout: None,
        unreachable: None,
        source: "test".into(),
        options: serde_json::json!({}),
        version: "0".into(),
        vantage: "test".into(),
    })
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn a_fifo_in_the_spool_is_refused_not_read() {
    let dir = scratch("fifo");
    let spool = Spool::open(&dir).unwrap();
    let fifo = dir.join("00000000000000000001-0000000001-00000000.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Before, this read opened the FIFO and waited for a writer that never came: the run blocked for good.
    assert!(spool.read(&fifo).is_err());
    assert!(spool.pending().unwrap().is_empty(), "{:?}", names(&dir));
    assert_eq!(names(&dir), ["00000000000000000001-0000000001-00000000.bad"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_link_in_the_spool_is_refused_not_followed() {
    let (dir, elsewhere) = (scratch("link"), scratch("link-target"));
    let spool = Spool::open(&dir).unwrap();
    let target = Spool::open(&elsewhere).unwrap().write(&record()).unwrap();
    let link = dir.join("00000000000000000001-0000000001-00000000.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(spool.read(&link).is_err(), "a record behind a link must not be replayed");
    assert_eq!(names(&dir), ["00000000000000000001-0000000001-00000000.bad"]);
    assert!(fs::symlink_metadata(dir.join("00000000000000000001-0000000001-00000000.bad")).unwrap().is_symlink());
    assert!(fs::metadata(&target).unwrap().is_file(), "the link's target is left alone");
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&elsewhere);
}

#[test]
fn temporary_files_a_crash_left_are_cleaned_but_not_one_being_written() {
    use std::os::fd::AsRawFd;
    let dir = scratch("tmp");
    Spool::open(&dir).unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let make = |name: &str, when: SystemTime| {
        let f = fs::File::create(dir.join(name)).unwrap();
        f.set_modified(when).unwrap();
        f
    };
    drop(make(".crashed.json.tmp", hour_ago));
    drop(make(".fresh.json.tmp", SystemTime::now()));
    // An old one that a live (if very slow) writer still holds locked.
    let held = make(".slow.json.tmp", hour_ago);
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let spool = Spool::open(&dir).unwrap();
    assert_eq!(names(&dir), [".fresh.json.tmp", ".slow.json.tmp"]);
    // What the spool writes itself leaves no temporary file behind.
    spool.write(&record()).unwrap();
    assert_eq!(names(&dir).iter().filter(|n| n.ends_with(".tmp")).count(), 2);
    drop(held);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_record_that_does_not_parse_is_set_aside_and_a_good_one_is_read() {
    let dir = scratch("parse");
    let spool = Spool::open(&dir).unwrap();
    let good = spool.write(&record()).unwrap();
    let bad = dir.join("00000000000000000001-0000000001-00000000.json");
    fs::write(&bad, b"{not json").unwrap();
    assert!(spool.read(&good).is_ok());
    assert!(spool.read(&bad).is_err());
    assert!(dir.join("00000000000000000001-0000000001-00000000.bad").exists());
    assert_eq!(spool.pending().unwrap(), [good]);
    let _ = fs::remove_dir_all(&dir);
}

/// A spool file with this content (hand-edited, or damaged) once panicked the replay with an arithmetic overflow
/// in the COPY encoding (a debug build; a release build would have stored Postgres' `-infinity`).
const ROWS_AT_I64_MIN: &[u8] = br#"{"Rows":{"id":"00000000-0000-0000-0000-000000000001","sweep":"00000000-0000-0000-0000-000000000002","rows":[{"host":"127.0.0.1","at_us":-9223372036854775808,"status":"alive","rtt_ms":0.1,"rtt_min_ms":0.1,"rtt_max_ms":0.1,"sent":1,"received":1,"duplicates":0,"late":0,"icmp_type":null,"icmp_code":null,"icmp_from":null,"errno":null,"error":null}]}}"#;

#[test]
fn a_spool_file_with_a_time_before_1970_is_set_aside_not_replayed() {
    let dir = scratch("time");
    let spool = Spool::open(&dir).unwrap();
    let file = dir.join("00000000000000000001-0000000001-00000000.json");
    fs::write(&file, ROWS_AT_I64_MIN).unwrap();
    assert!(matches!(spool.read(&file), Err(super::ReadError::SetAside { .. })));
    assert_eq!(names(&dir), ["00000000000000000001-0000000001-00000000.bad"]);
    // Every time pinger can write is still read back, the first and the last microsecond it allows.
    let at = |t: i64| String::from_utf8_lossy(ROWS_AT_I64_MIN).replace("-9223372036854775808", &t.to_string());
    assert!(super::decode(at(0).as_bytes()).is_ok());
    assert!(super::decode(at(253_402_300_799_999_999).as_bytes()).is_ok());
    assert!(super::decode(at(253_402_300_800_000_000).as_bytes()).is_err());
    assert!(super::decode(at(-1).as_bytes()).is_err());
    let _ = fs::remove_dir_all(&dir);
}

/// Found by the `spool_record` fuzz target: a number too long for an integer, read as a float, came back from
/// the spool one unit in the last place off (serde_json's default float parser is fast, not exact).
const FLOAT_OFF_BY_ONE_ULP: &[u8] = br#"{"Sweep":{"id":"0190f6a0-0000-0000-8000-000000000003","started_us":1767225600000000,"finished_us":1767225601000000,"host_count":3,"***alive":1,"timeoastrted_useachable":1,"source":"filemmmmmmmmmmmmmmmmmmmmmmmmmmmms","options":{"count":null,"es":1,"ti_us":17672256020000001767225600000000,"finished_us":17},"version":"0.1.0"}}"#;

#[test]
fn a_spooled_record_reads_back_exactly_as_it_was_written() {
    let dir = scratch("exact");
    let spool = Spool::open(&dir).unwrap();
    let record = super::decode(FLOAT_OFF_BY_ONE_ULP).unwrap();
    let file = spool.write(&record).unwrap();
    assert_eq!(spool.read(&file).unwrap(), record);
    let _ = fs::remove_dir_all(&dir);
}
