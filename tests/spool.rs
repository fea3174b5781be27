//! The spool forgets nothing: a file that cannot be read now is kept for the next run, and files set aside as not
//! being records are counted (summary and exit code 5) until a person deals with them. The real binary and a
//! private Postgres, as in `stores.rs`; links, FIFOs and stale temporary files are unit tests in
//! `src/store/spool_tests.rs`.

mod common;

use common::stores::PgServer;
use common::*;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};

fn in_spool(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == ext)).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn files_set_aside_as_bad_are_reported_and_keep_exit_code_5_until_someone_deals_with_them() {
    need_root();
    let pg = PgServer::start("spool-bad");
    let spool = spool_dir("bad");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(spool.join("00000000000000000001-0000000001-00000000.json"), b"{ half a record").unwrap();
    let sweep = || {
        run(pinger()
            .args(["127.0.0.1", "--format", "none"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("DATABASE_URL", pg.url()))
    };
    let first = sweep();
    assert_eq!(first.status.code(), Some(5), "a file set aside is not stored:\n{}", stderr(&first));
    assert!(stderr(&first).contains("1 files set aside in the spool as *.bad"), "{}", stderr(&first));
    assert_eq!(in_spool(&spool, "bad").len(), 1);
    assert!(in_spool(&spool, "json").is_empty());
    // Still there on the next run: still told, still exit code 5.
    let again = sweep();
    assert_eq!(again.status.code(), Some(5), "{}", stderr(&again));
    assert!(stderr(&again).contains("1 files set aside in the spool as *.bad"), "{}", stderr(&again));
    for f in in_spool(&spool, "bad") {
        std::fs::remove_file(f).unwrap();
    }
    let clean = sweep();
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_spool_file_pinger_cannot_read_now_is_kept_and_stored_by_a_later_run() {
    need_root();
    let pg = PgServer::start("spool-eacces");
    // The service user reaches and owns its spool: under /tmp, not in the checkout, which may sit in a 0700
    // directory (a home, or CI's private clone) that nobody cannot enter.
    let spool = std::env::temp_dir().join(format!("pinger-spool-eacces-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    std::fs::create_dir_all(&spool).unwrap();
    chown(&spool, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&spool, std::fs::Permissions::from_mode(0o700)).unwrap();
    let sweep = |cidr: &str| {
        run(pinger()
            .args([cidr, "--format", "none", "--user", "nobody"])
            .arg("--spool-dir")
            .arg(&spool)
            .env("DATABASE_URL", pg.url()))
    };
    assert_eq!(sweep("127.0.3.0/30").status.code(), Some(0), "applies the schema");
    pg.stop();
    let down = sweep("127.0.1.0/30");
    assert_eq!(down.status.code(), Some(5), "{}", stderr(&down));
    let spooled = in_spool(&spool, "json");
    assert!(spooled.len() >= 3, "start, rows and finish records spooled");
    // Files the service user cannot read (as a root run's spool would be after a switch to --user).
    for f in &spooled {
        chown(f, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    pg.start_again();
    let denied = sweep("127.0.2.0/30");
    assert_eq!(denied.status.code(), Some(5), "what waits in the spool is not stored:\n{}", stderr(&denied));
    assert!(stderr(&denied).contains("tried again next run"), "{}", stderr(&denied));
    assert_eq!(in_spool(&spool, "json"), spooled, "kept where they were:\n{}", stderr(&denied));
    assert!(in_spool(&spool, "bad").is_empty(), "a file that cannot be read now is not bad content");
    for f in &spooled {
        chown(f, Some(65534), Some(65534)).unwrap();
    }
    let later = sweep("127.0.4.0/30");
    assert_eq!(later.status.code(), Some(0), "{}", stderr(&later));
    assert!(in_spool(&spool, "json").is_empty());
    assert_eq!(pg.query("SELECT count(*) FROM sweeps WHERE finished_at IS NOT NULL"), "4");
    assert_eq!(pg.query("SELECT count(*) FROM pinger_data WHERE host << '127.0.1.0/30'"), "2");
    let _ = std::fs::remove_dir_all(&spool);
}
