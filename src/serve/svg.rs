//! What the charts share: the plot frame, linear scales, "nice" axis limits, grid lines with labels, and UTC
//! times as axis labels. Every chart is inline SVG drawn on the server: the page needs no script and no network.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use super::html::esc;

/// The drawing area inside an SVG of `width` x `height`, with margins for the axes' labels.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    pub const fn new(width: f64, height: f64) -> Frame {
        Frame { width, height, left: 64.0, right: 64.0, top: 14.0, bottom: 30.0 }
    }

    pub fn plot_w(&self) -> f64 {
        self.width - self.left - self.right
    }

    pub fn plot_h(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The plot's border.
    pub fn border(&self, s: &mut String) {
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
            self.left,
            self.top,
            self.plot_w(),
            self.plot_h()
        );
    }

    /// x of `v` on a scale from `lo` to `hi`.
    pub fn x(&self, v: f64, lo: f64, hi: f64) -> f64 {
        self.left + (v - lo) / (hi - lo).max(f64::MIN_POSITIVE) * self.plot_w()
    }

    /// y of `v` on a scale from 0 (bottom) to `max` (top), kept inside the plot.
    pub fn y(&self, v: f64, max: f64) -> f64 {
        let f = (v / max.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
        self.top + (1.0 - f) * self.plot_h()
    }

    pub fn bottom_y(&self) -> f64 {
        self.top + self.plot_h()
    }

    /// The opening tag, with a class and the figures a script (or a test) may read.
    pub fn open(&self, class: &str, label: &str, data: &[(&str, String)]) -> String {
        let mut s = format!(
            "<svg class=\"{class}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\"",
            esc(label),
            w = self.width,
            h = self.height
        );
        for (k, v) in data {
            let _ = write!(s, " data-{k}=\"{}\"", esc(v));
        }
        s.push('>');
        s
    }
}

/// The smallest of 1, 2, 2.5, 5 x 10^k that is at least `v` (for an axis' top); 1 for nothing to show.
pub fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().map(|m| m * p).find(|c| *c >= v * (1.0 - 1e-12)).unwrap_or(10.0 * p)
}

/// An axis top for counts: four steps of a whole, round number each (4, 8, 20, 40, 100, ...).
pub fn count_ceiling(v: f64) -> f64 {
    nice_ceiling(v / 4.0).max(1.0) * 4.0
}

/// A number as an axis label: no needless decimals.
pub fn tick_label(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        // Quarters of a round top: 6.25, 18.75.
        format!("{v:.2}").trim_end_matches('0').to_string()
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// Horizontal grid lines with labels at 0, max/4, ... max, on the left (or right) side, `unit` after each.
pub fn y_grid(f: &Frame, max: f64, unit: &str, right_side: bool, color: &str) -> String {
    let mut s = String::new();
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = f.y(v, max);
        if !right_side {
            let _ = write!(
                s,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>",
                f.left,
                f.width - f.right
            );
        }
        let (x, anchor) = if right_side { (f.width - f.right + 6.0, "start") } else { (f.left - 6.0, "end") };
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"{:.1}\" text-anchor=\"{anchor}\" style=\"fill:{color}\">{}{}</text>",
            y + 4.0,
            tick_label(v),
            esc(unit)
        );
    }
    s
}

/// Unix seconds as UTC `YYYY-MM-DD HH:MM`; `?` for a time no calendar here can show.
pub fn utc(t: f64) -> String {
    if !(0.0..253_402_300_800.0).contains(&t) {
        return "?".into();
    }
    let s = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs_f64(t)).to_string();
    s.get(..16).map_or(s.clone(), |p| p.replace('T', " "))
}

/// Where the x axis of a time scale [lo, hi] gets a mark, and its label: every 3 hours (`HH:MM`) up to a day and
/// a half, every UTC midnight (`MM-DD`) up to 10 days, every 5th day up to 45, else the first of each month
/// (`YYYY-MM`). Times are UTC, marks on round times.
pub fn time_marks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    const DAY: f64 = 86_400.0;
    let span = hi - lo;
    if !(lo.is_finite() && hi.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let every = |step: f64, label: fn(&str) -> String| {
        let mut t = (lo / step).ceil() * step;
        let mut marks = Vec::new();
        while t <= hi && marks.len() < 400 {
            marks.push((t, label(&utc(t))));
            t += step;
        }
        marks
    };
    fn tail(s: &str, r: std::ops::Range<usize>) -> String {
        s.get(r).unwrap_or(s).to_string()
    }
    if span <= 1.5 * DAY {
        every(3.0 * 3600.0, |u| tail(u, 11..16))
    } else if span <= 10.0 * DAY {
        every(DAY, |u| tail(u, 5..10))
    } else if span <= 45.0 * DAY {
        every(5.0 * DAY, |u| tail(u, 5..10))
    } else {
        every(DAY, |u| u.to_string())
            .into_iter()
            .filter(|(_, u)| u.get(8..10) == Some("01"))
            .map(|(t, u)| (t, tail(&u, 0..7)))
            .collect()
    }
}

/// The marks of [`time_marks`] under the plot.
pub fn time_ticks(f: &Frame, lo: f64, hi: f64) -> String {
    let mut s = String::new();
    for (t, label) in time_marks(lo, hi) {
        let x = f.x(t, lo, hi);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#e4e4e4\"/>\
             <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#999\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            f.top,
            f.bottom_y(),
            f.bottom_y(),
            f.bottom_y() + 4.0,
            f.bottom_y() + 16.0,
            esc(&label)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round_numbers_at_or_above_the_data() {
        assert_eq!(nice_ceiling(0.047), 0.05);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(21.0), 25.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!((count_ceiling(3.0), count_ceiling(5.0), count_ceiling(14_850.0)), (4.0, 8.0, 20_000.0));
        assert_eq!(tick_label(0.0125), "0.013");
        assert_eq!(tick_label(12.5), "12.5");
        assert_eq!(tick_label(18.75), "18.75");
        assert_eq!(tick_label(100.0), "100");
    }

    #[test]
    fn times_are_utc_and_impossible_ones_do_not_panic() {
        assert_eq!(utc(0.0), "1970-01-01 00:00");
        assert_eq!(utc(1_764_000_000.0), "2025-11-24 16:00");
        assert_eq!(utc(f64::INFINITY), "?");
        assert_eq!(utc(-5.0), "?");
    }

    #[test]
    fn time_marks_fall_on_round_utc_times() {
        let day = 86_400.0;
        let lo = 1_764_000_000.0 + 1234.0;
        let hours: Vec<String> = time_marks(lo, lo + day).into_iter().map(|m| m.1).collect();
        assert_eq!(hours.first().map(String::as_str), Some("18:00"));
        assert_eq!(hours.len(), 8);
        let days = time_marks(lo, lo + 7.0 * day);
        assert_eq!(days.len(), 7);
        assert!(days.iter().all(|(t, _)| t % day == 0.0));
        let months: Vec<String> = time_marks(lo, lo + 365.0 * day).into_iter().map(|m| m.1).collect();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], "2025-12");
        assert!(time_marks(5.0, 1.0).is_empty());
    }
}
