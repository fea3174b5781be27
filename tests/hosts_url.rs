//! Host lists from a URL (a server this test starts on 127.0.0.1), with the cache and the shipped file as
//! fallbacks. No test here reaches outside this machine: every URL is local, every list is loopback or, inside a
//! namespace the test creates, the test range.

mod common;

use common::http::{HttpServer, Reply};
use common::*;
use std::io::Write;
use std::path::PathBuf;

const GOOD: &str = "127.0.0.11\n127.0.0.12\n127.0.0.13\n127.0.0.14\n127.0.0.19";
const SHIPPED: &str = "127.0.1.1\n127.0.1.2\n";

fn server() -> HttpServer {
    HttpServer::start(|path| {
        let ok = |body: &[u8]| Reply::Full(200, vec![], body.to_vec());
        // Only this route looks at the query: it proves the real URL, token and all, was the one fetched.
        if path.starts_with("/private?") {
            return match path {
                "/private?token=abc123&list=all" => ok(GOOD.as_bytes()),
                _ => Reply::Full(403, vec![], b"bad token".to_vec()),
            };
        }
        match path.split('?').next().unwrap_or(path) {
            "/good" => ok(GOOD.as_bytes()),
            "/404" => Reply::Full(404, vec![], b"not found".to_vec()),
            "/500" => Reply::Full(500, vec![], b"oops".to_vec()),
            "/hang" => Reply::Silent,
            "/big" => ok(&"127.0.0.1\n".repeat(500).into_bytes()),
            "/html" => ok(b"<html><body>maintenance</body></html>"),
            "/messy" => ok(b"# resolvers\r\n127.0.0.21\r\n\r\n  127.0.0.22  \r\ngarbage here!\r\n127.0.0.21\r\n127.0.0.23 # x\r\n127.0.0.24"),
            "/redirect" => Reply::Full(302, vec![("Location".into(), "/good".into())], vec![]),
            "/relative/hop" => Reply::Full(301, vec![("Location".into(), "../redirect".into())], vec![]),
            "/loop" => Reply::Full(302, vec![("Location".into(), "/loop".into())], vec![]),
            "/gzip" => {
                let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(GOOD.as_bytes()).unwrap();
                Reply::Full(200, vec![("Content-Encoding".into(), "gzip".into())], z.finish().unwrap())
            }
            _ => Reply::Full(404, vec![], vec![]),
        }
    })
}

struct Paths {
    cache: PathBuf,
    shipped: PathBuf,
}

fn paths(tag: &str) -> Paths {
    paths_in(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), tag)
}

/// Paths the service user (nobody) can reach: under /tmp, not in the checkout, which may sit in a 0700
/// directory (a home, or CI's private clone) that nobody cannot enter.
fn paths_for_nobody(tag: &str) -> Paths {
    paths_in(&std::env::temp_dir().join(format!("pinger-hosts-url-{}", std::process::id())), tag)
}

