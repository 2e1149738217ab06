//! OpenID Connect clients (DESIGN.md §6): the applications of an organisation, registered
//! through admin. A confidential client's secret is stored only as a SHA-256 hash (the secret
//! is 256 random bits, so a plain hash is enough) and compared in constant time.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::parse_instant;
use crate::ids::{sha256_hex, OrgId};

/// How a client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuthMethod {
    /// HTTP Basic with the URL-encoded client ID and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client (a browser or native app): PKCE is its only proof.
    None,
}

/// The algorithm an ID token is signed with (OIDC Registration `id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SigningAlg {
    #[default]
    ES256,
    /// OIDC Core §15.1: every provider supports it.
    RS256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }
}

/// One secret of a confidential client, by its hash. A replaced secret stays valid until
/// `expires_at` (the grace period), so that a deployment can roll over without downtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSecret {
    /// SHA-256 (hex) of the secret as the client presents it.
    pub sha256: String,
    pub created_at: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// `ORG#{org}` / `CLIENT#{client_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcClient {
    pub org: OrgId,
    pub client_id: String,
    pub name: String,
    /// Where authorization codes may go: compared exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may end: compared exactly.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// OIDC Back-Channel Logout 1.0: where logout tokens are posted.
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// OIDC Core §4: where an IdP-initiated login sends the browser to start a code flow.
    #[serde(default)]
    pub initiate_login_uri: Option<String>,
    pub token_endpoint_auth_method: TokenAuthMethod,
    #[serde(default)]
    pub id_token_signed_response_alg: SigningAlg,
    /// Empty for a public client.
    #[serde(default)]
    pub secrets: Vec<ClientSecret>,
    pub version: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// The admin console's client ID in every organisation: a public client (code + PKCE) whose
/// only redirect URI is the console itself ([`OidcClient::console`]). Its ID tokens are what a
/// console sign-in exchanges for a console session at admin.
pub const CONSOLE_CLIENT_ID: &str = "samlgate-console";

impl OidcClient {
    /// The console's client of `org`, made from configuration (never stored): public, ES256,
    /// redirecting only to `console_url`.
    pub fn console(org: &OrgId, console_url: &str) -> Self {
        Self {
            org: org.clone(),
            client_id: CONSOLE_CLIENT_ID.to_owned(),
            name: "samlgate console".to_owned(),
            redirect_uris: vec![console_url.to_owned()],
            post_logout_redirect_uris: vec![console_url.to_owned()],
            backchannel_logout_uri: None,
            initiate_login_uri: None,
            token_endpoint_auth_method: TokenAuthMethod::None,
            id_token_signed_response_alg: SigningAlg::ES256,
            secrets: Vec::new(),
            version: 1,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    /// A confidential client authenticates with a secret; a public one only with PKCE.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenAuthMethod::None
    }

    /// Whether `secret` is one of the client's secrets still valid at `now`, compared in
    /// constant time over every stored hash.
    pub fn secret_matches(&self, secret: &str, now: OffsetDateTime) -> bool {
        let presented = sha256_hex(secret.as_bytes());
        let mut found = false;
        for stored in &self.secrets {
            let valid = stored
                .expires_at
                .as_deref()
                .is_none_or(|until| parse_instant(until).is_some_and(|t| now < t));
            let equal = aws_lc_rs::constant_time::verify_slices_are_equal(
                stored.sha256.as_bytes(),
                presented.as_bytes(),
            )
            .is_ok();
            found |= equal && valid;
        }
        found
    }

    /// `uri` is exactly one of the registered redirect URIs.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    /// `uri` is exactly one of the registered post-logout redirect URIs.
    pub fn allows_post_logout(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|u| u == uri)
    }
}

/// A client ID or secret may hold only unreserved characters (RFC 3986 §2.3), so that every
/// relying-party library sends it the same way (RFC 6749 §2.3.1).
pub fn is_unreserved(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(secrets: Vec<ClientSecret>) -> OidcClient {
        OidcClient {
            org: OrgId::parse("acme").unwrap(),
            client_id: "client-1".into(),
            name: "App".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            initiate_login_uri: None,
            token_endpoint_auth_method: TokenAuthMethod::ClientSecretBasic,
            id_token_signed_response_alg: SigningAlg::ES256,
            secrets,
            version: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_secret_matches_by_hash_until_its_grace_period_ends() {
        let now = time::macros::datetime!(2026-01-02 0:00 UTC);
        let c = client(vec![
            ClientSecret {
                sha256: sha256_hex(b"new"),
                created_at: "2026-01-02T00:00:00Z".into(),
                expires_at: None,
            },
            ClientSecret {
                sha256: sha256_hex(b"old"),
                created_at: "2026-01-01T00:00:00Z".into(),
                expires_at: Some("2026-01-02T12:00:00Z".into()),
            },
        ]);
        assert!(c.secret_matches("new", now));
        assert!(c.secret_matches("old", now));
        assert!(!c.secret_matches("old", now + time::Duration::days(1)));
        assert!(!c.secret_matches("other", now));
        assert!(!client(vec![]).secret_matches("", now));
    }

    #[test]
    fn redirects_are_compared_exactly() {
        let c = client(vec![]);
        assert!(c.allows_redirect("https://app.example.com/cb"));
        assert!(!c.allows_redirect("https://app.example.com/cb/"));
        assert!(!c.allows_redirect("https://app.example.com/cb?x=1"));
        assert!(is_unreserved("client-1_x.y~z"));
        assert!(!is_unreserved("a b") && !is_unreserved("a:b") && !is_unreserved(""));
    }
}
