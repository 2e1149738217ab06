//! In-memory twins of the SSO ports (feature `memory`): for handler tests and the acs
//! benchmark, where moto's HTTP round trips would drown what is measured. They keep the
//! contracts that matter (conditional writes, take-once, encryption context binding); the
//! real adapters are tested against moto in `tests/`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::{PortError, PortErrorKind};
use crate::idp::{Idp, IdpId, SsoSettings};
use crate::model::{AuditEvent, Org, OrgId};
use crate::ports::{
    AuditLog, DataKey, DecryptDataKey, GenerateDataKey, JwksReader, LoginStateStore, OrgReader,
    ReplayStore, SessionStore, SsoConfigReader, SsoConfigWriter,
};
use crate::sp_key::SpKey;
use crate::sso::{LoginState, Session};

fn conflict(op: &'static str) -> PortError {
    PortError::new(PortErrorKind::Conflict, op, "condition failed")
}

fn poisoned(op: &'static str) -> PortError {
    PortError::new(PortErrorKind::Other, op, "lock poisoned")
}

/// A KMS stand-in: data keys wrapped with AES-256-GCM under a process-local master key, with
/// the key ARN and the encryption context as AAD (a wrong context fails like KMS does).
pub struct LocalKms {
    master: LessSafeKey,
}

impl LocalKms {
    pub fn new() -> Result<Self, PortError> {
        let mut key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(key.as_mut()).map_err(|_| poisoned("kms:local"))?;
        let master = UnboundKey::new(&AES_256_GCM, key.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| poisoned("kms:local"))?;
        Ok(Self { master })
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
        const OP: &str = "kms:GenerateDataKey";
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
        const OP: &str = "kms:Decrypt";
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

/// Every SSO item, in maps keyed like the table.
#[derive(Default)]
pub struct MemoryStore {
    pub orgs: Mutex<BTreeMap<OrgId, Org>>,
    pub sso: Mutex<BTreeMap<OrgId, SsoSettings>>,
    pub idps: Mutex<BTreeMap<(OrgId, IdpId), Idp>>,
    pub keys: Mutex<Vec<SpKey>>,
    pub logins: Mutex<BTreeMap<String, LoginState>>,
    pub replay: Mutex<BTreeMap<(OrgId, String, String), i64>>,
    pub sessions: Mutex<BTreeMap<String, Session>>,
    pub audit: Mutex<Vec<AuditEvent>>,
}

macro_rules! lock {
    ($m:expr, $op:expr) => {
        $m.lock().map_err(|_| poisoned($op))?
    };
}

#[async_trait]
impl SsoConfigReader for MemoryStore {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError> {
        Ok(lock!(self.sso, "get").get(org).cloned())
    }
    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError> {
        Ok(lock!(self.idps, "get")
            .get(&(org.clone(), idp.clone()))
            .cloned())
    }
    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError> {
        Ok(lock!(self.idps, "query")
            .values()
            .filter(|i| &i.org == org)
            .cloned()
            .collect())
    }
    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError> {
        Ok(lock!(self.keys, "query")
            .iter()
            .filter(|k| &k.org == org && k.idp.as_ref() == idp)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SsoConfigWriter for MemoryStore {
    async fn put_sso_settings(&self, org: &OrgId, settings: &SsoSettings) -> Result<(), PortError> {
        lock!(self.sso, "put").insert(org.clone(), settings.clone());
        Ok(())
    }
    async fn insert_idp(&self, idp: &Idp, keys: &[SpKey]) -> Result<(), PortError> {
        let mut idps = lock!(self.idps, "put");
        let id = (idp.org.clone(), idp.idp.clone());
        if idps.contains_key(&id) {
            return Err(conflict("put"));
        }
        idps.insert(id, idp.clone());
        lock!(self.keys, "put").extend(keys.iter().cloned());
        Ok(())
    }
    async fn replace_idp(&self, idp: &Idp, expected_version: u32) -> Result<(), PortError> {
        let mut idps = lock!(self.idps, "put");
        match idps.get_mut(&(idp.org.clone(), idp.idp.clone())) {
            Some(stored) if stored.version == expected_version => {
                *stored = idp.clone();
                Ok(())
            }
            _ => Err(conflict("put")),
        }
    }
    async fn insert_token_key(&self, key: &SpKey) -> Result<(), PortError> {
        lock!(self.keys, "put").push(key.clone());
        Ok(())
    }
}

#[async_trait]
impl JwksReader for MemoryStore {
    async fn jwks(&self) -> Result<Vec<serde_json::Value>, PortError> {
        Ok(lock!(self.keys, "query")
            .iter()
            .filter_map(|k| k.public_jwk.clone())
            .collect())
    }
}

#[async_trait]
impl LoginStateStore for MemoryStore {
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError> {
        let mut logins = lock!(self.logins, "put");
        if logins.contains_key(&state.relay_state) {
            return Err(conflict("put"));
        }
        logins.insert(state.relay_state.clone(), state.clone());
        Ok(())
    }
    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        Ok(lock!(self.logins, "delete").remove(relay_state))
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
        let key = (org.clone(), issuer.to_owned(), assertion_id.to_owned());
        let mut seen = lock!(self.replay, "put");
        if seen.contains_key(&key) {
            return Ok(false);
        }
        seen.insert(key, expires_at);
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &Session) -> Result<(), PortError> {
        let mut sessions = lock!(self.sessions, "put");
        if sessions.contains_key(&session.id) {
            return Err(conflict("put"));
        }
        sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }
    async fn get_session(&self, id: &str) -> Result<Option<Session>, PortError> {
        Ok(lock!(self.sessions, "get").get(id).cloned())
    }
    async fn sessions_of(
        &self,
        org: &OrgId,
        idp: &IdpId,
        name_id: &str,
    ) -> Result<Vec<Session>, PortError> {
        Ok(lock!(self.sessions, "query")
            .values()
            .filter(|s| &s.org == org && &s.idp == idp && s.name_id == name_id)
            .cloned()
            .collect())
    }
    async fn end_session(&self, id: &str) -> Result<bool, PortError> {
        Ok(lock!(self.sessions, "delete").remove(id).is_some())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        lock!(self.audit, "put").push(event.clone());
        Ok(())
    }
}

#[async_trait]
impl OrgReader for MemoryStore {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        Ok(lock!(self.orgs, "get").get(org).cloned())
    }
}
