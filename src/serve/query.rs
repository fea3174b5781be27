//! The pages' questions to Postgres: the schema's functions and rollups (`pinger_availability`, `pinger_daily`,
//! `pinger_hourly`, `pinger_outages`, `sweeps`), every value a bound parameter. Each function answers one part
//! of a page with the values of `data.rs`; drawing is elsewhere.
//!
//! The SQL text is built only from constants of this file (column expressions, the histogram's bucket numbers),
//! never from anything a request or the database holds.

use std::net::IpAddr;

use postgres::Client;

use super::data::*;
use crate::report::query::{availability_columns, FromVantage, AVAILABILITY_WIDTH};
use crate::report::ts_sql;

/// Postgres failed to answer (the message names the server, never the password).
pub type Result<T> = std::result::Result<T, postgres::Error>;

fn sweep_of(r: &postgres::Row) -> Sweep {
    Sweep {
        id: r.get(0),
        started_at: r.get::<_, Option<String>>(1).unwrap_or_default(),
        started_unix: r.get(2),
        finished_at: r.get(3),
        duration_s: r.get(4),
        host_count: r.get(5),
        alive: r.get(6),
        timeout: r.get(7),
        unreachable: r.get(8),
        source: r.get(9),
    }
}

/// The newest `limit` sweeps, newest first. (Here and below, rows are cut to the page in a subquery before
/// their times are formatted: a formatted column in the outer query of a LIMIT is computed for every row sorted,
/// 60 ms for 43,200 sweeps.)
pub fn sweeps(client: &mut Client, limit: i64) -> Result<Vec<Sweep>> {
    let sql = format!(
        "SELECT id::text, {}, extract(epoch FROM started_at)::float8, {}, \
         CASE WHEN isfinite(started_at) AND isfinite(finished_at) \
              THEN extract(epoch FROM finished_at - started_at)::float8 END, \
         host_count::bigint, alive::bigint, timeout::bigint, unreachable::bigint, source \
         FROM (SELECT * FROM sweeps ORDER BY started_at DESC, id DESC LIMIT $1) s ORDER BY started_at DESC, id DESC",
        ts_sql("started_at"),
        ts_sql("finished_at")
    );
    Ok(client.query(&sql, &[&limit])?.iter().map(sweep_of).collect())
}

/// An outage's length in seconds: to its end, or to now while it goes on; `None` when an end is infinite.
const OUTAGE_SECS: &str = "CASE WHEN isfinite(started_at) AND isfinite(coalesce(ended_at, now())) \
     THEN extract(epoch FROM coalesce(ended_at, now()) - started_at)::float8 END";

fn outage_columns() -> String {
    format!(
        "host(host), {}, {}, failed_checks::bigint, {}, {OUTAGE_SECS}, vantage",
        ts_sql("started_at"),
        ts_sql("ended_at"),
        ts_sql("last_failed_at")
    )
}

fn outage_of(r: &postgres::Row) -> Outage {
    Outage {
        host: r.get(0),
        started_at: r.get::<_, Option<String>>(1).unwrap_or_default(),
        ended_at: r.get(2),
        failed_checks: r.get(3),
        last_failed_at: r.get::<_, Option<String>>(4).unwrap_or_default(),
        duration_s: r.get(5),
        vantage: r.get(6),
    }
}

/// The overview's parts that are cheap: the time, the latest sweep and the outages going on now (the longest
/// first).
pub fn live(client: &mut Client) -> Result<Live> {
    let now: String = client.query_one(&format!("SELECT {}", ts_sql("now()")), &[])?.get(0);
    let latest_sweep = sweeps(client, 1)?.into_iter().next();
    let open = client.query(
        &format!(
            "SELECT {}, total FROM (SELECT *, count(*) OVER () AS total FROM pinger_outages WHERE ended_at IS NULL \
             ORDER BY started_at, host LIMIT $1) o ORDER BY started_at, host",
            outage_columns()
        ),
        &[&OUTAGES_NOW_ROWS],
    )?;
    Ok(Live {
        now,
        latest_sweep,
        outages_now_total: open.first().map_or(0, |r| r.get(7)),
        outages_now: open.iter().map(outage_of).collect(),
    })
}

