//! The spool: records that Postgres could not take, one file each, durable (written, fsynced, renamed) and
//! replayed in order by the next run before its own rows.
//!
//! Replay is exactly once because of the store, not the spool: a batch's id commits with its rows, so a file
//! replayed twice (a crash between the commit and the delete) is skipped by Postgres the second time.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::Record;

#[derive(Debug, thiserror::Error)]
#[error("spool {path}: {source}")]
pub struct SpoolError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

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
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(|source| SpoolError { path: dir.to_path_buf(), source })?;
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
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let err = |source| SpoolError { path: path.clone(), source };
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(err)?;
        serde_json::to_writer(&mut f, record).map_err(|e| err(e.into()))?;
        f.write_all(b"\n").map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &path).map_err(err)?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(err)?;
        Ok(path)
    }

    /// The spooled files, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let err = |source| SpoolError { path: self.dir.clone(), source };
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && !is_hidden(p))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Reads a spooled record. A file that does not parse is moved aside (`.bad`) and reported, never replayed.
    pub fn read(&self, path: &Path) -> Result<Record, String> {
        let parsed = fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).map_err(|e| e.to_string()));
        parsed.map_err(|e| {
            let aside = path.with_extension("bad");
            let _ = fs::rename(path, &aside);
            format!("unreadable spool file {} ({e}); moved to {}", path.display(), aside.display())
        })
    }

    pub fn remove(&self, path: &Path) -> Result<(), SpoolError> {
        fs::remove_file(path).map_err(|source| SpoolError { path: path.to_path_buf(), source })
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}
