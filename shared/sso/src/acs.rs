//! `POST /o/{org}/idp/{idp}/acs`: take the login in flight once, verify the Response (DESIGN.md
//! §5 steps 1–7), record the assertion once, map it and check the rules (step 8), then the
//! session, then what the login was for: an OIDC client's one-time code (redirected with
//! its `state`), or the application token of the older return-URL path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use saml::{IdpMetadata, Verifier};
use samlgate_domain::audit::Caller;
use samlgate_domain::clock::format_instant;
use samlgate_domain::grant::UserClaims;
use samlgate_domain::idp::{Idp, SsoSettings};
use samlgate_domain::ids::{random_hex, sha256_hex, IdpId, OrgId};
use samlgate_domain::one_time::FreshAssertion;
use samlgate_domain::org::Org;
use samlgate_domain::session::{AuthorizeRequest, Session, StatePurpose};
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey};
use time::OffsetDateTime;

use crate::mapping;
use crate::oidc::{error_redirect, OidcError, Refusal};
use crate::token::{Claims, Identity, TOKEN_TTL_SECS};
use crate::{
    is_state_key, return_url, signing_certificates, Sso, SsoError, MAX_RELAY_INPUT,
    MAX_SAML_RESPONSE,
};

/// Where a finished (or, for an OIDC login, a refused) login sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// To the OIDC client's redirect URI, with the one-time `code` (or an `error`) and its
    /// `state`.
    Redirect { location: String },
    /// The return-URL path: post `token` (as `id_token`) to `return_to`.
    Post { return_to: String, token: String },
}

/// The login in flight a Response answers (or, unsolicited, where it goes).
struct InFlight {
    request_id: Option<String>,
    return_to: String,
    authorize: Option<AuthorizeRequest>,
    browser: Option<String>,
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
    assertion: &FreshAssertion,
    idp: &Idp,
    identity: &Identity,
    settings: &SsoSettings,
    session: &Session,
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
        org: session.org.clone(),
        idp: idp.idp.clone(),
        acr: assertion.authn_context().map(str::to_owned),
        auth_time: assertion.authn_instant().map(|t| t.unix_timestamp()),
        sid: session.id.clone(),
    }
}

