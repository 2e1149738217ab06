//! Setup links and console sessions (issue 14 §1): how a customer's IT admin, who has no
//! account of ours, gets into the console for one organisation. An operator creates a link
//! (`ORG#{org}` / `SETUP#{id}`); opening it exchanges the link, once, for a console session
//! (`ORG#{org}` / `CONSOLE#{sha256}`) limited to that organisation and the link's scopes.
//! Neither token is stored: only its SHA-256 (each is 256 random bits, so a plain hash is
//! enough), compared in constant time.

use serde::{Deserialize, Serialize};

use crate::ids::{sha256_hex, IdpId, OrgId};

/// What a setup link (and the session it becomes) may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupScope {
    /// IdPs, SSO settings, OIDC clients, token keys.
    Sso,
    /// Credentials and the intake key.
    Credentials,
}

impl SetupScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sso => "sso",
            Self::Credentials => "credentials",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Active,
    Used,
    Revoked,
}

/// `ORG#{org}` / `SETUP#{id}`: a setup link, by the hash of its secret. The item expires
/// (DynamoDB TTL on `expires_at`) with the link; its audit items stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupLink {
    pub org: OrgId,
    /// `sl-` and 16 lowercase hex digits; the public half of the link's token.
    pub id: String,
    /// SHA-256 (hex) of the secret half.
    pub secret_sha256: String,
    pub scopes: Vec<SetupScope>,
    pub state: LinkState,
    pub created_at: String,
    /// Who created it (the operator's IAM ARN).
    pub created_by: String,
    /// Unix seconds: the end of the link, and the item's TTL.
    pub expires_at: i64,
    #[serde(default)]
    pub used_at: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<String>,
    pub version: u32,
}

impl SetupLink {
    /// Whether `secret` is this link's, in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        let presented = sha256_hex(secret.as_bytes());
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.secret_sha256.as_bytes(),
            presented.as_bytes(),
        )
        .is_ok()
    }
}

/// `ORG#{org}` / `CONSOLE#{sha256 of the token}`: a console session, made by exchanging a
/// setup link. It expires (TTL on `expires_at`) and is checked against the clock on every use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    pub org: OrgId,
    pub token_sha256: String,
    pub scopes: Vec<SetupScope>,
    /// The audit actor of every request made with it: `setup:{link id}`.
    pub actor: String,
    pub created_at: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// `ORG#{org}` / `TESTSIGNIN#{sha256}`: permission for one test sign-in's failure to be shown
/// in detail (reason, what arrived, what was expected). admin makes it for an admin (operator
/// or console session) who asks; acs honours it at `GET /o/{org}/login?idp=…&diagnostics=…`.
/// Without it a failed test sign-in shows the generic page, like every other login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticTicket {
    pub org: OrgId,
    pub idp: IdpId,
    pub ticket_sha256: String,
    pub created_by: String,
    /// Unix seconds (TTL): a few minutes.
    pub expires_at: i64,
}
