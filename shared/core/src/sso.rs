//! What the acs function does (issue 5 §3, DESIGN.md §5): start a login (signed AuthnRequest,
//! server-side state keyed by RelayState) and consume the IdP's Response (state once, verify,
//! replay cache, mapping and rules, session, application token).
//!
//! acs's capabilities are the fields of [`Sso`]: config reads, its three stores, audit, and
//! `DecryptDataKey` for SP keys only (the key policy allows acs `purpose=sp-key` and nothing
//! else). Every URL it compares or sends comes from [`PublicUrls`], never from the request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::{format_instant, Clock, IdpMetadata, OutgoingMessage as _, ReplayCache, Verifier};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{Auditor, Caller};
use crate::error::{PortError, VaultError};
use crate::idp::{Idp, IdpId, RequestBinding, SsoSettings};
use crate::mapping;
use crate::model::{random_hex, Org, OrgId, OrgStatus};
use crate::ports::{
    AuditLog, DecryptDataKey, LoginStateStore, ReplayStore, SessionStore, SsoConfigReader,
};
use crate::sp_key::{KeyCache, KeyState, KeyUse, SpKey};
use crate::token::{Claims, Identity, TOKEN_TTL_SECS};

/// How long a started login may take (IdP password, MFA), seconds.
pub const LOGIN_TTL_SECS: i64 = 15 * 60;
/// Longest RelayState read at all (an IdP-initiated one names a return URL).
pub const MAX_RELAY_INPUT: usize = 2048;
/// Largest `SAMLResponse` form field, bytes (base64 of the verifier's 1 MiB limit).
pub const MAX_SAML_RESPONSE: usize = 1_400_000;

/// What a stored request is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatePurpose {
    #[default]
    Login,
    Logout,
}

/// `REQ#{relay_state}` / `REQ`: a login (or an SP-initiated logout) in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    #[serde(default)]
    pub purpose: StatePurpose,
    pub relay_state: String,
    pub org: OrgId,
    pub idp: IdpId,
    pub request_id: String,
    pub return_to: String,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
}

/// `SESS#{id}` / `S`: a signed-in user, for logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub org: OrgId,
    pub idp: IdpId,
    pub subject: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub created_at: String,
    /// Unix seconds; also the item's TTL attribute.
    pub expires_at: i64,
}

/// The deployment's public base URL (`https://sso.example.com`, no trailing slash): every
/// entity ID, ACS URL and issuer derives from it, never from the request's Host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    base: String,
}

impl PublicUrls {
    pub fn new(base: &str, allow_loopback_http: bool) -> Result<Self, VaultError> {
        crate::idp::web_url("public base URL", base, allow_loopback_http)?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
        })
    }
    pub fn base(&self) -> &str {
        &self.base
    }
    /// The token issuer of an organisation.
    pub fn issuer(&self, org: &OrgId) -> String {
        format!("{}/o/{org}", self.base)
    }
    /// Our entity ID towards one IdP: its metadata URL.
    pub fn sp_entity_id(&self, org: &OrgId, idp: &IdpId) -> String {
        format!("{}/o/{org}/idp/{idp}/metadata", self.base)
    }
    pub fn acs_url(&self, org: &OrgId, idp: &IdpId) -> String {
        format!("{}/o/{org}/idp/{idp}/acs", self.base)
    }
    pub fn slo_url(&self, org: &OrgId, idp: &IdpId) -> String {
        format!("{}/o/{org}/idp/{idp}/slo", self.base)
    }
    pub fn login_url(&self, org: &OrgId) -> String {
        format!("{}/o/{org}/login", self.base)
    }
}

