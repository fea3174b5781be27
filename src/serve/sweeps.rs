//! The sweeps page (`/sweeps`): the recent sweeps as a chart (duration as bars on the left axis, hosts alive as a
//! line on the right one, oldest to newest) and as a list, newest first. Data in, HTML out.

use std::fmt::Write as _;

use super::data::Sweep;
use super::html::{duration, esc, page, Nav};
use super::svg::{count_ceiling, nice_ceiling, utc, y_grid, Frame};

const FRAME: Frame = Frame::new(960.0, 240.0);

/// Bars (duration) and a line (alive) for `sweeps`, given newest first.
pub fn chart(sweeps: &[Sweep]) -> String {
    let f = FRAME;
    let old_first: Vec<&Sweep> = sweeps.iter().rev().collect();
    let n = old_first.len();
    let dur_max =
        nice_ceiling(old_first.iter().filter_map(|s| s.duration_s).filter(|d| d.is_finite()).fold(0.0, f64::max));
    let alive_max = count_ceiling(old_first.iter().filter_map(|s| s.alive).max().unwrap_or(0) as f64);
    let mut s = f.open("sweeps", "recent sweeps: duration (bars) and hosts alive (line)", &[("sweeps", n.to_string())]);
    s += &y_grid(&f, dur_max, " s", false, "#4a78b0");
    s += &y_grid(&f, alive_max, "", true, "#1a9a1a");
    let slot = f.plot_w() / n.max(1) as f64;
    let mut line = Vec::new();
    for (i, w) in old_first.iter().enumerate() {
        let x = f.left + slot * i as f64;
        let d = w.duration_s.filter(|d| d.is_finite()).unwrap_or(0.0);
        let y = f.y(d, dur_max);
        let _ = write!(
            s,
            "<rect class=\"bar\" x=\"{:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"#9bbbe0\">\
             <title>{}</title></rect>",
            x + slot * 0.15,
            (slot * 0.7).max(1.0),
            (f.bottom_y() - y).max(0.0),
            esc(&format!(
                "{} UTC: {} hosts, {} alive, took {}",
                utc(w.started_unix),
                w.host_count,
                w.alive.map_or("-".into(), |a| a.to_string()),
                duration(w.duration_s)
            ))
        );
        if let Some(a) = w.alive {
            line.push(format!("{:.2},{:.2}", x + slot / 2.0, f.y(a as f64, alive_max)));
        }
    }
    if !line.is_empty() {
        let _ = write!(
            s,
            "<polyline class=\"alive\" points=\"{}\" fill=\"none\" stroke=\"#1a9a1a\" stroke-width=\"2\"/>",
            line.join(" ")
        );
    }
    f.border(&mut s);
    if let (Some(first), Some(last)) = (old_first.first(), old_first.last()) {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            f.left,
            f.bottom_y() + 16.0,
            esc(&utc(first.started_unix)),
            f.width - f.right,
            f.bottom_y() + 16.0,
            esc(&utc(last.started_unix))
        );
    }
    s.push_str("</svg>");
    s
}

pub fn render(sweeps: &[Sweep]) -> String {
    let mut b = format!("<h1>Sweeps</h1><p class=\"muted\">the {} most recent, newest first</p>", sweeps.len());
    if sweeps.is_empty() {
        b.push_str("<p id=\"sweeps\">No sweep is stored yet.</p>");
        return page("Sweeps", Nav::Sweeps, &b);
    }
    let _ = write!(
        b,
        "<div id=\"chart\">{}</div><p class=\"legend\"><span style=\"background:#9bbbe0\"></span>duration (left \
         axis)<span style=\"background:#1a9a1a;height:3px\"></span>hosts alive (right axis)</p>",
        chart(sweeps)
    );
    b.push_str(
        "<table id=\"sweeps\"><thead><tr><th>started (UTC)</th><th class=\"num\">took</th><th class=\"num\">hosts</th>\
         <th class=\"num\">alive</th><th class=\"num\">timeout</th><th class=\"num\">unreachable</th>\
         <th>host list</th><th>id</th></tr></thead><tbody>",
    );
    let n = |v: Option<i64>| v.map_or("-".into(), |v| v.to_string());
    for w in sweeps {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
            esc(&w.started_at),
            if w.finished_at.is_some() { duration(w.duration_s) } else { "unfinished".into() },
            w.host_count,
            n(w.alive),
            n(w.timeout),
            n(w.unreachable),
            esc(&w.source),
            esc(&w.id)
        );
    }
    b.push_str("</tbody></table>");
    page("Sweeps", Nav::Sweeps, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(i: i64) -> Sweep {
        Sweep {
            id: format!("id{i}"),
            started_at: format!("t{i}"),
            started_unix: 1_700_000_000.0 + i as f64 * 60.0,
            finished_at: Some("x".into()),
            duration_s: Some(0.5 + i as f64),
            host_count: 6,
            alive: Some(5 - i % 2),
            timeout: Some(1),
            unreachable: Some(0),
            source: "file <hosts>".into(),
        }
    }

    #[test]
    fn one_bar_per_sweep_and_the_list_escapes_the_source() {
        let sweeps: Vec<Sweep> = (0..7).map(sweep).collect();
        let html = render(&sweeps);
        assert_eq!(html.matches("class=\"bar\"").count(), 7);
        assert!(html.contains("data-sweeps=\"7\""));
        assert!(html.contains("file &lt;hosts&gt;") && !html.contains("<hosts>"));
        assert!(render(&[]).contains("No sweep is stored yet"));
    }
}
