//! Authorization codes (`CODE#{hash}` / `C`) and access tokens (`ACCESS#{hash}` / `A`), by
//! the SHA-256 of their values. A code is taken once by a conditional update that records the
//! hash of the access token it issues, so that a second redemption finds which token to
//! revoke. (Not a TransactWriteItems: moto rolls a cancelled transaction back by restoring a
//! copy of the whole table, which undoes concurrent winners; one conditional write is atomic
//! in DynamoDB and in moto alike.)

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use samlgate_domain::grant::{AccessToken, AuthCode};
use samlgate_domain::ports::{AccessTokenStore, CodeStore};
use samlgate_domain::{PortError, PortErrorKind};

use crate::errors::map;
use crate::keys::{access_pk, code_pk, ACCESS_SK, CODE_SK};
use crate::table::{encode, Table};

#[async_trait]
impl CodeStore for Table {
    async fn put_code(&self, hash: &str, code: &AuthCode) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, encode(OP, code_pk(hash), CODE_SK.into(), code)?)
            .await
    }

    async fn get_code(&self, hash: &str) -> Result<Option<AuthCode>, PortError> {
        self.get(code_pk(hash), CODE_SK.into()).await
    }

    async fn redeem_code(
        &self,
        hash: &str,
        token_hash: &str,
        token: &AccessToken,
    ) -> Result<bool, PortError> {
        // One conditional UpdateItem takes the code: exactly one redemption sees
        // `redeemed = false`. Only the winner then writes its access token; if that write
        // fails the code stays taken and no token exists (fail closed).
        const OP: &str = "dynamodb:UpdateItem";
        let taken = self
            .client()
            .update_item()
            .table_name(self.name())
            .key("pk", AttributeValue::S(code_pk(hash)))
            .key("sk", AttributeValue::S(CODE_SK.into()))
            .update_expression("SET redeemed = :yes, access_token = :token")
            .condition_expression("attribute_exists(pk) AND redeemed = :no")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":token", AttributeValue::S(token_hash.to_owned()))
            .send()
            .await;
        match taken {
            Ok(_) => {}
            Err(e) => {
                return match map(OP, e) {
                    e if e.kind == PortErrorKind::Conflict => Ok(false),
                    e => Err(e),
                }
            }
        }
        const PUT: &str = "dynamodb:PutItem";
        self.put_new(
            PUT,
            encode(PUT, access_pk(token_hash), ACCESS_SK.into(), token)?,
        )
        .await?;
        Ok(true)
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
