//! Credential items (`ORG#{org}` / `CRED#{id}`): metadata only, never the value. The vault's
//! configuration ports also read the organisation's intake key and create the organisation.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use samlgate_domain::credential::{Credential, CredentialState};
use samlgate_domain::ids::OrgId;
use samlgate_domain::org::{IntakeKey, Org};
use samlgate_domain::ports::{ConfigReader, ConfigWriter};
use samlgate_domain::PortError;

use crate::errors::map;
use crate::keys::{credential_sk, org_pk, CREDENTIAL_PREFIX};
use crate::table::{build_err, encode, to_attr, Table};

#[async_trait]
impl ConfigReader for Table {
    async fn get_intake_key(&self, org: &OrgId, kid: &str) -> Result<Option<IntakeKey>, PortError> {
        self.intake_key(org, kid).await
    }

    async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Option<Credential>, PortError> {
        self.get(org_pk(org), credential_sk(id)).await
    }

    async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>, PortError> {
        self.query_prefix(org_pk(org), CREDENTIAL_PREFIX).await
    }
}

#[async_trait]
impl ConfigWriter for Table {
    async fn create_org(&self, org: &Org, intake: &IntakeKey) -> Result<(), PortError> {
        self.create_org_items(org, intake).await
    }

    async fn insert_credential(&self, credential: &Credential) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(
            OP,
            org_pk(&credential.org),
            credential_sk(&credential.id),
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
            credential_sk(&credential.id),
            credential,
        )?;
        let state = to_attr(&serde_json::to_value(expected_state).map_err(|e| build_err(OP, e))?);
        self.client()
            .put_item()
            .table_name(self.name())
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
        self.client()
            .delete_item()
            .table_name(self.name())
            .key("pk", AttributeValue::S(org_pk(org)))
            .key("sk", AttributeValue::S(credential_sk(id)))
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}
