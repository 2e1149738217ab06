//! Faults: a wrapper over every port that fails chosen operations with chosen AWS
//! failures. Each failure must end in a clean, audited error code, with nothing partially
//! written and nothing retried behind the caller's back.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use samlgate_domain::audit::AuditEvent;
use samlgate_domain::context::EncryptionContext;
use samlgate_domain::credential::{Credential, CredentialState};
use samlgate_domain::ids::OrgId;
use samlgate_domain::org::{IntakeKey, Org};
use samlgate_domain::ports::*;
use samlgate_domain::{PortError, PortErrorKind};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::support::*;

/// Which operations fail, and every operation that was attempted.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<(&'static str, PortErrorKind)>>,
    calls: Mutex<Vec<&'static str>>,
}

impl Faults {
    fn fail(&self, op: &'static str, kind: PortErrorKind) {
        self.rules.lock().expect("rules").push((op, kind));
    }
    fn check(&self, op: &'static str) -> Result<(), PortError> {
        self.calls.lock().expect("calls").push(op);
        match self
            .rules
            .lock()
            .expect("rules")
            .iter()
            .find(|(o, _)| *o == op)
        {
            Some((_, kind)) => Err(PortError::new(*kind, op, "injected fault")),
            None => Ok(()),
        }
    }
    fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|c| **c == op)
            .count()
    }
}

pub struct Faulty<T> {
    inner: T,
    faults: Arc<Faults>,
}

fn faulty<T>(inner: T, faults: &Arc<Faults>) -> Arc<Faulty<T>> {
    Arc::new(Faulty {
        inner,
        faults: faults.clone(),
    })
}

#[async_trait]
impl<T: GenerateDataKey> GenerateDataKey for Faulty<T> {
    async fn generate_data_key(
        &self,
        key: &str,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, PortError> {
        self.faults.check("kms:GenerateDataKey")?;
        self.inner.generate_data_key(key, ctx).await
    }
}

#[async_trait]
impl<T: DecryptDataKey> DecryptDataKey for Faulty<T> {
    async fn decrypt_data_key(
        &self,
        key: &str,
        wrapped: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, PortError> {
        self.faults.check("kms:Decrypt")?;
        self.inner.decrypt_data_key(key, wrapped, ctx).await
    }
}

#[async_trait]
impl<T: SecretWriter> SecretWriter for Faulty<T> {
    async fn create_secret(
        &self,
        name: &str,
        org: &OrgId,
        value: &str,
    ) -> Result<SecretVersion, PortError> {
        self.faults.check("sm:CreateSecret")?;
        self.inner.create_secret(name, org, value).await
    }
    async fn put_secret_value(&self, arn: &str, value: &str) -> Result<SecretVersion, PortError> {
        self.faults.check("sm:PutSecretValue")?;
        self.inner.put_secret_value(arn, value).await
    }
    async fn schedule_deletion(&self, arn: &str, days: i64) -> Result<(), PortError> {
        self.faults.check("sm:ScheduleDeletion")?;
        self.inner.schedule_deletion(arn, days).await
    }
    async fn delete_unreferenced(&self, arn: &str) -> Result<(), PortError> {
        self.faults.check("sm:DeleteUnreferenced")?;
        self.inner.delete_unreferenced(arn).await
    }
}

#[async_trait]
impl<T: SecretReader> SecretReader for Faulty<T> {
    async fn get_secret_version(&self, arn: &str, version: &str) -> Result<String, PortError> {
        self.faults.check("sm:GetSecretValue")?;
        self.inner.get_secret_version(arn, version).await
    }
}

#[async_trait]
impl<T: OrgReader> OrgReader for Faulty<T> {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        self.faults.check("ddb:GetOrg")?;
        self.inner.get_org(org).await
    }
}

#[async_trait]
impl<T: ConfigReader> ConfigReader for Faulty<T> {
    async fn get_intake_key(&self, org: &OrgId, kid: &str) -> Result<Option<IntakeKey>, PortError> {
        self.faults.check("ddb:GetIntakeKey")?;
        self.inner.get_intake_key(org, kid).await
    }
    async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Option<Credential>, PortError> {
        self.faults.check("ddb:GetCredential")?;
        self.inner.get_credential(org, id).await
    }
    async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>, PortError> {
        self.faults.check("ddb:ListCredentials")?;
        self.inner.list_credentials(org).await
    }
}

#[async_trait]
impl<T: ConfigWriter> ConfigWriter for Faulty<T> {
    async fn create_org(&self, org: &Org, intake: &IntakeKey) -> Result<(), PortError> {
        self.faults.check("ddb:CreateOrg")?;
        self.inner.create_org(org, intake).await
    }
    async fn insert_credential(&self, c: &Credential) -> Result<(), PortError> {
        self.faults.check("ddb:InsertCredential")?;
        self.inner.insert_credential(c).await
    }
    async fn replace_credential(
        &self,
        c: &Credential,
        s: CredentialState,
        v: u32,
    ) -> Result<(), PortError> {
        self.faults.check("ddb:ReplaceCredential")?;
        self.inner.replace_credential(c, s, v).await
    }
    async fn remove_pending_credential(&self, org: &OrgId, id: &str) -> Result<(), PortError> {
        self.faults.check("ddb:RemovePending")?;
        self.inner.remove_pending_credential(org, id).await
    }
}

#[async_trait]
impl<T: AuditLog> AuditLog for Faulty<T> {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        self.faults.check("ddb:Audit")?;
        self.inner.record(event).await
    }
    async fn count_failure(&self, event: &AuditEvent, expires_at: i64) -> Result<(), PortError> {
        self.faults.check("ddb:Audit")?;
        self.inner.count_failure(event, expires_at).await
    }
}

