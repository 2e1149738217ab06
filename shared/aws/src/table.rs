//! DynamoDB: the one table of DESIGN.md §6. Items are the core's records (serialised with
//! serde) plus `pk`/`sk`; every write that must not clobber is conditional.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use samlgate_core::model::{AuditEvent, Credential, CredentialState, IntakeKey, Org, OrgId};
use samlgate_core::ports::{
    AuditLog, AuditPage, AuditReader, ConfigReader, ConfigWriter, OrgReader,
};
use samlgate_core::{PortError, PortErrorKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::errors::map;

pub(crate) type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

impl Table {
    pub fn new(config: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_dynamodb::Client::new(config),
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    /// Creates the table (local development and tests; in AWS the platform stack does).
    pub async fn create(&self) -> Result<(), PortError> {
        const OP: &str = "dynamodb:CreateTable";
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let built = (|| -> Result<_, aws_sdk_dynamodb::error::BuildError> {
            Ok((
                attr("pk")?,
                attr("sk")?,
                key("pk", KeyType::Hash)?,
                key("sk", KeyType::Range)?,
            ))
        })()
        .map_err(|e| PortError::new(PortErrorKind::Other, OP, e.to_string()))?;
        let result = self
            .client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(built.0)
            .attribute_definitions(built.1)
            .key_schema(built.2)
            .key_schema(built.3)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(map(OP, e)),
        }
    }

    /// A transaction's put of an item that must not exist yet.
    pub(crate) fn put_new_in_transaction(
        &self,
        op: &'static str,
        item: Item,
    ) -> Result<TransactWriteItem, PortError> {
        let put = Put::builder()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| build_err(op, e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes an item that must not exist yet.
    pub(crate) async fn put_new(&self, op: &'static str, item: Item) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| map(op, e))?;
        Ok(())
    }

    /// Every item of one partition whose sort key starts with `prefix`.
    pub(crate) async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
    ) -> Result<Vec<T>, PortError> {
        const OP: &str = "dynamodb:Query";
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.name)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()));
            // An empty prefix means the whole partition (begins_with rejects "").
            query = if prefix.is_empty() {
                query.key_condition_expression("pk = :pk")
            } else {
                query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            let out = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| map(OP, e))?;
            for item in out.items.unwrap_or_default() {
                found.push(decode(OP, item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// Deletes an item if it exists and returns what it held: of concurrent callers, exactly
    /// one gets `Some`.
    pub(crate) async fn take<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, PortError> {
        const OP: &str = "dynamodb:DeleteItem";
        let result = self
            .client
            .delete_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("attribute_exists(pk)")
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(|item| decode(OP, item)).transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(map(OP, e)),
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, PortError> {
        const OP: &str = "dynamodb:GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        out.item.map(|item| decode(OP, item)).transpose()
    }

    /// Every item of the table (tests: the canary scan).
    pub async fn scan_all(&self) -> Result<Vec<Value>, PortError> {
        const OP: &str = "dynamodb:Scan";
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.name)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| map(OP, e))?;
            items.extend(
                out.items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| to_json(&AttributeValue::M(i))),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

pub(crate) fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// A record as an item: its fields, plus the keys.
pub(crate) fn encode<T: Serialize>(
    op: &'static str,
    pk: String,
    sk: String,
    record: &T,
) -> Result<Item, PortError> {
    let value = serde_json::to_value(record)
        .map_err(|e| PortError::new(PortErrorKind::Other, op, e.to_string()))?;
    let AttributeValue::M(mut item) = to_attr(&value) else {
        return Err(PortError::new(
            PortErrorKind::Other,
            op,
            "record is not an object",
        ));
    };
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk));
    Ok(item)
}

fn decode<T: DeserializeOwned>(op: &'static str, mut item: Item) -> Result<T, PortError> {
    item.remove("pk");
    item.remove("sk");
    serde_json::from_value(to_json(&AttributeValue::M(item))).map_err(|e| {
        PortError::new(
            PortErrorKind::Other,
            op,
            format!("stored item is unreadable: {e}"),
        )
    })
}

fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

fn to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Number::from)
            .ok()
            .or_else(|| n.parse::<f64>().ok().and_then(Number::from_f64))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(to_json).collect()),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        _ => Value::Null,
    }
}

pub(crate) fn build_err(op: &'static str, e: impl std::fmt::Display) -> PortError {
    PortError::new(PortErrorKind::Other, op, e.to_string())
}

#[async_trait]
impl OrgReader for Table {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        self.get(org_pk(org), "ORG".into()).await
    }
}

#[async_trait]
impl ConfigReader for Table {
    async fn get_intake_key(&self, org: &OrgId, kid: &str) -> Result<Option<IntakeKey>, PortError> {
        self.get(org_pk(org), format!("INTAKE#{kid}")).await
    }

