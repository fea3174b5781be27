//! A host's latency chart in SmokePing's manner: per bucket (hour or day) the spread of the answered checks'
//! RTTs (min to max) as grey smoke, the median as a short line coloured by the bucket's probe loss, and a red
//! mark at the bottom for a bucket where nothing was answered. One `<g class="pt">` per bucket with checks, so
//! the points can be counted in the page.

use std::fmt::Write as _;

use super::data::Point;
use super::html::{esc, ms};
use super::svg::{nice_ceiling, time_ticks, utc, y_grid, Frame};

/// Loss classes: (upper bound in %, colour, legend text).
pub const LOSS_COLOURS: [(f64, &str, &str); 5] = [
    (0.0, "#1a9a1a", "0%"),
    (5.0, "#1f78d1", "up to 5%"),
    (20.0, "#7b3fd1", "up to 20%"),
    (50.0, "#d13fd1", "up to 50%"),
    (100.0, "#d62020", "over 50%"),
];

pub fn loss_colour(loss_pct: f64) -> &'static str {
    LOSS_COLOURS.iter().find(|(max, _, _)| loss_pct <= *max).map_or("#d62020", |c| c.1)
}

const FRAME: Frame = Frame::new(960.0, 300.0);

/// The chart for buckets of `bucket_s` seconds from `from`, `buckets` of them.
pub fn latency_chart(points: &[Point], from: f64, bucket_s: f64, buckets: i32) -> String {
    let f = FRAME;
    let to = from + bucket_s * f64::from(buckets);
    let top = points.iter().filter_map(|p| p.max_ms.or(p.median_ms)).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let max = nice_ceiling(top);
    let shown: Vec<&Point> = points.iter().filter(|p| p.t >= from && p.t < to).collect();
    let mut s = f.open(
        "latency",
        "latency: median RTT coloured by loss, min to max as a band",
        &[("points", shown.len().to_string()), ("max-ms", max.to_string())],
    );
    s += &y_grid(&f, max, " ms", false, "#444");
    let w = (f.plot_w() / f64::from(buckets.max(1))).max(1.0);
    for p in &shown {
        let x = f.x(p.t, from, to);
        let title = format!(
            "{} UTC: {} checks, {} failed, loss {:.1}%, min {} median {} mean {} max {}",
            utc(p.t),
            p.checks,
            p.failures,
            p.loss_pct,
            ms(p.min_ms),
            ms(p.median_ms),
            ms(p.mean_ms),
            ms(p.max_ms)
        );
        let _ = write!(s, "<g class=\"pt\" data-t=\"{}\"><title>{}</title>", p.t, esc(&title));
        if let (Some(lo), Some(hi)) = (p.min_ms, p.max_ms) {
            let (y1, y2) = (f.y(hi, max), f.y(lo, max));
            let _ = write!(
                s,
                "<rect class=\"smoke\" x=\"{x:.2}\" y=\"{y1:.2}\" width=\"{w:.2}\" height=\"{:.2}\" fill=\"#888\" \
                 fill-opacity=\"0.35\"/>",
                (y2 - y1).max(1.0)
            );
        }
        match p.median_ms.or(p.mean_ms) {
            Some(m) => {
                let y = f.y(m, max);
                let _ = write!(
                    s,
                    "<line class=\"median\" x1=\"{x:.2}\" x2=\"{:.2}\" y1=\"{y:.2}\" y2=\"{y:.2}\" stroke=\"{}\" \
                     stroke-width=\"2\"/>",
                    x + w,
                    loss_colour(p.loss_pct)
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<rect class=\"lost\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"6\" fill=\"#d62020\"/>",
                    f.bottom_y() - 6.0
                );
            }
        }
        s.push_str("</g>");
    }
    f.border(&mut s);
    s += &time_ticks(&f, from, to);
    s.push_str("</svg>");
    s
}

/// The legend under the chart: what the colours mean.
pub fn legend() -> String {
    let mut s = String::from("<p class=\"legend\">median RTT, by probe loss:");
    for (_, colour, text) in LOSS_COLOURS {
        let _ = write!(s, "<span style=\"background:{colour}\"></span>{text}");
    }
    s.push_str(
        "<span style=\"background:#888;opacity:.35\"></span>min to max\
         <span style=\"background:#d62020;height:4px\"></span>nothing answered</p>",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, loss: f64, rtt: Option<f64>) -> Point {
        Point {
            t,
            checks: 2,
            failures: if rtt.is_none() { 2 } else { 0 },
            sent: 2,
            received: if rtt.is_none() { 0 } else { 2 },
            loss_pct: loss,
            min_ms: rtt,
            median_ms: rtt,
            mean_ms: rtt,
            max_ms: rtt.map(|r| r * 2.0),
        }
    }

    #[test]
    fn every_bucket_with_checks_is_one_point_and_loss_picks_the_colour() {
        let pts = vec![point(0.0, 0.0, Some(1.0)), point(3600.0, 30.0, Some(2.0)), point(7200.0, 100.0, None)];
        let svg = latency_chart(&pts, 0.0, 3600.0, 24);
        assert_eq!(svg.matches("<g class=\"pt\"").count(), 3);
        assert!(svg.contains("data-points=\"3\""));
        assert_eq!(svg.matches("class=\"median\"").count(), 2);
        assert_eq!(svg.matches("class=\"lost\"").count(), 1, "a bucket with nothing answered is marked");
        assert!(svg.contains(loss_colour(30.0)) && loss_colour(30.0) == "#d13fd1");
        assert_eq!(loss_colour(0.0), "#1a9a1a");
        assert!(svg.contains("data-max-ms=\"5\""), "the axis tops out at a round number above the largest max");
    }

    #[test]
    fn points_outside_the_span_are_left_out_and_an_empty_chart_draws() {
        let svg = latency_chart(&[point(-10.0, 0.0, Some(1.0))], 0.0, 3600.0, 24);
        assert!(svg.contains("data-points=\"0\"") && svg.ends_with("</svg>"));
    }
}
