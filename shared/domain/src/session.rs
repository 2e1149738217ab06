//! Logins in flight and sessions (DESIGN.md §7): the SSO runtime's state, kept server-side
//! with a TTL (`expires_at`, which every reader also compares itself).

use serde::{Deserialize, Serialize};

use crate::ids::{IdpId, OrgId};

/// What a stored request is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatePurpose {
    #[default]
    Login,
    Logout,
}

/// `REQ#{relay_state}` / `REQ`: a login (or an SP-initiated logout) in flight. A login
/// without an `authorize` request is an administrator's test sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    #[serde(default)]
    pub purpose: StatePurpose,
    pub relay_state: String,
    pub org: OrgId,
    pub idp: IdpId,
    pub request_id: String,
    /// A logout's post-logout redirect URI (empty: the signed-out page); empty for a login.
    #[serde(default)]
    pub return_to: String,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
    /// The OIDC authorization request this login answers (OIDC Core §3.1.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize: Option<AuthorizeRequest>,
    /// SHA-256 (hex) of the binding cookie of the browser that started the login: the ACS
    /// requires the same browser, so that an attacker's Response cannot complete a victim's
    /// login (login CSRF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// A test sign-in started with a diagnostic ticket: its failure may show its reason to
    /// the browser that started it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diagnostics: bool,
}

/// What a client asked `authorize` for, kept with the login until the ACS issues the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 (RFC 7636 §4.2).
    pub code_challenge: Option<String>,
    pub scope: Vec<String>,
    /// `max_age` (OIDC Core §3.1.2.1), seconds.
    pub max_age: Option<u64>,
}

/// `SESS#{id}` / `S`: a signed-in user, for logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub org: OrgId,
    pub idp: IdpId,
    pub subject: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub created_at: String,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
    /// The OIDC client the session's login was for (back-channel logout tells it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}
