//! RSA-OAEP key transport: the parameters each `EncryptedKey` names, and the SP's prepared
//! private keys that open them.
//!
//! bergshamra decrypts the data (`EncryptedData`); the one RSA private-key operation per
//! message is ours, through its `with_hsm_decryptor` hook, so that each SP key is parsed and
//! checked by aws-lc once, when the verifier is built, and not once per message (which cost
//! about twice the RSA operation itself).

use crate::xml::{
    self, attr, child_elements, is, oaep_hash_name, DSIG, RSA_OAEP11, RSA_OAEP_MGF1P,
};
use crate::xml::{XENC, XENC11};
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
    OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
};
use base64::Engine as _;
use std::sync::Arc;
use uppsala::{Document, NodeId};
use zeroize::Zeroizing;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
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
}

/// One EncryptedKey's OAEP parameters (XML Encryption 1.1 §5.5.2: DigestMethod default
/// SHA-1; MGF1-SHA1 for `rsa-oaep-mgf1p`, and the `xenc11:MGF` default for `rsa-oaep`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OaepParams {
    pub(crate) digest: Hash,
    pub(crate) mgf: Hash,
    pub(crate) label: Option<Vec<u8>>,
}

impl OaepParams {
    /// aws-lc's OAEP with this digest and MGF; aws-lc has only matching pairs.
    fn algorithm(&self) -> Option<&'static OaepAlgorithm> {
        match (self.digest, self.mgf) {
            (Hash::Sha1, Hash::Sha1) => Some(&OAEP_SHA1_MGF1SHA1),
            (Hash::Sha256, Hash::Sha256) => Some(&OAEP_SHA256_MGF1SHA256),
            (Hash::Sha384, Hash::Sha384) => Some(&OAEP_SHA384_MGF1SHA384),
            (Hash::Sha512, Hash::Sha512) => Some(&OAEP_SHA512_MGF1SHA512),
            _ => None,
        }
    }
}

/// The OAEP parameters of every EncryptedKey under `encrypted` (an EncryptedAssertion or
/// EncryptedID; several recipients may each have one), without repeats. An EncryptedKey
/// whose parameters cannot be read is skipped, so it can only fail to open.
pub(crate) fn params(doc: &Document<'_>, encrypted: NodeId) -> Vec<OaepParams> {
    let mut found = Vec::new();
    for key in doc
        .descendants(encrypted)
        .into_iter()
        .filter(|n| is(doc, *n, XENC, "EncryptedKey"))
    {
        let Some(method) = xml::children_named(doc, key, XENC, "EncryptionMethod")
            .into_iter()
            .next()
        else {
            continue;
        };
        let algorithm = attr(doc, method, "Algorithm").unwrap_or("");
        if algorithm != RSA_OAEP_MGF1P && algorithm != RSA_OAEP11 {
            continue;
        }
        let mut params = OaepParams {
            digest: Hash::Sha1,
            mgf: Hash::Sha1,
            label: None,
        };
        let mut readable = true;
        for parameter in child_elements(doc, method) {
            let uri = attr(doc, parameter, "Algorithm").unwrap_or("");
            if is(doc, parameter, DSIG, "DigestMethod") || is(doc, parameter, XENC, "DigestMethod")
            {
                params.digest = Hash::from_uri(uri).unwrap_or_else(|| {
                    readable = false;
                    Hash::Sha1
                });
            } else if is(doc, parameter, XENC11, "MGF") && algorithm == RSA_OAEP11 {
                params.mgf = Hash::from_uri(uri).unwrap_or_else(|| {
                    readable = false;
                    Hash::Sha1
                });
            } else if is(doc, parameter, XENC, "OAEPparams") {
                let text: Vec<u8> = doc
                    .text_content_deep(parameter)
                    .bytes()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let label = base64::engine::general_purpose::STANDARD.decode(text).ok();
                readable &= label.is_some();
                params.label = label;
            }
        }
        if readable && !found.contains(&params) {
            found.push(params);
        }
    }
    found
}

/// An SP private key (RSA, at least 2048 bits), parsed and checked by aws-lc once.
#[derive(Clone)]
pub(crate) struct PreparedKey(Arc<OaepPrivateDecryptingKey>);

impl PreparedKey {
    /// From PKCS#8 DER; `None` when aws-lc refuses it.
    pub(crate) fn from_pkcs8(der: &[u8]) -> Option<Self> {
        let key = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(der).ok()?;
        OaepPrivateDecryptingKey::new(key)
            .ok()
            .map(|key| Self(Arc::new(key)))
    }
}

/// A decryption context whose RSA key transport (OAEP only) is `unwrapper`, not a key in
/// bergshamra's KeysManager: ours ([`Unwrapper`]) or the CLI's weak-key one.
pub(crate) fn context(unwrapper: Box<dyn kryptering::Decryptor>) -> bergshamra::EncContext {
    bergshamra::EncContext::new(bergshamra::KeysManager::new())
        .with_hsm_decryptor(unwrapper, &[RSA_OAEP_MGF1P, RSA_OAEP11])
}

/// bergshamra opens EncryptedKeys through this instead of a key in its KeysManager.
pub(crate) struct Unwrapper {
    pub(crate) key: PreparedKey,
    pub(crate) params: Vec<OaepParams>,
}

impl kryptering::Decryptor for Unwrapper {
    /// OAEP fails closed on the wrong hash or label (its label hash check), so each
    /// EncryptedKey's parameters can be tried in turn.
    fn decrypt(&self, ciphertext: &[u8]) -> kryptering::Result<Vec<u8>> {
        let key = &self.key.0;
        let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
        for params in &self.params {
            let Some(algorithm) = params.algorithm() else {
                continue;
            };
            if let Ok(plain) = key.decrypt(algorithm, ciphertext, &mut out, params.label.as_deref())
            {
                return Ok(plain.to_vec());
            }
        }
        Err(kryptering::Error::Crypto(
            "RSA-OAEP decryption failed".into(),
        ))
    }
}