/// The session a login starts: the assertion's NameID and SessionIndex (for logout), until
/// the earlier of the IdP's SessionNotOnOrAfter and the organisation's session lifetime.
fn new_session(
    assertion: &FreshAssertion,
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
        let mut facts = BTreeMap::from([("idp".to_owned(), idp.to_string())]);
        let mut request = None;
        let result = self
            .consume_inner(
                org,
                idp,
                (saml_response, relay_state, binding),
                &mut request,
                &mut facts,
            )
            .await;
        self.record(org, caller, "sso.login", result.as_ref().err(), facts)
            .await;
        match (result, request) {
            // Another browser's post never reaches the client, not even as an error.
            (Err(SsoError::BrowserMismatch), _) => Err(SsoError::BrowserMismatch),
            (Err(e), Some(request)) => Ok(refused_login(&request, e)),
            (result, _) => result,
        }
    }

    async fn consume_inner(
        &self,
        org: &OrgId,
        idp_id: &IdpId,
        (saml_response, relay_state, binding): (&str, Option<&str>, Option<&str>),
        request: &mut Option<AuthorizeRequest>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<Delivery, SsoError> {
        if saml_response.is_empty() || saml_response.len() > MAX_SAML_RESPONSE {
            return Err(SsoError::invalid("SAMLResponse is missing or too large"));
        }
        if relay_state.is_some_and(|r| r.len() > MAX_RELAY_INPUT) {
            return Err(SsoError::invalid("RelayState is too long"));
        }
        let (org_record, idp) = self.idp_and_org(org, idp_id).await?;
        let settings = self.settings(org).await?;
        let now = self.clock.now();

        // The login in flight, taken exactly once, or an unsolicited response.
        let in_flight = self
            .solicited_or_not(org, &idp, &settings, relay_state)
            .await?;
        facts.insert(
            "request_id".into(),
            in_flight
                .request_id
                .clone()
                .unwrap_or_else(|| "unsolicited".into()),
        );
        if let Some(authorize) = &in_flight.authorize {
            facts.insert("client_id".into(), authorize.client_id.clone());
        }
        // Login CSRF: a Response (the attacker's own, say) posted from a browser other than
        // the one that started the login is refused before it is even verified.
        if let Some(expected) = &in_flight.browser {
            if !same_browser(binding, expected) {
                return Err(SsoError::BrowserMismatch);
            }
        }
        request.clone_from(&in_flight.authorize);

        // Verify (DESIGN.md §5, steps 1–7), then one-time use (Profiles §4.1.4.5): only the
        // replay store turns the verified assertion into the fresh one the rest takes.
        let verifier = self.verifier(&org_record, &idp).await?;
        let verified = verifier.verify(
            saml_response.as_bytes(),
            in_flight.request_id.as_deref(),
            self.clock,
        )?;
        facts.insert("assertion_id".into(), verified.assertion_id().to_owned());
        let assertion = FreshAssertion::record(self.replay, org, verified).await?;

        // Step 8: mapping and rules.
        let identity = mapping::identity(&assertion, &idp.settings)?;
        mapping::check_rules(&identity, &assertion, &idp.settings)?;

        // The session, then what the login was for: both from the fresh assertion.
        let mut session = new_session(&assertion, org, idp_id, &identity, &settings, now)?;
        session.client_id = in_flight.authorize.as_ref().map(|a| a.client_id.clone());
        self.sessions.create_session(&session).await?;
        facts.insert("session_id".into(), session.id.clone());
        facts.insert("subject".into(), identity.subject.clone());

        if let Some(authorize) = &in_flight.authorize {
            let claims = user_claims(&assertion, &idp, &identity, &settings, &session);
            facts.insert("sub".into(), claims.sub.clone());
            let location = self.issue_code(org, authorize, claims).await?;
            return Ok(Delivery::Redirect { location });
        }

        let token_key = self.active_token_key(org).await?;
        let signer = self
            .keys
            .token_signer(self.kms, &org_record, &token_key, self.clock)
            .await?;
        let claims = Claims {
            iss: self.urls.issuer(org),
            aud: settings.app_audience.clone(),
            sub: identity.subject.clone(),
            email: identity.email.clone(),
            name: identity.name.clone(),
            groups: identity.groups.clone(),
            org: org.to_string(),
            idp: idp_id.to_string(),
            acr: assertion.authn_context().map(str::to_owned),
            sid: session.id.clone(),
            iat: now.unix_timestamp(),
            nbf: now.unix_timestamp(),
            exp: now.unix_timestamp() + TOKEN_TTL_SECS,
            jti: random_hex(12)?,
        };
        Ok(Delivery::Post {
            return_to: in_flight.return_to,
            token: signer.sign(&claims)?,
        })
    }

    /// The request ID to expect and where to deliver, from the state the login stored, or,
    /// for an unsolicited response, from the IdP's permission and an allowed RelayState URL.
    async fn solicited_or_not(
        &self,
        org: &OrgId,
        idp: &Idp,
        settings: &SsoSettings,
        relay_state: Option<&str>,
    ) -> Result<InFlight, SsoError> {
        if let Some(r) = relay_state {
            if let Some(state) = self
                .take_state(r, org, &idp.idp, StatePurpose::Login)
                .await?
            {
                return Ok(InFlight {
                    request_id: Some(state.request_id),
                    return_to: state.return_to,
                    authorize: state.authorize,
                    browser: state.browser,
                });
            }
        }
        // No login in flight for this RelayState: only an allowed unsolicited response.
        if !idp.settings.allow_idp_initiated {
            return Err(match relay_state {
                Some(r) if is_state_key(r) => SsoError::RequestStateUnknown,
                _ => SsoError::UnsolicitedNotAllowed,
            });
        }
        match relay_state {
            Some(r) if is_state_key(r) => Err(SsoError::RequestStateUnknown),
            // An empty RelayState names no return URL: the default one.
            requested => Ok(InFlight {
                request_id: None,
                return_to: return_url(settings, requested.filter(|r| !r.is_empty()))?,
                authorize: None,
                browser: None,
            }),
        }
    }

    /// A verifier for this IdP: its signing certificates, our entity ID and ACS URL from
    /// configuration, its settings, and every published decryption key of ours (during a
    /// rollover the IdP may encrypt to the next, active or retiring certificate), the active
    /// one first.
    async fn verifier(&self, org: &Org, idp: &Idp) -> Result<Arc<Verifier>, SsoError> {
        let keys = self.config.sp_keys(&org.org, Some(&idp.idp)).await?;
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
            warnings: Vec::new(),
        };
        let sp = saml::ServiceProvider {
            entity_id: self.urls.sp_entity_id(&org.org, &idp.idp),
            acs_url: self.urls.acs_url(&org.org, &idp.idp),
        };
        let policy = saml::Policy {
            clock_skew: Duration::from_secs(u64::from(idp.settings.clock_skew_secs)),
            require_encrypted: idp.settings.require_encrypted_assertions,
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
