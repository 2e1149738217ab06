//! SP keys (DESIGN.md §4): per IdP, an RSA-2048 signing key and an RSA-2048 encryption key
//! with self-signed certificates (rcgen; RSA for IdP compatibility); per organisation, a
//! P-256 key that signs application tokens (ES256, published in the JWKS). Every private key
//! leaves this module only as an envelope under the organisation key with `purpose=sp-key`;
//! acs is the one role the key policy lets open those, and it caches them for a bounded time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use saml::{format_instant, Clock};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::context::{context, Purpose};
use crate::envelope::{self, Envelope};
use crate::error::{Result, VaultError};
use crate::idp::IdpId;
use crate::model::{random_hex, Org, OrgId};
use crate::ports::{DecryptDataKey, GenerateDataKey};

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    /// Signs AuthnRequests and logout messages (published `use="signing"`).
    Signing,
    /// Decrypts EncryptedAssertions (published `use="encryption"`).
    Encryption,
    /// Signs application tokens (ES256; published in the JWKS).
    Token,
}

impl KeyUse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::Encryption => "encryption",
            Self::Token => "token",
        }
    }
}

/// Rotation states (DESIGN.md §6; `crate::rotation` moves keys along them): `next` is
/// published but not used, `active` signs (and decrypts), `retiring` is still published and
/// still decrypts, `retired` is neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Next,
    Active,
    Retiring,
    Retired,
}

/// `ORG#{org}` / `SPKEY#{idp or -}#{use}#{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpKey {
    pub org: OrgId,
    /// `None` for the organisation's token key.
    pub idp: Option<IdpId>,
    pub usage: KeyUse,
    pub id: String,
    /// Base64 DER certificate (signing and encryption keys).
    pub certificate: Option<String>,
    /// The public JWK (token keys).
    pub public_jwk: Option<Value>,
    /// PKCS#8 PEM, sealed with `{org, purpose: sp-key, id}`.
    pub wrapped_private_key: Envelope,
    pub state: KeyState,
    pub not_after: String,
    pub created_at: String,
    /// When the key became `active` (absent on keys created active: then `created_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
    /// When the key became `retiring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_since: Option<String>,
    /// The `next` key published to replace this one, set in the same transaction that adds
    /// it: two rotation runs cannot both publish one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
}

impl SpKey {
    /// The certificate as DER.
    pub fn certificate_der(&self) -> Option<Vec<u8>> {
        self.certificate.as_ref().and_then(|c| B64.decode(c).ok())
    }

    /// Published (metadata, JWKS): everything but retired keys.
    pub fn published(&self) -> bool {
        self.state != KeyState::Retired
    }

    /// The certificate's end of validity.
    pub fn not_after(&self) -> Option<OffsetDateTime> {
        saml::parse_instant(&self.not_after)
    }

    /// When the key became active.
    pub fn activated(&self) -> Option<OffsetDateTime> {
        saml::parse_instant(self.activated_at.as_deref().unwrap_or(&self.created_at))
    }
}

/// Lifetime of a generated SP certificate (rotation replaces keys long before: see
/// `crate::rotation::RotationPolicy::validate`).
pub const CERT_DAYS: i64 = 3 * 365;

/// The private half of `pair` as PKCS#8 PEM, sealed with `{org, purpose: sp-key, id}`.
async fn seal_private_key(
    keys: &dyn GenerateDataKey,
    org: &Org,
    id: &str,
    pair: &rcgen::KeyPair,
) -> Result<Envelope> {
    let private_pem = Zeroizing::new(pair.serialize_pem());
    let ctx = context(&org.org, Purpose::SpKey, id);
    envelope::seal(keys, &org.key_arn, ctx, private_pem.as_bytes()).await
}

/// Generates a SAML key pair for `idp` in `state` and seals its private half.
pub async fn generate_saml_key(
    keys: &dyn GenerateDataKey,
    org: &Org,
    idp: &IdpId,
    usage: KeyUse,
    state: KeyState,
    now: OffsetDateTime,
) -> Result<SpKey> {
    let failed =
        |what: &str| VaultError::InvalidRequest(format!("SP key generation failed: {what}"));
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|_| failed("RSA"))?;
    let not_after = now + time::Duration::days(CERT_DAYS);
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|_| failed("params"))?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("samlgate {}/{} {}", org.org, idp, usage.as_str()),
    );
    params.not_before = now - time::Duration::hours(1);
    params.not_after = not_after;
    let certificate = params
        .self_signed(&pair)
        .map_err(|_| failed("certificate"))?;
    let id = format!("sk-{}", random_hex(8)?);
    let wrapped_private_key = seal_private_key(keys, org, &id, &pair).await?;
    Ok(SpKey {
        org: org.org.clone(),
        idp: Some(idp.clone()),
        usage,
        id,
        certificate: Some(B64.encode(certificate.der())),
        public_jwk: None,
        wrapped_private_key,
        state,
        not_after: format_instant(not_after),
        created_at: format_instant(now),
        activated_at: None,
        retiring_since: None,
        successor: None,
    })
}

