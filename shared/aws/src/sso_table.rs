//! The SSO items of the one table (DESIGN.md §6): SSO settings, IdPs, SP keys, the public
//! JWKS entries, logins in flight (`REQ#`), the replay cache (`REPLAY#`) and sessions
//! (`SESS#`). Items that expire carry `expires_at` (Unix seconds), the table's TTL attribute;
//! DynamoDB deletes late, so every reader also compares `expires_at` itself.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use samlgate_core::idp::{Idp, IdpId, SsoSettings};
use samlgate_core::model::{sha256_hex, OrgId};
use samlgate_core::ports::{
    JwksReader, LoginStateStore, OrgDirectory, ReplayStore, SessionStore, SpKeyStore,
    SsoConfigReader, SsoConfigWriter,
};
use samlgate_core::sp_key::KeyState;
use samlgate_core::sp_key::SpKey;
use samlgate_core::sso::{LoginState, Session};
use samlgate_core::PortError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::map;
use crate::table::{build_err, encode, org_pk, Table};

fn idp_sk(idp: &IdpId) -> String {
    format!("IDP#{idp}")
}

fn key_prefix(idp: Option<&IdpId>) -> String {
    match idp {
        Some(idp) => format!("SPKEY#{idp}#"),
        None => "SPKEY#-#".to_owned(),
    }
}

fn key_sk(key: &SpKey) -> String {
    format!(
        "{}{}#{}",
        key_prefix(key.idp.as_ref()),
        key.usage.as_str(),
        key.id
    )
}

/// `JWKS` / `{org}#{kid}`: one organisation's public token key.
#[derive(Debug, Serialize, Deserialize)]
struct JwksEntry {
    org: OrgId,
    jwk: Value,
}

/// `REPLAY#{org}#{sha256(issuer, assertion id)}` / `R`.
#[derive(Debug, Serialize, Deserialize)]
struct ReplayEntry {
    org: OrgId,
    issuer: String,
    assertion_id: String,
    expires_at: i64,
}

#[async_trait]
impl SsoConfigReader for Table {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError> {
        self.get(org_pk(org), "SSO".into()).await
    }

    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError> {
        self.get(org_pk(org), idp_sk(idp)).await
    }

    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError> {
        self.query_prefix(org_pk(org), "IDP#").await
    }

    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError> {
        self.query_prefix(org_pk(org), &key_prefix(idp)).await
    }
}

#[async_trait]
impl SsoConfigWriter for Table {
    async fn put_sso_settings(&self, org: &OrgId, settings: &SsoSettings) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(OP, org_pk(org), "SSO".into(), settings)?;
        self.client()
            .put_item()
            .table_name(self.name())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn insert_idp(&self, idp: &Idp, keys: &[SpKey]) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let mut request =
            self.client()
                .transact_write_items()
                .transact_items(self.put_new_in_transaction(
                    OP,
                    encode(OP, org_pk(&idp.org), idp_sk(&idp.idp), idp)?,
                )?);
        for key in keys {
            request = request.transact_items(
                self.put_new_in_transaction(OP, encode(OP, org_pk(&key.org), key_sk(key), key)?)?,
            );
        }
        request.send().await.map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn replace_idp(&self, idp: &Idp, expected_version: u32) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(OP, org_pk(&idp.org), idp_sk(&idp.idp), idp)?;
        self.client()
            .put_item()
            .table_name(self.name())
            .set_item(Some(item))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(
                ":version",
                AttributeValue::N(expected_version.to_string()),
            )
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn insert_token_key(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let jwk = key
            .public_jwk
            .clone()
            .ok_or_else(|| build_err(OP, "token key without a public JWK"))?;
        let entry = JwksEntry {
            org: key.org.clone(),
            jwk,
        };
        self.client()
            .transact_write_items()
            .transact_items(
                self.put_new_in_transaction(OP, encode(OP, org_pk(&key.org), key_sk(key), key)?)?,
            )
            .transact_items(self.put_new_in_transaction(
                OP,
                encode(OP, "JWKS".into(), format!("{}#{}", key.org, key.id), &entry)?,
            )?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}

/// `ORGS` / `ORG#{org}`, written with the organisation (`ConfigWriter::create_org`).
#[derive(Debug, Deserialize)]
struct OrgEntry {
    org: OrgId,
}

#[async_trait]
impl OrgDirectory for Table {
    async fn list_orgs(&self) -> Result<Vec<OrgId>, PortError> {
        let entries: Vec<OrgEntry> = self.query_prefix("ORGS".into(), "ORG#").await?;
        Ok(entries.into_iter().map(|e| e.org).collect())
    }
}

fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Next => "next",
        KeyState::Active => "active",
        KeyState::Retiring => "retiring",
        KeyState::Retired => "retired",
    }
}

