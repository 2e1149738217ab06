//! What the admin function does with the vault: register organisations and take in credential
//! ciphertexts. It holds `GenerateDataKey` and `SecretWriter` and nothing that decrypts (this
//! crate's provisioning, the one code that opens envelopes, is behind a feature admin does not
//! enable): no code path here can see a plaintext credential.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::config::FleNames;
use samlgate_domain::context::{context, Purpose};
use samlgate_domain::credential::{
    Credential, CredentialKind, CredentialState, Injection, ProvisioningAction,
};
use samlgate_domain::ids::{new_credential_id, parse_credential_id, OrgId};
use samlgate_domain::org::{IntakeKey, Org, OrgStatus};
use samlgate_domain::ports::{
    AuditLog, ConfigReader, ConfigWriter, GenerateDataKey, ProvisionInvoker, SecretWriter,
};
use samlgate_domain::rules::{egress_url, text, valid_allowlist_entry};
use samlgate_domain::sealing;
use samlgate_domain::{PortErrorKind, Result, VaultError};
use serde::Deserialize;

use crate::esdk_header::{self, MAX_MESSAGE_BYTES};
use crate::intake_key;

/// Recovery window for deleted credentials' secrets.
pub const RECOVERY_DAYS: i64 = 7;

/// What admin answers when provisioning ran: the provision function's outcome (status code
/// and time; never the secret or the target's body).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProvisionStarted {
    pub ok: bool,
    pub outcome: serde_json::Value,
    pub correlation_id: String,
}

/// admin's capabilities, one per IAM permission group.
pub struct Admin<'a> {
    pub keys: &'a dyn GenerateDataKey,
    pub secrets: &'a dyn SecretWriter,
    pub config: &'a dyn ConfigReader,
    pub writer: &'a dyn ConfigWriter,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    /// A key provider the deployment accepts besides each organisation's intake key: CloudFront
    /// field-level encryption's provider ID and public key name.
    pub fle: Option<FleNames>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub org: String,
    pub name: String,
    pub key_arn: String,
    #[serde(default)]
    pub byok: bool,
    #[serde(default)]
    pub provision_function_arn: Option<String>,
    #[serde(default)]
    pub provision_role_arn: Option<String>,
    #[serde(default)]
    pub egress_allowlist: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: CredentialKind,
    pub action: ProvisioningAction,
    /// Base64 of an AWS Encryption SDK message.
    pub ciphertext: String,
}

/// A new version of a credential: a new ciphertext, and optionally new metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialUpdate {
    pub ciphertext: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub action: Option<ProvisioningAction>,
}

fn is_key_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "kms"
        && parts[5].starts_with("key/")
        && arn.len() <= 2048
}

fn check_action(action: &ProvisioningAction, org: &Org) -> Result<()> {
    if !matches!(action.method.as_str(), "POST" | "PUT" | "PATCH") {
        return Err(VaultError::InvalidRequest(
            "action method must be POST, PUT or PATCH".into(),
        ));
    }
    text("action url", &action.url, 1, 2048)?;
    // Loopback HTTP is accepted here; provision refuses it unless it runs in local mode.
    egress_url(&action.url, &org.egress_allowlist, true)?;
    match &action.inject {
        Injection::Basic { username } => text("basic username", username, 1, 256)?,
        Injection::Header { name } => {
            let token = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let reserved = ["host", "content-length", "transfer-encoding", "connection"]
                .contains(&name.to_ascii_lowercase().as_str());
            if !token || reserved {
                return Err(VaultError::InvalidRequest(
                    "header name must be a token and not a hop-by-hop header".into(),
                ));
            }
        }
        Injection::JsonField { field } => text("json field", field, 1, 128)?,
        Injection::Bearer | Injection::Ssws => {}
    }
    match &action.body {
        None => Ok(()),
        Some(v) if v.is_object() && v.to_string().len() <= 16 * 1024 => Ok(()),
        Some(_) => Err(VaultError::InvalidRequest(
            "action body must be a JSON object of at most 16 KiB".into(),
        )),
    }
}

