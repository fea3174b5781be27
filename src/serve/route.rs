//! What a request asks for: its URL (path and query) turned into a [`Route`], or the reason it cannot be
//! answered (400 for a malformed address or parameter, 404 for a path that is not a page). Sans-IO: a string in,
//! a value out; the server and the database are elsewhere.

use std::net::IpAddr;
use std::time::Duration;

/// HTML for people, JSON (the same data) for scripts: `/api/...` paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Json,
}

/// A window back from now, as the overview's `since` parameter gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Since {
    pub secs: f64,
    /// As the user wrote it (`24h`, `7d`), for links and titles.
    pub label: String,
}

/// The windows the overview offers as links; any other duration in [`SINCE_MIN`, `SINCE_MAX`] works too.
pub const SINCE_CHOICES: [&str; 3] = ["24h", "7d", "30d"];
pub const SINCE_MIN: Duration = Duration::from_secs(60);
/// Ten years: past every retention default, and far from any overflow of a Postgres interval.
pub const SINCE_MAX: Duration = Duration::from_secs(3653 * 86_400);

/// The span and grain of a host's latency chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartRange {
    Day,
    Week,
    Month,
    Year,
}

impl ChartRange {
    pub const ALL: [ChartRange; 4] = [ChartRange::Day, ChartRange::Week, ChartRange::Month, ChartRange::Year];

    pub fn label(self) -> &'static str {
        match self {
            ChartRange::Day => "1d",
            ChartRange::Week => "7d",
            ChartRange::Month => "30d",
            ChartRange::Year => "1y",
        }
    }

    /// One point per hour up to a month, per UTC day for a year.
    pub fn daily(self) -> bool {
        self == ChartRange::Year
    }

    /// Points on the chart: buckets back from (and including) the current one.
    pub fn buckets(self) -> i32 {
        match self {
            ChartRange::Day => 24,
            ChartRange::Week => 7 * 24,
            ChartRange::Month => 30 * 24,
            ChartRange::Year => 365,
        }
    }

    fn parse(s: &str) -> Option<ChartRange> {
        ChartRange::ALL.into_iter().find(|r| r.label() == s)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Overview { since: Since },
    Host { addr: IpAddr, range: ChartRange },
    Sweeps { limit: i64 },
}

pub const SWEEPS_DEFAULT: i64 = 100;
pub const SWEEPS_MAX: i64 = 1000;

/// Why a request gets no page: the status and what to tell the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    BadRequest(String),
    NotFound(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::NotFound(_) => 404,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Refusal::BadRequest(m) | Refusal::NotFound(m) => m,
        }
    }
}

/// `%XX` and (in queries) `+` decoded; `None` when the result is not UTF-8 or an escape is broken.
fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The value of query parameter `name` (the first one), decoded.
fn param(query: &str, name: &str) -> Result<Option<String>, Refusal> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k, true).as_deref() == Some(name) {
            return decode(v, true).map(Some).ok_or_else(|| {
                Refusal::BadRequest(format!("the {name} parameter is not valid percent-encoded UTF-8"))
            });
        }
    }
    Ok(None)
}

fn since_of(query: &str) -> Result<Since, Refusal> {
    let label = param(query, "since")?.unwrap_or_else(|| SINCE_CHOICES[0].into());
    let bad = || {
        Refusal::BadRequest(format!(
            "since takes a duration like 24h, 7d or 30d, from {} to {} days, not {:?}",
            humantime::format_duration(SINCE_MIN),
            SINCE_MAX.as_secs() / 86_400,
            clip(&label)
        ))
    };
    match humantime::parse_duration(label.trim()) {
        Ok(d) if (SINCE_MIN..=SINCE_MAX).contains(&d) => Ok(Since { secs: d.as_secs_f64(), label }),
        _ => Err(bad()),
    }
}

