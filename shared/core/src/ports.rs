//! The ports: one small trait per AWS capability (DESIGN.md §3). A function receives only the
//! traits its IAM role allows, so its signature is its permission list: admin gets
//! `GenerateDataKey` and `SecretWriter` and has no way to name `DecryptDataKey` or
//! `SecretReader`.

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::PortError;
use crate::model::{AuditEvent, Credential, IntakeKey, Org, OrgId};

/// A fresh data key: plaintext (zeroized on drop) and the same key wrapped by KMS.
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub wrapped: Vec<u8>,
}

/// `kms:GenerateDataKey` (AES-256) with an encryption context. admin, rotate.
#[async_trait]
pub trait GenerateDataKey: Send + Sync {
    async fn generate_data_key(
        &self,
        key_arn: &str,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, PortError>;
}

/// `kms:Decrypt` with an encryption context, pinned to one key. provision (and acs for SP keys).
#[async_trait]
pub trait DecryptDataKey: Send + Sync {
    async fn decrypt_data_key(
        &self,
        key_arn: &str,
        wrapped: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, PortError>;
}

/// `kms:CreateKey` with a key policy: the local/dev onboarding path (`samlgate org create`) and
/// the tests. In AWS the organisation's stack creates the key (org-template.yaml).
#[async_trait]
pub trait CreateKey: Send + Sync {
    async fn create_key(&self, description: &str, policy_json: &str) -> Result<String, PortError>;
    /// Compensation when onboarding fails after the key was created for it.
    async fn schedule_key_deletion(&self, key_arn: &str) -> Result<(), PortError>;
}

/// A stored secret's ARN and the version a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub arn: String,
    pub version_id: String,
}

/// `secretsmanager:CreateSecret`, `PutSecretValue`, `DeleteSecret`, `TagResource`. admin.
#[async_trait]
pub trait SecretWriter: Send + Sync {
    async fn create_secret(
        &self,
        name: &str,
        org: &OrgId,
        value: &str,
    ) -> Result<SecretVersion, PortError>;
    async fn put_secret_value(&self, arn: &str, value: &str) -> Result<SecretVersion, PortError>;
    /// Schedules deletion with a recovery window (days).
    async fn schedule_deletion(&self, arn: &str, recovery_days: i64) -> Result<(), PortError>;
    /// Compensation for a secret that never became live: delete without recovery.
    async fn delete_unreferenced(&self, arn: &str) -> Result<(), PortError>;
}

/// `secretsmanager:GetSecretValue` of one exact version. provision.
#[async_trait]
pub trait SecretReader: Send + Sync {
    async fn get_secret_version(&self, arn: &str, version_id: &str) -> Result<String, PortError>;
}

/// `dynamodb:GetItem`/`Query` on organisation and credential items. admin, provision.
#[async_trait]
pub trait ConfigReader: Send + Sync {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError>;
    async fn get_intake_key(&self, org: &OrgId, kid: &str) -> Result<Option<IntakeKey>, PortError>;
    async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Option<Credential>, PortError>;
    async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>, PortError>;
}

/// Conditional writes of organisation and credential items. admin.
#[async_trait]
pub trait ConfigWriter: Send + Sync {
    /// Writes the organisation and its intake key in one transaction, only if the organisation
    /// does not exist (`Conflict` otherwise).
    async fn create_org(&self, org: &Org, intake: &IntakeKey) -> Result<(), PortError>;
    /// Creates a credential item only if none exists with its id.
    async fn insert_credential(&self, credential: &Credential) -> Result<(), PortError>;
    /// Replaces a credential item only if its stored `state` and `version` are the given ones.
    async fn replace_credential(
        &self,
        credential: &Credential,
        expected_state: crate::model::CredentialState,
        expected_version: u32,
    ) -> Result<(), PortError>;
    /// Removes a credential item that never became active (compensation).
    async fn remove_pending_credential(&self, org: &OrgId, id: &str) -> Result<(), PortError>;
}

/// `dynamodb:PutItem` of audit items. Every function.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError>;
}
