//! In-memory twins of every port (feature `memory`): for the contexts' unit tests, the handler
//! tests and the benchmarks, where moto's HTTP round trips would drown what is tested or
//! measured. They keep the contracts that matter (conditional writes, take-once, encryption
//! context binding, exact secret versions); the real adapters are tested against moto in
//! `tests/`.
//!
//! The store, KMS, secrets, ESDK and invoker twins can be told to fail any operation with a
//! [`PortErrorKind`] ([`Faults::fail`], by the name of the trait method) and count their calls,
//! so that each error path can be reached without AWS; the metadata fetcher fails by URL and
//! the egress twin answers with the status or failure it is given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::client::OidcClient;
use crate::context::EncryptionContext;
use crate::credential::{Credential, CredentialState};
use crate::error::{PortError, PortErrorKind, VaultError};
use crate::grant::{AccessToken, AuthCode};
use crate::idp::{Idp, SsoSettings};
use crate::ids::{IdpId, OrgId};
use crate::org::{IntakeKey, Org};
use crate::ports::{
    AccessTokenStore, AuditLog, AuditPage, AuditReader, AuditWindow, BackChannel, ClientReader,
    ClientWriter, CodeStore, ConfigReader, ConfigWriter, CreateKey, DataKey, DecryptDataKey,
    Egress, Fetched, FinishRefused, FinishedLogin, GenerateDataKey, JwksReader, LoginStateStore,
    LoginSteps, MessageDecrypter, MetadataFetcher, Metrics, OrgDirectory, OrgReader,
    OutboundRequest, ProvisionInvoker, ReplayStore, SecretReader, SecretVersion, SecretWriter,
    SessionStore, SetupStore, SpKeyStore, SsoConfigReader, SsoConfigWriter,
};
use crate::session::{LoginState, Session};
use crate::setup::{ConsoleSession, DiagnosticTicket, SetupLink};
use crate::sp_key::{KeyState, SpKey};

fn conflict(op: &'static str) -> PortError {
    PortError::new(PortErrorKind::Conflict, op, "condition failed")
}

fn poisoned(op: &'static str) -> PortError {
    PortError::new(PortErrorKind::Other, op, "lock poisoned")
}

macro_rules! lock {
    ($m:expr, $op:expr) => {
        $m.lock().map_err(|_| poisoned($op))?
    };
}

/// Operations told to fail, by trait method name (`"get_org"`, `"insert_credential"`, …),
/// and how often each was called (so a test can tell that something was never asked).
#[derive(Default)]
pub struct Faults {
    failing: Mutex<BTreeMap<&'static str, PortErrorKind>>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl Faults {
    /// From now on `op` fails with `kind`.
    pub fn fail(&self, op: &'static str, kind: PortErrorKind) {
        if let Ok(mut failing) = self.failing.lock() {
            failing.insert(op, kind);
        }
    }

    /// `op` works again.
    pub fn heal(&self, op: &'static str) {
        if let Ok(mut failing) = self.failing.lock() {
            failing.remove(op);
        }
    }

    /// How many times `op` was called (failed calls included).
    pub fn count(&self, op: &str) -> usize {
        self.calls
            .lock()
            .map(|calls| calls.get(op).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Every operation called since the last [`Faults::reset_counts`], and how often.
    pub fn calls(&self) -> BTreeMap<&'static str, usize> {
        self.calls
            .lock()
            .map(|calls| calls.clone())
            .unwrap_or_default()
    }

    /// Count from zero again.
    pub fn reset_counts(&self) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.clear();
        }
    }

    fn check(&self, op: &'static str) -> Result<(), PortError> {
        *lock!(self.calls, op).entry(op).or_insert(0) += 1;
        match lock!(self.failing, op).get(op) {
            Some(kind) => Err(PortError::new(*kind, op, "injected fault")),
            None => Ok(()),
        }
    }
}

/// A KMS stand-in: data keys wrapped with AES-256-GCM under a process-local master key, with
/// the key ARN and the encryption context as AAD (a wrong context or key fails like KMS does).
pub struct LocalKms {
    master: LessSafeKey,
    /// Keys made by `create_key`, with their policies; `true` once scheduled for deletion.
    pub created: Mutex<BTreeMap<String, (String, bool)>>,
    pub faults: Faults,
}

impl LocalKms {
    pub fn new() -> Result<Self, PortError> {
        let mut key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(key.as_mut()).map_err(|_| poisoned("kms:local"))?;
        let master = UnboundKey::new(&AES_256_GCM, key.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| poisoned("kms:local"))?;
        Ok(Self {
            master,
            created: Mutex::default(),
            faults: Faults::default(),
        })
    }

    fn aad(key_arn: &str, ctx: &EncryptionContext) -> Vec<u8> {
        let mut aad = key_arn.as_bytes().to_vec();
        aad.push(0);
        aad.extend(serde_json::to_vec(ctx).unwrap_or_default());
        aad
    }
}

#[async_trait]
impl GenerateDataKey for LocalKms {
    async fn generate_data_key(
        &self,
        key_arn: &str,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, PortError> {
        const OP: &str = "generate_data_key";
        self.faults.check(OP)?;
        let mut plaintext = Zeroizing::new(vec![0u8; 32]);
        let mut iv = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut plaintext).map_err(|_| poisoned(OP))?;
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| poisoned(OP))?;
        let mut wrapped = plaintext.to_vec();
        self.master
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(Self::aad(key_arn, ctx)),
                &mut wrapped,
            )
            .map_err(|_| poisoned(OP))?;
        let mut blob = iv.to_vec();
        blob.extend(wrapped);
        Ok(DataKey {
            plaintext,
            wrapped: blob,
        })
    }
}

