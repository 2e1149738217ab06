//! What the provisioning function does, for exactly one organisation: read the
//! credential's secret version, open the organisation envelope (`purpose=credential`), open the
//! ESDK layer with the intake key (`purpose=intake`) or the FLE key, and make the credential's
//! one HTTPS request with the secret where the action says. It returns and records only the
//! outcome. The plaintext lives in zeroized buffers, inside this function, for one request.

use std::collections::BTreeMap;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::Clock;
use samlgate_domain::context::{context, Purpose};
use samlgate_domain::credential::{Credential, CredentialState, Injection};
use samlgate_domain::envelope::Envelope;
use samlgate_domain::ids::{parse_credential_id, OrgId};
use samlgate_domain::ports::{
    AuditLog, ConfigReader, DecryptDataKey, Egress, MessageDecrypter, OutboundRequest, SecretReader,
};
use samlgate_domain::rules::egress_url;
use samlgate_domain::sealing;
use samlgate_domain::{Result, VaultError};
use serde::{Deserialize, Serialize};
use url::Url;
use zeroize::Zeroizing;

use crate::{esdk_header, intake_key};

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
        let record = self.config.active_org(org).await?;
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
        let url = egress_url(
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
        let message_b64 = sealing::open(self.keys, &record.key_arn, &expected, &envelope).await?;
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
                let field = self
                    .esdk
                    .decrypt(
                        message,
                        &fle.private_key_pem,
                        &fle.provider_id,
                        &fle.key_name,
                    )
                    .await?;
                return fle_secret_of(org, &field);
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
        let private_pem = sealing::open(
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

/// What the credential form's `secret` field holds before CloudFront encrypts it:
/// `samlgate-org:{org}` and a line feed, then the secret. CloudFront encrypts every
/// organisation's form with the deployment's one FLE key, so the ciphertext alone does not say
/// whose it is; the console (or the operator's form) writes the organisation inside the
/// encrypted field, and provision refuses a message stored under another one.
pub fn fle_field(org: &OrgId, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let prefix = fle_prefix(org);
    let mut field = Zeroizing::new(Vec::with_capacity(prefix.len() + secret.len()));
    field.extend_from_slice(prefix.as_bytes());
    field.extend_from_slice(secret);
    field
}

fn fle_prefix(org: &OrgId) -> String {
    format!("samlgate-org:{org}\n")
}

/// The secret inside a decrypted FLE field, if the field was made for `org`.
fn fle_secret_of(org: &OrgId, field: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    field
        .strip_prefix(fle_prefix(org).as_bytes())
        .filter(|secret| !secret.is_empty())
        .map(|secret| Zeroizing::new(secret.to_vec()))
        .ok_or(VaultError::CiphertextWrongOrganisation)
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
                serde_json::to_vec(&object).map_err(|_| VaultError::Internal("serialisation"))?,
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

/// Every refusal and failure of provisioning over the kernel's twins: the right code, the
/// audit item before every decrypt, and nothing sent unless everything held.
#[cfg(test)]
mod tests {
    use samlgate_domain::memory::MemoryEgress;
    use samlgate_domain::org::OrgStatus;
    use samlgate_domain::PortErrorKind::{self, AccessDenied, KeyDisabled, Throttled, Timeout};

    use super::*;
    use crate::testing::{acme, caller, Vault};

    #[test]
    fn an_fle_field_opens_only_for_the_organisation_it_names() {
        let other = OrgId::parse("acme-b").unwrap();
        let field = fle_field(&acme(), b"s3cret\nwith a line feed");
        assert_eq!(
            field.as_slice(),
            b"samlgate-org:acme\ns3cret\nwith a line feed"
        );
        assert_eq!(
            fle_secret_of(&acme(), &field).unwrap().as_slice(),
            b"s3cret\nwith a line feed"
        );
        for refused in [
            fle_field(&other, b"s3cret").to_vec(),
            // acme-b's prefix starts with acme's name: the line feed ends the name.
            b"samlgate-org:acme-b\ns3cret".to_vec(),
            b"samlgate-org:acmes3cret".to_vec(),
            b"s3cret".to_vec(),
            fle_field(&acme(), b"").to_vec(),
        ] {
            let e = fle_secret_of(&acme(), &refused).unwrap_err();
            assert_eq!(e.code(), "ciphertext_wrong_organisation");
        }
    }

    struct Run<'a> {
        vault: &'a Vault,
        egress: MemoryEgress,
        settings: ProvisionConfig,
    }

    impl<'a> Run<'a> {
        fn new(vault: &'a Vault) -> Self {
            Self {
                vault,
                egress: MemoryEgress::answering(204),
                settings: ProvisionConfig {
                    org: acme(),
                    allow_loopback_http: false,
                    fle: None,
                },
            }
        }

        async fn provision(&self, org: &str, id: &str) -> Result<ProvisionOutcome> {
            let v = self.vault;
            Provisioner {
                keys: &v.kms,
                secrets: &v.secrets,
                config: &v.store,
                audit: &v.store,
                clock: &v.clock,
                esdk: &v.messages,
                egress: &self.egress,
                settings: &self.settings,
            }
            .provision(
                &caller(),
                &ProvisionRequest {
                    org: org.into(),
                    credential_id: id.into(),
                    correlation_id: None,
                },
            )
            .await
        }

        fn sent(&self) -> usize {
            self.egress.sent.lock().unwrap().len()
        }
    }

    #[tokio::test]
    async fn the_secret_goes_where_the_action_says_and_only_the_outcome_is_kept() {
        let v = Vault::new().await;
        let id = v.stored("canary-4c1d").await;
        let run = Run::new(&v);
        let outcome = run.provision("acme", &id).await.unwrap();
        assert_eq!((outcome.status, outcome.credential_version), (204, 1));
        let sent = run.egress.sent.lock().unwrap()[0].clone();
        assert_eq!(sent.url, crate::testing::TARGET);
        assert!(sent
            .headers
            .contains(&("authorization".into(), "SSWS canary-4c1d".into())));
        let decrypts: Vec<_> = v
            .audit()
            .into_iter()
            .filter(|e| e.action == "kms.decrypt")
            .map(|e| e.facts["purpose"].clone())
            .collect();
        assert_eq!(
            decrypts,
            ["credential", "intake"],
            "each decrypt audited first"
        );
        let audit = serde_json::to_string(&v.audit()).unwrap();
        assert!(!audit.contains("canary"));
        assert_eq!(v.reasons("credential.provision"), [None]);
    }

    #[tokio::test]
    async fn requests_it_must_not_serve_are_refused_before_any_decrypt() {
        let v = Vault::new().await;
        let id = v.stored("x").await;
        let run = Run::new(&v);
        let pending = {
            let mut credentials = v.store.credentials.lock().unwrap();
            let mut c = credentials.values().next().unwrap().clone();
            c.id = "c-000000000000000000000001".into();
            c.state = CredentialState::Pending;
            credentials.insert((acme(), c.id.clone()), c.clone());
            c.id
        };
        let cases = [
            ("beta", id.as_str(), "wrong_organisation"),
            ("acme", "c-nope", "invalid_request"),
            ("acme", "c-ffffffffffffffffffffffff", "credential_not_found"),
            ("acme", pending.as_str(), "credential_inactive"),
        ];
        for (org, credential, code) in cases {
            let e = run.provision(org, credential).await.unwrap_err();
            assert_eq!(e.code(), code, "{org} {credential}");
        }
        v.store
            .orgs
            .lock()
            .unwrap()
            .get_mut(&acme())
            .unwrap()
            .status = OrgStatus::Suspended;
        assert_eq!(
            run.provision("acme", &id).await.unwrap_err().code(),
            "org_inactive"
        );
        assert_eq!(v.kms.faults.count("decrypt_data_key"), 0);
        assert_eq!(v.secrets.faults.count("get_secret_version"), 0);
        assert_eq!(run.sent(), 0);
        assert_eq!(v.reasons("credential.provision").len(), 5);
    }

    #[tokio::test]
    async fn a_target_off_the_allowlist_is_refused_before_the_secret_is_read() {
        let v = Vault::new().await;
        let id = v.stored("x").await;
        // The allowlist shrank after the credential was stored.
        v.store
            .orgs
            .lock()
            .unwrap()
            .get_mut(&acme())
            .unwrap()
            .egress_allowlist
            .clear();
        let run = Run::new(&v);
        assert_eq!(
            run.provision("acme", &id).await.unwrap_err().code(),
            "egress_denied"
        );
        assert_eq!(v.secrets.faults.count("get_secret_version"), 0);
        assert_eq!(v.kms.faults.count("decrypt_data_key"), 0);
    }

    #[tokio::test]
    async fn aws_failures_and_a_revoked_key_end_in_their_codes_with_nothing_sent() {
        let cases: &[(&str, PortErrorKind, &str)] = &[
            ("decrypt_data_key", AccessDenied, "key_access_denied"),
            ("decrypt_data_key", KeyDisabled, "key_disabled"),
            ("get_secret_version", Timeout, "aws_timeout"),
            ("get_credential", Throttled, "aws_throttled"),
            ("get_intake_key", Timeout, "aws_timeout"),
        ];
        for (op, kind, code) in cases {
            let v = Vault::new().await;
            let id = v.stored("x").await;
            v.kms.faults.fail(op, *kind);
            v.store.faults.fail(op, *kind);
            v.secrets.faults.fail(op, *kind);
            let run = Run::new(&v);
            let e = run.provision("acme", &id).await.unwrap_err();
            assert_eq!(e.code(), *code, "{op}");
            assert_eq!(run.sent(), 0, "{op}");
            assert_eq!(
                v.reasons("credential.provision"),
                [Some((*code).to_owned())]
            );
        }
    }

    #[tokio::test]
    async fn no_audit_trail_no_decrypt() {
        let v = Vault::new().await;
        let id = v.stored("x").await;
        v.store.faults.fail("record", Throttled);
        let run = Run::new(&v);
        assert_eq!(
            run.provision("acme", &id).await.unwrap_err().code(),
            "aws_throttled"
        );
        assert_eq!(v.kms.faults.count("decrypt_data_key"), 0);
        assert_eq!(run.sent(), 0);
    }

    #[tokio::test]
    async fn moved_or_undecryptable_ciphertexts_are_refused() {
        let v = Vault::new().await;
        let first = v.stored("first").await;
        let second = v.stored("second").await;
        // The second credential's item now names the first one's secret: the envelope's
        // context names the first credential, so it is refused before KMS is asked.
        let first_item = v.store.credentials.lock().unwrap()[&(acme(), first.clone())].clone();
        {
            let mut credentials = v.store.credentials.lock().unwrap();
            let moved = credentials.get_mut(&(acme(), second.clone())).unwrap();
            moved.secret_arn = first_item.secret_arn.clone();
            moved.secret_version_id = first_item.secret_version_id.clone();
        }
        let run = Run::new(&v);
        assert_eq!(
            run.provision("acme", &second).await.unwrap_err().code(),
            "envelope_mismatch"
        );
        assert_eq!(v.kms.faults.count("decrypt_data_key"), 0);

        // An ESDK layer that does not open with the intake key.
        v.messages.messages.lock().unwrap().clear();
        assert_eq!(
            run.provision("acme", &first).await.unwrap_err().code(),
            "intake_decrypt_failed"
        );
        assert_eq!(run.sent(), 0);
    }

    #[tokio::test]
    async fn a_target_that_fails_is_target_failed_and_the_status_is_kept() {
        let v = Vault::new().await;
        let id = v.stored("x").await;
        let mut run = Run::new(&v);
        run.egress = MemoryEgress::answering(500);
        assert_eq!(
            run.provision("acme", &id).await.unwrap_err().code(),
            "target_failed"
        );
        run.egress = MemoryEgress::failing("timeout");
        assert_eq!(
            run.provision("acme", &id).await.unwrap_err().code(),
            "target_failed"
        );
        let statuses: Vec<Option<String>> = v
            .audit()
            .into_iter()
            .filter(|e| e.action == "credential.provision")
            .map(|e| e.facts.get("status").cloned())
            .collect();
        assert_eq!(statuses, [Some("500".into()), None]);
    }
}