impl Table {
    /// A transaction's put of `key`'s new version, only if the stored one is in `from`
    /// (and, with `no_successor`, names no successor yet).
    fn key_transition(
        &self,
        op: &'static str,
        key: &SpKey,
        from: KeyState,
        no_successor: bool,
    ) -> Result<TransactWriteItem, PortError> {
        let condition = if no_successor {
            "#state = :from AND attribute_not_exists(successor)"
        } else {
            "#state = :from"
        };
        let put = Put::builder()
            .table_name(self.name())
            .set_item(Some(encode(op, org_pk(&key.org), key_sk(key), key)?))
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", AttributeValue::S(state_name(from).into()))
            .build()
            .map_err(|e| build_err(op, e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl SpKeyStore for Table {
    async fn publish_next(&self, active: &SpKey, next: &SpKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        self.client()
            .transact_write_items()
            .transact_items(self.key_transition(OP, active, KeyState::Active, true)?)
            .transact_items(
                self.put_new_in_transaction(
                    OP,
                    encode(OP, org_pk(&next.org), key_sk(next), next)?,
                )?,
            )
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn promote(&self, next: &SpKey, previous: Option<&SpKey>) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let mut request = self
            .client()
            .transact_write_items()
            .transact_items(self.key_transition(OP, next, KeyState::Next, false)?);
        if let Some(previous) = previous {
            request = request.transact_items(self.key_transition(
                OP,
                previous,
                KeyState::Active,
                false,
            )?);
        }
        request.send().await.map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn retire(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        self.client()
            .transact_write_items()
            .transact_items(self.key_transition(OP, key, KeyState::Retiring, false)?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn insert_key(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, encode(OP, org_pk(&key.org), key_sk(key), key)?)
            .await
    }
}

#[async_trait]
impl JwksReader for Table {
    async fn jwks(&self) -> Result<Vec<Value>, PortError> {
        let entries: Vec<JwksEntry> = self.query_prefix("JWKS".into(), "").await?;
        Ok(entries.into_iter().map(|e| e.jwk).collect())
    }
}

#[async_trait]
impl LoginStateStore for Table {
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(
            OP,
            format!("REQ#{}", state.relay_state),
            "REQ".into(),
            state,
        )?;
        self.put_new(OP, item).await
    }

    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        self.take(format!("REQ#{relay_state}"), "REQ".into()).await
    }
}

#[async_trait]
impl ReplayStore for Table {
    async fn insert_once(
        &self,
        org: &OrgId,
        issuer: &str,
        assertion_id: &str,
        expires_at: i64,
    ) -> Result<bool, PortError> {
        const OP: &str = "dynamodb:PutItem";
        // Issuer and ID are hashed into the key: both come from the message, and key
        // attributes are bounded in size.
        let mut material = Vec::with_capacity(issuer.len() + assertion_id.len() + 1);
        material.extend_from_slice(issuer.as_bytes());
        material.push(0);
        material.extend_from_slice(assertion_id.as_bytes());
        let hash = sha256_hex(&material);
        let entry = ReplayEntry {
            org: org.clone(),
            issuer: issuer.chars().take(1024).collect(),
            assertion_id: assertion_id.chars().take(256).collect(),
            expires_at,
        };
        let item = encode(OP, format!("REPLAY#{org}#{hash}"), "R".into(), &entry)?;
        match self.put_new(OP, item).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == samlgate_core::PortErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// `SUBJ#{org}#{idp}#{sha256(NameID)}` / `{session id}`: finds a subject's sessions for an
/// IdP-initiated logout (the NameID is hashed: key attributes are bounded).
#[derive(Debug, Serialize, Deserialize)]
struct SubjectIndex {
    session_id: String,
    expires_at: i64,
}

fn subject_pk(org: &OrgId, idp: &IdpId, name_id: &str) -> String {
    format!("SUBJ#{org}#{idp}#{}", sha256_hex(name_id.as_bytes()))
}

#[async_trait]
impl SessionStore for Table {
    async fn create_session(&self, session: &Session) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let index = SubjectIndex {
            session_id: session.id.clone(),
            expires_at: session.expires_at,
        };
        self.client()
            .transact_write_items()
            .transact_items(self.put_new_in_transaction(
                OP,
                encode(OP, format!("SESS#{}", session.id), "S".into(), session)?,
            )?)
            .transact_items(self.put_new_in_transaction(
                OP,
                encode(
                    OP,
                    subject_pk(&session.org, &session.idp, &session.name_id),
                    session.id.clone(),
                    &index,
                )?,
            )?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>, PortError> {
        self.get(format!("SESS#{id}"), "S".into()).await
    }

    async fn sessions_of(
        &self,
        org: &OrgId,
        idp: &IdpId,
        name_id: &str,
    ) -> Result<Vec<Session>, PortError> {
        let index: Vec<SubjectIndex> = self.query_prefix(subject_pk(org, idp, name_id), "").await?;
        let mut sessions = Vec::new();
        for entry in index {
            if let Some(session) = self.get_session(&entry.session_id).await? {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    async fn end_session(&self, id: &str) -> Result<bool, PortError> {
        let Some(session) = self
            .take::<Session>(format!("SESS#{id}"), "S".into())
            .await?
        else {
            return Ok(false);
        };
        // The index entry only points at the session; a leftover one finds nothing.
        let _ = self
            .take::<SubjectIndex>(
                subject_pk(&session.org, &session.idp, &session.name_id),
                session.id.clone(),
            )
            .await?;
        Ok(true)
    }
}
