//! SP and token keys (`ORG#{org}` / `SPKEY#…`) and the public JWKS entries (`JWKS` /
//! `{org}#{kid}`): conditional key transitions for rotation, the JWKS for metadata.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{JwksReader, SpKeyStore};
use samlgate_domain::sp_key::{KeyState, SpKey};
use samlgate_domain::PortError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::map;
use crate::keys::{jwks_prefix, jwks_sk, org_pk, sp_key_sk, JWKS_PK};
use crate::table::{build_err, encode, Table};

/// `JWKS` / `{org}#{kid}`: one organisation's public token key.
#[derive(Debug, Serialize, Deserialize)]
struct JwksEntry {
    org: OrgId,
    jwk: Value,
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
            .set_item(Some(encode(op, org_pk(&key.org), sp_key_sk(key), key)?))
            .condition_expression(condition)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":from", AttributeValue::S(state_name(from).into()))
            .build()
            .map_err(|e| build_err(op, e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A token key's public JWKS entry, to put in the transaction that adds the key.
    fn jwks_entry_put(
        &self,
        op: &'static str,
        key: &SpKey,
    ) -> Result<TransactWriteItem, PortError> {
        let jwk = key
            .public_jwk
            .clone()
            .ok_or_else(|| build_err(op, "token key without a public JWK"))?;
        let entry = JwksEntry {
            org: key.org.clone(),
            jwk,
        };
        self.put_new_in_transaction(
            op,
            encode(op, JWKS_PK.into(), jwks_sk(&key.org, &key.id), &entry)?,
        )
    }

    /// A token key's JWKS entry removed, in the transaction that retires the key.
    fn jwks_entry_delete(
        &self,
        op: &'static str,
        key: &SpKey,
    ) -> Result<TransactWriteItem, PortError> {
        let delete = Delete::builder()
            .table_name(self.name())
            .key("pk", AttributeValue::S(JWKS_PK.into()))
            .key("sk", AttributeValue::S(jwks_sk(&key.org, &key.id)))
            .build()
            .map_err(|e| build_err(op, e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// A token key and its public JWKS entry, in one transaction.
    pub(crate) async fn insert_token_key_items(&self, key: &SpKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        self.client()
            .transact_write_items()
            .transact_items(
                self.put_new_in_transaction(
                    OP,
                    encode(OP, org_pk(&key.org), sp_key_sk(key), key)?,
                )?,
            )
            .transact_items(self.jwks_entry_put(OP, key)?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}

#[async_trait]
impl SpKeyStore for Table {
    async fn publish_next(&self, active: &SpKey, next: &SpKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let mut request = self
            .client()
            .transact_write_items()
            .transact_items(self.key_transition(OP, active, KeyState::Active, true)?)
            .transact_items(self.put_new_in_transaction(
                OP,
                encode(OP, org_pk(&next.org), sp_key_sk(next), next)?,
            )?);
        // A token key is published in the organisation's JWKS from the moment it exists.
        if next.usage.is_token() {
            request = request.transact_items(self.jwks_entry_put(OP, next)?);
        }
        request.send().await.map_err(|e| map(OP, e))?;
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
        let mut request = self
            .client()
            .transact_write_items()
            .transact_items(self.key_transition(OP, key, KeyState::Retiring, false)?);
        // A retired token key leaves the JWKS in the same step.
        if key.usage.is_token() {
            request = request.transact_items(self.jwks_entry_delete(OP, key)?);
        }
        request.send().await.map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn insert_key(&self, key: &SpKey) -> Result<(), PortError> {
        if key.usage.is_token() {
            return self.insert_token_key_items(key).await;
        }
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, encode(OP, org_pk(&key.org), sp_key_sk(key), key)?)
            .await
    }
}

#[async_trait]
impl JwksReader for Table {
    async fn jwks(&self, org: &OrgId) -> Result<Vec<Value>, PortError> {
        let entries: Vec<JwksEntry> = self.query_prefix(JWKS_PK.into(), &jwks_prefix(org)).await?;
        Ok(entries.into_iter().map(|e| e.jwk).collect())
    }
}
