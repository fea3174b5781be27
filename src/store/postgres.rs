//! Postgres: the schema (embedded `schema.sql`, upgraded in place), sweep rows, and result rows by binary COPY.
//!
//! Every value travels as a bound parameter or inside the COPY stream, never spliced into SQL text. A batch's
//! rows and its id in `pinger_batches` commit in one transaction, so a batch written twice (replayed from the
//! spool after a crash or a lost acknowledgement) is stored once; the insert trigger of `schema.sql` updates the
//! rollups and the outage log in that same transaction, so they are exactly-once too.

use std::time::Duration;

use std::io::Write;

use postgres::error::SqlState;
use postgres::{Client, Config};
use uuid::Uuid;

use super::history::{Maintained, Retention};
use super::tls::PgConfig;
use super::{system_time, Record, Row, StoreError, SweepInfo};
use crossbeam_channel::RecvTimeoutError;
use std::sync::atomic::{AtomicBool, Ordering};

pub const SCHEMA: &str = include_str!("../../schema.sql");
/// The version `schema.sql` records in `pinger_schema`.
pub const SCHEMA_VERSION: i32 = 6;
/// Serialises schema changes between pinger processes that start at the same moment.
const SCHEMA_LOCK: i64 = 0x7069_6e67_6572; // "pinger"

const COPY: &str = "COPY pinger_data (sweep_id, host, ping_timestamp, result, status, rtt_ms, rtt_min_ms, \
                    rtt_max_ms, sent, received, duplicates, late, icmp_type, icmp_code, icmp_from, error, vantage) \
                    FROM STDIN (FORMAT binary)";

/// Rows per COPY transaction. Fixed, so that a batch splits the same way when it is replayed.
pub const PART_ROWS: usize = 10_000;
/// Connections that COPY in parallel: one per two cores of this machine, at least one, at most four. On a
/// 2-core machine that shares its cores with the sweep and the servers, a second lane made whole sweeps slower
/// (60,000 hosts with both stores: 1.26x of `--no-store` with one lane, 1.31-1.42x with two), though it raised
/// ingest alone (BENCHMARKS.md).
fn lanes() -> usize {
    std::env::var("PINGER_PG_LANES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
        .clamp(1, 4)
}

pub struct Postgres {
    lanes: Vec<Lane>,
    target: String,
    keep: Retention,
}

struct Lane {
    client: Client,
    /// The COPY stream of one part, reused.
    buf: Vec<u8>,
}

/// "database pinger on 127.0.0.1:5432 as pinger": what to name in messages (never the password).
pub fn describe(cfg: &Config) -> String {
    let host = cfg
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "database {:?} on {host}:{port} as {:?}",
        cfg.get_dbname().unwrap_or("(default)"),
        cfg.get_user().unwrap_or("(default)")
    )
}

/// True when the server asked for a password and the settings have none: a configuration error, not an outage.
pub fn password_missing(e: &postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.to_string() == "password missing")
}

pub(crate) fn classify(target: &str, what: &str, e: &postgres::Error) -> StoreError {
    let no_password = password_missing(e);
    let refused = no_password
        || e.as_db_error().is_some_and(|d| {
            let c = d.code();
            *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                || *c == SqlState::INVALID_CATALOG_NAME
                || *c == SqlState::INSUFFICIENT_PRIVILEGE
        });
    // The server's own words (e.g. "password authentication failed for user ..."); they never hold the password.
    let reason = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None if no_password => "the server asks for a password and none is set: put it in DATABASE_URL, or in \
                                POSTGRES_PASSWORD (in .env or the environment)"
            .to_string(),
        // "error connecting to server" alone does not say why: add its causes ("Connection refused (os error
        // 111)").
        None => {
            let mut reason = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                reason = format!("{reason}: {c}");
                cause = c.source();
            }
            reason
        }
    };
    let msg = format!("postgres {target}: {what}: {reason}");
    // Classes 22 (data exception) and 23 (integrity constraint): the record itself is the problem.
    let rejected = e.as_db_error().is_some_and(|d| matches!(&d.code().code()[..2], "22" | "23"));
    if refused {
        StoreError::Refused(msg)
    } else if rejected {
        StoreError::Rejected(msg)
    } else {
        StoreError::Unavailable(msg)
    }
}

