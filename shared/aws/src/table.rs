//! DynamoDB: the one table of DESIGN.md §7. Items are the kernel's records (serialised with
//! serde) plus `pk`/`sk` (named in `keys`); every write that must not clobber is
//! conditional. This module holds the table and its generic operations; one module per record
//! implements the ports on it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use samlgate_domain::{PortError, PortErrorKind};
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

    /// Writes an item, replacing what was there (the SSO settings: admin's last word wins).
    pub(crate) async fn put(&self, op: &'static str, item: Item) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| map(op, e))?;
        Ok(())
    }

    /// Replaces an item only if its stored `version` is `expected`.
    pub(crate) async fn put_if_version(
        &self,
        op: &'static str,
        item: Item,
        expected: u32,
    ) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(expected.to_string()))
            .send()
            .await
            .map_err(|e| map(op, e))?;
        Ok(())
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

    /// A transaction's replacement of an item whose stored `version` is `expected`.
    pub(crate) fn put_if_version_in_transaction(
        &self,
        op: &'static str,
        item: Item,
        expected: u32,
    ) -> Result<TransactWriteItem, PortError> {
        let put = Put::builder()
            .table_name(&self.name)
            .set_item(Some(item))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(expected.to_string()))
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

pub(crate) fn decode<T: DeserializeOwned>(
    op: &'static str,
    mut item: Item,
) -> Result<T, PortError> {
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

pub(crate) fn to_attr(value: &Value) -> AttributeValue {
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
