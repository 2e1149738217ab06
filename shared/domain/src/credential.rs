//! Credentials: everything about one except its value, which only ever exists as ciphertext
//! in Secrets Manager.

use serde::{Deserialize, Serialize};

use crate::ids::OrgId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    ApiToken,
    ClientSecret,
    Password,
    PrivateKey,
}

/// A credential is `pending` while its secret is being written; only `active` ones are ever
/// provisioned, so an interrupted intake can never be mistaken for a live credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    Pending,
    Active,
    Deleted,
}

/// Where the provisioning function puts the secret in its one HTTPS request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Injection {
    /// `Authorization: Bearer <secret>`
    Bearer,
    /// `Authorization: SSWS <secret>` (Okta API tokens)
    Ssws,
    /// `Authorization: Basic base64(<username>:<secret>)`
    Basic { username: String },
    /// `<name>: <secret>`
    Header { name: String },
    /// The request body is `body` with the string field `field` set to the secret.
    JsonField { field: String },
}

/// The credential's one provisioning action: an HTTPS request to an allowlisted host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningAction {
    pub method: String,
    pub url: String,
    pub inject: Injection,
    /// A JSON object sent as the body (never secret; `json_field` adds the secret to it).
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// `ORG#{org}` / `CRED#{id}`: everything about a credential except its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub org: OrgId,
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: CredentialKind,
    pub action: ProvisioningAction,
    pub state: CredentialState,
    pub version: u32,
    pub secret_arn: Option<String>,
    /// The Secrets Manager version holding `version`; provision reads exactly this version.
    pub secret_version_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
}
