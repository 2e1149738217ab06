//! Logout for OIDC clients: RP-initiated (OpenID Connect RP-Initiated Logout 1.0:
//! `{issuer}/logout` with the ID token as hint, then SAML single logout at the IdP) and
//! back-channel (OpenID Connect Back-Channel Logout 1.0: when an IdP ends sessions, every
//! client of those sessions that registered a `backchannel_logout_uri` receives a signed
//! `logout_token`).

use std::collections::BTreeMap;

use samlgate_domain::audit::Caller;
use samlgate_domain::client::SigningAlg;
use samlgate_domain::idp::Idp;
use samlgate_domain::ids::{random_hex, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::session::Session;
use samlgate_domain::sp_key::KeyUse;
use serde_json::json;

use crate::logout::SloDelivery;
use crate::oidc::{with_query, OidcError, Refusal};
use crate::token::verify_own;
use crate::{Sso, SsoError};

/// How long a logout token may be accepted, seconds (Back-Channel Logout §2.4: short).
pub const LOGOUT_TOKEN_TTL_SECS: i64 = 120;
/// The event a logout token carries (Back-Channel Logout §2.4).
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Longest `{issuer}/logout` query or form read.
const MAX_QUERY: usize = 16 * 1024;

/// `{issuer}/logout` parameters (RP-Initiated Logout §2), each at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndSessionQuery {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
    pub malformed: bool,
}

impl EndSessionQuery {
    /// From the query (GET) or the form body (POST).
    pub fn parse(form: &[u8]) -> Self {
        let mut parsed = Self::default();
        if form.len() > MAX_QUERY {
            parsed.malformed = true;
            return parsed;
        }
        for (name, value) in url::form_urlencoded::parse(form) {
            let slot = match name.as_ref() {
                "id_token_hint" => &mut parsed.id_token_hint,
                "post_logout_redirect_uri" => &mut parsed.post_logout_redirect_uri,
                "state" => &mut parsed.state,
                "client_id" => &mut parsed.client_id,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                parsed.malformed = true;
            }
        }
        parsed
    }
}

