//! What admin may write and where samlgate may send things: the one answer to both.
//!
//! - [`web_url`]: an endpoint a browser is sent to or that sends to us (client redirect URIs, IdP
//!   endpoints, metadata URLs, the public base URL);
//! - [`egress_url`]: the one request a provisioning function makes, to an allowlisted host;
//! - [`text`] and [`short_text`]: bounds on every free-text field (names and descriptions in
//!   characters; protocol values that go into SAML messages and settings in bytes).
//!
//! Plain HTTP is allowed only to loopback, and only in local mode ([`is_loopback`]).

use url::{Host, Url};

use crate::error::{Result, VaultError};

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, ::1).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An endpoint URL a browser is sent to or receives from: https, or http to loopback in
/// local mode; no credentials, no fragment, at most 2048 bytes.
pub fn web_url(field: &str, raw: &str, allow_loopback_http: bool) -> Result<Url> {
    let invalid = |why: &str| VaultError::InvalidRequest(format!("{field}: {why}"));
    if raw.len() > 2048 {
        return Err(invalid("longer than 2048 bytes"));
    }
    let url = Url::parse(raw).map_err(|_| invalid("not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(invalid("must not carry credentials or a fragment"));
    }
    if url.host().is_none() {
        return Err(invalid("has no host"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_loopback_http && is_loopback(&url) => Ok(url),
        _ => Err(invalid("must be https")),
    }
}

/// Checks a host name for the egress allowlist: lowercase DNS name or IP literal, no port,
/// no path.
pub fn valid_allowlist_entry(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// The provisioning function's egress rule: one request, to a host on the organisation's
/// allowlist, over HTTPS; plain HTTP only to a loopback host in local mode. `Ok(url)` if a
/// request to `raw` is allowed.
pub fn egress_url(raw: &str, allowlist: &[String], allow_loopback_http: bool) -> Result<Url> {
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
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_loopback_http && is_loopback(&url) => Ok(url),
        _ => Err(VaultError::EgressDenied),
    }
}

/// A free-text field: `min`–`max` characters, none of them a control character.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n < min || n > max || value.chars().any(char::is_control) {
        return Err(VaultError::InvalidRequest(format!(
            "{field} must be {min}–{max} characters without control characters"
        )));
    }
    Ok(())
}

/// A protocol value (an attribute name, a format URI, an entity ID): 1–`max` bytes, none of
/// them a control character.
pub fn short_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(VaultError::InvalidRequest(format!(
            "{field} must be 1–{max} bytes without control characters"
        )));
    }
    Ok(())
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
        assert!(egress_url("https://acme.okta.com/api/v1/x", &allow, false).is_ok());
        assert!(egress_url("https://ACME.okta.com/api", &allow, false).is_ok());
        for denied in [
            "https://evil.example/x",
            "https://acme.okta.com.evil.example/x",
            "http://acme.okta.com/x",
            "ftp://acme.okta.com/x",
            "http://127.0.0.1:9/x",
        ] {
            assert!(
                matches!(
                    egress_url(denied, &allow, false),
                    Err(VaultError::EgressDenied)
                ),
                "{denied}"
            );
        }
        assert!(egress_url("http://127.0.0.1:9/x", &allow, true).is_ok());
        assert!(egress_url("https://user:pw@acme.okta.com/", &allow, false).is_err());
        assert!(egress_url("not a url", &allow, false).is_err());
    }

    #[test]
    fn web_urls_are_https_or_local_loopback() {
        assert!(web_url("u", "https://app.example.com/cb", false).is_ok());
        assert!(web_url("u", "http://app.example.com/", true).is_err());
        assert!(web_url("u", "http://127.0.0.1:8080/", true).is_ok());
        assert!(web_url("u", "http://localhost:8080/", true).is_ok());
        assert!(web_url("u", "http://[::1]:8080/", true).is_ok());
        assert!(web_url("u", "http://127.0.0.1:8080/", false).is_err());
        assert!(web_url("u", "https://u:p@app.example.com/", false).is_err());
        assert!(web_url("u", "https://app.example.com/#x", false).is_err());
        assert!(web_url(
            "u",
            &format!("https://a.example/{}", "x".repeat(2048)),
            false
        )
        .is_err());
    }

    #[test]
    fn text_is_bounded_and_printable() {
        assert!(text("name", "Acme", 1, 128).is_ok());
        assert!(text("name", "", 1, 128).is_err());
        assert!(text("description", "", 0, 10).is_ok());
        assert!(text("name", "a\nb", 1, 128).is_err());
        assert!(text("name", &"é".repeat(128), 1, 128).is_ok());
        assert!(text("name", &"é".repeat(129), 1, 128).is_err());
        assert!(short_text("groups", &"é".repeat(128), 256).is_ok());
        assert!(
            short_text("groups", &"é".repeat(129), 256).is_err(),
            "bytes, not characters"
        );
        assert!(short_text("groups", "", 256).is_err());
    }
}
