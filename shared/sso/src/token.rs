//! The application token: a JWT signed ES256 with the organisation's token key, valid 5
//! minutes, delivered to an allowed return URL. Applications verify it with the published
//! JWKS (`GET /.well-known/jwks.json`), `iss` = `{base}/o/{org}` and their `aud`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use samlgate_domain::sp_key::KeyUse;
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

/// One of the organisation's token keys, parsed once (acs caches it with the SP keys): JWS
/// compact serialisation (RFC 7515), ES256 (RFC 7518 §3.4: the fixed-width r‖s signature) or
/// RS256 (§3.3).
pub struct TokenSigner {
    key: SigningKey,
    kid: String,
    rng: SystemRandom,
}

enum SigningKey {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

impl TokenSigner {
    /// The private key (PKCS#8 PEM) of a token key of `usage` (`Token`: P-256, `TokenRsa`).
    pub fn from_pem(private_pem: &str, kid: &str, usage: KeyUse) -> Result<Self> {
        let failed = || VaultError::Internal("token key");
        let der = Zeroizing::new(
            pem::parse(private_pem)
                .map_err(|_| failed())?
                .into_contents(),
        );
        let key = match usage {
            KeyUse::Token => SigningKey::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|_| failed())?,
            ),
            KeyUse::TokenRsa => {
                SigningKey::Rs256(RsaKeyPair::from_pkcs8(&der).map_err(|_| failed())?)
            }
            _ => return Err(failed()),
        };
        Ok(Self {
            key,
            kid: kid.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    /// The JWS `alg` this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.key {
            SigningKey::Es256(_) => "ES256",
            SigningKey::Rs256(_) => "RS256",
        }
    }

    /// An ID token (`typ: JWT`).
    pub fn sign(&self, claims: &impl Serialize) -> Result<String> {
        self.sign_typed("JWT", claims)
    }

    /// A JWS with the header `{alg, typ, kid}` over `payload`.
    pub fn sign_typed(&self, typ: &str, payload: &impl Serialize) -> Result<String> {
        let failed = || VaultError::Internal("token signing");
        let header = serde_json::json!({"alg": self.alg(), "typ": typ, "kid": self.kid});
        let mut jws = B64URL.encode(serde_json::to_vec(&header).map_err(|_| failed())?);
        jws.push('.');
        jws.push_str(&B64URL.encode(serde_json::to_vec(payload).map_err(|_| failed())?));
        let signature = match &self.key {
            SigningKey::Es256(key) => key
                .sign(&self.rng, jws.as_bytes())
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            SigningKey::Rs256(key) => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &self.rng, jws.as_bytes(), &mut signature)
                    .map_err(|_| failed())?;
                signature
            }
        };
        jws.push('.');
        jws.push_str(&B64URL.encode(signature));
        Ok(jws)
    }
}
