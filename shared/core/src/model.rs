//! The vault's records. What is stored in DynamoDB is exactly these structs (plus pk/sk): no
//! field of any of them ever holds plaintext secret material.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::error::{Result, VaultError};

/// An organisation's identifier: `[a-z][a-z0-9-]{0,31}`. It appears in key policies, secret
/// names, encryption contexts and URLs, so it is kept to characters that are safe in all four.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(text: &str) -> Result<Self> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(VaultError::InvalidRequest(
                "organisation id must match [a-z][a-z0-9-]{0,31}".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = VaultError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<OrgId> for String {
    fn from(value: OrgId) -> Self {
        value.0
    }
}

impl std::fmt::Display for OrgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential's identifier, `c-` and 24 lowercase hex digits, made by the vault.
pub fn new_credential_id() -> Result<String> {
    Ok(format!("c-{}", random_hex(12)?))
}

/// Checks an identifier that arrived from outside (path parameter, event field).
pub fn parse_credential_id(text: &str) -> Result<&str> {
    let ok = text.len() == 26
        && text.starts_with("c-")
        && text[2..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if ok {
        Ok(text)
    } else {
        Err(VaultError::InvalidRequest("malformed credential id".into()))
    }
}

/// `bytes` random bytes as lowercase hex (identifiers, RelayStates, correlation IDs).
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf)
        .map_err(|_| VaultError::InvalidRequest("random generator failed".into()))?;
    Ok(hex(&buf))
}

/// SHA-256 as lowercase hex (metadata digests; bounded table keys for values from messages).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

/// `ORG#{org}` / `AUDIT#{time}#{corr}`: who did what, with which outcome. Never secret material.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error,
}
