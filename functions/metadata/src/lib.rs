//! The metadata function: public documents only, read from configuration; no KMS at all.
//!
//! | method | path | |
//! |---|---|---|
//! | GET | `/o/{org}/idp/{idp}/metadata` | SP metadata for one IdP (every non-retired certificate) |
//! | GET | `/o/{org}/.well-known/openid-configuration` | the organisation's OIDC discovery document (OpenID Connect Discovery 1.0) |
//! | GET | `/o/{org}/.well-known/jwks.json` | the organisation's token keys (ES256 and RS256), and no other organisation's |
//!
//! The two OIDC documents may be read by scripts of any origin (a browser-based client
//! discovers its provider): `Access-Control-Allow-Origin: *`, never with credentials.

use std::sync::Arc;

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::{JwksReader, SsoConfigReader};
use samlgate_domain::sp_key::KeyUse;
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::{PortError, VaultError};
use serde_json::json;

#[derive(Clone)]
pub struct App {
    pub config: Arc<dyn SsoConfigReader>,
    pub jwks: Arc<dyn JwksReader>,
    pub urls: PublicUrls,
}

/// An answer: status, content type, cache lifetime (seconds), body, and whether scripts of
/// any origin may read it (the OIDC documents a browser-based client fetches: CORS `*`, no
/// credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub status: u16,
    pub content_type: &'static str,
    pub max_age: u32,
    pub body: String,
    pub cors: bool,
}

impl Document {
    fn error(status: u16, code: &str) -> Self {
        Self {
            status,
            content_type: "application/json",
            max_age: 0,
            body: json!({ "error": code }).to_string(),
            cors: false,
        }
    }
}

pub async fn route(app: &App, method: &str, path: &str) -> Document {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let result = match (method, segments.as_slice()) {
        ("GET", ["o", org, "idp", idp, "metadata"]) => sp_metadata(app, org, idp).await,
        ("GET", ["o", org, ".well-known", "openid-configuration"]) => discovery(app, org).await,
        ("GET", ["o", org, ".well-known", "jwks.json"]) => jwks(app, org).await,
        _ => return Document::error(404, "no_route"),
    };
    result.unwrap_or_else(|e| {
        tracing::warn!(code = e.code(), error = %e, "metadata request failed");
        Document::error(e.http_status(), e.code())
    })
}

async fn sp_metadata(app: &App, org: &str, idp: &str) -> Result<Document, VaultError> {
    let not_found = |_| VaultError::IdpNotFound;
    let (org, idp) = (
        OrgId::parse(org).map_err(not_found)?,
        IdpId::parse(idp).map_err(not_found)?,
    );
    // An unknown or inactive organisation looks like an unknown IdP: nothing to publish.
    app.config.active_org(&org).await.map_err(|e| match e {
        VaultError::OrgNotFound | VaultError::OrgInactive => VaultError::IdpNotFound,
        other => other,
    })?;
    let record = app
        .config
        .idp(&org, &idp)
        .await?
        .ok_or(VaultError::IdpNotFound)?;
    let keys = app.config.sp_keys(&org, Some(&idp)).await?;
    let certificates = |usage: KeyUse| -> Vec<Vec<u8>> {
        keys.iter()
            .filter(|k| k.usage == usage && k.published())
            .filter_map(|k| k.certificate_der())
            .collect()
    };
    let signing = certificates(KeyUse::Signing);
    let encryption = certificates(KeyUse::Encryption);
    let entity_id = app.urls.sp_entity_id(&org, &idp);
    let acs_url = app.urls.acs_url(&org, &idp);
    let slo_url = app.urls.slo_url(&org, &idp);
    let formats: Vec<&str> = record
        .settings
        .name_id_format
        .iter()
        .map(String::as_str)
        .collect();
    let xml = saml::SpMetadata {
        entity_id: &entity_id,
        acs_url: &acs_url,
        slo_url: Some(&slo_url),
        signing_certificates: &signing,
        encryption_certificates: &encryption,
        name_id_formats: &formats,
        authn_requests_signed: record.settings.sign_requests,
        want_assertions_signed: true,
    }
    .to_xml();
    Ok(Document {
        status: 200,
        content_type: "application/samlmetadata+xml",
        max_age: 3600,
        body: xml,
        cors: false,
    })
}

/// The organisation, if it is active: an unknown or inactive one publishes nothing (it looks
/// like an unknown route, so that organisations cannot be enumerated by their documents).
async fn published_org(app: &App, org: &str) -> Result<OrgId, VaultError> {
    let org = OrgId::parse(org).map_err(|_| VaultError::OrgNotFound)?;
    app.config.active_org(&org).await.map_err(|e| match e {
        VaultError::OrgInactive => VaultError::OrgNotFound,
        other => other,
    })?;
    Ok(org)
}

/// OpenID Connect Discovery 1.0 §3: what this issuer does, and nothing it does not
/// (no implicit or hybrid flows, no refresh tokens, no request objects).
pub fn discovery_document(urls: &PublicUrls, org: &OrgId) -> serde_json::Value {
    let issuer = urls.issuer(org);
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid",
            "email", "email_verified", "name", "groups", "org", "idp"
        ],
        "prompt_values_supported": ["login"],
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

async fn discovery(app: &App, org: &str) -> Result<Document, VaultError> {
    let org = published_org(app, org).await?;
    Ok(Document {
        status: 200,
        content_type: "application/json",
        max_age: 300,
        cors: true,
        body: discovery_document(&app.urls, &org).to_string(),
    })
}

async fn jwks(app: &App, org: &str) -> Result<Document, VaultError> {
    let org = published_org(app, org).await?;
    let keys = app
        .jwks
        .jwks(&org)
        .await
        .map_err(|e: PortError| VaultError::Port(e))?;
    Ok(Document {
        status: 200,
        content_type: "application/json",
        max_age: 300,
        cors: true,
        body: json!({ "keys": keys }).to_string(),
    })
}

/// The Lambda entry point.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    let doc = route(app, request.method().as_str(), request.uri().path()).await;
    let mut response = Response::new(Body::Text(doc.body));
    *response.status_mut() =
        StatusCode::from_u16(doc.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(doc.content_type));
    let cache = if doc.max_age == 0 {
        "no-store".to_owned()
    } else {
        format!("public, max-age={}", doc.max_age)
    };
    if let Ok(value) = HeaderValue::from_str(&cache) {
        headers.insert("cache-control", value);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if doc.cors {
        headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    response
}
