//! acs's unwrapped SP keys and what is prepared from them (DESIGN.md §4): each kept for a
//! bounded time, so that a revoked or disabled organisation key stops logins within it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use samlgate_domain::clock::Clock;
use samlgate_domain::config::DEFAULT_SP_KEY_CACHE;
use samlgate_domain::context::{context, Purpose};
use samlgate_domain::org::Org;
use samlgate_domain::ports::DecryptDataKey;
use samlgate_domain::sealing;
use samlgate_domain::sp_key::SpKey;
use samlgate_domain::{Result, VaultError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::token::TokenSigner;

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
    signers: TtlMap<TokenSigner>,
}

impl KeyCache {
    pub const DEFAULT_TTL: Duration = DEFAULT_SP_KEY_CACHE;

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
        let plaintext = sealing::open(kms, &org.key_arn, &ctx, &key.wrapped_private_key).await?;
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
    ) -> Result<Arc<TokenSigner>> {
        let now = clock.now();
        let cache_key = unwrapped_key_id(org, key);
        if let Some(signer) = self.signers.get(&cache_key, now) {
            return Ok(signer);
        }
        let pem = self.private_pem(kms, org, key, clock).await?;
        let signer = TokenSigner::from_pem(&pem, &key.id, key.usage)?;
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