/// Every way a login fails, each with a stable code for the audit log. The browser sees only
/// a generic page and the correlation ID.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("organisation not found")]
    OrgNotFound,
    #[error("organisation is not active")]
    OrgInactive,
    #[error("organisation has no SSO settings")]
    SsoNotConfigured,
    #[error("IdP not found")]
    IdpNotFound,
    #[error("no IdP chosen, none for the login hint's domain, and no default")]
    NoIdpForLogin,
    #[error("return URL is not allowed")]
    ReturnToNotAllowed,
    #[error("the IdP has no endpoint for the configured binding")]
    IdpEndpointMissing,
    #[error("no active {0} key")]
    SpKeyMissing(&'static str),
    #[error("no login in flight for this RelayState (unknown, used or expired)")]
    RequestStateUnknown,
    #[error("the login in flight has expired")]
    RequestStateExpired,
    #[error("the login in flight belongs to another IdP")]
    RequestStateMismatch,
    #[error("unsolicited responses are not allowed from this IdP")]
    UnsolicitedNotAllowed,
    #[error("{0}")]
    Saml(#[from] saml::Error),
    #[error("IdP configuration is unusable: {0}")]
    IdpConfig(String),
    #[error("the assertion carries no subject under the IdP's mapping")]
    SubjectMissing,
    #[error("a claim is larger than samlgate copies into tokens")]
    ClaimTooLarge,
    #[error("subject does not match the IdP's subject pattern")]
    SubjectRejected,
    #[error("user is not in the required group")]
    GroupRequired,
    #[error("AuthnContextClassRef is not accepted")]
    AuthnContextRejected,
    #[error("no such session for this IdP")]
    SessionUnknown,
    #[error("the IdP reported that logout failed: {0}")]
    LogoutFailed(String),
    #[error("{0}")]
    Vault(#[from] VaultError),
}

impl From<PortError> for SsoError {
    fn from(e: PortError) -> Self {
        Self::Vault(VaultError::Port(e))
    }
}

impl SsoError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::OrgNotFound => "org_not_found",
            Self::OrgInactive => "org_inactive",
            Self::SsoNotConfigured => "sso_not_configured",
            Self::IdpNotFound => "idp_not_found",
            Self::NoIdpForLogin => "no_idp_for_login",
            Self::ReturnToNotAllowed => "return_to_not_allowed",
            Self::IdpEndpointMissing => "idp_endpoint_missing",
            Self::SpKeyMissing(_) => "sp_key_missing",
            Self::RequestStateUnknown => "request_state_unknown",
            Self::RequestStateExpired => "request_state_expired",
            Self::RequestStateMismatch => "request_state_mismatch",
            Self::UnsolicitedNotAllowed => "unsolicited_not_allowed",
            Self::Saml(e) => e.code(),
            Self::IdpConfig(_) => "idp_config_invalid",
            Self::SubjectMissing => "subject_missing",
            Self::ClaimTooLarge => "claim_too_large",
            Self::SubjectRejected => "subject_rejected",
            Self::GroupRequired => "group_required",
            Self::AuthnContextRejected => "authn_context_rejected",
            Self::SessionUnknown => "session_unknown",
            Self::LogoutFailed(_) => "logout_failed",
            Self::Vault(e) => e.code(),
        }
    }

    /// The status of the browser's error page.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::OrgNotFound | Self::IdpNotFound | Self::SsoNotConfigured => 404,
            Self::OrgInactive
            | Self::SubjectRejected
            | Self::GroupRequired
            | Self::AuthnContextRejected => 403,
            Self::IdpEndpointMissing | Self::SpKeyMissing(_) | Self::IdpConfig(_) => 500,
            Self::Saml(saml::Error::ReplayCacheUnavailable(_)) => 503,
            Self::Vault(e) => match e.http_status() {
                s if s >= 500 => s,
                _ => 500,
            },
            _ => 400,
        }
    }

    /// Codes of this layer (the SAML core's and the vault's are listed by their own types).
    pub const CODES: &'static [&'static str] = &[
        "sso_not_configured",
        "idp_not_found",
        "no_idp_for_login",
        "return_to_not_allowed",
        "idp_endpoint_missing",
        "sp_key_missing",
        "request_state_unknown",
        "request_state_expired",
        "request_state_mismatch",
        "unsolicited_not_allowed",
        "idp_config_invalid",
        "subject_missing",
        "claim_too_large",
        "subject_rejected",
        "group_required",
        "authn_context_rejected",
        "session_unknown",
        "logout_failed",
    ];
}

/// `GET /o/{org}/login` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LoginQuery {
    pub idp: Option<String>,
    pub login_hint: Option<String>,
    pub return_to: Option<String>,
}

/// How the browser goes on to the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDelivery {
    /// HTTP-Redirect binding: a 302 to this URL.
    Redirect { location: String },
    /// HTTP-POST binding: an auto-submitting form.
    Post {
        url: String,
        saml_request: String,
        relay_state: String,
    },
}

/// A finished login: post `token` (as `id_token`) to `return_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub return_to: String,
    pub token: String,
    pub session_id: String,
    pub identity: Identity,
}

