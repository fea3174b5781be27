//! `pinger migrate`: upgrades the database to the current schema and moves an older schema's rows in (version 1,
//! or the original tool's table), with a progress bar on a terminal. The work is in `store::migrate`; a sweep
//! that finds an old schema runs the same code.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::config::Env;
use crate::report::{Db, ReportError};
use crate::store::migrate::{self, Migrated};
use crate::store::postgres::{ensure_schema, SCHEMA_VERSION};

/// Upgrade the Postgres that pinger writes to: apply the current schema and move an older schema's rows into it
/// (resumes where an interrupted migration stopped).
#[derive(FromArgs, Debug)]
pub struct MigrateCli {
    /// postgres connection string (default: env DATABASE_URL, or POSTGRES_*)
    #[argh(option)]
    pub database_url: Option<String>,

    /// no progress bar on stderr
    #[argh(switch)]
    pub no_progress: bool,
}

/// Runs the migration; a line saying what was done goes to `out`.
pub fn run(cli: MigrateCli, env: &Env, out: &mut impl Write) -> Result<(), ReportError> {
    let Db { mut client, cfg, target } =
        Db::open(cli.database_url.as_deref(), env, Duration::from_secs(10), "pinger migrate")?;
    let pg_err = |e: postgres::Error| ReportError::postgres(&target, &e, cfg.explain(&e));
    client.batch_execute("SET statement_timeout = 0").map_err(pg_err)?;
    ensure_schema(&mut client).map_err(pg_err)?;
    let started = Instant::now();
    let bar = if !cli.no_progress && std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/~{len} rows  {per_sec}  eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let done = migrate::run(&mut client, &mut |p| {
        bar.set_length(p.total);
        bar.set_position(p.moved);
    })
    .map_err(pg_err)?;
    bar.finish_and_clear();
    let hours = close_all(&mut client).map_err(pg_err)?;
    let w = |r: std::io::Result<()>| r.map_err(|e| ReportError::Postgres(format!("writing: {e}")));
    match done {
        Migrated::Nothing => w(writeln!(out, "schema {SCHEMA_VERSION} is current; nothing to migrate"))?,
        Migrated::Busy => return Err(ReportError::Postgres("another pinger is migrating this database now".into())),
        Migrated::Done { rows, set_aside } => {
            w(writeln!(
                out,
                "migrated {rows} rows into schema {SCHEMA_VERSION} in {:.1} s; {hours} hours rolled up{}",
                started.elapsed().as_secs_f64(),
                if set_aside > 0 {
                    format!("; {set_aside} rows that are not checks kept in pinger_data_unmigrated")
                } else {
                    String::new()
                }
            ))?;
        }
    }
    Ok(())
}

/// Rolls up every finished hour, an hour per transaction (inserts wait on each).
fn close_all(client: &mut postgres::Client) -> Result<i32, postgres::Error> {
    let grace = crate::store::history::CLOSE_GRACE.as_secs_f64();
    let mut total = 0;
    loop {
        let n: i32 =
            client.query_one("SELECT pinger_close_hours(now() - make_interval(secs => $1), 1)", &[&grace])?.get(0);
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}
