//! The handover between the engine, the writer thread and the rescue: who owns a result at every moment.
//!
//! A result is in the queue, or in the writer's hands (gathered rows, or the one record a store call is writing),
//! or in the rescue's. The writer takes from the queue only under the lock and only while no rescue has begun;
//! the rescue marks itself begun under that same lock before it gathers. So once [`Handover::rescue`] starts, the
//! writer takes nothing more, and everything it held or never took is the rescue's to spool: no result falls
//! between the two, even when a store call the writer was stuck in returns at that very moment.
//!
//! A result spilled to the spool (`spill.rs`) is in a spool file from then on: its [`Msg::Spilled`] tells the
//! writer where, and whoever holds that message (the queue, the writer, the rescue) owns the file, never its rows.
//! The writer removes the file only under the lock and only while no rescue has begun, so a rescue counts every
//! spilled file it finds as spooled and none of them is counted twice or removed behind its back.
//!
//! The channel itself is unbounded: the engine must never wait on a store (while it waits, the kernel drops the
//! replies it does not read, and SIGTERM goes unheard). What bounds the rows in it is [`Handover::queued`], which
//! `Writer::send` reads to spill instead of queueing once the writer falls behind (with Postgres on; with Redis
//! alone there is no spool, and the queue drains because Redis is dropped for the sweep after its timeout).
//! This file does not talk to a store; the spool is the only place a rescue writes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};
use uuid::Uuid;

use super::spool::Spool;
use super::writer::{rows_in, Delivery};
use super::{Record, Row, SweepInfo};
use crate::outcome::HostResult;
use crate::time::WallClock;

pub(super) enum Msg {
    /// Rows in memory, counted in [`Handover::queued`] until the writer takes them.
    Results(Vec<HostResult>),
    /// A record of this run's rows already in the spool (the writer had fallen behind): `rows` of them in `path`.
    Spilled {
        path: PathBuf,
        rows: u64,
    },
    Finish(SweepInfo),
}

/// What the writer holds that is not yet stored or spooled.
#[derive(Default)]
struct State {
    rows: Vec<Row>,
    /// Shared with the store call writing it (a batch is up to 50,000 rows: no copy for the bookkeeping).
    record: Option<Arc<Record>>,
    /// Spilled files the writer took and has not yet stored or left in the spool, with their row counts.
    spilled: Vec<(PathBuf, u64)>,
    /// The rescue has begun: from now on everything is its own.
    rescued: bool,
}

/// What [`Handover::take`] got for the writer.
pub(super) enum Taken {
    /// A batch, now among the writer's gathered rows; `full` when they make a batch for the stores.
    Rows {
        full: bool,
    },
    /// A spilled file, now the writer's to store (and then remove, through [`Handover::stored_spill`]).
    Spilled(PathBuf, u64),
    Finish(SweepInfo),
    /// Nothing came within the wait.
    Nothing,
    /// The engine's side is gone.
    Closed,
    /// A rescue has begun: the writer must stop.
    Rescued,
}

/// Shared by the writer thread and [`super::writer::Writer`], which rescues through it.
#[derive(Clone)]
pub(super) struct Handover {
    state: Arc<Mutex<State>>,
    rx: Receiver<Msg>,
    /// Rows in `Msg::Results` sent and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    /// Turns a result's `finished_at` into Unix time.
    wall: WallClock,
    sweep: Uuid,
    vantage: String,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Handover {
    pub(super) fn new(wall: WallClock, sweep: Uuid, vantage: String) -> (Sender<Msg>, Handover) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (tx, Handover { state: Arc::default(), rx, queued: Arc::default(), wall, sweep, vantage })
    }

    fn row(&self, r: &HostResult) -> Row {
        Row::new(r, self.wall.unix_us(r.finished_at))
    }

    /// `results` as one new batch of this sweep.
    pub(super) fn record(&self, results: &[HostResult]) -> Record {
        self.batch_of(results.iter().map(|r| self.row(r)).collect())
    }

    /// `rows` as one new batch of this sweep.
    fn batch_of(&self, rows: Vec<Row>) -> Record {
        Record::Rows { id: Uuid::new_v4(), sweep: self.sweep, rows, vantage: self.vantage.clone() }
    }