impl Postgres {
    /// Connects (bounded by `timeout`), applies the schema and moves an older schema's rows in (see
    /// [`super::migrate`]; a migration another pinger is running is left to it).
    pub fn connect(mut pg: PgConfig, timeout: Duration, keep: Retention) -> Result<Postgres, StoreError> {
        let target = describe(&pg.config);
        let cfg = &mut pg.config;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(timeout);
        }
        cfg.application_name("pinger");
        // A server that stops answering mid-statement must not hang a cron job for ever.
        cfg.keepalives(true).keepalives_idle(Duration::from_secs(10));
        cfg.tcp_user_timeout(timeout.max(Duration::from_secs(5)));
        // connect_timeout bounds only the TCP connect: a server that accepts and then never answers (stopped,
        // swamped) would hang the run before it probes anything, deaf to SIGTERM. So the opening (connect, TLS,
        // login, one query) runs on a thread of its own, and a server silent past the deadline counts as away:
        // the run spools. A thread stuck in a read ends with the process; in continuous mode no second one starts
        // while one is stuck (each sweep would leave a thread and a socket behind). Applying the schema is not
        // under the deadline: an upgrade may take minutes, and cut off it would roll back and start again every run.
        if OPENING.swap(true, Ordering::AcqRel) {
            return Err(StoreError::Unavailable(format!(
                "postgres {target}: the last connection attempt still waits for an answer (a stopped or overloaded \
                 server)"
            )));
        }
        let deadline = timeout.saturating_mul(2);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let t = target.clone();
        let spawned = std::thread::Builder::new().name("pinger-pg-open".into()).spawn(move || {
            let opened = open(&pg, &t);
            OPENING.store(false, Ordering::Release);
            let _ = tx.send(opened);
        });
        if let Err(e) = spawned {
            OPENING.store(false, Ordering::Release);
            return Err(StoreError::Unavailable(format!("postgres {target}: cannot start connecting: {e}")));
        }
        let mut lanes = match rx.recv_timeout(deadline) {
            Ok(opened) => opened?,
            Err(RecvTimeoutError::Timeout) => {
                return Err(StoreError::Unavailable(format!(
                    "postgres {target}: no answer within {} s while connecting and logging in (a stopped or \
                     overloaded server)",
                    deadline.as_secs()
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(StoreError::Unavailable(format!("postgres {target}: the connecting thread failed")))
            }
        };
        let client = &mut lanes[0].client;
        ensure_schema(client).map_err(|e| classify(&target, "cannot apply schema.sql", &e))?;
        let pending = super::migrate::pending(client).map_err(|e| classify(&target, "cannot read the schema", &e))?;
        let client = &mut lanes[0].client;
        if pending {
            eprintln!("pinger: migrating the rows of an older schema (pinger_data_old) into schema {SCHEMA_VERSION}");
            let started = std::time::Instant::now();
            match super::migrate::run(client, &mut |_| {}) {
                Ok(super::migrate::Migrated::Done { rows, set_aside }) => eprintln!(
                    "pinger: migrated {rows} rows in {:.1} s{}",
                    started.elapsed().as_secs_f64(),
                    if set_aside > 0 { format!("; {set_aside} kept in pinger_data_unmigrated") } else { String::new() }
                ),
                Ok(super::migrate::Migrated::Busy) => {
                    eprintln!("pinger: another pinger is migrating; this run stores into the new tables")
                }
                Ok(super::migrate::Migrated::Nothing) => {}
                Err(e) => return Err(classify(&target, "migration stopped (it resumes on the next run)", &e)),
            }
        }
        Ok(Postgres { lanes, target, keep })
    }

    /// Partitions ahead, finished hours rolled up, old history dropped ([`super::history`]).
    pub fn maintain(&mut self) -> Result<Maintained, StoreError> {
        super::history::maintain(&mut self.lanes[0].client, &self.keep)
            .map_err(|e| classify(&self.target, "history maintenance failed (tried again next run)", &e))
    }

    fn write_sweep(&mut self, s: &SweepInfo) -> Result<(), postgres::Error> {
        let started = system_time(s.started_us);
        let finished = s.finished_us.map(system_time);
        let int = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        self.lanes[0].client.execute(
            "INSERT INTO sweeps (id, started_at, finished_at, host_count, alive, timeout, unreachable, source, \
             options, pinger_version, vantage) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ($9::text)::jsonb, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at, host_count = EXCLUDED.host_count, \
             source = EXCLUDED.source, options = EXCLUDED.options, pinger_version = EXCLUDED.pinger_version, \
             vantage = EXCLUDED.vantage, \
             finished_at = COALESCE(EXCLUDED.finished_at, sweeps.finished_at), \
             alive = COALESCE(EXCLUDED.alive, sweeps.alive), timeout = COALESCE(EXCLUDED.timeout, sweeps.timeout), \
             unreachable = COALESCE(EXCLUDED.unreachable, sweeps.unreachable)",
            &[
                &s.id,
                &started,
                &finished,
                &int(s.host_count),
                &s.alive.map(int),
                &s.timeout.map(int),
                &s.unreachable.map(int),
                &s.source,
                &s.options.to_string(),
                &s.version,
                &s.vantage,
            ],
        )?;
        Ok(())
    }

    /// Stores a batch as parts of [`PART_ROWS`] rows, COPYed in parallel over the lanes. Each part commits with
    /// its own id (the batch id with the part number folded in), so whichever parts committed before a failure
    /// are skipped when the batch is written again.
    fn write_rows(
        &mut self,
        id: Uuid,
        sweep: Uuid,
        vantage: &str,
        rows: &[Row],
    ) -> Result<std::io::Result<()>, postgres::Error> {
        let parts: Vec<(Uuid, &[Row])> =
            rows.chunks(PART_ROWS).enumerate().map(|(k, p)| (Uuid::from_u128(id.as_u128() ^ k as u128), p)).collect();
        let lanes = self.lanes.len();
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .lanes
                .iter_mut()
                .enumerate()
                .map(|(l, lane)| {
                    let mine: Vec<(Uuid, &[Row])> = parts.iter().skip(l).step_by(lanes).copied().collect();
                    scope.spawn(move || {
                        for (part_id, part) in mine {
                            match lane.copy_part(part_id, sweep, vantage, part) {
                                Ok(Ok(())) => {}
                                other => return other,
                            }
                        }
                        Ok(Ok(()))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Ok(Err(std::io::Error::other("COPY thread panicked")))))
                .collect()
        });
        for r in results {
            if !matches!(r, Ok(Ok(()))) {
                return r;
            }
        }
        Ok(Ok(()))
    }
}

/// Opens the lanes, each logged in, and asks the first one a question: a server that answers that is there.
fn open(pg: &PgConfig, target: &str) -> Result<Vec<Lane>, StoreError> {
    let mut lanes = Vec::with_capacity(lanes());
    for _ in 0..lanes.capacity() {
        let client = pg.connect().map_err(|e| match pg.explain(&e) {
            // A certificate that is not trusted may be replaced: spool and try again next run.
            Some(why) => StoreError::Unavailable(format!("postgres {target}: cannot connect: {why}")),
            None => classify(target, "cannot connect", &e),
        })?;
        lanes.push(Lane { client, buf: Vec::new() });
    }
    lanes[0].client.simple_query("SELECT 1").map_err(|e| classify(target, "cannot connect", &e))?;
    Ok(lanes)
}

/// A connection attempt is under way on its thread (see [`Postgres::connect`]).
static OPENING: AtomicBool = AtomicBool::new(false);

/// The database holds this version of the schema. Asked without an error on a new database (inside a
/// transaction an error would abort it).
fn is_current(c: &mut impl postgres::GenericClient) -> bool {
    let exists = c.query_one("SELECT to_regclass('pinger_schema') IS NOT NULL", &[]).is_ok_and(|r| r.get::<_, bool>(0));
    exists
        && c.query_opt("SELECT max(version) FROM pinger_schema", &[])
            .ok()
            .flatten()
            .is_some_and(|r| r.get::<_, Option<i32>>(0) == Some(SCHEMA_VERSION))
}

/// Applies `schema.sql` unless the database already holds this version. A current schema is left alone: its DDL
/// would take table locks that a busy reader (Adminer) holds.
pub fn ensure_schema(client: &mut Client) -> Result<(), postgres::Error> {
    if is_current(client) {
        return Ok(());
    }
    // One pinger applies it; the others wait for the lock, then find it current. The lock is the session's, let go
    // only once the schema's transaction has committed, and the check after the wait runs in a transaction of its
    // own: a transaction's start reads what others committed before it, table names included. Checked inside the
    // transaction that waited on the lock (an advisory lock does not refresh the session's catalog cache), a
    // pinger still saw "no pinger_schema" and applied the schema a second time, deadlocking with a third that was
    // already storing (six pingers at once on a new database, about one run in five).
    client.execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK])?;
    let applied = match is_current(client) {
        true => Ok(()),
        false => client.transaction().and_then(|mut tx| {
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        }),
    };
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK]);
    applied?;
    unlocked.map(drop)
}