fn paths_in(base: &std::path::Path, tag: &str) -> Paths {
    let dir = base.join(format!("hosts-url-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = dir.join("shipped-hosts");
    std::fs::write(&shipped, SHIPPED).unwrap();
    Paths { cache: dir.join("cache/hosts"), shipped }
}

/// Sweeps whatever the URL gives (or the fallbacks); returns the sorted hosts reported and stderr.
fn sweep(url: &str, p: &Paths, extra: &[&str]) -> (Vec<String>, String, Option<i32>) {
    let out = run(pinger()
        .args(["--hosts-url", url, "--format", "json", "--fetch-timeout", "3"])
        .arg("--hosts-cache")
        .arg(&p.cache)
        .arg("--fallback-hosts")
        .arg(&p.shipped)
        .args(extra));
    let mut hosts: Vec<String> = results_by_host(&out).into_keys().collect();
    hosts.sort();
    (hosts, stderr(&out), out.status.code())
}

fn good() -> Vec<String> {
    GOOD.lines().map(String::from).collect()
}

fn shipped() -> Vec<String> {
    SHIPPED.lines().map(String::from).collect()
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_good_list_is_swept_with_its_first_and_last_lines_and_kept_as_the_cache() {
    need_root();
    let (srv, p) = (server(), paths("good"));
    let (hosts, err, code) = sweep(&srv.url("/good"), &p, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(hosts, good(), "{err}");
    assert!(err.contains(&format!("list: {} (fetched now)", srv.url("/good"))), "{err}");
    assert!(std::fs::read_to_string(&p.cache).unwrap().contains("127.0.0.19"));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_404_with_no_cache_falls_back_to_the_shipped_list_and_says_why() {
    need_root();
    let (srv, p) = (server(), paths("404"));
    let (hosts, err, code) = sweep(&srv.url("/404"), &p, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(hosts, shipped());
    assert!(err.contains("shipped list") && err.contains("404") && err.contains("no cache"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_500_after_a_good_fetch_uses_the_cache_and_says_how_old_it_is() {
    need_root();
    let (srv, p) = (server(), paths("500"));
    assert_eq!(sweep(&srv.url("/good"), &p, &[]).0, good());
    let (hosts, err, code) = sweep(&srv.url("/500"), &p, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(hosts, good());
    assert!(err.contains("cache") && err.contains("ago") && err.contains("500"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_server_that_never_answers_is_given_up_on_at_the_timeout() {
    need_root();
    let (srv, p) = (server(), paths("hang"));
    let walls: Vec<f64> = ["1", "3"]
        .iter()
        .map(|t| {
            let started = std::time::Instant::now();
            let out = run(pinger()
                .args(["--hosts-url", &srv.url("/hang"), "--format", "json", "--fetch-timeout", t])
                .arg("--hosts-cache")
                .arg(&p.cache)
                .arg("--fallback-hosts")
                .arg(&p.shipped));
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            assert!(stderr(&out).contains("shipped list"), "{}", stderr(&out));
            assert_eq!(results_by_host(&out).len(), 2);
            started.elapsed().as_secs_f64()
        })
        .collect();
    // It waited for the timeout (at least), and not much more: three times the timeout takes about three times
    // as long.
    assert!(walls[0] >= 1.0 && walls[1] >= 3.0, "{walls:?}");
    let ratio = walls[1] / walls[0];
    assert!((2.0..4.0).contains(&ratio), "timeouts 1 s and 3 s took {walls:?}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_list_larger_than_the_cap_is_refused_and_the_fallback_used() {
    need_root();
    let (srv, p) = (server(), paths("big"));
    let (hosts, err, _) = sweep(&srv.url("/big"), &p, &["--max-list-bytes", "1000"]);
    assert_eq!(hosts, shipped());
    assert!(err.contains("larger than the 1000 byte cap"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn an_html_page_served_with_200_is_not_taken_for_a_list() {
    need_root();
    let (srv, p) = (server(), paths("html"));
    let (hosts, err, _) = sweep(&srv.url("/html"), &p, &[]);
    assert_eq!(hosts, shipped());
    assert!(err.contains("holds no address"), "{err}");
    assert!(!p.cache.exists(), "a bad fetch must not replace the cache");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_messy_list_keeps_every_valid_line_and_counts_the_rest() {
    need_root();
    let (srv, p) = (server(), paths("messy"));
    let (hosts, err, _) = sweep(&srv.url("/messy"), &p, &[]);
    assert_eq!(hosts, ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"]);
    assert!(err.contains("invalid lines 1") && err.contains("duplicate entries 1"), "{err}");
    assert!(err.contains(":5:") && err.contains("garbage here!"), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_redirect_is_followed_and_gzip_is_unpacked() {
    need_root();
    let srv = server();
    assert_eq!(sweep(&srv.url("/redirect"), &paths("redirect"), &[]).0, good());
    assert_eq!(sweep(&srv.url("/gzip"), &paths("gzip"), &[]).0, good());
    assert_eq!(sweep(&srv.url("/relative/hop"), &paths("relative"), &[]).0, good());
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_redirect_loop_is_given_up_after_five_hops() {
    need_root();
    let srv = server();
    let (hosts, err, code) = sweep(&srv.url("/loop"), &paths("loop"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(hosts, shipped());
    assert!(err.contains("more than 5 redirects"), "{err}");
    // The first request and five redirects followed: six in all.
    assert_eq!(srv.connections(), 6, "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_redirect_to_a_host_outside_pinger_allow_is_refused_and_never_contacted() {
    need_root();
    // Both servers are on loopback, so that even a bug here stays on this machine; the guard below lets only
    // the first be contacted.
    let outside = HttpServer::start_at("127.0.0.2", |_| Reply::Full(200, vec![], GOOD.as_bytes().to_vec()));
    let target = outside.url("/list");
    let inside = HttpServer::start(move |_| Reply::Full(302, vec![("Location".into(), target.clone())], vec![]));
    let p = paths("redirect-out");
    let fallback = p.shipped.with_file_name("fallback-hosts");
    std::fs::write(&fallback, "127.0.0.1\n").unwrap();
    let out = run(pinger()
        .env("PINGER_ALLOW", "127.0.0.1/32")
        .args(["--hosts-url", &inside.url("/list"), "--format", "json", "--fetch-timeout", "3"])
        .arg("--hosts-cache")
        .arg(&p.cache)
        .arg("--fallback-hosts")
        .arg(&fallback));
    let err = stderr(&out);
    assert_eq!(outside.connections(), 0, "the redirect was followed beyond the fence:\n{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("redirect to \"127.0.0.2\"") && err.contains("outside PINGER_ALLOW"), "{err}");
    assert!(err.contains("shipped list") && err.contains("fallback-hosts"), "{err}");
    assert_eq!(results_by_host(&out).into_keys().collect::<Vec<_>>(), ["127.0.0.1"], "{err}");
    assert!(!p.cache.exists(), "a refused fetch must not write the cache");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn proxy_settings_in_the_environment_are_not_used_under_pinger_allow() {
    need_root();
    // A "proxy" that only counts who connects: under the fence the list must come straight from the server.
    let proxy = HttpServer::start_at("127.0.0.3", |_| Reply::Full(502, vec![], b"proxy".to_vec()));
    let proxy_url = proxy.url("");
    let (srv, p) = (server(), paths("proxy"));
    let mut cmd = pinger();
    for k in ["NO_PROXY", "no_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"] {
        cmd.env_remove(k);
    }
    for k in ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"] {
        cmd.env(k, &proxy_url);
    }
    let out = run(cmd
        .args(["--hosts-url", &srv.url("/good"), "--format", "json", "--fetch-timeout", "3"])
        .arg("--hosts-cache")
        .arg(&p.cache)
        .arg("--fallback-hosts")
        .arg(&p.shipped));
    let err = stderr(&out);
    assert_eq!(proxy.connections(), 0, "the proxy from the environment was used:\n{err}");
    let mut hosts: Vec<String> = results_by_host(&out).into_keys().collect();
    hosts.sort();
    assert_eq!(hosts, good(), "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn under_pinger_allow_the_default_shipped_list_is_never_the_fallback() {
    need_root();
    // A working directory that holds a `hosts` file, as the repository does: it must not be swept here.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("shipped-guard");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hosts"), "127.0.0.77\n").unwrap();
    let srv = server();
    let out = run(pinger()
        .current_dir(&dir)
        .args(["--hosts-url", &srv.url("/404"), "--format", "json"])
        .args(["--hosts-cache", dir.join("no-cache").to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("not used while PINGER_ALLOW is set"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn count_takes_the_first_hosts_of_the_fetched_list() {
    need_root();
    let (srv, p) = (server(), paths("count"));
    let (hosts, err, _) = sweep(&srv.url("/good"), &p, &["--count", "2"]);
    assert_eq!(hosts, ["127.0.0.11", "127.0.0.12"], "{err}");
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_url_outside_pinger_allow_is_never_contacted() {
    need_root();
    let p = paths("guard");
    // 127.0.9.9 is outside the guard below (still loopback, so that even a bug here stays on this machine).
    let out = run(pinger()
        .env("PINGER_ALLOW", "127.0.1.0/24")
        .args(["--hosts-url", "http://127.0.9.9:9/list", "--format", "json"])
        .arg("--hosts-cache")
        .arg(&p.cache)
        .arg("--fallback-hosts")
        .arg(&p.shipped));
    let err = stderr(&out);
    assert!(err.contains("outside PINGER_ALLOW, so it was not contacted"), "{err}");
    assert_eq!(results_by_host(&out).len(), 2);
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn under_the_fence_host_names_come_from_etc_hosts_and_unknown_ones_are_reported() {
    need_root();
    let ns = Netns::new("names");
    ns.ip_in(&["route", "add", "local", "198.18.0.0/24", "dev", "lo"]);
    // `ip netns exec` shows these files as /etc/hosts and /etc/resolv.conf inside the namespace. Under the fence
    // (PINGER_ALLOW) names come from /etc/hosts only: the unknown one is reported, and never asked of the
    // resolver (none on the namespace's loopback either).
    let etc = std::path::PathBuf::from("/etc/netns").join(&ns.name);
    std::fs::create_dir_all(&etc).unwrap();
    let _cleanup = RemoveOnDrop(etc.clone());
    std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n198.18.0.7 pinger-test-a\n198.18.0.8 pinger-test-b\n")
        .unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n").unwrap();
    let list = list_file(
        "names.txt",
        ["pinger-test-a", "198.18.0.1", "no-such-name.invalid", "pinger-test-b"].map(String::from),
    );
    let out = run(ns.pinger().arg("--hosts-file").arg(&list).args(["--format", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut hosts: Vec<String> = results_by_host(&out).into_keys().collect();
    hosts.sort();
    assert_eq!(hosts, ["198.18.0.1", "198.18.0.7", "198.18.0.8"]);
    let err = stderr(&out);
    assert!(
        err.contains("host name not in /etc/hosts")
            && err.contains("no-such-name.invalid")
            && err.contains("unresolved names 1"),
        "{err}"
    );
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn a_password_or_token_in_the_list_url_is_never_printed_or_kept_in_the_cache() {
    need_root();
    let (srv, p) = (server(), paths("secret"));
    let url = |path: &str| format!("http://pinger:s3cret@127.0.0.1:{}{path}?token=abc123&list=all", srv.port);
    let shown = |path: &str| format!("http://***@127.0.0.1:{}{path}?token=***&list=***", srv.port);
    let sweep = |path: &str| {
        let out = run(pinger()
            .args(["--hosts-url", &url(path), "--format", "json", "--fetch-timeout", "3"])
            .arg("--hosts-cache")
            .arg(&p.cache)
            .arg("--fallback-hosts")
            .arg(&p.shipped));
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(!all.contains("s3cret") && !all.contains("abc123"), "a secret was printed:\n{all}");
        let cache = std::fs::read_to_string(&p.cache).unwrap_or_default();
        assert!(!cache.contains("s3cret") && !cache.contains("abc123"), "a secret was cached:\n{cache}");
        (results_by_host(&out).len(), stderr(&out))
    };
    // A good fetch: the summary names the list, the cache keeps it.
    let (n, err) = sweep("/private");
    assert_eq!(n, good().len(), "{err}");
    assert!(err.contains(&format!("list: {} (fetched now)", shown("/private"))), "{err}");
    assert!(std::fs::read_to_string(&p.cache).unwrap().contains(&shown("/private")));
    // A bad line is reported with the list's name.
    let (_, err) = sweep("/messy");
    assert!(err.contains(&format!("{}:5:", shown("/messy"))), "{err}");
    // A failed fetch is explained in a warning, and the cache is used.
    let (n, err) = sweep("/500");
    assert_eq!(n, 4, "the cache of the /messy fetch:\n{err}");
    assert!(err.contains(&format!("fetching {} failed", shown("/500"))), "{err}");
}

/// A cache directory that belongs to the service user (uid 65534, nobody), holding `hosts.tmp`, a link the
/// service user planted to a file only root may write; returns the link's target.
fn planted_link(p: &Paths) -> PathBuf {
    use std::os::unix::fs::{chown, lchown, PermissionsExt};
    let dir = p.cache.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    // The service user must be able to reach its own directory.
    for d in [dir.parent().unwrap(), dir.parent().unwrap().parent().unwrap()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&p.shipped, std::fs::Permissions::from_mode(0o644)).unwrap();
    chown(dir, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = dir.parent().unwrap().join("root-only");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.join("hosts.tmp");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    lchown(&link, Some(65534), Some(65534)).unwrap();
    victim
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn root_never_writes_where_the_service_user_points_it() {
    need_root();
    let (srv, p) = (server(), paths_for_nobody("planted-link"));
    let victim = planted_link(&p);
    let (hosts, err, code) = sweep(&srv.url("/good"), &p, &["--user", "nobody"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(hosts, good(), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "root wrote through the link:\n{err}");
    // The fetch, and so the cache write, ran as the service user, in its own directory.
    let cache = std::fs::metadata(&p.cache).expect("the cache is kept");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&cache), 65534, "{err}");
    assert!(std::fs::read_to_string(&p.cache).unwrap().contains("127.0.0.19"));
}

#[test]
#[cfg_attr(not(pinger_root), ignore = "needs root (raw sockets, network namespaces): run as root, as CI does")]
fn root_does_not_keep_its_cache_in_a_directory_another_user_owns() {
    need_root();
    let (srv, p) = (server(), paths_for_nobody("foreign-dir"));
    let victim = planted_link(&p);
    let (hosts, err, code) = sweep(&srv.url("/good"), &p, &[]);
    assert_eq!(code, Some(0), "the sweep itself goes on:\n{err}");
    assert_eq!(hosts, good(), "{err}");
    assert!(err.contains("cannot keep the list") && err.contains("owned by uid 65534"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "root wrote through the link:\n{err}");
    assert!(!p.cache.exists());
}
