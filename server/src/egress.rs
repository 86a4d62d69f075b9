//! What the server may connect to. Push endpoints are URLs browsers hand
//! the server, and links in messages are URLs anyone can write; the server
//! requests both (a push, a link preview). Without a guard anyone could
//! make it send requests into its own network (SSRF). Only hosts on the
//! public internet are accepted, checked when a URL is taken and again on
//! every connection, where the DNS answer is filtered too (a public name
//! that resolves to a private address is refused), and the address
//! checked is the one connected to.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest endpoint accepted; real ones are a few hundred characters.
const MAX_ENDPOINT: usize = 1024;
/// Longest page address fetched.
const MAX_WEB_URL: usize = 2048;

/// Why an endpoint was refused, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub &'static str);

/// Which hosts may be connected to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Tests only: plain-HTTP endpoints on loopback.
    pub allow_loopback: bool,
    /// Tests only: loopback on this port alone (a test's own site), so a
    /// redirect to another service on the machine is still refused.
    pub loopback_port: Option<u16>,
}

impl Policy {
    /// The endpoint as a URI for the request, if it may be pushed to.
    pub fn check(&self, raw: &str) -> Result<axum::http::Uri, Refused> {
        if raw.len() > MAX_ENDPOINT {
            return Err(Refused("That push address is too long."));
        }
        let url = reqwest::Url::parse(raw).map_err(|_| Refused("That is not a push address."))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("A push address cannot carry a user name."));
        }
        let loopback = match self.host_allowed(&url) {
            Some(loopback) => loopback,
            None if url.host().is_none() => return Err(Refused("That is not a push address.")),
            None => return Err(Refused("Push addresses must be on the public internet.")),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(Refused("Push addresses must use HTTPS.")),
        }
        url.as_str()
            .parse()
            .map_err(|_| Refused("That is not a push address."))
    }

    /// A web page's URL (a link in a message, or where it redirects), if
    /// it may be fetched: http or https, on the public internet.
    pub fn check_web(&self, url: &reqwest::Url) -> Result<(), Refused> {
        if url.as_str().len() > MAX_WEB_URL {
            return Err(Refused("the address is too long"));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused("only http and https are fetched"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused("the address carries a user name"));
        }
        match self.host_allowed(url) {
            Some(true) if self.loopback_port.is_some_and(|p| url.port() != Some(p)) => {
                Err(Refused("the address is not on the public internet"))
            }
            Some(_) => Ok(()),
            None => Err(Refused("the address is not on the public internet")),
        }
    }

    /// Whether the URL's host may be connected to (`Some(true)` for an
    /// allowed loopback); `None` when not (or there is no host). A name is
    /// checked again when it is resolved.
    fn host_allowed(&self, url: &reqwest::Url) -> Option<bool> {
        match url.host()? {
            url::Host::Ipv4(ip) => self.ip_allowed(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => self.ip_allowed(IpAddr::V6(ip)),
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    self.allow_loopback.then_some(true)
                } else {
                    // A single label is a name on the local network.
                    name.contains('.').then_some(false)
                }
            }
        }
    }

    /// Whether `ip` may be connected to; `Some(true)` for an allowed loopback.
    fn ip_allowed(&self, ip: IpAddr) -> Option<bool> {
        if is_public(ip) {
            Some(false)
        } else if self.allow_loopback && ip.is_loopback() {
            Some(true)
        } else {
            None
        }
    }

    fn address_allowed(&self, ip: IpAddr) -> bool {
        is_public(ip) || (self.allow_loopback && ip.is_loopback())
    }
}

/// Resolves names for the outbound clients, keeping public addresses only.
impl Resolve for Policy {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = *self;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found
                .filter(|addr| policy.address_allowed(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// True for addresses on the public internet: not loopback, private,
/// link-local, shared (CGNAT), multicast, documentation or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
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
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address inside it.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (s[0] & 0xfe00) == 0xfc00
        // Link-local, fe80::/10, and the old site-local, fec0::/10.
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32.
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        // Discard-only, 100::/64.
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0])
        // IPv4-compatible (deprecated) and other ::/96 forms.
        || s[0..6] == [0, 0, 0, 0, 0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Policy = Policy {
        allow_loopback: false,
        loopback_port: None,
    };
    const TESTING: Policy = Policy {
        allow_loopback: true,
        loopback_port: None,
    };

    #[test]
    fn public_push_services_are_accepted() {
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc:def",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
            "https://web.push.apple.com/QGx4-abc",
            "https://8.8.8.8/push",
            "https://[2606:4700::1111]/push",
        ] {
            assert!(STRICT.check(ok).is_ok(), "{ok} refused");
        }
    }

    #[test]
    fn private_loopback_and_plain_http_endpoints_are_refused() {
        for bad in [
            "http://fcm.googleapis.com/fcm/send/abc",
            "https://127.0.0.1/push",
            "https://localhost/push",
            "https://api.localhost/push",
            "https://10.0.0.7/push",
            "https://172.16.3.4/push",
            "https://192.168.1.1/push",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/push",
            "https://0.0.0.0/push",
            "https://[::1]/push",
            "https://[fd00::1]/push",
            "https://[fe80::1]/push",
            "https://[::ffff:127.0.0.1]/push",
            "https://[::ffff:10.0.0.1]/push",
            "https://[64:ff9b::a00:1]/push",
            "https://intranet/push",
            "https://user:pw@fcm.googleapis.com/x",
            "ftp://fcm.googleapis.com/x",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(STRICT.check(bad).is_err(), "{bad} accepted");
        }
        let long = format!("https://fcm.googleapis.com/{}", "a".repeat(MAX_ENDPOINT));
        assert!(STRICT.check(&long).is_err());
    }

    #[test]
    fn the_test_flag_allows_loopback_only() {
        assert!(TESTING.check("http://127.0.0.1:4000/push/1").is_ok());
        assert!(TESTING.check("http://[::1]:4000/push/1").is_ok());
        assert!(TESTING.check("http://localhost:4000/push/1").is_ok());
        assert!(TESTING.check("https://10.0.0.7/push").is_err());
        assert!(TESTING.check("http://fcm.googleapis.com/x").is_err());
        assert!(TESTING.check("http://192.168.1.1/x").is_err());
    }

    #[test]
    fn pages_may_be_fetched_over_http_or_https_on_the_public_internet_only() {
        let web = |p: &Policy, s: &str| p.check_web(&reqwest::Url::parse(s).expect("a url"));
        for ok in [
            "https://example.com/a",
            "http://example.com/b",
            "http://8.8.8.8/",
        ] {
            assert!(web(&STRICT, ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "http://127.0.0.1/",
            "http://localhost:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:10.0.0.1]/",
            "http://metadata/",
            "http://user:pw@example.com/",
            "ftp://example.com/",
            "file:///etc/passwd",
        ] {
            assert!(web(&STRICT, bad).is_err(), "{bad} accepted");
        }
        assert!(web(&TESTING, "http://127.0.0.1:4000/page").is_ok());
        assert!(web(&TESTING, "http://10.0.0.7/page").is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_not_connected_to() {
        let name: Name = "localhost".parse().expect("a name");
        assert!(STRICT.resolve(name).await.is_err());
        let name: Name = "localhost".parse().expect("a name");
        let addrs: Vec<SocketAddr> = TESTING.resolve(name).await.expect("loopback").collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
