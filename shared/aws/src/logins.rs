//! Logins and logouts in flight (`REQ#{relay state}` / `REQ`): put once, taken once. A login
//! is put and taken by the login steps' transactions (`steps`), a logout here.

use async_trait::async_trait;
use samlgate_domain::ports::LoginStateStore;
use samlgate_domain::session::LoginState;
use samlgate_domain::PortError;

use crate::keys::{login_pk, LOGIN_SK};
use crate::table::{encode, Item, Table};

pub(crate) fn login_item(op: &'static str, state: &LoginState) -> Result<Item, PortError> {
    encode(op, login_pk(&state.relay_state), LOGIN_SK.into(), state)
}

#[async_trait]
impl LoginStateStore for Table {
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        self.put_new(OP, login_item(OP, state)?).await
    }

    async fn get_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        self.get(login_pk(relay_state), LOGIN_SK.into()).await
    }

    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        self.take(login_pk(relay_state), LOGIN_SK.into()).await
    }
}
