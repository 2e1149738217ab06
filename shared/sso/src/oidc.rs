//! The OpenID Connect provider's front door (OIDC Core §3.1.2): `GET {issuer}/authorize`
//! checks the client and its exact redirect URI, the scope, PKCE and the prompt, binds the
//! login to the browser that started it (a cookie whose hash the login state keeps), and
//! starts the SAML login. Errors the RFCs name are answered in their words; where the
//! redirect URI is not yet proven, never by a redirect.

use std::collections::BTreeMap;

use samlgate_domain::audit::Caller;
use samlgate_domain::client::OidcClient;
use samlgate_domain::codes;
use samlgate_domain::ids::{sha256_hex, IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::session::AuthorizeRequest;

use crate::login::{browser_binding, choose_idp, LoginDelivery, LoginQuery, SamlLogin};
use crate::{Sso, SsoError};

/// Longest `state`, `nonce` or `login_hint` read.
const MAX_PARAMETER: usize = 512;
/// Longest authorize query string read at all.
const MAX_QUERY: usize = 8 * 1024;
/// The scopes that select claims; others are ignored (OIDC Core §5.4).
pub const SCOPES: &[&str] = &["openid", "email", "profile", "groups"];

/// Why a request of the OIDC endpoints is refused, with the RFC's error word for it (RFC 6749
/// §4.1.2.1, §5.2; RFC 6750 §3.1; OIDC Core §3.1.2.6). The code is the audit reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown client")]
    ClientUnknown,
    #[error("redirect_uri is not registered for this client")]
    RedirectUriNotRegistered,
    #[error("a parameter is missing, repeated, too long or malformed")]
    ParameterInvalid,
    #[error("only response_type=code is supported")]
    ResponseTypeUnsupported,
    #[error("scope must contain openid")]
    ScopeWithoutOpenid,
    #[error("a public client must send a PKCE code_challenge")]
    PkceRequired,
    #[error("only code_challenge_method=S256 is supported")]
    PkceMethodUnsupported,
    #[error("prompt=none: samlgate keeps no session to answer without the IdP")]
    LoginRequired,
    #[error("the login was refused")]
    LoginRefused,
    #[error("client authentication failed")]
    ClientAuthenticationFailed,
    #[error("only grant_type=authorization_code is supported")]
    GrantTypeUnsupported,
    #[error("the code is unknown")]
    CodeUnknown,
    #[error("the code has expired")]
    CodeExpired,
    #[error("the code was redeemed before")]
    CodeReused,
    #[error("the code belongs to another client")]
    CodeClientMismatch,
    #[error("redirect_uri differs from the authorization request's")]
    RedirectUriMismatch,
    #[error("the code_verifier does not match the code_challenge")]
    PkceMismatch,
    #[error("the code was issued with a code_challenge and no code_verifier was sent")]
    CodeVerifierMissing,
    #[error("a code_verifier was sent for a code issued without a code_challenge")]
    CodeVerifierUnexpected,
    #[error("the access token is missing, unknown or expired")]
    AccessTokenInvalid,
    #[error("id_token_hint is missing or is not an ID token of this issuer")]
    IdTokenHintInvalid,
    #[error("post_logout_redirect_uri is not registered for this client")]
    PostLogoutRedirectUriNotRegistered,
}

codes! {
    Refusal {
        ClientUnknown => "client_unknown", 400;
        RedirectUriNotRegistered => "redirect_uri_not_registered", 400;
        ParameterInvalid => "oidc_parameter_invalid", 400;
        ResponseTypeUnsupported => "response_type_unsupported", 400;
        ScopeWithoutOpenid => "scope_without_openid", 400;
        PkceRequired => "pkce_required", 400;
        PkceMethodUnsupported => "pkce_method_unsupported", 400;
        LoginRequired => "login_required", 400;
        LoginRefused => "login_refused", 400;
        ClientAuthenticationFailed => "client_authentication_failed", 401;
        GrantTypeUnsupported => "grant_type_unsupported", 400;
        CodeUnknown => "code_unknown", 400;
        CodeExpired => "code_expired", 400;
        CodeReused => "code_reused", 400;
        CodeClientMismatch => "code_client_mismatch", 400;
        RedirectUriMismatch => "redirect_uri_mismatch", 400;
        PkceMismatch => "pkce_mismatch", 400;
        CodeVerifierMissing => "code_verifier_missing", 400;
        CodeVerifierUnexpected => "code_verifier_unexpected", 400;
        AccessTokenInvalid => "access_token_invalid", 401;
        IdTokenHintInvalid => "id_token_hint_invalid", 400;
        PostLogoutRedirectUriNotRegistered => "post_logout_redirect_uri_not_registered", 400;
    }
}

