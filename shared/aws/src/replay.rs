//! One-time use (`REPLAY#{org}#{hash}` / `R`): a conditional put that lives until the
//! assertion could no longer validate (the TTL attribute `expires_at`).

use async_trait::async_trait;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::ReplayStore;
use samlgate_domain::{PortError, PortErrorKind};
use serde::{Deserialize, Serialize};

use crate::keys::{replay_pk, REPLAY_SK};
use crate::table::{encode, Item, Table};

/// `REPLAY#{org}#{sha256(issuer, assertion id)}` / `R`.
#[derive(Debug, Serialize, Deserialize)]
struct ReplayEntry {
    org: OrgId,
    issuer: String,
    assertion_id: String,
    expires_at: i64,
}

/// The item that records `(org, issuer, assertion_id)` until `expires_at` (written only
/// where none is).
pub(crate) fn replay_item(
    op: &'static str,
    org: &OrgId,
    issuer: &str,
    assertion_id: &str,
    expires_at: i64,
) -> Result<Item, PortError> {
    let entry = ReplayEntry {
        org: org.clone(),
        issuer: issuer.chars().take(1024).collect(),
        assertion_id: assertion_id.chars().take(256).collect(),
        expires_at,
    };
    encode(
        op,
        replay_pk(org, issuer, assertion_id),
        REPLAY_SK.into(),
        &entry,
    )
}

#[async_trait]
impl ReplayStore for Table {
    async fn insert_once(
        &self,
        org: &OrgId,
        issuer: &str,
        assertion_id: &str,
        expires_at: i64,
    ) -> Result<bool, PortError> {
        const OP: &str = "dynamodb:PutItem";
        let item = replay_item(OP, org, issuer, assertion_id, expires_at)?;
        match self.put_new(OP, item).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind == PortErrorKind::Conflict => Ok(false),
            Err(e) => Err(e),
        }
    }
}
