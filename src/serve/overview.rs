//! The overview page (`/`): the answer first. The latest sweep in a line of figures, the outages going on now
//! (longest first), the least available hosts over a window (24 h / 7 d / 30 d, switchable), and an
//! availability heatmap of hosts (or networks) by day. Data in, HTML out.

use std::fmt::Write as _;

use super::data::{Heatmap, Overview, Sweep};
use super::html::{duration, esc, host_href, page, pct, text, url_part, Nav};
use super::route::SINCE_CHOICES;

pub fn render(o: &Overview) -> String {
    let mut b = String::new();
    let _ = write!(b, "<h1>Overview</h1><p class=\"muted\">as of {} UTC</p>", esc(&o.now));
    b += &latest(o.latest_sweep.as_ref());
    b += &outages_now(o);
    b += &least(o);
    b += &heatmap(&o.heatmap);
    page("Overview", Nav::Overview, &b)
}

fn latest(s: Option<&Sweep>) -> String {
    let Some(s) = s else {
        return "<h2>Latest sweep</h2><p id=\"latest\">No sweep is stored yet: run pinger with a database.</p>".into();
    };
    let fig =
        |label: &str, value: String, class: &str| format!("<div><b class=\"{class}\">{value}</b>{}</div>", esc(label));
    let n = |v: Option<i64>| v.map_or("-".into(), |v| v.to_string());
    let mut b = String::from("<h2>Latest sweep</h2><div class=\"facts\" id=\"latest\">");
    b += &fig("hosts", s.host_count.to_string(), "");
    b += &fig("alive", n(s.alive), "up");
    b += &fig("timeout", n(s.timeout), "down");
    b += &fig("unreachable", n(s.unreachable), "down");
    b += &fig("took", if s.finished_at.is_some() { duration(s.duration_s) } else { "running".into() }, "");
    b += &fig("started (UTC)", esc(&s.started_at), "");
    let _ = write!(b, "<div><b class=\"source\">{}</b>host list</div>", esc(&s.source));
    b.push_str("</div>");
    b
}

fn outages_now(o: &Overview) -> String {
    let mut b = format!("<h2>Outages going on now: {}</h2>", o.outages_now_total);
    if o.outages_now.is_empty() {
        b.push_str("<p id=\"outages-now\" class=\"up\">None: every host answered its latest check.</p>");
        return b;
    }
    let seen = super::data::seen_from(&o.outages_now);
    let _ = write!(
        b,
        "<table id=\"outages-now\"><thead><tr><th>host</th><th>down since (UTC)</th><th class=\"num\">for</th>\
         <th class=\"num\">failed checks</th><th>last failed check</th>{}</tr></thead><tbody>",
        if o.outages_now.iter().any(|x| !x.vantage.is_empty()) { "<th>seen from</th>" } else { "" }
    );
    for x in &o.outages_now {
        let _ = write!(
            b,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td>{}</tr>",
            esc(&host_href(&x.host)),
            esc(&x.host),
            esc(&x.started_at),
            duration(x.duration_s),
            x.failed_checks,
            esc(&x.last_failed_at),
            seen(x)
        );
    }
    b.push_str("</tbody></table>");
    if o.outages_now_total > o.outages_now.len() as i64 {
        let _ = write!(b, "<p class=\"muted\">the {} longest of {}</p>", o.outages_now.len(), o.outages_now_total);
    }
    b
}

/// Links to the same page over each offered window, the current one marked.
fn switch(current: &str) -> String {
    let mut b = String::from("<p class=\"switch\" id=\"since\">");
    for c in SINCE_CHOICES {
        let _ = write!(
            b,
            "<a href=\"/?since={}\"{}>{c}</a>",
            url_part(c),
            if c == current { " class=\"here\"" } else { "" }
        );
    }
    b.push_str("</p>");
    b
}

fn least(o: &Overview) -> String {
    let mut b = format!("<h2>Least available hosts over {}</h2>{}", esc(&o.since), switch(&o.since));
    if o.least_available.is_empty() {
        let _ = write!(b, "<p id=\"least\">No host was checked in the last {}.</p>", esc(&o.since));
        return b;
    }
    b.push_str(
        "<table id=\"least\"><thead><tr><th class=\"num\">#</th><th>host</th><th class=\"num\">availability</th>\
         <th class=\"num\">checks</th><th class=\"num\">failed</th><th class=\"num\">probe loss</th><th>now</th>\
         <th>last alive (UTC)</th></tr></thead><tbody>",
    );
    for (i, a) in o.least_available.iter().enumerate() {
        let _ = write!(
            b,
            "<tr><td class=\"num\">{}</td><td class=\"host\"><a href=\"{}\">{}</a></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{}\">{}</td>\
             <td>{}</td></tr>",
            i + 1,
            esc(&host_href(&a.host)),
            esc(&a.host),
            pct(Some(a.availability_pct)),
            a.checks,
            a.failures,
            pct(a.loss_pct),
            match a.state.as_str() {
                "up" => "up",
                "partly down" => "partly",
                _ => "down",
            },
            esc(&a.now_text()),
            text(a.last_alive.as_deref())
        );
    }
    let _ = write!(
        b,
        "</tbody></table><p class=\"muted\">the {} least available of {} hosts checked in the window, as of {} \
         UTC</p>",
        o.least_available.len(),
        o.hosts_in_window,
        esc(&o.least_as_of)
    );
    b
}