impl Refusal {
    /// The RFC's error word for this refusal.
    pub fn rfc(self) -> &'static str {
        match self {
            Self::ClientUnknown
            | Self::RedirectUriNotRegistered
            | Self::ParameterInvalid
            | Self::PkceRequired
            | Self::PkceMethodUnsupported
            | Self::IdTokenHintInvalid
            | Self::PostLogoutRedirectUriNotRegistered => "invalid_request",
            Self::ResponseTypeUnsupported => "unsupported_response_type",
            Self::ScopeWithoutOpenid => "invalid_scope",
            Self::LoginRequired => "login_required",
            Self::LoginRefused => "access_denied",
            Self::ClientAuthenticationFailed => "invalid_client",
            Self::GrantTypeUnsupported => "unsupported_grant_type",
            Self::CodeUnknown
            | Self::CodeExpired
            | Self::CodeReused
            | Self::CodeClientMismatch
            | Self::RedirectUriMismatch
            | Self::PkceMismatch
            | Self::CodeVerifierMissing
            | Self::CodeVerifierUnexpected => "invalid_grant",
            Self::AccessTokenInvalid => "invalid_token",
        }
    }
}

/// A failure of an OIDC endpoint: a refusal in the RFC's words, or a failure of ours or of
/// AWS underneath (`server_error`, `temporarily_unavailable`).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("{0}")]
    Sso(#[from] SsoError),
}

impl OidcError {
    /// An unknown organisation: logged only (no audit item in an unknown partition).
    fn org_unknown(&self) -> bool {
        matches!(
            self,
            Self::Sso(SsoError::Vault(samlgate_domain::VaultError::OrgNotFound))
        )
    }

    /// The audit reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(r) => r.code(),
            Self::Sso(e) => e.code(),
        }
    }

    /// The RFC error word a client sees.
    pub fn rfc(&self) -> &'static str {
        match self {
            Self::Refused(r) => r.rfc(),
            Self::Sso(e) if e.http_status() == 503 || e.http_status() == 429 => {
                "temporarily_unavailable"
            }
            Self::Sso(e) if e.http_status() >= 500 => "server_error",
            Self::Sso(_) => "invalid_request",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::Refused(r) => r.http_status(),
            Self::Sso(e) if e.http_status() >= 500 => e.http_status(),
            Self::Sso(_) => 400,
        }
    }

    /// What the client may be told: the refusal's words, never an internal detail.
    pub fn description(&self) -> String {
        match self {
            Self::Refused(r) => r.to_string(),
            Self::Sso(e) if e.http_status() >= 500 => "the request could not be completed".into(),
            Self::Sso(e) => e.to_string(),
        }
    }
}

/// `GET {issuer}/authorize` parameters (OIDC Core §3.1.2.1), each at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeQuery {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub idp: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    /// A parameter given twice, or a query too long: refused once the redirect URI is known.
    pub malformed: bool,
}

impl AuthorizeQuery {
    pub fn parse(query: &str) -> Self {
        let mut parsed = Self::default();
        if query.len() > MAX_QUERY {
            parsed.malformed = true;
            return parsed;
        }
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "response_type" => &mut parsed.response_type,
                "client_id" => &mut parsed.client_id,
                "redirect_uri" => &mut parsed.redirect_uri,
                "scope" => &mut parsed.scope,
                "state" => &mut parsed.state,
                "nonce" => &mut parsed.nonce,
                "code_challenge" => &mut parsed.code_challenge,
                "code_challenge_method" => &mut parsed.code_challenge_method,
                "login_hint" => &mut parsed.login_hint,
                "idp" => &mut parsed.idp,
                "prompt" => &mut parsed.prompt,
                "max_age" => &mut parsed.max_age,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                parsed.malformed = true;
            }
        }
        parsed
    }
}

/// Where `authorize` sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeDelivery {
    /// To the IdP, setting the browser's binding cookie to `binding` (the value it sent, or
    /// a fresh one: set again each time, so that it outlives the login it binds).
    Login {
        delivery: LoginDelivery,
        binding: String,
    },
    /// Back to the client with `error` (and `state`): the redirect URI is proven.
    Error { location: String },
}

/// `location` with `params` appended to its query (RFC 6749 §4.1.2: the redirect URI may
/// carry a query of its own).
pub fn with_query(location: &str, params: &[(&str, &str)]) -> String {
    let mut out = location.to_owned();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    out.push(if location.contains('?') { '&' } else { '?' });
    out.push_str(&query.finish());
    out
}

