//! Setup links (`ORG#{org}` / `SETUP#{id}`) and console sessions (`ORG#{org}` /
//! `CONSOLE#{sha256}`): hashes only, both expiring with DynamoDB TTL on `expires_at`.

use async_trait::async_trait;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::SetupStore;
use samlgate_domain::setup::{ConsoleSession, DiagnosticTicket, SetupLink};
use samlgate_domain::PortError;

use crate::errors::map;
use crate::keys::{console_sk, diagnostic_ticket_sk, org_pk, setup_sk, SETUP_PREFIX};
use crate::table::{encode, Item, Table};

fn link_item(op: &'static str, link: &SetupLink) -> Result<Item, PortError> {
    encode(op, org_pk(&link.org), setup_sk(&link.id), link)
}

#[async_trait]
impl SetupStore for Table {
    async fn insert_link(&self, link: &SetupLink) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, link_item(OP, link)?).await
    }

    async fn link(&self, org: &OrgId, id: &str) -> Result<Option<SetupLink>, PortError> {
        self.get(org_pk(org), setup_sk(id)).await
    }

    async fn list_links(&self, org: &OrgId) -> Result<Vec<SetupLink>, PortError> {
        self.query_prefix(org_pk(org), SETUP_PREFIX).await
    }

    async fn replace_link(&self, link: &SetupLink, expected_version: u32) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_if_version(OP, link_item(OP, link)?, expected_version)
            .await
    }

    async fn use_link(
        &self,
        used: &SetupLink,
        expected_version: u32,
        session: &ConsoleSession,
    ) -> Result<(), PortError> {
        const OP: &str = "dynamodb:TransactWriteItems";
        let session_item = encode(
            OP,
            org_pk(&session.org),
            console_sk(&session.token_sha256),
            session,
        )?;
        self.client()
            .transact_write_items()
            .transact_items(self.put_if_version_in_transaction(
                OP,
                link_item(OP, used)?,
                expected_version,
            )?)
            .transact_items(self.put_new_in_transaction(OP, session_item)?)
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }

    async fn console_session(
        &self,
        org: &OrgId,
        token_sha256: &str,
    ) -> Result<Option<ConsoleSession>, PortError> {
        self.get(org_pk(org), console_sk(token_sha256)).await
    }

    async fn insert_session(&self, session: &ConsoleSession) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(
            OP,
            encode(
                OP,
                org_pk(&session.org),
                console_sk(&session.token_sha256),
                session,
            )?,
        )
        .await
    }

    async fn end_session(&self, org: &OrgId, token_sha256: &str) -> Result<(), PortError> {
        self.take::<ConsoleSession>(org_pk(org), console_sk(token_sha256))
            .await
            .map(|_| ())
    }

    async fn put_diagnostic_ticket(&self, ticket: &DiagnosticTicket) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(
            OP,
            encode(
                OP,
                org_pk(&ticket.org),
                diagnostic_ticket_sk(&ticket.ticket_sha256),
                ticket,
            )?,
        )
        .await
    }
}