/// Generates the organisation's token-signing key (P-256) and seals its private half.
pub async fn generate_token_key(
    keys: &dyn GenerateDataKey,
    org: &Org,
    now: OffsetDateTime,
) -> Result<SpKey> {
    let failed = || VaultError::InvalidRequest("token key generation failed".into());
    let pair =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|_| failed())?;
    let id = format!("tk-{}", random_hex(8)?);
    let jwk = ec_jwk(&id, pair.public_key_raw()).ok_or_else(failed)?;
    let wrapped_private_key = seal_private_key(keys, org, &id, &pair).await?;
    Ok(SpKey {
        org: org.org.clone(),
        idp: None,
        usage: KeyUse::Token,
        id,
        certificate: None,
        public_jwk: Some(jwk),
        wrapped_private_key,
        state: KeyState::Active,
        not_after: format_instant(now + time::Duration::days(CERT_DAYS)),
        created_at: format_instant(now),
        activated_at: None,
        retiring_since: None,
        successor: None,
    })
}

/// RFC 7517/7518 JWK of an uncompressed P-256 point (`04 || x || y`).
fn ec_jwk(kid: &str, point: &[u8]) -> Option<Value> {
    if point.len() != 65 || point[0] != 4 {
        return None;
    }
    Some(json!({
        "kty": "EC",
        "crv": "P-256",
        "x": B64URL.encode(&point[1..33]),
        "y": B64URL.encode(&point[33..]),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    }))
}

/// One kind of cached object: each entry kept at most the cache's `ttl`.
struct TtlMap<T> {
    entries: Mutex<HashMap<String, (OffsetDateTime, Arc<T>)>>,
}

impl<T> TtlMap<T> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str, now: OffsetDateTime) -> Option<Arc<T>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, value)| Arc::clone(value))
    }

    fn keep(&self, key: String, value: T, until: OffsetDateTime, now: OffsetDateTime) -> Arc<T> {
        let value = Arc::new(value);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (u, _)| *u > now);
            entries.insert(key, (until, Arc::clone(&value)));
        }
        value
    }
}

/// acs's unwrapped SP keys and what is prepared from them (a verifier holding the decryption
/// key, the token signer), each kept at most `ttl` (default 5 min), so that a revoked or
/// disabled organisation key stops logins within that bound (DESIGN.md §4). Cache keys include
/// the organisation key ARN, the SP key ID and the IdP record's version, so a configuration
/// change is seen at once.
pub struct KeyCache {
    ttl: Duration,
    pems: TtlMap<Zeroizing<String>>,
    verifiers: TtlMap<saml::Verifier>,
    signers: TtlMap<crate::token::TokenSigner>,
}

impl KeyCache {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            pems: TtlMap::new(),
            verifiers: TtlMap::new(),
            signers: TtlMap::new(),
        }
    }

    /// The private key PEM of `key`, from the cache or unwrapped now (KMS Decrypt with
    /// `{org, purpose: sp-key, id}` pinned to the organisation key).
    pub async fn private_pem(
        &self,
        kms: &dyn DecryptDataKey,
        org: &Org,
        key: &SpKey,
        clock: &dyn Clock,
    ) -> Result<Arc<Zeroizing<String>>> {
        let now = clock.now();
        let cache_key = unwrapped_key_id(org, key);
        if let Some(pem) = self.pems.get(&cache_key, now) {
            return Ok(pem);
        }
        let ctx = context(&org.org, Purpose::SpKey, &key.id);
        let plaintext = envelope::open(kms, &org.key_arn, &ctx, &key.wrapped_private_key).await?;
        let text = Zeroizing::new(
            String::from_utf8(plaintext.to_vec()).map_err(|_| VaultError::EnvelopeInvalid)?,
        );
        Ok(self.pems.keep(cache_key, text, now + self.ttl, now))
    }

    pub fn verifier(&self, cache_key: &str, now: OffsetDateTime) -> Option<Arc<saml::Verifier>> {
        self.verifiers.get(cache_key, now)
    }

    pub fn keep_verifier(
        &self,
        cache_key: String,
        verifier: saml::Verifier,
        now: OffsetDateTime,
    ) -> Arc<saml::Verifier> {
        self.verifiers
            .keep(cache_key, verifier, now + self.ttl, now)
    }

    /// The token signer for `key`, from the cache or unwrapped and parsed now.
    pub async fn token_signer(
        &self,
        kms: &dyn DecryptDataKey,
        org: &Org,
        key: &SpKey,
        clock: &dyn Clock,
    ) -> Result<Arc<crate::token::TokenSigner>> {
        let now = clock.now();
        let cache_key = unwrapped_key_id(org, key);
        if let Some(signer) = self.signers.get(&cache_key, now) {
            return Ok(signer);
        }
        let pem = self.private_pem(kms, org, key, clock).await?;
        let signer = crate::token::TokenSigner::from_pem(&pem, &key.id)?;
        Ok(self.signers.keep(cache_key, signer, now + self.ttl, now))
    }
}

/// What an unwrapped key is cached under: a new organisation key (BYOK swap) or key ID is a
/// new entry.
fn unwrapped_key_id(org: &Org, key: &SpKey) -> String {
    format!("{}#{}#{}", org.org, key.id, org.key_arn)
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_TTL)
    }
}
