//! Organisations and their intake keys (DESIGN.md §7). What is stored is exactly these
//! structs (plus pk/sk): no field ever holds plaintext secret material.

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::ids::OrgId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Suspended,
}

/// `ORG#{org}` / `ORG`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub org: OrgId,
    pub name: String,
    /// The organisation key (created for it, or the customer's own: BYOK).
    pub key_arn: String,
    pub byok: bool,
    /// The organisation's provisioning function and the role it runs as (the role is the one
    /// principal the key policy lets Decrypt credentials).
    pub provision_function_arn: Option<String>,
    pub provision_role_arn: Option<String>,
    /// Hosts the provisioning function may reach (exact host names, lowercase).
    pub egress_allowlist: Vec<String>,
    /// The intake key pair currently served to clients.
    pub intake_key_id: String,
    pub status: OrgStatus,
    pub created_at: String,
}

/// `ORG#{org}` / `INTAKE#{kid}`: the organisation's intake key pair for client-side encryption.
/// The private key is an envelope under the organisation key (`purpose=intake`): only the
/// organisation's provisioning role can open it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeKey {
    pub org: OrgId,
    pub kid: String,
    /// ESDK key namespace (provider ID) and key name that messages for this key carry.
    pub key_namespace: String,
    pub key_name: String,
    pub public_key_pem: String,
    pub wrapped_private_key: Envelope,
    pub created_at: String,
}