/// At most 80 characters of what the user sent, for a message.
fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The route for `url` (path and query, as in the request line).
pub fn route(url: &str) -> Result<(Format, Route), (Format, Refusal)> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let (format, page) = match path.strip_prefix("/api") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (Format::Json, rest),
        _ => (Format::Html, path),
    };
    let fail = |r: Refusal| (format, r);
    let page = match page {
        "" | "/" => "/",
        p => p.strip_suffix('/').unwrap_or(p),
    };
    let not_found = || {
        Refusal::NotFound(format!(
            "no page at {:?}: the pages are /, /host/ADDRESS and /sweeps (and the same under /api/ as JSON)",
            clip(path)
        ))
    };
    let overview = match format {
        Format::Html => "/",
        Format::Json => "/overview",
    };
    if page == overview {
        return since_of(query).map(|since| (format, Route::Overview { since })).map_err(fail);
    }
    if page == "/sweeps" {
        let limit = match param(query, "limit").map_err(fail)? {
            None => SWEEPS_DEFAULT,
            Some(l) => match l.trim().parse::<i64>() {
                Ok(n) if (1..=SWEEPS_MAX).contains(&n) => n,
                _ => {
                    return Err(fail(Refusal::BadRequest(format!(
                        "limit takes a whole number from 1 to {SWEEPS_MAX}, not {:?}",
                        clip(&l)
                    ))))
                }
            },
        };
        return Ok((format, Route::Sweeps { limit }));
    }
    if let Some(raw) = page.strip_prefix("/host/") {
        let text = decode(raw, false)
            .ok_or_else(|| fail(Refusal::BadRequest("the address is not valid percent-encoded UTF-8".into())))?;
        let addr: IpAddr = text.trim_matches(['[', ']']).parse().map_err(|_| {
            fail(Refusal::BadRequest(format!(
                "not an IP address: {:?} (a host page is /host/ followed by an IPv4 or IPv6 address)",
                clip(&text)
            )))
        })?;
        let range = match param(query, "range").map_err(fail)? {
            None => ChartRange::Day,
            Some(r) => ChartRange::parse(r.trim()).ok_or_else(|| {
                fail(Refusal::BadRequest(format!("range takes 1d, 7d, 30d or 1y, not {:?}", clip(&r))))
            })?,
        };
        return Ok((format, Route::Host { addr, range }));
    }
    Err(fail(not_found()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (Format, Route) {
        route(url).unwrap_or_else(|e| panic!("{url}: {e:?}"))
    }

    fn refused(url: &str) -> (u16, String) {
        let (_, r) = route(url).expect_err(url);
        (r.status(), r.message().to_string())
    }

    #[test]
    fn pages_and_their_json_twins_are_routed() {
        let day = Since { secs: 86_400.0, label: "24h".into() };
        assert_eq!(ok("/"), (Format::Html, Route::Overview { since: day.clone() }));
        assert_eq!(ok("/api/overview"), (Format::Json, Route::Overview { since: day }));
        assert_eq!(ok("/?since=7d").1, Route::Overview { since: Since { secs: 7.0 * 86_400.0, label: "7d".into() } });
        assert_eq!(ok("/sweeps/"), (Format::Html, Route::Sweeps { limit: SWEEPS_DEFAULT }));
        assert_eq!(ok("/api/sweeps?limit=5"), (Format::Json, Route::Sweeps { limit: 5 }));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(ok("/host/2001:db8::1?range=1y").1, Route::Host { addr: v6, range: ChartRange::Year });
        assert_eq!(ok("/api/host/2001%3Adb8%3A%3A1").1, Route::Host { addr: v6, range: ChartRange::Day });
        assert_eq!(ok("/host/[2001:db8::1]").1, Route::Host { addr: v6, range: ChartRange::Day });
    }

    #[test]
    fn malformed_input_is_a_bad_request_that_says_what_is_expected() {
        let (status, msg) = refused("/host/not-an-address");
        assert_eq!(status, 400);
        assert!(msg.contains("not an IP address: \"not-an-address\""), "{msg}");
        assert_eq!(refused("/host/127.0.0.1?range=2w").0, 400);
        assert_eq!(refused("/host/%ff").0, 400);
        assert_eq!(refused("/host/%4").0, 400);
        assert_eq!(refused("/sweeps?limit=-1").0, 400);
        assert_eq!(refused("/sweeps?limit=100000").0, 400);
        for huge in ["99999999999999999999999d", "1000000d", "1e400", "0s", "24", "-1d"] {
            let (status, msg) = refused(&format!("/?since={huge}"));
            assert_eq!(status, 400, "{huge}");
            assert!(msg.contains("since takes a duration"), "{msg}");
        }
        let long = "x".repeat(5000);
        assert!(refused(&format!("/host/{long}")).1.len() < 200, "the message does not repeat a long input whole");
    }

    #[test]
    fn paths_that_are_not_pages_are_not_found() {
        for p in ["/nope", "/host", "/host/", "/api", "/api/nope", "/overview", "/apix"] {
            assert_eq!(refused(p).0, 404, "{p}");
        }
        assert_eq!(route("/api/nope").unwrap_err().0, Format::Json, "an API path is answered in JSON");
    }
}
