//! OIDC clients (`ORG#{org}` / `CLIENT#{client_id}`): no secret, only its hash.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use samlgate_domain::client::OidcClient;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{ClientReader, ClientWriter};
use samlgate_domain::PortError;

use crate::errors::map;
use crate::keys::{client_sk, org_pk, CLIENT_PREFIX};
use crate::table::{encode, Table};

#[async_trait]
impl ClientReader for Table {
    async fn client(&self, org: &OrgId, client_id: &str) -> Result<Option<OidcClient>, PortError> {
        self.get(org_pk(org), client_sk(client_id)).await
    }

    async fn list_clients(&self, org: &OrgId) -> Result<Vec<OidcClient>, PortError> {
        self.query_prefix(org_pk(org), CLIENT_PREFIX).await
    }
}

#[async_trait]
impl ClientWriter for Table {
    async fn insert_client(&self, client: &OidcClient) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(
            OP,
            org_pk(&client.org),
            client_sk(&client.client_id),
            client,
        )?;
        self.put_new(OP, item).await
    }

    async fn replace_client(
        &self,
        client: &OidcClient,
        expected_version: u32,
    ) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(
            OP,
            org_pk(&client.org),
            client_sk(&client.client_id),
            client,
        )?;
        self.put_if_version(OP, item, expected_version).await
    }

    async fn delete_client(&self, org: &OrgId, client_id: &str) -> Result<(), PortError> {
        const OP: &str = "dynamodb:DeleteItem";
        let result = self
            .client()
            .delete_item()
            .table_name(self.name())
            .key("pk", AttributeValue::S(org_pk(org)))
            .key("sk", AttributeValue::S(client_sk(client_id)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(PortError::new(
                    samlgate_domain::PortErrorKind::NotFound,
                    OP,
                    "no such client",
                ))
            }
            Err(e) => Err(map(OP, e)),
        }
    }
}