    /// Rows queued in the channel that the writer has not taken yet.
    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues `batch` for the writer (counted until it is taken). Never waits.
    pub(super) fn queue(&self, tx: &Sender<Msg>, batch: Vec<HostResult>) {
        let n = batch.len();
        self.queued.fetch_add(n, Ordering::Relaxed);
        if tx.send(Msg::Results(batch)).is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Waits up to `wait` for the engine's next message and takes it, unless a rescue has begun. The wait is
    /// outside the lock (a rescue never waits on it); the taking is inside it.
    pub(super) fn take(&self, wait: Duration, batch_rows: usize) -> Taken {
        let mut ready = Select::new();
        ready.recv(&self.rx);
        if ready.ready_timeout(wait).is_err() {
            return Taken::Nothing;
        }
        let mut s = lock(&self.state);
        if s.rescued {
            return Taken::Rescued;
        }
        match self.rx.try_recv() {
            Ok(Msg::Results(batch)) => {
                self.queued.fetch_sub(batch.len(), Ordering::Relaxed);
                s.rows.extend(batch.iter().map(|r| self.row(r)));
                Taken::Rows { full: s.rows.len() >= batch_rows }
            }
            Ok(Msg::Spilled { path, rows }) => {
                s.spilled.push((path.clone(), rows));
                Taken::Spilled(path, rows)
            }
            Ok(Msg::Finish(last)) => Taken::Finish(last),
            Err(TryRecvError::Empty) => Taken::Nothing,
            Err(TryRecvError::Disconnected) => Taken::Closed,
        }
    }

    /// The rows gathered so far become one batch, the record in flight, in one step. `None` when there is
    /// nothing to write or a rescue has begun.
    pub(super) fn batch(&self) -> Option<Arc<Record>> {
        let mut s = lock(&self.state);
        if s.rescued || s.rows.is_empty() {
            return None;
        }
        let record = Arc::new(self.batch_of(std::mem::take(&mut s.rows)));
        s.record = Some(Arc::clone(&record));
        Some(record)
    }

    /// `record` is the one a store call is about to write. False when a rescue has begun (the writer must stop).
    pub(super) fn in_flight(&self, record: &Arc<Record>) -> bool {
        let mut s = lock(&self.state);
        if !s.rescued {
            s.record = Some(Arc::clone(record));
        }
        !s.rescued
    }

    /// The record in flight is stored or spooled. False when a rescue has begun; the rescue spooled it too,
    /// which is harmless (a batch is stored once, however often it is written).
    pub(super) fn landed(&self) -> bool {
        let mut s = lock(&self.state);
        s.record = None;
        !s.rescued
    }

    pub(super) fn rescued(&self) -> bool {
        lock(&self.state).rescued
    }

    /// The spilled file `path` is in Postgres: removes it from the spool, unless a rescue has begun (the rescue
    /// has counted it as spooled; the next run finds its batch already stored and skips it). Under the lock, so
    /// that the file the rescue counts is the file that stays. False when a rescue has begun.
    pub(super) fn stored_spill(&self, path: &std::path::Path, spool: &Spool) -> Result<bool, super::spool::SpoolError> {
        let mut s = lock(&self.state);
        if s.rescued {
            return Ok(false);
        }
        s.spilled.retain(|(p, _)| p != path);
        spool.remove(path).map(|()| true)
    }

    /// The spilled file `path` stays in the spool (Postgres is away, or it could not be read now). False when a
    /// rescue has begun.
    pub(super) fn kept_spill(&self, path: &std::path::Path) -> bool {
        let mut s = lock(&self.state);
        s.spilled.retain(|(p, _)| p != path);
        !s.rescued
    }

    /// Takes everything from the writer, which takes nothing more after this, and spools it with `last`, the
    /// sweep's final record, into `spool_dir` (none when Postgres is off: then there is nothing to keep).
    pub(super) fn rescue(&self, last: SweepInfo, spool_dir: Option<&std::path::Path>, report: &mut Delivery) {
        let mut records = Vec::new();
        // Spilled files already in the spool, the writer's and those still queued: counted, not written again.
        let mut spilled: Vec<u64> = Vec::new();
        {
            let mut s = lock(&self.state);
            s.rescued = true;
            spilled.extend(s.spilled.drain(..).map(|(_, rows)| rows));
            // The store call may still hold it (hung): then the rescue spools a copy.
            records.extend(s.record.take().map(Arc::unwrap_or_clone));
            let rows = std::mem::take(&mut s.rows);
            if !rows.is_empty() {
                records.push(self.batch_of(rows));
            }
        }
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Results(batch) => records.push(self.record(&batch)),
                Msg::Spilled { rows, .. } => spilled.push(rows),
                Msg::Finish(_) => {}
            }
        }
        report.spooled_files += spilled.len() as u64;
        report.spooled_rows += spilled.iter().sum::<u64>();
        records.push(Record::Sweep(last));
        let warn = |report: &mut Delivery, msg: String| {
            eprintln!("pinger: warning: {msg}");
            report.warnings.push(msg);
        };
        match spool_dir.map(Spool::open) {
            Some(Ok(spool)) => {
                for rec in &records {
                    let n = rows_in(rec);
                    match spool.write(rec) {
                        Ok(_) => {
                            report.spooled_files += 1;
                            report.spooled_rows += n;
                        }
                        Err(e) => {
                            report.lost_rows += n;
                            warn(report, e.to_string());
                        }
                    }
                }
                report.count_spool(&spool);
            }
            Some(Err(e)) => {
                report.lost_rows += records.iter().map(rows_in).sum::<u64>();
                warn(report, e.to_string());
            }
            None => {}
        }
    }
}