/// The least available hosts since `since_s` seconds ago.
pub fn least(client: &mut Client, since_s: f64) -> Result<Least> {
    let rows = client.query(
        &format!(
            "SELECT {}, hosts, {} FROM (SELECT *, count(*) OVER () AS hosts \
                             FROM pinger_availability(now() - make_interval(secs => $1), NULL) \
                             ORDER BY availability_pct, failures DESC, host LIMIT $2) a \
             ORDER BY availability_pct, failures DESC, host",
            availability_columns(),
            ts_sql("now()")
        ),
        &[&since_s, &LEAST_ROWS],
    )?;
    let as_of = match rows.first() {
        Some(r) => r.get(AVAILABILITY_WIDTH + 1),
        None => client.query_one(&format!("SELECT {}", ts_sql("now()")), &[])?.get(0),
    };
    Ok(Least {
        hosts: rows.first().map_or(0, |r| r.get(AVAILABILITY_WIDTH)),
        rows: rows.iter().map(Availability::from_row).collect(),
        as_of,
    })
}

/// Availability per UTC day over the [`HEATMAP_DAYS`] finished days before today, from `pinger_daily` (today's
/// hours would cost a scan of up to a day of hourly rows; the outages going on now and the least available
/// hosts over 24 h say what today looks like). A row per host up to [`HEATMAP_HOST_ROWS`] hosts (checked
/// yesterday), else per /24 (IPv6 /64); the least available [`HEATMAP_ROWS`] rows.
pub fn heatmap(client: &mut Client) -> Result<Heatmap> {
    let sql = "
        WITH span AS (SELECT (now() AT TIME ZONE 'UTC')::date - $1::int AS first,
                             (now() AT TIME ZONE 'UTC')::date AS today),
        -- How many hosts there are, from yesterday alone: a count of distinct hosts over every day cost
        -- more than the heatmap itself.
        n AS (SELECT count(*) AS n FROM pinger_daily x, span WHERE x.day = span.today - 1),
        cells AS (
            SELECT CASE WHEN n.n <= $2 THEN x.host
                        ELSE network(set_masklen(x.host, CASE WHEN family(x.host) = 4 THEN 24 ELSE 64 END)) END AS key,
                   x.day, sum(x.checks)::bigint AS c, sum(x.failures)::bigint AS f, count(*)::bigint AS hosts
            FROM pinger_daily x, span, n
            WHERE x.day >= span.first AND x.day < span.today
            GROUP BY 1, 2
        ),
        top AS (
            SELECT key, 100.0 * (sum(c) - sum(f)) / nullif(sum(c), 0) AS pct, max(hosts) AS hosts,
                   count(*) OVER () AS total
            FROM cells GROUP BY key ORDER BY pct NULLS LAST, key LIMIT $3
        )
        SELECT CASE WHEN (SELECT n FROM n) <= $2 THEN host(t.key) ELSE t.key::text END, t.pct::float8, t.total,
               t.hosts, c.day::text, c.c, c.f, (SELECT n FROM n) > $2
        FROM top t JOIN cells c USING (key)
        ORDER BY t.pct NULLS LAST, t.key, c.day";
    let rows = client.query(sql, &[&HEATMAP_DAYS, &HEATMAP_HOST_ROWS, &HEATMAP_ROWS])?;
    let (first, as_of): (String, String) = {
        let r = client.query_one(
            &format!("SELECT ((now() AT TIME ZONE 'UTC')::date - $1::int)::text, {}", ts_sql("now()")),
            &[&HEATMAP_DAYS],
        )?;
        (r.get(0), r.get(1))
    };
    let days: Vec<String> = client
        .query(
            "SELECT (($1::text)::date + k)::text FROM generate_series(0, $2::int - 1) k ORDER BY k",
            &[&first, &HEATMAP_DAYS],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut map = Heatmap { days, as_of, ..Heatmap::default() };
    for r in &rows {
        let label: String = r.get(0);
        if map.rows.last().is_none_or(|row| row.label != label) {
            map.rows.push(HeatRow {
                label,
                hosts: r.get(3),
                availability_pct: r.get(1),
                cells: vec![None; map.days.len()],
            });
            map.rows_total = r.get(2);
            map.grouped_by = r.get::<_, bool>(7).then(|| "/24 (IPv6: /64)".to_string());
        }
        let day: String = r.get(4);
        let (c, f): (i64, i64) = (r.get(5), r.get(6));
        if let (Some(i), Some(row)) = (map.days.iter().position(|d| *d == day), map.rows.last_mut()) {
            row.cells[i] = (c > 0).then(|| 100.0 * (c - f) as f64 / c as f64);
        }
    }
    Ok(map)
}

/// What Postgres knows of one host, apart from its chart.
pub struct HostHistory {
    pub windows: Vec<Window>,
    /// Each vantage point's view over 24 h.
    pub vantages: Vec<FromVantage>,
    pub outages: Vec<Outage>,
    pub last_check: Option<String>,
}

/// A host's availability over 24 h, 7 d, 30 d and 365 d, its newest outages and its last check; `None` when
/// Postgres knows nothing of it.
pub fn host(client: &mut Client, addr: IpAddr) -> Result<Option<HostHistory>> {
    let windows = client.query(
        &format!(
            "SELECT v.label, coalesce(a.checks, 0), coalesce(a.failures, 0), a.availability_pct::float8, \
             a.loss_pct::float8, {} \
             FROM (VALUES (1, '24h', interval '24 hours'), (2, '7d', interval '7 days'), \
                          (3, '30d', interval '30 days'), (4, '365d', interval '365 days')) v(o, label, span) \
             LEFT JOIN LATERAL pinger_availability(now() - v.span, $1) a ON true ORDER BY v.o",
            ts_sql("a.last_alive")
        ),
        &[&addr],
    )?;
    let windows: Vec<Window> = windows
        .iter()
        .map(|r| Window {
            window: r.get(0),
            checks: r.get(1),
            failures: r.get(2),
            availability_pct: r.get(3),
            loss_pct: r.get(4),
            last_alive: r.get(5),
        })
        .collect();
    let vantages = crate::report::query::by_vantage(client, addr, 86_400.0, None)?;
    let outages = client.query(
        &format!(
            "SELECT {} FROM (SELECT * FROM pinger_outages WHERE host = $1 ORDER BY started_at DESC LIMIT $2) o \
             ORDER BY started_at DESC",
            outage_columns()
        ),
        &[&addr, &HOST_OUTAGE_ROWS],
    )?;
    let last: Option<String> = client
        .query_one(
            &format!(
                "SELECT {} FROM (SELECT greatest((SELECT max(ping_timestamp) FROM pinger_data WHERE host = $1), \
                 (SELECT max(last_at) FROM pinger_hours WHERE host = $1), \
                 (SELECT max(last_at) FROM pinger_daily WHERE host = $1)) AS t) x",
                ts_sql("x.t")
            ),
            &[&addr],
        )?
        .get(0);
    if last.is_none() && outages.is_empty() && windows.iter().all(|w| w.checks == 0) {
        return Ok(None);
    }
    Ok(Some(HostHistory { windows, vantages, outages: outages.iter().map(outage_of).collect(), last_check: last }))
}

/// The histogram of the checks' mean RTTs, in the buckets of `pinger_rtt_bounds()`, over raw rows `d`.
fn raw_hist() -> String {
    let buckets: Vec<String> = (0..=10)
        .map(|b| format!("count(*) FILTER (WHERE d.result AND width_bucket(d.rtt_ms, pinger_rtt_bounds()) = {b})"))
        .collect();
    format!("ARRAY[{}]::int[]", buckets.join(", "))
}

/// The counters of raw rows `d`, in the order of the rollups' columns.
const RAW_COUNTS: &str = "count(*), count(*) FILTER (WHERE NOT d.result), sum(coalesce(d.sent, 1)), \
     sum(coalesce(d.received, d.result::int)), min(coalesce(d.rtt_min_ms, d.rtt_ms)) FILTER (WHERE d.result), \
     max(coalesce(d.rtt_max_ms, d.rtt_ms)) FILTER (WHERE d.result), count(d.rtt_ms) FILTER (WHERE d.result), \
     coalesce(sum(d.rtt_ms) FILTER (WHERE d.result), 0)";

/// The latency chart's buckets for `addr`: the last `buckets` hours (or UTC days), the current one included.
/// Returns the first bucket's start and now (Unix seconds) and one point per bucket with checks.
pub fn points(client: &mut Client, addr: IpAddr, buckets: i32, daily: bool) -> Result<(f64, f64, Vec<Point>)> {
    let sql = if daily {
        format!(
            "WITH st AS (SELECT rolled_until AS r FROM pinger_rollup_state),
            lo AS (SELECT ((now() AT TIME ZONE 'UTC')::date - ($2::int - 1))::timestamp AT TIME ZONE 'UTC' AS t),
            pts AS (
                SELECT x.day::timestamp AT TIME ZONE 'UTC' AS t, x.checks::bigint AS checks,
                       x.failures::bigint AS failures, x.sent::bigint AS sent, x.received::bigint AS received,
                       x.rtt_min_ms AS mn, x.rtt_max_ms AS mx, x.rtt_count::bigint AS n, x.rtt_sum_ms AS s,
                       x.rtt_hist AS hist
                FROM pinger_daily x, st, lo
                WHERE x.host = $1 AND x.day >= (lo.t AT TIME ZONE 'UTC')::date
                  AND x.day < (st.r AT TIME ZONE 'UTC')::date
                UNION ALL
                SELECT date_trunc('day', h.hour, 'UTC'), h.checks, h.failures, h.sent, h.received, h.rtt_min_ms,
                       h.rtt_max_ms, h.rtt_count, h.rtt_sum_ms, h.rtt_hist
                FROM pinger_hours h, st, lo
                WHERE h.host = $1 AND h.hour >= greatest(date_trunc('day', st.r, 'UTC'), lo.t) AND h.hour < st.r
                UNION ALL
                SELECT date_trunc('day', d.ping_timestamp, 'UTC'), {RAW_COUNTS}, {hist}
                FROM pinger_data d, st, lo WHERE d.host = $1 AND d.ping_timestamp >= greatest(st.r, lo.t)
                GROUP BY 1
            ),
            merged AS (
                SELECT t, sum(checks)::bigint AS checks, sum(failures)::bigint AS failures, sum(sent)::bigint AS sent,
                       sum(received)::bigint AS received, min(mn) AS mn, max(mx) AS mx, sum(n)::bigint AS n,
                       sum(s) AS s, pinger_hist_sum(hist) AS hist
                FROM pts GROUP BY t
            )",
            hist = raw_hist()
        )
    } else {
        format!(
            "WITH st AS (SELECT rolled_until AS r FROM pinger_rollup_state),
            lo AS (SELECT date_trunc('hour', now(), 'UTC') - make_interval(hours => $2::int - 1) AS t),
            merged AS (
                SELECT h.hour AS t, h.checks::bigint AS checks, h.failures::bigint AS failures,
                       h.sent::bigint AS sent, h.received::bigint AS received, h.rtt_min_ms AS mn,
                       h.rtt_max_ms AS mx, h.rtt_count::bigint AS n, h.rtt_sum_ms AS s, h.rtt_hist AS hist
                FROM pinger_hourly h, st, lo
                WHERE h.host = $1 AND h.day >= (lo.t AT TIME ZONE 'UTC')::date AND h.hour >= lo.t AND h.hour < st.r
                UNION ALL
                SELECT date_trunc('hour', d.ping_timestamp, 'UTC'), {RAW_COUNTS}, {hist}
                FROM pinger_data d, st, lo WHERE d.host = $1 AND d.ping_timestamp >= greatest(st.r, lo.t)
                GROUP BY 1
            )",
            hist = raw_hist()
        )
    };
    let sql = format!(
        "{sql}
        SELECT extract(epoch FROM lo.t)::float8, extract(epoch FROM now())::float8, extract(epoch FROM m.t)::float8,
               m.checks, m.failures, m.sent, m.received, m.mn, m.mx, m.n, m.s, m.hist
        FROM lo LEFT JOIN merged m ON true ORDER BY m.t"
    );
    let rows = client.query(&sql, &[&addr, &buckets])?;
    let (from, to) = rows.first().map_or((0.0, 0.0), |r| (r.get(0), r.get(1)));
    let points = rows
        .iter()
        .filter_map(|r| {
            // No bucket with checks: the one row of the outer join, all NULL.
            let t: f64 = r.get::<_, Option<f64>>(2)?;
            let n: i64 = r.get(9);
            let sum: f64 = r.get(10);
            let (min, max): (Option<f64>, Option<f64>) = (r.get(7), r.get(8));
            let hist: Option<Vec<i32>> = r.get(11);
            let (sent, received): (i64, i64) = (r.get(5), r.get(6));
            Some(Point {
                t,
                checks: r.get(3),
                failures: r.get(4),
                sent,
                received,
                loss_pct: if sent > 0 { 100.0 * (sent - received).max(0) as f64 / sent as f64 } else { 0.0 },
                min_ms: min,
                median_ms: hist.and_then(|h| median(&h, min, max)),
                mean_ms: (n > 0).then(|| sum / n as f64),
                max_ms: max,
            })
        })
        .collect();
    Ok((from, to, points))
}

/// The upper bounds (ms) of the rollups' RTT buckets, as `pinger_rtt_bounds()` has them: bucket 0 is below the
/// first, bucket 10 at or above the last.
const BOUNDS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// The median of the RTTs counted in `hist`, by linear interpolation inside its bucket, kept within [min, max]
/// (when every check had the same RTT, that is exactly it).
pub fn median(hist: &[i32], min: Option<f64>, max: Option<f64>) -> Option<f64> {
    let (min, max) = (min?, max?);
    let n: i64 = hist.iter().map(|&c| i64::from(c.max(0))).sum();
    if n == 0 {
        return None;
    }
    let half = n as f64 / 2.0;
    let mut below = 0.0;
    for (i, &c) in hist.iter().enumerate() {
        let c = f64::from(c.max(0));
        if c > 0.0 && below + c >= half {
            let lo = if i == 0 { min } else { BOUNDS.get(i - 1).copied().unwrap_or(max).max(min) };
            let hi = BOUNDS.get(i).copied().unwrap_or(max).min(max);
            let (lo, hi) = (lo.min(hi), hi.max(lo));
            return Some((lo + (half - below) / c * (hi - lo)).clamp(min, max));
        }
        below += c;
    }
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_comes_from_the_histogram_and_stays_within_min_and_max() {
        // Every check at 0.05 ms: the median is that.
        assert_eq!(median(&[7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], Some(0.05), Some(0.05)), Some(0.05));
        // Half in 10-20, half in 20-50: the median is at the boundary.
        let m = median(&[0, 0, 0, 0, 5, 5, 0, 0, 0, 0, 0], Some(12.0), Some(40.0)).unwrap();
        assert!((m - 20.0).abs() < 1e-9, "{m}");
        // All above 1000 ms: within [min, max].
        let m = median(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4], Some(1500.0), Some(3000.0)).unwrap();
        assert!((1500.0..=3000.0).contains(&m), "{m}");
        assert_eq!(median(&[0; 11], Some(1.0), Some(2.0)), None, "no answered check, no median");
        assert_eq!(median(&[1; 11], None, None), None);
    }
}
