//! Organisation items: `ORG#{org}` / `ORG` and `INTAKE#{kid}`, and the directory entry
//! `ORGS` / `ORG#{org}`, all written in one transaction at registration.

use async_trait::async_trait;
use samlgate_domain::ids::OrgId;
use samlgate_domain::org::{IntakeKey, Org};
use samlgate_domain::ports::{OrgDirectory, OrgReader};
use samlgate_domain::PortError;
use serde::{Deserialize, Serialize};

use crate::errors::map;
use crate::keys::{directory_sk, intake_sk, org_pk, DIRECTORY_PK, DIRECTORY_PREFIX, ORG_SK};
use crate::table::{encode, Item, Table};

/// `ORGS` / `ORG#{org}`.
#[derive(Debug, Serialize, Deserialize)]
struct DirectoryEntry {
    org: OrgId,
}

#[async_trait]
impl OrgReader for Table {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        self.get(org_pk(org), ORG_SK.into()).await
    }
}

#[async_trait]
impl OrgDirectory for Table {
    async fn list_orgs(&self) -> Result<Vec<OrgId>, PortError> {
        let entries: Vec<DirectoryEntry> = self
            .query_prefix(DIRECTORY_PK.into(), DIRECTORY_PREFIX)
            .await?;
        Ok(entries.into_iter().map(|e| e.org).collect())
    }
}

impl Table {
    pub(crate) async fn intake_key(
        &self,
        org: &OrgId,
        kid: &str,
    ) -> Result<Option<IntakeKey>, PortError> {
        self.get(org_pk(org), intake_sk(kid)).await
    }

    /// The organisation, its intake key and its directory entry, only if none exists yet.
    pub(crate) async fn create_org_items(
        &self,
        org: &Org,
        intake: &IntakeKey,
    ) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let put = |item: Item| self.put_new_in_transaction(OP, item);
        self.client()
            .transact_write_items()
            .transact_items(put(encode(OP, org_pk(&org.org), ORG_SK.into(), org)?)?)
            .transact_items(put(encode(
                OP,
                org_pk(&org.org),
                intake_sk(&intake.kid),
                intake,
            )?)?)
            .transact_items(put(encode(
                OP,
                DIRECTORY_PK.into(),
                directory_sk(&org.org),
                &DirectoryEntry {
                    org: org.org.clone(),
                },
            )?)?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}
