//! The application token: a JWT signed ES256 with the organisation's token key, valid 5
//! minutes, delivered to an allowed return URL. Applications verify it with the published
//! JWKS (`GET /.well-known/jwks.json`), `iss` = `{base}/o/{org}` and their `aud`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use samlgate_domain::{Result, VaultError};

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

/// The organisation's token key, parsed once (acs caches it with the SP keys): JWS compact
/// serialisation, ES256 (RFC 7515, RFC 7518 §3.4: the fixed-width r‖s signature).
pub struct TokenSigner {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl TokenSigner {
    /// A P-256 private key, PKCS#8 PEM.
    pub fn from_pem(private_pem: &str, kid: &str) -> Result<Self> {
        let failed = || VaultError::Internal("token key");
        let der = Zeroizing::new(
            pem::parse(private_pem)
                .map_err(|_| failed())?
                .into_contents(),
        );
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
            .map_err(|_| failed())?;
        Ok(Self {
            key,
            kid: kid.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let failed = || VaultError::Internal("token signing");
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let mut jws = B64URL.encode(serde_json::to_vec(&header).map_err(|_| failed())?);
        jws.push('.');
        jws.push_str(&B64URL.encode(serde_json::to_vec(claims).map_err(|_| failed())?));
        let signature = self
            .key
            .sign(&self.rng, jws.as_bytes())
            .map_err(|_| failed())?;
        jws.push('.');
        jws.push_str(&B64URL.encode(signature.as_ref()));
        Ok(jws)
    }
}
