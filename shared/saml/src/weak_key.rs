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

use crate::error::{ConfigError, Error};
use crate::xml::{
    self, attr, child_elements, is, oaep_hash_name, DSIG, RSA_OAEP11, RSA_OAEP_MGF1P, XENC, XENC11,
};
use crate::Limits;
use base64::Engine as _;
use bergshamra::{EncContext, KeysManager};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_uri(uri: &str) -> Option<Self> {
        match oaep_hash_name(uri)? {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn digest(self) -> Box<dyn sha2::digest::DynDigest + Send + Sync> {
        match self {
            Self::Sha1 => Box::new(sha1::Sha1::default()),
            Self::Sha256 => Box::new(sha2::Sha256::default()),
            Self::Sha384 => Box::new(sha2::Sha384::default()),
            Self::Sha512 => Box::new(sha2::Sha512::default()),
        }
    }
}

/// One EncryptedKey's OAEP parameters (XML Encryption 1.1 §5.5.2: DigestMethod default
/// SHA-1; MGF1-SHA1 for `rsa-oaep-mgf1p`, and the `xenc11:MGF` default for `rsa-oaep`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OaepParams {
    digest: Hash,
    mgf: Hash,
    label: Option<String>,
}

impl OaepParams {
    fn padding(&self) -> rsa::Oaep {
        rsa::Oaep {
            digest: self.digest.digest(),
            mgf_digest: self.mgf.digest(),
            label: self.label.clone(),
        }
    }
}

/// The OAEP parameters of every EncryptedKey in the fragment (several recipients may each
/// have one); an EncryptedKey whose parameters cannot be read is skipped.
fn oaep_params(fragment: &str) -> Result<Vec<OaepParams>, Error> {
    let doc = xml::parse_strict(fragment, &Limits::default())?;
    let root = doc
        .document_element()
        .ok_or_else(|| Error::Malformed("empty document".into()))?;
    let mut found = Vec::new();
    for key in doc
        .descendants(root)
        .into_iter()
        .filter(|n| is(&doc, *n, XENC, "EncryptedKey"))
    {
        let Some(method) = xml::children_named(&doc, key, XENC, "EncryptionMethod")
            .into_iter()
            .next()
        else {
            continue;
        };
        let algorithm = attr(&doc, method, "Algorithm").unwrap_or("");
        if algorithm != RSA_OAEP_MGF1P && algorithm != RSA_OAEP11 {
            continue;
        }
        let mut params = OaepParams {
            digest: Hash::Sha1,
            mgf: Hash::Sha1,
            label: None,
        };
        let mut readable = true;
        for parameter in child_elements(&doc, method) {
            let uri = attr(&doc, parameter, "Algorithm").unwrap_or("");
            if is(&doc, parameter, DSIG, "DigestMethod") {
                params.digest = Hash::from_uri(uri).unwrap_or_else(|| {
                    readable = false;
                    Hash::Sha1
                });
            } else if is(&doc, parameter, XENC11, "MGF") && algorithm == RSA_OAEP11 {
                params.mgf = Hash::from_uri(uri).unwrap_or_else(|| {
                    readable = false;
                    Hash::Sha1
                });
            } else if is(&doc, parameter, XENC, "OAEPparams") {
                let text: Vec<u8> = doc
                    .text_content_deep(parameter)
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let label = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                readable &= label.is_some();
                params.label = label;
            }
        }
        if readable && !found.contains(&params) {
            found.push(params);
        }
    }
    Ok(found)
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
            .find_map(|params| self.key.0.decrypt(params.padding(), ciphertext).ok())
            .ok_or_else(|| kryptering::Error::Crypto("RSA-OAEP decryption failed".into()))
    }
}

/// A decryption context whose RSA key transport is the weak key.
pub(crate) fn context(key: Arc<WeakRsaKey>, fragment: &str) -> Result<EncContext, Error> {
    let params = oaep_params(fragment)?;
    Ok(EncContext::new(KeysManager::new()).with_hsm_decryptor(
        Box::new(WeakOaep { key, params }),
        &[RSA_OAEP_MGF1P, RSA_OAEP11],
    ))
}
