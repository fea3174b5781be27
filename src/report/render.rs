//! The report as a person reads it (a table) or a script does (JSON Lines): from [`super::query`]'s values, no
//! Postgres here.

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use super::query::{Availability, Host};
use crate::output::counted;

/// A vantage point's name as printed: the unnamed one as `-`.
fn shown(vantage: &str) -> &str {
    if vantage.is_empty() {
        "-"
    } else {
        vantage
    }
}

fn ts(t: &Option<String>) -> String {
    t.clone().unwrap_or_else(|| "-".into())
}

pub fn least_json(out: &mut impl Write, rows: &[Availability]) -> io::Result<()> {
    for r in rows {
        let v = json!({
            "host": r.host, "checks": r.checks, "failures": r.failures,
            "availability_pct": r.availability_pct,
            "last_alive": r.last_alive,
            "last_status_change": r.last_status_change,
            "up_now": r.up_now,
            "loss_pct": r.loss_pct,
            "state": r.state, "vantages": r.vantages, "down_from": r.down_from,
        });
        writeln!(out, "{v}")?;
    }
    Ok(())
}

pub fn least_table(out: &mut impl Write, rows: &[Availability]) -> io::Result<()> {
    writeln!(
        out,
        "{:<39}  {:>7}  {:>8}  {:>7}  {:>6}  {:<20}  {:<20}  NOW",
        "HOST", "CHECKS", "FAILURES", "AVAIL%", "LOSS%", "LAST ALIVE", "LAST CHANGE"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:<39}  {:>7}  {:>8}  {:>7.2}  {:>6}  {:<20}  {:<20}  {}",
            r.host,
            r.checks,
            r.failures,
            r.availability_pct,
            r.loss_pct.map_or("-".into(), |l| format!("{l:.2}")),
            ts(&r.last_alive),
            ts(&r.last_status_change),
            r.now_text()
        )?;
    }
    Ok(())
}

pub fn host_json(out: &mut impl Write, ip: IpAddr, h: &Host) -> io::Result<()> {
    let v = json!({
        "host": ip.to_string(), "checks": h.checks, "failures": h.failures,
        "availability_pct": if h.availability_pct.is_nan() { None } else { Some(h.availability_pct) },
        "last_alive": h.last_alive, "up_now": h.up_now, "loss_pct": h.loss_pct, "state": h.state,
        "vantages": h.vantages,
        "history": h.history.iter().map(|c| json!({
            "at": ts(&c.at), "status": c.status, "rtt_ms": c.rtt_ms, "vantage": c.vantage,
        })).collect::<Vec<_>>(),
        "outages": h.outages.iter().map(|o| json!({
            "started_at": ts(&o.started_at), "ended_at": o.ended_at,
            "failed_checks": o.failed_checks, "duration_s": o.duration_s, "vantage": o.vantage,
        })).collect::<Vec<_>>(),
    });
    writeln!(out, "{v}")
}

pub fn host_table(out: &mut impl Write, ip: IpAddr, h: &Host, since: &str) -> io::Result<()> {
    let pct = h.availability_pct;
    writeln!(
        out,
        "{ip}: {}, {} failed, availability {} over {since}; probe loss {}",
        counted(h.checks as u64, "check", "checks"),
        h.failures,
        if pct.is_nan() { "-".to_string() } else { format!("{pct:.2}%") },
        h.loss_pct.map_or("-".to_string(), |l| format!("{l:.2}%"))
    )?;
    // Vantage points by name (a lone unnamed one says nothing more than the line above).
    let named = h.vantages.iter().any(|v| !v.vantage.is_empty())
        || h.outages.iter().any(|o| !o.vantage.is_empty())
        || h.history.iter().any(|c| !c.vantage.is_empty());
    // The last column, then the vantage point when there are named ones.
    let tail = |last: String, v: &str| if named { format!("{last:<12}  {}", shown(v)) } else { last };
    if named {
        writeln!(out, "state now: {}\n\nby vantage point:", h.state.as_deref().unwrap_or("-"))?;
        for v in &h.vantages {
            writeln!(
                out,
                "  {:<20}  {:>7} checks  {:>6} failed  {:>7.2}%  now {}",
                shown(&v.vantage),
                v.checks,
                v.failures,
                v.availability_pct,
                if v.up_now { "up" } else { "down" }
            )?;
        }
    }
    writeln!(out, "\noutages (newest first):{}", if h.outages.is_empty() { " none" } else { "" })?;
    for o in &h.outages {
        let dur = match o.duration_s {
            None => "ongoing".into(),
            Some(s) if s.is_infinite() => "infinite".into(),
            // `as` saturates: a negative length (an end before its start) shows as 0s, never panics.
            Some(s) => humantime::format_duration(Duration::from_secs(s as u64)).to_string(),
        };
        writeln!(
            out,
            "  {:<20}  to  {:<20}  {:>17}  {}",
            ts(&o.started_at),
            ts(&o.ended_at),
            counted(o.failed_checks as u64, "failed check", "failed checks"),
            tail(dur, &o.vantage)
        )?;
    }
    writeln!(out, "\nhistory (newest first):")?;
    for c in &h.history {
        let rtt = c.rtt_ms.map_or("-".into(), |v| format!("{v:.3} ms"));
        writeln!(out, "  {:<20}  {:<11}  {}", ts(&c.at), c.status.clone().unwrap_or_default(), tail(rtt, &c.vantage))?;
    }
    Ok(())
}
