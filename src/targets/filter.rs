//! Which addresses may be probed: never the reserved blocks (multicast, broadcast, link-local, "this network"),
//! and, when allow lists are set (`PINGER_ALLOW`, `--allow`), only what is inside every one of them. It judges
//! one address at a time; `span.rs` applies the same verdicts to whole ranges by arithmetic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Cidr;

/// Blocks never probed, whatever the list says.
pub(super) const RESERVED: [(Cidr, &str); 6] = [
    (Cidr::new(IpAddr::V4(Ipv4Addr::new(0, 0, 0, 0)), 8), "\"this network\" (0.0.0.0/8)"),
    (Cidr::new(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0)), 4), "multicast (224.0.0.0/4)"),
    (Cidr::new(IpAddr::V4(Ipv4Addr::new(240, 0, 0, 0)), 4), "reserved or broadcast (240.0.0.0/4)"),
    (Cidr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 128), "unspecified (::)"),
    (Cidr::new(IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)), 8), "multicast (ff00::/8)"),
    // Link-local addresses need an interface to mean anything; a list of hosts cannot say which.
    (Cidr::new(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10), "link-local (fe80::/10)"),
];

/// Which addresses may be probed: never the reserved blocks; and when allow lists are set, only addresses
/// inside every one of them (so `--allow` can narrow `PINGER_ALLOW`, never widen it).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub allow: Vec<Vec<Cidr>>,
}

/// Why an address is not probed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Reserved,
    NotAllowed,
}

impl Filter {
    pub fn check(&self, ip: IpAddr) -> Result<(), Skip> {
        if RESERVED.iter().any(|(c, _)| c.contains(ip)) {
            return Err(Skip::Reserved);
        }
        if !self.allow.iter().all(|list| list.iter().any(|c| c.contains(ip))) {
            return Err(Skip::NotAllowed);
        }
        Ok(())
    }
}
