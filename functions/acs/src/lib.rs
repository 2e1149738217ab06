//! The acs function's HTTP layer: parse the request, call [`samlgate_sso::Sso`], map
//! the result to a redirect, an auto-submitting form, or a generic error page. Routes:
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/o/{org}/login?idp=…\|login_hint=…&return_to=…` | start a login at the IdP |
//! | POST | `/o/{org}/idp/{idp}/acs` | consume the IdP's Response; post the token to the app |
//! | GET | `/o/{org}/idp/{idp}/slo?sid=…&return_to=…` | the app logs a session out (SP-initiated) |
//! | GET, POST | `/o/{org}/idp/{idp}/slo` with `SAMLRequest` or `SAMLResponse` | the IdP's signed logout messages (Redirect or POST binding) |
//!
//! The browser never learns why a login failed: it sees a generic page with the correlation
//! ID, and the audit log holds the reason code.

mod html;

use std::sync::Arc;

use lambda_http::{Body, Request, RequestExt, Response};
use samlgate_domain::audit::Caller;
use samlgate_domain::clock::Clock;
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::{
    AuditLog, DecryptDataKey, LoginStateStore, ReplayStore, SessionStore, SsoConfigReader,
};
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::VaultError;
use samlgate_sso::login::{LoginDelivery, LoginQuery};
use samlgate_sso::logout::{Incoming, SloDelivery, SloQuery};
use samlgate_sso::{KeyCache, Sso, SsoError};

pub use html::{escape as escape_html, Page};

/// Largest form body read (the SAMLResponse limit plus RelayState).
pub const MAX_BODY_BYTES: usize = samlgate_sso::MAX_SAML_RESPONSE + 4096;

/// acs's capabilities, built once per cold start. `kms` may only Decrypt `purpose=sp-key`
/// (the key policy), and nothing here can read a credential.
#[derive(Clone)]
pub struct App {
    pub config: Arc<dyn SsoConfigReader>,
    pub logins: Arc<dyn LoginStateStore>,
    pub replay: Arc<dyn ReplayStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub audit: Arc<dyn AuditLog>,
    pub kms: Arc<dyn DecryptDataKey>,
    pub keys: Arc<KeyCache>,
    pub clock: Arc<dyn Clock>,
    pub urls: PublicUrls,
}

impl App {
    fn sso(&self) -> Sso<'_> {
        Sso {
            config: self.config.as_ref(),
            logins: self.logins.as_ref(),
            replay: self.replay.as_ref(),
            sessions: self.sessions.as_ref(),
            kms: self.kms.as_ref(),
            keys: self.keys.as_ref(),
            audit: self.audit.as_ref(),
            clock: self.clock.as_ref(),
            urls: &self.urls,
        }
    }
}

/// Routes one request. `query` is the raw query string, `body` the raw form body.
pub async fn route(
    app: &App,
    correlation_id: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Page {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let result = match (method, segments.as_slice()) {
        ("GET", ["o", org, "login"]) => login(app, correlation_id, org, query).await,
        ("POST", ["o", org, "idp", idp, "acs"]) => {
            consume(app, correlation_id, org, idp, body).await
        }
        ("GET", ["o", org, "idp", idp, "slo"]) => {
            logout(app, correlation_id, org, idp, query, None).await
        }
        ("POST", ["o", org, "idp", idp, "slo"]) => {
            logout(app, correlation_id, org, idp, "", Some(body)).await
        }
        _ => return Page::not_found(correlation_id),
    };
    result.unwrap_or_else(|e| Page::error(e.http_status(), correlation_id))
}

fn caller(correlation_id: &str) -> Caller {
    Caller {
        actor: "browser".to_owned(),
        correlation_id: correlation_id.to_owned(),
    }
}

fn org_id(text: &str) -> Result<OrgId, SsoError> {
    OrgId::parse(text).map_err(|_| VaultError::OrgNotFound.into())
}

async fn login(app: &App, correlation_id: &str, org: &str, query: &str) -> Result<Page, SsoError> {
    if query.len() > 8192 {
        return Err(SsoError::invalid("query is too long"));
    }
    let mut parsed = LoginQuery::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "idp" => &mut parsed.idp,
            "login_hint" => &mut parsed.login_hint,
            "return_to" => &mut parsed.return_to,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(SsoError::invalid(format!("{name} given twice")));
        }
    }
    let org = org_id(org)?;
    Ok(
        match app
            .sso()
            .login(&caller(correlation_id), &org, &parsed)
            .await?
        {
            LoginDelivery::Redirect { location } => Page::redirect(&location),
            LoginDelivery::Post {
                url,
                saml_request,
                relay_state,
            } => Page::auto_post(
                &url,
                &[("SAMLRequest", &saml_request), ("RelayState", &relay_state)],
            ),
        },
    )
}

async fn consume(
    app: &App,
    correlation_id: &str,
    org: &str,
    idp: &str,
    body: &[u8],
) -> Result<Page, SsoError> {
    let (response, relay_state) = saml_form(body, &["SAMLResponse"])?;
    let org = org_id(org)?;
    let idp = IdpId::parse(idp).map_err(|_| SsoError::from(VaultError::IdpNotFound))?;
    let delivery = app
        .sso()
        .consume(
            &caller(correlation_id),
            &org,
            &idp,
            &response,
            relay_state.as_deref(),
        )
        .await?;
    Ok(Page::auto_post(
        &delivery.return_to,
        &[("id_token", &delivery.token)],
    ))
}

async fn logout(
    app: &App,
    correlation_id: &str,
    org: &str,
    idp: &str,
    query: &str,
    body: Option<&[u8]>,
) -> Result<Page, SsoError> {
    if query.len() > 64 * 1024 {
        return Err(SsoError::invalid("query is too long"));
    }
    let posted = body
        .map(|b| saml_form(b, &["SAMLRequest", "SAMLResponse"]))
        .transpose()?;
    let org = org_id(org)?;
    let idp = IdpId::parse(idp).map_err(|_| SsoError::from(VaultError::IdpNotFound))?;
    let parsed = SloQuery::parse(query);
    let form = posted
        .as_ref()
        .map(|(message, relay_state)| Incoming::Form {
            message,
            relay_state: relay_state.as_deref(),
        });
    let delivery = app
        .sso()
        .logout(&caller(correlation_id), &org, &idp, &parsed, form)
        .await?;
    Ok(match delivery {
        SloDelivery::Redirect(location) => Page::redirect(&location),
        SloDelivery::Post { url, fields } => {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            Page::auto_post(&url, &fields)
        }
    })
}

/// A posted form's SAML message (the one field of `names` present) and RelayState, each at
/// most once, from a body of at most [`MAX_BODY_BYTES`].
fn saml_form(body: &[u8], names: &[&str]) -> Result<(String, Option<String>), SsoError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(SsoError::invalid("body is too large"));
    }
    let (mut message, mut relay_state) = (None, None);
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "RelayState" => &mut relay_state,
            n if names.contains(&n) => &mut message,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(SsoError::invalid(format!("{name} given twice")));
        }
    }
    let message =
        message.ok_or_else(|| SsoError::invalid(format!("{} is missing", names.join(" or "))))?;
    Ok((message, relay_state))
}

/// API Gateway's request ID, else Lambda's, else a fresh one (dev server).
fn correlation_id(request: &Request) -> String {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(ctx)) = request.request_context_ref() {
        if let Some(id) = &ctx.request_id {
            return id.clone();
        }
    }
    if let Some(ctx) = request.lambda_context_ref() {
        return ctx.request_id.clone();
    }
    samlgate_domain::ids::random_hex(8).unwrap_or_else(|_| "0".repeat(16))
}

/// The Lambda entry point.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let correlation_id = correlation_id(&request);
    let body: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    let page = route(
        app,
        &correlation_id,
        request.method().as_str(),
        request.uri().path(),
        request.uri().query().unwrap_or(""),
        body,
    )
    .await;
    page.into_response()
}
