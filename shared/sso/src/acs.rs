//! `POST /o/{org}/idp/{idp}/acs`: take the login in flight once, verify the Response (DESIGN.md
//! §5 steps 1–7), record the assertion once, map it and check the rules (step 8), then what
//! the login was for. There is one way in for applications: an OIDC client's login gets a
//! session and a one-time code (redirected with its `state`). A test sign-in shows the
//! identity and issues nothing; an allowed unsolicited Response sends the browser to the
//! client's `initiate_login_uri`, which starts an OIDC login of its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use saml::{IdpMetadata, VerifiedAssertion, Verifier};
use samlgate_domain::audit::Caller;
use samlgate_domain::client::OidcClient;
use samlgate_domain::clock::format_instant;
use samlgate_domain::error::PortError;
use samlgate_domain::grant::UserClaims;
use samlgate_domain::idp::{Idp, SsoSettings};
use samlgate_domain::ids::{random_hex, sha256_hex, IdpId, OrgId};
use samlgate_domain::one_time::{FreshAssertion, LoginOutcome, NotRecorded};
use samlgate_domain::org::Org;
use samlgate_domain::session::{AuthorizeRequest, LoginState, Session, StatePurpose};
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey};
use time::OffsetDateTime;

use crate::mapping;
use crate::oidc::{error_redirect, with_query, OidcError, Refusal};
use crate::token::Identity;
use crate::{
    is_state_key, signing_certificates, Sso, SsoError, MAX_RELAY_INPUT, MAX_SAML_RESPONSE,
};

/// Where a finished (or, for an OIDC login, a refused) login sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// To the OIDC client's redirect URI, with the one-time `code` (or an `error`) and its
    /// `state`; or, for an unsolicited Response, to the client's `initiate_login_uri`.
    Redirect { location: String },
    /// A test sign-in's result, for the browser that started it.
    Tested(Box<TestResult>),
    /// A test sign-in that failed, for the browser that started it: why, and what samlgate
    /// expected. Only a test sign-in started with admin's diagnostic ticket (and posted from
    /// the browser that started it) gets this; every other failed login shows the generic
    /// page, whatever the reason.
    TestFailed(Box<TestFailure>),
}

/// Why a test sign-in failed: the reason code, the check's message (which quotes what arrived:
/// an Issuer, an Audience, a Destination, an algorithm) and what samlgate expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    pub code: &'static str,
    pub message: String,
    /// What configuration expected, by name (`Audience`, `Issuer`, …).
    pub expected: Vec<(&'static str, String)>,
}

/// What a test sign-in shows an administrator: the claims a client asking for every scope
/// would receive, and what the IdP asserted. Nothing was issued: no session (`sid` is
/// empty), no code, no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub claims: UserClaims,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// The assertion's attributes by name, with their values, as the IdP sent them.
    pub attributes: Vec<(String, Vec<String>)>,
    pub response_signed: bool,
    pub assertion_signed: bool,
    pub encrypted: bool,
}

/// What a Response answers.
enum InFlight {
    /// A login samlgate started: for an OIDC client (`authorize`), or, without one, a test
    /// sign-in; bound to the browser whose binding cookie hashes to `browser`.
    Started {
        request_id: String,
        authorize: Option<AuthorizeRequest>,
        browser: Option<String>,
        /// A test sign-in with a diagnostic ticket.
        diagnostics: bool,
    },
    /// An unsolicited Response from an IdP that may send them; its RelayState names the
    /// client whose `initiate_login_uri` starts the login (OIDC Core §4).
    Unsolicited { client: OidcClient },
}

/// True when the browser's binding cookie is the one the login was started with (compared
/// as SHA-256 digests, in constant time).
fn same_browser(binding: Option<&str>, expected: &str) -> bool {
    binding.is_some_and(|b| {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            sha256_hex(b.as_bytes()).as_bytes(),
            expected.as_bytes(),
        )
        .is_ok()
    })
}

/// What an OIDC client is told for a login that failed after its request was known: the
/// reason is in the audit log; the client hears `access_denied`, or `server_error` and
/// `temporarily_unavailable` for failures of ours.
fn refused_login(request: &AuthorizeRequest, error: SsoError) -> Delivery {
    let error = if error.http_status() >= 500 {
        OidcError::Sso(error)
    } else {
        OidcError::Refused(Refusal::LoginRefused)
    };
    Delivery::Redirect {
        location: error_redirect(request, &error),
    }
}

