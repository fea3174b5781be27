//! The writer thread: takes finished hosts from the engine over a crossbeam channel, batches them (by size and
//! by time), and writes each batch to every enabled store. The engine never waits on a store.
//!
//! Postgres first replays the spool (older runs' rows before ours). When Postgres is away or goes away, records
//! go to the spool instead, in order. Redis is a cache: a failed write is retried briefly, then Redis is left
//! out for the rest of the sweep with a warning (`cache.rs`). If the writer itself hangs (a store that accepts but
//! never answers), [`Writer::finish`] gives up after its deadline and rescues what the writer still held into the
//! spool, so a cron job ends and nothing is lost; `handover.rs` makes sure every result has one owner throughout.
//!
//! What the writer holds is bounded: with Postgres on, once [`Setup::queue_rows`] rows wait for it, further
//! results go to the spool through the spill thread (`spill.rs`) and come back to the writer one file at a time.
//! With Redis alone there is no spool and the queue is left to grow: Redis is dropped for the sweep after its
//! timeout, and the writer then drains the queue at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::cache::{Cache, Connector};
use super::handover::{Handover, Msg, Taken};
use super::postgres::Postgres;
use super::spill::{Spill, SPILL_ROWS};
use super::spool::{ReadError, Spool};
use super::{Record, StoreError, SweepInfo};
use crate::outcome::HostResult;
use crate::time::WallClock;

/// How the writer is set up for one sweep.
pub struct Setup {
    /// Connected, schema applied; `None` when Postgres is off or was unreachable at start.
    pub postgres: Option<Postgres>,
    /// Where Postgres records go while it is away; `None` only when Postgres is off.
    pub spool: Option<Spool>,
    /// Connects Redis inside the writer thread, so that a slow Redis never delays the sweep's start.
    pub redis: Option<Connector>,
    pub sweep: SweepInfo,
    /// Turns a result's `finished_at` into Unix time.
    pub wall: WallClock,
    pub batch_rows: usize,
    pub batch_time: Duration,
    /// Rows that may wait in memory for the writer before the rest spills to the spool (with Postgres on).
    pub queue_rows: usize,
}

/// What the writer delivered where: rows into Postgres, keys into Redis, records into the spool.
#[derive(Debug, Default, Clone)]
pub struct Delivery {
    pub postgres_rows: u64,
    pub replayed_files: u64,
    pub spooled_files: u64,
    pub spooled_rows: u64,
    /// Rows that went through the spool because the stores fell behind the sweep, and were stored in this run.
    pub spilled_rows: u64,
    pub redis_keys: u64,
    /// Rows not written to Redis because it was away (a cache: the next sweep refreshes them).
    pub redis_skipped_rows: u64,
    /// Rows that could be neither stored nor spooled (the spool itself failed): the run must say so.
    pub lost_rows: u64,
    /// Files still waiting in the spool after this run.
    pub spool_left: usize,
    /// Files set aside in the spool as not being records (`*.bad`), this run's or older: they wait for a person.
    pub spool_bad: usize,
    pub warnings: Vec<String>,
    /// The writer did not finish in time; the main thread spooled what it held.
    pub timed_out: bool,
}

impl Delivery {
    /// True when every row of the run is in Postgres (or Postgres is off) and nothing waits in the spool, set
    /// aside or not.
    pub fn all_stored(&self) -> bool {
        self.spooled_rows == 0 && self.lost_rows == 0 && self.spool_left == 0 && self.spool_bad == 0 && !self.timed_out
    }

    /// Counts what is left in the spool.
    pub(super) fn count_spool(&mut self, spool: &Spool) {
        self.spool_left = spool.pending().map_or(0, |p| p.len());
        self.spool_bad = spool.bad().map_or(0, |p| p.len());
    }
}

pub struct Writer {
    tx: Sender<Msg>,
    handover: Handover,
    handle: JoinHandle<Delivery>,
    spool_dir: Option<std::path::PathBuf>,
    /// `None` with Postgres off: no spool to spill to.
    spill: Option<Spill>,
    queue_rows: usize,
}

/// Waits up to `until` for `handle`'s thread to end (from a helper thread: a join has no timeout). `None` when it
/// did not end in time or panicked.
fn join_until<T: Send + 'static>(handle: JoinHandle<T>, until: Instant) -> Option<T> {
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = done_tx.send(handle.join());
    });
    done_rx.recv_timeout(until.saturating_duration_since(Instant::now())).ok()?.ok()
}

