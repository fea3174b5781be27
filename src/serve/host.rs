//! A host's page (`/host/ADDRESS`): its status now (Redis), its availability over 24 h, 7 d, 30 d and 365 d,
//! the latency chart (1 d / 7 d / 30 d hourly, 1 y daily, switchable), and its outages, newest first. Data in,
//! HTML out.

use std::fmt::Write as _;

use super::data::HostView;
use super::html::{duration, esc, host_href, ms, page, pct, text, Nav};
use super::route::ChartRange;
use super::smoke::{latency_chart, legend};

pub fn render(h: &HostView, range: ChartRange) -> String {
    let mut b = format!("<h1>Host <span id=\"host\">{}</span></h1>", esc(&h.host));
    b += &now(h);
    b += &windows(h);
    let _ = write!(b, "<h2>Latency</h2><p class=\"switch\" id=\"range\">");
    for r in ChartRange::ALL {
        let _ = write!(
            b,
            "<a href=\"{}?range={}\"{}>{}</a>",
            esc(&host_href(&h.host)),
            r.label(),
            if r == range { " class=\"here\"" } else { "" },
            r.label()
        );
    }
    let bucket = if range.daily() { 86_400.0 } else { 3600.0 };
    let _ = write!(
        b,
        "</p><div id=\"chart\">{}</div>{}<p class=\"muted\">{} points, one per {} with checks (UTC); the median \
         is estimated from each {}'s RTT histogram</p>",
        latency_chart(&h.points, h.from, bucket, range.buckets()),
        legend(),
        h.points.len(),
        h.grain,
        h.grain
    );
    b += &outages(h);
    page(&format!("Host {}", h.host), Nav::Host, &b)
}

fn now(h: &HostView) -> String {
    let mut b = String::from("<h2>Now</h2><div class=\"facts\" id=\"now\">");
    match &h.now.status {
        Some(s) => {
            let class = if s == "alive" { "up" } else { "down" };
            let _ = write!(
                b,
                "<div><b class=\"{class}\" id=\"status\">{}</b>latest sweep</div><div><b>{}</b>round trip</div>\
                 <div><b>{}</b>checked at (UTC)</div>",
                esc(s),
                ms(h.now.rtt_ms),
                // To the second, as every other time on the page.
                text(h.now.at.as_deref().map(|a| a.get(..19).map_or(a.to_string(), |s| format!("{s}Z"))).as_deref())
            );
        }
        None => {
            let _ = write!(b, "<div><b id=\"status\" class=\"muted\">unknown</b>latest sweep</div>");
        }
    }
    let _ = write!(b, "<div><b>{}</b>last check in Postgres (UTC)</div></div>", text(h.last_check.as_deref()));
    if let Some(note) = &h.now.note {
        let _ = write!(b, "<p class=\"muted\" id=\"now-note\">{}</p>", esc(note));
    }
    b
}

fn windows(h: &HostView) -> String {
    let mut b = String::from(
        "<h2>Availability</h2><table id=\"windows\"><thead><tr><th>over</th><th class=\"num\">availability</th>\
         <th class=\"num\">checks</th><th class=\"num\">failed</th><th class=\"num\">probe loss</th>\
         <th>last alive (UTC)</th></tr></thead><tbody>",
    );
    for w in &h.windows {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&w.window),
            pct(w.availability_pct),
            w.checks,
            w.failures,
            pct(w.loss_pct),
            text(w.last_alive.as_deref())
        );
    }
    b.push_str("</tbody></table>");
    b += &vantages(h);
    b
}

/// Each vantage point's view over 24 h, when the vantage points have names (several pingers write the history).
fn vantages(h: &HostView) -> String {
    if h.vantages.iter().all(|v| v.vantage.is_empty()) {
        return String::new();
    }
    let mut b = String::from(
        "<h2>By vantage point, over 24h</h2><table id=\"vantages\"><thead><tr><th>vantage point</th>\
         <th class=\"num\">availability</th><th class=\"num\">checks</th><th class=\"num\">failed</th>\
         <th class=\"num\">probe loss</th><th>now</th><th>last alive (UTC)</th></tr></thead><tbody>",
    );
    for v in &h.vantages {
        let now = if v.up_now { "up" } else { "down" };
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"{now}\">{now}</td><td>{}</td></tr>",
            esc(if v.vantage.is_empty() { "-" } else { &v.vantage }),
            pct(Some(v.availability_pct)),
            v.checks,
            v.failures,
            pct(v.loss_pct),
            text(v.last_alive.as_deref())
        );
    }
    b.push_str("</tbody></table>");
    b
}

fn outages(h: &HostView) -> String {
    let mut b = String::from("<h2>Outages</h2>");
    if h.outages.is_empty() {
        b.push_str("<p id=\"outages\" class=\"up\">No outage recorded.</p>");
        return b;
    }
    let seen = super::data::seen_from(&h.outages);
    let _ = write!(
        b,
        "<table id=\"outages\"><thead><tr><th>from (UTC)</th><th>to (UTC)</th><th class=\"num\">lasted</th>\
         <th class=\"num\">failed checks</th>{}</tr></thead><tbody>",
        if h.outages.iter().any(|x| !x.vantage.is_empty()) { "<th>seen from</th>" } else { "" }
    );
    for o in &h.outages {
        let (to, class) = match &o.ended_at {
            Some(e) => (esc(e), ""),
            None => ("going on".to_string(), " class=\"down\""),
        };
        let _ = write!(
            b,
            "<tr{class}><td>{}</td><td>{to}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
            esc(&o.started_at),
            duration(o.duration_s),
            o.failed_checks,
            seen(o)
        );
    }
    b.push_str("</tbody></table>");
    b
}
