//! What a finished login grants (OIDC Core §3.1.3, RFC 6749 §4.1.3, RFC 7636 §4.6): the
//! one-time code the ACS hands the client, its redemption at `{issuer}/token` for an ID token
//! and an access token, and `{issuer}/userinfo`.

use std::collections::BTreeMap;

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::client::{OidcClient, SigningAlg, TokenAuthMethod};
use samlgate_domain::grant::{
    AccessToken, AuthCode, UserClaims, ACCESS_TOKEN_TTL_SECS, CODE_TTL_SECS,
};
use samlgate_domain::ids::{random_hex, sha256_hex, OrgId};
use samlgate_domain::session::AuthorizeRequest;
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::oidc::{with_query, OidcError, Refusal};
use crate::token::TOKEN_TTL_SECS;
use crate::{Sso, SsoError};

/// Largest token or userinfo request body read.
const MAX_FORM: usize = 16 * 1024;

/// 256 random bits, base64url: an authorization code or an access token.
fn new_secret_value() -> Result<String, SsoError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| samlgate_domain::VaultError::Internal("random generator"))?;
    Ok(B64URL.encode(bytes))
}

/// The claims of an ID token (OIDC Core §2) for one client: `aud` is the client, the
/// scope-selected claims only with their scope.
#[derive(Debug, Serialize)]
struct IdToken<'a> {
    iss: String,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    org: &'a str,
    idp: &'a str,
    #[serde(flatten)]
    scoped: Map<String, Value>,
}

/// The claims a scope releases (OIDC Core §5.4): `email` → email and email_verified,
/// `profile` → name, `groups` → groups. `openid` alone releases none of them.
pub fn scoped_claims(claims: &UserClaims, scope: &[String]) -> Map<String, Value> {
    let has = |s: &str| scope.iter().any(|x| x == s);
    let mut out = Map::new();
    if has("email") {
        if let Some(email) = &claims.email {
            out.insert("email".into(), json!(email));
            out.insert("email_verified".into(), json!(claims.email_verified));
        }
    }
    if has("profile") {
        if let Some(name) = &claims.name {
            out.insert("name".into(), json!(name));
        }
    }
    if has("groups") {
        out.insert("groups".into(), json!(claims.groups));
    }
    out
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, for a verifier of 43–128
/// unreserved characters.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = B64URL.encode(digest(&SHA256, verifier.as_bytes()));
    well_formed
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.as_bytes(),
            challenge.as_bytes(),
        )
        .is_ok()
}

/// A form body's parameters, each at most once (RFC 6749 §3.2: "parameters MUST NOT be
/// included more than once").
fn form(body: &[u8]) -> Result<BTreeMap<String, String>, Refusal> {
    if body.len() > MAX_FORM {
        return Err(Refusal::ParameterInvalid);
    }
    let mut out = BTreeMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if out.insert(name.into_owned(), value.into_owned()).is_some() {
            return Err(Refusal::ParameterInvalid);
        }
    }
    Ok(out)
}

/// One `application/x-www-form-urlencoded` component (RFC 6749 §2.3.1 encodes the client ID
/// and secret this way before Basic).
fn form_decode(component: &str) -> Option<String> {
    let spaced = component.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()?;
    Some(decoded.into_owned())
}

/// `Authorization: Basic …` as (client ID, secret), URL-decoded.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// `Authorization: Bearer …` (RFC 6750 §2.1).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, value) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// A fresh one-time code: the hash of its value, its record, and the client's redirect that
/// carries the value.
pub(crate) struct NewCode {
    pub hash: String,
    pub record: AuthCode,
    pub location: String,
}

/// What the token endpoint answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    pub body: Value,
}