    async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Option<Credential>, PortError> {
        self.get(org_pk(org), format!("CRED#{id}")).await
    }

    async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>, PortError> {
        self.query_prefix(org_pk(org), "CRED#").await
    }
}

#[async_trait]
impl ConfigWriter for Table {
    async fn create_org(&self, org: &Org, intake: &IntakeKey) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let put = |item: Item| self.put_new_in_transaction(OP, item);
        self.client
            .transact_write_items()
            .transact_items(put(encode(OP, org_pk(&org.org), "ORG".into(), org)?)?)
            .transact_items(put(encode(
                OP,
                org_pk(&org.org),
                format!("INTAKE#{}", intake.kid),
                intake,
            )?)?)
            // The directory the daily jobs walk (rotate: `OrgDirectory`).
            .transact_items(put(encode(
                OP,
                "ORGS".into(),
                format!("ORG#{}", org.org),
                &serde_json::json!({ "org": org.org }),
            )?)?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn insert_credential(&self, credential: &Credential) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(
            OP,
            org_pk(&credential.org),
            format!("CRED#{}", credential.id),
            credential,
        )?;
        self.put_new(OP, item).await
    }

    async fn replace_credential(
        &self,
        credential: &Credential,
        expected_state: CredentialState,
        expected_version: u32,
    ) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(
            OP,
            org_pk(&credential.org),
            format!("CRED#{}", credential.id),
            credential,
        )?;
        let state = to_attr(&serde_json::to_value(expected_state).map_err(|e| build_err(OP, e))?);
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("#state = :state AND #version = :version")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":state", state)
            .expression_attribute_values(
                ":version",
                AttributeValue::N(expected_version.to_string()),
            )
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn remove_pending_credential(&self, org: &OrgId, id: &str) -> Result<(), PortError> {
        const OP: &str = "dynamodb:DeleteItem";
        self.client
            .delete_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(org_pk(org)))
            .key("sk", AttributeValue::S(format!("CRED#{id}")))
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}

#[async_trait]
impl AuditLog for Table {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        // Several events of one request share time and correlation ID (which is per request,
        // so per process); a process-wide sequence number keeps each its own item, and the
        // condition makes sure none ever overwrites another.
        let sk = format!(
            "AUDIT#{}#{}#{:08x}",
            sortable_instant(&event.at),
            event.correlation_id,
            next_sequence()
        );
        let item = encode(OP, org_pk(&event.org), sk, event)?;
        self.put_new(OP, item).await
    }
}

/// Newest first (the sort key starts with the event's time); the cursor is the last item's
/// sort key, which the next page starts after.
#[async_trait]
impl AuditReader for Table {
    async fn audit_page(
        &self,
        org: &OrgId,
        before: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, PortError> {
        const OP: &str = "dynamodb:Query";
        let pk = org_pk(org);
        let start = before.filter(|sk| sk.starts_with("AUDIT#")).map(|sk| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(pk.clone())),
                ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S("AUDIT#".into()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        let next = out
            .last_evaluated_key
            .as_ref()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        let events = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode(OP, item))
            .collect::<Result<Vec<AuditEvent>, PortError>>()?;
        Ok(AuditPage { events, next })
    }
}

/// An RFC 3339 UTC instant with its fraction padded to nanoseconds
/// (`2026-01-01T00:00:07.5Z` → `2026-01-01T00:00:07.500000000Z`), so that sort keys sort in
/// time order: RFC 3339 text with fractions of varying length does not (`07.5Z` sorts after
/// `07.51Z`, `07Z` after `07.1Z`). Anything else is kept as it is.
fn sortable_instant(at: &str) -> String {
    let Some(body) = at.strip_suffix('Z') else {
        return at.to_owned();
    };
    let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
    if seconds.len() != 19 || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return at.to_owned();
    }
    format!("{seconds}.{fraction:0<9}Z")
}

fn next_sequence() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::sortable_instant;

    #[test]
    fn audit_sort_keys_sort_in_time_order() {
        let times = [
            "2026-01-01T00:00:06.999Z",
            "2026-01-01T00:00:07Z",
            "2026-01-01T00:00:07.1Z",
            "2026-01-01T00:00:07.5Z",
            "2026-01-01T00:00:07.51Z",
            "2026-01-01T00:00:07.999999999Z",
            "2026-01-01T00:00:08Z",
        ];
        let keys: Vec<String> = times.iter().map(|t| sortable_instant(t)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(
            sortable_instant("2026-01-01T00:00:07.5Z"),
            "2026-01-01T00:00:07.500000000Z"
        );
        assert_eq!(sortable_instant("not a time"), "not a time");
    }
}
