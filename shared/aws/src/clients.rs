//! OIDC clients (`ORG#{org}` / `CLIENT#{client_id}`): no secret, only its hash.

use async_trait::async_trait;
use samlgate_domain::client::OidcClient;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{ClientReader, ClientWriter};
use samlgate_domain::{PortError, PortErrorKind};

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

/// The client's item: `ORG#{org}` / `CLIENT#{client_id}`.
fn client_item(op: &'static str, client: &OidcClient) -> Result<crate::table::Item, PortError> {
    encode(
        op,
        org_pk(&client.org),
        client_sk(&client.client_id),
        client,
    )
}

#[async_trait]
impl ClientWriter for Table {
    async fn insert_client(&self, client: &OidcClient) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, client_item(OP, client)?).await
    }

    async fn replace_client(
        &self,
        client: &OidcClient,
        expected_version: u32,
    ) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_if_version(OP, client_item(OP, client)?, expected_version)
            .await
    }

    async fn delete_client(&self, org: &OrgId, client_id: &str) -> Result<(), PortError> {
        // The table's conditional delete: gone if it existed, NotFound if it did not.
        match self
            .take::<OidcClient>(org_pk(org), client_sk(client_id))
            .await?
        {
            Some(_) => Ok(()),
            None => Err(PortError::new(
                PortErrorKind::NotFound,
                "dynamodb:DeleteItem",
                "no such client",
            )),
        }
    }
}