impl Sso<'_> {
    /// The ACS's last step for an OIDC login: a one-time code for the client, with what the
    /// login established, and the redirect that carries it. The ACS stores it (under the hash
    /// of its value, never the value) with the session.
    pub(crate) fn new_code(
        &self,
        org: &OrgId,
        request: &AuthorizeRequest,
        claims: UserClaims,
    ) -> Result<NewCode, SsoError> {
        let code = new_secret_value()?;
        let record = AuthCode {
            org: org.clone(),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            scope: request.scope.clone(),
            claims,
            expires_at: self.clock.now().unix_timestamp() + CODE_TTL_SECS,
            redeemed: false,
            access_token: None,
        };
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = &request.state {
            params.push(("state", state));
        }
        Ok(NewCode {
            hash: sha256_hex(code.as_bytes()),
            record,
            location: with_query(&request.redirect_uri, &params),
        })
    }

    /// `POST {issuer}/token` (RFC 6749 §4.1.3): `body` is the form, `authorization` the
    /// header, if any.
    pub async fn token(
        &self,
        caller: &Caller,
        org: &OrgId,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<Tokens, OidcError> {
        let mut facts = BTreeMap::new();
        let result = self
            .token_inner(caller, org, body, authorization, &mut facts)
            .await;
        // Tokens issued were audited in the write that redeemed the code.
        if result.is_ok() {
            return result;
        }
        self.record_oidc(
            org,
            caller,
            "oidc.token",
            (result.as_ref().err(), None),
            facts,
        )
        .await;
        result
    }

    async fn token_inner(
        &self,
        caller: &Caller,
        org: &OrgId,
        body: &[u8],
        authorization: Option<&str>,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<Tokens, OidcError> {
        let org_record = self.config.active_org(org).await.map_err(SsoError::from)?;
        let params = form(body)?;
        let client = self
            .authenticate_client(org, &params, authorization)
            .await?;
        facts.insert("client_id".into(), client.client_id.clone());
        if params.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err(Refusal::GrantTypeUnsupported.into());
        }
        let code = params
            .get("code")
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or(Refusal::ParameterInvalid)?;
        let code_hash = sha256_hex(code.as_bytes());
        let grant = self
            .codes
            .get_code(&code_hash)
            .await
            .map_err(SsoError::from)?
            .filter(|g| &g.org == org)
            .ok_or(Refusal::CodeUnknown)?;
        if grant.redeemed {
            // RFC 6749 §4.1.2: a second use revokes what the first one issued.
            if let Some(token) = &grant.access_token {
                self.access
                    .revoke_access_token(token)
                    .await
                    .map_err(SsoError::from)?;
            }
            return Err(Refusal::CodeReused.into());
        }
        if grant.client_id != client.client_id {
            return Err(Refusal::CodeClientMismatch.into());
        }
        let now = self.clock.now().unix_timestamp();
        if grant.expires_at <= now {
            return Err(Refusal::CodeExpired.into());
        }
        if params.get("redirect_uri") != Some(&grant.redirect_uri) {
            return Err(Refusal::RedirectUriMismatch.into());
        }
        match (&grant.code_challenge, params.get("code_verifier")) {
            (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
            (Some(_), Some(_)) => return Err(Refusal::PkceMismatch.into()),
            (Some(_), None) => return Err(Refusal::CodeVerifierMissing.into()),
            // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is refused.
            (None, Some(_)) => return Err(Refusal::CodeVerifierUnexpected.into()),
            (None, None) => {}
        }

        let usage = match client.id_token_signed_response_alg {
            SigningAlg::ES256 => KeyUse::Token,
            SigningAlg::RS256 => KeyUse::TokenRsa,
        };
        let key = self.active_signing_key(org, usage).await?;
        let signer = self
            .keys
            .token_signer(self.kms, &org_record, &key, self.clock)
            .await
            .map_err(SsoError::from)?;
        let claims = &grant.claims;
        let id_token = signer
            .sign(&IdToken {
                iss: self.urls.issuer(org),
                sub: &claims.sub,
                aud: &client.client_id,
                exp: now + TOKEN_TTL_SECS,
                iat: now,
                auth_time: claims.auth_time,
                nonce: grant.nonce.as_deref(),
                sid: &claims.sid,
                acr: claims.acr.as_deref(),
                org: claims.org.as_str(),
                idp: claims.idp.as_str(),
                scoped: scoped_claims(claims, &grant.scope),
            })
            .map_err(SsoError::from)?;
        let access_token = new_secret_value()?;
        let token_hash = sha256_hex(access_token.as_bytes());
        let record = AccessToken {
            org: org.clone(),
            client_id: client.client_id.clone(),
            scope: grant.scope.clone(),
            claims: grant.claims.clone(),
            expires_at: now + ACCESS_TOKEN_TTL_SECS,
        };
        let mut issued = facts.clone();
        issued.insert("sid".into(), claims.sid.clone());
        let audit = self.success_event(org, caller, "oidc.token", issued);
        let first = self
            .steps
            .redeem_code(&code_hash, &token_hash, &record, &audit)
            .await
            .map_err(SsoError::from)?;
        if !first {
            // Another redemption won the race: that one stands, this one revokes it.
            if let Some(winner) = self
                .codes
                .get_code(&code_hash)
                .await
                .map_err(SsoError::from)?
                .and_then(|g| g.access_token)
            {
                self.access
                    .revoke_access_token(&winner)
                    .await
                    .map_err(SsoError::from)?;
            }
            return Err(Refusal::CodeReused.into());
        }
        Ok(Tokens {
            body: json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_TTL_SECS,
                "id_token": id_token,
                "scope": grant.scope.join(" "),
            }),
        })
    }

    /// RFC 6749 §2.3.1 and OIDC Core §9: the client authenticates the way it registered, and
    /// only that way; a public client names itself and proves nothing but PKCE.
    async fn authenticate_client(
        &self,
        org: &OrgId,
        params: &BTreeMap<String, String>,
        authorization: Option<&str>,
    ) -> Result<OidcClient, OidcError> {
        let basic = match authorization {
            Some(header) => {
                Some(basic_credentials(header).ok_or(Refusal::ClientAuthenticationFailed)?)
            }
            None => None,
        };
        if basic.is_some() && params.contains_key("client_secret") {
            // RFC 6749 §2.3: one method per request.
            return Err(Refusal::ParameterInvalid.into());
        }
        let client_id = match (&basic, params.get("client_id")) {
            (Some((id, _)), Some(named)) if id != named => {
                return Err(Refusal::ClientAuthenticationFailed.into())
            }
            (Some((id, _)), _) => id.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => return Err(Refusal::ClientAuthenticationFailed.into()),
        };
        let client = self.client(org, &client_id).await.map_err(|e| match e {
            OidcError::Refused(Refusal::ClientUnknown) => {
                OidcError::Refused(Refusal::ClientAuthenticationFailed)
            }
            other => other,
        })?;
        let now = self.clock.now();
        let proven = match (client.token_endpoint_auth_method, &basic) {
            (TokenAuthMethod::ClientSecretBasic, Some((_, secret))) => {
                client.secret_matches(secret, now)
            }
            (TokenAuthMethod::ClientSecretPost, None) => params
                .get("client_secret")
                .is_some_and(|secret| client.secret_matches(secret, now)),
            (TokenAuthMethod::None, None) => !params.contains_key("client_secret"),
            _ => false,
        };
        if !proven {
            return Err(Refusal::ClientAuthenticationFailed.into());
        }
        Ok(client)
    }

    /// The organisation's active token key of `usage`.
    pub(crate) async fn active_signing_key(
        &self,
        org: &OrgId,
        usage: KeyUse,
    ) -> Result<SpKey, SsoError> {
        self.config
            .sp_keys(org, None)
            .await?
            .into_iter()
            .find(|k| k.usage == usage && k.state == KeyState::Active)
            .ok_or(SsoError::SpKeyMissing(usage.as_str()))
    }

    /// `GET`/`POST {issuer}/userinfo` (OIDC Core §5.3) with the access token as a Bearer
    /// header: `sub` and the claims its scope releases.
    pub async fn userinfo(
        &self,
        caller: &Caller,
        org: &OrgId,
        authorization: Option<&str>,
    ) -> Result<Value, OidcError> {
        let result = self.userinfo_inner(org, authorization).await;
        // Only refusals are recorded: a client may ask userinfo often.
        if let Err(e) = &result {
            self.record_oidc(
                org,
                caller,
                "oidc.userinfo",
                (Some(e), None),
                BTreeMap::new(),
            )
            .await;
        }
        result
    }

    async fn userinfo_inner(
        &self,
        org: &OrgId,
        authorization: Option<&str>,
    ) -> Result<Value, OidcError> {
        self.config.active_org(org).await.map_err(SsoError::from)?;
        let token = authorization
            .and_then(bearer_token)
            .ok_or(Refusal::AccessTokenInvalid)?;
        let record = self
            .access
            .access_token(&sha256_hex(token.as_bytes()))
            .await
            .map_err(SsoError::from)?
            .filter(|t| &t.org == org && t.expires_at > self.clock.now().unix_timestamp())
            .ok_or(Refusal::AccessTokenInvalid)?;
        // A deleted client's tokens stop working at once.
        if self
            .clients
            .client(org, &record.client_id)
            .await
            .map_err(SsoError::from)?
            .is_none()
        {
            return Err(Refusal::AccessTokenInvalid.into());
        }
        let mut claims = scoped_claims(&record.claims, &record.scope);
        claims.insert("sub".into(), json!(record.claims.sub));
        Ok(Value::Object(claims))
    }
}

