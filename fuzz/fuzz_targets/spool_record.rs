//! Bytes as a spool file's content, through the spool's decoder; a record it accepts must write back to the same
//! record, and must go through what its replay does short of Postgres (the binary COPY encoding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinger::fuzzing::copy_encode;
use pinger::store::{spool, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(record) = spool::decode(data) else { return };
    let written = serde_json::to_vec(&record).expect("a record serializes");
    assert_eq!(spool::decode(&written).expect("what the spool writes it reads"), record);
    if let Record::Rows { sweep, rows, vantage, .. } = &record {
        let mut buf = Vec::new();
        copy_encode(*sweep, vantage, rows, &mut buf);
    }
});
