//! Redis as the writer sees it: a cache that is written when it is there and skipped, with a warning, when not.
//! Connecting and writing are retried briefly; after that Redis is left out for the rest of the sweep.

use std::time::Duration;

use super::redis::Redis;
use super::writer::rows_in;
use super::{Record, StoreError};

pub type Connector = Box<dyn FnMut() -> Result<Redis, StoreError> + Send>;

#[derive(Default)]
pub(super) struct Cache {
    pub(super) redis: Option<Redis>,
    pub(super) connect: Option<Connector>,
    /// Configured (reachable or not): rows it does not get are counted.
    pub(super) wanted: bool,
    pub(super) keys: u64,
    pub(super) skipped: u64,
    pub(super) warnings: Vec<String>,
}

impl Cache {
    fn warn(&mut self, msg: String) {
        eprintln!("pinger: warning: {msg}");
        self.warnings.push(msg);
    }

    /// Connects, retrying briefly; without it the sweep goes on.
    pub(super) fn connect(&mut self) {
        let Some(connect) = self.connect.as_mut() else { return };
        let mut last = String::new();
        for pause in REDIS_RETRIES {
            match connect() {
                Ok(r) => {
                    self.redis = Some(r);
                    return;
                }
                Err(StoreError::Refused(e)) => {
                    last = e;
                    break;
                }
                Err(StoreError::Unavailable(e) | StoreError::Rejected(e)) => last = e,
            }
            std::thread::sleep(pause);
        }
        self.connect = None;
        self.warn(format!("{last}; going on without Redis for this sweep"));
    }

    /// Writes a batch, retrying briefly on a fresh connection; gives up on Redis for the sweep after that.
    pub(super) fn write(&mut self, record: &Record) {
        let n = rows_in(record);
        if self.redis.is_none() {
            if self.wanted {
                self.skipped += n;
            }
            return;
        }
        for (i, pause) in REDIS_RETRIES.iter().enumerate() {
            let Some(redis) = self.redis.as_mut() else { break };
            match redis.write(record) {
                Ok(()) => {
                    self.keys += n;
                    return;
                }
                Err(e) if i + 1 == REDIS_RETRIES.len() => {
                    self.warn(format!("{e}; going on without Redis for this sweep"));
                }
                Err(_) => {
                    std::thread::sleep(*pause);
                    // The connection may be broken for good: open a fresh one for the next try.
                    if let Some(fresh) = self.connect.as_mut().and_then(|c| c().ok()) {
                        self.redis = Some(fresh);
                    }
                }
            }
        }
        self.redis = None;
        self.connect = None;
        self.skipped += n;
    }
}

const REDIS_RETRIES: [Duration; 3] =
    [Duration::from_millis(50), Duration::from_millis(200), Duration::from_millis(500)];
