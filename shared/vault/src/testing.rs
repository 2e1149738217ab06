//! The vault over the kernel's in-memory twins, for the unit tests of admin and provisioning:
//! an organisation `acme` registered through `Admin::register_org`, and credential messages
//! whose ESDK header names its intake key (the twin ESDK opens exactly those).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::audit::{AuditEvent, Caller};
use samlgate_domain::clock::FixedClock;
use samlgate_domain::credential::{CredentialKind, Injection, ProvisioningAction};
use samlgate_domain::ids::OrgId;
use samlgate_domain::memory::{LocalKms, MemoryMessages, MemorySecrets, MemoryStore};
use samlgate_domain::org::IntakeKey;

use crate::admin::{Admin, NewCredential, NewOrg};
use crate::intake_key::KEY_NAMESPACE;

pub const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/acme";
pub const PROVISION_FUNCTION: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:samlgate-provision-acme";
pub const TARGET: &str = "https://api.example.com/v1/token";

pub struct Vault {
    pub store: MemoryStore,
    pub kms: LocalKms,
    pub secrets: MemorySecrets,
    pub messages: MemoryMessages,
    pub clock: FixedClock,
}

pub fn acme() -> OrgId {
    OrgId::parse("acme").unwrap()
}

pub fn caller() -> Caller {
    Caller {
        actor: "test".into(),
        correlation_id: "corr-1".into(),
    }
}

/// An ESDK v2 message header (committing suite 0x0578) with one encrypted data key and the
/// given encryption context, then a body: what admin's structural check reads.
pub fn esdk_message(edk: (&str, &str), context: &[(&str, &str)]) -> Vec<u8> {
    let short = |m: &mut Vec<u8>, s: &[u8]| {
        m.extend((s.len() as u16).to_be_bytes());
        m.extend(s);
    };
    let mut m = vec![0x02];
    m.extend(0x0578u16.to_be_bytes());
    m.extend([7u8; 32]);
    let mut aad = Vec::new();
    if !context.is_empty() {
        aad.extend((context.len() as u16).to_be_bytes());
        for (k, v) in context {
            short(&mut aad, k.as_bytes());
            short(&mut aad, v.as_bytes());
        }
    }
    short(&mut m, &aad);
    m.extend(1u16.to_be_bytes());
    short(&mut m, edk.0.as_bytes());
    short(&mut m, edk.1.as_bytes());
    short(&mut m, &[1, 2, 3]);
    m.push(0x02);
    m.extend(4096u32.to_be_bytes());
    m.extend([0u8; 48]);
    m.extend([9u8; 10]);
    m
}

impl Vault {
    /// `acme`, registered (its intake key generated and sealed), allowlisting
    /// `api.example.com` and `127.0.0.1`.
    pub async fn new() -> Self {
        let vault = Self {
            store: MemoryStore::default(),
            kms: LocalKms::new().unwrap(),
            secrets: MemorySecrets::default(),
            messages: MemoryMessages::default(),
            clock: FixedClock(time::macros::datetime!(2026-01-01 0:00 UTC)),
        };
        vault
            .admin()
            .register_org(
                &caller(),
                NewOrg {
                    org: "acme".into(),
                    name: "Acme".into(),
                    key_arn: KEY_ARN.into(),
                    byok: false,
                    provision_function_arn: Some(PROVISION_FUNCTION.into()),
                    provision_role_arn: None,
                    egress_allowlist: vec!["api.example.com".into(), "127.0.0.1".into()],
                },
            )
            .await
            .unwrap();
        vault.store.audit.lock().unwrap().clear();
        vault
    }

    pub fn admin(&self) -> Admin<'_> {
        Admin {
            keys: &self.kms,
            secrets: &self.secrets,
            config: &self.store,
            writer: &self.store,
            audit: &self.store,
            clock: &self.clock,
            fle: None,
        }
    }

    pub fn intake(&self) -> IntakeKey {
        self.store
            .intake_keys
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap()
    }

    /// A message to acme's intake key that the twin ESDK opens to `secret`, as base64.
    pub fn ciphertext(&self, secret: &str) -> String {
        let intake = self.intake();
        let message = esdk_message(
            (KEY_NAMESPACE, &intake.key_name),
            &[("samlgate:org", "acme")],
        );
        self.messages
            .accept(&message, KEY_NAMESPACE, &intake.key_name, secret.as_bytes());
        B64.encode(message)
    }

    pub fn new_credential(&self, ciphertext: String) -> NewCredential {
        NewCredential {
            name: "Okta API token".into(),
            description: String::new(),
            kind: CredentialKind::ApiToken,
            action: ProvisioningAction {
                method: "POST".into(),
                url: TARGET.into(),
                inject: Injection::Ssws,
                body: None,
            },
            ciphertext,
        }
    }

    /// A stored, active credential whose value is `secret`; its id.
    pub async fn stored(&self, secret: &str) -> String {
        let ciphertext = self.ciphertext(secret);
        let credential = self
            .admin()
            .create_credential(&caller(), &acme(), self.new_credential(ciphertext))
            .await
            .unwrap();
        self.store.audit.lock().unwrap().clear();
        credential.id
    }

    pub fn audit(&self) -> Vec<AuditEvent> {
        self.store.audit.lock().unwrap().clone()
    }

    /// The reason codes of the audit items with `action`, in order.
    pub fn reasons(&self, action: &str) -> Vec<Option<String>> {
        self.audit()
            .into_iter()
            .filter(|e| e.action == action)
            .map(|e| e.reason)
            .collect()
    }
}
