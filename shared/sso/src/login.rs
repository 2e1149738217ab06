//! How every SAML login starts: choose the IdP, store the login server-side under a fresh
//! RelayState, and send a signed AuthnRequest (HTTP-Redirect with a query signature, or
//! HTTP-POST with an enveloped one). The state is found by its RelayState, not by a cookie
//! (SameSite-dropped cookies break InResponseTo, DESIGN.md §9); the browser binding cookie
//! only proves, at the ACS, that the browser is the one that started the login.
//!
//! Two things start one: an OIDC client's `authorize` ([`crate::oidc`]), and
//! `GET /o/{org}/login`, an administrator's **test sign-in**. A test sign-in runs the whole
//! SAML login (binding, verification, one-time use, mapping and rules) and then shows the
//! identity a client would receive; it issues no code, token or session.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::OutgoingMessage as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::idp::{RequestBinding, SsoSettings};
use samlgate_domain::ids::{random_hex, sha256_hex, IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::session::{AuthorizeRequest, StatePurpose};
use samlgate_domain::sp_key::KeyUse;
use samlgate_domain::VaultError;
use serde::Deserialize;

use crate::{new_message_id, Sso, SsoError};

/// The audit action of a test sign-in's start.
const LOGIN_START: &str = "sso.login_start";

/// `GET /o/{org}/login` parameters (and the IdP choice of `authorize`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LoginQuery {
    pub idp: Option<String>,
    pub login_hint: Option<String>,
    /// A diagnostic ticket from admin (`POST …/idps/{idp}/test-sign-in`): a failure of this
    /// test sign-in shows its reason to this browser. Unknown, expired or for another IdP: the
    /// sign-in goes on without (a failure then shows the generic page).
    pub diagnostics: Option<String>,
}

/// A test sign-in on its way to the IdP, and the browser binding cookie to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestLogin {
    pub delivery: LoginDelivery,
    pub binding: String,
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

