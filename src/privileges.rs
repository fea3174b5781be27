//! Dropping privileges once the raw sockets are open: `--user NAME` makes the process that user (its primary
//! group, no supplementary groups), and the capabilities that opening the sockets needed (CAP_NET_RAW, and
//! CAP_NET_ADMIN for a forced receive buffer) leave the effective and permitted sets, whether they came from root
//! or from `setcap` on the binary. So the list fetch, DNS, the cache, the spool and the stores never run with
//! them. When to call these is `sweep.rs`'s business.

use std::ffi::CString;

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("--user {0}: no such user")]
    NoSuchUser(String),
    #[error("--user {user}: cannot switch ({what}): {source}")]
    Switch { user: String, what: &'static str, source: std::io::Error },
    #[error("--user {0}: still root after switching; refusing to go on")]
    StillRoot(String),
    #[error("cannot drop {cap} once the raw socket is open: {why}")]
    Caps { cap: &'static str, why: String },
}

/// Switches the whole process to `user`; returns its uid and gid.
pub fn drop_to(user: &str) -> Result<(u32, u32), PrivilegeError> {
    let name = CString::new(user).map_err(|_| PrivilegeError::NoSuchUser(user.into()))?;
    // SAFETY: passwd is integers and null pointers when zeroed: a valid value for getpwnam_r to fill in.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes into `pw` and `buf`, both alive and sized as passed.
    let rc = unsafe { libc::getpwnam_r(name.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return Err(PrivilegeError::NoSuchUser(user.into()));
    }
    let (uid, gid) = (pw.pw_uid, pw.pw_gid);
    let fail = |what| PrivilegeError::Switch { user: user.into(), what, source: std::io::Error::last_os_error() };
    // SAFETY: plain syscalls with integer arguments (setgroups with a count of 0 reads no list); order matters
    // (groups and gid while still root).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(fail("setgroups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(uid) != 0 {
            return Err(fail("setuid"));
        }
        if uid != 0 && (libc::geteuid() == 0 || libc::setuid(0) == 0) {
            return Err(PrivilegeError::StillRoot(user.into()));
        }
    }
    Ok((uid, gid))
}

/// Drops CAP_NET_RAW and CAP_NET_ADMIN from the effective, then the permitted set: a capability left permitted
/// could be raised again by whatever took over the process later. A no-op for a process that lacks them.
pub fn drop_socket_caps() -> Result<(), PrivilegeError> {
    use caps::{CapSet, Capability};
    for (cap, name) in [(Capability::CAP_NET_RAW, "CAP_NET_RAW"), (Capability::CAP_NET_ADMIN, "CAP_NET_ADMIN")] {
        let fail = |e: caps::errors::CapsError| PrivilegeError::Caps { cap: name, why: e.to_string() };
        // The effective set must stay inside the permitted one, so it goes first.
        for set in [CapSet::Effective, CapSet::Permitted] {
            if caps::has_cap(None, set, cap).map_err(fail)? {
                caps::drop(None, set, cap).map_err(fail)?;
            }
        }
    }
    Ok(())
}
