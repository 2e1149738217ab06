//! SP and token keys (`ORG#{org}` / `SPKEY#…`) and the public JWKS entries (`JWKS` /
//! `{org}#{kid}`): conditional key transitions for rotation, the JWKS for metadata.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
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

    /// A token key and its public JWKS entry, in one transaction.
    pub(crate) async fn insert_token_key_items(&self, key: &SpKey) -> Result<(), PortError> {
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
                self.put_new_in_transaction(
                    OP,
                    encode(OP, org_pk(&key.org), sp_key_sk(key), key)?,
                )?,
            )
            .transact_items(self.put_new_in_transaction(
                OP,
                encode(OP, JWKS_PK.into(), jwks_sk(&key.org, &key.id), &entry)?,
            )?)
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
        self.client()
            .transact_write_items()
            .transact_items(self.key_transition(OP, active, KeyState::Active, true)?)
            .transact_items(self.put_new_in_transaction(
                OP,
                encode(OP, org_pk(&next.org), sp_key_sk(next), next)?,
            )?)
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