/// acs's capabilities.
pub struct Sso<'a> {
    pub config: &'a dyn SsoConfigReader,
    pub logins: &'a dyn LoginStateStore,
    pub replay: &'a dyn ReplayStore,
    pub sessions: &'a dyn SessionStore,
    pub kms: &'a dyn DecryptDataKey,
    pub keys: &'a KeyCache,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub urls: &'a PublicUrls,
}

/// Collects the verifier's one-time-use question so acs can ask DynamoDB (async) right after
/// the verifier is done, before anything else happens with the assertion.
#[derive(Default)]
struct DeferredReplay(Mutex<Option<(String, String, OffsetDateTime)>>);

impl ReplayCache for DeferredReplay {
    fn insert_once(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<bool, String> {
        let mut slot = self
            .0
            .lock()
            .map_err(|_| "replay slot poisoned".to_owned())?;
        *slot = Some((issuer.to_owned(), assertion_id.to_owned(), expires_at));
        Ok(true)
    }
}

impl Sso<'_> {
    /// Starts a login: chooses the IdP, stores the request state, builds the (signed) request.
    pub async fn login(
        &self,
        caller: &Caller,
        org: &OrgId,
        query: &LoginQuery,
    ) -> Result<LoginDelivery, SsoError> {
        let mut facts = BTreeMap::new();
        let result = self.login_inner(org, query, &mut facts).await;
        self.record(org, caller, "sso.login_start", result.as_ref().err(), facts)
            .await;
        result
    }