impl Writer {
    pub fn spawn(mut setup: Setup) -> Writer {
        let (tx, handover) = Handover::new(setup.wall, setup.sweep.id, setup.sweep.vantage.clone());
        let spool_dir = setup.spool.as_ref().map(|s| s.dir().to_path_buf());
        // Older runs' files, listed before this run spills any of its own: those are the writer's to take.
        let older = match setup.spool.as_ref().map(Spool::pending) {
            Some(Err(e)) => Err(e.to_string()),
            Some(Ok(files)) => Ok(files),
            None => Ok(Vec::new()),
        };
        let spill = setup
            .spool
            .clone()
            .map(|spool| Spill::spawn(spool, tx.clone(), handover.clone(), setup.batch_rows.clamp(1, SPILL_ROWS)));
        let queue_rows = std::mem::take(&mut setup.queue_rows);
        let theirs = handover.clone();
        let handle = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || Worker::new(setup, theirs).run(older))
            .expect("spawning the writer thread");
        Writer { tx, handover, handle, spool_dir, spill, queue_rows }
    }

    /// Hands over finished hosts. Never waits, whatever the stores do: once the writer has `queue_rows` waiting
    /// (and Postgres is on), the batch goes to the spill thread instead. One batch is always queued when
    /// nothing waits, however large.
    pub fn send(&self, batch: Vec<HostResult>) {
        let queued = self.handover.queued();
        match &self.spill {
            Some(spill) if queued > 0 && queued + batch.len() > self.queue_rows => spill.send(batch),
            _ => self.handover.queue(&self.tx, batch),
        }
    }

    /// Ends the sweep with its final record and waits up to `deadline` for the writer to finish: first for the
    /// spill thread to hand on what it holds, so that the final record comes after every row.
    pub fn finish(mut self, last: SweepInfo, deadline: Duration) -> Delivery {
        let until = Instant::now() + deadline;
        let mut spill_warnings = Vec::new();
        let mut unspilled = 0;
        if let Some(spill) = self.spill.take() {
            let (handle, pending) = spill.close();
            match join_until(handle, until) {
                Some(w) => spill_warnings = w,
                // Still writing to a spool that does not answer: what it holds is neither stored nor spooled.
                None => unspilled = pending.load(Ordering::Relaxed),
            }
        }
        let _ = self.tx.send(Msg::Finish(last.clone()));
        let mut report = match join_until(self.handle, until) {
            Some(report) => report,
            // The writer is stuck in a store call (or panicked). Spool everything it had not finished, plus what
            // it never took.
            None => {
                let mut report = Delivery { timed_out: true, ..Delivery::default() };
                let msg = format!("the stores did not finish within {deadline:?}; spooling what the writer still held");
                eprintln!("pinger: warning: {msg}");
                report.warnings.push(msg);
                self.handover.rescue(last, self.spool_dir.as_deref(), &mut report);
                report
            }
        };
        if unspilled > 0 {
            report.lost_rows += unspilled;
            let msg = format!("the spool did not take {unspilled} results within {deadline:?}");
            eprintln!("pinger: warning: {msg}");
            report.warnings.push(msg);
        }
        report.warnings.append(&mut spill_warnings);
        report
    }
}

pub(super) fn rows_in(r: &Record) -> u64 {
    match r {
        Record::Rows { rows, .. } => rows.len() as u64,
        Record::Sweep(_) => 0,
    }
}

struct Worker {
    postgres: Option<Postgres>,
    spool: Option<Spool>,
    cache: Cache,
    handover: Handover,
    sweep: SweepInfo,
    batch_rows: usize,
    batch_time: Duration,
    report: Delivery,
}

impl Worker {
    fn new(s: Setup, handover: Handover) -> Worker {
        Worker {
            postgres: s.postgres,
            spool: s.spool,
            cache: Cache { wanted: s.redis.is_some(), connect: s.redis, ..Cache::default() },
            handover,
            sweep: s.sweep,
            batch_rows: s.batch_rows.max(1),
            batch_time: s.batch_time,
            report: Delivery::default(),
        }
    }

    fn warn(&mut self, msg: String) {
        eprintln!("pinger: warning: {msg}");
        self.report.warnings.push(msg);
    }

    /// `older`: the spool's files from before this run (or why they could not be listed), replayed first.
    fn run(mut self, older: Result<Vec<PathBuf>, String>) -> Delivery {
        self.cache.connect();
        match older {
            Ok(files) => self.replay(files),
            Err(e) => self.warn(e),
        }
        self.store_in_postgres(&Arc::new(Record::Sweep(self.sweep.clone())));
        // Beside the sweep, never before it: results queue in the channel meanwhile.
        if let Some(Err(e)) = self.postgres.as_mut().map(Postgres::maintain) {
            self.warn(e.to_string());
        }
        let mut last_flush = Instant::now();
        loop {
            let wait = self.batch_time.saturating_sub(last_flush.elapsed());
            match self.handover.take(wait, self.batch_rows) {
                Taken::Rows { full: false } => {}
                Taken::Rows { full: true } | Taken::Nothing => {
                    self.flush();
                    last_flush = Instant::now();
                }
                Taken::Spilled(path, rows) => self.store_spilled(&path, rows),
                Taken::Finish(last) => {
                    self.flush();
                    self.store_in_postgres(&Arc::new(Record::Sweep(last)));
                    break;
                }
                Taken::Closed => {
                    self.flush();
                    break;
                }
                Taken::Rescued => break,
            }
        }
        if let Some(spool) = &self.spool {
            self.report.count_spool(spool);
        }
        self.report.redis_keys = self.cache.keys;
        self.report.redis_skipped_rows = self.cache.skipped;
        self.report.warnings.append(&mut self.cache.warnings);
        self.report
    }

