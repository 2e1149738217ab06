//! Authorization codes (`CODE#{hash}` / `C`) and access tokens (`ACCESS#{hash}` / `A`), by
//! the SHA-256 of their values. Both are written by the login steps' transactions (`steps`):
//! a code with its session, and taken once by a conditional update that records the hash of
//! the access token it issues (so that a second redemption finds which token to revoke), in
//! the transaction that stores that token.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use samlgate_domain::grant::{AccessToken, AuthCode};
use samlgate_domain::ports::{AccessTokenStore, CodeStore};
use samlgate_domain::PortError;

use crate::errors::map;
use crate::keys::{access_pk, code_pk, ACCESS_SK, CODE_SK};
use crate::table::Table;

#[async_trait]
impl CodeStore for Table {
    async fn get_code(&self, hash: &str) -> Result<Option<AuthCode>, PortError> {
        self.get(code_pk(hash), CODE_SK.into()).await
    }
}

#[async_trait]
impl AccessTokenStore for Table {
    async fn access_token(&self, hash: &str) -> Result<Option<AccessToken>, PortError> {
        self.get(access_pk(hash), ACCESS_SK.into()).await
    }

    async fn revoke_access_token(&self, hash: &str) -> Result<(), PortError> {
        const OP: &str = "dynamodb:DeleteItem";
        self.client()
            .delete_item()
            .table_name(self.name())
            .key("pk", AttributeValue::S(access_pk(hash)))
            .key("sk", AttributeValue::S(ACCESS_SK.into()))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        Ok(())
    }
}
