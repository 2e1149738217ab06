//! The application token (issue 5 §3): a JWT signed ES256 with the organisation's token key,
//! valid 5 minutes, delivered to an allowed return URL. Applications verify it with the
//! published JWKS (`GET /.well-known/jwks.json`), `iss` = `{base}/o/{org}` and their `aud`.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};

/// Token lifetime, seconds.
pub const TOKEN_TTL_SECS: i64 = 300;

/// The canonical identity, after the IdP's mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// The claims of an application token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub org: String,
    pub idp: String,
    /// AuthnContextClassRef of the assertion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// samlgate session ID (for logout).
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Signs `claims` with a P-256 private key (PKCS#8 PEM) under `kid`.
pub fn sign(private_pem: &str, kid: &str, claims: &Claims) -> Result<String> {
    let failed = || VaultError::InvalidRequest("token signing failed".into());
    let der = zeroize::Zeroizing::new(
        pem::parse(private_pem)
            .map_err(|_| failed())?
            .into_contents(),
    );
    let key = jsonwebtoken::EncodingKey::from_ec_der(&der);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).map_err(|_| failed())
}
