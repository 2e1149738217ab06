//! RSA SP keys under 2048 bits, for `samlgate validate --allow-weak-sp-key` only (feature
//! `weak-sp-key`, which the CLI enables and no Lambda links: `scripts/check-deps`).
//!
//! aws-lc, samlgate's one RSA implementation, refuses keys under 2048 bits, and old captures
//! (Okta 2016/2020, TestShib 2015) were encrypted to 1024-bit SP keys. To diagnose them, the
//! EncryptedKey alone is opened here with RustCrypto's `rsa` (RSA-OAEP, the hashes the
//! EncryptionMethod names); bergshamra does everything else as for any key (the data cipher,
//! and every structure and algorithm check of `crate::encrypted` ran before). An offline
//! command-line diagnosis: `rsa`'s decryption is not constant-time (RUSTSEC-2023-0071), which
//! is why no network-facing function links it.

use crate::error::ConfigError;
use crate::oaep::{Hash, OaepParams};
use bergshamra::EncContext;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use std::sync::Arc;

/// Below this, not even a diagnosis.
const MIN_WEAK_BITS: usize = 1024;

/// An RSA private key of 1024 to 2047 bits.
pub(crate) struct WeakRsaKey(rsa::RsaPrivateKey);

impl WeakRsaKey {
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self, ConfigError> {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| {
            ConfigError::SpKey("not an RSA private key in PEM (PKCS#8 or PKCS#1)".into())
        })?;
        let bits = key.n().bits();
        if bits < MIN_WEAK_BITS {
            return Err(ConfigError::SpKey(format!(
                "a {bits}-bit RSA key is below even the diagnostic floor of {MIN_WEAK_BITS} bits"
            )));
        }
        Ok(Self(key))
    }
}

fn digest(hash: Hash) -> Box<dyn sha2::digest::DynDigest + Send + Sync> {
    match hash {
        Hash::Sha1 => Box::new(sha1::Sha1::default()),
        Hash::Sha256 => Box::new(sha2::Sha256::default()),
        Hash::Sha384 => Box::new(sha2::Sha384::default()),
        Hash::Sha512 => Box::new(sha2::Sha512::default()),
    }
}

/// RustCrypto's OAEP padding for these parameters; `None` for a label that is not UTF-8
/// (`rsa` takes it as a string), which then cannot open.
fn padding(params: &OaepParams) -> Option<rsa::Oaep> {
    let label = match &params.label {
        None => None,
        Some(bytes) => Some(String::from_utf8(bytes.clone()).ok()?),
    };
    Some(rsa::Oaep {
        digest: digest(params.digest),
        mgf_digest: digest(params.mgf),
        label,
    })
}

/// bergshamra opens EncryptedKeys through this instead of a key in its KeysManager.
struct WeakOaep {
    key: Arc<WeakRsaKey>,
    params: Vec<OaepParams>,
}

impl kryptering::Decryptor for WeakOaep {
    /// OAEP fails closed on the wrong hash (its label hash check), so each EncryptedKey's
    /// parameters can be tried in turn.
    fn decrypt(&self, ciphertext: &[u8]) -> kryptering::Result<Vec<u8>> {
        self.params
            .iter()
            .filter_map(padding)
            .find_map(|padding| self.key.0.decrypt(padding, ciphertext).ok())
            .ok_or_else(|| kryptering::Error::Crypto("RSA-OAEP decryption failed".into()))
    }
}

/// A decryption context whose RSA key transport is the weak key.
pub(crate) fn context(key: Arc<WeakRsaKey>, params: &[OaepParams]) -> EncContext {
    crate::oaep::context(Box::new(WeakOaep {
        key,
        params: params.to_vec(),
    }))
}
