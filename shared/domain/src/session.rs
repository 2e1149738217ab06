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

/// `REQ#{relay_state}` / `REQ`: a login (or an SP-initiated logout) in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    #[serde(default)]
    pub purpose: StatePurpose,
    pub relay_state: String,
    pub org: OrgId,
    pub idp: IdpId,
    pub request_id: String,
    pub return_to: String,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
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
}
