//! Real-browser tests' processes: children in process groups of their own (killed whole on drop), Debian's
//! chromium, node and playwright-core found (or a failure that says how to get them), and a hang guard.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child in a process group of its own, killed with the whole group on drop: php behind the script's `exec`,
/// and chromium's processes behind node, never outlive the test, whichever way it ends.
pub struct Group(pub Child);

impl Group {
    pub fn spawn(cmd: &mut Command) -> Group {
        Group(cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this test created (its id is the leader's pid).
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// Debian's chromium, node and the npm packages of tests/browser, or a failure that says how to get them: the
/// test never passes by skipping.
pub fn browser_tools(browser_dir: &Path) -> PathBuf {
    let chromium = PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    let mut missing = Vec::new();
    if !chromium.exists() {
        missing.push(format!("{} (apt-get install chromium)", chromium.display()));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (apt-get install nodejs npm)".to_string());
    }
    if !browser_dir.join("node_modules/playwright-core/package.json").exists() {
        missing.push(format!("playwright-core (npm ci --prefix {})", browser_dir.display()));
    }
    if !missing.is_empty() {
        let why = if std::env::var("CI").as_deref() == Ok("true") {
            ".ci/run installs them before `make test`, so the CI environment is broken"
        } else {
            "install them as shown (as .ci/run does) and run the test again"
        };
        panic!("the browser test needs {}: {why}", missing.join(", "));
    }
    chromium
}

/// Waits for `child` to exit; a hang guard, not a performance claim.
pub fn wait_for(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(started.elapsed() < limit, "{what} still runs after {limit:?}: killed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a browser script (`node SCRIPT ...`, its arguments and environment set by the test) in a process group
/// of its own, waits for it (at most 5 minutes, a hang guard), fails the test with what the script printed
/// unless it succeeded, and checks that each screenshot `PREFIX-NAME.png` was saved in `shots`.
pub fn run_browser_script(node: &mut Command, shots: &Path, prefix: &str, names: &[&str]) {
    use std::io::Read;
    use std::process::Stdio;
    node.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut browser = Group::spawn(node);
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let stdout = read(Box::new(browser.0.stdout.take().unwrap()));
    let stderr = read(Box::new(browser.0.stderr.take().unwrap()));
    let status = wait_for(&mut browser.0, Duration::from_secs(300), "the browser script");
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "the browser check failed ({status}):\n{stdout}{stderr}\nscreenshots in {}",
        shots.display()
    );
    for name in names {
        let png = std::fs::read(shots.join(format!("{prefix}-{name}.png"))).unwrap_or_default();
        assert!(png.starts_with(b"\x89PNG"), "screenshot {prefix}-{name}.png saved in {}", shots.display());
    }
}
