//! Where samlgate's own outbound requests may go (IdP metadata, admin at registration and
//! rotate every day; OIDC back-channel logout, acs): public addresses on port 443 only, so that
//! a URL an administrator typed (or a DNS name that later changes) cannot make samlgate probe
//! its own network, the instance metadata service (169.254.169.254) or a neighbour's.
//!
//! The rule holds for the address actually connected: names are resolved here
//! ([`CheckedResolver`], which hands the connector only the addresses that pass) and address
//! literals are checked before the request ([`check_url`]); redirects are never followed. The
//! caller of a refused request learns only that it failed; the reason goes to the audit log.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which destinations a client may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destinations {
    /// A deployment: public unicast addresses, https, port 443.
    Public,
    /// Local development (`scripts/dev`, the e2e suite): also loopback, http to loopback, and
    /// any port. Never used by a Lambda.
    PublicAndLoopback,
}

impl Destinations {
    /// Whether `ip` may be connected to.
    pub fn allows(self, ip: IpAddr) -> bool {
        is_public(ip) || (self == Self::PublicAndLoopback && canonical(ip).is_loopback())
    }
}

/// Why a destination was refused (for the audit log, never for the caller).
pub const REFUSED_ADDRESS: &str = "destination refused: not a public address";
pub const REFUSED_PORT: &str = "destination refused: only https on port 443";

/// Checks a URL before any connection: the scheme and port, and the host if it is an address
/// literal (names are checked as they resolve, by [`CheckedResolver`]).
pub fn check_url(url: &str, destinations: Destinations) -> Result<(), &'static str> {
    let parsed = url::Url::parse(url).map_err(|_| REFUSED_ADDRESS)?;
    let host = parsed.host().ok_or(REFUSED_ADDRESS)?;
    let literal = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    if destinations == Destinations::Public
        && (parsed.scheme() != "https" || parsed.port_or_known_default() != Some(443))
    {
        return Err(REFUSED_PORT);
    }
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(REFUSED_PORT);
    }
    if let Some(ip) = literal {
        if !destinations.allows(ip) {
            return Err(REFUSED_ADDRESS);
        }
    }
    Ok(())
}

/// A DNS resolver that returns only the addresses `destinations` allows, and fails when none
/// is left: the connector never sees a refused address, so what it connects to is checked
/// (no rebinding between a check and the connection).
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver(pub Destinations);

/// The resolver's refusal, recognised in a send error's source chain by its type.
#[derive(Debug)]
pub(crate) struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REFUSED_ADDRESS)
    }
}

impl std::error::Error for Refused {}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let destinations = self.0;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| destinations.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// An IPv6 address that only carries an IPv4 one (mapped `::ffff:a.b.c.d`) is judged as that
/// IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A public unicast address: not loopback, private (RFC 1918), shared (CGNAT, RFC 6598),
/// link-local (169.254.0.0/16, the metadata service; fe80::/10), unique-local (fc00::/7),
/// documentation, benchmarking, reserved, multicast, broadcast or unspecified; IPv4 inside
/// IPv6 (mapped, NAT64, 6to4) is judged by the IPv4 address, Teredo is refused.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
        || segments[..6] == [0; 6]
    // IPv4-compatible (deprecated)
    {
        return false;
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (RFC 6052): judged by the IPv4 address it reaches.
        return is_public_v4(embedded_v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        // 6to4: judged by the IPv4 address of the relay.
        return is_public_v4(embedded_v4(segments[1], segments[2]));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_are_public() {
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.10",
            "198.51.100.1",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.1.2.3",
            "::127.0.0.1",
            "fd00::1",
            "fc12::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2002:0a00:0001::1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!is_public(ip), "{refused} is not public");
        }
        for allowed in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.215.14",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert!(is_public(ip), "{allowed} is public");
        }
    }

    #[test]
    fn local_development_adds_loopback_only() {
        let local = Destinations::PublicAndLoopback;
        assert!(local.allows("127.0.0.1".parse().unwrap()));
        assert!(local.allows("::1".parse().unwrap()));
        assert!(local.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!local.allows("10.0.0.1".parse().unwrap()));
        assert!(!local.allows("169.254.169.254".parse().unwrap()));
        assert!(!Destinations::Public.allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn urls_are_checked_for_scheme_port_and_address_literals() {
        let public = Destinations::Public;
        assert_eq!(
            check_url("https://idp.example.com/metadata", public),
            Ok(())
        );
        assert_eq!(check_url("https://8.8.8.8/m", public), Ok(()));
        assert_eq!(
            check_url("https://idp.example.com:8443/m", public),
            Err(REFUSED_PORT)
        );
        assert_eq!(
            check_url("http://idp.example.com/m", public),
            Err(REFUSED_PORT)
        );
        for url in [
            "https://127.0.0.1/m",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::ffff:169.254.169.254]/",
            "https://[fd00::1]/",
            "https://10.0.0.1:443/",
            "https://2130706433/", // 127.0.0.1 as one number: the URL parser normalises it
        ] {
            assert_eq!(check_url(url, public), Err(REFUSED_ADDRESS), "{url}");
        }
        let local = Destinations::PublicAndLoopback;
        assert_eq!(check_url("http://127.0.0.1:8080/m", local), Ok(()));
        assert_eq!(
            check_url("http://10.0.0.1:8080/m", local),
            Err(REFUSED_ADDRESS)
        );
        assert_eq!(check_url("ftp://127.0.0.1/m", local), Err(REFUSED_PORT));
    }

    #[tokio::test]
    async fn names_resolve_only_to_allowed_addresses() {
        let name = |n: &str| n.parse::<Name>().unwrap();
        let refused = CheckedResolver(Destinations::Public)
            .resolve(name("localhost"))
            .await;
        assert!(refused.is_err(), "localhost resolves to loopback only");
        let local: Vec<SocketAddr> = CheckedResolver(Destinations::PublicAndLoopback)
            .resolve(name("localhost"))
            .await
            .unwrap()
            .collect();
        assert!(!local.is_empty() && local.iter().all(|a| a.ip().is_loopback()));
    }
}