impl Sso<'_> {
    /// `GET`/`POST {issuer}/logout`: ends the session the ID token names, then single logout
    /// at its IdP; the browser ends at the client's registered post-logout redirect URI (with
    /// `state`), or at the signed-out page. Refusals are pages, never redirects.
    pub async fn end_session(
        &self,
        caller: &Caller,
        org: &OrgId,
        query: &EndSessionQuery,
    ) -> Result<SloDelivery, OidcError> {
        let mut facts = BTreeMap::new();
        let result = self.end_session_inner(org, query, &mut facts).await;
        self.record_oidc(
            org,
            caller,
            "oidc.logout",
            (result.as_ref().err(), None),
            facts,
        )
        .await;
        result
    }

    async fn end_session_inner(
        &self,
        org: &OrgId,
        query: &EndSessionQuery,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<SloDelivery, OidcError> {
        let org_record = self.config.active_org(org).await.map_err(SsoError::from)?;
        if query.malformed {
            return Err(Refusal::ParameterInvalid.into());
        }
        // samlgate keeps no browser session: the ID token names the session to end.
        let keys = self
            .config
            .sp_keys(org, None)
            .await
            .map_err(SsoError::from)?;
        let claims = query
            .id_token_hint
            .as_deref()
            .and_then(|hint| verify_own(hint, &keys))
            .filter(|c| c["iss"].as_str() == Some(self.urls.issuer(org).as_str()))
            .ok_or(Refusal::IdTokenHintInvalid)?;
        let client_id = claims["aud"].as_str().ok_or(Refusal::IdTokenHintInvalid)?;
        if query.client_id.as_deref().is_some_and(|c| c != client_id) {
            return Err(Refusal::IdTokenHintInvalid.into());
        }
        facts.insert("client_id".into(), client_id.to_owned());
        let client = self.client(org, client_id).await.map_err(|e| match e {
            OidcError::Refused(Refusal::ClientUnknown) => Refusal::IdTokenHintInvalid.into(),
            other => other,
        })?;
        let return_to = match &query.post_logout_redirect_uri {
            Some(uri) if client.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                match &query.state {
                    Some(state) => with_query(uri, &[("state", state)]),
                    None => uri.clone(),
                }
            }
            Some(_) => return Err(Refusal::PostLogoutRedirectUriNotRegistered.into()),
            None => String::new(),
        };
        let session = match claims["sid"].as_str().filter(|s| s.len() <= 64) {
            Some(sid) => self
                .sessions
                .get_session(sid)
                .await
                .map_err(SsoError::from)?
                .filter(|s| &s.org == org),
            None => None,
        };
        let Some(session) = session else {
            // Already over (ended, expired, or logged out at the IdP): nothing to end.
            facts.insert("session".into(), "none".into());
            return Ok(if return_to.is_empty() {
                SloDelivery::SignedOut
            } else {
                SloDelivery::Redirect(return_to)
            });
        };
        let idp = self.known_idp(org, &session.idp).await?;
        facts.insert("idp".into(), idp.idp.to_string());
        Ok(self
            .end_and_tell_idp(&org_record, &idp, &session, return_to, facts)
            .await?)
    }

    /// Back-Channel Logout §2.5: a logout token to every client of `ended` that registered a
    /// `backchannel_logout_uri`. Answers how many could not be told (the IdP then hears
    /// `PartialLogout`); each failure is logged without the token.
    pub(crate) async fn tell_clients(
        &self,
        org: &Org,
        idp: &Idp,
        ended: &[Session],
        facts: &mut BTreeMap<String, String>,
    ) -> usize {
        let (mut told, mut untold) = (0usize, 0usize);
        for session in ended {
            let Some(client_id) = &session.client_id else {
                continue;
            };
            match self.tell_client(org, idp, session, client_id).await {
                Ok(true) => told += 1,
                Ok(false) => {}
                Err(e) => {
                    untold += 1;
                    tracing::warn!(code = e.code(), org = %org.org, client_id, error = %e, "back-channel logout failed");
                }
            }
        }
        if told + untold > 0 {
            facts.insert("backchannel_told".into(), told.to_string());
            facts.insert("backchannel_failed".into(), untold.to_string());
        }
        untold
    }

    /// `Ok(false)`: the client is gone or registered no back-channel URI.
    async fn tell_client(
        &self,
        org: &Org,
        idp: &Idp,
        session: &Session,
        client_id: &str,
    ) -> Result<bool, SsoError> {
        let Some(client) = self.clients.client(&org.org, client_id).await? else {
            return Ok(false);
        };
        let Some(uri) = &client.backchannel_logout_uri else {
            return Ok(false);
        };
        let usage = match client.id_token_signed_response_alg {
            SigningAlg::ES256 => KeyUse::Token,
            SigningAlg::RS256 => KeyUse::TokenRsa,
        };
        let key = self.active_signing_key(&org.org, usage).await?;
        let signer = self
            .keys
            .token_signer(self.kms, org, &key, self.clock)
            .await?;
        let now = self.clock.now().unix_timestamp();
        let namespace = idp
            .settings
            .subject_namespace
            .clone()
            .unwrap_or_else(|| idp.idp.to_string());
        let token = signer.sign_typed(
            "logout+jwt",
            &json!({
                "iss": self.urls.issuer(&org.org),
                "aud": client.client_id,
                "iat": now,
                "exp": now + LOGOUT_TOKEN_TTL_SECS,
                "jti": random_hex(16)?,
                "sub": format!("{namespace}:{}", session.subject),
                "sid": session.id,
                "events": { BACKCHANNEL_EVENT: {} },
            }),
        )?;
        self.backchannel.deliver_logout(uri, &token).await?;
        Ok(true)
    }
}
