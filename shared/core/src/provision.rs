//! What the provisioning function does (issue 4 §4), for exactly one organisation: read the
//! credential's secret version, open the organisation envelope (`purpose=credential`), open the
//! ESDK layer with the intake key (`purpose=intake`) or the FLE key, and make the credential's
//! one HTTPS request with the secret where the action says. It returns and records only the
//! outcome. The plaintext lives in zeroized buffers, inside this function, for one request.

use std::collections::BTreeMap;
use std::time::Instant;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::Clock;
use serde::{Deserialize, Serialize};
use url::Url;
use zeroize::Zeroizing;

use crate::audit::{Auditor, Caller};
use crate::context::{context, Purpose};
use crate::envelope::{self, Envelope};
use crate::error::{Result, VaultError};
use crate::esdk_header;
use crate::model::{parse_credential_id, Credential, CredentialState, Injection, OrgId, OrgStatus};
use crate::ports::{AuditLog, ConfigReader, DecryptDataKey, SecretReader};
use crate::{egress, intake_key};

/// Opens an ESDK message with one RSA private key (the real ESDK in `crate::esdk`).
#[async_trait]
pub trait MessageDecrypter: Send + Sync {
    async fn decrypt(
        &self,
        message: &[u8],
        private_key_pem: &[u8],
        key_namespace: &str,
        key_name: &str,
    ) -> Result<Zeroizing<Vec<u8>>>;
}

/// One outbound request; the secret-bearing parts are zeroized on drop.
pub struct OutboundRequest {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, Zeroizing<String>)>,
    pub body: Option<Zeroizing<Vec<u8>>>,
}

/// The provisioning function's network egress: sends one request, returns the status code and
/// never the body. Errors are short descriptions without request content.
#[async_trait]
pub trait Egress: Send + Sync {
    async fn send(&self, request: OutboundRequest) -> std::result::Result<u16, String>;
}

/// The deployment's CloudFront field-level-encryption key, when this deployment uses FLE.
pub struct FleKey {
    pub provider_id: String,
    pub key_name: String,
    pub private_key_pem: Zeroizing<Vec<u8>>,
}

pub struct ProvisionConfig {
    /// The one organisation this deployment serves.
    pub org: OrgId,
    /// Local mode: plain HTTP to loopback hosts is allowed (never in AWS).
    pub allow_loopback_http: bool,
    pub fle: Option<FleKey>,
}

/// provision's capabilities.
pub struct Provisioner<'a> {
    pub keys: &'a dyn DecryptDataKey,
    pub secrets: &'a dyn SecretReader,
    pub config: &'a dyn ConfigReader,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub esdk: &'a dyn MessageDecrypter,
    pub egress: &'a dyn Egress,
    pub settings: &'a ProvisionConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    pub org: String,
    pub credential_id: String,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProvisionOutcome {
    pub org: String,
    pub credential_id: String,
    pub credential_version: u32,
    pub status: u16,
    pub elapsed_ms: u64,
}

