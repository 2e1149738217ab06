//! Sessions (`SESS#{id}` / `S`) and the subject index (`SUBJ#…` / `{session id}`) that finds
//! a subject's sessions for IdP-initiated logout; both written in the transaction that
//! finishes the login (`steps`).

use async_trait::async_trait;
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::SessionStore;
use samlgate_domain::session::Session;
use samlgate_domain::PortError;
use serde::{Deserialize, Serialize};

use crate::keys::{session_pk, subject_pk, subject_sk, SESSION_SK};
use crate::table::{encode, Item, Table};

/// `SUBJ#{org}#{idp}#{sha256(NameID)}` / `{session id}`: finds a subject's sessions for an
/// IdP-initiated logout (the NameID is hashed: key attributes are bounded).
#[derive(Debug, Serialize, Deserialize)]
struct SubjectIndex {
    session_id: String,
    expires_at: i64,
}

/// A session's item and its subject index entry (both written only where none is, in the
/// transaction that finishes the login).
pub(crate) fn session_items(op: &'static str, session: &Session) -> Result<[Item; 2], PortError> {
    let index = SubjectIndex {
        session_id: session.id.clone(),
        expires_at: session.expires_at,
    };
    Ok([
        encode(op, session_pk(&session.id), SESSION_SK.into(), session)?,
        encode(
            op,
            subject_pk(&session.org, &session.idp, &session.name_id),
            subject_sk(&session.id),
            &index,
        )?,
    ])
}

#[async_trait]
impl SessionStore for Table {
    async fn get_session(&self, id: &str) -> Result<Option<Session>, PortError> {
        self.get(session_pk(id), SESSION_SK.into()).await
    }

    async fn sessions_of(
        &self,
        org: &OrgId,
        idp: &IdpId,
        name_id: &str,
    ) -> Result<Vec<Session>, PortError> {
        let index: Vec<SubjectIndex> = self.query_prefix(subject_pk(org, idp, name_id), "").await?;
        let mut sessions = Vec::new();
        for entry in index {
            if let Some(session) = self.get_session(&entry.session_id).await? {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    async fn end_session(&self, id: &str) -> Result<bool, PortError> {
        let Some(session) = self
            .take::<Session>(session_pk(id), SESSION_SK.into())
            .await?
        else {
            return Ok(false);
        };
        // The index entry only points at the session; a leftover one finds nothing.
        let _ = self
            .take::<SubjectIndex>(
                subject_pk(&session.org, &session.idp, &session.name_id),
                subject_sk(&session.id),
            )
            .await?;
        Ok(true)
    }
}
