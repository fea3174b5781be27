//! The HTTP fetch of a host list, and the network fence around it: with `PINGER_ALLOW` set, every host pinger
//! would contact (the URL's, then each redirect's) is checked before a connection is opened, and no proxy from
//! the environment is used (a proxy is a connection to a host the fence never saw). What a good list is, and
//! what to fall back to, is `source.rs`'s business.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ureq::http::uri::{Parts, PathAndQuery};
use ureq::http::{header, StatusCode, Uri};
use ureq::unversioned::resolver::DefaultResolver;

use super::UrlConfig;
use crate::targets::Filter;

/// Redirects followed before giving up, as browsers and curl bound them: a loop must end.
pub const MAX_REDIRECTS: u32 = 5;

/// Why a fetch gave no list. The messages never repeat the URL: the caller names it, redacted.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a valid http:// or https:// URL")]
    BadUrl,
    #[error("{host:?} is outside PINGER_ALLOW, so it was not contacted")]
    Outside { host: String },
    #[error("the redirect to {host:?} was refused: it is outside PINGER_ALLOW, so it was not contacted")]
    RedirectOutside { host: String },
    #[error("HTTP {0} redirect without a usable Location header")]
    BadRedirect(u16),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("timeout: the whole fetch took longer than {0:?}")]
    Deadline(Duration),
    #[error("the list is larger than the {0} byte cap")]
    TooLarge(u64),
    #[error("the response holds no address")]
    NoAddress,
    #[error("{0}")]
    Http(ureq::Error),
}

/// Whether the network guard lets pinger contact the host of `uri`; if not, the host for the message.
/// With `PINGER_ALLOW` set, the host must be `localhost` or an address inside it: a name would need a DNS query,
/// which is traffic too.
pub(super) fn guard(uri: &Uri, filter: &Filter) -> Result<(), String> {
    if filter.allow.is_empty() {
        return Ok(());
    }
    let host = uri.host().unwrap_or("");
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(());
    }
    // What ureq connects to: its resolver hands `host:port`, made from the URL's authority by this very function,
    // to `to_socket_addrs`, which takes an IP literal (IPv6 in brackets, as in a URL) as it is and asks DNS
    // about anything else. Read the same way here, the guard checks the address ureq will use, not a guess at it.
    // (`host_and_port` is in ureq's `unversioned` API: an update that changes it fails the build, which is just
    // when this guard must be checked against ureq's resolver again.)
    let addr = uri
        .scheme()
        .zip(uri.authority())
        .and_then(|(scheme, authority)| DefaultResolver::host_and_port(scheme, authority))
        .and_then(|host_port| host_port.parse::<SocketAddr>().ok());
    match addr {
        Some(a) if filter.allow.iter().all(|l| l.iter().any(|c| c.contains(a.ip()))) => Ok(()),
        Some(a) => Err(a.ip().to_string()),
        None => Err(host.to_string()),
    }
}

/// `location` (a redirect's Location header) read against `base`, the URL that answered with it (RFC 3986
/// section 5.2, as ureq itself resolves redirects). `None` if the result is not a URL pinger can fetch.
pub(super) fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    // The fragment is the client's own business and never sent.
    let location = location.split('#').next().unwrap_or("");
    if has_scheme(location) {
        return checked(location.parse().ok()?).ok();
    }
    if location.starts_with("//") {
        return checked(format!("{}:{location}", base.scheme_str()?).parse().ok()?).ok();
    }
    let (path, query) = location.split_once('?').map_or((location, None), |(p, q)| (p, Some(q)));
    let path = if path.starts_with('/') {
        remove_dots(path)?
    } else if path.is_empty() {
        // A bare "?query" keeps the base path.
        base.path().to_string()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        remove_dots(&format!("{dir}/{path}"))?
    };
    let mut parts = Parts::from(base.clone());
    parts.path_and_query = Some(match query {
        Some(q) => format!("{path}?{q}").parse::<PathAndQuery>().ok()?,
        None => path.parse::<PathAndQuery>().ok()?,
    });
    checked(Uri::from_parts(parts).ok()?).ok()
}

/// `scheme:` at the start (RFC 3986 section 3.1): the Location is a whole URL, whatever follows.
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A URL is fetchable when it is http or https and names a host.
fn checked(uri: Uri) -> Result<Uri, ()> {
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    if web && uri.host().is_some_and(|h| !h.is_empty()) {
        Ok(uri)
    } else {
        Err(())
    }
}

