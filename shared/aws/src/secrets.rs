//! Secrets Manager: admin writes (create, new version, schedule deletion); provision reads one
//! exact version (the `secret-read` feature).

use async_trait::async_trait;
use aws_sdk_secretsmanager::types::Tag;
use samlgate_domain::ids::OrgId;
#[cfg(feature = "secret-read")]
use samlgate_domain::ports::SecretReader;
use samlgate_domain::ports::{SecretVersion, SecretWriter};
use samlgate_domain::{PortError, PortErrorKind};

use crate::errors::map;

#[derive(Clone, Debug)]
pub struct Secrets {
    client: aws_sdk_secretsmanager::Client,
    /// The key Secrets Manager encrypts new secrets with at rest (the platform key in AWS);
    /// None: the account's `aws/secretsmanager` key.
    at_rest_key: Option<String>,
}

impl Secrets {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(config),
            at_rest_key: None,
        }
    }

    /// Secrets created from now on are encrypted at rest under `key` (an ARN or alias).
    pub fn with_at_rest_key(mut self, key: Option<String>) -> Self {
        self.at_rest_key = key.filter(|k| !k.is_empty());
        self
    }
}

fn version(
    operation: &'static str,
    arn: Option<String>,
    version_id: Option<String>,
) -> Result<SecretVersion, PortError> {
    match (arn, version_id) {
        (Some(arn), Some(version_id)) => Ok(SecretVersion { arn, version_id }),
        _ => Err(PortError::new(
            PortErrorKind::Other,
            operation,
            "response has no ARN or version",
        )),
    }
}

#[cfg(feature = "secret-read")]
impl Secrets {
    /// The current version of a deployment-level secret (the FLE private key), read once at
    /// cold start. Not a port: credentials are always read by exact version.
    pub async fn get_current(&self, secret_id: &str) -> Result<String, PortError> {
        const OP: &str = "secretsmanager:GetSecretValue";
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        out.secret_string
            .ok_or_else(|| PortError::new(PortErrorKind::Other, OP, "secret has no string value"))
    }
}

#[async_trait]
impl SecretWriter for Secrets {
    async fn create_secret(
        &self,
        name: &str,
        org: &OrgId,
        value: &str,
    ) -> Result<SecretVersion, PortError> {
        const OP: &str = "secretsmanager:CreateSecret";
        let out = self
            .client
            .create_secret()
            .name(name)
            .description("samlgate credential: organisation envelope over an ESDK message")
            .set_kms_key_id(self.at_rest_key.clone())
            .secret_string(value)
            .tags(
                Tag::builder()
                    .key("samlgate:org")
                    .value(org.as_str())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        version(OP, out.arn, out.version_id)
    }

    async fn put_secret_value(&self, arn: &str, value: &str) -> Result<SecretVersion, PortError> {
        const OP: &str = "secretsmanager:PutSecretValue";
        let out = self
            .client
            .put_secret_value()
            .secret_id(arn)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        version(OP, out.arn, out.version_id)
    }

    async fn schedule_deletion(&self, arn: &str, recovery_days: i64) -> Result<(), PortError> {
        const OP: &str = "secretsmanager:DeleteSecret";
        self.client
            .delete_secret()
            .secret_id(arn)
            .recovery_window_in_days(recovery_days)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn delete_unreferenced(&self, arn: &str) -> Result<(), PortError> {
        const OP: &str = "secretsmanager:DeleteSecret";
        self.client
            .delete_secret()
            .secret_id(arn)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}

#[cfg(feature = "secret-read")]
#[async_trait]
impl SecretReader for Secrets {
    async fn get_secret_version(&self, arn: &str, version_id: &str) -> Result<String, PortError> {
        const OP: &str = "secretsmanager:GetSecretValue";
        let out = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .version_id(version_id)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        out.secret_string
            .ok_or_else(|| PortError::new(PortErrorKind::Other, OP, "secret has no string value"))
    }
}