/// The claims an OIDC login establishes. `sub` is the IdP's subject namespace (its ID unless
/// an admin set one) and the subject, so that no two IdPs share a `sub` unless an admin said
/// so; the email counts as verified only when its domain is assigned to this IdP.
fn user_claims(
    assertion: &VerifiedAssertion,
    idp: &Idp,
    identity: &Identity,
    settings: &SsoSettings,
    (org, sid): (&OrgId, &str),
) -> UserClaims {
    let namespace = idp
        .settings
        .subject_namespace
        .clone()
        .unwrap_or_else(|| idp.idp.to_string());
    let email_verified = identity.email.as_deref().is_some_and(|email| {
        email
            .rsplit_once('@')
            .and_then(|(_, domain)| settings.domain_hints.get(&domain.to_ascii_lowercase()))
            .is_some_and(|owner| owner == &idp.idp)
    });
    UserClaims {
        sub: format!("{namespace}:{}", identity.subject),
        email: identity.email.clone(),
        email_verified,
        name: identity.name.clone(),
        groups: identity.groups.clone(),
        org: org.clone(),
        idp: idp.idp.clone(),
        acr: assertion.authn_context().map(str::to_owned),
        auth_time: assertion.authn_instant().map(|t| t.unix_timestamp()),
        sid: sid.to_owned(),
    }
}

/// A test sign-in's result: every claim, and the assertion as the IdP sent it.
fn test_result(assertion: &FreshAssertion, claims: UserClaims) -> TestResult {
    TestResult {
        claims,
        name_id: assertion.name_id().value.clone(),
        name_id_format: assertion.name_id().format.clone(),
        attributes: assertion
            .attributes()
            .iter()
            .map(|a| (a.name.clone(), a.values.clone()))
            .collect(),
        response_signed: assertion.response_signed(),
        assertion_signed: assertion.assertion_signed(),
        encrypted: assertion.encrypted(),
    }
}

/// OIDC Core §4: the client's login initiation endpoint with `iss`, and `login_hint` when the
/// user's email is one this IdP is assigned (so that the client's `authorize` comes back to
/// the same IdP).
fn initiate_login(initiate_login_uri: &str, issuer: &str, claims: &UserClaims) -> String {
    let mut params = vec![("iss", issuer)];
    if let (Some(email), true) = (&claims.email, claims.email_verified) {
        params.push(("login_hint", email));
    }
    with_query(initiate_login_uri, &params)
}

/// The session a login starts: the assertion's NameID and SessionIndex (for logout), until
/// the earlier of the IdP's SessionNotOnOrAfter and the organisation's session lifetime.
fn new_session(
    assertion: &VerifiedAssertion,
    org: &OrgId,
    idp: &IdpId,
    identity: &Identity,
    settings: &SsoSettings,
    now: OffsetDateTime,
) -> Result<Session, SsoError> {
    let until = assertion
        .session_not_on_or_after()
        .map(|t| t.unix_timestamp())
        .unwrap_or(i64::MAX)
        .min(now.unix_timestamp() + i64::from(settings.session_ttl_secs));
    Ok(Session {
        id: format!("s-{}", random_hex(12)?),
        org: org.clone(),
        idp: idp.clone(),
        subject: identity.subject.clone(),
        name_id: assertion.name_id().value.clone(),
        name_id_format: assertion.name_id().format.clone(),
        session_index: assertion.session_index().map(str::to_owned),
        created_at: format_instant(now),
        expires_at: until,
        client_id: None,
    })
}

/// The audit action of a Response's post.
const LOGIN: &str = "sso.login";

/// What a verified login answers, once it is recorded: a test sign-in's claims, or where the
/// browser goes (the client's redirect with the code, or its `initiate_login_uri`).
enum Answer {
    Tested(UserClaims),
    Redirect(String),
}

/// What a post is answered in: who posted, the active organisation, the IdP and the SSO
/// settings, and the RelayState of the login in flight it answers (`None`: unsolicited).
struct Login<'a> {
    caller: &'a Caller,
    org: &'a Org,
    idp: &'a Idp,
    settings: &'a SsoSettings,
    taken: Option<&'a str>,
}

