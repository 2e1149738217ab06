//! Single logout (SAML Profiles §4.4), front channel, HTTP-Redirect or HTTP-POST binding,
//! both directions:
//!
//! - SP-initiated: an OIDC client sends the browser to `{issuer}/logout` ([`crate::end_session`]);
//!   samlgate ends the session, sends a signed LogoutRequest to the IdP (state under a fresh
//!   RelayState), and on the IdP's signed LogoutResponse (here, at
//!   `/o/{org}/idp/{idp}/slo`) sends the browser to the client's post-logout redirect URI.
//! - IdP-initiated: the IdP sends a signed LogoutRequest; samlgate ends the subject's sessions
//!   at that IdP and answers with a signed LogoutResponse.
//!
//! Incoming messages are read only through their verified form (`saml::read_redirect`,
//! `saml::read_post`): the signature verifies with the IdP's configured certificates and the
//! Issuer, Destination and validity are checked before anything is read. Every URL compared
//! comes from configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::{
    Limits, LogoutExpected, LogoutMessage, OutgoingMessage as _, STATUS_PARTIAL_LOGOUT,
    STATUS_SUCCESS,
};
use samlgate_domain::audit::Caller;
use samlgate_domain::idp::Idp;
use samlgate_domain::ids::{random_hex, IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::session::{Session, StatePurpose};
use samlgate_domain::sp_key::KeyUse;
use samlgate_domain::VaultError;

use crate::{new_message_id, signing_certificates, Sso, SsoError};

/// `GET /o/{org}/idp/{idp}/slo` parameters, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SloQuery {
    /// The raw query string (the signature covers its exact octets).
    pub raw: String,
    /// Whether the query carries an IdP message (`SAMLRequest` / `SAMLResponse`).
    pub has_message: bool,
}