fn faulty_admin(h: &Harness, faults: &Arc<Faults>) -> samlgate_admin::App {
    let mut app = h.admin.clone();
    app.keys = faulty((*h.kms).clone(), faults);
    app.secrets = faulty((*h.secrets).clone(), faults);
    app.config = faulty((*h.table).clone(), faults);
    app.writer = faulty((*h.table).clone(), faults);
    app.audit = faulty((*h.table).clone(), faults);
    app
}

fn faulty_provision(h: &Harness, org: &str, faults: &Arc<Faults>) -> samlgate_provision::App {
    let mut app = h.provision_app(org, None);
    app.keys = faulty((*h.kms).clone(), faults);
    app.secrets = faulty((*h.secrets).clone(), faults);
    app.config = faulty((*h.table).clone(), faults);
    app.audit = faulty((*h.table).clone(), faults);
    app
}

use PortErrorKind::*;

#[tokio::test(flavor = "multi_thread")]
async fn intake_faults_end_in_a_code_and_leave_no_live_credential() {
    let h = Harness::new("faults-intake").await;
    let target = Target::start(200);
    h.onboard("fi", &["127.0.0.1"]).await;
    let ct = h.encrypt_for("fi", "fault-secret").await;
    let cases: &[(&[(&str, PortErrorKind)], &str)] = &[
        (
            &[("kms:GenerateDataKey", AccessDenied)],
            "key_access_denied",
        ),
        (&[("kms:GenerateDataKey", KeyDisabled)], "key_disabled"),
        (
            &[("kms:GenerateDataKey", KeyUnavailable)],
            "key_unavailable",
        ),
        (&[("kms:GenerateDataKey", Throttled)], "aws_throttled"),
        (&[("kms:GenerateDataKey", Timeout)], "aws_timeout"),
        (&[("ddb:GetOrg", Timeout)], "aws_timeout"),
        (&[("ddb:InsertCredential", Conflict)], "conflict"),
        (&[("sm:CreateSecret", Throttled)], "aws_throttled"),
        (&[("sm:CreateSecret", AccessDenied)], "key_access_denied"),
        (&[("ddb:ReplaceCredential", Timeout)], "aws_timeout"),
        // Compensation fails too: what remains is a pending item, never an active credential.
        (
            &[
                ("ddb:ReplaceCredential", Timeout),
                ("sm:DeleteUnreferenced", Timeout),
                ("ddb:RemovePending", Timeout),
            ],
            "aws_timeout",
        ),
    ];
    for (rules, code) in cases {
        let faults = Arc::new(Faults::default());
        for (op, kind) in *rules {
            faults.fail(op, *kind);
        }
        let app = faulty_admin(&h, &faults);
        let reply = h
            .call_with(
                &app,
                "POST",
                "/admin/orgs/fi/credentials",
                h.credential_body(&target.url(), &ct),
            )
            .await;
        assert_eq!(reply.body["error"], *code, "{rules:?}: {}", reply.body);
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|m| !m.contains("injected")),
            "AWS detail leaked: {}",
            reply.body
        );
        for (op, _) in *rules {
            assert_eq!(faults.count(op), 1, "{op} was retried by our code");
        }
        let items = h.credential_items("fi").await;
        assert!(
            items.iter().all(|i| i["state"] != "active"),
            "{rules:?} left an active credential"
        );
        let compensation_failed = rules.iter().any(|(op, _)| *op == "ddb:RemovePending");
        if !compensation_failed {
            assert!(items.is_empty(), "{rules:?} left {items:?}");
        }
        if rules.iter().all(|(op, _)| *op != "sm:DeleteUnreferenced") {
            assert!(
                h.live_secrets("fi").await.is_empty(),
                "{rules:?} left a live secret"
            );
        }
    }
    // Every failure was audited with its code.
    let audit = h.audit_items("fi").await;
    let failures = audit
        .iter()
        .filter(|a| a["action"] == "credential.intake" && a["outcome"] == "error")
        .count();
    assert_eq!(failures, cases.len());

    // The pending leftover is invisible to provisioning.
    let pending: Vec<Value> = h.credential_items("fi").await;
    for item in pending {
        let out = h
            .provision(
                &h.provision_app("fi", None),
                "fi",
                item["id"].as_str().expect("id"),
            )
            .await;
        assert_eq!(out["error"], "credential_inactive");
    }
    assert!(target.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn provision_faults_and_byok_revocation_fail_cleanly_and_are_audited() {
    let h = Harness::new("faults-provision").await;
    let target = Target::start(200);
    h.onboard("fp", &["127.0.0.1"]).await;
    let stored = h
        .store(
            "fp",
            &target.url(),
            &h.encrypt_for("fp", "fault-secret").await,
        )
        .await;
    let id = stored.body["id"].as_str().expect("id").to_owned();
    let cases: &[(&str, PortErrorKind, &str)] = &[
        ("kms:Decrypt", AccessDenied, "key_access_denied"),
        ("kms:Decrypt", KeyDisabled, "key_disabled"),
        ("kms:Decrypt", KeyUnavailable, "key_unavailable"),
        ("kms:Decrypt", Throttled, "aws_throttled"),
        ("sm:GetSecretValue", Timeout, "aws_timeout"),
        ("ddb:GetCredential", Throttled, "aws_throttled"),
        ("ddb:GetIntakeKey", Timeout, "aws_timeout"),
    ];
    for (op, kind, code) in cases {
        let faults = Arc::new(Faults::default());
        faults.fail(op, *kind);
        let out = h
            .provision(&faulty_provision(&h, "fp", &faults), "fp", &id)
            .await;
        assert_eq!(out["error"], *code, "{op} {kind:?}: {out}");
        assert_eq!(faults.count(op), 1, "{op} was retried by our code");
    }
    // No audit trail, no decrypt: if the audit write fails, KMS is never asked.
    let faults = Arc::new(Faults::default());
    faults.fail("ddb:Audit", Throttled);
    let out = h
        .provision(&faulty_provision(&h, "fp", &faults), "fp", &id)
        .await;
    assert_eq!(out["error"], "aws_throttled");
    assert_eq!(faults.count("kms:Decrypt"), 0);
    assert!(target.requests().is_empty());

    let audit = h.audit_items("fp").await;
    let failures: Vec<&str> = audit
        .iter()
        .filter(|a| a["action"] == "credential.provision" && a["outcome"] == "error")
        .filter_map(|a| a["reason"].as_str())
        .collect();
    for (_, _, code) in cases {
        assert!(failures.contains(code), "{code} not audited: {failures:?}");
    }
}