/// Applies the `.` and `..` segments of an absolute path; `..` above the root is not a path.
fn remove_dots(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *s {
            "." if last => out.push(""),
            "." => {}
            ".." => {
                out.pop()?;
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// Fetches the list at `cfg.url`, following at most [`MAX_REDIRECTS`] redirects, each checked by the guard
/// before it is contacted, all within `cfg.timeout`.
pub(super) fn fetch(cfg: &UrlConfig, filter: &Filter) -> Result<Vec<u8>, FetchError> {
    let deadline = Instant::now() + cfg.timeout;
    let fenced = !filter.allow.is_empty();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(cfg.timeout.min(Duration::from_secs(5))))
        // ureq would follow a redirect anywhere; here each hop passes the guard first.
        .max_redirects(0)
        // ureq reads HTTPS_PROXY, ALL_PROXY and the like by default: under the fence that would hand the request
        // to a host the guard never checked.
        .proxy(if fenced { None } else { ureq::Proxy::try_from_env() })
        .user_agent(concat!("pinger/", env!("CARGO_PKG_VERSION"), " (host list fetch)"))
        .build()
        .into();
    let mut uri = cfg.url.expose().parse::<Uri>().map_err(drop).and_then(checked).map_err(|()| FetchError::BadUrl)?;
    guard(&uri, filter).map_err(|host| FetchError::Outside { host })?;
    for _ in 0..=MAX_REDIRECTS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FetchError::Deadline(cfg.timeout));
        }
        let mut resp =
            agent.get(uri.clone()).config().timeout_global(Some(left)).build().call().map_err(FetchError::Http)?;
        let status = resp.status();
        // 304 names no new place: it is an answer (and not a list), as ureq treats it.
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let next = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resolve(&uri, l))
                .ok_or(FetchError::BadRedirect(status.as_u16()))?;
            guard(&next, filter).map_err(|host| FetchError::RedirectOutside { host })?;
            uri = next;
            continue;
        }
        let body = resp.body_mut().with_config().limit(cfg.max_bytes).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge(cfg.max_bytes),
            e => FetchError::Http(e),
        })?;
        // An error page served with 200 is not a list: keep the last good one instead.
        let text = String::from_utf8_lossy(&body);
        let any = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .any(|l| l.parse::<crate::targets::Cidr>().is_ok());
        return if any { Ok(body) } else { Err(FetchError::NoAddress) };
    }
    Err(FetchError::TooManyRedirects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse_cidr_list;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_guard_lets_only_allowed_hosts_be_contacted() {
        let f = Filter { allow: vec![parse_cidr_list("127.0.0.0/8,::1/128").unwrap()] };
        assert!(guard(&uri("http://127.0.0.1:8080/list"), &f).is_ok());
        assert!(guard(&uri("http://user:pw@127.0.0.2/list"), &f).is_ok());
        assert!(guard(&uri("http://[::1]:80/list"), &f).is_ok());
        assert!(guard(&uri("http://localhost:9/x"), &f).is_ok());
        assert_eq!(guard(&uri(super::super::DEFAULT_URL), &f), Err("public-dns.info".into()));
        assert_eq!(guard(&uri("http://198.18.0.1/list"), &f), Err("198.18.0.1".into()));
        assert_eq!(guard(&uri("http://[2001:db8::1]/list"), &f), Err("2001:db8::1".into()));
        // ureq would ask DNS about these (only a bare IPv4 or a bracketed IPv6 address is a literal to it).
        assert_eq!(guard(&uri("http://[127.0.0.1]/list"), &f), Err("[127.0.0.1]".into()));
        assert_eq!(guard(&uri("http://[fe80::1%25lo]/list"), &f), Err("[fe80::1%25lo]".into()));
        assert!(guard(&uri(super::super::DEFAULT_URL), &Filter::default()).is_ok(), "no guard set: anything goes");
    }

    #[test]
    fn a_location_is_read_against_the_url_that_sent_it() {
        let base = uri("http://u:p@127.0.0.1:8080/lists/dns/all.txt?k=v");
        let r = |l: &str| resolve(&base, l).map(|u| u.to_string());
        assert_eq!(r("http://127.0.0.2/x").as_deref(), Some("http://127.0.0.2/x"));
        assert_eq!(r("//127.0.0.3:81/y").as_deref(), Some("http://127.0.0.3:81/y"));
        assert_eq!(r("/top?a=1#frag").as_deref(), Some("http://u:p@127.0.0.1:8080/top?a=1"));
        assert_eq!(r("other.txt").as_deref(), Some("http://u:p@127.0.0.1:8080/lists/dns/other.txt"));
        assert_eq!(r("../v4/./list").as_deref(), Some("http://u:p@127.0.0.1:8080/lists/v4/list"));
        assert_eq!(r("?b=2").as_deref(), Some("http://u:p@127.0.0.1:8080/lists/dns/all.txt?b=2"));
        assert_eq!(r("../../../../etc"), None, "above the root");
        assert_eq!(r("ftp://127.0.0.1/list"), None, "not a web URL");
        assert_eq!(r("http://"), None);
    }
}
