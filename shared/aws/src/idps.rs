//! SSO configuration items: `ORG#{org}` / `SSO` (the organisation's SSO settings) and
//! `ORG#{org}` / `IDP#{idp}`; an IdP is created in one transaction with its SP keys.

use async_trait::async_trait;
use samlgate_domain::idp::{Idp, SsoSettings};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::{SsoConfigReader, SsoConfigWriter};
use samlgate_domain::sp_key::SpKey;
use samlgate_domain::PortError;

use crate::errors::map;
use crate::keys::{idp_sk, org_pk, sp_key_prefix, sp_key_sk, IDP_PREFIX, SSO_SK};
use crate::table::{encode, Table};

#[async_trait]
impl SsoConfigReader for Table {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError> {
        self.get(org_pk(org), SSO_SK.into()).await
    }

    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError> {
        self.get(org_pk(org), idp_sk(idp)).await
    }

    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError> {
        self.query_prefix(org_pk(org), IDP_PREFIX).await
    }

    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError> {
        self.query_prefix(org_pk(org), &sp_key_prefix(idp)).await
    }

    async fn diagnostic_ticket(
        &self,
        org: &OrgId,
        ticket_sha256: &str,
    ) -> Result<Option<samlgate_domain::setup::DiagnosticTicket>, PortError> {
        self.get(
            org_pk(org),
            crate::keys::diagnostic_ticket_sk(ticket_sha256),
        )
        .await
    }
}

#[async_trait]
impl SsoConfigWriter for Table {
    async fn put_sso_settings(&self, org: &OrgId, settings: &SsoSettings) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put(OP, encode(OP, org_pk(org), SSO_SK.into(), settings)?)
            .await
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
            request =
                request.transact_items(self.put_new_in_transaction(
                    OP,
                    encode(OP, org_pk(&key.org), sp_key_sk(key), key)?,
                )?);
        }
        request.send().await.map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn replace_idp(&self, idp: &Idp, expected_version: u32) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(OP, org_pk(&idp.org), idp_sk(&idp.idp), idp)?;
        self.put_if_version(OP, item, expected_version).await
    }

    async fn insert_token_key(&self, key: &SpKey) -> Result<(), PortError> {
        self.insert_token_key_items(key).await
    }
}