impl Sso<'_> {
    /// Starts a test sign-in: chooses the IdP, binds the login to the browser (`binding`: the
    /// value of its binding cookie, if it sent one), stores the request state and builds the
    /// (signed) request.
    pub async fn login(
        &self,
        caller: &Caller,
        org: &OrgId,
        query: &LoginQuery,
        binding: Option<&str>,
    ) -> Result<TestLogin, SsoError> {
        let mut facts = BTreeMap::from([("test".to_owned(), "true".to_owned())]);
        let result = self
            .login_inner(caller, org, query, binding, &mut facts)
            .await;
        // A started login was audited with its state (start_saml_login).
        if let Err(e) = &result {
            self.record(org, caller, LOGIN_START, Some(e), facts).await;
        }
        result
    }

    async fn login_inner(
        &self,
        caller: &Caller,
        org: &OrgId,
        query: &LoginQuery,
        binding: Option<&str>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<TestLogin, SsoError> {
        // An unknown organisation first (it leaves no audit item), then its settings.
        let org_record = self.config.active_org(org).await?;
        let settings = self.settings(org).await?;
        let idp_id = choose_idp(&settings, query)?;
        let binding = browser_binding(binding)?;
        let diagnostics = match &query.diagnostics {
            Some(ticket) => self.diagnostics_allowed(org, &idp_id, ticket).await?,
            None => false,
        };
        if diagnostics {
            facts.insert("diagnostics".into(), "true".into());
        }
        let login = SamlLogin {
            authorize: None,
            browser: Some(sha256_hex(binding.as_bytes())),
            force_authn: false,
            diagnostics,
        };
        let delivery = self
            .start_saml_login(&org_record, &idp_id, login, (caller, LOGIN_START), facts)
            .await?;
        Ok(TestLogin { delivery, binding })
    }

    /// Whether `ticket` is a live diagnostic ticket of `idp` (looked up by its hash).
    async fn diagnostics_allowed(
        &self,
        org: &OrgId,
        idp: &IdpId,
        ticket: &str,
    ) -> Result<bool, SsoError> {
        if ticket.len() != 64 || !ticket.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let found = self
            .config
            .diagnostic_ticket(org, &sha256_hex(ticket.as_bytes()))
            .await?;
        let now = self.clock.now().unix_timestamp();
        Ok(found.is_some_and(|t| &t.idp == idp && now < t.expires_at))
    }

    /// Stores a login in flight under a fresh RelayState and builds the (signed) AuthnRequest
    /// to `idp`, the one way every login starts. `org_record` is the active organisation the
    /// caller has already read. The state is written with the audit item of the request that
    /// started it (`audit`: who and which action, with `facts`); a failure is the caller's
    /// to audit.
    pub(crate) async fn start_saml_login(
        &self,
        org_record: &Org,
        idp_id: &IdpId,
        login: SamlLogin,
        (caller, action): (&Caller, &str),
        facts: &mut BTreeMap<String, String>,
    ) -> Result<LoginDelivery, SsoError> {
        let org = &org_record.org;
        facts.insert("idp".into(), idp_id.to_string());
        let idp = self.known_idp(org, idp_id).await?;
        let sso_url = idp
            .sso_url()
            .ok_or(SsoError::IdpEndpointMissing)?
            .to_owned();

        let now = self.clock.now();
        let request_id = new_message_id()?;
        let relay_state = random_hex(16)?;
        let sp_entity_id = self.urls.sp_entity_id(org, idp_id);
        let acs_url = self.urls.acs_url(org, idp_id);
        let request = saml::AuthnRequest {
            id: &request_id,
            issue_instant: now,
            destination: &sso_url,
            acs_url: &acs_url,
            sp_entity_id: &sp_entity_id,
            name_id_format: idp.settings.name_id_format.as_deref(),
            force_authn: login.force_authn,
        };
        let signing_pem = if idp.settings.sign_requests {
            let key = self.active_key(org, idp_id, KeyUse::Signing).await?;
            Some(
                self.keys
                    .private_pem(self.kms, org_record, &key, self.clock)
                    .await?,
            )
        } else {
            None
        };
        // Our own SP key and message writer: a failure is ours, never the IdP's.
        let unusable = |_: saml::ConfigError| SsoError::from(VaultError::Internal("SP signing"));
        let delivery = match idp.settings.request_binding {
            RequestBinding::Redirect => {
                let signer = signing_pem
                    .as_ref()
                    .map(|pem| saml::RequestSigner::from_pem(pem.as_bytes()))
                    .transpose()
                    .map_err(unusable)?;
                let location = saml::redirect_url(
                    &sso_url,
                    &request.to_xml(),
                    Some(&relay_state),
                    signer.as_ref(),
                )
                .map_err(unusable)?;
                LoginDelivery::Redirect { location }
            }
            RequestBinding::Post => {
                let xml = match &signing_pem {
                    Some(pem) => {
                        let signer =
                            saml::XmlSigner::from_pem(pem.as_bytes(), None).map_err(unusable)?;
                        request.to_signed_xml(&signer).map_err(unusable)?
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
        let mut state = self.new_state(
            StatePurpose::Login,
            relay_state,
            org,
            idp_id,
            &request_id,
            String::new(),
        );
        state.authorize = login.authorize;
        state.browser = login.browser;
        state.diagnostics = login.diagnostics;
        facts.insert("request_id".into(), request_id);
        let event = self.success_event(org, caller, action, facts.clone());
        self.steps.start_login(&state, &event).await?;
        Ok(delivery)
    }
}

/// The binding cookie's value for a login: the one the browser sent, if it is one samlgate
/// makes (so that two tabs signing in at once both complete), else a fresh one (128 random
/// bits, hex). It is set again each time, so that it outlives the login it binds.
pub(crate) fn browser_binding(sent: Option<&str>) -> Result<String, SsoError> {
    match sent.filter(|b| crate::is_state_key(b)) {
        Some(existing) => Ok(existing.to_owned()),
        None => Ok(random_hex(16)?),
    }
}

/// How one SAML login is started: the OIDC request it answers (none: a test sign-in), the
/// browser it is bound to (SHA-256 of the cookie), whether the IdP must authenticate afresh.
#[derive(Debug, Clone, Default)]
pub(crate) struct SamlLogin {
    pub authorize: Option<AuthorizeRequest>,
    pub browser: Option<String>,
    pub force_authn: bool,
    /// A test sign-in whose failure may show its reason ([`LoginQuery::diagnostics`]).
    pub diagnostics: bool,
}

/// Explicit IdP, else the login hint's email domain, else the organisation's default.
pub(crate) fn choose_idp(settings: &SsoSettings, query: &LoginQuery) -> Result<IdpId, SsoError> {
    if let Some(idp) = &query.idp {
        return Ok(IdpId::parse(idp).map_err(|_| VaultError::IdpNotFound)?);
    }
    if let Some(hint) = &query.login_hint {
        if hint.len() > 320 {
            return Err(SsoError::invalid("login_hint is too long"));
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
    fn idp_choice_follows_explicit_then_hint_then_default() {
        let settings = SsoSettings {
            domain_hints: BTreeMap::from([("acme.example".into(), IdpId::parse("okta").unwrap())]),
            default_idp: Some(IdpId::parse("entra").unwrap()),
            session_ttl_secs: 3600,
            rotation: Default::default(),
            admin_group: None,
        };
        let q = |idp: Option<&str>, hint: Option<&str>| LoginQuery {
            idp: idp.map(Into::into),
            login_hint: hint.map(Into::into),
            diagnostics: None,
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
            Err(SsoError::Vault(VaultError::IdpNotFound))
        ));
    }
}
