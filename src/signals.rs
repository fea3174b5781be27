//! SIGINT and SIGTERM end the current sweep cleanly (what was printed is also stored) and start no new one.

use std::io;

/// Set by SIGINT/SIGTERM (see [`install_signal_handlers`]): the current sweep ends cleanly, no new one starts.
pub static STOP: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicBool>> =
    std::sync::LazyLock::new(Default::default);

/// SIGINT and SIGTERM set [`STOP`] instead of killing the process, so that what was printed is also stored.
pub fn install_signal_handlers() -> io::Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&STOP))?;
    }
    Ok(())
}

pub(crate) fn stopping() -> bool {
    STOP.load(std::sync::atomic::Ordering::Relaxed)
}
