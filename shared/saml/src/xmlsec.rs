//! The only module that talks to bergshamra (XML-DSig, XML-Enc, C14N).
//!
//! Two small traits, one per capability, so that bergshamra stays replaceable (for example by
//! an own exc-c14n + aws-lc-rs verifier, DESIGN.md §5) and so that the SAML rules above it
//! (profile, binding of each signature to its element, algorithm policy) are ours, not the
//! library's. bergshamra is pinned exactly in Cargo.toml.

use crate::error::{ConfigError, Error};
use crate::oaep::{OaepParams, PreparedKey, Unwrapper};
use crate::xml::{self, DSIG};
use bergshamra::dsig::verify::verify_all_document;
use bergshamra::{DsigContext, KeysManager, VerifyResult};
use uppsala::{Document, NodeId};

/// What the backend says about one `ds:Signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureOutcome {
    /// The SignatureValue verifies under a trusted key and every Reference digest matches;
    /// `covers` is the element each Reference resolved to.
    Valid {
        signature: NodeId,
        covers: Vec<Option<NodeId>>,
    },
    /// Anything else, with the backend's reason (for `--explain` and the audit detail).
    Invalid { reason: String },
}

/// XML-DSig verification with a fixed set of trusted keys.
pub(crate) trait SignatureVerifier: Send + Sync {
    /// Verify every `ds:Signature` in `doc`, in document order.
    fn verify_all(&self, doc: &Document<'_>) -> Result<Vec<SignatureOutcome>, Error>;
}

/// XML-Enc decryption with the SP's private keys.
pub(crate) trait Decrypter: Send + Sync {
    /// Decrypt the single `xenc:EncryptedData` in `xml` and return the document with the
    /// plaintext in its place. `recipient` is the certificate (DER) the sender named in the
    /// EncryptedKey's KeyInfo, if any: a hint for which key to try first, never a trust input.
    /// `oaep` holds the OAEP parameters of its EncryptedKeys ([`crate::oaep::params`]).
    fn decrypt(
        &self,
        xml: &str,
        recipient: Option<&[u8]>,
        oaep: &[OaepParams],
    ) -> Result<Vec<u8>, Error>;
}

/// bergshamra with only the IdP's metadata keys: `trusted_keys_only` (KeyInfo in the message
/// never supplies a key) and strict reference positions.
pub(crate) struct BergshamraVerifier {
    context: DsigContext,
}

impl BergshamraVerifier {
    pub(crate) fn new(certificates_der: &[Vec<u8>]) -> Result<Self, ConfigError> {
        let mut keys = KeysManager::new();
        for der in certificates_der {
            let key = bergshamra::keys::loader::load_x509_cert_der(der)
                .map_err(|e| ConfigError::Metadata(format!("signing certificate: {e}")))?;
            keys.add_key(key);
        }
        let mut context = DsigContext::new(keys);
        context.trusted_keys_only = true;
        context.strict_verification = true;
        context.require_reference_digests = true;
        // Metadata certificates are trust anchors by configuration (SAML Metadata §2.4.1.1);
        // their validity dates are not a trust signal in SAML deployments.
        context.skip_time_checks = true;
        context.verify_keys = false;
        Ok(Self { context })
    }
}

impl SignatureVerifier for BergshamraVerifier {
    fn verify_all(&self, doc: &Document<'_>) -> Result<Vec<SignatureOutcome>, Error> {
        let results = verify_all_document(&self.context, doc)
            .map_err(|e| Error::SignatureInvalid(e.to_string()))?;
        Ok(results
            .into_iter()
            .map(|result| match result {
                VerifyResult::Valid {
                    signature_node,
                    references,
                    ..
                } => {
                    if references.iter().all(|r| r.digest_verified) {
                        SignatureOutcome::Valid {
                            signature: signature_node,
                            covers: references.iter().map(|r| r.resolved_node).collect(),
                        }
                    } else {
                        SignatureOutcome::Invalid {
                            reason: "a reference digest was not verified".into(),
                        }
                    }
                }
                VerifyResult::Invalid { reason } => SignatureOutcome::Invalid { reason },
            })
            .collect())
    }
}

/// The certificates a signature's KeyInfo names (diagnostics only: never a trust input).
pub(crate) fn key_info_certificates(doc: &Document<'_>, signature: NodeId) -> Vec<Vec<u8>> {
    doc.descendants(signature)
        .into_iter()
        .filter(|n| xml::is(doc, *n, DSIG, "X509Certificate"))
        .filter_map(|n| decode_certificate(&doc.text_content_deep(n)))
        .collect()
}

pub(crate) struct BergshamraDecrypter {
    /// Each private key with its certificate (DER) when known, in the order to try them.
    keys: Vec<(SpKey, Option<Vec<u8>>)>,
}

/// One SP decryption key: aws-lc's, prepared once, or (`weak-sp-key`, the CLI's
/// `--allow-weak-sp-key` only) an RSA key under 2048 bits, which aws-lc refuses.
enum SpKey {
    Standard(PreparedKey),
    #[cfg(feature = "weak-sp-key")]
    Weak(std::sync::Arc<crate::weak_key::WeakRsaKey>),
}

impl BergshamraDecrypter {
    pub(crate) fn new() -> Self {
        Self { keys: Vec::new() }
    }