    /// Writes the rows gathered so far, as one batch, to every store.
    fn flush(&mut self) {
        let Some(record) = self.handover.batch() else { return };
        self.beside_redis(&record, |w| w.write_postgres(&record));
    }

    /// Writes `record` to Redis on a thread of its own while `postgres` writes it here: both stores at once, so a
    /// batch costs the slower of the two, not their sum.
    fn beside_redis<T>(&mut self, record: &Record, postgres: impl FnOnce(&mut Self) -> T) -> T {
        let mut cache = std::mem::take(&mut self.cache);
        let out = std::thread::scope(|scope| {
            let redis = scope.spawn(|| cache.write(record));
            let out = postgres(self);
            let _ = redis.join();
            out
        });
        self.cache = cache;
        out
    }

    /// Stores a record the spill thread put in the spool, in both stores as any batch of this run, and removes
    /// its file once Postgres has it. While Postgres is away the file stays, counted as spooled.
    fn store_spilled(&mut self, path: &Path, rows: u64) {
        let Some(spool) = self.spool.clone() else { return };
        let record = match spool.read(path) {
            Ok(r) => r,
            // Another pinger sharing the spool replayed it into Postgres (and removed it) meanwhile.
            Err(ReadError::Retry { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                self.handover.kept_spill(path);
                return;
            }
            Err(e) => {
                // Left in place (or set aside, then counted as such): the next run deals with it.
                self.warn(e.to_string());
                if self.handover.kept_spill(path) && path.exists() {
                    self.report.spooled_files += 1;
                    self.report.spooled_rows += rows;
                }
                return;
            }
        };
        let n = rows_in(&record);
        let stored = self.beside_redis(&record, |w| w.postgres.as_mut().map(|pg| pg.write(&record)));
        match stored {
            Some(Ok(())) => match self.handover.stored_spill(path, &spool) {
                Ok(true) => {
                    self.report.postgres_rows += n;
                    self.report.spilled_rows += n;
                }
                Ok(false) => {} // a rescue has begun and counted it as spooled
                Err(e) => {
                    // In Postgres, and still in the spool: the next run's replay finds its batch stored.
                    self.report.postgres_rows += n;
                    self.report.spilled_rows += n;
                    self.warn(e.to_string());
                }
            },
            failed => {
                if let Some(Err(e)) = failed {
                    self.warn(format!("{e}; spooling the rest of this sweep"));
                    self.postgres = None;
                }
                if self.handover.kept_spill(path) {
                    self.report.spooled_files += 1;
                    self.report.spooled_rows += n;
                }
            }
        }
    }

    /// Stores a record in Postgres, or spools it when Postgres is away. Order is kept: once a record of this run
    /// went to the spool, every later one does too.
    fn store_in_postgres(&mut self, record: &Arc<Record>) {
        if self.handover.in_flight(record) {
            self.write_postgres(record);
        }
    }

    /// [`Self::store_in_postgres`] for a record already in flight. Once a rescue has begun, the rescue spools it.
    fn write_postgres(&mut self, record: &Record) {
        if self.spool.is_none() {
            self.handover.landed();
            return; // Postgres is off
        }
        let n = rows_in(record);
        if let Some(pg) = self.postgres.as_mut() {
            match pg.write(record) {
                Ok(()) => {
                    self.report.postgres_rows += n;
                    self.handover.landed();
                    return;
                }
                Err(e) => {
                    self.warn(format!("{e}; spooling the rest of this sweep"));
                    self.postgres = None;
                }
            }
        }
        if !self.handover.rescued() {
            self.spool_record(record, n);
        }
        self.handover.landed();
    }

    fn spool_record(&mut self, record: &Record, n: u64) {
        let Some(spool) = self.spool.as_ref() else { return };
        match spool.write(record) {
            Ok(_) => {
                self.report.spooled_files += 1;
                self.report.spooled_rows += n;
            }
            Err(e) => {
                self.report.lost_rows += n;
                self.warn(format!("{e}: {n} results could not be stored or spooled"));
            }
        }
    }

    /// Replays older runs' spooled records into Postgres, oldest first, before this run's own.
    fn replay(&mut self, files: Vec<PathBuf>) {
        let (Some(spool), Some(pg)) = (self.spool.as_ref(), self.postgres.as_mut()) else { return };
        let mut warnings = Vec::new();
        for path in files {
            let record = match spool.read(&path) {
                Ok(r) => r,
                Err(e) => {
                    warnings.push(e.to_string());
                    continue;
                }
            };
            match pg.write(&record) {
                Ok(()) => {
                    self.report.replayed_files += 1;
                    if let Err(e) = spool.remove(&path) {
                        warnings.push(e.to_string());
                    }
                }
                Err(StoreError::Rejected(e)) => {
                    warnings.push(spool.set_aside(&path, format!("Postgres rejected it: {e}")).to_string());
                }
                Err(e) => {
                    warnings.push(format!("{e}; replay stopped, the spool is kept"));
                    self.postgres = None;
                    break;
                }
            }
        }
        for w in warnings {
            self.warn(w);
        }
    }
}