#[async_trait]
impl DecryptDataKey for LocalKms {
    async fn decrypt_data_key(
        &self,
        key_arn: &str,
        wrapped: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, PortError> {
        const OP: &str = "decrypt_data_key";
        self.faults.check(OP)?;
        let invalid = || PortError::new(PortErrorKind::InvalidCiphertext, OP, "cannot unwrap");
        if wrapped.len() < NONCE_LEN {
            return Err(invalid());
        }
        let (iv, body) = wrapped.split_at(NONCE_LEN);
        let iv: [u8; NONCE_LEN] = iv.try_into().map_err(|_| invalid())?;
        let mut buf = Zeroizing::new(body.to_vec());
        let len = self
            .master
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(Self::aad(key_arn, ctx)),
                &mut buf,
            )
            .map_err(|_| invalid())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[async_trait]
impl CreateKey for LocalKms {
    async fn create_key(&self, _description: &str, policy_json: &str) -> Result<String, PortError> {
        const OP: &str = "create_key";
        self.faults.check(OP)?;
        let mut created = lock!(self.created, OP);
        let arn = format!(
            "arn:aws:kms:us-east-1:123456789012:key/local-{}",
            created.len() + 1
        );
        created.insert(arn.clone(), (policy_json.to_owned(), false));
        Ok(arn)
    }

    async fn schedule_key_deletion(&self, key_arn: &str) -> Result<(), PortError> {
        const OP: &str = "schedule_key_deletion";
        self.faults.check(OP)?;
        match lock!(self.created, OP).get_mut(key_arn) {
            Some(entry) => {
                entry.1 = true;
                Ok(())
            }
            None => Err(PortError::new(PortErrorKind::NotFound, OP, "no such key")),
        }
    }
}

/// One stored secret: its versions in order, and whether deletion was scheduled.
#[derive(Debug, Clone, Default)]
pub struct StoredSecret {
    pub name: String,
    pub org: Option<OrgId>,
    pub versions: Vec<(String, String)>,
    pub deletion_scheduled: bool,
}

/// A Secrets Manager stand-in: secrets by ARN, every version kept, read by exact version.
#[derive(Default)]
pub struct MemorySecrets {
    pub secrets: Mutex<BTreeMap<String, StoredSecret>>,
    pub faults: Faults,
}

impl MemorySecrets {
    fn add_version(secret: &mut StoredSecret, arn: &str, value: &str) -> SecretVersion {
        let version_id = format!("v{}", secret.versions.len() + 1);
        secret.versions.push((version_id.clone(), value.to_owned()));
        SecretVersion {
            arn: arn.to_owned(),
            version_id,
        }
    }
}

#[async_trait]
impl SecretWriter for MemorySecrets {
    async fn create_secret(
        &self,
        name: &str,
        org: &OrgId,
        value: &str,
    ) -> Result<SecretVersion, PortError> {
        const OP: &str = "create_secret";
        self.faults.check(OP)?;
        let mut secrets = lock!(self.secrets, OP);
        if secrets.values().any(|s| s.name == name) {
            return Err(conflict(OP));
        }
        let arn = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}");
        let mut secret = StoredSecret {
            name: name.to_owned(),
            org: Some(org.clone()),
            ..StoredSecret::default()
        };
        let version = Self::add_version(&mut secret, &arn, value);
        secrets.insert(arn, secret);
        Ok(version)
    }

    async fn put_secret_value(&self, arn: &str, value: &str) -> Result<SecretVersion, PortError> {
        const OP: &str = "put_secret_value";
        self.faults.check(OP)?;
        let mut secrets = lock!(self.secrets, OP);
        let secret = secrets
            .get_mut(arn)
            .ok_or_else(|| PortError::new(PortErrorKind::NotFound, OP, "no such secret"))?;
        // Secrets Manager refuses a secret marked for deletion (InvalidRequestException).
        if secret.deletion_scheduled {
            return Err(conflict(OP));
        }
        Ok(Self::add_version(secret, arn, value))
    }

    async fn schedule_deletion(&self, arn: &str, _recovery_days: i64) -> Result<(), PortError> {
        const OP: &str = "schedule_deletion";
        self.faults.check(OP)?;
        let mut secrets = lock!(self.secrets, OP);
        match secrets.get_mut(arn) {
            Some(s) if s.deletion_scheduled => Err(conflict(OP)),
            Some(s) => {
                s.deletion_scheduled = true;
                Ok(())
            }
            None => Err(PortError::new(
                PortErrorKind::NotFound,
                OP,
                "no such secret",
            )),
        }
    }

    async fn delete_unreferenced(&self, arn: &str) -> Result<(), PortError> {
        const OP: &str = "delete_unreferenced";
        self.faults.check(OP)?;
        match lock!(self.secrets, OP).remove(arn) {
            Some(_) => Ok(()),
            None => Err(PortError::new(
                PortErrorKind::NotFound,
                OP,
                "no such secret",
            )),
        }
    }
}

#[async_trait]
impl SecretReader for MemorySecrets {
    async fn get_secret_version(&self, arn: &str, version_id: &str) -> Result<String, PortError> {
        const OP: &str = "get_secret_version";
        self.faults.check(OP)?;
        let secrets = lock!(self.secrets, OP);
        let secret = secrets
            .get(arn)
            .ok_or_else(|| PortError::new(PortErrorKind::NotFound, OP, "no such secret"))?;
        if secret.deletion_scheduled {
            return Err(conflict(OP));
        }
        secret
            .versions
            .iter()
            .find(|(v, _)| v == version_id)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| PortError::new(PortErrorKind::NotFound, OP, "no such version"))
    }
}

/// Two keys at one item (`SPKEY#{idp}#{use}#{id}` of one organisation).
fn same_item(a: &SpKey, b: &SpKey) -> bool {
    a.org == b.org && a.idp == b.idp && a.usage == b.usage && a.id == b.id
}

