//! Keeping history bounded: day partitions made ahead, finished hours rolled up, old raw days dropped whole.
//!
//! The work itself is SQL in `schema.sql` (`pinger_partition_for`, `pinger_close_hours`, `pinger_retention`);
//! this file decides when to call it and with what. It runs once per run, in the writer thread, beside the
//! sweep: a sweep never waits for it, and it never fails a sweep (a problem is a warning, tried again next run).

use std::time::Duration;

use postgres::Client;

/// How long each kind of history is kept. Defaults in `config.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Raw rows (`pinger_data`): whole UTC days older than this are dropped.
    pub raw: Duration,
    /// Hourly rollups.
    pub hourly: Duration,
    /// Daily rollups; `None` keeps them for ever.
    pub daily: Option<Duration>,
}

/// Day partitions created ahead of time, so that midnight finds its partition ready (a row that found none would
/// still be kept, in `pinger_data_default`, and moved when its day's partition is made).
const DAYS_AHEAD: i32 = 2;
/// An hour is rolled up once it has been over this long: rows of a sweep that straddles the hour are in by then.
/// A row that still comes later is added by the insert trigger, so this only saves work.
pub const CLOSE_GRACE: Duration = Duration::from_secs(120);
/// Hours one run rolls up at most: after a long pause, catching up is spread over the next runs.
pub const MAX_HOURS_PER_RUN: i32 = 24;

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Maintained {
    pub partitions_created: i32,
    pub hours_rolled_up: i32,
    pub partitions_dropped: i32,
}

fn interval(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Partitions ahead (and for any day another tool wrote into the default partition), hours rolled up, old
/// history dropped. Each step is its own transaction, bounded by the session's lock and statement timeouts.
pub fn maintain(client: &mut Client, keep: &Retention) -> Result<Maintained, postgres::Error> {
    let partitions_created = client.query_one("SELECT pinger_prepare_partitions($1)", &[&DAYS_AHEAD])?.get(0);
    let grace = interval(CLOSE_GRACE);
    let mut hours_rolled_up = 0;
    while hours_rolled_up < MAX_HOURS_PER_RUN {
        // One hour per transaction: inserts wait on it, so each wait stays short. The statement may take longer
        // than a store operation's timeout on a big list; the lock wait may not.
        let mut tx = client.transaction()?;
        tx.batch_execute("SET LOCAL statement_timeout = 0")?;
        let n: i32 = tx.query_one("SELECT pinger_close_hours(now() - make_interval(secs => $1), 1)", &[&grace])?.get(0);
        tx.commit()?;
        if n == 0 {
            break;
        }
        hours_rolled_up += n;
    }
    let partitions_dropped = client
        .query_one(
            "SELECT pinger_retention(make_interval(secs => $1), make_interval(secs => $2), \
             make_interval(secs => $3::float8))",
            &[&interval(keep.raw), &interval(keep.hourly), &keep.daily.map(interval)],
        )?
        .get(0);
    Ok(Maintained { partitions_created, hours_rolled_up, partitions_dropped })
}
