//! samlgate's SSO runtime (DESIGN.md §5, §6): what the acs function does.
//!
//! - [`oidc`], [`grant`], [`end_session`]: the OpenID Connect provider every application
//!   signs in through (authorize, token, userinfo, logout);
//! - [`login`]: choose the IdP, store the login server-side under a RelayState, send a signed
//!   AuthnRequest (for `authorize`, or an administrator's test sign-in);
//! - [`acs`]: take the login once, verify the Response, record the assertion once
//!   ([`FreshAssertion`](samlgate_domain::one_time::FreshAssertion)), map and check it,
//!   create the session and the client's one-time code;
//! - [`logout`]: single logout in both directions, messages read only through their verified
//!   form;
//! - [`mapping`], [`token`], [`key_cache`]: what a login is turned into, and the unwrapped
//!   keys acs keeps for a bounded time.
//!
//! acs's capabilities are the fields of [`Sso`]: configuration reads, its three stores, audit,
//! and `DecryptDataKey` for SP keys only (the key policy allows acs `purpose=sp-key` and
//! nothing else). Every URL it compares or sends comes from [`PublicUrls`], never from the
//! request.

pub mod acs;
pub mod end_session;
mod error;
pub mod grant;
pub mod key_cache;
pub mod login;
pub mod logout;
pub mod mapping;
pub mod oidc;
pub mod token;

use std::collections::BTreeMap;

use samlgate_domain::audit::AuditEvent;
use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::idp::{Idp, SsoSettings};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::ports::{
    AccessTokenStore, AuditLog, BackChannel, ClientReader, CodeStore, DecryptDataKey,
    LoginStateStore, LoginSteps, Metrics, ReplayStore, SessionStore, SsoConfigReader,
};
use samlgate_domain::session::{LoginState, StatePurpose};
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey};
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::VaultError;

pub use error::SsoError;
pub use key_cache::KeyCache;

/// How long a started login may take (IdP password, MFA), seconds.
pub const LOGIN_TTL_SECS: i64 = 15 * 60;
/// Days an aggregate of anonymous login failures is kept (DynamoDB TTL `expires_at`).
pub const ANONYMOUS_FAILURE_DAYS: i64 = 30;
/// Longest RelayState read at all (an IdP-initiated one names a client).
pub const MAX_RELAY_INPUT: usize = 2048;
/// Largest `SAMLResponse` form field, bytes (base64 of the verifier's 1 MiB limit).
pub const MAX_SAML_RESPONSE: usize = 1_400_000;

/// acs's capabilities.
pub struct Sso<'a> {
    pub config: &'a dyn SsoConfigReader,
    /// The write that ends each leg of a login (authorize, ACS, token), audit item included.
    pub steps: &'a dyn LoginSteps,
    pub logins: &'a dyn LoginStateStore,
    pub replay: &'a dyn ReplayStore,
    pub sessions: &'a dyn SessionStore,
    pub clients: &'a dyn ClientReader,
    pub codes: &'a dyn CodeStore,
    pub access: &'a dyn AccessTokenStore,
    /// Back-channel logout tokens to clients (HTTPS POST).
    pub backchannel: &'a dyn BackChannel,
    pub kms: &'a dyn DecryptDataKey,
    pub keys: &'a KeyCache,
    pub audit: &'a dyn AuditLog,
    /// `AlgorithmExceptionsUsed`, per organisation and IdP.
    pub metrics: &'a dyn Metrics,
    pub clock: &'a dyn Clock,
    pub urls: &'a PublicUrls,
}

