//! What the admin function does (issue 4 §2–3): register organisations and take in credential
//! ciphertexts. It holds `GenerateDataKey` and `SecretWriter` and nothing that decrypts: no
//! code path here can see a plaintext credential.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::{format_instant, Clock};
use serde::Deserialize;

use crate::audit::{Auditor, Caller};
use crate::context::{context, Purpose};
use crate::error::{PortErrorKind, Result, VaultError};
use crate::esdk_header::{self, MAX_MESSAGE_BYTES};
use crate::model::{
    new_credential_id, Credential, CredentialKind, CredentialState, Injection, Org, OrgId,
    OrgStatus, ProvisioningAction,
};
use crate::ports::{
    AuditLog, ConfigReader, ConfigWriter, GenerateDataKey, ProvisionInvoker, SecretWriter,
};
use crate::{egress, envelope, intake_key};

/// Recovery window for deleted credentials' secrets.
pub const RECOVERY_DAYS: i64 = 7;

/// A key provider the deployment accepts besides each organisation's intake key: CloudFront
/// field-level encryption's provider ID and public key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleProvider {
    pub provider_id: String,
    pub key_name: String,
}

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
    pub fle: Option<FleProvider>,
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

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let n = value.chars().count();
    if n < min || n > max || value.chars().any(char::is_control) {
        return Err(VaultError::InvalidRequest(format!(
            "{field} must be {min}–{max} characters without control characters"
        )));
    }
    Ok(())
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
    egress::check(&action.url, &org.egress_allowlist, true)?;
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
        let found = self
            .config
            .get_org(org)
            .await?
            .ok_or(VaultError::OrgNotFound)?;
        if found.status != OrgStatus::Active {
            return Err(VaultError::OrgInactive);
        }
        Ok(found)
    }

    /// Onboarding (issue 4 §2). Generating and wrapping the intake key proves the organisation
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
                .all(|h| egress::valid_allowlist_entry(h))
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

    pub async fn intake_key(&self, org: &OrgId) -> Result<crate::model::IntakeKey> {
        let found = self.active_org(org).await?;
        self.config
            .get_intake_key(org, &found.intake_key_id)
            .await?
            .ok_or(VaultError::OrgNotFound)
    }

    /// Decodes and structurally checks a credential ciphertext (issue 4 §3), without
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

        let sealed = match envelope::seal(
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
        let id = crate::model::parse_credential_id(id)?;
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
        let sealed = envelope::seal(
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
        let invoker = invoker.ok_or(VaultError::ProvisioningUnavailable)?;
        let answer = invoker.invoke(org, id, &caller.correlation_id).await?;
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
