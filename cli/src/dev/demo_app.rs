//! The demo application: an OIDC client of the demo organisation, as an application would be
//! one (authorization code with PKCE, a confidential client with `client_secret_basic`). It
//! redeems the code at samlgate's token endpoint, checks the ID token (signature against the
//! organisation's JWKS, issuer, audience, expiry, nonce) and asks userinfo, then shows what it
//! learnt. Its calls to samlgate go through the acs and metadata handlers in-process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_acs::{escape_html, HttpRequest};
use samlgate_domain::ids::random_hex;
use serde_json::{json, Value};

use super::{Dev, DEMO_ORG};

/// Logins started and not yet back, by `state`: the nonce and the PKCE verifier.
#[derive(Default)]
pub struct DemoApp {
    client: Mutex<Option<(String, String)>>,
    pending: Mutex<BTreeMap<String, (String, String)>>,
    /// Back-channel logouts received (sid, sub), newest last.
    logouts: Mutex<Vec<(String, String)>>,
}

/// At most this many logins in flight (a page reloaded many times forgets the oldest).
const MAX_PENDING: usize = 256;

impl DemoApp {
    pub fn set_client(&self, client_id: String, secret: String) {
        if let Ok(mut client) = self.client.lock() {
            *client = Some((client_id, secret));
        }
    }

    fn client(&self) -> Option<(String, String)> {
        self.client.lock().ok().and_then(|c| c.clone())
    }

    fn remember(&self, state: String, nonce: String, verifier: String) {
        if let Ok(mut pending) = self.pending.lock() {
            while pending.len() >= MAX_PENDING {
                pending.pop_first();
            }
            pending.insert(state, (nonce, verifier));
        }
    }

    fn take(&self, state: &str) -> Option<(String, String)> {
        self.pending.lock().ok().and_then(|mut p| p.remove(state))
    }

    /// The back-channel logouts received, for the home page.
    pub fn logouts_html(&self) -> String {
        let logouts = self.logouts.lock().map(|l| l.clone()).unwrap_or_default();
        if logouts.is_empty() {
            return String::new();
        }
        let items: String = logouts
            .iter()
            .rev()
            .map(|(sid, sub)| {
                format!(
                    "<li>session <code>{}</code> of <code>{}</code></li>",
                    escape_html(sid),
                    escape_html(sub)
                )
            })
            .collect();
        format!("<h2>Back-channel logouts received</h2><ul id=\"backchannel-logouts\">{items}</ul>")
    }
}

/// `POST /app/backchannel-logout` (OIDC Back-Channel Logout 1.0 §2.6): the logout token's
/// signature, issuer, audience (this client), `typ`, the back-channel event and no nonce;
/// then the session it names counts as ended. 200 when accepted, 400 otherwise (§2.8).
pub async fn backchannel_logout(dev: &Dev, body: &[u8]) -> (u16, String) {
    let token = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = token else {
        return (400, "no logout_token".into());
    };
    let Some((client_id, _)) = dev.app.client() else {
        return (400, "no client".into());
    };
    let jwks = samlgate_metadata::route(
        &dev.metadata,
        "GET",
        &format!("/o/{DEMO_ORG}/.well-known/jwks.json"),
    )
    .await;
    let typ = jsonwebtoken::decode_header(&token)
        .ok()
        .and_then(|h| h.typ)
        .unwrap_or_default();
    let claims = match verify(
        &token,
        &jwks.body,
        &format!("{}/o/{DEMO_ORG}", dev.base),
        &client_id,
    ) {
        Ok(claims) => claims,
        Err(e) => return (400, e),
    };
    let event = "http://schemas.openid.net/event/backchannel-logout";
    if typ != "logout+jwt" || !claims["events"][event].is_object() || claims.get("nonce").is_some()
    {
        return (400, "not a logout token".into());
    }
    let sid = claims["sid"].as_str().unwrap_or("").to_owned();
    let sub = claims["sub"].as_str().unwrap_or("").to_owned();
    if let Ok(mut logouts) = dev.app.logouts.lock() {
        if logouts.len() >= MAX_PENDING {
            logouts.remove(0);
        }
        logouts.push((sid, sub));
    }
    (200, String::new())
}

pub fn redirect_uri(dev: &Dev) -> String {
    format!("{}/app/callback", dev.base)
}

/// `GET /app/login[?idp=…]`: a fresh state, nonce and PKCE pair, then samlgate's authorize
/// endpoint (at the IdP named, else the organisation's default).
pub fn login(dev: &Dev, query: &str) -> Result<String, String> {
    let idp = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "idp")
        .map(|(_, v)| v.into_owned());
    let (client_id, _) = dev
        .app
        .client()
        .ok_or("the demo client is not registered")?;
    let state = random_hex(16).map_err(|e| e.to_string())?;
    let nonce = random_hex(16).map_err(|e| e.to_string())?;
    let (verifier, challenge) = samlgate_sso::grant::pkce_pair().map_err(|e| e.to_string())?;
    dev.app.remember(state.clone(), nonce.clone(), verifier);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri(dev))
        .append_pair("scope", "openid email profile groups")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(idp) = &idp {
        query.append_pair("idp", idp);
    }
    Ok(format!(
        "{}/o/{DEMO_ORG}/authorize?{}",
        dev.base,
        query.finish()
    ))
}

