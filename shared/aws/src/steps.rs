//! The login steps (`LoginSteps`): each leg of a login ends in one `TransactWriteItems`, its
//! audit item included, so that a warm OIDC login writes three times (authorize, ACS,
//! token). A transaction's conditions are what makes each step once-only: the login state is
//! deleted only if it is still there, the assertion recorded and the code taken only if new.
//! When DynamoDB cancels one, its `CancellationReasons` (one per item, in order) say which
//! condition failed. The SDK gives each transaction a `ClientRequestToken` before its first
//! attempt, so a retry of one that had committed succeeds instead of failing its own
//! conditions. (The e2e harness's moto serialises DynamoDB writes,
//! tests/fixtures/moto_atomic.py, so a cancelled transaction's rollback cannot undo a
//! concurrent winner there either.)

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use samlgate_domain::audit::AuditEvent;
use samlgate_domain::grant::AccessToken;
use samlgate_domain::ports::{FinishRefused, FinishedLogin, LoginSteps};
use samlgate_domain::session::LoginState;
use samlgate_domain::PortError;

use crate::audit::audit_item;
use crate::errors::map;
use crate::keys::{access_pk, code_pk, login_pk, ACCESS_SK, CODE_SK, LOGIN_SK};
use crate::logins::login_item;
use crate::replay::replay_item;
use crate::sessions::session_items;
use crate::table::{build_err, encode, Table};

const OP: &str = "dynamodb:TransactWriteItems";

#[async_trait]
impl LoginSteps for Table {
    async fn start_login(&self, state: &LoginState, audit: &AuditEvent) -> Result<(), PortError> {
        let items = vec![
            self.put_new_in_transaction(OP, login_item(OP, state)?)?,
            self.put_new_in_transaction(OP, audit_item(OP, audit)?)?,
        ];
        self.transact(items).await.map_err(|e| map(OP, e))
    }

    async fn finish_login(
        &self,
        login: &FinishedLogin<'_>,
    ) -> Result<Result<(), FinishRefused>, PortError> {
        let mut items = Vec::with_capacity(6);
        if let Some(relay_state) = login.relay_state {
            items.push(self.delete_existing(login_pk(relay_state), LOGIN_SK.into())?);
        }
        // The replay entry comes right after the login taken, if any.
        let replay_at = items.len();
        let mark = login.replay;
        items.push(self.put_new_in_transaction(
            OP,
            replay_item(
                OP,
                mark.org,
                mark.issuer,
                mark.assertion_id,
                mark.expires_at,
            )?,
        )?);
        if let Some((session, hash, code)) = login.issued {
            for item in session_items(OP, session)? {
                items.push(self.put_new_in_transaction(OP, item)?);
            }
            items.push(
                self.put_new_in_transaction(OP, encode(OP, code_pk(hash), CODE_SK.into(), code)?)?,
            );
        }
        items.push(self.put_new_in_transaction(OP, audit_item(OP, login.audit)?)?);
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(e) => match failed_condition(&e) {
                // A login taken first: it was, whether or not the assertion was seen too.
                Some(failed) if replay_at == 1 && failed.first() == Some(&true) => {
                    Ok(Err(FinishRefused::LoginTaken))
                }
                Some(failed) if failed.get(replay_at) == Some(&true) => {
                    Ok(Err(FinishRefused::Replayed))
                }
                _ => Err(map(OP, e)),
            },
        }
    }

    async fn redeem_code(
        &self,
        hash: &str,
        token_hash: &str,
        token: &AccessToken,
        audit: &AuditEvent,
    ) -> Result<bool, PortError> {
        let take = Update::builder()
            .table_name(self.name())
            .key("pk", AttributeValue::S(code_pk(hash)))
            .key("sk", AttributeValue::S(CODE_SK.into()))
            .update_expression("SET redeemed = :yes, access_token = :token")
            .condition_expression("attribute_exists(pk) AND redeemed = :no")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":token", AttributeValue::S(token_hash.to_owned()))
            .build()
            .map_err(|e| build_err(OP, e))?;
        let items = vec![
            TransactWriteItem::builder().update(take).build(),
            self.put_new_in_transaction(
                OP,
                encode(OP, access_pk(token_hash), ACCESS_SK.into(), token)?,
            )?,
            self.put_new_in_transaction(OP, audit_item(OP, audit)?)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(true),
            // The code was taken already (or is gone): nothing was written.
            Err(e) if failed_condition(&e).is_some_and(|f| f.first() == Some(&true)) => Ok(false),
            Err(e) => Err(map(OP, e)),
        }
    }
}

impl Table {
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError>> {
        self.client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await?;
        Ok(())
    }

    /// A transaction's delete of an item that must still be there.
    fn delete_existing(&self, pk: String, sk: String) -> Result<TransactWriteItem, PortError> {
        let delete = Delete::builder()
            .table_name(self.name())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| build_err(OP, e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

/// For a transaction DynamoDB cancelled: whether each item's condition failed, in item
/// order. `None` for any other error, or a cancellation without reasons.
fn failed_condition(e: &SdkError<TransactWriteItemsError>) -> Option<Vec<bool>> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        e.as_service_error()
    else {
        return None;
    };
    let reasons = cancelled.cancellation_reasons();
    if reasons.is_empty() {
        return None;
    }
    Some(
        reasons
            .iter()
            .map(|r| r.code() == Some("ConditionalCheckFailed"))
            .collect(),
    )
}
