//! The files pinger writes and reads back (the host-list cache, the spool), and the rules that keep a user who
//! controls a directory from steering pinger's writes: the directory must be pinger's own (created 0700; an
//! existing one owned by another user, or writable by group or others, is refused), a file is replaced whole
//! through a temporary file that is created new beside it (O_EXCL, O_NOFOLLOW, so it is never a link someone
//! planted) and then renamed, and a file read back must be a regular file (a link is not followed, a FIFO never
//! opened, so it cannot block a run).
//!
//! The directory's parents are the administrator's choice and are not checked; what it holds is. What goes into
//! the files is the callers' business.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A temporary file older than this, that no process holds locked, was left by a crash or a failed write and is
/// removed. A live write holds its lock until the rename; the age keeps the moment between creating and locking
/// a new temporary file safe too.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(10 * 60);

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Creates `dir` (and missing parents) with mode 0700, or checks the one that is there: it must be a directory
/// owned by this process's user and writable by no one else.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a directory"));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the directory is owned by uid {}, not by this user (uid {me}); pinger does not write where another \
                 user could swap its files: chown it to the user pinger runs as (--user), or choose another",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the directory is writable by group or others (mode {:o}); pinger does not write where another user \
                 could swap its files: chmod go-w it, or choose another",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Creates a new temporary file for `path`, beside it: hidden, unique to this process, never an existing file
/// or link, readable by its owner only, and locked (see [`remove_stale_temps`]).
fn create_temp(path: &Path) -> io::Result<(File, PathBuf)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok((f, tmp))
}

/// Replaces `path` whole with what `write` puts in a new temporary file beside it: written, fsynced, renamed,
/// and the directory fsynced. On any failure the temporary file is removed and `path` is as it was.
pub fn replace(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let (mut f, tmp) = create_temp(path)?;
    let done = write(&mut f).and_then(|()| f.sync_all()).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = done {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    drop(f);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all())
}

/// Removes the temporary files in `dir` that a crash or a full disk left: hidden `*.tmp` regular files older
/// than [`STALE_TEMP_AGE`] (by modification time, against `now`) that no process holds locked. Returns how many
/// it removed.
pub fn remove_stale_temps(dir: &Path, now: SystemTime) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let Ok(Opened::File(f)) = open_regular(&path) else { continue };
        let old = f
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_TEMP_AGE));
        // SAFETY: flock on a file descriptor we own; the lock goes with `f`.
        let unlocked = old && unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if unlocked && fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A file opened for reading, or why it was not opened.
#[derive(Debug)]
pub enum Opened {
    File(File),
    /// Not a regular file (a link, a FIFO, a device, a directory): refused, never followed or opened.
    NotRegular(&'static str),
}

fn kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file, without following a link or waiting on a FIFO.
pub fn open_regular(path: &Path) -> io::Result<Opened> {
    let t = fs::symlink_metadata(path)?.file_type();
    if !t.is_file() {
        return Ok(Opened::NotRegular(kind(t)));
    }
    // Checked again on the open file: the entry may have been swapped since.
    let f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(Opened::NotRegular("a symbolic link")),
        Err(e) => return Err(e),
    };
    let t = f.metadata()?.file_type();
    Ok(if t.is_file() { Opened::File(f) } else { Opened::NotRegular(kind(t)) })
}

/// Reads the whole of `path` if it is a regular file; a link, a FIFO or a device is an error, never opened.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    match open_regular(path)? {
        Opened::File(mut f) => {
            let mut bytes = Vec::new();
            io::Read::read_to_end(&mut f, &mut bytes)?;
            Ok(bytes)
        }
        Opened::NotRegular(kind) => Err(io::Error::other(format!("{kind}, not a regular file: not read"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pinger-files-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_new_directory_is_private_and_a_shared_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("dir");
        private_dir(&d.join("a/b")).unwrap();
        assert_eq!(fs::metadata(d.join("a/b")).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(d.join("a/b"), fs::Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&d.join("a/b")).unwrap_err();
        assert!(e.to_string().contains("writable by group or others"), "{e}");
        fs::write(d.join("file"), b"").unwrap();
        assert!(private_dir(&d.join("file")).is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_replaced_file_is_never_written_through_a_planted_link() {
        let d = scratch("replace");
        private_dir(&d).unwrap();
        let victim = d.join("victim");
        fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, d.join("list.tmp")).unwrap();
        let target = d.join("list");
        replace(&target, |f| f.write_all(b"new list\n")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new list\n");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        // A failed write leaves nothing behind and the old file as it was.
        let failed = replace(&target, |_| Err(io::Error::other("disk full")));
        assert!(failed.is_err());
        assert_eq!(fs::read(&target).unwrap(), b"new list\n");
        let left: Vec<_> = fs::read_dir(&d).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 3, "{left:?}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_link_or_a_fifo_is_refused_not_opened() {
        let d = scratch("open");
        private_dir(&d).unwrap();
        fs::write(d.join("real"), b"x").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("link")).unwrap();
        let fifo = std::ffi::CString::new(d.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(matches!(open_regular(&d.join("real")).unwrap(), Opened::File(_)));
        assert!(matches!(open_regular(&d.join("link")).unwrap(), Opened::NotRegular("a symbolic link")));
        assert!(matches!(open_regular(&d.join("fifo")).unwrap(), Opened::NotRegular("a FIFO")));
        assert!(open_regular(&d.join("missing")).is_err());
        let _ = fs::remove_dir_all(&d);
    }
}