impl SloQuery {
    pub fn parse(raw: &str) -> Self {
        let mut query = Self {
            raw: raw.to_owned(),
            ..Self::default()
        };
        for (name, _) in url::form_urlencoded::parse(raw.as_bytes()) {
            if matches!(name.as_ref(), "SAMLRequest" | "SAMLResponse") {
                query.has_message = true;
            }
        }
        query
    }
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SloDelivery {
    /// A 302 (HTTP-Redirect binding, or back to the application).
    Redirect(String),
    /// Nowhere: a plain "signed out" page (an IdP without a logout endpoint sent the
    /// request, or a client named no post-logout redirect URI).
    SignedOut,
    /// An auto-submitting form (HTTP-POST binding).
    Post {
        url: String,
        fields: Vec<(&'static str, String)>,
    },
}

/// A logout message as it arrived from the IdP.
#[derive(Debug, Clone, Copy)]
pub enum Incoming<'a> {
    /// HTTP-Redirect: the raw query string (its signature covers the exact octets).
    Query(&'a str),
    /// HTTP-POST: the `SAMLRequest`/`SAMLResponse` field and the RelayState.
    Form {
        message: &'a str,
        relay_state: Option<&'a str>,
    },
}

/// A logout message we send.
enum Outgoing<'a> {
    Request(saml::LogoutRequest<'a>),
    Response(saml::LogoutResponse<'a>),
}

/// The IdP's SingleLogoutService: Redirect if it has one, else POST.
fn slo_endpoint(idp: &Idp) -> Option<(String, bool)> {
    idp.slo_redirect_url
        .clone()
        .map(|u| (u, false))
        .or_else(|| idp.slo_post_url.clone().map(|u| (u, true)))
}

impl Sso<'_> {
    /// Everything `/o/{org}/idp/{idp}/slo` does: a signed message from the IdP (its
    /// LogoutRequest, or its LogoutResponse to ours). Answers where the browser goes next.
    pub async fn logout(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp: &IdpId,
        query: &SloQuery,
        form: Option<Incoming<'_>>,
    ) -> Result<SloDelivery, SsoError> {
        let mut facts = BTreeMap::from([("idp".to_owned(), idp.to_string())]);
        let incoming = form.or_else(|| query.has_message.then_some(Incoming::Query(&query.raw)));
        let result = match incoming {
            Some(incoming) => self.idp_message(org, idp, incoming, &mut facts).await,
            None => Err(SsoError::invalid("SAMLRequest or SAMLResponse is missing")),
        };
        self.record(org, caller, "sso.logout", result.as_ref().err(), facts)
            .await;
        result
    }

    /// A logout message to the IdP, signed with the IdP's SP signing key: a query signature
    /// (HTTP-Redirect) or an enveloped XML signature (HTTP-POST).
    async fn send(
        &self,
        org: &Org,
        idp: &IdpId,
        (url, post): (String, bool),
        message: Outgoing<'_>,
        relay_state: Option<&str>,
    ) -> Result<SloDelivery, SsoError> {
        let key = self.active_key(&org.org, idp, KeyUse::Signing).await?;
        let pem = self
            .keys
            .private_pem(self.kms, org, &key, self.clock)
            .await?;
        // Our own SP key and message writer: a failure is ours, never the IdP's.
        let config = |_: saml::ConfigError| SsoError::from(VaultError::Internal("SP signing"));
        let response = matches!(message, Outgoing::Response(_));
        if post {
            let signer = saml::XmlSigner::from_pem(pem.as_bytes(), None).map_err(config)?;
            let xml = match &message {
                Outgoing::Request(m) => m.to_signed_xml(&signer),
                Outgoing::Response(m) => m.to_signed_xml(&signer),
            }
            .map_err(config)?;
            let name = if response {
                "SAMLResponse"
            } else {
                "SAMLRequest"
            };
            let mut fields = vec![(name, B64.encode(xml))];
            if let Some(relay) = relay_state {
                fields.push(("RelayState", relay.to_owned()));
            }
            return Ok(SloDelivery::Post { url, fields });
        }
        let xml = match &message {
            Outgoing::Request(m) => m.to_xml(),
            Outgoing::Response(m) => m.to_xml(),
        };
        let signer = saml::RequestSigner::from_pem(pem.as_bytes()).map_err(config)?;
        saml::logout_redirect_url(&url, &xml, relay_state, response, &signer)
            .map(SloDelivery::Redirect)
            .map_err(config)
    }

    /// Ends `session`, then sends the IdP a signed LogoutRequest for it, keeping where the
    /// browser goes once the IdP answers (`return_to`; empty: the signed-out page). An IdP
    /// without a logout endpoint: the browser goes there at once.
    pub(crate) async fn end_and_tell_idp(
        &self,
        org_record: &Org,
        idp: &Idp,
        session: &Session,
        return_to: String,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<SloDelivery, SsoError> {
        let (org, idp_id) = (&org_record.org, &idp.idp);
        facts.insert("session_id".into(), session.id.clone());
        self.sessions.end_session(&session.id).await?;
        let Some(endpoint) = slo_endpoint(idp) else {
            // The IdP offers no logout endpoint: our session is over, and that is all.
            facts.insert("idp_logout".into(), "none".into());
            return Ok(after_logout(return_to));
        };
        let slo_url = endpoint.0.clone();
        let now = self.clock.now();
        let request_id = new_message_id()?;
        let issuer = self.urls.sp_entity_id(org, idp_id);
        let relay_state = random_hex(16)?;
        let request = saml::LogoutRequest {
            id: &request_id,
            issue_instant: now,
            destination: &slo_url,
            issuer: &issuer,
            name_id: &session.name_id,
            name_id_format: session.name_id_format.as_deref(),
            session_index: session.session_index.as_deref(),
        };
        let delivery = self
            .send(
                org_record,
                idp_id,
                endpoint,
                Outgoing::Request(request),
                Some(&relay_state),
            )
            .await?;
        let state = self.new_state(
            StatePurpose::Logout,
            relay_state,
            org,
            idp_id,
            &request_id,
            return_to,
        );
        self.logins.put_login(&state).await?;
        facts.insert("request_id".into(), request_id);
        Ok(delivery)
    }

    /// A signed message from the IdP: its LogoutRequest, or its answer to ours.
    async fn idp_message(
        &self,
        org: &OrgId,
        idp_id: &IdpId,
        incoming: Incoming<'_>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<SloDelivery, SsoError> {
        let (org_record, idp) = self.idp_and_org(org, idp_id).await?;
        let certificates = signing_certificates(&idp)?;
        let limits = Limits::default();
        let our_slo = self.urls.slo_url(org, idp_id);
        let expected = LogoutExpected {
            issuer: &idp.entity_id,
            destination: &our_slo,
            now: self.clock.now(),
            clock_skew: Duration::from_secs(u64::from(idp.settings.clock_skew_secs)),
        };
        // The binding is the request's own fact: recorded for refused messages too.
        facts.insert(
            "binding".into(),
            match incoming {
                Incoming::Query(_) => "redirect",
                Incoming::Form { .. } => "post",
            }
            .into(),
        );
        let verified = match incoming {
            Incoming::Query(raw) => saml::read_redirect(raw, &certificates, &expected, &limits)?,
            Incoming::Form {
                message,
                relay_state,
            } => saml::read_post(message, relay_state, &certificates, &expected, &limits)?,
        };
        match verified.message() {
            LogoutMessage::Response(response) => {
                let relay = verified
                    .relay_state()
                    .ok_or(SsoError::RequestStateUnknown)?;
                let state = self
                    .take_state(relay, org, idp_id, StatePurpose::Logout)
                    .await?
                    .ok_or(SsoError::RequestStateUnknown)?;
                if response.in_response_to() != state.request_id {
                    return Err(SsoError::Saml(saml::Error::InResponseToMismatch(
                        response.in_response_to().to_owned(),
                    )));
                }
                facts.insert("request_id".into(), state.request_id);
                if response.status() != STATUS_SUCCESS {
                    return Err(SsoError::LogoutFailed(response.status().to_owned()));
                }
                Ok(after_logout(state.return_to))
            }
            LogoutMessage::Request(request) => {
                facts.insert("request_id".into(), request.id().to_owned());
                // One-time use: the request's ID is remembered for as long as it could be
                // accepted (its NotOnOrAfter, at most MAX_LOGOUT_REQUEST_AGE after issue).
                let first = self
                    .replay
                    .insert_once(
                        org,
                        &idp.entity_id,
                        &format!("LogoutRequest#{}", request.id()),
                        request.valid_until().unix_timestamp(),
                    )
                    .await
                    .map_err(|e| saml::Error::ReplayCacheUnavailable(e.to_string()))?;
                if !first {
                    return Err(saml::Error::Replayed(request.id().to_owned()).into());
                }
                let mut ended = Vec::new();
                for session in self
                    .sessions
                    .sessions_of(org, idp_id, request.name_id())
                    .await?
                {
                    let matches = request.session_indexes().is_empty()
                        || session
                            .session_index
                            .as_ref()
                            .is_some_and(|i| request.session_indexes().contains(i));
                    if matches && self.sessions.end_session(&session.id).await? {
                        ended.push(session);
                    }
                }
                facts.insert("sessions_ended".into(), ended.len().to_string());
                // OIDC Back-Channel Logout: every client of an ended session is told.
                let untold = self.tell_clients(&org_record, &idp, &ended, facts).await;
                let Some(endpoint) = slo_endpoint(&idp) else {
                    // Nowhere to answer (the demo IdP, say): the sessions are over.
                    facts.insert("idp_logout".into(), "none".into());
                    return Ok(SloDelivery::SignedOut);
                };
                let slo_url = endpoint.0.clone();
                let response_id = new_message_id()?;
                let issuer = self.urls.sp_entity_id(org, idp_id);
                let response = saml::LogoutResponse {
                    id: &response_id,
                    issue_instant: self.clock.now(),
                    destination: &slo_url,
                    issuer: &issuer,
                    in_response_to: request.id(),
                    status: STATUS_SUCCESS,
                    // Core §3.7.3.2: a client that could not be told makes it partial.
                    sub_status: (untold > 0).then_some(STATUS_PARTIAL_LOGOUT),
                };
                self.send(
                    &org_record,
                    idp_id,
                    endpoint,
                    Outgoing::Response(response),
                    verified.relay_state(),
                )
                .await
            }
        }
    }
}

/// After a logout: back to where the application asked, or the signed-out page.
fn after_logout(return_to: String) -> SloDelivery {
    if return_to.is_empty() {
        SloDelivery::SignedOut
    } else {
        SloDelivery::Redirect(return_to)
    }
}
