//! Every way a login or logout fails, each with a stable code for the audit log. The browser
//! sees only a generic page and the correlation ID.

use samlgate_domain::{codes, PortError, VaultError};

/// The SSO runtime's own failures; the verifier's (`Saml`) and the kernel's (`Vault`: an
/// unknown organisation or IdP, a malformed request, KMS and DynamoDB) keep their own codes.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("no IdP chosen, none for the login hint's domain, and no default")]
    NoIdpForLogin,
    #[error("the IdP has no endpoint for the configured binding")]
    IdpEndpointMissing,
    #[error("no active {0} key")]
    SpKeyMissing(&'static str),
    #[error("no login in flight for this RelayState (unknown, used or expired)")]
    RequestStateUnknown,
    #[error("the login in flight has expired")]
    RequestStateExpired,
    #[error("the login in flight belongs to another IdP")]
    RequestStateMismatch,
    #[error("the login was started in another browser (its binding cookie is missing or differs)")]
    BrowserMismatch,
    #[error("unsolicited responses are not allowed from this IdP")]
    UnsolicitedNotAllowed,
    #[error("an unsolicited response's RelayState names no client with an initiate_login_uri")]
    UnsolicitedClientUnknown,
    #[error("IdP configuration is unusable: {0}")]
    IdpConfig(String),
    #[error("the assertion carries no subject under the IdP's mapping")]
    SubjectMissing,
    #[error("a claim is larger than samlgate copies into tokens")]
    ClaimTooLarge,
    #[error("subject does not match the IdP's subject pattern")]
    SubjectRejected,
    #[error("user is not in the required group")]
    GroupRequired,
    #[error("AuthnContextClassRef is not accepted")]
    AuthnContextRejected,
    #[error("the IdP reported that logout failed: {0}")]
    LogoutFailed(String),
    #[error("{0}")]
    Saml(#[from] saml::Error),
    #[error("{0}")]
    Vault(#[from] VaultError),
}

codes! {
    SsoError {
        NoIdpForLogin => "no_idp_for_login", 400;
        IdpEndpointMissing => "idp_endpoint_missing", 500;
        SpKeyMissing(&'static str) => "sp_key_missing", 500;
        RequestStateUnknown => "request_state_unknown", 400;
        RequestStateExpired => "request_state_expired", 400;
        RequestStateMismatch => "request_state_mismatch", 400;
        BrowserMismatch => "browser_mismatch", 400;
        UnsolicitedNotAllowed => "unsolicited_not_allowed", 400;
        UnsolicitedClientUnknown => "unsolicited_client_unknown", 400;
        IdpConfig(String) => "idp_config_invalid", 500;
        SubjectMissing => "subject_missing", 400;
        ClaimTooLarge => "claim_too_large", 400;
        SubjectRejected => "subject_rejected", 403;
        GroupRequired => "group_required", 403;
        AuthnContextRejected => "authn_context_rejected", 403;
        LogoutFailed(String) => "logout_failed", 400;
    }
    delegate {
        Saml => saml_status;
        Vault => vault_status;
    }
}

/// A refused message is the sender's problem (400); a replay store that cannot answer is ours.
fn saml_status(e: &saml::Error) -> u16 {
    match e {
        saml::Error::ReplayCacheUnavailable(_) => 503,
        _ => 400,
    }
}

/// What the browser's page says for a kernel error: the request's own faults keep their
/// status (an inactive organisation is 403 here, not admin's 409); everything else is ours
/// or upstream's (at least 500).
fn vault_status(e: &VaultError) -> u16 {
    match e {
        VaultError::OrgInactive => 403,
        VaultError::InvalidRequest(_)
        | VaultError::OrgNotFound
        | VaultError::IdpNotFound
        | VaultError::SsoNotConfigured => e.http_status(),
        other => other.http_status().max(500),
    }
}

impl From<PortError> for SsoError {
    fn from(e: PortError) -> Self {
        Self::Vault(VaultError::Port(e))
    }
}

impl SsoError {
    /// A malformed request (`invalid_request`, 400).
    pub fn invalid(why: impl Into<String>) -> Self {
        Self::Vault(VaultError::InvalidRequest(why.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_codes_are_unique_and_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md");
        let mut seen = std::collections::BTreeSet::new();
        for code in SsoError::CODES {
            assert!(seen.insert(code), "{code} twice");
            assert!(
                readme.contains(&format!("`{code}`")),
                "README does not document {code}"
            );
        }
    }

    #[test]
    fn the_browser_status_of_kernel_errors() {
        let status = |e: VaultError| SsoError::Vault(e).http_status();
        assert_eq!(status(VaultError::OrgNotFound), 404);
        assert_eq!(status(VaultError::OrgInactive), 403);
        assert_eq!(status(VaultError::InvalidRequest(String::new())), 400);
        assert_eq!(status(VaultError::Internal("random generator")), 500);
        assert_eq!(status(VaultError::EnvelopeInvalid), 502);
        let throttled = PortError::new(samlgate_domain::PortErrorKind::Throttled, "x", "");
        assert_eq!(SsoError::from(throttled).http_status(), 500);
        assert_eq!(
            SsoError::Saml(saml::Error::ReplayCacheUnavailable(String::new())).http_status(),
            503
        );
    }
}