/// The redirect a proven redirect URI gets for a refusal.
pub fn error_redirect(request: &AuthorizeRequest, error: &OidcError) -> String {
    let description = error.description();
    let mut params = vec![
        ("error", error.rfc()),
        ("error_description", description.as_str()),
    ];
    if let Some(state) = &request.state {
        params.push(("state", state));
    }
    with_query(&request.redirect_uri, &params)
}

fn bounded(value: &Option<String>) -> Result<(), Refusal> {
    match value {
        Some(v) if v.is_empty() || v.len() > MAX_PARAMETER => Err(Refusal::ParameterInvalid),
        _ => Ok(()),
    }
}

/// RFC 7636 §4.2: a S256 challenge is base64url of 32 bytes: 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Sso<'_> {
    /// `GET {issuer}/authorize`. `binding` is the value of the browser's binding cookie, if
    /// it sent one.
    pub async fn authorize(
        &self,
        caller: &Caller,
        org: &OrgId,
        query: &AuthorizeQuery,
        binding: Option<&str>,
    ) -> Result<AuthorizeDelivery, OidcError> {
        let mut facts = BTreeMap::new();
        let result = self
            .authorize_inner(caller, org, query, binding, &mut facts)
            .await;
        // A refusal answered by a redirect is still a refusal: its code is the reason. A
        // login on its way to the IdP was audited with its state (start_saml_login).
        let reason = match &result {
            Ok(AuthorizeDelivery::Login { .. }) => return result,
            Ok(AuthorizeDelivery::Error { .. }) => facts.remove("error"),
            Err(e) => Some(e.code().to_owned()),
        };
        self.record_oidc(
            org,
            caller,
            "oidc.authorize",
            (result.as_ref().err(), reason.as_deref()),
            facts,
        )
        .await;
        result
    }

    async fn authorize_inner(
        &self,
        caller: &Caller,
        org: &OrgId,
        query: &AuthorizeQuery,
        binding: Option<&str>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<AuthorizeDelivery, OidcError> {
        let org_record = self.config.active_org(org).await.map_err(SsoError::from)?;
        // Until the client and its exact redirect URI are known, nothing may redirect.
        let client_id = query.client_id.as_deref().unwrap_or("");
        facts.insert("client_id".into(), client_id.chars().take(64).collect());
        let client = self.client(org, client_id).await?;
        let redirect_uri = query
            .redirect_uri
            .as_deref()
            .filter(|uri| client.allows_redirect(uri))
            .ok_or(Refusal::RedirectUriNotRegistered)?;
        let request = AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state: query.state.clone().filter(|s| s.len() <= MAX_PARAMETER),
            nonce: query.nonce.clone(),
            code_challenge: query.code_challenge.clone(),
            scope: Vec::new(),
            max_age: None,
        };
        match self.check_request(&client, query, request.clone()) {
            Ok(checked) => {
                self.start_oidc_login(caller, &org_record, query, checked, binding, facts)
                    .await
            }
            Err(refusal) => {
                let error = OidcError::Refused(refusal);
                facts.insert("error".into(), error.code().into());
                Ok(AuthorizeDelivery::Error {
                    location: error_redirect(&request, &error),
                })
            }
        }
    }

    /// One audit item per OIDC request: the refusal's code (or `reason`, for a refusal
    /// answered by a redirect), the failure logged without secrets.
    pub(crate) async fn record_oidc(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        (error, reason): (Option<&OidcError>, Option<&str>),
        facts: BTreeMap<String, String>,
    ) {
        if let Some(e) = error {
            tracing::warn!(code = e.code(), org = %org, action, correlation_id = %caller.correlation_id, error = %e, "OIDC request refused");
        }
        let reason = reason.or(error.map(OidcError::code));
        let org_unknown = error.is_some_and(OidcError::org_unknown);
        self.record_reason(org, caller, action, reason, org_unknown, facts)
            .await;
    }

    /// The client, or `client_unknown`.
    pub(crate) async fn client(
        &self,
        org: &OrgId,
        client_id: &str,
    ) -> Result<OidcClient, OidcError> {
        if client_id.is_empty() || client_id.len() > 64 {
            return Err(Refusal::ClientUnknown.into());
        }
        if client_id == samlgate_domain::client::CONSOLE_CLIENT_ID {
            return Ok(OidcClient::console(org, &self.urls.console_url()));
        }
        self.clients
            .client(org, client_id)
            .await
            .map_err(SsoError::from)?
            .ok_or_else(|| Refusal::ClientUnknown.into())
    }

    /// OIDC Core §3.1.2.2: what a request with a proven redirect URI must still satisfy.
    fn check_request(
        &self,
        client: &OidcClient,
        query: &AuthorizeQuery,
        mut request: AuthorizeRequest,
    ) -> Result<AuthorizeRequest, Refusal> {
        if query.malformed {
            return Err(Refusal::ParameterInvalid);
        }
        for value in [&query.state, &query.nonce, &query.login_hint, &query.idp] {
            bounded(value)?;
        }
        if query.response_type.as_deref() != Some("code") {
            return Err(Refusal::ResponseTypeUnsupported);
        }
        let scopes: Vec<&str> = query
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        if !scopes.contains(&"openid") {
            return Err(Refusal::ScopeWithoutOpenid);
        }
        request.scope = SCOPES
            .iter()
            .filter(|s| scopes.contains(s))
            .map(|s| (*s).to_owned())
            .collect();
        match (
            &query.code_challenge,
            query.code_challenge_method.as_deref(),
        ) {
            (None, None) if client.is_public() => return Err(Refusal::PkceRequired),
            (None, None) => {}
            (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {}
            (Some(_), Some("S256")) => return Err(Refusal::ParameterInvalid),
            // RFC 7636 §4.3: no method means `plain`, which is refused like any other.
            (Some(_), _) => return Err(Refusal::PkceMethodUnsupported),
            (None, Some(_)) => return Err(Refusal::ParameterInvalid),
        }
        if query
            .prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|p| p == "none"))
        {
            return Err(Refusal::LoginRequired);
        }
        request.max_age = match &query.max_age {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| Refusal::ParameterInvalid)?),
        };
        Ok(request)
    }

    async fn start_oidc_login(
        &self,
        caller: &Caller,
        org_record: &Org,
        query: &AuthorizeQuery,
        request: AuthorizeRequest,
        binding: Option<&str>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<AuthorizeDelivery, OidcError> {
        let settings = self.settings(&org_record.org).await?;
        let choice = LoginQuery {
            idp: query.idp.clone(),
            login_hint: query.login_hint.clone(),
            diagnostics: None,
        };
        let idp: IdpId = match choose_idp(&settings, &choice) {
            Ok(idp) => idp,
            Err(e) => {
                let error = OidcError::Sso(e);
                facts.insert("error".into(), error.code().into());
                return Ok(AuthorizeDelivery::Error {
                    location: error_redirect(&request, &error),
                });
            }
        };
        let value = browser_binding(binding)?;
        // prompt=login and max_age both ask the IdP to authenticate afresh (ForceAuthn):
        // samlgate keeps no session of its own to measure an age against.
        let force_authn = query
            .prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|p| p == "login"))
            || request.max_age.is_some();
        facts.insert("force_authn".into(), force_authn.to_string());
        let login = SamlLogin {
            authorize: Some(request.clone()),
            browser: Some(sha256_hex(value.as_bytes())),
            force_authn,
            diagnostics: false,
        };
        match self
            .start_saml_login(org_record, &idp, login, (caller, "oidc.authorize"), facts)
            .await
        {
            Ok(delivery) => Ok(AuthorizeDelivery::Login {
                delivery,
                binding: value,
            }),
            Err(e) => {
                let error = OidcError::Sso(e);
                facts.insert("error".into(), error.code().into());
                Ok(AuthorizeDelivery::Error {
                    location: error_redirect(&request, &error),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_are_unique_and_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md");
        let section = readme
            .split("### OIDC error codes")
            .nth(1)
            .expect("an OIDC error codes section");
        let mut seen = std::collections::BTreeSet::new();
        for code in Refusal::CODES {
            assert!(seen.insert(code), "{code} twice");
            assert!(
                section.contains(&format!("`{code}`")),
                "{code} is not in the README"
            );
        }
    }

    #[test]
    fn authorize_parameters_are_read_once() {
        let q = AuthorizeQuery::parse("client_id=a&scope=openid&client_id=b");
        assert!(q.malformed);
        let q = AuthorizeQuery::parse("client_id=a&redirect_uri=https%3A%2F%2Fx%2Fcb&unknown=1");
        assert!(!q.malformed);
        assert_eq!(q.redirect_uri.as_deref(), Some("https://x/cb"));
        assert!(AuthorizeQuery::parse(&"a".repeat(MAX_QUERY + 1)).malformed);
    }

    #[test]
    fn redirects_keep_the_redirect_uris_own_query() {
        assert_eq!(
            with_query("https://app/cb?t=1", &[("code", "a b"), ("state", "x&y")]),
            "https://app/cb?t=1&code=a+b&state=x%26y"
        );
        assert_eq!(
            with_query("https://app/cb", &[("code", "c")]),
            "https://app/cb?code=c"
        );
    }
}