/// A cell's colour by availability.
fn heat_colour(v: Option<f64>) -> &'static str {
    match v {
        None => "#eee",
        Some(v) if v >= 100.0 => "#2e9e3e",
        Some(v) if v >= 99.9 => "#8cc152",
        Some(v) if v >= 99.0 => "#f2d024",
        Some(v) if v >= 95.0 => "#f39c33",
        Some(_) => "#d9383a",
    }
}

fn heatmap(h: &Heatmap) -> String {
    let mut b = format!(
        "<h2>Availability by day{}</h2>",
        h.grouped_by.as_deref().map_or(String::new(), |g| format!(", hosts grouped by network ({})", esc(g)))
    );
    if h.rows.is_empty() {
        b.push_str("<p id=\"heatmap\">No finished day yet: a day shows here once it is over (UTC).</p>");
        return b;
    }
    b.push_str("<table id=\"heatmap\" class=\"heat\"><thead><tr><th>host</th><th class=\"num\">avail.</th>");
    for d in &h.days {
        let _ = write!(b, "<th title=\"{}\" style=\"font-size:10px\">{}</th>", esc(d), esc(d.get(5..).unwrap_or(d)));
    }
    b.push_str("</tr></thead><tbody>");
    for r in &h.rows {
        let label = if h.grouped_by.is_none() {
            format!("<a href=\"{}\">{}</a>", esc(&host_href(&r.label)), esc(&r.label))
        } else {
            format!("{} <span class=\"muted\">({} hosts)</span>", esc(&r.label), r.hosts)
        };
        let _ = write!(b, "<tr><td>{label}</td><td class=\"num\">{}</td>", pct(r.availability_pct));
        for (day, v) in h.days.iter().zip(&r.cells) {
            let _ = write!(
                b,
                "<td class=\"cell\" style=\"background:{};min-width:18px\" title=\"{} {}: {}\"></td>",
                heat_colour(*v),
                esc(&r.label),
                esc(day),
                pct(*v)
            );
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table>");
    if h.rows_total > h.rows.len() as i64 {
        let _ = write!(b, "<p class=\"muted\">the {} least available of {} rows</p>", h.rows.len(), h.rows_total);
    }
    b.push_str(
        "<p class=\"legend\">availability: <span style=\"background:#2e9e3e\"></span>100%\
         <span style=\"background:#8cc152\"></span>99.9%+<span style=\"background:#f2d024\"></span>99%+\
         <span style=\"background:#f39c33\"></span>95%+<span style=\"background:#d9383a\"></span>less\
         <span style=\"background:#eee\"></span>no checks; finished UTC days</p>",
    );
    let _ = write!(b, "<p class=\"muted\">as of {} UTC</p>", esc(&h.as_of));
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::data::*;

    fn overview() -> Overview {
        Overview {
            now: "2026-01-01T00:00:00Z".into(),
            since: "24h".into(),
            since_s: 86_400.0,
            latest_sweep: Some(Sweep {
                id: "x".into(),
                started_at: "2026-01-01T00:00:00Z".into(),
                started_unix: 0.0,
                finished_at: Some("2026-01-01T00:00:01Z".into()),
                duration_s: Some(1.0),
                host_count: 3,
                alive: Some(2),
                timeout: Some(1),
                unreachable: Some(0),
                source: "https://example.invalid/<script>alert(1)</script>".into(),
            }),
            hosts_in_window: 1,
            least_available: vec![Availability {
                host: "127.0.0.4".into(),
                checks: 4,
                failures: 4,
                availability_pct: 0.0,
                loss_pct: Some(100.0),
                up_now: false,
                last_alive: None,
                last_status_change: None,
                vantages: 1,
                down_from: 1,
                state: "down everywhere".into(),
            }],
            least_as_of: "2026-01-01T00:00:00Z".into(),
            outages_now: vec![],
            outages_now_total: 0,
            heatmap: Heatmap::default(),
        }
    }

    #[test]
    fn the_list_source_is_user_data_and_is_escaped() {
        let html = render(&overview());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<a href=\"/host/127.0.0.4\">127.0.0.4</a>"));
        assert!(html.contains("<a href=\"/?since=24h\" class=\"here\">24h</a>"));
    }
}