impl Lane {
    /// The outer error is Postgres' own; the inner one an I/O failure while streaming the COPY.
    fn copy_part(
        &mut self,
        id: Uuid,
        sweep: Uuid,
        vantage: &str,
        rows: &[Row],
    ) -> Result<std::io::Result<()>, postgres::Error> {
        let mut tx = self.client.transaction()?;
        // The sweep's own record normally came first; if it was lost (a server that lost a commit in a crash),
        // a placeholder keeps the rows' reference valid until the sweep's finish record fills it in.
        let first = rows.first().map_or(std::time::UNIX_EPOCH, Row::at);
        tx.execute(
            "INSERT INTO sweeps (id, started_at, vantage) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            &[&sweep, &first, &vantage],
        )?;
        let fresh = tx.execute(
            "INSERT INTO pinger_batches (id, sweep_id, row_count) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            &[&id, &sweep, &(rows.len() as i32)],
        )?;
        if fresh == 1 {
            super::copy::encode(sweep, vantage, rows, &mut self.buf);
            let mut w = tx.copy_in(COPY)?;
            if let Err(e) = w.write_all(&self.buf) {
                // Dropping the writer unfinished aborts the COPY and the transaction: none of the part is in.
                return Ok(Err(e));
            }
            w.finish()?;
        }
        tx.commit().map(Ok)
    }
}

impl Postgres {
    /// A record, exactly once: the sweep's row, or a batch's rows in parts that each commit with their id.
    pub fn write(&mut self, record: &Record) -> Result<(), StoreError> {
        let r = match record {
            Record::Sweep(s) => self.write_sweep(s).map(Ok),
            Record::Rows { id, sweep, rows, vantage } => self.write_rows(*id, *sweep, vantage, rows),
        };
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(io)) => Err(StoreError::Unavailable(format!("postgres {}: COPY failed: {io}", self.target))),
            Err(e) => Err(classify(&self.target, "write failed", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_sql_records_the_version_the_code_expects() {
        let line = format!("INSERT INTO pinger_schema (version) VALUES ({});", super::SCHEMA_VERSION);
        assert!(super::SCHEMA.contains(&line), "schema.sql and SCHEMA_VERSION disagree");
    }
}