impl Admin<'_> {
    fn auditor(&self) -> Auditor<'_> {
        Auditor {
            log: self.audit,
            clock: self.clock,
        }
    }

    fn now(&self) -> String {
        format_instant(self.clock.now())
    }

    async fn active_org(&self, org: &OrgId) -> Result<Org> {
        self.config.active_org(org).await
    }

    /// Onboarding. Generating and wrapping the intake key proves the organisation
    /// key is usable with this organisation's context; the organisation and its intake key are
    /// written in one conditional transaction, so a failure anywhere leaves nothing behind.
    pub async fn register_org(&self, caller: &Caller, input: NewOrg) -> Result<Org> {
        let org = OrgId::parse(&input.org)?;
        let result = self.register_org_inner(org.clone(), input).await;
        self.auditor()
            .outcome(&org, caller, "org.register", None, &result)
            .await;
        result
    }

    async fn register_org_inner(&self, org: OrgId, input: NewOrg) -> Result<Org> {
        text("name", &input.name, 1, 128)?;
        if !is_key_arn(&input.key_arn) {
            return Err(VaultError::InvalidRequest(
                "key_arn must be a KMS key ARN (arn:…:kms:…:key/…)".into(),
            ));
        }
        if input.egress_allowlist.len() > 32
            || !input
                .egress_allowlist
                .iter()
                .all(|h| valid_allowlist_entry(h))
        {
            return Err(VaultError::InvalidRequest(
                "egress_allowlist holds at most 32 lowercase host names".into(),
            ));
        }
        for arn in [&input.provision_function_arn, &input.provision_role_arn]
            .into_iter()
            .flatten()
        {
            text("provisioning ARN", arn, 1, 2048)?;
            if !arn.starts_with("arn:") {
                return Err(VaultError::InvalidRequest(
                    "provisioning function and role must be ARNs".into(),
                ));
            }
        }
        // admin invokes this ARN (POST …/provision); its role may invoke only
        // `samlgate-provision-*` functions of its own account.
        if let Some(arn) = &input.provision_function_arn {
            let function = arn
                .split_once(":lambda:")
                .and_then(|(_, rest)| rest.split_once(":function:"))
                .map(|(_, name)| name);
            if !function.is_some_and(|name| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }) {
                return Err(VaultError::InvalidRequest(
                    "provision_function_arn must be a Lambda function ARN (org-template.yaml's ProvisionFunctionArn output)".into(),
                ));
            }
        }
        if self.config.get_org(&org).await?.is_some() {
            return Err(VaultError::OrgExists);
        }
        let now = self.now();
        let intake = intake_key::generate(self.keys, &org, &input.key_arn, &now).await?;
        let record = Org {
            org: org.clone(),
            name: input.name,
            key_arn: input.key_arn,
            byok: input.byok,
            provision_function_arn: input.provision_function_arn,
            provision_role_arn: input.provision_role_arn,
            egress_allowlist: input.egress_allowlist,
            intake_key_id: intake.kid.clone(),
            status: OrgStatus::Active,
            created_at: now,
        };
        match self.writer.create_org(&record, &intake).await {
            Err(e) if e.kind == PortErrorKind::Conflict => Err(VaultError::OrgExists),
            other => other.map_err(VaultError::from),
        }?;
        Ok(record)
    }

    pub async fn get_org(&self, org: &OrgId) -> Result<Org> {
        self.config
            .get_org(org)
            .await?
            .ok_or(VaultError::OrgNotFound)
    }

    pub async fn intake_key(&self, org: &OrgId) -> Result<IntakeKey> {
        let found = self.active_org(org).await?;
        self.config
            .get_intake_key(org, &found.intake_key_id)
            .await?
            .ok_or(VaultError::OrgNotFound)
    }

    /// Decodes and structurally checks a credential ciphertext, without
    /// decrypting: size, ESDK header, an accepted suite, one data key for a key we accept.
    async fn check_ciphertext(&self, org: &Org, b64: &str) -> Result<()> {
        if b64.len() > MAX_MESSAGE_BYTES.div_ceil(3) * 4 + 4 {
            return Err(VaultError::CiphertextTooLarge(MAX_MESSAGE_BYTES));
        }
        let bytes = B64
            .decode(b64.trim())
            .map_err(|_| VaultError::CiphertextMalformed("not base64"))?;
        let header = esdk_header::parse(&bytes)?;
        let [edk] = header.encrypted_data_keys.as_slice() else {
            return Err(VaultError::CiphertextWrongKey);
        };
        let intake = self
            .config
            .get_intake_key(&org.org, &org.intake_key_id)
            .await?
            .ok_or(VaultError::OrgNotFound)?;
        let to_intake =
            edk.provider_id == intake.key_namespace && edk.provider_info == intake.key_name;
        let to_fle = self
            .fle
            .as_ref()
            .is_some_and(|f| edk.provider_id == f.provider_id && edk.provider_info == f.key_name);
        if !(to_intake || to_fle) {
            return Err(VaultError::CiphertextWrongKey);
        }
        // A client-side message names its organisation; one made for another is refused.
        if let Some(named) = header.encryption_context.get("samlgate:org") {
            if named != org.org.as_str() {
                return Err(VaultError::CiphertextWrongKey);
            }
        }
        Ok(())
    }

    /// Credential intake. Write order: a `pending` item, then the secret, then the item becomes
    /// `active` with the secret's ARN and version. Only `active` items are ever provisioned;
    /// each failure after the first write is compensated (the secret deleted, the pending item
    /// removed), and if compensation itself fails what remains is `pending`, never live.
    pub async fn create_credential(
        &self,
        caller: &Caller,
        org: &OrgId,
        input: NewCredential,
    ) -> Result<Credential> {
        let id = new_credential_id()?;
        let result = self.create_credential_inner(org, &id, input).await;
        self.auditor()
            .outcome(org, caller, "credential.intake", Some(&id), &result)
            .await;
        result
    }

    async fn create_credential_inner(
        &self,
        org: &OrgId,
        id: &str,
        input: NewCredential,
    ) -> Result<Credential> {
        let found = self.active_org(org).await?;
        text("name", &input.name, 1, 128)?;
        text("description", &input.description, 0, 1024)?;
        check_action(&input.action, &found)?;
        self.check_ciphertext(&found, &input.ciphertext).await?;

        let now = self.now();
        let mut credential = Credential {
            org: org.clone(),
            id: id.to_owned(),
            name: input.name,
            description: input.description,
            kind: input.kind,
            action: input.action,
            state: CredentialState::Pending,
            version: 1,
            secret_arn: None,
            secret_version_id: None,
            created_at: now.clone(),
            updated_at: now,
            deleted_at: None,
        };
        self.writer.insert_credential(&credential).await?;

        let sealed = match sealing::seal(
            self.keys,
            &found.key_arn,
            context(org, Purpose::Credential, id),
            input.ciphertext.trim().as_bytes(),
        )
        .await
        .and_then(|e| e.to_json())
        {
            Ok(s) => s,
            Err(e) => return Err(self.undo(org, id, None, e).await),
        };
        let name = format!("samlgate/{org}/credentials/{id}");
        let version = match self.secrets.create_secret(&name, org, &sealed).await {
            Ok(v) => v,
            Err(e) => return Err(self.undo(org, id, None, e.into()).await),
        };
        credential.state = CredentialState::Active;
        credential.secret_arn = Some(version.arn.clone());
        credential.secret_version_id = Some(version.version_id);
        if let Err(e) = self
            .writer
            .replace_credential(&credential, CredentialState::Pending, 1)
            .await
        {
            return Err(self.undo(org, id, Some(&version.arn), e.into()).await);
        }
        Ok(credential)
    }

    /// Compensation for a failed intake; returns the original error.
    async fn undo(
        &self,
        org: &OrgId,
        id: &str,
        secret_arn: Option<&str>,
        error: VaultError,
    ) -> VaultError {
        if let Some(arn) = secret_arn {
            if let Err(e) = self.secrets.delete_unreferenced(arn).await {
                tracing::error!(code = "compensation_failed", org = %org, credential_id = id, error = %e, "secret of a failed intake not deleted");
            }
        }
        if let Err(e) = self.writer.remove_pending_credential(org, id).await {
            tracing::error!(code = "compensation_failed", org = %org, credential_id = id, error = %e, "pending item of a failed intake not removed");
        }
        error
    }

    pub async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Credential> {
        let id = parse_credential_id(id)?;
        self.config
            .get_credential(org, id)
            .await?
            .ok_or(VaultError::CredentialNotFound)
    }

    pub async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>> {
        self.get_org(org).await?;
        Ok(self.config.list_credentials(org).await?)
    }

    /// A new version: the new envelope is written as a new secret version first; the item then
    /// moves to it with a conditional write on the version it was read at. provision reads the
    /// version the item names, so until that write succeeds the old version stays the live one.
    pub async fn update_credential(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &str,
        update: CredentialUpdate,
    ) -> Result<Credential> {
        let result = self.update_credential_inner(org, id, update).await;
        self.auditor()
            .outcome(org, caller, "credential.update", Some(id), &result)
            .await;
        result
    }

    async fn update_credential_inner(
        &self,
        org: &OrgId,
        id: &str,
        update: CredentialUpdate,
    ) -> Result<Credential> {
        let found = self.active_org(org).await?;
        let mut credential = self.get_credential(org, id).await?;
        if credential.state != CredentialState::Active {
            return Err(VaultError::CredentialInactive);
        }
        let secret_arn = credential
            .secret_arn
            .clone()
            .ok_or(VaultError::CredentialInactive)?;
        if let Some(name) = update.name {
            text("name", &name, 1, 128)?;
            credential.name = name;
        }
        if let Some(description) = update.description {
            text("description", &description, 0, 1024)?;
            credential.description = description;
        }
        if let Some(action) = update.action {
            check_action(&action, &found)?;
            credential.action = action;
        }
        self.check_ciphertext(&found, &update.ciphertext).await?;
        let sealed = sealing::seal(
            self.keys,
            &found.key_arn,
            context(org, Purpose::Credential, id),
            update.ciphertext.trim().as_bytes(),
        )
        .await?
        .to_json()?;
        let version = self.secrets.put_secret_value(&secret_arn, &sealed).await?;
        let previous = credential.version;
        credential.version = previous.saturating_add(1);
        credential.secret_version_id = Some(version.version_id);
        credential.updated_at = self.now();
        self.replace_active(&credential, previous).await?;
        Ok(credential)
    }

    /// Replaces an active credential item read at version `previous`; a concurrent change
    /// in between is `version_conflict`.
    async fn replace_active(&self, credential: &Credential, previous: u32) -> Result<()> {
        match self
            .writer
            .replace_credential(credential, CredentialState::Active, previous)
            .await
        {
            Err(e) if e.kind == PortErrorKind::Conflict => Err(VaultError::VersionConflict),
            other => Ok(other?),
        }
    }

    /// Marks the item deleted (so it is never provisioned again), then schedules the secret's
    /// deletion. A failure of the second step is reported and can be retried: the item stays
    /// deleted and a retry schedules again.
    pub async fn delete_credential(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &str,
    ) -> Result<Credential> {
        let result = self.delete_credential_inner(org, id).await;
        self.auditor()
            .outcome(org, caller, "credential.delete", Some(id), &result)
            .await;
        result
    }

    /// Runs the organisation's provisioning for one active credential on behalf of `caller`.
    /// admin records who asked (`credential.provision_request`); the provision function
    /// records what it did, under the same correlation ID. Its refusal comes back as the
    /// error its code names.
    pub async fn request_provisioning(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &str,
        invoker: Option<&dyn ProvisionInvoker>,
    ) -> Result<ProvisionStarted> {
        let result = self
            .request_provisioning_inner(caller, org, id, invoker)
            .await;
        self.auditor()
            .outcome(
                org,
                caller,
                "credential.provision_request",
                Some(id),
                &result,
            )
            .await;
        result
    }

    async fn request_provisioning_inner(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &str,
        invoker: Option<&dyn ProvisionInvoker>,
    ) -> Result<ProvisionStarted> {
        if self.get_credential(org, id).await?.state != CredentialState::Active {
            return Err(VaultError::CredentialInactive);
        }
        let record = self.get_org(org).await?;
        let (Some(invoker), Some(function)) = (invoker, &record.provision_function_arn) else {
            return Err(VaultError::ProvisioningUnavailable);
        };
        let answer = invoker
            .invoke(function, org, id, &caller.correlation_id)
            .await?;
        if answer["ok"] == true {
            return Ok(ProvisionStarted {
                ok: true,
                outcome: answer["outcome"].clone(),
                correlation_id: caller.correlation_id.clone(),
            });
        }
        let code = answer["error"].as_str().unwrap_or_default();
        Err(VaultError::from_code(code).unwrap_or(VaultError::TargetFailed(String::new())))
    }

    async fn delete_credential_inner(&self, org: &OrgId, id: &str) -> Result<Credential> {
        let mut credential = self.get_credential(org, id).await?;
        if credential.state == CredentialState::Active {
            let previous = credential.version;
            credential.state = CredentialState::Deleted;
            credential.deleted_at = Some(self.now());
            self.replace_active(&credential, previous).await?;
        } else if credential.state == CredentialState::Pending {
            return Err(VaultError::CredentialInactive);
        }
        if let Some(arn) = &credential.secret_arn {
            match self.secrets.schedule_deletion(arn, RECOVERY_DAYS).await {
                // Already scheduled (a retry) or already gone.
                Err(e) if matches!(e.kind, PortErrorKind::Conflict | PortErrorKind::NotFound) => {}
                other => other?,
            }
        }
        Ok(credential)
    }
}

