//! The HTML every page shares: escaping, the page frame (head, style, navigation), and how numbers, times and
//! durations are written. Every value that comes from data goes through [`esc`] (or [`attr`]) on its way into a
//! page: a list's source URL, a host name from another tool and an error message are all user data.
//!
//! No JavaScript and no request to anywhere else: the style is inline, the charts are inline SVG.

use std::fmt::Write as _;

/// `s` escaped for HTML text and for quoted attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment or query value percent-encoded (addresses hold `:`, which stays as it is; anything else that
/// is not plain is encoded), for links the page builds from data.
pub fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The link to a host's page.
pub fn host_href(host: &str) -> String {
    format!("/host/{}", url_part(host))
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#234;color:#fff;padding:8px 16px;display:flex;gap:24px;align-items:baseline}
header a{color:#cde;text-decoration:none}header a.here{color:#fff;font-weight:bold}
header .brand{font-weight:bold;font-size:16px;color:#fff}
main{padding:8px 16px 32px;max-width:1200px}
h1{font-size:20px;margin:12px 0 4px}h2{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;background:#fff}th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#eee;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;background:#fff;border:1px solid #ddd;padding:8px 12px}
.facts div b{display:block;font-size:18px}
.up{color:#080}.down{color:#c00}.partly{color:#c60}.muted{color:#777}
.switch a{padding:2px 8px;border:1px solid #bbb;border-radius:3px;text-decoration:none;margin-right:4px;color:#234}
.switch a.here{background:#234;color:#fff}
.error{background:#fee;border:1px solid #c66;padding:10px 14px}
svg{background:#fff;border:1px solid #ddd}svg text{font:11px system-ui,sans-serif;fill:#444}
.legend span{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 4px 0 12px}
";

/// Which page the navigation marks as the one shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Host,
    Sweeps,
    None,
}

/// A whole page: `title` (escaped here) and `body` (already HTML).
pub fn page(title: &str, nav: Nav, body: &str) -> String {
    let link = |href: &str, text: &str, here: bool| {
        format!("<a href=\"{href}\"{}>{text}</a>", if here { " class=\"here\"" } else { "" })
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} - pinger</title><style>{STYLE}</style></head><body>\
         <header><span class=\"brand\">pinger</span>{}{}</header><main>{body}</main></body></html>\n",
        esc(title),
        link("/", "Overview", nav == Nav::Overview),
        link("/sweeps", "Sweeps", nav == Nav::Sweeps),
    )
}

/// The page for an error: what went wrong, in words, and nothing else (no trace, no query).
pub fn error_page(status: u16, message: &str) -> String {
    let title = match status {
        400 => "Bad request",
        404 => "Not found",
        503 => "Database unavailable",
        _ => "Error",
    };
    page(title, Nav::None, &format!("<h1>{}</h1><p class=\"error\" id=\"error\">{}</p>", esc(title), esc(message)))
}

/// A percentage to two decimals, or a dash.
pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.2}%"),
        _ => "-".into(),
    }
}

/// Milliseconds, with precision that suits the size.
pub fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v < 10.0 => format!("{v:.3} ms"),
        Some(v) if v.is_finite() => format!("{v:.1} ms"),
        _ => "-".into(),
    }
}

/// A duration in seconds as people say it: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
pub fn duration(secs: Option<f64>) -> String {
    let Some(s) = secs.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "-".into();
    };
    if s < 10.0 {
        return format!("{s:.2}s");
    }
    let s = s as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, m) => format!("{m}m {sec}s"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// An optional text (a time from the database), escaped, or a dash.
pub fn text(v: Option<&str>) -> String {
    v.map_or("-".into(), esc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_is_shown_as_text() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
        let p = page("<b>", Nav::None, "");
        assert!(p.contains("<title>&lt;b&gt; - pinger</title>"));
        assert!(error_page(400, "not an IP address: \"<x>\"").contains("not an IP address: &quot;&lt;x&gt;&quot;"));
    }

    #[test]
    fn links_to_hosts_keep_addresses_readable_and_encode_the_rest() {
        assert_eq!(host_href("2001:db8::1"), "/host/2001:db8::1");
        assert_eq!(host_href("a b/\"c"), "/host/a%20b%2F%22c");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(Some(3.5)), "3.50s");
        assert_eq!(duration(Some(725.0)), "12m 5s");
        assert_eq!(duration(Some(12_000.0)), "3h 20m");
        assert_eq!(duration(Some(190_000.0)), "2d 4h");
        assert_eq!(duration(Some(f64::INFINITY)), "-");
        assert_eq!(duration(None), "-");
    }
}
