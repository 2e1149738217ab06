//! The acs function's HTTP layer: parse the request, call [`samlgate_sso::Sso`], map
//! the result to a redirect, an auto-submitting form, or a generic error page. Routes:
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/o/{org}/authorize?response_type=code&client_id=…` | an OIDC client's login: bind the browser, start the SAML login |
//! | POST | `/o/{org}/token` | redeem the one-time code (RFC 6749 §4.1.3) |
//! | GET, POST | `/o/{org}/userinfo` | the access token's claims |
//! | OPTIONS | `/o/{org}/token`, `/o/{org}/userinfo` | CORS preflight: token and userinfo answers are readable by scripts of any origin (no credentials) |
//! | GET, POST | `/o/{org}/logout?id_token_hint=…` | RP-initiated logout, then SAML single logout |
//! | GET | `/o/{org}/login?idp=…\|login_hint=…` | an administrator's test sign-in: the identity is shown, nothing is issued |
//! | POST | `/o/{org}/idp/{idp}/acs` | consume the IdP's Response; redirect to the client with the code (or show the test sign-in's result) |
//! | GET, POST | `/o/{org}/idp/{idp}/slo` with `SAMLRequest` or `SAMLResponse` | the IdP's signed logout messages (Redirect or POST binding) |
//!
//! The browser never learns why a login failed: it sees a generic page with the correlation
//! ID and status 400 for every refusal (5xx only for failures of ours), and the audit log
//! holds the reason code.

pub mod form;
mod html;

use std::sync::Arc;

use lambda_http::{Body, Request, RequestExt, Response};
use samlgate_domain::audit::Caller;
use samlgate_domain::clock::Clock;
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::{
    AccessTokenStore, AuditLog, BackChannel, ClientReader, CodeStore, DecryptDataKey,
    LoginStateStore, LoginSteps, Metrics, ReplayStore, SessionStore, SsoConfigReader,
};
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::VaultError;
use samlgate_sso::acs::Delivery;
use samlgate_sso::end_session::EndSessionQuery;
use samlgate_sso::login::{LoginDelivery, LoginQuery};
use samlgate_sso::logout::{Incoming, SloDelivery, SloQuery};
use samlgate_sso::oidc::{AuthorizeDelivery, AuthorizeQuery, OidcError, Refusal};
use samlgate_sso::{KeyCache, Sso, SsoError};

pub use html::{escape as escape_html, Page};

/// Largest form body read (the SAMLResponse limit plus RelayState).
pub const MAX_BODY_BYTES: usize = samlgate_sso::MAX_SAML_RESPONSE + 4096;

/// acs's capabilities, built once per cold start. `kms` may only Decrypt `purpose=sp-key`
/// (the key policy), and nothing here can read a credential.
#[derive(Clone)]
pub struct App {
    pub config: Arc<dyn SsoConfigReader>,
    pub steps: Arc<dyn LoginSteps>,
    pub logins: Arc<dyn LoginStateStore>,
    pub replay: Arc<dyn ReplayStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub clients: Arc<dyn ClientReader>,
    pub codes: Arc<dyn CodeStore>,
    pub access: Arc<dyn AccessTokenStore>,
    pub backchannel: Arc<dyn BackChannel>,
    pub audit: Arc<dyn AuditLog>,
    pub metrics: Arc<dyn Metrics>,
    pub kms: Arc<dyn DecryptDataKey>,
    pub keys: Arc<KeyCache>,
    pub clock: Arc<dyn Clock>,
    pub urls: PublicUrls,
}

impl App {
    fn sso(&self) -> Sso<'_> {
        Sso {
            config: self.config.as_ref(),
            steps: self.steps.as_ref(),
            logins: self.logins.as_ref(),
            replay: self.replay.as_ref(),
            sessions: self.sessions.as_ref(),
            clients: self.clients.as_ref(),
            codes: self.codes.as_ref(),
            access: self.access.as_ref(),
            backchannel: self.backchannel.as_ref(),
            kms: self.kms.as_ref(),
            keys: self.keys.as_ref(),
            audit: self.audit.as_ref(),
            metrics: self.metrics.as_ref(),
            clock: self.clock.as_ref(),
            urls: &self.urls,
        }
    }
}

/// The parts of an HTTP request acs reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpRequest<'a> {
    pub correlation_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// The raw body.
    pub body: &'a [u8],
    /// Every `Cookie` header, joined with `; `.
    pub cookie: Option<&'a str>,
    pub authorization: Option<&'a str>,
}

/// Routes one request without cookies or `Authorization` (the SAML endpoints need neither).
pub async fn route(
    app: &App,
    correlation_id: &str,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Page {
    serve(
        app,
        &HttpRequest {
            correlation_id,
            method,
            path,
            query,
            body,
            cookie: None,
            authorization: None,
        },
    )
    .await
}

/// Routes one request.
pub async fn serve(app: &App, request: &HttpRequest<'_>) -> Page {
    let correlation_id = request.correlation_id;
    let (query, body) = (request.query, request.body);
    let segments: Vec<&str> = request
        .path
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .collect();
    let result = match (request.method, segments.as_slice()) {
        ("GET", ["o", org, "authorize"]) => return authorize(app, request, org).await,
        ("POST", ["o", org, "token"]) => {
            return token(app, request, org).await.readable_by_any_origin()
        }
        ("GET" | "POST", ["o", org, "userinfo"]) => {
            return userinfo(app, request, org).await.readable_by_any_origin()
        }
        // A browser-based client's preflight (userinfo with a Bearer header, token with Basic).
        ("OPTIONS", ["o", _, "token" | "userinfo"]) => return Page::preflight(),
        ("GET", ["o", org, "logout"]) => {
            return end_session(app, request, org, request.query.as_bytes()).await
        }
        ("POST", ["o", org, "logout"]) => return end_session(app, request, org, body).await,
        ("GET", ["o", org, "login"]) => login(app, request, org).await,
        ("POST", ["o", org, "idp", idp, "acs"]) => consume(app, request, org, idp).await,
        ("GET", ["o", org, "idp", idp, "slo"]) => {
            logout(app, correlation_id, org, idp, query, None).await
        }
        ("POST", ["o", org, "idp", idp, "slo"]) => {
            logout(app, correlation_id, org, idp, "", Some(body)).await
        }
        _ => return Page::not_found(correlation_id),
    };
    result.unwrap_or_else(|e| Page::error(browser_status(&e), correlation_id))
}

/// The status of a refused login or logout page: 400 for every refusal, whatever its reason
/// (a 403 for a failed group rule or a 404 for an unknown organisation would tell a prober
/// which check it failed; the audit log has the reason). Our own failures keep their 5xx.
fn browser_status(e: &SsoError) -> u16 {
    match e.http_status() {
        status if status >= 500 => status,
        _ => 400,
    }
}

/// The browser binding cookie's name: `__Host-` (Secure, Path=/, no Domain) on https;
/// locally, over http, a plain one.
fn binding_cookie_name(urls: &PublicUrls) -> &'static str {
    if urls.base().starts_with("https://") {
        "__Host-samlgate-login"
    } else {
        "samlgate-login"
    }
}

/// `Set-Cookie` for the binding: HttpOnly, and SameSite=None on https because the IdP's
/// Response arrives by a cross-site POST (locally the demo IdP is same-site: Lax).
fn binding_set_cookie(urls: &PublicUrls, value: &str) -> String {
    let name = binding_cookie_name(urls);
    let max_age = samlgate_sso::LOGIN_TTL_SECS;
    if name.starts_with("__Host-") {
        format!("{name}={value}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=None")
    } else {
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax")
    }
}

/// The binding cookie's value, if the browser sent exactly one.
fn binding_cookie<'a>(urls: &PublicUrls, cookie: Option<&'a str>) -> Option<&'a str> {
    let name = binding_cookie_name(urls);
    let mut values = cookie?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v.trim());
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

async fn authorize(app: &App, request: &HttpRequest<'_>, org: &str) -> Page {
    let correlation_id = request.correlation_id;
    let Ok(org) = OrgId::parse(org) else {
        return Page::not_found(correlation_id);
    };
    let query = AuthorizeQuery::parse(request.query);
    let binding = binding_cookie(&app.urls, request.cookie);
    match app
        .sso()
        .authorize(&caller(correlation_id), &org, &query, binding)
        .await
    {
        Ok(AuthorizeDelivery::Login { delivery, binding }) => {
            login_page(delivery).with_header("set-cookie", binding_set_cookie(&app.urls, &binding))
        }
        Ok(AuthorizeDelivery::Error { location }) => Page::redirect(&location),
        // The redirect URI is not proven (or the organisation is unknown): a page, never a
        // redirect.
        Err(OidcError::Refused(refusal)) => {
            Page::refused(refusal.http_status(), correlation_id, &refusal.to_string())
        }
        Err(e) => Page::error(e.http_status(), correlation_id),
    }
}

/// RFC 6749 §5.2's error body, with `WWW-Authenticate` for a client that failed to
/// authenticate (RFC 6749) or a missing or bad access token (RFC 6750 §3).
fn oidc_error(e: &OidcError) -> Page {
    let body = serde_json::json!({
        "error": e.rfc(),
        "error_description": e.description(),
    });
    let page = Page::json(e.http_status(), &body);
    match e {
        OidcError::Refused(Refusal::ClientAuthenticationFailed) => {
            page.with_header("www-authenticate", "Basic realm=\"samlgate\"".to_owned())
        }
        OidcError::Refused(Refusal::AccessTokenInvalid) => page.with_header(
            "www-authenticate",
            "Bearer error=\"invalid_token\"".to_owned(),
        ),
        _ => page,
    }
}

async fn end_session(app: &App, request: &HttpRequest<'_>, org: &str, form: &[u8]) -> Page {
    let correlation_id = request.correlation_id;
    let Ok(org) = OrgId::parse(org) else {
        return Page::not_found(correlation_id);
    };
    let query = EndSessionQuery::parse(form);
    match app
        .sso()
        .end_session(&caller(correlation_id), &org, &query)
        .await
    {
        Ok(delivery) => slo_page(delivery),
        Err(OidcError::Refused(refusal)) => {
            Page::refused(refusal.http_status(), correlation_id, &refusal.to_string())
        }
        Err(e) => Page::error(e.http_status(), correlation_id),
    }
}

async fn token(app: &App, request: &HttpRequest<'_>, org: &str) -> Page {
    let Ok(org) = OrgId::parse(org) else {
        return oidc_error(&OidcError::Refused(Refusal::ClientAuthenticationFailed));
    };
    match app
        .sso()
        .token(
            &caller(request.correlation_id),
            &org,
            request.body,
            request.authorization,
        )
        .await
    {
        Ok(tokens) => Page::json(200, &tokens.body),
        Err(e) => oidc_error(&e),
    }
}

async fn userinfo(app: &App, request: &HttpRequest<'_>, org: &str) -> Page {
    let Ok(org) = OrgId::parse(org) else {
        return oidc_error(&OidcError::Refused(Refusal::AccessTokenInvalid));
    };
    match app
        .sso()
        .userinfo(&caller(request.correlation_id), &org, request.authorization)
        .await
    {
        Ok(claims) => Page::json(200, &claims),
        Err(e) => oidc_error(&e),
    }
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

async fn login(app: &App, request: &HttpRequest<'_>, org: &str) -> Result<Page, SsoError> {
    let query = request.query;
    if query.len() > 8192 {
        return Err(SsoError::invalid("query is too long"));
    }
    let mut parsed = LoginQuery::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "idp" => &mut parsed.idp,
            "login_hint" => &mut parsed.login_hint,
            "diagnostics" => &mut parsed.diagnostics,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(SsoError::invalid(format!("{name} given twice")));
        }
    }
    let org = org_id(org)?;
    let binding = binding_cookie(&app.urls, request.cookie);
    let login = app
        .sso()
        .login(&caller(request.correlation_id), &org, &parsed, binding)
        .await?;
    Ok(login_page(login.delivery)
        .with_header("set-cookie", binding_set_cookie(&app.urls, &login.binding)))
}

/// On to the IdP: a redirect, or the auto-posted AuthnRequest.
fn login_page(delivery: LoginDelivery) -> Page {
    match delivery {
        LoginDelivery::Redirect { location } => Page::redirect(&location),
        LoginDelivery::Post {
            url,
            saml_request,
            relay_state,
        } => Page::auto_post(
            &url,
            &[("SAMLRequest", &saml_request), ("RelayState", &relay_state)],
        ),
    }
}

async fn consume(
    app: &App,
    request: &HttpRequest<'_>,
    org: &str,
    idp: &str,
) -> Result<Page, SsoError> {
    let (response, relay_state) = saml_form(request.body, &["SAMLResponse"])?;
    let org = org_id(org)?;
    let idp = IdpId::parse(idp).map_err(|_| SsoError::from(VaultError::IdpNotFound))?;
    let delivery = app
        .sso()
        .consume(
            &caller(request.correlation_id),
            &org,
            &idp,
            &response,
            relay_state.as_deref(),
            binding_cookie(&app.urls, request.cookie),
        )
        .await?;
    Ok(match delivery {
        Delivery::Redirect { location } => Page::redirect(&location),
        Delivery::Tested(result) => Page::test_result(&result),
        Delivery::TestFailed(failure) => Page::test_failure(&failure, request.correlation_id),
    })
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
    Ok(slo_page(delivery))
}

fn slo_page(delivery: SloDelivery) -> Page {
    match delivery {
        SloDelivery::Redirect(location) => Page::redirect(&location),
        SloDelivery::Post { url, fields } => {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            Page::auto_post(&url, &fields)
        }
        SloDelivery::SignedOut => Page::signed_out(),
    }
}

/// A posted form's SAML message (the one field of `names` present) and RelayState, each at
/// most once, from a body of at most [`MAX_BODY_BYTES`].
fn saml_form(body: &[u8], names: &[&str]) -> Result<(String, Option<String>), SsoError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(SsoError::invalid("body is too large"));
    }
    let form = form::saml_form(body, names).map_err(|e| SsoError::invalid(e.to_string()))?;
    Ok((form.message, form.relay_state))
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
    let cookies: Vec<&str> = request
        .headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let cookie = (!cookies.is_empty()).then(|| cookies.join("; "));
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let page = serve(
        app,
        &HttpRequest {
            correlation_id: &correlation_id,
            method: request.method().as_str(),
            path: request.uri().path(),
            query: request.uri().query().unwrap_or(""),
            body,
            cookie: cookie.as_deref(),
            authorization,
        },
    )
    .await;
    page.into_response()
}