/// Every refusal and failure of onboarding and intake over the kernel's twins, each with its
/// code, its audit item, and nothing left behind that could ever be provisioned.
#[cfg(test)]
mod tests {
    use samlgate_domain::envelope::Envelope;
    use samlgate_domain::memory::MemoryInvoker;
    use samlgate_domain::PortErrorKind::{AccessDenied, Conflict, Throttled, Timeout};
    use serde_json::json;

    use super::*;
    use crate::testing::{acme, caller, esdk_message, Vault, KEY_ARN, PROVISION_FUNCTION, TARGET};

    fn new_org(org: &str) -> NewOrg {
        NewOrg {
            org: org.into(),
            name: "Beta".into(),
            key_arn: KEY_ARN.into(),
            byok: false,
            provision_function_arn: None,
            provision_role_arn: None,
            egress_allowlist: vec![],
        }
    }

    #[tokio::test]
    async fn registration_refuses_bad_input_and_writes_nothing() {
        let v = Vault::new().await;
        let admin = v.admin();
        let cases = [
            (
                NewOrg {
                    name: String::new(),
                    ..new_org("beta")
                },
                "invalid_request",
            ),
            (
                NewOrg {
                    key_arn: "alias/x".into(),
                    ..new_org("beta")
                },
                "invalid_request",
            ),
            (
                NewOrg {
                    egress_allowlist: vec!["Evil.example:443".into()],
                    ..new_org("beta")
                },
                "invalid_request",
            ),
            (
                NewOrg {
                    provision_role_arn: Some("role".into()),
                    ..new_org("beta")
                },
                "invalid_request",
            ),
            (
                NewOrg {
                    provision_function_arn: Some(
                        "arn:aws:iam::123456789012:role/samlgate-provision-beta".into(),
                    ),
                    ..new_org("beta")
                },
                "invalid_request",
            ),
            (new_org("acme"), "org_exists"),
        ];
        for (input, code) in cases {
            let e = admin.register_org(&caller(), input).await.unwrap_err();
            assert_eq!(e.code(), code);
        }
        assert_eq!(v.store.orgs.lock().unwrap().len(), 1);
        assert_eq!(
            v.reasons("org.register").len(),
            6,
            "every refusal is audited"
        );
    }

