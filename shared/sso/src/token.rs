//! samlgate's JWTs: ID tokens and logout tokens signed with the organisation's token keys
//! (ES256 or RS256), and the check of a token we signed (`id_token_hint`). Applications verify them with the organisation's own JWKS
//! (`{issuer}/.well-known/jwks.json`), `iss` = `{base}/o/{org}` and their `aud`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use samlgate_domain::sp_key::{KeyUse, SpKey};
use samlgate_domain::{Result, VaultError};

/// Largest token read back (an `id_token_hint`).
const MAX_TOKEN: usize = 8 * 1024;

/// Reads back a JWS that one of `keys` (the organisation's published token keys) signed: the
/// header's `kid` names the key, whose JWK gives the public key and the only `alg` accepted.
/// `None` for anything else (another key, another algorithm, a bad signature, malformed).
/// Times are not checked: an `id_token_hint` may have expired (OIDC RP-Initiated Logout §2).
pub fn verify_own(token: &str, keys: &[SpKey]) -> Option<serde_json::Value> {
    use aws_lc_rs::signature::{
        RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
        RSA_PKCS1_2048_8192_SHA256,
    };
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let head: serde_json::Value = serde_json::from_slice(&B64URL.decode(header).ok()?).ok()?;
    let kid = head["kid"].as_str()?;
    let key = keys.iter().find(|k| {
        k.id == kid && matches!(k.usage, KeyUse::Token | KeyUse::TokenRsa) && k.published()
    })?;
    let jwk = key.public_jwk.as_ref()?;
    let signed = &token.as_bytes()[..header.len() + 1 + payload.len()];
    let signature = B64URL.decode(signature).ok()?;
    let field = |name: &str| jwk[name].as_str().and_then(|v| B64URL.decode(v).ok());
    let verified = match (key.usage, head["alg"].as_str()?) {
        (KeyUse::Token, "ES256") => {
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(signed, &signature)
                .is_ok()
        }
        (KeyUse::TokenRsa, "RS256") => RsaPublicKeyComponents {
            n: field("n")?,
            e: field("e")?,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed, &signature)
        .is_ok(),
        _ => false,
    };
    if !verified {
        return None;
    }
    serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()
}

/// ID token lifetime, seconds.
pub const TOKEN_TTL_SECS: i64 = 300;

/// The canonical identity, after the IdP's mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
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