/// Every item of the table, in maps keyed like the table.
#[derive(Default)]
pub struct MemoryStore {
    pub orgs: Mutex<BTreeMap<OrgId, Org>>,
    /// `ORGS` / `ORG#{org}`: written with the organisation.
    pub directory: Mutex<BTreeSet<OrgId>>,
    pub intake_keys: Mutex<BTreeMap<(OrgId, String), IntakeKey>>,
    pub credentials: Mutex<BTreeMap<(OrgId, String), Credential>>,
    pub sso: Mutex<BTreeMap<OrgId, SsoSettings>>,
    pub idps: Mutex<BTreeMap<(OrgId, IdpId), Idp>>,
    /// SP keys and token keys (`idp: None`).
    pub keys: Mutex<Vec<SpKey>>,
    /// `JWKS` / `{org}#{kid}`: the public token keys, written with each token key.
    pub jwks: Mutex<Vec<(OrgId, Value)>>,
    pub logins: Mutex<BTreeMap<String, LoginState>>,
    pub replay: Mutex<BTreeMap<(OrgId, String, String), i64>>,
    pub sessions: Mutex<BTreeMap<String, Session>>,
    /// In the order recorded.
    pub audit: Mutex<Vec<AuditEvent>>,
    pub clients: Mutex<BTreeMap<(OrgId, String), OidcClient>>,
    /// Authorization codes and access tokens, by the hash of their value.
    pub codes: Mutex<BTreeMap<String, AuthCode>>,
    pub access_tokens: Mutex<BTreeMap<String, AccessToken>>,
    pub setup_links: Mutex<BTreeMap<(OrgId, String), SetupLink>>,
    /// By (organisation, token hash).
    pub console_sessions: Mutex<BTreeMap<(OrgId, String), ConsoleSession>>,
    /// By (organisation, ticket hash).
    pub diagnostic_tickets: Mutex<BTreeMap<(OrgId, String), DiagnosticTicket>>,
    pub faults: Faults,
}

impl MemoryStore {
    /// An organisation as `create_org` writes it (with its directory entry), for tests that
    /// start from an existing organisation.
    pub fn with_org(self, org: Org) -> Self {
        if let Ok(mut directory) = self.directory.lock() {
            directory.insert(org.org.clone());
        }
        if let Ok(mut orgs) = self.orgs.lock() {
            orgs.insert(org.org.clone(), org);
        }
        self
    }

    /// The stored key at `key`'s item (organisation, IdP, use, ID: its sort key), in `from`
    /// (and without a successor, if asked).
    fn check_key(
        keys: &[SpKey],
        key: &SpKey,
        from: KeyState,
        no_successor: bool,
        op: &'static str,
    ) -> Result<usize, PortError> {
        keys.iter()
            .position(|k| {
                same_item(k, key) && k.state == from && (!no_successor || k.successor.is_none())
            })
            .ok_or_else(|| conflict(op))
    }
}

#[async_trait]
impl OrgReader for MemoryStore {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        const OP: &str = "get_org";
        self.faults.check(OP)?;
        Ok(lock!(self.orgs, OP).get(org).cloned())
    }
}

#[async_trait]
impl ConfigReader for MemoryStore {
    async fn get_intake_key(&self, org: &OrgId, kid: &str) -> Result<Option<IntakeKey>, PortError> {
        const OP: &str = "get_intake_key";
        self.faults.check(OP)?;
        Ok(lock!(self.intake_keys, OP)
            .get(&(org.clone(), kid.to_owned()))
            .cloned())
    }

    async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Option<Credential>, PortError> {
        const OP: &str = "get_credential";
        self.faults.check(OP)?;
        Ok(lock!(self.credentials, OP)
            .get(&(org.clone(), id.to_owned()))
            .cloned())
    }

