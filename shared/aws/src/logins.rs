//! Logins and logouts in flight (`REQ#{relay state}` / `REQ`): put once, taken once.

use async_trait::async_trait;
use samlgate_domain::ports::LoginStateStore;
use samlgate_domain::session::LoginState;
use samlgate_domain::PortError;

use crate::keys::{login_pk, LOGIN_SK};
use crate::table::{encode, Table};

#[async_trait]
impl LoginStateStore for Table {
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = encode(OP, login_pk(&state.relay_state), LOGIN_SK.into(), state)?;
        self.put_new(OP, item).await
    }

    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        self.take(login_pk(relay_state), LOGIN_SK.into()).await
    }
}
