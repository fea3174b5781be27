//! The spill thread: when the writer falls behind (Postgres slower than the sweep), finished hosts go to the
//! spool instead of piling up in memory, and the writer is told where they are ([`Msg::Spilled`], through the
//! same channel as the results, so that the sweep's final record still comes after every row). The writer then
//! stores each spilled record in both stores like any batch and removes its file.
//!
//! This keeps what a run holds to a fixed allowance whatever the list size, without the engine ever waiting:
//! `Writer::send` hands a batch to this thread instead of the writer's queue, and this thread does the
//! conversion, the JSON and the fsync. It gathers up to [`SPILL_ROWS`] rows per file, or writes what it has
//! when nothing more is waiting. It does not talk to a store.
//!
//! If the spool cannot be written (a full disk, permissions), the rows go to the writer's queue as ordinary
//! results after all: memory above the bound, but nothing lost. A warning says so once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::handover::{Handover, Msg};
use super::spool::Spool;
use crate::outcome::HostResult;

/// Rows per spilled file at most. Each is held three times over while it is written (results, rows, and the
/// JSON read back by the writer, about 600 bytes a row in all), so files of a whole store batch (50,000 rows)
/// cost 30 MB for a moment; at 10,000 rows, one Postgres COPY part, the fsyncs still amortise.
pub(super) const SPILL_ROWS: usize = 10_000;

/// The engine's side of the spill thread.
pub(super) struct Spill {
    tx: Sender<Vec<HostResult>>,
    /// Rows handed to the spill thread and not yet in a file announced to the writer (nor queued for it).
    pending: Arc<AtomicU64>,
    handle: JoinHandle<Vec<String>>,
}

impl Spill {
    /// Starts the thread; spilled files of up to `batch_rows` rows go to `spool`, their messages to `writer`
    /// through `handover`.
    pub(super) fn spawn(spool: Spool, writer: Sender<Msg>, handover: Handover, batch_rows: usize) -> Spill {
        let (tx, rx) = crossbeam_channel::unbounded();
        let pending = Arc::new(AtomicU64::new(0));
        let worker = Spiller { spool, writer, handover, pending: pending.clone(), batch_rows, warnings: Vec::new() };
        let handle = std::thread::Builder::new()
            .name("spill".into())
            .spawn(move || worker.run(rx))
            .expect("spawning the spill thread");
        Spill { tx, pending, handle }
    }

    /// Hands `batch` to the spill thread. Never waits.
    pub(super) fn send(&self, batch: Vec<HostResult>) {
        let n = batch.len() as u64;
        self.pending.fetch_add(n, Ordering::Relaxed);
        if let Err(e) = self.tx.send(batch) {
            // The thread is gone (it cannot be, while `self` lives): the rows are counted as lost at the end.
            drop(e);
        }
    }

    /// Ends the spill thread's input and returns what waits for it to be done: its handle (its warnings) and the
    /// count of rows it has not handed on yet, which are lost if it never finishes.
    pub(super) fn close(self) -> (JoinHandle<Vec<String>>, Arc<AtomicU64>) {
        drop(self.tx);
        (self.handle, self.pending)
    }
}

struct Spiller {
    spool: Spool,
    writer: Sender<Msg>,
    handover: Handover,
    pending: Arc<AtomicU64>,
    batch_rows: usize,
    warnings: Vec<String>,
}

impl Spiller {
    fn run(mut self, rx: Receiver<Vec<HostResult>>) -> Vec<String> {
        let mut held: Vec<HostResult> = Vec::new();
        loop {
            let next = if held.is_empty() { rx.recv().map_err(|_| TryRecvError::Disconnected) } else { rx.try_recv() };
            match next {
                Ok(mut batch) => {
                    if held.is_empty() {
                        held = std::mem::take(&mut batch);
                    } else {
                        held.append(&mut batch);
                    }
                    if held.len() >= self.batch_rows {
                        self.write(std::mem::take(&mut held));
                    }
                }
                // Nothing more waiting: write what there is rather than hold it.
                Err(TryRecvError::Empty) => self.write(std::mem::take(&mut held)),
                Err(TryRecvError::Disconnected) => {
                    if !held.is_empty() {
                        self.write(held);
                    }
                    return self.warnings;
                }
            }
        }
    }

    /// Writes `results` as one spool file and tells the writer; if the spool refuses, queues them instead.
    fn write(&mut self, results: Vec<HostResult>) {
        let n = results.len() as u64;
        let record = self.handover.record(&results);
        match self.spool.write(&record) {
            Ok(path) => {
                drop(results);
                let _ = self.writer.send(Msg::Spilled { path, rows: n });
            }
            Err(e) => {
                if self.warnings.is_empty() {
                    let msg = format!(
                        "{e}; the stores fell behind and the spool cannot take the overflow, so it waits in memory"
                    );
                    eprintln!("pinger: warning: {msg}");
                    self.warnings.push(msg);
                }
                drop(record);
                self.handover.queue(&self.writer, results);
            }
        }
        self.pending.fetch_sub(n, Ordering::Relaxed);
    }
}