    async fn login_inner(
        &self,
        org: &OrgId,
        query: &LoginQuery,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<LoginDelivery, SsoError> {
        let org_record = self.active_org(org).await?;
        let settings = self
            .config
            .sso_settings(org)
            .await?
            .ok_or(SsoError::SsoNotConfigured)?;
        let return_to = return_url(&settings, query.return_to.as_deref())?;
        let idp_id = choose_idp(&settings, query)?;
        facts.insert("idp".into(), idp_id.to_string());
        let idp = self.known_idp(org, &idp_id).await?;
        let sso_url = idp
            .sso_url()
            .ok_or(SsoError::IdpEndpointMissing)?
            .to_owned();

        let now = self.clock.now();
        let request_id = saml::new_request_id().map_err(|e| SsoError::IdpConfig(e.to_string()))?;
        let relay_state = random_hex(16)?;
        let sp_entity_id = self.urls.sp_entity_id(org, &idp_id);
        let acs_url = self.urls.acs_url(org, &idp_id);
        let request = saml::AuthnRequest {
            id: &request_id,
            issue_instant: now,
            destination: &sso_url,
            acs_url: &acs_url,
            sp_entity_id: &sp_entity_id,
            name_id_format: idp.settings.name_id_format.as_deref(),
            force_authn: false,
        };
        let signing_pem = if idp.settings.sign_requests {
            let key = self.active_key(org, &idp_id, KeyUse::Signing).await?;
            Some(
                self.keys
                    .private_pem(self.kms, &org_record, &key, self.clock)
                    .await?,
            )
        } else {
            None
        };
        let delivery = match idp.settings.request_binding {
            RequestBinding::Redirect => {
                let signer = signing_pem
                    .as_ref()
                    .map(|pem| saml::RequestSigner::from_pem(pem.as_bytes()))
                    .transpose()
                    .map_err(|e| SsoError::IdpConfig(e.to_string()))?;
                let location = saml::redirect_url(
                    &sso_url,
                    &request.to_xml(),
                    Some(&relay_state),
                    signer.as_ref(),
                )
                .map_err(|e| SsoError::IdpConfig(e.to_string()))?;
                LoginDelivery::Redirect { location }
            }
            RequestBinding::Post => {
                let xml = match &signing_pem {
                    Some(pem) => {
                        let signer = saml::XmlSigner::from_pem(pem.as_bytes(), None)
                            .map_err(|e| SsoError::IdpConfig(e.to_string()))?;
                        request
                            .to_signed_xml(&signer)
                            .map_err(|e| SsoError::IdpConfig(e.to_string()))?
                    }
                    None => request.to_xml(),
                };
                LoginDelivery::Post {
                    url: sso_url,
                    saml_request: B64.encode(xml),
                    relay_state: relay_state.clone(),
                }
            }
        };
        self.store_state(
            StatePurpose::Login,
            relay_state,
            org,
            &idp_id,
            &request_id,
            return_to,
        )
        .await?;
        facts.insert("request_id".into(), request_id);
        Ok(delivery)
    }

    /// Consumes a Response posted to `/o/{org}/idp/{idp}/acs`.
    pub async fn consume(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp: &IdpId,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Result<Delivery, SsoError> {
        let mut facts = BTreeMap::from([("idp".to_owned(), idp.to_string())]);
        let result = self
            .consume_inner(org, idp, saml_response, relay_state, &mut facts)
            .await;
        if let Ok(delivery) = &result {
            facts.insert("session_id".into(), delivery.session_id.clone());
            facts.insert("subject".into(), delivery.identity.subject.clone());
        }
        self.record(org, caller, "sso.login", result.as_ref().err(), facts)
            .await;
        result
    }

    async fn consume_inner(
        &self,
        org: &OrgId,
        idp_id: &IdpId,
        saml_response: &str,
        relay_state: Option<&str>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<Delivery, SsoError> {
        if saml_response.is_empty() || saml_response.len() > MAX_SAML_RESPONSE {
            return Err(SsoError::InvalidRequest(
                "SAMLResponse is missing or too large".into(),
            ));
        }
        if relay_state.is_some_and(|r| r.len() > MAX_RELAY_INPUT) {
            return Err(SsoError::InvalidRequest("RelayState is too long".into()));
        }
        let (org_record, idp) = self.idp_and_org(org, idp_id).await?;
        let settings = self
            .config
            .sso_settings(org)
            .await?
            .ok_or(SsoError::SsoNotConfigured)?;
        let now = self.clock.now();

        // The login in flight, taken exactly once, or an unsolicited response.
        let (request_id, return_to) = self
            .solicited_or_not(org, &idp, &settings, relay_state)
            .await?;
        facts.insert(
            "request_id".into(),
            request_id.clone().unwrap_or_else(|| "unsolicited".into()),
        );

        // Verify (DESIGN.md §5, steps 0–7), then one-time use in DynamoDB.
        let verifier = self.verifier(&org_record, &idp).await?;
        let deferred = DeferredReplay::default();
        let assertion = verifier.verify(
            saml_response.as_bytes(),
            request_id.as_deref(),
            self.clock,
            &deferred,
        )?;
        facts.insert("assertion_id".into(), assertion.assertion_id().to_owned());
        let (issuer, assertion_id, expires_at) =
            deferred.0.into_inner().ok().flatten().ok_or_else(|| {
                SsoError::Saml(saml::Error::ReplayCacheUnavailable("no answer".into()))
            })?;
        match self
            .replay
            .insert_once(org, &issuer, &assertion_id, expires_at.unix_timestamp())
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(SsoError::Saml(saml::Error::Replayed(assertion_id))),
            Err(e) => {
                return Err(SsoError::Saml(saml::Error::ReplayCacheUnavailable(
                    e.to_string(),
                )))
            }
        }

        // Step 8: mapping and rules.
        let identity = mapping::identity(&assertion, &idp.settings)?;
        mapping::check_rules(&identity, &assertion, &idp.settings)?;

        // Session, then the application token.
        let session_until = assertion
            .session_not_on_or_after()
            .map(|t| t.unix_timestamp())
            .unwrap_or(i64::MAX)
            .min(now.unix_timestamp() + i64::from(settings.session_ttl_secs));
        let session = Session {
            id: format!("s-{}", random_hex(12)?),
            org: org.clone(),
            idp: idp_id.clone(),
            subject: identity.subject.clone(),
            name_id: assertion.name_id().value.clone(),
            name_id_format: assertion.name_id().format.clone(),
            session_index: assertion.session_index().map(str::to_owned),
            created_at: format_instant(now),
            expires_at: session_until,
        };
        self.sessions.create_session(&session).await?;

        let token_key = self.active_token_key(org).await?;
        let signer = self
            .keys
            .token_signer(self.kms, &org_record, &token_key, self.clock)
            .await?;
        let iat = now.unix_timestamp();
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
            iat,
            nbf: iat,
            exp: iat + TOKEN_TTL_SECS,
            jti: random_hex(12)?,
        };
        let token = signer.sign(&claims)?;
        Ok(Delivery {
            return_to,
            token,
            session_id: session.id,
            identity,
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
    ) -> Result<(Option<String>, String), SsoError> {
        if let Some(r) = relay_state {
            if let Some(state) = self
                .take_state(r, org, &idp.idp, StatePurpose::Login)
                .await?
            {
                return Ok((Some(state.request_id), state.return_to));
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
            requested => Ok((
                None,
                return_url(settings, requested.filter(|r| !r.is_empty()))?,
            )),
        }
    }

    /// Takes the request stored under `relay_state`, once, and checks that it belongs to this
    /// organisation, IdP and purpose and has not expired. `None`: nothing is stored under it
    /// (or it is not a RelayState samlgate makes).
    pub(crate) async fn take_state(
        &self,
        relay_state: &str,
        org: &OrgId,
        idp: &IdpId,
        purpose: StatePurpose,
    ) -> Result<Option<LoginState>, SsoError> {
        if !is_state_key(relay_state) {
            return Ok(None);
        }
        let Some(state) = self.logins.take_login(relay_state).await? else {
            return Ok(None);
        };
        if &state.org != org || &state.idp != idp || state.purpose != purpose {
            return Err(SsoError::RequestStateMismatch);
        }
        if state.expires_at <= self.clock.now().unix_timestamp() {
            return Err(SsoError::RequestStateExpired);
        }
        Ok(Some(state))
    }

    /// Stores a request in flight under `relay_state` for [`LOGIN_TTL_SECS`].
    pub(crate) async fn store_state(
        &self,
        purpose: StatePurpose,
        relay_state: String,
        org: &OrgId,
        idp: &IdpId,
        request_id: &str,
        return_to: String,
    ) -> Result<(), SsoError> {
        let state = LoginState {
            purpose,
            relay_state,
            org: org.clone(),
            idp: idp.clone(),
            request_id: request_id.to_owned(),
            return_to,
            expires_at: self.clock.now().unix_timestamp() + LOGIN_TTL_SECS,
        };
        Ok(self.logins.put_login(&state).await?)
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
        let certificates = signing_certificates(idp)?;
        let metadata = IdpMetadata {
            entity_id: idp.entity_id.clone(),
            signing_certificates: certificates,
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
        let mut verifier =
            Verifier::new(&metadata, sp, policy).map_err(|e| SsoError::IdpConfig(e.to_string()))?;
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
                .map_err(|e| SsoError::IdpConfig(e.to_string()))?;
        }
        Ok(self.keys.keep_verifier(cache_key, verifier, now))
    }

    pub(crate) async fn active_org(&self, org: &OrgId) -> Result<Org, SsoError> {
        let record = self
            .config
            .get_org(org)
            .await?
            .ok_or(SsoError::OrgNotFound)?;
        if record.status != OrgStatus::Active {
            return Err(SsoError::OrgInactive);
        }
        Ok(record)
    }

    /// The IdP record, or `idp_not_found`.
    pub(crate) async fn known_idp(&self, org: &OrgId, idp: &IdpId) -> Result<Idp, SsoError> {
        self.config
            .idp(org, idp)
            .await?
            .ok_or(SsoError::IdpNotFound)
    }

    /// The active organisation and one of its IdPs: where every ACS and logout step starts.
    pub(crate) async fn idp_and_org(
        &self,
        org: &OrgId,
        idp: &IdpId,
    ) -> Result<(Org, Idp), SsoError> {
        let org_record = self.active_org(org).await?;
        Ok((org_record, self.known_idp(org, idp).await?))
    }

    pub(crate) async fn active_key(
        &self,
        org: &OrgId,
        idp: &IdpId,
        usage: KeyUse,
    ) -> Result<SpKey, SsoError> {
        self.config
            .sp_keys(org, Some(idp))
            .await?
            .into_iter()
            .find(|k| k.usage == usage && k.state == KeyState::Active)
            .ok_or(SsoError::SpKeyMissing(usage.as_str()))
    }

    async fn active_token_key(&self, org: &OrgId) -> Result<SpKey, SsoError> {
        self.config
            .sp_keys(org, None)
            .await?
            .into_iter()
            .find(|k| k.usage == KeyUse::Token && k.state == KeyState::Active)
            .ok_or(SsoError::SpKeyMissing("token"))
    }

    /// One audit item per login step, with the reason code on failure. Requests for an
    /// organisation that does not exist are only logged (no items in unknown partitions).
    pub(crate) async fn record(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        error: Option<&SsoError>,
        facts: BTreeMap<String, String>,
    ) {
        if let Some(e) = error {
            tracing::warn!(code = e.code(), org = %org, action, correlation_id = %caller.correlation_id, error = %e, "login step failed");
            if matches!(e, SsoError::OrgNotFound) {
                return;
            }
        }
        let auditor = Auditor {
            log: self.audit,
            clock: self.clock,
        };
        let reason = error.map(SsoError::code);
        auditor
            .keep(auditor.event_with_reason(org, caller, action, None, reason, facts))
            .await;
    }
}

/// The IdP's configured signing certificates, DER.
pub(crate) fn signing_certificates(idp: &Idp) -> Result<Vec<Vec<u8>>, SsoError> {
    idp.signing_certificates
        .iter()
        .map(|c| {
            B64.decode(c)
                .map_err(|_| SsoError::IdpConfig("signing certificate".into()))
        })
        .collect()
}

/// `requested` if it is exactly an allowed return URL; the first allowed one if none was asked.
pub(crate) fn return_url(
    settings: &SsoSettings,
    requested: Option<&str>,
) -> Result<String, SsoError> {
    match requested {
        Some(url) if settings.allowed_return(url) => Ok(url.to_owned()),
        Some(_) => Err(SsoError::ReturnToNotAllowed),
        None => settings
            .return_urls
            .first()
            .cloned()
            .ok_or(SsoError::SsoNotConfigured),
    }
}

/// A RelayState samlgate made: 32 lowercase hex digits.
pub(crate) fn is_state_key(relay_state: &str) -> bool {
    relay_state.len() == 32
        && relay_state
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// Explicit IdP, else the login hint's email domain, else the organisation's default.
fn choose_idp(settings: &SsoSettings, query: &LoginQuery) -> Result<IdpId, SsoError> {
    if let Some(idp) = &query.idp {
        return IdpId::parse(idp).map_err(|_| SsoError::IdpNotFound);
    }
    if let Some(hint) = &query.login_hint {
        if hint.len() > 320 {
            return Err(SsoError::InvalidRequest("login_hint is too long".into()));
        }
        if let Some((_, domain)) = hint.rsplit_once('@') {
            if let Some(idp) = settings.domain_hints.get(&domain.to_ascii_lowercase()) {
                return Ok(idp.clone());
            }
        }
    }
    settings.default_idp.clone().ok_or(SsoError::NoIdpForLogin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_codes_are_unique_and_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md");
        let mut seen = std::collections::BTreeSet::new();
        for code in SsoError::CODES {
            assert!(seen.insert(code), "{code} twice");
            assert!(
                readme.contains(&format!("`{code}`")),
                "README does not document {code}"
            );
        }
    }

    #[test]
    fn idp_choice_follows_explicit_then_hint_then_default() {
        let settings = SsoSettings {
            return_urls: vec!["https://app.example.com/cb".into()],
            app_audience: "app".into(),
            domain_hints: BTreeMap::from([("acme.example".into(), IdpId::parse("okta").unwrap())]),
            default_idp: Some(IdpId::parse("entra").unwrap()),
            session_ttl_secs: 3600,
            rotation: Default::default(),
        };
        let q = |idp: Option<&str>, hint: Option<&str>| LoginQuery {
            idp: idp.map(Into::into),
            login_hint: hint.map(Into::into),
            return_to: None,
        };
        assert_eq!(
            choose_idp(&settings, &q(Some("adfs"), Some("a@acme.example")))
                .unwrap()
                .as_str(),
            "adfs"
        );
        assert_eq!(
            choose_idp(&settings, &q(None, Some("a@ACME.example")))
                .unwrap()
                .as_str(),
            "okta"
        );
        assert_eq!(
            choose_idp(&settings, &q(None, Some("a@other.example")))
                .unwrap()
                .as_str(),
            "entra"
        );
        assert!(matches!(
            choose_idp(&settings, &q(Some("Bad!"), None)),
            Err(SsoError::IdpNotFound)
        ));
    }

    #[test]
    fn only_samlgate_relay_states_are_looked_up() {
        assert!(is_state_key(&"a".repeat(32)));
        assert!(!is_state_key("https://app.example.com/cb"));
        assert!(!is_state_key(&"A".repeat(32)));
    }
}