impl Sso<'_> {
    /// The organisation's SSO settings, or `sso_not_configured`.
    async fn settings(&self, org: &OrgId) -> Result<SsoSettings, SsoError> {
        Ok(self
            .config
            .sso_settings(org)
            .await?
            .ok_or(VaultError::SsoNotConfigured)?)
    }

    /// The IdP record, or `idp_not_found`.
    async fn known_idp(&self, org: &OrgId, idp: &IdpId) -> Result<Idp, SsoError> {
        Ok(self
            .config
            .idp(org, idp)
            .await?
            .ok_or(VaultError::IdpNotFound)?)
    }

    /// The active organisation and one of its IdPs: where every ACS and logout step starts.
    async fn idp_and_org(&self, org: &OrgId, idp: &IdpId) -> Result<(Org, Idp), SsoError> {
        let org_record = self.config.active_org(org).await?;
        Ok((org_record, self.known_idp(org, idp).await?))
    }

    /// The IdP's active SP key for `usage`.
    async fn active_key(&self, org: &OrgId, idp: &IdpId, usage: KeyUse) -> Result<SpKey, SsoError> {
        self.config
            .sp_keys(org, Some(idp))
            .await?
            .into_iter()
            .find(|k| k.usage == usage && k.state == KeyState::Active)
            .ok_or(SsoError::SpKeyMissing(usage.as_str()))
    }

    /// Takes the request stored under `relay_state`, once, and checks that it belongs to this
    /// organisation, IdP and purpose and has not expired. `None`: nothing is stored under it
    /// (or it is not a RelayState samlgate makes).
    async fn take_state(
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
        self.check_state(state, org, idp, purpose).map(Some)
    }

    /// A stored request, if it belongs to this organisation, IdP and purpose and has not
    /// expired.
    fn check_state(
        &self,
        state: LoginState,
        org: &OrgId,
        idp: &IdpId,
        purpose: StatePurpose,
    ) -> Result<LoginState, SsoError> {
        if &state.org != org || &state.idp != idp || state.purpose != purpose {
            return Err(SsoError::RequestStateMismatch);
        }
        if state.expires_at <= self.clock.now().unix_timestamp() {
            return Err(SsoError::RequestStateExpired);
        }
        Ok(state)
    }

    /// Takes a login in flight whose post failed, so that its RelayState serves no other
    /// post. A failure to take it is logged: the state still expires within
    /// [`LOGIN_TTL_SECS`], and it only ever lets the login it was made for complete.
    async fn burn_state(&self, relay_state: &str, caller: &Caller) {
        if let Err(e) = self.logins.take_login(relay_state).await {
            tracing::error!(code = e.code(), correlation_id = %caller.correlation_id, error = %e, "login state not taken after a failed post");
        }
    }

    /// The audit item of a step that succeeded, written with the step's own write.
    fn success_event(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        facts: BTreeMap<String, String>,
    ) -> AuditEvent {
        Auditor {
            log: self.audit,
            clock: self.clock,
        }
        .event_with_reason(org, caller, action, None, None, facts)
    }

    /// A request in flight under `relay_state`, valid for [`LOGIN_TTL_SECS`] (the caller adds
    /// what an OIDC login carries, then stores it).
    fn new_state(
        &self,
        purpose: StatePurpose,
        relay_state: String,
        org: &OrgId,
        idp: &IdpId,
        request_id: &str,
        return_to: String,
    ) -> LoginState {
        LoginState {
            purpose,
            relay_state,
            org: org.clone(),
            idp: idp.clone(),
            request_id: request_id.to_owned(),
            return_to,
            expires_at: self.clock.now().unix_timestamp() + LOGIN_TTL_SECS,
            authorize: None,
            browser: None,
            diagnostics: false,
        }
    }

    /// One audit item per login step, with the reason code on failure. Requests for an
    /// organisation that does not exist are only logged (no items in unknown partitions).
    async fn record(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        error: Option<&SsoError>,
        facts: BTreeMap<String, String>,
    ) {
        if let Some(e) = error {
            tracing::warn!(code = e.code(), org = %org, action, correlation_id = %caller.correlation_id, error = %e, "login step failed");
        }
        let org_unknown = matches!(error, Some(SsoError::Vault(VaultError::OrgNotFound)));
        self.record_reason(
            org,
            caller,
            action,
            error.map(SsoError::code),
            org_unknown,
            facts,
        )
        .await;
    }

    /// A failure before anything was verified (a junk post, another browser's Response, a
    /// broken signature) counts into its minute's aggregate: one audit item per organisation,
    /// IdP, reason and minute, kept [`ANONYMOUS_FAILURE_DAYS`] days, so that a flood of posts
    /// cannot push real events out of sight (issue 17 §4). `idp` is `None` when the path named
    /// no IdP of the organisation (its name is not kept: anyone can make up names).
    async fn count_anonymous_failure(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        error: &SsoError,
        idp: Option<&String>,
    ) {
        tracing::warn!(code = error.code(), org = %org, action, correlation_id = %caller.correlation_id, error = %error, "login step failed");
        if matches!(error, SsoError::Vault(VaultError::OrgNotFound)) {
            return;
        }
        let now = self.clock.now();
        let minute = now
            - time::Duration::nanoseconds(i64::from(now.nanosecond()))
            - time::Duration::seconds(i64::from(now.second()));
        let auditor = Auditor {
            log: self.audit,
            clock: self.clock,
        };
        let facts = BTreeMap::from([(
            "idp".to_owned(),
            idp.cloned().unwrap_or_else(|| "-".to_owned()),
        )]);
        let mut event =
            auditor.event_with_reason(org, caller, action, None, Some(error.code()), facts);
        event.at = format_instant(minute);
        event.last_at = Some(format_instant(now));
        let expires_at = (now + time::Duration::days(ANONYMOUS_FAILURE_DAYS)).unix_timestamp();
        if let Err(e) = self.audit.count_failure(&event, expires_at).await {
            tracing::error!(code = "audit_unavailable", org = %org, action, correlation_id = %caller.correlation_id, error = %e, "audit aggregate not written");
        }
    }

    /// [`Sso::record`] with the reason given as its code.
    async fn record_reason(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        reason: Option<&str>,
        org_unknown: bool,
        facts: BTreeMap<String, String>,
    ) {
        if org_unknown {
            return;
        }
        let auditor = Auditor {
            log: self.audit,
            clock: self.clock,
        };
        auditor
            .keep(auditor.event_with_reason(org, caller, action, None, reason, facts))
            .await;
    }
}

/// The IdP's configured signing certificates, DER.
fn signing_certificates(idp: &Idp) -> Result<Vec<Vec<u8>>, SsoError> {
    idp.signing_certificates_der()
        .ok_or_else(|| SsoError::IdpConfig("signing certificate".into()))
}

/// A RelayState samlgate made: 32 lowercase hex digits.
pub(crate) fn is_state_key(relay_state: &str) -> bool {
    relay_state.len() == 32
        && relay_state
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// A fresh protocol message ID (AuthnRequest, LogoutRequest, LogoutResponse).
fn new_message_id() -> Result<String, SsoError> {
    saml::new_request_id().map_err(|_| VaultError::Internal("random generator").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_samlgate_relay_states_are_looked_up() {
        assert!(is_state_key(&"a".repeat(32)));
        assert!(!is_state_key("https://app.example.com/cb"));
        assert!(!is_state_key(&"A".repeat(32)));
    }
}
