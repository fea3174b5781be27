//! The history's truth test: rollups and outages recomputed from the raw rows, by SQL written here and nowhere
//! else (not the schema's), must equal what ingest, the insert trigger, the hour close and the migration built.
#![allow(dead_code)]

use super::stores::PgServer;

/// How values are compared: exactly, or as packed hours keep them (hourly rollups of finished days): RTTs as
/// `real` and last check times to the second, the RTT sum left out (compared separately within its precision).
fn compared(exact: bool) -> (&'static str, impl Fn(&str) -> String) {
    let rtt = if exact { "float8" } else { "real" };
    (rtt, move |t: &str| if exact { t.to_string() } else { format!("date_trunc('second', {t})") })
}

/// A series: a host as one vantage point saw it.
const SERIES: &str = "host::text || '@' || vantage";

/// Per host, vantage point and hour (or day): every counter the rollups keep, computed straight from `pinger_data`.
fn recomputed(period: &str, exact: bool) -> String {
    let (rtt, time) = compared(exact);
    format!(
        "SELECT {SERIES}, {period} AS p, count(*)::int, (count(*) - count(*) FILTER (WHERE result))::int, \
         sum(coalesce(sent, 1))::int, sum(coalesce(received, CASE WHEN result THEN 1 ELSE 0 END))::int, \
         sum(coalesce(duplicates, 0))::int, count(rtt_ms) FILTER (WHERE result)::int, \
         (min(coalesce(rtt_min_ms, rtt_ms)) FILTER (WHERE result))::{rtt}, \
         (max(coalesce(rtt_max_ms, rtt_ms)) FILTER (WHERE result))::{rtt}, \
         {sum} count(*) FILTER (WHERE result AND rtt_ms < 1)::int, count(*) FILTER (WHERE result AND rtt_ms >= 1000)::int, \
         {}, {} FROM pinger_data",
        time("max(ping_timestamp)"),
        time("max(ping_timestamp) FILTER (WHERE result)"),
        sum = if exact { "round(coalesce(sum(rtt_ms) FILTER (WHERE result), 0)::numeric, 6)," } else { "" },
    )
}

/// The same counters as the rollup `table` holds them.
fn stored(table: &str, period: &str, exact: bool) -> String {
    let (rtt, time) = compared(exact);
    format!(
        "SELECT {SERIES}, {period}, checks, failures, sent, received, duplicates, rtt_count, rtt_min_ms::{rtt}, \
         rtt_max_ms::{rtt}, {sum} rtt_hist[1], rtt_hist[11], {}, {} FROM {table}",
        time("last_at"),
        time("last_up_at"),
        sum = if exact { "round(rtt_sum_ms::numeric, 6)," } else { "" },
    )
}

/// Rows in one query's result and not in the other's, both ways; empty when they agree.
fn difference(pg: &PgServer, a: &str, b: &str) -> String {
    pg.query(&format!("(({a}) EXCEPT ALL ({b})) UNION ALL (({b}) EXCEPT ALL ({a})) LIMIT 20"))
}

/// Asserts that `pinger_hourly` (for every hour rolled up), `pinger_daily` (every day rolled up) and
/// `pinger_outages` equal a recomputation from the raw rows. Only meaningful while raw rows are all kept.
pub fn assert_history_matches_raw(pg: &PgServer) {
    let rolled = "(SELECT rolled_until FROM pinger_rollup_state)";
    let hour = "date_trunc('hour', ping_timestamp, 'UTC')";
    let day = "(ping_timestamp AT TIME ZONE 'UTC')::date";
    let hourly = difference(
        pg,
        &format!("{} WHERE ping_timestamp < {rolled} GROUP BY 1, 2", recomputed(hour, false)),
        &stored("pinger_hourly", "hour", false),
    );
    assert_eq!(hourly, "", "pinger_hourly differs from the raw rows (recomputed first, then stored)");
    let sums = pg.query(&format!(
        "SELECT count(*) FROM pinger_hourly h FULL JOIN (SELECT host, vantage, {hour} AS hour, \
         coalesce(sum(rtt_ms) FILTER (WHERE result), 0) AS s FROM pinger_data WHERE ping_timestamp < {rolled} \
         GROUP BY 1, 2, 3) r ON r.host = h.host AND r.vantage = h.vantage AND r.hour = h.hour \
         WHERE NOT abs(h.rtt_sum_ms - r.s) <= 1e-6 * abs(r.s) + 1e-9 OR h.host IS NULL OR r.host IS NULL"
    ));
    assert_eq!(sums, "0", "pinger_hourly's RTT sums differ from the raw rows' beyond `real` precision");
    let daily = difference(
        pg,
        &format!("{} WHERE ping_timestamp < date_trunc('day', {rolled}, 'UTC') GROUP BY 1, 2", recomputed(day, true)),
        &stored("pinger_daily", "day", true),
    );
    assert_eq!(daily, "", "pinger_daily differs from the raw rows");
    let hist = pg.query(
        "SELECT count(*) FROM (SELECT rtt_hist, rtt_count FROM pinger_hourly UNION ALL \
         SELECT rtt_hist, rtt_count FROM pinger_daily) r \
         WHERE (SELECT sum(x) FROM unnest(r.rtt_hist) x) <> r.rtt_count OR cardinality(r.rtt_hist) <> 11",
    );
    assert_eq!(hist, "0", "every answered check is in exactly one histogram bucket");
    // Packed days are compressed in their row (1,080 bytes of histogram uncompressed).
    let packed = pg.query("SELECT count(*) FROM pinger_hours_packed WHERE pg_column_size(hist) >= 1080");
    assert_eq!(packed, "0", "every packed day's histogram is compressed");
    // An outage: the failed checks that share the last good check before them; it ends at the first good
    // check after them.
    // Each vantage point's checks of a host are a series of their own.
    let outages = "SELECT f.host, f.vantage, min(f.t), (SELECT min(s.ping_timestamp) FROM pinger_data s \
                   WHERE s.host = f.host AND s.vantage = f.vantage AND s.result AND s.ping_timestamp > max(f.t)), \
                   count(*)::int, max(f.t) FROM ( \
                   SELECT d.host, d.vantage, d.ping_timestamp AS t, (SELECT max(s.ping_timestamp) FROM pinger_data s \
                   WHERE s.host = d.host AND s.vantage = d.vantage AND s.result AND s.ping_timestamp < d.ping_timestamp) \
                   AS prev_up FROM pinger_data d WHERE NOT d.result) f GROUP BY f.host, f.vantage, f.prev_up";
    let diff = difference(
        pg,
        outages,
        "SELECT host, vantage, started_at, ended_at, failed_checks, last_failed_at FROM pinger_outages",
    );
    assert_eq!(diff, "", "pinger_outages differs from the raw rows");
}

/// Rolls up every hour up to the next one (the current hour included), as if time had passed.
pub fn close_all_hours(pg: &PgServer) {
    pg.query("SELECT pinger_close_hours(now() + interval '1 hour')");
}
