//! The provisioning function's egress rule (issue 4 §4): one request, to a host on the
//! organisation's allowlist, over HTTPS; plain HTTP only to a loopback host in local mode.

use url::{Host, Url};

use crate::error::{Result, VaultError};

/// Checks a host name for the allowlist: lowercase DNS name or IP literal, no port, no path.
pub fn valid_allowlist_entry(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// `Ok(url)` if a request to `raw` is allowed.
pub fn check(raw: &str, allowlist: &[String], allow_loopback_http: bool) -> Result<Url> {
    let url = Url::parse(raw)
        .map_err(|_| VaultError::InvalidRequest("action url is not a URL".into()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(VaultError::InvalidRequest(
            "action url must not carry credentials".into(),
        ));
    }
    let host = match url.host() {
        Some(Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(VaultError::EgressDenied),
    };
    if !allowlist.iter().any(|h| h == &host) {
        return Err(VaultError::EgressDenied);
    }
    let loopback = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback && allow_loopback_http => Ok(url),
        _ => Err(VaultError::EgressDenied),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(hosts: &[&str]) -> Vec<String> {
        hosts.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn https_to_an_allowlisted_host_only() {
        let allow = list(&["acme.okta.com", "127.0.0.1"]);
        assert!(check("https://acme.okta.com/api/v1/x", &allow, false).is_ok());
        assert!(check("https://ACME.okta.com/api", &allow, false).is_ok());
        for denied in [
            "https://evil.example/x",
            "https://acme.okta.com.evil.example/x",
            "http://acme.okta.com/x",
            "ftp://acme.okta.com/x",
            "http://127.0.0.1:9/x",
        ] {
            assert!(
                matches!(check(denied, &allow, false), Err(VaultError::EgressDenied)),
                "{denied}"
            );
        }
        assert!(check("http://127.0.0.1:9/x", &allow, true).is_ok());
        assert!(check("https://user:pw@acme.okta.com/", &allow, false).is_err());
        assert!(check("not a url", &allow, false).is_err());
    }
}
