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
            Ok(addr) => self.nets.iter().any(|n| n.contains(&addr)),
            Err(_) => false,
        }
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
}
