//! What a login grants a client (DESIGN.md §6, §7): the one-time authorization code (RFC 6749
//! §4.1.2) and the access token for `userinfo`, each stored only under the SHA-256 of its
//! value, with the claims the login established.

use serde::{Deserialize, Serialize};

use crate::ids::{IdpId, OrgId};

/// How long an authorization code may wait for its redemption, seconds.
pub const CODE_TTL_SECS: i64 = 60;
/// How long an access token lets a client call `userinfo`, seconds.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 600;

/// The claims one login established, before scopes select what a client sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// Unique within the issuer: `{the IdP's subject namespace}:{subject}`.
    pub sub: String,
    pub email: Option<String>,
    /// True only when the email's domain is assigned to the IdP that asserted it.
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub org: OrgId,
    pub idp: IdpId,
    /// The assertion's AuthnContextClassRef.
    pub acr: Option<String>,
    /// When the user authenticated at the IdP (AuthnInstant), Unix seconds.
    pub auth_time: Option<i64>,
    /// samlgate's session.
    pub sid: String,
}

/// `CODE#{sha256(code)}` / `C`: a code waiting for its one redemption, bound to its client,
/// redirect URI and PKCE challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub org: OrgId,
    pub client_id: String,
    pub redirect_uri: String,
    /// The S256 PKCE challenge (RFC 7636 §4.2), if the client sent one.
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: Vec<String>,
    pub claims: UserClaims,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
    /// Set by the one redemption, together with the hash of the access token it issued (so
    /// that a second redemption can revoke it: RFC 6749 §4.1.2).
    #[serde(default)]
    pub redeemed: bool,
    #[serde(default)]
    pub access_token: Option<String>,
}

/// `ACCESS#{sha256(token)}` / `A`: an access token for `userinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub org: OrgId,
    pub client_id: String,
    pub scope: Vec<String>,
    pub claims: UserClaims,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
}