    #[tokio::test]
    async fn registration_that_cannot_use_the_key_or_write_leaves_nothing() {
        let v = Vault::new().await;
        v.kms.faults.fail("generate_data_key", AccessDenied);
        let e = v
            .admin()
            .register_org(&caller(), new_org("beta"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "key_access_denied");
        v.kms.faults.heal("generate_data_key");
        // Another registration won the race between the read and the transaction.
        v.store.faults.fail("create_org", Conflict);
        let e = v
            .admin()
            .register_org(&caller(), new_org("beta"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "org_exists");
        assert!(!v
            .store
            .orgs
            .lock()
            .unwrap()
            .contains_key(&OrgId::parse("beta").unwrap()));
        assert_eq!(v.store.intake_keys.lock().unwrap().len(), 1, "acme's only");
        assert_eq!(
            v.reasons("org.register"),
            [Some("key_access_denied".into()), Some("org_exists".into())]
        );
    }

    #[tokio::test]
    async fn intake_stores_the_envelope_and_only_metadata() {
        let v = Vault::new().await;
        let id = v.stored("canary-9f3e").await;
        let credential = v.admin().get_credential(&acme(), &id).await.unwrap();
        assert_eq!(credential.state, CredentialState::Active);
        let secrets = v.secrets.secrets.lock().unwrap();
        let secret = &secrets[credential.secret_arn.as_deref().unwrap()];
        assert_eq!(secret.name, format!("samlgate/acme/credentials/{id}"));
        let envelope = Envelope::from_json(&secret.versions[0].1).unwrap();
        assert_eq!(envelope.ctx, context(&acme(), Purpose::Credential, &id));
        assert_eq!(envelope.kms_key, KEY_ARN);
        let item = serde_json::to_string(&credential).unwrap();
        assert!(!item.contains("canary") && !secret.versions[0].1.contains("canary"));
    }

    #[tokio::test]
    async fn intake_refuses_what_is_not_a_message_for_this_organisation() {
        let v = Vault::new().await;
        let intake = v.intake();
        let other_key = B64.encode(esdk_message(
            ("samlgate-intake", "beta/k-1"),
            &[("samlgate:org", "acme")],
        ));
        let other_org = B64.encode(esdk_message(
            (crate::intake_key::KEY_NAMESPACE, &intake.key_name),
            &[("samlgate:org", "beta")],
        ));
        let mut too_large = v.ciphertext("x");
        too_large.push_str(&"A".repeat(MAX_MESSAGE_BYTES * 2));
        let cases = [
            ("not base64!".to_owned(), "ciphertext_malformed"),
            (B64.encode(b"plaintext token"), "ciphertext_malformed"),
            (other_key, "ciphertext_wrong_key"),
            (other_org, "ciphertext_wrong_key"),
            (too_large, "ciphertext_too_large"),
        ];
        for (ciphertext, code) in cases {
            let e = v
                .admin()
                .create_credential(&caller(), &acme(), v.new_credential(ciphertext))
                .await
                .unwrap_err();
            assert_eq!(e.code(), code);
        }
        let mut bad_action = v.new_credential(v.ciphertext("x"));
        bad_action.action.url = "https://evil.example/collect".into();
        let e = v
            .admin()
            .create_credential(&caller(), &acme(), bad_action)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "egress_denied");
        let mut bad_method = v.new_credential(v.ciphertext("x"));
        bad_method.action.method = "GET".into();
        let e = v
            .admin()
            .create_credential(&caller(), &acme(), bad_method)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert!(v.store.credentials.lock().unwrap().is_empty());
        assert!(v.secrets.secrets.lock().unwrap().is_empty());
        assert_eq!(v.reasons("credential.intake").len(), 7);
    }

    /// Each write that can fail, failing: the code comes back, the audit item names it, and
    /// no credential is left `active`; compensation removes what was written.
    #[tokio::test]
    async fn intake_failures_are_compensated() {
        type Faults<'a> = &'a [(&'a str, PortErrorKind)];
        let cases: &[(Faults, &str, bool)] = &[
            (&[("get_org", Timeout)], "aws_timeout", false),
            (&[("insert_credential", Conflict)], "conflict", false),
            (
                &[("generate_data_key", AccessDenied)],
                "key_access_denied",
                false,
            ),
            (&[("create_secret", Throttled)], "aws_throttled", false),
            (&[("replace_credential", Timeout)], "aws_timeout", false),
            // Compensation fails too: what remains is pending, never active.
            (
                &[
                    ("replace_credential", Timeout),
                    ("delete_unreferenced", Timeout),
                    ("remove_pending_credential", Timeout),
                ],
                "aws_timeout",
                true,
            ),
        ];
        for (faults, code, leftover) in cases {
            let v = Vault::new().await;
            let ciphertext = v.ciphertext("canary");
            for (op, kind) in *faults {
                v.store.faults.fail(op, *kind);
                v.kms.faults.fail(op, *kind);
                v.secrets.faults.fail(op, *kind);
            }
            let e = v
                .admin()
                .create_credential(&caller(), &acme(), v.new_credential(ciphertext))
                .await
                .unwrap_err();
            assert_eq!(e.code(), *code, "{faults:?}");
            let items: Vec<Credential> = v
                .store
                .credentials
                .lock()
                .unwrap()
                .values()
                .cloned()
                .collect();
            assert!(items.iter().all(|c| c.state != CredentialState::Active));
            assert_eq!(!items.is_empty(), *leftover, "{faults:?}: {items:?}");
            let live = v
                .secrets
                .secrets
                .lock()
                .unwrap()
                .values()
                .filter(|s| !s.deletion_scheduled)
                .count();
            assert_eq!(live > 0, *leftover, "{faults:?}: a live secret");
            assert_eq!(v.reasons("credential.intake"), [Some((*code).to_owned())]);
        }
    }

    #[tokio::test]
    async fn updates_need_an_active_credential_at_the_version_read() {
        let v = Vault::new().await;
        let id = v.stored("one").await;
        let update = |ciphertext| CredentialUpdate {
            ciphertext,
            name: None,
            description: None,
            action: None,
        };
        let updated = v
            .admin()
            .update_credential(&caller(), &acme(), &id, update(v.ciphertext("two")))
            .await
            .unwrap();
        assert_eq!(updated.version, 2);
        // A concurrent update moved the item on between our read and our write.
        v.store.faults.fail("replace_credential", Conflict);
        let e = v
            .admin()
            .update_credential(&caller(), &acme(), &id, update(v.ciphertext("three")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "version_conflict");
        v.store.faults.heal("replace_credential");
        v.secrets.faults.fail("put_secret_value", Throttled);
        let e = v
            .admin()
            .update_credential(&caller(), &acme(), &id, update(v.ciphertext("four")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "aws_throttled");
        v.secrets.faults.heal("put_secret_value");
        let stored = v.admin().get_credential(&acme(), &id).await.unwrap();
        assert_eq!(
            stored.version, 2,
            "the live version is still the last that landed"
        );

        v.admin()
            .delete_credential(&caller(), &acme(), &id)
            .await
            .unwrap();
        // A retried delete succeeds: the secret is already scheduled.
        v.admin()
            .delete_credential(&caller(), &acme(), &id)
            .await
            .unwrap();
        let e = v
            .admin()
            .update_credential(&caller(), &acme(), &id, update(v.ciphertext("five")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "credential_inactive");
        assert_eq!(
            v.reasons("credential.update"),
            [
                None,
                Some("version_conflict".into()),
                Some("aws_throttled".into()),
                Some("credential_inactive".into())
            ]
        );
    }

    #[tokio::test]
    async fn nothing_is_written_for_an_inactive_or_unknown_organisation() {
        let v = Vault::new().await;
        let ciphertext = v.ciphertext("x");
        let unknown = OrgId::parse("nobody").unwrap();
        let e = v
            .admin()
            .create_credential(&caller(), &unknown, v.new_credential(ciphertext.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "org_not_found");
        v.store
            .orgs
            .lock()
            .unwrap()
            .get_mut(&acme())
            .unwrap()
            .status = OrgStatus::Suspended;
        let e = v
            .admin()
            .create_credential(&caller(), &acme(), v.new_credential(ciphertext))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "org_inactive");
        assert_eq!(
            v.admin().intake_key(&acme()).await.unwrap_err().code(),
            "org_inactive"
        );
        assert!(v.store.credentials.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn provisioning_requests_are_audited_and_answered_with_provisions_code() {
        let v = Vault::new().await;
        let id = v.stored("x").await;
        let admin = v.admin();
        // An organisation onboarded without its function's ARN cannot be provisioned from
        // admin, whatever the deployment can invoke.
        let unused = MemoryInvoker::answering(json!({"ok": true}));
        let function = v
            .store
            .orgs
            .lock()
            .unwrap()
            .get_mut(&acme())
            .and_then(|o| o.provision_function_arn.take());
        let e = admin
            .request_provisioning(&caller(), &acme(), &id, Some(&unused))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "provisioning_unavailable");
        assert!(unused.calls.lock().unwrap().is_empty());
        v.store
            .orgs
            .lock()
            .unwrap()
            .get_mut(&acme())
            .unwrap()
            .provision_function_arn = function;
        let e = admin
            .request_provisioning(&caller(), &acme(), &id, None)
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.http_status()),
            ("provisioning_unavailable", 501)
        );
        let refused = MemoryInvoker::answering(json!({"ok": false, "error": "egress_denied"}));
        let e = admin
            .request_provisioning(&caller(), &acme(), &id, Some(&refused))
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("egress_denied", 400));
        let ok = MemoryInvoker::answering(json!({"ok": true, "outcome": {"status": 204}}));
        let started = admin
            .request_provisioning(&caller(), &acme(), &id, Some(&ok))
            .await
            .unwrap();
        assert_eq!(started.outcome["status"], 204);
        assert_eq!(
            ok.calls.lock().unwrap()[0],
            (
                PROVISION_FUNCTION.to_owned(),
                acme(),
                id.clone(),
                "corr-1".to_owned()
            ),
            "the organisation's own function, with the caller's correlation ID"
        );
        ok.faults.fail("invoke", Throttled);
        let e = admin
            .request_provisioning(&caller(), &acme(), &id, Some(&ok))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "aws_throttled", "the invoke itself failed");
        ok.faults.heal("invoke");
        admin
            .delete_credential(&caller(), &acme(), &id)
            .await
            .unwrap();
        let e = admin
            .request_provisioning(&caller(), &acme(), &id, Some(&ok))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "credential_inactive");
        assert_eq!(
            ok.calls.lock().unwrap().len(),
            1,
            "an inactive credential is never sent"
        );
        assert_eq!(ok.faults.count("invoke"), 2);
        let events: Vec<_> = v
            .audit()
            .into_iter()
            .filter(|e| e.action == "credential.provision_request")
            .collect();
        assert_eq!(events.len(), 6);
        assert!(events.iter().all(|e| e.actor == "test"));
        let _ = TARGET;
    }
}