    /// Adds an RSA private key in PEM, PKCS#8 or PKCS#1, with its certificate if known.
    pub(crate) fn add_pem(
        &mut self,
        pem: &[u8],
        certificate: Option<Vec<u8>>,
    ) -> Result<(), ConfigError> {
        let der = rsa_private_der(pem)?;
        let key = PreparedKey::from_pkcs8(&der).ok_or_else(not_a_key)?;
        self.keys.push((SpKey::Standard(key), certificate));
        Ok(())
    }

    /// Adds an RSA private key of any size from 1024 bits (diagnosing old captures only).
    #[cfg(feature = "weak-sp-key")]
    pub(crate) fn add_weak_pem(&mut self, pem: &[u8]) -> Result<(), ConfigError> {
        match self.add_pem(pem, None) {
            Err(ConfigError::WeakSpKey { .. }) => {
                let der = to_pkcs8_der(pem).ok_or_else(not_a_key)?;
                let key = crate::weak_key::WeakRsaKey::from_pkcs8(&der)?;
                self.keys
                    .push((SpKey::Weak(std::sync::Arc::new(key)), None));
                Ok(())
            }
            other => other,
        }
    }

    fn try_key(key: &SpKey, xml: &str, oaep: &[OaepParams]) -> Result<Vec<u8>, Error> {
        let context = match key {
            SpKey::Standard(key) => crate::oaep::context(Box::new(Unwrapper {
                key: key.clone(),
                params: oaep.to_vec(),
            })),
            #[cfg(feature = "weak-sp-key")]
            SpKey::Weak(key) => crate::weak_key::context(key.clone(), oaep),
        };
        // Only inline CipherValue: a CipherReference would make us fetch or read something.
        let context = context
            .with_disable_cipher_reference(true)
            .with_max_pbkdf2_iterations(0);
        bergshamra::decrypt_to_bytes(&context, xml).map_err(|_| Error::DecryptionFailed)
    }
}

impl Decrypter for BergshamraDecrypter {
    /// Each key is tried on its own during a key rollover: the one whose certificate the
    /// sender named first, then the others in order. RSA-OAEP fails closed on a wrong key,
    /// and the data cipher is authenticated (GCM, or CBC only inside a verified Response
    /// signature).
    fn decrypt(
        &self,
        xml: &str,
        recipient: Option<&[u8]>,
        oaep: &[OaepParams],
    ) -> Result<Vec<u8>, Error> {
        let named = |cert: &Option<Vec<u8>>| recipient.is_some() && cert.as_deref() == recipient;
        let ordered = self
            .keys
            .iter()
            .filter(|(_, cert)| named(cert))
            .chain(self.keys.iter().filter(|(_, cert)| !named(cert)));
        for (key, _) in ordered {
            if let Ok(plaintext) = Self::try_key(key, xml, oaep) {
                return Ok(plaintext);
            }
        }
        Err(Error::DecryptionFailed)
    }
}

/// Verifies a detached signature (the Redirect binding's query signature) with the public key
/// of any of `certificates` (DER). `Ok(false)` when none verifies.
pub(crate) fn verify_raw(
    certificates: &[Vec<u8>],
    algorithm: &str,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, Error> {
    let alg = bergshamra::crypto::AlgorithmRegistry::signature(algorithm)
        .map_err(|_| Error::AlgorithmForbidden(algorithm.to_owned()))?;
    for der in certificates {
        let Ok(key) = bergshamra::keys::loader::load_x509_cert_der(der) else {
            continue;
        };
        let Ok(Some(public)) = key.to_signing_key() else {
            continue;
        };
        if alg.verify(&public, data, signature).unwrap_or(false) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Enveloped signing from a template (`crate::sign` writes the template).
pub(crate) struct BergshamraSigner {
    context: DsigContext,
}

impl BergshamraSigner {
    pub(crate) fn from_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let mut keys = KeysManager::new();
        keys.add_key(rsa_private_key(pem)?);
        Ok(Self {
            context: DsigContext::new(keys),
        })
    }

    pub(crate) fn sign(&self, template: String) -> Result<String, ConfigError> {
        bergshamra::dsig::sign::sign_owned(&self.context, template)
            .map_err(|e| ConfigError::SpKey(format!("XML signing failed: {e}")))
    }
}

fn not_a_key() -> ConfigError {
    ConfigError::SpKey("not an RSA private key in PEM (PKCS#8 or PKCS#1)".into())
}

/// RSA keys below this many bits are refused (aws-lc's floor; NIST SP 800-131A).
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// An RSA private key in PEM (PKCS#8 or PKCS#1) as a bergshamra key. A key under 2048 bits is
/// refused with its size ([`ConfigError::WeakSpKey`]), not as unreadable.
fn rsa_private_key(pem: &[u8]) -> Result<bergshamra::Key, ConfigError> {
    let der = rsa_private_der(pem)?;
    let pkcs8 = pkcs8_pem(&der).ok_or_else(not_a_key)?;
    bergshamra::keys::loader::load_rsa_private_pem(pkcs8.as_bytes()).map_err(|_| not_a_key())
}

/// An RSA private key in PEM (PKCS#8 or PKCS#1) as PKCS#8 DER, refused under 2048 bits.
fn rsa_private_der(pem: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, ConfigError> {
    let der = to_pkcs8_der(pem).ok_or_else(not_a_key)?;
    if let Some(bits) = rsa_modulus_bits(&der) {
        if bits < MIN_RSA_BITS {
            return Err(ConfigError::WeakSpKey { bits });
        }
    }
    Ok(der)
}

/// The modulus size of an RSA PKCS#8 PrivateKeyInfo (RFC 8017 A.1.2: the RSAPrivateKey
/// SEQUENCE starts with version, then the modulus); `None` when it is not one.
pub(crate) fn rsa_modulus_bits(pkcs8_der: &[u8]) -> Option<usize> {
    let info = pkcs8::PrivateKeyInfo::try_from(pkcs8_der).ok()?;
    modulus_bits(info.private_key, true)
}

/// The RSA modulus size of a certificate's key (as bergshamra loaded it); `None` when it is
/// not an RSA key.
pub(crate) fn certificate_rsa_bits(key: &bergshamra::Key) -> Option<usize> {
    const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
        pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    let spki = key.to_spki_der()?;
    let info = pkcs8::spki::SubjectPublicKeyInfoRef::try_from(spki.as_slice()).ok()?;
    if info.algorithm.oid != RSA_ENCRYPTION {
        return None;
    }
    // RSAPublicKey (RFC 8017 A.1.1): SEQUENCE { modulus, publicExponent }.
    modulus_bits(info.subject_public_key.as_bytes()?, false)
}

/// The bit length of the modulus in an RSAPrivateKey (after its version) or RSAPublicKey.
fn modulus_bits(sequence: &[u8], has_version: bool) -> Option<usize> {
    use pkcs8::der::asn1::UintRef;
    use pkcs8::der::{Decode, Header, SliceReader, Tag};
    let mut reader = SliceReader::new(sequence).ok()?;
    if Header::decode(&mut reader).ok()?.tag != Tag::Sequence {
        return None;
    }
    if has_version {
        let _version = u8::decode(&mut reader).ok()?;
    }
    let modulus = UintRef::decode(&mut reader).ok()?;
    let bytes = modulus.as_bytes();
    let first = *bytes.first()?;
    Some(bytes.len() * 8 - first.leading_zeros() as usize)
}

/// PKCS#8 DER ([`to_pkcs8_der`]) as the PEM bergshamra's aws-lc loader reads.
fn pkcs8_pem(der: &[u8]) -> Option<zeroize::Zeroizing<String>> {
    use pkcs8::der::pem::LineEnding;
    pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, der)
        .ok()
        .map(zeroize::Zeroizing::new)
}

/// An RSA private key in PEM (PKCS#8 or PKCS#1) as PKCS#8 DER.
pub(crate) fn to_pkcs8_der(pem: &[u8]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    use pkcs8::der::asn1::AnyRef;
    use pkcs8::der::Encode;
    use pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfo};
    use zeroize::Zeroizing;
    const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

    let (label, der) = pkcs8::der::pem::decode_vec(pem).ok()?;
    let der = Zeroizing::new(der);
    Some(Zeroizing::new(match label {
        "PRIVATE KEY" => der.to_vec(),
        "RSA PRIVATE KEY" => PrivateKeyInfo {
            algorithm: AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL),
            },
            private_key: &der,
            public_key: None,
        }
        .to_der()
        .ok()?,
        _ => return None,
    }))
}

/// Base64 (with any whitespace) to DER bytes.
pub(crate) fn decode_certificate(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}