impl Provisioner<'_> {
    fn auditor(&self) -> Auditor<'_> {
        Auditor {
            log: self.audit,
            clock: self.clock,
        }
    }

    pub async fn provision(
        &self,
        caller: &Caller,
        request: &ProvisionRequest,
    ) -> Result<ProvisionOutcome> {
        let org = &self.settings.org;
        let mut facts = BTreeMap::new();
        let result = self.provision_inner(caller, request, &mut facts).await;
        let credential_id = parse_credential_id(&request.credential_id).ok();
        self.auditor()
            .outcome_with_facts(
                org,
                caller,
                "credential.provision",
                credential_id,
                &result,
                facts,
            )
            .await;
        result
    }

    async fn provision_inner(
        &self,
        caller: &Caller,
        request: &ProvisionRequest,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<ProvisionOutcome> {
        let org = &self.settings.org;
        if request.org != org.as_str() {
            return Err(VaultError::WrongOrganisation);
        }
        let id = parse_credential_id(&request.credential_id)?;
        let record = self
            .config
            .get_org(org)
            .await?
            .ok_or(VaultError::OrgNotFound)?;
        if record.status != OrgStatus::Active {
            return Err(VaultError::OrgInactive);
        }
        let credential = self
            .config
            .get_credential(org, id)
            .await?
            .ok_or(VaultError::CredentialNotFound)?;
        let (Some(secret_arn), Some(version_id), CredentialState::Active) = (
            &credential.secret_arn,
            &credential.secret_version_id,
            credential.state,
        ) else {
            return Err(VaultError::CredentialInactive);
        };
        // Egress is decided before any secret is touched.
        let url = egress::check(
            &credential.action.url,
            &record.egress_allowlist,
            self.settings.allow_loopback_http,
        )?;
        facts.insert("credential_version".into(), credential.version.to_string());

        let stored = self
            .secrets
            .get_secret_version(secret_arn, version_id)
            .await?;
        let envelope = Envelope::from_json(&stored)?;
        let expected = context(org, Purpose::Credential, id);
        self.audited_decrypt(caller, Some(id), Purpose::Credential)
            .await?;
        let message_b64 = envelope::open(self.keys, &record.key_arn, &expected, &envelope).await?;
        let message = Zeroizing::new(
            B64.decode(message_b64.as_slice())
                .map_err(|_| VaultError::EnvelopeInvalid)?,
        );
        let secret = self.open_message(caller, &record.key_arn, &message).await?;

        let outbound = build_request(&credential, url, &secret)?;
        drop(secret);
        let started = Instant::now();
        let sent = self.egress.send(outbound).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        facts.insert("elapsed_ms".into(), elapsed_ms.to_string());
        let status = sent.map_err(VaultError::TargetFailed)?;
        facts.insert("status".into(), status.to_string());
        if !(200..300).contains(&status) {
            return Err(VaultError::TargetFailed(format!("status {status}")));
        }
        Ok(ProvisionOutcome {
            org: org.to_string(),
            credential_id: id.to_owned(),
            credential_version: credential.version,
            status,
            elapsed_ms,
        })
    }

    /// Every KMS Decrypt is preceded by its audit item; no audit trail, no decrypt.
    async fn audited_decrypt(
        &self,
        caller: &Caller,
        credential_id: Option<&str>,
        purpose: Purpose,
    ) -> Result<()> {
        let facts = BTreeMap::from([("purpose".to_owned(), purpose.as_str().to_owned())]);
        let event = self.auditor().event(
            &self.settings.org,
            caller,
            "kms.decrypt",
            credential_id,
            Ok(()),
            facts,
        );
        Ok(self.auditor().record(event).await?)
    }

    /// Opens the ESDK layer with the key its one data key names.
    async fn open_message(
        &self,
        caller: &Caller,
        org_key_arn: &str,
        message: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let org = &self.settings.org;
        let header = esdk_header::parse(message)?;
        let [edk] = header.encrypted_data_keys.as_slice() else {
            return Err(VaultError::CiphertextWrongKey);
        };
        if let Some(fle) = &self.settings.fle {
            if edk.provider_id == fle.provider_id && edk.provider_info == fle.key_name {
                return self
                    .esdk
                    .decrypt(
                        message,
                        &fle.private_key_pem,
                        &fle.provider_id,
                        &fle.key_name,
                    )
                    .await;
            }
        }
        let kid = edk
            .provider_info
            .strip_prefix(&format!("{org}/"))
            .filter(|_| edk.provider_id == intake_key::KEY_NAMESPACE)
            .ok_or(VaultError::CiphertextWrongKey)?;
        let intake = self
            .config
            .get_intake_key(org, kid)
            .await?
            .ok_or(VaultError::CiphertextWrongKey)?;
        self.audited_decrypt(caller, None, Purpose::Intake).await?;
        let private_pem = envelope::open(
            self.keys,
            org_key_arn,
            &context(org, Purpose::Intake, &intake.kid),
            &intake.wrapped_private_key,
        )
        .await?;
        self.esdk
            .decrypt(
                message,
                &private_pem,
                &intake.key_namespace,
                &intake.key_name,
            )
            .await
    }
}

/// Puts the secret where the action says. Everything that holds it is zeroized on drop.
fn build_request(
    credential: &Credential,
    url: Url,
    secret: &Zeroizing<Vec<u8>>,
) -> Result<OutboundRequest> {
    let action = &credential.action;
    let as_text = || {
        std::str::from_utf8(secret)
            .map(|s| Zeroizing::new(s.to_owned()))
            .map_err(|_| VaultError::InvalidRequest("credential is not UTF-8 text".into()))
    };
    let mut headers = Vec::new();
    let mut body = action
        .body
        .as_ref()
        .map(|b| Zeroizing::new(b.to_string().into_bytes()));
    match &action.inject {
        Injection::Bearer => headers.push((
            "authorization".into(),
            Zeroizing::new(format!("Bearer {}", as_text()?.as_str())),
        )),
        Injection::Ssws => headers.push((
            "authorization".into(),
            Zeroizing::new(format!("SSWS {}", as_text()?.as_str())),
        )),
        Injection::Basic { username } => {
            let pair = Zeroizing::new(format!("{username}:{}", as_text()?.as_str()));
            headers.push((
                "authorization".into(),
                Zeroizing::new(format!("Basic {}", B64.encode(pair.as_bytes()))),
            ));
        }
        Injection::Header { name } => headers.push((name.to_ascii_lowercase(), as_text()?)),
        Injection::JsonField { field } => {
            let mut object = match &action.body {
                Some(serde_json::Value::Object(map)) => map.clone(),
                _ => serde_json::Map::new(),
            };
            object.insert(
                field.clone(),
                serde_json::Value::String(as_text()?.to_string()),
            );
            let bytes = Zeroizing::new(
                serde_json::to_vec(&object)
                    .map_err(|_| VaultError::InvalidRequest("body is not serialisable".into()))?,
            );
            // The map's copy of the secret cannot be zeroized in place; it is dropped here.
            drop(object);
            body = Some(bytes);
        }
    }
    if body.is_some() {
        headers.push((
            "content-type".into(),
            Zeroizing::new("application/json".into()),
        ));
    }
    Ok(OutboundRequest {
        method: action.method.clone(),
        url,
        headers,
        body,
    })
}