impl Sso<'_> {
    /// Consumes a Response posted to `/o/{org}/idp/{idp}/acs`. `binding` is the browser's
    /// binding cookie: an OIDC login completes only in the browser that started it.
    pub async fn consume(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp: &IdpId,
        saml_response: &str,
        relay_state: Option<&str>,
        binding: Option<&str>,
    ) -> Result<Delivery, SsoError> {
        // `idp` is a fact once the IdP is known to exist (consume_inner): a path names any.
        let mut facts = BTreeMap::new();
        let mut request = None;
        let result = self
            .consume_inner(
                caller,
                (org, idp),
                (saml_response, relay_state, binding),
                &mut request,
                &mut facts,
            )
            .await;
        // Only a test sign-in started with a diagnostic ticket (in this browser: the binding
        // check runs before anything else) learns why it failed.
        let diagnostics = facts.get("diagnostics").is_some_and(|t| t == "true");
        match result.as_ref().err() {
            // Audited in the write that finished the login.
            None => {}
            // Nothing verified yet: anyone can post this, so it is counted, not itemised.
            Some(error) if !facts.contains_key("assertion_id") => {
                self.count_anonymous_failure(org, caller, LOGIN, error, facts.get("idp"))
                    .await
            }
            error => self.record(org, caller, LOGIN, error, facts).await,
        }
        match (result, request) {
            // Another browser's post never reaches the client, not even as an error.
            (Err(SsoError::BrowserMismatch), _) => Err(SsoError::BrowserMismatch),
            // Nor does a post whose login another post finished first (a double submit): like
            // any post of a used-up RelayState, it gets the error page.
            (Err(SsoError::RequestStateUnknown), _) => Err(SsoError::RequestStateUnknown),
            (Err(e), Some(request)) => Ok(refused_login(&request, e)),
            // A test sign-in started in this browser: the admin sees why (our own failures
            // stay a generic page with the correlation ID).
            (Err(e), None) if diagnostics && e.http_status() < 500 => Ok(Delivery::TestFailed(
                Box::new(self.test_failure(org, idp, &e).await),
            )),
            (result, _) => result,
        }
    }

    /// What a failed test sign-in shows: the code, the message, and what was expected where
    /// the check compares with configuration.
    async fn test_failure(&self, org: &OrgId, idp_id: &IdpId, error: &SsoError) -> TestFailure {
        let idp = self.config.idp(org, idp_id).await.ok().flatten();
        let mut expected = Vec::new();
        let saml = match error {
            SsoError::Saml(e) => Some(e),
            _ => None,
        };
        match saml {
            Some(saml::Error::AudienceMismatch(_)) => {
                expected.push(("Audience", self.urls.sp_entity_id(org, idp_id)));
            }
            Some(saml::Error::DestinationMismatch(_) | saml::Error::RecipientMismatch(_)) => {
                expected.push(("ACS URL", self.urls.acs_url(org, idp_id)));
            }
            Some(saml::Error::IssuerMismatch(_)) => {
                if let Some(idp) = &idp {
                    expected.push(("Issuer", idp.entity_id.clone()));
                }
            }
            Some(
                saml::Error::UntrustedKey
                | saml::Error::SignatureInvalid(_)
                | saml::Error::NoTrustedKeys,
            ) => {
                for der in idp
                    .iter()
                    .filter_map(|i| i.signing_certificates_der())
                    .flatten()
                {
                    expected.push(("Signing certificate (SHA-256)", sha256_hex(&der)));
                }
            }
            Some(saml::Error::AlgorithmForbidden(_)) => {
                let configured = idp
                    .as_ref()
                    .map(|i| i.settings.algorithm_exceptions.join(", "))
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| "none".into());
                expected.push(("Algorithm exceptions of this IdP", configured));
            }
            Some(saml::Error::NotYetValid(_) | saml::Error::Expired(_)) => {
                expected.push(("samlgate's clock", format_instant(self.clock.now())));
                if let Some(idp) = &idp {
                    expected.push((
                        "Allowed clock difference",
                        format!("{} s", idp.settings.clock_skew_secs),
                    ));
                }
            }
            _ => {}
        }
        TestFailure {
            code: error.code(),
            message: error.to_string(),
            expected,
        }
    }

    async fn consume_inner(
        &self,
        caller: &Caller,
        (org, idp_id): (&OrgId, &IdpId),
        post: (&str, Option<&str>, Option<&str>),
        request: &mut Option<AuthorizeRequest>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<Delivery, SsoError> {
        let (saml_response, relay_state, _) = post;
        if saml_response.is_empty() || saml_response.len() > MAX_SAML_RESPONSE {
            return Err(SsoError::invalid("SAMLResponse is missing or too large"));
        }
        if relay_state.is_some_and(|r| r.len() > MAX_RELAY_INPUT) {
            return Err(SsoError::invalid("RelayState is too long"));
        }
        // The five reads of a post depend on nothing but the path and the RelayState, so
        // they are one round trip; their failures still count in this order (organisation,
        // IdP, settings, login in flight, and the SP keys only when the verifier is built,
        // after the browser binding).
        // The login in flight a RelayState of ours names is read here; the write that
        // finishes the login takes it, and a post that fails takes it on its own: either
        // way it serves one post.
        let (org, idp, settings, stored, sp_keys) = futures_util::join!(
            self.config.active_org(org),
            self.known_idp(org, idp_id),
            self.settings(org),
            self.login_in_flight(relay_state.filter(|r| is_state_key(r))),
            self.config.sp_keys(org, Some(idp_id)),
        );
        let (org, idp) = (org?, idp?);
        facts.insert("idp".into(), idp_id.to_string());
        let (settings, stored) = (settings?, stored?);
        let taken = stored.as_ref().and(relay_state);
        let login = Login {
            caller,
            org: &org,
            idp: &idp,
            settings: &settings,
            taken,
        };
        let result = self
            .answer(&login, stored, sp_keys, post, request, facts)
            .await;
        if let (Err(_), Some(r)) = (&result, taken) {
            self.burn_state(r, caller).await;
        }
        result
    }

    /// The login in flight stored under a RelayState of ours (`key`), or
    /// `request_state_unknown`; `None` without one.
    async fn login_in_flight(&self, key: Option<&str>) -> Result<Option<LoginState>, SsoError> {
        let Some(key) = key else { return Ok(None) };
        match self.logins.get_login(key).await? {
            Some(state) => Ok(Some(state)),
            None => Err(SsoError::RequestStateUnknown),
        }
    }

    /// The rest of a post, for the login in flight `stored` (or an unsolicited Response):
    /// the browser binding, verification with the IdP's SP keys `sp_keys` (read with the
    /// rest), then [`Sso::finish`]. A verified assertion is used up either way: when the
    /// login fails after verification, its ID is recorded on its own.
    async fn answer(
        &self,
        login: &Login<'_>,
        stored: Option<LoginState>,
        sp_keys: Result<Vec<SpKey>, PortError>,
        (saml_response, relay_state, binding): (&str, Option<&str>, Option<&str>),
        request: &mut Option<AuthorizeRequest>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<Delivery, SsoError> {
        let (org, idp) = (&login.org.org, login.idp);
        let in_flight = match stored {
            Some(state) => {
                let state = self.check_state(state, org, &idp.idp, StatePurpose::Login)?;
                InFlight::Started {
                    request_id: state.request_id,
                    authorize: state.authorize,
                    browser: state.browser,
                    diagnostics: state.diagnostics,
                }
            }
            None => self.unsolicited(org, idp, relay_state).await?,
        };
        let (request_id, browser) = match &in_flight {
            InFlight::Started {
                request_id,
                authorize,
                browser,
                diagnostics,
            } => {
                facts.insert("request_id".into(), request_id.clone());
                if *diagnostics && authorize.is_none() {
                    facts.insert("diagnostics".into(), "true".into());
                }
                match authorize {
                    Some(authorize) => {
                        facts.insert("client_id".into(), authorize.client_id.clone())
                    }
                    None => facts.insert("test".into(), "true".into()),
                };
                (Some(request_id.as_str()), browser.as_deref())
            }
            InFlight::Unsolicited { client } => {
                facts.insert("request_id".into(), "unsolicited".into());
                facts.insert("client_id".into(), client.client_id.clone());
                (None, None)
            }
        };
        // Login CSRF: a Response (the attacker's own, say) posted from a browser other than
        // the one that started the login is refused before it is even verified.
        if let Some(expected) = browser {
            if !same_browser(binding, expected) {
                return Err(SsoError::BrowserMismatch);
            }
        }
        if let InFlight::Started { authorize, .. } = &in_flight {
            request.clone_from(authorize);
        }

        // Verify (DESIGN.md §5, steps 1–7); one-time use (Profiles §4.1.4.5) is recorded
        // with what the login issues (Sso::finish).
        let verifier = self.verifier(login.org, idp, &sp_keys?).await?;
        let verified = verifier.verify(saml_response.as_bytes(), request_id, self.clock)?;
        facts.insert("assertion_id".into(), verified.assertion_id().to_owned());
        if !verified.dropped_attributes().is_empty() {
            facts.insert(
                "attributes_dropped".into(),
                verified.dropped_attributes().join("; "),
            );
        }
        // Which configured exceptions this login needed, and which it did not (the admin
        // can remove those): the audit item, the metric and the console read these.
        // (The settings' exceptions were read into the verifier's policy: it refuses an IdP
        // whose exceptions do not read, so none is unread here.)
        let configured = idp.settings.exceptions().unwrap_or_default();
        let used = verified.exceptions_used().names();
        if !used.is_empty() {
            facts.insert("exceptions_used".into(), used.join(" "));
            self.metrics.count(org, &idp.idp, "AlgorithmExceptionsUsed");
        }
        let unused: Vec<&str> = configured
            .names()
            .into_iter()
            .filter(|n| !used.contains(n))
            .collect();
        if !unused.is_empty() {
            facts.insert("exceptions_unused".into(), unused.join(" "));
        }
        let key = verified.replay_key();
        let spent = (
            key.issuer.to_owned(),
            key.assertion_id.to_owned(),
            key.until.unix_timestamp(),
        );
        let result = self.finish(login, in_flight, verified, facts).await;
        if let Err(e) = &result {
            if !matches!(e, SsoError::Saml(saml::Error::Replayed(_))) {
                self.spend(org, &spent, login.caller).await;
            }
        }
        result
    }

    /// Step 8 (mapping and rules), then what the login was for (a test sign-in's result, an
    /// unsolicited Response's way to the client, or an OIDC login's session and code),
    /// written in one request with the assertion's record, the login taken and the audit item
    /// ([`FreshAssertion::record_with_login`]).
    async fn finish(
        &self,
        login: &Login<'_>,
        in_flight: InFlight,
        verified: VerifiedAssertion,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<Delivery, SsoError> {
        let (org, idp, settings) = (&login.org.org, login.idp, login.settings);
        let identity = mapping::identity(&verified, &idp.settings)?;
        mapping::check_rules(&identity, &verified, &idp.settings)?;
        facts.insert("subject".into(), identity.subject.clone());

        let (answer, issued) = match in_flight {
            // A test sign-in: what a client would have received; nothing is issued.
            InFlight::Started {
                authorize: None, ..
            } => {
                let claims = user_claims(&verified, idp, &identity, settings, (org, ""));
                facts.insert("sub".into(), claims.sub.clone());
                (Answer::Tested(claims), None)
            }
            // IdP-initiated: the client starts its own login (which comes back here through
            // `authorize`, bound to the browser); this Response only proved the IdP sent it.
            InFlight::Unsolicited { client } => {
                let claims = user_claims(&verified, idp, &identity, settings, (org, ""));
                let uri = client
                    .initiate_login_uri
                    .as_deref()
                    .ok_or(SsoError::UnsolicitedClientUnknown)?;
                let location = initiate_login(uri, &self.urls.issuer(org), &claims);
                (Answer::Redirect(location), None)
            }
            // An OIDC login: the session and the code.
            InFlight::Started {
                authorize: Some(authorize),
                ..
            } => {
                let now = self.clock.now();
                let mut session = new_session(&verified, org, &idp.idp, &identity, settings, now)?;
                session.client_id = Some(authorize.client_id.clone());
                facts.insert("session_id".into(), session.id.clone());
                let claims = user_claims(&verified, idp, &identity, settings, (org, &session.id));
                facts.insert("sub".into(), claims.sub.clone());
                let code = self.new_code(org, &authorize, claims)?;
                (
                    Answer::Redirect(code.location),
                    Some((session, code.hash, code.record)),
                )
            }
        };
        // One write: the login taken (none for an unsolicited Response), the assertion
        // recorded, what the login issued and its audit item; only then is there a result.
        let audit = self.success_event(org, login.caller, LOGIN, facts.clone());
        let outcome = LoginOutcome {
            relay_state: login.taken,
            issued: issued
                .as_ref()
                .map(|(session, hash, code)| (session, hash.as_str(), code)),
            audit: &audit,
        };
        let assertion = FreshAssertion::record_with_login(self.steps, org, verified, outcome)
            .await
            .map_err(|e| match e {
                NotRecorded::LoginTaken => SsoError::RequestStateUnknown,
                NotRecorded::Assertion(e) => SsoError::Saml(e),
            })?;
        Ok(match answer {
            Answer::Tested(claims) => Delivery::Tested(Box::new(test_result(&assertion, claims))),
            Answer::Redirect(location) => Delivery::Redirect { location },
        })
    }

    /// Records the ID of a verified assertion whose login failed, so that it cannot serve
    /// another. A failure to record is logged (the login has failed already).
    async fn spend(
        &self,
        org: &OrgId,
        (issuer, id, until): &(String, String, i64),
        caller: &Caller,
    ) {
        if let Err(e) = self.replay.insert_once(org, issuer, id, *until).await {
            tracing::error!(code = e.code(), correlation_id = %caller.correlation_id, error = %e, "assertion of a failed login not recorded");
        }
    }

    /// An unsolicited Response (no login in flight names its RelayState): the IdP's
    /// permission and the client its RelayState names.
    async fn unsolicited(
        &self,
        org: &OrgId,
        idp: &Idp,
        relay_state: Option<&str>,
    ) -> Result<InFlight, SsoError> {
        if !idp.settings.allow_idp_initiated {
            return Err(SsoError::UnsolicitedNotAllowed);
        }
        let client_id = relay_state
            .filter(|r| !r.is_empty() && r.len() <= 64)
            .ok_or(SsoError::UnsolicitedClientUnknown)?;
        let client = self
            .clients
            .client(org, client_id)
            .await?
            .filter(|c| c.initiate_login_uri.is_some())
            .ok_or(SsoError::UnsolicitedClientUnknown)?;
        Ok(InFlight::Unsolicited { client })
    }

    /// A verifier for this IdP: its signing certificates, our entity ID and ACS URL from
    /// configuration, its settings, and every published decryption key of ours (during a
    /// rollover the IdP may encrypt to the next, active or retiring certificate), the active
    /// one first. `keys` are the IdP's SP keys.
    async fn verifier(
        &self,
        org: &Org,
        idp: &Idp,
        keys: &[SpKey],
    ) -> Result<Arc<Verifier>, SsoError> {
        let rank = |k: &&SpKey| match k.state {
            KeyState::Active => 0,
            KeyState::Next => 1,
            _ => 2,
        };
        let mut decryption_keys: Vec<&SpKey> = keys
            .iter()
            .filter(|k| k.usage == KeyUse::Encryption && k.published())
            .collect();
        decryption_keys.sort_by_key(rank);
        let key_ids: Vec<&str> = decryption_keys.iter().map(|k| k.id.as_str()).collect();
        let cache_key = format!(
            "{}#{}#{}#{}#{}",
            org.org,
            idp.idp,
            idp.version,
            org.key_arn,
            if key_ids.is_empty() {
                "-".to_owned()
            } else {
                key_ids.join(",")
            }
        );
        let now = self.clock.now();
        if let Some(verifier) = self.keys.verifier(&cache_key, now) {
            return Ok(verifier);
        }
        let metadata = IdpMetadata {
            entity_id: idp.entity_id.clone(),
            signing_certificates: signing_certificates(idp)?,
            encryption_certificates: Vec::new(),
            single_sign_on: Vec::new(),
            single_logout: Vec::new(),
            name_id_formats: Vec::new(),
            want_authn_requests_signed: idp.want_authn_requests_signed,
            scopes: idp.scopes.iter().map(saml::Scope::from).collect(),
            warnings: Vec::new(),
        };
        let sp = saml::ServiceProvider {
            entity_id: self.urls.sp_entity_id(&org.org, &idp.idp),
            acs_url: self.urls.acs_url(&org.org, &idp.idp),
        };
        let policy = saml::Policy {
            clock_skew: Duration::from_secs(u64::from(idp.settings.clock_skew_secs)),
            require_encrypted: idp.settings.require_encrypted_assertions,
            exceptions: idp
                .settings
                .exceptions()
                .map_err(|e| SsoError::IdpConfig(e.to_string()))?,
            ..saml::Policy::default()
        };
        let unusable = |e: saml::ConfigError| SsoError::IdpConfig(e.to_string());
        let mut verifier = Verifier::new(&metadata, sp, policy).map_err(unusable)?;
        let mut pems = Vec::with_capacity(decryption_keys.len());
        for key in &decryption_keys {
            let pem = self
                .keys
                .private_pem(self.kms, org, key, self.clock)
                .await?;
            pems.push((pem, key.certificate_der()));
        }
        let with_certificates: Vec<saml::DecryptionKey<'_>> = pems
            .iter()
            .map(|(pem, certificate)| saml::DecryptionKey {
                pem: pem.as_bytes(),
                certificate: certificate.as_deref(),
            })
            .collect();
        if !with_certificates.is_empty() {
            verifier = verifier
                .with_decryption_keys(&with_certificates)
                .map_err(unusable)?;
        }
        Ok(self.keys.keep_verifier(cache_key, verifier, now))
    }
}
