//! Postgres binary COPY encoding of result rows, written by hand into one reused buffer.
//!
//! The generic `BinaryCopyInWriter` boxes every field behind `dyn ToSql`; for 17 plain fields per row that was
//! most of the client's time. The format is small and stable (PostgreSQL docs, "COPY ... BINARY"); the store
//! tests check every field against what Postgres reads back.

use std::net::IpAddr;

use uuid::Uuid;

use super::Row;

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds from the Unix epoch to Postgres' epoch, 2000-01-01 00:00:00 UTC.
const PG_EPOCH_US: i64 = 946_684_800_000_000;
pub const FIELDS: i16 = 17;

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

fn inet(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        // family (PGSQL_AF_INET = 2), prefix bits, is_cidr, address length, address
        IpAddr::V4(a) => {
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&[2, 32, 0, 4]);
            out.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.extend_from_slice(&20i32.to_be_bytes());
            out.extend_from_slice(&[3, 128, 0, 16]);
            out.extend_from_slice(&a.octets());
        }
    }
}

fn opt<T>(out: &mut Vec<u8>, v: Option<T>, f: impl FnOnce(&mut Vec<u8>, T)) {
    match v {
        Some(v) => f(out, v),
        None => null(out),
    }
}

/// Encodes `rows` for `COPY pinger_data (sweep_id, host, ping_timestamp, result, status, rtt_ms, rtt_min_ms,
/// rtt_max_ms, sent, received, duplicates, late, icmp_type, icmp_code, icmp_from, error, vantage) FROM STDIN
/// (FORMAT binary)`, header and trailer included, into `out` (cleared first).
pub fn encode(sweep: Uuid, vantage: &str, rows: &[Row], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(HEADER);
    let f8 = |out: &mut Vec<u8>, v: f64| field(out, &v.to_be_bytes());
    let i4 = |out: &mut Vec<u8>, v: u16| field(out, &i32::from(v).to_be_bytes());
    let i2 = |out: &mut Vec<u8>, v: u8| field(out, &i16::from(v).to_be_bytes());
    for r in rows {
        out.extend_from_slice(&FIELDS.to_be_bytes());
        field(out, sweep.as_bytes());
        inet(out, r.host);
        field(out, &(r.at_us - PG_EPOCH_US).to_be_bytes());
        field(out, &[u8::from(r.alive())]);
        field(out, r.status.as_str().as_bytes());
        opt(out, r.rtt_ms, f8);
        opt(out, r.rtt_min_ms, f8);
        opt(out, r.rtt_max_ms, f8);
        i4(out, r.sent);
        i4(out, r.received);
        i4(out, r.duplicates);
        i4(out, r.late);
        opt(out, r.icmp_type, i2);
        opt(out, r.icmp_code, i2);
        opt(out, r.icmp_from, inet);
        opt(out, r.error.as_deref(), |out, s| field(out, s.as_bytes()));
        field(out, vantage.as_bytes());
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
}
