//! Audit items (DESIGN.md §7): every intake, update, delete, decrypt, login step and
//! provisioning call records who, what, the outcome and the error code. Never secret material:
//! the facts are codes, statuses and timings. [`crate::auditor`] writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::OrgId;

/// `AUDIT#{org}` / `{time}#{corr}#{seq}`: who did what, with which outcome. Never secret
/// material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub org: OrgId,
    pub at: String,
    pub correlation_id: String,
    pub actor: String,
    pub action: String,
    pub outcome: Outcome,
    /// The error code when `outcome` is `error`.
    pub reason: Option<String>,
    pub credential_id: Option<String>,
    /// Non-secret facts: HTTP status and timing of a provisioning call, the KMS purpose.
    pub facts: BTreeMap<String, String>,
    /// An aggregate of anonymous failures ([`crate::ports::AuditLog::count_failure`]): how many
    /// requests with this action, IdP and reason failed in the minute that starts at `at`
    /// (`correlation_id` is the latest one's). `None` for every other event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// An aggregate's latest failure (RFC 3339); `None` for every other event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error,
}

/// Who is calling and the correlation ID that ties the API response, the logs and the audit
/// item together.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: String,
    pub correlation_id: String,
}