    async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>, PortError> {
        const OP: &str = "list_credentials";
        self.faults.check(OP)?;
        Ok(lock!(self.credentials, OP)
            .values()
            .filter(|c| &c.org == org)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl ConfigWriter for MemoryStore {
    async fn create_org(&self, org: &Org, intake: &IntakeKey) -> Result<(), PortError> {
        const OP: &str = "create_org";
        self.faults.check(OP)?;
        let mut orgs = lock!(self.orgs, OP);
        let mut intake_keys = lock!(self.intake_keys, OP);
        let mut directory = lock!(self.directory, OP);
        let intake_id = (org.org.clone(), intake.kid.clone());
        if orgs.contains_key(&org.org)
            || intake_keys.contains_key(&intake_id)
            || directory.contains(&org.org)
        {
            return Err(conflict(OP));
        }
        orgs.insert(org.org.clone(), org.clone());
        intake_keys.insert(intake_id, intake.clone());
        directory.insert(org.org.clone());
        Ok(())
    }

    async fn insert_credential(&self, credential: &Credential) -> Result<(), PortError> {
        const OP: &str = "insert_credential";
        self.faults.check(OP)?;
        let mut credentials = lock!(self.credentials, OP);
        let id = (credential.org.clone(), credential.id.clone());
        if credentials.contains_key(&id) {
            return Err(conflict(OP));
        }
        credentials.insert(id, credential.clone());
        Ok(())
    }

    async fn replace_credential(
        &self,
        credential: &Credential,
        expected_state: CredentialState,
        expected_version: u32,
    ) -> Result<(), PortError> {
        const OP: &str = "replace_credential";
        self.faults.check(OP)?;
        let mut credentials = lock!(self.credentials, OP);
        match credentials.get_mut(&(credential.org.clone(), credential.id.clone())) {
            Some(stored)
                if stored.state == expected_state && stored.version == expected_version =>
            {
                *stored = credential.clone();
                Ok(())
            }
            _ => Err(conflict(OP)),
        }
    }

    async fn remove_pending_credential(&self, org: &OrgId, id: &str) -> Result<(), PortError> {
        const OP: &str = "remove_pending_credential";
        self.faults.check(OP)?;
        let mut credentials = lock!(self.credentials, OP);
        let key = (org.clone(), id.to_owned());
        match credentials.get(&key) {
            Some(stored) if stored.state == CredentialState::Pending => {
                credentials.remove(&key);
                Ok(())
            }
            _ => Err(conflict(OP)),
        }
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        const OP: &str = "record";
        self.faults.check(OP)?;
        lock!(self.audit, OP).push(event.clone());
        Ok(())
    }

    async fn count_failure(&self, event: &AuditEvent, _expires_at: i64) -> Result<(), PortError> {
        const OP: &str = "count_failure";
        self.faults.check(OP)?;
        let mut audit = lock!(self.audit, OP);
        let same = |e: &&AuditEvent| {
            e.count.is_some()
                && e.org == event.org
                && e.at == event.at
                && e.action == event.action
                && e.reason == event.reason
                && e.facts.get("idp") == event.facts.get("idp")
        };
        // The aggregate moves to the end, so that the twin's last item is the latest news.
        let mut aggregate = match audit.iter().position(|e| same(&e)) {
            Some(i) => audit.remove(i),
            None => AuditEvent {
                count: Some(0),
                ..event.clone()
            },
        };
        aggregate.count = aggregate.count.map(|n| n + 1);
        aggregate.correlation_id.clone_from(&event.correlation_id);
        aggregate.last_at.clone_from(&event.last_at);
        audit.push(aggregate);
        Ok(())
    }
}

/// Newest first, by the event's time and then the order recorded; the cursor is the position
/// of the last event returned.
#[async_trait]
impl AuditReader for MemoryStore {
    async fn audit_page(
        &self,
        org: &OrgId,
        window: AuditWindow,
        before: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, PortError> {
        const OP: &str = "audit_page";
        self.faults.check(OP)?;
        let audit = lock!(self.audit, OP);
        let mut events: Vec<(usize, &AuditEvent)> = audit
            .iter()
            .enumerate()
            .filter(|(_, e)| &e.org == org)
            .filter(|(_, e)| saml::parse_instant(&e.at).is_some_and(|at| window.contains(at)))
            .collect();
        events.sort_by_key(|(i, e)| std::cmp::Reverse((saml::parse_instant(&e.at), *i)));
        let skip = match before {
            None => 0,
            Some(cursor) => {
                let after: usize = cursor
                    .parse()
                    .map_err(|_| PortError::new(PortErrorKind::Other, OP, "bad cursor"))?;
                events
                    .iter()
                    .position(|(i, _)| *i == after)
                    .map_or(events.len(), |p| p + 1)
            }
        };
        let page: Vec<(usize, &AuditEvent)> =
            events.iter().skip(skip).take(limit).copied().collect();
        // Like DynamoDB's LastEvaluatedKey: a full page names a cursor even when nothing
        // follows it (the next page is then empty).
        Ok(AuditPage {
            next: page
                .last()
                .filter(|_| page.len() == limit)
                .map(|(i, _)| i.to_string()),
            events: page.into_iter().map(|(_, e)| e.clone()).collect(),
        })
    }
}

#[async_trait]
impl SsoConfigReader for MemoryStore {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError> {
        const OP: &str = "sso_settings";
        self.faults.check(OP)?;
        Ok(lock!(self.sso, OP).get(org).cloned())
    }
    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError> {
        const OP: &str = "idp";
        self.faults.check(OP)?;
        Ok(lock!(self.idps, OP)
            .get(&(org.clone(), idp.clone()))
            .cloned())
    }
    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError> {
        const OP: &str = "list_idps";
        self.faults.check(OP)?;
        Ok(lock!(self.idps, OP)
            .values()
            .filter(|i| &i.org == org)
            .cloned()
            .collect())
    }
    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError> {
        const OP: &str = "sp_keys";
        self.faults.check(OP)?;
        Ok(lock!(self.keys, OP)
            .iter()
            .filter(|k| &k.org == org && k.idp.as_ref() == idp)
            .cloned()
            .collect())
    }
    async fn diagnostic_ticket(
        &self,
        org: &OrgId,
        ticket_sha256: &str,
    ) -> Result<Option<DiagnosticTicket>, PortError> {
        const OP: &str = "diagnostic_ticket";
        self.faults.check(OP)?;
        Ok(lock!(self.diagnostic_tickets, OP)
            .get(&(org.clone(), ticket_sha256.to_owned()))
            .cloned())
    }
}

#[async_trait]
impl SsoConfigWriter for MemoryStore {
    async fn put_sso_settings(&self, org: &OrgId, settings: &SsoSettings) -> Result<(), PortError> {
        const OP: &str = "put_sso_settings";
        self.faults.check(OP)?;
        lock!(self.sso, OP).insert(org.clone(), settings.clone());
        Ok(())
    }
    async fn insert_idp(&self, idp: &Idp, keys: &[SpKey]) -> Result<(), PortError> {
        const OP: &str = "insert_idp";
        self.faults.check(OP)?;
        let mut idps = lock!(self.idps, OP);
        let mut stored = lock!(self.keys, OP);
        let id = (idp.org.clone(), idp.idp.clone());
        let key_exists = keys.iter().any(|k| stored.iter().any(|s| same_item(s, k)));
        if idps.contains_key(&id) || key_exists {
            return Err(conflict(OP));
        }
        idps.insert(id, idp.clone());
        stored.extend(keys.iter().cloned());
        Ok(())
    }
    async fn replace_idp(&self, idp: &Idp, expected_version: u32) -> Result<(), PortError> {
        const OP: &str = "replace_idp";
        self.faults.check(OP)?;
        let mut idps = lock!(self.idps, OP);
        match idps.get_mut(&(idp.org.clone(), idp.idp.clone())) {
            Some(stored) if stored.version == expected_version => {
                *stored = idp.clone();
                Ok(())
            }
            _ => Err(conflict(OP)),
        }
    }
    async fn insert_token_key(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "insert_token_key";
        self.faults.check(OP)?;
        let jwk = key
            .public_jwk
            .clone()
            .ok_or_else(|| PortError::new(PortErrorKind::Other, OP, "token key without a JWK"))?;
        let mut keys = lock!(self.keys, OP);
        if keys.iter().any(|k| same_item(k, key)) {
            return Err(conflict(OP));
        }
        keys.push(key.clone());
        lock!(self.jwks, OP).push((key.org.clone(), jwk));
        Ok(())
    }
}

#[async_trait]
impl ClientReader for MemoryStore {
    async fn client(&self, org: &OrgId, client_id: &str) -> Result<Option<OidcClient>, PortError> {
        const OP: &str = "client";
        self.faults.check(OP)?;
        Ok(lock!(self.clients, OP)
            .get(&(org.clone(), client_id.to_owned()))
            .cloned())
    }
    async fn list_clients(&self, org: &OrgId) -> Result<Vec<OidcClient>, PortError> {
        const OP: &str = "list_clients";
        self.faults.check(OP)?;
        Ok(lock!(self.clients, OP)
            .values()
            .filter(|c| &c.org == org)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SetupStore for MemoryStore {
    async fn insert_link(&self, link: &SetupLink) -> Result<(), PortError> {
        const OP: &str = "insert_link";
        self.faults.check(OP)?;
        let mut links = lock!(self.setup_links, OP);
        let key = (link.org.clone(), link.id.clone());
        if links.contains_key(&key) {
            return Err(conflict(OP));
        }
        links.insert(key, link.clone());
        Ok(())
    }
    async fn link(&self, org: &OrgId, id: &str) -> Result<Option<SetupLink>, PortError> {
        const OP: &str = "link";
        self.faults.check(OP)?;
        Ok(lock!(self.setup_links, OP)
            .get(&(org.clone(), id.to_owned()))
            .cloned())
    }
    async fn list_links(&self, org: &OrgId) -> Result<Vec<SetupLink>, PortError> {
        const OP: &str = "list_links";
        self.faults.check(OP)?;
        Ok(lock!(self.setup_links, OP)
            .values()
            .filter(|l| &l.org == org)
            .cloned()
            .collect())
    }
    async fn replace_link(&self, link: &SetupLink, expected_version: u32) -> Result<(), PortError> {
        const OP: &str = "replace_link";
        self.faults.check(OP)?;
        let mut links = lock!(self.setup_links, OP);
        match links.get_mut(&(link.org.clone(), link.id.clone())) {
            Some(stored) if stored.version == expected_version => {
                *stored = link.clone();
                Ok(())
            }
            _ => Err(conflict(OP)),
        }
    }
    async fn use_link(
        &self,
        used: &SetupLink,
        expected_version: u32,
        session: &ConsoleSession,
    ) -> Result<(), PortError> {
        const OP: &str = "use_link";
        self.faults.check(OP)?;
        let mut links = lock!(self.setup_links, OP);
        let mut sessions = lock!(self.console_sessions, OP);
        let key = (session.org.clone(), session.token_sha256.clone());
        match links.get_mut(&(used.org.clone(), used.id.clone())) {
            Some(stored) if stored.version == expected_version && !sessions.contains_key(&key) => {
                *stored = used.clone();
                sessions.insert(key, session.clone());
                Ok(())
            }
            _ => Err(conflict(OP)),
        }
    }
    async fn console_session(
        &self,
        org: &OrgId,
        token_sha256: &str,
    ) -> Result<Option<ConsoleSession>, PortError> {
        const OP: &str = "console_session";
        self.faults.check(OP)?;
        Ok(lock!(self.console_sessions, OP)
            .get(&(org.clone(), token_sha256.to_owned()))
            .cloned())
    }
    async fn insert_session(&self, session: &ConsoleSession) -> Result<(), PortError> {
        const OP: &str = "insert_session";
        self.faults.check(OP)?;
        let mut sessions = lock!(self.console_sessions, OP);
        let key = (session.org.clone(), session.token_sha256.clone());
        if sessions.contains_key(&key) {
            return Err(conflict(OP));
        }
        sessions.insert(key, session.clone());
        Ok(())
    }
    async fn end_session(&self, org: &OrgId, token_sha256: &str) -> Result<(), PortError> {
        const OP: &str = "end_session";
        self.faults.check(OP)?;
        lock!(self.console_sessions, OP).remove(&(org.clone(), token_sha256.to_owned()));
        Ok(())
    }
    async fn put_diagnostic_ticket(&self, ticket: &DiagnosticTicket) -> Result<(), PortError> {
        const OP: &str = "put_diagnostic_ticket";
        self.faults.check(OP)?;
        lock!(self.diagnostic_tickets, OP).insert(
            (ticket.org.clone(), ticket.ticket_sha256.clone()),
            ticket.clone(),
        );
        Ok(())
    }
}

#[async_trait]
impl ClientWriter for MemoryStore {
    async fn insert_client(&self, client: &OidcClient) -> Result<(), PortError> {
        const OP: &str = "insert_client";
        self.faults.check(OP)?;
        let mut clients = lock!(self.clients, OP);
        let id = (client.org.clone(), client.client_id.clone());
        if clients.contains_key(&id) {
            return Err(conflict(OP));
        }
        clients.insert(id, client.clone());
        Ok(())
    }
    async fn replace_client(
        &self,
        client: &OidcClient,
        expected_version: u32,
    ) -> Result<(), PortError> {
        const OP: &str = "replace_client";
        self.faults.check(OP)?;
        let mut clients = lock!(self.clients, OP);
        match clients.get_mut(&(client.org.clone(), client.client_id.clone())) {
            Some(stored) if stored.version == expected_version => {
                *stored = client.clone();
                Ok(())
            }
            _ => Err(conflict(OP)),
        }
    }
    async fn delete_client(&self, org: &OrgId, client_id: &str) -> Result<(), PortError> {
        const OP: &str = "delete_client";
        self.faults.check(OP)?;
        match lock!(self.clients, OP).remove(&(org.clone(), client_id.to_owned())) {
            Some(_) => Ok(()),
            None => Err(PortError::new(
                PortErrorKind::NotFound,
                OP,
                "no such client",
            )),
        }
    }
}

#[async_trait]
impl OrgDirectory for MemoryStore {
    async fn list_orgs(&self) -> Result<Vec<OrgId>, PortError> {
        const OP: &str = "list_orgs";
        self.faults.check(OP)?;
        Ok(lock!(self.directory, OP).iter().cloned().collect())
    }
}

#[async_trait]
impl SpKeyStore for MemoryStore {
    async fn publish_next(&self, active: &SpKey, next: &SpKey) -> Result<(), PortError> {
        const OP: &str = "publish_next";
        self.faults.check(OP)?;
        let mut keys = lock!(self.keys, OP);
        let at = Self::check_key(&keys, active, KeyState::Active, true, OP)?;
        if keys.iter().any(|k| same_item(k, next)) {
            return Err(conflict(OP));
        }
        keys[at] = active.clone();
        keys.push(next.clone());
        if next.usage.is_token() {
            let jwk = next.public_jwk.clone().ok_or_else(|| {
                PortError::new(PortErrorKind::Other, OP, "token key without a JWK")
            })?;
            lock!(self.jwks, OP).push((next.org.clone(), jwk));
        }
        Ok(())
    }

    async fn promote(&self, next: &SpKey, previous: Option<&SpKey>) -> Result<(), PortError> {
        const OP: &str = "promote";
        self.faults.check(OP)?;
        let mut keys = lock!(self.keys, OP);
        let at = Self::check_key(&keys, next, KeyState::Next, false, OP)?;
        let previous_at = previous
            .map(|p| Self::check_key(&keys, p, KeyState::Active, false, OP).map(|i| (i, p)))
            .transpose()?;
        keys[at] = next.clone();
        if let Some((i, p)) = previous_at {
            keys[i] = p.clone();
        }
        Ok(())
    }

    async fn retire(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "retire";
        self.faults.check(OP)?;
        let mut keys = lock!(self.keys, OP);
        let at = Self::check_key(&keys, key, KeyState::Retiring, false, OP)?;
        keys[at] = key.clone();
        if key.usage.is_token() {
            lock!(self.jwks, OP).retain(|(org, jwk)| {
                !(org == &key.org && jwk["kid"].as_str() == Some(key.id.as_str()))
            });
        }
        Ok(())
    }

    async fn insert_key(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "insert_key";
        self.faults.check(OP)?;
        let mut keys = lock!(self.keys, OP);
        if keys.iter().any(|k| same_item(k, key)) {
            return Err(conflict(OP));
        }
        keys.push(key.clone());
        if key.usage.is_token() {
            let jwk = key.public_jwk.clone().ok_or_else(|| {
                PortError::new(PortErrorKind::Other, OP, "token key without a JWK")
            })?;
            lock!(self.jwks, OP).push((key.org.clone(), jwk));
        }
        Ok(())
    }
}

#[async_trait]
impl JwksReader for MemoryStore {
    async fn jwks(&self, org: &OrgId) -> Result<Vec<Value>, PortError> {
        const OP: &str = "jwks";
        self.faults.check(OP)?;
        Ok(lock!(self.jwks, OP)
            .iter()
            .filter(|(o, _)| o == org)
            .map(|(_, jwk)| jwk.clone())
            .collect())
    }
}

#[async_trait]
impl LoginStateStore for MemoryStore {
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError> {
        const OP: &str = "put_login";
        self.faults.check(OP)?;
        let mut logins = lock!(self.logins, OP);
        if logins.contains_key(&state.relay_state) {
            return Err(conflict(OP));
        }
        logins.insert(state.relay_state.clone(), state.clone());
        Ok(())
    }
    async fn get_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        const OP: &str = "get_login";
        self.faults.check(OP)?;
        Ok(lock!(self.logins, OP).get(relay_state).cloned())
    }
    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        const OP: &str = "take_login";
        self.faults.check(OP)?;
        Ok(lock!(self.logins, OP).remove(relay_state))
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn get_code(&self, hash: &str) -> Result<Option<AuthCode>, PortError> {
        const OP: &str = "get_code";
        self.faults.check(OP)?;
        Ok(lock!(self.codes, OP).get(hash).cloned())
    }
}

/// Each step checks every condition first and then writes, under the locks of everything it
/// touches: all of it or none, like the table's transactions.
#[async_trait]
impl LoginSteps for MemoryStore {
    async fn start_login(&self, state: &LoginState, audit: &AuditEvent) -> Result<(), PortError> {
        const OP: &str = "start_login";
        self.faults.check(OP)?;
        let mut logins = lock!(self.logins, OP);
        let mut log = lock!(self.audit, OP);
        if logins.contains_key(&state.relay_state) {
            return Err(conflict(OP));
        }
        logins.insert(state.relay_state.clone(), state.clone());
        log.push(audit.clone());
        Ok(())
    }

    async fn finish_login(
        &self,
        login: &FinishedLogin<'_>,
    ) -> Result<Result<(), FinishRefused>, PortError> {
        const OP: &str = "finish_login";
        self.faults.check(OP)?;
        let mut logins = lock!(self.logins, OP);
        let mut replay = lock!(self.replay, OP);
        let mut sessions = lock!(self.sessions, OP);
        let mut codes = lock!(self.codes, OP);
        let mut log = lock!(self.audit, OP);
        if login.relay_state.is_some_and(|r| !logins.contains_key(r)) {
            return Ok(Err(FinishRefused::LoginTaken));
        }
        let mark = login.replay;
        let key = (
            mark.org.clone(),
            mark.issuer.to_owned(),
            mark.assertion_id.to_owned(),
        );
        if replay.contains_key(&key) {
            return Ok(Err(FinishRefused::Replayed));
        }
        if let Some((session, hash, _)) = login.issued {
            if sessions.contains_key(&session.id) || codes.contains_key(hash) {
                return Err(conflict(OP));
            }
        }
        if let Some(relay_state) = login.relay_state {
            logins.remove(relay_state);
        }
        replay.insert(key, mark.expires_at);
        if let Some((session, hash, code)) = login.issued {
            sessions.insert(session.id.clone(), session.clone());
            codes.insert(hash.to_owned(), code.clone());
        }
        log.push(login.audit.clone());
        Ok(Ok(()))
    }

    async fn redeem_code(
        &self,
        hash: &str,
        token_hash: &str,
        token: &AccessToken,
        audit: &AuditEvent,
    ) -> Result<bool, PortError> {
        const OP: &str = "redeem_code";
        self.faults.check(OP)?;
        let mut codes = lock!(self.codes, OP);
        let mut tokens = lock!(self.access_tokens, OP);
        let mut log = lock!(self.audit, OP);
        match codes.get_mut(hash) {
            Some(code) if !code.redeemed => {
                if tokens.contains_key(token_hash) {
                    return Err(conflict(OP));
                }
                code.redeemed = true;
                code.access_token = Some(token_hash.to_owned());
                tokens.insert(token_hash.to_owned(), token.clone());
                log.push(audit.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
    async fn access_token(&self, hash: &str) -> Result<Option<AccessToken>, PortError> {
        const OP: &str = "access_token";
        self.faults.check(OP)?;
        Ok(lock!(self.access_tokens, OP).get(hash).cloned())
    }
    async fn revoke_access_token(&self, hash: &str) -> Result<(), PortError> {
        const OP: &str = "revoke_access_token";
        self.faults.check(OP)?;
        lock!(self.access_tokens, OP).remove(hash);
        Ok(())
    }
}

#[async_trait]
impl ReplayStore for MemoryStore {
    async fn insert_once(
        &self,
        org: &OrgId,
        issuer: &str,
        assertion_id: &str,
        expires_at: i64,
    ) -> Result<bool, PortError> {
        const OP: &str = "insert_once";
        self.faults.check(OP)?;
        let key = (org.clone(), issuer.to_owned(), assertion_id.to_owned());
        let mut seen = lock!(self.replay, OP);
        if seen.contains_key(&key) {
            return Ok(false);
        }
        seen.insert(key, expires_at);
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn get_session(&self, id: &str) -> Result<Option<Session>, PortError> {
        const OP: &str = "get_session";
        self.faults.check(OP)?;
        Ok(lock!(self.sessions, OP).get(id).cloned())
    }
    async fn sessions_of(
        &self,
        org: &OrgId,
        idp: &IdpId,
        name_id: &str,
    ) -> Result<Vec<Session>, PortError> {
        const OP: &str = "sessions_of";
        self.faults.check(OP)?;
        Ok(lock!(self.sessions, OP)
            .values()
            .filter(|s| &s.org == org && &s.idp == idp && s.name_id == name_id)
            .cloned()
            .collect())
    }
    async fn end_session(&self, id: &str) -> Result<bool, PortError> {
        const OP: &str = "end_session";
        self.faults.check(OP)?;
        Ok(lock!(self.sessions, OP).remove(id).is_some())
    }
}

/// The metrics acs counted: (organisation, IdP, metric), in order.
#[derive(Default)]
pub struct MemoryMetrics {
    pub counted: Mutex<Vec<(String, String, &'static str)>>,
}

impl Metrics for MemoryMetrics {
    fn count(&self, org: &OrgId, idp: &IdpId, metric: &'static str) {
        if let Ok(mut counted) = self.counted.lock() {
            counted.push((org.to_string(), idp.to_string(), metric));
        }
    }
}

/// A metadata server stand-in: a document (or a failure) per URL, with validators, and every
/// request it was asked, with the validators it was given.
#[derive(Default)]
pub struct MemoryFetcher {
    pub documents: Mutex<BTreeMap<String, Result<Served, PortErrorKind>>>,
    /// Every request, with the validators it carried.
    pub requests: Mutex<Vec<FetchRequest>>,
}

/// One request [`MemoryFetcher`] was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What [`MemoryFetcher`] serves at one URL.
#[derive(Debug, Clone)]
pub struct Served {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
}

impl MemoryFetcher {
    /// Serves `bytes` at `url` (with an ETag, for conditional requests).
    pub fn serve(&self, url: &str, bytes: &[u8], etag: Option<&str>) {
        if let Ok(mut documents) = self.documents.lock() {
            documents.insert(
                url.to_owned(),
                Ok(Served {
                    bytes: bytes.to_vec(),
                    etag: etag.map(str::to_owned),
                }),
            );
        }
    }

    /// `url` answers with a failure of `kind`.
    pub fn fail(&self, url: &str, kind: PortErrorKind) {
        if let Ok(mut documents) = self.documents.lock() {
            documents.insert(url.to_owned(), Err(kind));
        }
    }
}

#[async_trait]
impl MetadataFetcher for MemoryFetcher {
    async fn fetch_if_changed(
        &self,
        url: &str,
        max_bytes: usize,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, PortError> {
        const OP: &str = "fetch";
        lock!(self.requests, OP).push(FetchRequest {
            url: url.to_owned(),
            etag: etag.map(str::to_owned),
            last_modified: last_modified.map(str::to_owned),
        });
        let served = lock!(self.documents, OP).get(url).cloned();
        match served {
            None => Err(PortError::new(PortErrorKind::Other, OP, "HTTP status 404")),
            Some(Err(kind)) => Err(PortError::new(kind, OP, "injected fault")),
            Some(Ok(doc)) if doc.etag.is_some() && doc.etag.as_deref() == etag => {
                Ok(Fetched::NotModified)
            }
            Some(Ok(doc)) if doc.bytes.len() > max_bytes => Err(PortError::new(
                PortErrorKind::Other,
                OP,
                format!("larger than {max_bytes} bytes"),
            )),
            Some(Ok(doc)) => Ok(Fetched::Body {
                bytes: doc.bytes,
                etag: doc.etag,
                last_modified: None,
            }),
        }
    }
}

/// A request the egress twin received, as plain text (the twin is a test's target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A provisioning target stand-in: records every request and answers with `status` (or the
/// failure text in `failure`).
pub struct MemoryEgress {
    pub status: Mutex<Result<u16, String>>,
    pub sent: Mutex<Vec<SentRequest>>,
}

impl MemoryEgress {
    pub fn answering(status: u16) -> Self {
        Self {
            status: Mutex::new(Ok(status)),
            sent: Mutex::default(),
        }
    }

    pub fn failing(why: &str) -> Self {
        Self {
            status: Mutex::new(Err(why.to_owned())),
            sent: Mutex::default(),
        }
    }
}

#[async_trait]
impl Egress for MemoryEgress {
    async fn send(&self, request: OutboundRequest) -> Result<u16, String> {
        let sent = SentRequest {
            method: request.method.clone(),
            url: request.url.to_string(),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.as_str().to_owned()))
                .collect(),
            body: request.body.as_ref().map(|b| b.to_vec()),
        };
        self.sent
            .lock()
            .map_err(|_| "lock poisoned".to_owned())?
            .push(sent);
        self.status
            .lock()
            .map_err(|_| "lock poisoned".to_owned())?
            .clone()
    }
}

/// Back-channel logout stand-in: records every `(uri, logout_token)` delivered; `faults`
/// (op `deliver_logout`) makes a client unreachable.
#[derive(Default)]
pub struct MemoryBackChannel {
    pub delivered: Mutex<Vec<(String, String)>>,
    pub faults: Faults,
}

#[async_trait]
impl BackChannel for MemoryBackChannel {
    async fn deliver_logout(&self, uri: &str, logout_token: &str) -> Result<(), PortError> {
        const OP: &str = "deliver_logout";
        self.faults.check(OP)?;
        lock!(self.delivered, OP).push((uri.to_owned(), logout_token.to_owned()));
        Ok(())
    }
}

/// A message [`MemoryMessages`] opens: the key it was made for, and its plaintext.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub key_namespace: String,
    pub key_name: String,
    pub plaintext: Vec<u8>,
}

/// An ESDK stand-in: opens exactly the messages it was given, and only with the key name each
/// was made for (a message moved to another key fails like the real ESDK does).
#[derive(Default)]
pub struct MemoryMessages {
    /// message bytes → what opens it and what it holds
    pub messages: Mutex<BTreeMap<Vec<u8>, Sealed>>,
    pub faults: Faults,
}

impl MemoryMessages {
    /// `message` opens to `plaintext` with the key `key_namespace`/`key_name`.
    pub fn accept(&self, message: &[u8], key_namespace: &str, key_name: &str, plaintext: &[u8]) {
        if let Ok(mut messages) = self.messages.lock() {
            messages.insert(
                message.to_vec(),
                Sealed {
                    key_namespace: key_namespace.to_owned(),
                    key_name: key_name.to_owned(),
                    plaintext: plaintext.to_vec(),
                },
            );
        }
    }
}

#[async_trait]
impl MessageDecrypter for MemoryMessages {
    async fn decrypt(
        &self,
        message: &[u8],
        private_key_pem: &[u8],
        key_namespace: &str,
        key_name: &str,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.faults.check("decrypt")?;
        let messages = self
            .messages
            .lock()
            .map_err(|_| VaultError::IntakeDecryptFailed)?;
        let is_private_key =
            std::str::from_utf8(private_key_pem).is_ok_and(|pem| pem.contains("PRIVATE KEY"));
        match messages.get(message) {
            Some(sealed)
                if sealed.key_namespace == key_namespace
                    && sealed.key_name == key_name
                    && is_private_key =>
            {
                Ok(Zeroizing::new(sealed.plaintext.clone()))
            }
            _ => Err(VaultError::IntakeDecryptFailed),
        }
    }
}

/// admin's provisioning invoker stand-in: answers every call with `answer` and records it.
pub struct MemoryInvoker {
    pub answer: Value,
    /// (function, org, credential, correlation ID) of every call.
    pub calls: Mutex<Vec<(String, OrgId, String, String)>>,
    pub faults: Faults,
}

impl MemoryInvoker {
    pub fn answering(answer: Value) -> Self {
        Self {
            answer,
            calls: Mutex::default(),
            faults: Faults::default(),
        }
    }
}

#[async_trait]
impl ProvisionInvoker for MemoryInvoker {
    async fn invoke(
        &self,
        function: &str,
        org: &OrgId,
        credential_id: &str,
        correlation_id: &str,
    ) -> Result<Value, PortError> {
        const OP: &str = "invoke";
        self.faults.check(OP)?;
        lock!(self.calls, OP).push((
            function.to_owned(),
            org.clone(),
            credential_id.to_owned(),
            correlation_id.to_owned(),
        ));
        Ok(self.answer.clone())
    }
}