/// A fresh value for tests and the dev server's demo client: a PKCE verifier and its S256
/// challenge.
pub fn pkce_pair() -> Result<(String, String), SsoError> {
    let verifier = format!("{}{}", random_hex(16)?, random_hex(16)?);
    let challenge = B64URL.encode(digest(&SHA256, verifier.as_bytes()));
    Ok((verifier, challenge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_over_a_well_formed_verifier() {
        let (verifier, challenge) = pkce_pair().unwrap();
        assert!(pkce_matches(&verifier, &challenge));
        assert!(!pkce_matches(&verifier, &verifier), "plain is not S256");
        assert!(!pkce_matches("short", &challenge));
        // RFC 7636 Appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", B64.encode("client%2D1:s%20e+cret"));
        assert_eq!(
            basic_credentials(&header),
            Some(("client-1".into(), "s e cret".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn scopes_release_their_claims_only() {
        let claims = UserClaims {
            sub: "okta:alice".into(),
            email: Some("alice@acme.example".into()),
            email_verified: true,
            name: Some("Alice".into()),
            groups: vec!["staff".into()],
            org: OrgId::parse("acme").unwrap(),
            idp: samlgate_domain::ids::IdpId::parse("okta").unwrap(),
            acr: None,
            auth_time: None,
            sid: "s-1".into(),
        };
        assert!(scoped_claims(&claims, &["openid".into()]).is_empty());
        let all = scoped_claims(
            &claims,
            &[
                "openid".into(),
                "email".into(),
                "profile".into(),
                "groups".into(),
            ],
        );
        assert_eq!(all["email_verified"], json!(true));
        assert_eq!(all["name"], json!("Alice"));
        assert_eq!(all["groups"], json!(["staff"]));
    }
}