/// `GET /app/callback?code=…&state=…`: redeem, verify, ask userinfo; the page says what
/// happened.
pub async fn callback(dev: &Dev, query: &str) -> (u16, String) {
    match signed_in(dev, query).await {
        Ok((claims, userinfo, id_token)) => (
            200,
            page(dev, "Signed in", &claims, Some(&userinfo), Some(&id_token)),
        ),
        Err(e) => (
            400,
            page(dev, "Sign-in failed", &json!({ "error": e }), None, None),
        ),
    }
}

async fn signed_in(dev: &Dev, query: &str) -> Result<(Value, Value, String), String> {
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if let Some(error) = params.get("error") {
        return Err(format!(
            "samlgate answered {error}: {}",
            params.get("error_description").map_or("", String::as_str)
        ));
    }
    let state = params.get("state").ok_or("no state")?;
    let (nonce, verifier) = dev
        .app
        .take(state)
        .ok_or("unknown state: this app did not start that login")?;
    let code = params.get("code").ok_or("no code")?;
    let (client_id, secret) = dev.app.client().ok_or("no client")?;

    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &redirect_uri(dev))
        .append_pair("code_verifier", &verifier)
        .finish();
    let basic = format!("Basic {}", B64.encode(format!("{client_id}:{secret}")));
    let answer = samlgate_acs::serve(
        &dev.acs,
        &HttpRequest {
            correlation_id: "demo-app",
            method: "POST",
            path: &format!("/o/{DEMO_ORG}/token"),
            body: body.as_bytes(),
            authorization: Some(&basic),
            ..HttpRequest::default()
        },
    )
    .await;
    let tokens: Value = serde_json::from_str(&answer.body).map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("token endpoint: {tokens}"));
    }
    let id_token = tokens["id_token"].as_str().ok_or("no id_token")?;
    let jwks = samlgate_metadata::route(
        &dev.metadata,
        "GET",
        &format!("/o/{DEMO_ORG}/.well-known/jwks.json"),
    )
    .await;
    let claims = verify(
        id_token,
        &jwks.body,
        &format!("{}/o/{DEMO_ORG}", dev.base),
        &client_id,
    )?;
    if claims["nonce"].as_str() != Some(nonce.as_str()) {
        return Err("the ID token's nonce is not this login's".into());
    }
    let bearer = format!(
        "Bearer {}",
        tokens["access_token"].as_str().ok_or("no access_token")?
    );
    let info = samlgate_acs::serve(
        &dev.acs,
        &HttpRequest {
            correlation_id: "demo-app",
            method: "GET",
            path: &format!("/o/{DEMO_ORG}/userinfo"),
            authorization: Some(&bearer),
            ..HttpRequest::default()
        },
    )
    .await;
    let userinfo: Value = serde_json::from_str(&info.body).map_err(|e| e.to_string())?;
    Ok((claims, userinfo, id_token.to_owned()))
}

/// The ID token's signature against the JWKS, issuer, audience (this client) and expiry.
pub fn verify(token: &str, jwks: &str, issuer: &str, audience: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(jwks).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("token has no kid")?;
    let jwk = set.find(&kid).ok_or("kid not in the JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    if !matches!(
        header.alg,
        jsonwebtoken::Algorithm::ES256 | jsonwebtoken::Algorithm::RS256
    ) {
        return Err(format!("unexpected alg {:?}", header.alg));
    }
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

fn page(
    dev: &Dev,
    title: &str,
    claims: &Value,
    userinfo: Option<&Value>,
    id_token: Option<&str>,
) -> String {
    let pretty = |v: &Value| escape_html(&serde_json::to_string_pretty(v).unwrap_or_default());
    // RP-initiated logout: the ID token as hint, back to the home page with a state.
    let logout = id_token.map_or(String::new(), |hint| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", &format!("{}/", dev.base))
            .append_pair("state", "signed-out")
            .finish();
        format!(
            r#"<p><a href="/o/{DEMO_ORG}/logout?{}">Sign out</a> (RP-initiated logout: samlgate ends the session and, when the IdP you signed in with has a single-logout endpoint, sends it a signed LogoutRequest before returning here; the demo IdP has none, so it returns at once)</p>"#,
            escape_html(&query)
        )
    });
    let userinfo = userinfo.map_or(String::new(), |u| {
        format!(
            "<p>userinfo answered:</p><pre id=\"userinfo\">{}</pre>",
            pretty(u)
        )
    });
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>
<h1>{title}</h1><p>The demo app is an OIDC client of the organisation <code>{DEMO_ORG}</code>: it redeemed the code at the token endpoint (with its secret and the PKCE verifier) and checked the ID token (signature against <a href="/o/{DEMO_ORG}/.well-known/jwks.json">the organisation's JWKS</a>, issuer, audience, expiry, nonce). Its claims:</p>
<pre>{}</pre>{userinfo}{logout}<p><a href="/">Back</a></p></body></html>"#,
        pretty(claims)
    )
}
