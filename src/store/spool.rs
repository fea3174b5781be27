//! The spool: records that Postgres could not take, one file each, durable (written, fsynced, renamed) and
//! replayed in order by the next run before its own rows.
//!
//! Replay is exactly once because of the store, not the spool: a batch's id commits with its rows, so a file
//! replayed twice (a crash between the commit and the delete) is skipped by Postgres the second time.
//!
//! Nothing in the spool is forgotten: a file that cannot be read now (permissions, too many open files, an I/O
//! error) stays where it is and is tried again by the next run; only what can never be a record (content that does
//! not parse, or an entry that is not a regular file, such as a link or a FIFO, which is never followed or
//! opened) is moved aside as `*.bad`, and those are counted until someone deals with them. Temporary files that a
//! crash or a full disk left are removed (see [`crate::files::remove_stale_temps`]). The directory rules are
//! `files.rs`'s.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Record;
use crate::files::{self, Opened};

#[derive(Debug, thiserror::Error)]
#[error("spool {path}: {source}")]
pub struct SpoolError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Why a spooled file gave no record.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Left in place: the next run tries it again.
    #[error("cannot read spool file {path} now ({source}); it stays in the spool and is tried again next run")]
    Retry { path: PathBuf, source: std::io::Error },
    /// Moved aside: it can never be a record.
    #[error("spool file {path} is not a record ({why}); moved aside to {aside}")]
    SetAside { path: PathBuf, why: String, aside: String },
}

#[derive(Clone)]
pub struct Spool {
    dir: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The default spool directory: `$PINGER_SPOOL_DIR`, else `/var/spool/pinger` for root, else
/// `$XDG_STATE_HOME/pinger/spool` (`~/.local/state/pinger/spool`).
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PINGER_SPOOL_DIR") {
        return d.into();
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return "/var/spool/pinger".into();
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    state.join("pinger/spool")
}

impl Spool {
    /// Opens the spool directory (created 0700; refused when another user owns it or others may write to it)
    /// and removes the temporary files a crash left in it.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        files::private_dir(dir).map_err(|source| SpoolError { path: dir.to_path_buf(), source })?;
        let removed = files::remove_stale_temps(dir, std::time::SystemTime::now());
        if removed > 0 {
            eprintln!(
                "pinger: removed {removed} temporary spool file(s) in {} left by an interrupted write",
                dir.display()
            );
        }
        Ok(Spool { dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one record durably. Names sort in write order, across runs and processes.
    pub fn write(&self, record: &Record) -> Result<PathBuf, SpoolError> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let name = format!(
            "{:020}-{:010}-{:08}.json",
            now.as_nanos(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join(&name);
        files::replace(&path, |f| {
            // Buffered: serde_json writes a token at a time, a system call each on a bare file (a spilled batch
            // is 50,000 rows).
            let mut w = BufWriter::with_capacity(1 << 16, f);
            serde_json::to_writer(&mut w, record)?;
            w.write_all(b"\n")?;
            w.flush()
        })
        .map_err(|source| SpoolError { path: path.clone(), source })?;
        Ok(path)
    }

    fn names(&self, ext: &str) -> Result<Vec<PathBuf>, SpoolError> {
        let err = |source| SpoolError { path: self.dir.clone(), source };
        let mut found: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == ext) && !is_hidden(p))
            .collect();
        found.sort();
        Ok(found)
    }

    /// The spooled files, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, SpoolError> {
        self.names("json")
    }

    /// The files set aside as not being records (`*.bad`): they wait for a person.
    pub fn bad(&self) -> Result<Vec<PathBuf>, SpoolError> {
        self.names("bad")
    }

    /// Reads a spooled record. What can never be a record is moved aside (`.bad`); a file that merely cannot be
    /// read now is left for the next run.
    pub fn read(&self, path: &Path) -> Result<Record, ReadError> {
        let retry = |source| ReadError::Retry { path: path.to_path_buf(), source };
        let mut bytes = Vec::new();
        match files::open_regular(path).map_err(retry)? {
            Opened::NotRegular(kind) => return Err(self.set_aside(path, format!("{kind}, refused, not followed"))),
            Opened::File(mut f) => f.read_to_end(&mut bytes).map_err(retry)?,
        };
        decode(&bytes).map_err(|e| self.set_aside(path, format!("it does not parse: {e}")))
    }

    /// Moves `path` aside as `*.bad` (the entry itself: a link is renamed, never followed).
    pub fn set_aside(&self, path: &Path, why: String) -> ReadError {
        let aside = path.with_extension("bad");
        let aside = match fs::rename(path, &aside) {
            Ok(()) => aside.display().to_string(),
            Err(e) => format!("nowhere: the rename failed ({e})"),
        };
        ReadError::SetAside { path: path.to_path_buf(), why, aside }
    }

    pub fn remove(&self, path: &Path) -> Result<(), SpoolError> {
        fs::remove_file(path).map_err(|source| SpoolError { path: path.to_path_buf(), source })
    }
}

/// The last microsecond of year 9999: later than any clock pinger runs on, and the last time RFC 3339 can write.
const LAST_US: i64 = 253_402_300_799_999_999;

/// A spool file's content as a record: what [`Spool::write`] puts in a file, read back. Pure (bytes in, record or
/// error out), so that whatever a file holds can be tried without a directory. A time before 1970 or after 9999
/// was never written by pinger, and replaying it would overflow the COPY encoding or be stored as Postgres'
/// `-infinity`: such a file is not a record.
pub fn decode(bytes: &[u8]) -> Result<Record, serde_json::Error> {
    let record: Record = serde_json::from_slice(bytes)?;
    let wrong = |t: &i64| !(0..=LAST_US).contains(t);
    let bad = match &record {
        Record::Sweep(s) => [Some(s.started_us), s.finished_us].into_iter().flatten().find(wrong),
        Record::Rows { rows, .. } => rows.iter().map(|r| r.at_us).find(wrong),
    };
    match bad {
        Some(t) => Err(serde::de::Error::custom(format!("time {t} us is not between 1970 and 9999"))),
        None => Ok(record),
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
