//! Signing keys for what samlgate sends: the query-string signature of the HTTP-Redirect
//! binding ([`RequestSigner`]), and enveloped XML signatures for what samlgate sends with the HTTP-POST binding (a signed
//! AuthnRequest or logout message) and for the dev server's demo IdP: rsa-sha256, sha256,
//! exclusive C14N, one Reference to the signed element's ID (the profile our own verifier
//! demands of others). The template is written with uppsala's `XmlWriter` right after the
//! element's `Issuer` (SAML Core schema order); bergshamra fills in the digest and signature.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use uppsala::XmlWriter;

use crate::error::ConfigError;
use crate::xml::DSIG;
use crate::xmlsec::BergshamraSigner;

/// `SigAlg` for rsa-sha256 (XML-DSig 1.1 / RFC 6931).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// The SP's request-signing key (RSA, PKCS#8 or PKCS#1 PEM).
pub struct RequestSigner {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl RequestSigner {
    pub fn from_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        let der = crate::xmlsec::to_pkcs8_der(pem)
            .ok_or_else(|| ConfigError::SpKey("not an RSA private key in PEM".into()))?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| ConfigError::SpKey(format!("unusable RSA key: {e}")))?;
        if key.public_modulus_len() < 256 {
            return Err(ConfigError::SpKey(
                "RSA keys must be at least 2048 bits".into(),
            ));
        }
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ConfigError> {
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| ConfigError::SpKey("signing failed".into()))?;
        Ok(signature)
    }
}

/// An RSA signing key (PKCS#8 or PKCS#1 PEM, at least 2048 bits) and, optionally, the
/// certificate to name in `KeyInfo` (informational: verifiers take keys from metadata).
pub struct XmlSigner {
    backend: BergshamraSigner,
    certificate: Option<String>,
}

impl std::fmt::Debug for XmlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmlSigner").finish_non_exhaustive()
    }
}

impl XmlSigner {
    pub fn from_pem(key_pem: &[u8], certificate_der: Option<&[u8]>) -> Result<Self, ConfigError> {
        // The same checks as the query signer (RSA, ≥ 2048 bits).
        RequestSigner::from_pem(key_pem)?;
        Ok(Self {
            backend: BergshamraSigner::from_pem(key_pem)?,
            certificate: certificate_der.map(|der| B64.encode(der)),
        })
    }

    /// Writes an empty `ds:Signature` over the element whose `ID` is `reference_id`. Call it
    /// right after that element's `Issuer`.
    pub fn write_template(&self, w: &mut XmlWriter, reference_id: &str) {
        let uri = format!("#{reference_id}");
        w.start_element("ds:Signature", &[("xmlns:ds", DSIG)]);
        w.start_element("ds:SignedInfo", &[]);
        w.empty_element("ds:CanonicalizationMethod", &[("Algorithm", EXC_C14N)]);
        w.empty_element("ds:SignatureMethod", &[("Algorithm", RSA_SHA256)]);
        w.start_element("ds:Reference", &[("URI", uri.as_str())]);
        w.start_element("ds:Transforms", &[]);
        w.empty_element("ds:Transform", &[("Algorithm", ENVELOPED)]);
        w.empty_element("ds:Transform", &[("Algorithm", EXC_C14N)]);
        w.end_element("ds:Transforms");
        w.empty_element("ds:DigestMethod", &[("Algorithm", SHA256)]);
        w.start_element("ds:DigestValue", &[]);
        w.end_element("ds:DigestValue");
        w.end_element("ds:Reference");
        w.end_element("ds:SignedInfo");
        w.start_element("ds:SignatureValue", &[]);
        w.end_element("ds:SignatureValue");
        if let Some(certificate) = &self.certificate {
            w.start_element("ds:KeyInfo", &[]);
            w.start_element("ds:X509Data", &[]);
            w.start_element("ds:X509Certificate", &[]);
            w.text(certificate);
            w.end_element("ds:X509Certificate");
            w.end_element("ds:X509Data");
            w.end_element("ds:KeyInfo");
        }
        w.end_element("ds:Signature");
    }

    /// Fills every template in `xml` (digest, then signature).
    pub fn sign(&self, xml: String) -> Result<String, ConfigError> {
        self.backend.sign(xml)
    }
}

/// A protocol message samlgate writes: unsigned (the Redirect binding signs the query) or
/// with an enveloped XML signature (the POST binding). Implementors write the signature
/// template right after their Issuer when given a signer.
pub trait OutgoingMessage {
    /// The message, with a signature template if `signer` is given.
    fn write(&self, signer: Option<&XmlSigner>) -> String;

    /// The message as XML (no declaration, no signature).
    fn to_xml(&self) -> String {
        self.write(None)
    }

    /// The message with an enveloped XML signature.
    fn to_signed_xml(&self, signer: &XmlSigner) -> Result<String, ConfigError> {
        signer.sign(self.write(Some(signer)))
    }
}
