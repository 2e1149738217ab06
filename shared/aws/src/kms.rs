//! KMS: GenerateDataKey (admin, rotate), Decrypt pinned to one key (acs, provision: the
//! `decrypt` feature), CreateKey (local onboarding only).

use async_trait::async_trait;
#[cfg(feature = "decrypt")]
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use samlgate_domain::context::EncryptionContext;
#[cfg(feature = "decrypt")]
use samlgate_domain::ports::DecryptDataKey;
use samlgate_domain::ports::{CreateKey, DataKey, GenerateDataKey};
use samlgate_domain::{PortError, PortErrorKind};
use zeroize::Zeroizing;

use crate::errors::map;

#[derive(Clone, Debug)]
pub struct Kms {
    client: aws_sdk_kms::Client,
}

impl Kms {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_kms::Client::new(config),
        }
    }
}

fn missing(operation: &'static str, what: &str) -> PortError {
    PortError::new(
        PortErrorKind::Other,
        operation,
        format!("response has no {what}"),
    )
}

#[async_trait]
impl GenerateDataKey for Kms {
    async fn generate_data_key(
        &self,
        key_arn: &str,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, PortError> {
        const OP: &str = "kms:GenerateDataKey";
        let out = self
            .client
            .generate_data_key()
            .key_id(key_arn)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(ctx.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        let plaintext = out.plaintext.ok_or_else(|| missing(OP, "plaintext"))?;
        let wrapped = out
            .ciphertext_blob
            .ok_or_else(|| missing(OP, "ciphertext"))?;
        Ok(DataKey {
            plaintext: Zeroizing::new(plaintext.into_inner()),
            wrapped: wrapped.into_inner(),
        })
    }
}

#[cfg(feature = "decrypt")]
#[async_trait]
impl DecryptDataKey for Kms {
    async fn decrypt_data_key(
        &self,
        key_arn: &str,
        wrapped: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, PortError> {
        const OP: &str = "kms:Decrypt";
        // KeyId pins the key: a blob wrapped under any other key is refused by KMS.
        let out = self
            .client
            .decrypt()
            .key_id(key_arn)
            .ciphertext_blob(Blob::new(wrapped.to_vec()))
            .set_encryption_context(Some(ctx.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        let plaintext = out.plaintext.ok_or_else(|| missing(OP, "plaintext"))?;
        Ok(Zeroizing::new(plaintext.into_inner()))
    }
}

#[async_trait]
impl CreateKey for Kms {
    async fn create_key(&self, description: &str, policy_json: &str) -> Result<String, PortError> {
        const OP: &str = "kms:CreateKey";
        let out = self
            .client
            .create_key()
            .description(description)
            .policy(policy_json)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        out.key_metadata
            .and_then(|m| m.arn)
            .ok_or_else(|| missing(OP, "key ARN"))
    }

    async fn schedule_key_deletion(&self, key_arn: &str) -> Result<(), PortError> {
        const OP: &str = "kms:ScheduleKeyDeletion";
        self.client
            .schedule_key_deletion()
            // The key ID (the ARN's last part): AWS takes either, moto only the ID.
            .key_id(key_arn.rsplit('/').next().unwrap_or(key_arn))
            .pending_window_in_days(7)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}
