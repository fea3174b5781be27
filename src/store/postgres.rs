//! Postgres: the schema (embedded `schema.sql`), sweep rows, and result rows by binary COPY.
//!
//! Every value travels as a bound parameter or inside the COPY stream, never spliced into SQL text. A batch's
//! rows and its id in `pinger_batches` commit in one transaction, so a batch written twice (replayed from the
//! spool after a crash or a lost acknowledgement) is stored once.

use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls};
use uuid::Uuid;

use super::{system_time, Record, Row, Store, StoreError, SweepInfo};

pub const SCHEMA: &str = include_str!("../../schema.sql");
/// Serialises schema changes between pinger processes that start at the same moment.
const SCHEMA_LOCK: i64 = 0x7069_6e67_6572; // "pinger"

const COPY: &str = "COPY pinger_data (sweep_id, host, ping_timestamp, result, status, rtt_ms, rtt_min_ms, \
                    rtt_max_ms, sent, received, duplicates, late, icmp_type, icmp_code, icmp_from, error) \
                    FROM STDIN (FORMAT binary)";
const COPY_TYPES: [Type; 16] = [
    Type::UUID,
    Type::INET,
    Type::TIMESTAMPTZ,
    Type::BOOL,
    Type::TEXT,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT2,
    Type::INT2,
    Type::INET,
    Type::TEXT,
];

pub struct Postgres {
    client: Client,
    target: String,
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

fn classify(target: &str, what: &str, e: &postgres::Error) -> StoreError {
    let refused = e.as_db_error().is_some_and(|d| {
        let c = d.code();
        *c == SqlState::INVALID_PASSWORD
            || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            || *c == SqlState::INVALID_CATALOG_NAME
            || *c == SqlState::INSUFFICIENT_PRIVILEGE
    });
    // The server's own words (e.g. "password authentication failed for user ..."); they never hold the password.
    let reason = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
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
    /// Connects (bounded by `timeout`) and applies the schema.
    pub fn connect(mut cfg: Config, timeout: Duration) -> Result<Postgres, StoreError> {
        let target = describe(&cfg);
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(timeout);
        }
        cfg.application_name("pinger");
        // A server that stops answering mid-statement must not hang a cron job for ever.
        cfg.keepalives(true).keepalives_idle(Duration::from_secs(10));
        cfg.tcp_user_timeout(timeout.max(Duration::from_secs(5)));
        let mut client = cfg.connect(NoTls).map_err(|e| classify(&target, "cannot connect", &e))?;
        let apply =
            format!("SELECT pg_advisory_lock({SCHEMA_LOCK}); {SCHEMA}; SELECT pg_advisory_unlock({SCHEMA_LOCK});");
        client.batch_execute(&apply).map_err(|e| classify(&target, "cannot apply schema.sql", &e))?;
        Ok(Postgres { client, target })
    }

    fn write_sweep(&mut self, s: &SweepInfo) -> Result<(), postgres::Error> {
        let started = system_time(s.started_us);
        let finished = s.finished_us.map(system_time);
        let int = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        self.client.execute(
            "INSERT INTO sweeps (id, started_at, finished_at, host_count, alive, timeout, unreachable, source, \
             options, pinger_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ($9::text)::jsonb, $10) \
             ON CONFLICT (id) DO UPDATE SET started_at = EXCLUDED.started_at, host_count = EXCLUDED.host_count, \
             source = EXCLUDED.source, options = EXCLUDED.options, pinger_version = EXCLUDED.pinger_version, \
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
            ],
        )?;
        Ok(())
    }

    fn write_rows(&mut self, id: Uuid, sweep: Uuid, rows: &[Row]) -> Result<(), postgres::Error> {
        let mut tx = self.client.transaction()?;
        // The sweep's own record normally came first; if it was lost (a server that lost a commit in a crash),
        // a placeholder keeps the rows' reference valid until the sweep's finish record fills it in.
        let first = rows.first().map_or(std::time::UNIX_EPOCH, Row::at);
        tx.execute(
            "INSERT INTO sweeps (id, started_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            &[&sweep, &first],
        )?;
        let fresh = tx.execute(
            "INSERT INTO pinger_batches (id, sweep_id, row_count) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            &[&id, &sweep, &(rows.len() as i32)],
        )?;
        if fresh == 1 {
            let mut w = BinaryCopyInWriter::new(tx.copy_in(COPY)?, &COPY_TYPES);
            for r in rows {
                let at = r.at();
                let status = r.status.as_str();
                let (sent, received, dups, late) =
                    (i32::from(r.sent), i32::from(r.received), i32::from(r.duplicates), i32::from(r.late));
                let (itype, icode) = (r.icmp_type.map(i16::from), r.icmp_code.map(i16::from));
                let values: [&(dyn ToSql + Sync); 16] = [
                    &sweep,
                    &r.host,
                    &at,
                    &r.alive(),
                    &status,
                    &r.rtt_ms,
                    &r.rtt_min_ms,
                    &r.rtt_max_ms,
                    &sent,
                    &received,
                    &dups,
                    &late,
                    &itype,
                    &icode,
                    &r.icmp_from,
                    &r.error,
                ];
                w.write(&values)?;
            }
            w.finish()?;
        }
        tx.commit()
    }
}

impl Store for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn write(&mut self, record: &Record) -> Result<(), StoreError> {
        let r = match record {
            Record::Sweep(s) => self.write_sweep(s),
            Record::Rows { id, sweep, rows } => self.write_rows(*id, *sweep, rows),
        };
        r.map_err(|e| classify(&self.target, "write failed", &e))
    }
}
