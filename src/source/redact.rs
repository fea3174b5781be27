//! The list's URL may carry a password (`user:pw@`) or a token (`?key=...`). This file is the one place that
//! decides how such a URL looks wherever it leaves the process: warnings, the summary, the cache header and
//! `sweeps.source`. Only the fetch reads the real URL. It does not hide a secret put into the path itself: that
//! cannot be told apart from a list's name.

use std::fmt;

const HIDDEN: &str = "***";

/// The `--hosts-url` value. It shows itself (`Display`, `Debug`) redacted by [`redact`], so that printing or
/// storing it cannot leak what it holds; [`ListUrl::expose`] is for the fetch alone.
#[derive(Clone, PartialEq, Eq)]
pub struct ListUrl(String);

impl ListUrl {
    pub fn new(url: impl Into<String>) -> ListUrl {
        ListUrl(url.into())
    }

    /// The URL as given, secrets included: only to be sent to the server it names.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ListUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for ListUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListUrl({:?})", redact(&self.0))
    }
}

/// `url` fit to be shown or stored: the whole userinfo becomes `***` (a bare user name is often a token itself,
/// as with `https://TOKEN@host/`), every query value becomes `***`, and so does a fragment. Every value, not
/// those with secret-looking names: a token is called `key`, `sig`, `auth`, `t` or anything else, and a list's
/// query rarely says anything a reader of the summary needs. Works on any string, parsable or not, since a bad
/// URL is printed too.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (&url[..s.len() + 3], r),
        None => ("", url),
    };
    let (before_fragment, fragment) = rest.split_once('#').map_or((rest, None), |(b, f)| (b, Some(f)));
    let (before_query, query) = before_fragment.split_once('?').map_or((before_fragment, None), |(b, q)| (b, Some(q)));
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            out.push_str(HIDDEN);
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if let Some(q) = query {
        out.push('?');
        let params: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) => format!("{k}={HIDDEN}"),
                // A bare `?abc123` may be the token itself.
                None if p.is_empty() => String::new(),
                None => HIDDEN.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    if fragment.is_some_and(|f| !f.is_empty()) {
        out.push('#');
        out.push_str(HIDDEN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_tokens_and_every_query_value_are_hidden() {
        let r = |s: &str| redact(s);
        assert_eq!(
            r("http://user:s3cret@127.0.0.1:8080/list?token=abc123"),
            "http://***@127.0.0.1:8080/list?token=***"
        );
        assert_eq!(r("https://ghp_abc123@example.org/x.txt"), "https://***@example.org/x.txt");
        assert_eq!(r("https://h/l?a=1&b=&c&&sig=xyz"), "https://h/l?a=***&b=***&***&&sig=***");
        assert_eq!(r("https://h/l#access_token=abc123"), "https://h/l#***");
        assert_eq!(r("https://h/l?k=v#"), "https://h/l?k=***");
        // An '@' in the path or query is not userinfo.
        assert_eq!(r("http://h/a@b?c=d@e"), "http://h/a@b?c=***");
        assert_eq!(r("http://u:p@[::1]:80/"), "http://***@[::1]:80/");
        assert_eq!(r("u:p@h/x?t=1"), "***@h/x?t=***", "no scheme: still an authority first");
    }

    #[test]
    fn a_url_without_secrets_is_shown_as_given() {
        for url in ["https://public-dns.info/nameservers-all.txt", "http://127.0.0.1:9/", "http://[::1]", "x y"] {
            assert_eq!(redact(url), url);
        }
    }

    #[test]
    fn a_list_url_shows_itself_redacted_and_only_the_fetch_sees_the_secret() {
        let u = ListUrl::new("http://u:s3cret@h/l?t=abc123");
        for shown in [u.to_string(), format!("{u:?}"), format!("{:?}", Some(&u))] {
            assert!(!shown.contains("s3cret") && !shown.contains("abc123"), "{shown}");
        }
        assert_eq!(u.expose(), "http://u:s3cret@h/l?t=abc123");
    }
}
