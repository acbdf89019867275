//! IP condition operators: `IpAddress`, `NotIpAddress` (SPEC E8), e.g. `aws:SourceIp`.
//!
//! Policy values are CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`) or single addresses
//! (a /32 or /128). A request value that is not an IP address matches no block. IPv4 and IPv6
//! never match each other.

use ipnet::IpNet;
use std::net::IpAddr;

/// The positive predicate: is a request address inside any policy block?
#[derive(Clone, Debug)]
pub(crate) struct IpTest {
    nets: Box<[IpNet]>,
}

impl IpTest {
    /// Compiles the policy values.
    pub(crate) fn compile(values: &[String]) -> Result<Self, String> {
        let nets = values
            .iter()
            .map(|v| {
                let v = v.trim();
                v.parse::<IpNet>()
                    .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("value {v:?} is not an IP address or CIDR block"))
            })
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(IpTest { nets })
    }

    /// Whether `value` is an address inside any policy block.
    pub(crate) fn matches(&self, value: &str) -> bool {
        match value.trim().parse::<IpAddr>() {
            Ok(addr) => self.contains(addr),
            Err(_) => false,
        }
    }

    /// Whether `addr` is inside any policy block: [`IpTest::matches`] of its text.
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_ip_address_cidr() {
        let t = IpTest::compile(&[
            "192.0.2.0/24".into(),
            "203.0.113.7".into(),
            "2001:db8::/32".into(),
        ])
        .unwrap();
        assert!(t.matches("192.0.2.200"));
        assert!(!t.matches("192.0.3.1"));
        assert!(t.matches("203.0.113.7"));
        assert!(!t.matches("203.0.113.8"));
        assert!(t.matches("2001:db8::1"));
        assert!(!t.matches("not-an-ip"));
        assert!(IpTest::compile(&["300.0.0.0/8".into()]).is_err());
    }

    proptest::proptest! {
        /// An address given as such decides as its text does.
        #[test]
        fn e8_an_address_matches_as_its_text(
            v4 in proptest::prelude::any::<[u8; 4]>(),
            v6 in proptest::prelude::any::<[u16; 8]>(),
            prefix in 0u8..=128,
        ) {
            let v4 = std::net::Ipv4Addr::from(v4);
            let ips = [IpAddr::V4(v4), IpAddr::from(v6), IpAddr::V6(v4.to_ipv6_mapped())];
            let nets: Vec<String> = ips
                .iter()
                .map(|ip| format!("{ip}/{}", prefix.min(if ip.is_ipv4() { 32 } else { 128 })))
                .chain(["10.0.0.0/8".into(), "::/0".into(), "0.0.0.0/0".into()])
                .collect();
            for nets in nets.chunks(2) {
                let t = IpTest::compile(nets).unwrap();
                for ip in ips {
                    proptest::prop_assert_eq!(t.contains(ip), t.matches(&ip.to_string()));
                }
            }
        }
    }
}
