//! Step 5 (encrypted branch): open an `EncryptedAssertion` with the SP key.
//!
//! Before anything is decrypted, the structure and every algorithm are checked: RSA-OAEP key
//! transport only (RSA-1_5 is Bleichenbacher-vulnerable), AES-GCM, and AES-CBC only when the
//! Response signature already authenticated the ciphertext (unauthenticated CBC is a padding
//! oracle: Jager & Somorovsky, "How to Break XML Encryption", CCS 2011). Only the one
//! `EncryptedAssertion` we consume is handed to the decrypter, never the whole message, so
//! no other `EncryptedData` can be substituted.

use crate::error::Error;
use crate::xml::{self, attr, child_elements, is, DSIG, XENC, XENC11};
use crate::xmlsec::Decrypter;
use uppsala::{Document, NodeId};

const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";

const AES_GCM: [&str; 2] = [
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
];
const AES_CBC: [&str; 2] = [
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
];
const KEY_TRANSPORT: [&str; 2] = [xml::RSA_OAEP_MGF1P, xml::RSA_OAEP11];
/// The OAEP hash (SHA-1 is the xmlenc default and is sound inside OAEP).
const OAEP_DIGESTS: [&str; 4] = [
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const OAEP_MGFS: [&str; 4] = [
    "http://www.w3.org/2009/xmlenc11#mgf1sha1",
    "http://www.w3.org/2009/xmlenc11#mgf1sha256",
    "http://www.w3.org/2009/xmlenc11#mgf1sha384",
    "http://www.w3.org/2009/xmlenc11#mgf1sha512",
];

/// Check and decrypt; returns a small document `<samlgate-decrypted …><EncryptedAssertion>`
/// with the plaintext Assertion in place of the `EncryptedData`.
/// AES-CBC outside a verified Response signature passes only if `allow_cbc`; `used_cbc` then
/// says it was needed.
pub(crate) fn decrypt_assertion(
    doc: &Document<'_>,
    encrypted_assertion: NodeId,
    decrypter: Option<&dyn Decrypter>,
    response_signed: bool,
    (allow_cbc, used_cbc): (bool, &mut bool),
) -> Result<String, Error> {
    let decrypter = decrypter.ok_or(Error::DecryptionKeyMissing)?;
    let encrypted_data = check_structure(doc, encrypted_assertion)?;
    *used_cbc = check_algorithms(
        doc,
        encrypted_assertion,
        encrypted_data,
        response_signed,
        allow_cbc,
    )?;
    let fragment = standalone(doc, encrypted_assertion)?;
    let recipient = recipient_certificate(doc, encrypted_assertion);
    let oaep = crate::oaep::params(doc, encrypted_assertion);
    let plaintext = decrypter.decrypt(&fragment, recipient.as_deref(), &oaep)?;
    String::from_utf8(plaintext).map_err(|_| Error::DecryptionFailed)
}

/// Opens a Subject's `EncryptedID` (Core §2.2.4) with the SP keys, under the same structure
/// and algorithm rules as an EncryptedAssertion. It is read only from a verified assertion,
/// so a signature already covers its ciphertext and AES-CBC is authenticated. Returns the
/// decrypted document, `<samlgate-decrypted …><EncryptedID><NameID>…`.
pub(crate) fn decrypt_id(
    doc: &Document<'_>,
    encrypted_id: NodeId,
    decrypter: Option<&dyn Decrypter>,
) -> Result<String, Error> {
    let decrypter = decrypter.ok_or(Error::DecryptionKeyMissing)?;
    let encrypted_data = check_structure(doc, encrypted_id)?;
    check_algorithms(doc, encrypted_id, encrypted_data, true, false)?;
    let fragment = standalone(doc, encrypted_id)?;
    let recipient = recipient_certificate(doc, encrypted_id);
    let oaep = crate::oaep::params(doc, encrypted_id);
    let plaintext = decrypter.decrypt(&fragment, recipient.as_deref(), &oaep)?;
    String::from_utf8(plaintext).map_err(|_| Error::DecryptionFailed)
}

/// The certificate the sender named in an EncryptedKey's `KeyInfo/X509Data` (DER), if any:
/// which of our keys to try first during a rollover. Unauthenticated, so only a hint.
fn recipient_certificate(doc: &Document<'_>, encrypted_assertion: NodeId) -> Option<Vec<u8>> {
    let key = doc
        .descendants(encrypted_assertion)
        .into_iter()
        .find(|n| is(doc, *n, XENC, "EncryptedKey"))?;
    let certificate = doc
        .descendants(key)
        .into_iter()
        .find(|n| is(doc, *n, DSIG, "X509Certificate"))?;
    crate::xmlsec::decode_certificate(&doc.text_content_deep(certificate))
}

/// An EncryptedAssertion or EncryptedID: one EncryptedData, at least one EncryptedKey, nothing
/// else. Returns the EncryptedData.
fn check_structure(doc: &Document<'_>, encrypted_assertion: NodeId) -> Result<NodeId, Error> {
    let what = doc
        .element(encrypted_assertion)
        .map_or("EncryptedAssertion".to_owned(), |e| {
            e.name.local_name.to_string()
        });
    let malformed = |why: &str| Error::Malformed(format!("{what}: {why}"));
    let mut encrypted_data = None;
    for child in child_elements(doc, encrypted_assertion) {
        if is(doc, child, XENC, "EncryptedData") && encrypted_data.is_none() {
            encrypted_data = Some(child);
        } else if !is(doc, child, XENC, "EncryptedKey") {
            return Err(malformed("unexpected child element"));
        }
    }
    let encrypted_data = encrypted_data.ok_or_else(|| malformed("no EncryptedData"))?;
    let descendants = doc.descendants(encrypted_assertion);
    let count = |ns: &str, local: &str| {
        descendants
            .iter()
            .filter(|n| is(doc, **n, ns, local))
            .count()
    };
    if count(XENC, "EncryptedData") != 1 {
        return Err(malformed("more than one EncryptedData"));
    }
    if count(XENC, "EncryptedKey") == 0 {
        return Err(malformed("no EncryptedKey"));
    }
    // Key agreement, derived keys and external cipher data are not part of any SAML IdP's
    // output; refusing them keeps the decrypter on one path.
    for (ns, local) in [
        (XENC, "AgreementMethod"),
        (XENC11, "DerivedKey"),
        (XENC, "CipherReference"),
    ] {
        if count(ns, local) != 0 {
            return Err(Error::AlgorithmForbidden(format!(
                "{local} is not supported"
            )));
        }
    }
    if let Some(kind) = attr(doc, encrypted_data, "Type") {
        if kind != ELEMENT_TYPE {
            return Err(malformed("EncryptedData Type must be Element"));
        }
    }
    Ok(encrypted_data)
}

/// Returns whether the AES-CBC exception was needed.
fn check_algorithms(
    doc: &Document<'_>,
    encrypted_assertion: NodeId,
    encrypted_data: NodeId,
    response_signed: bool,
    allow_cbc: bool,
) -> Result<bool, Error> {
    let data_method = method(doc, encrypted_data)?;
    let mut used_cbc = false;
    if AES_CBC.contains(&data_method) {
        if !response_signed && allow_cbc {
            used_cbc = true;
        } else if !response_signed {
            return Err(Error::AlgorithmForbidden(format!(
                "{data_method} is accepted only inside a signed Response"
            )));
        }
    } else if !AES_GCM.contains(&data_method) {
        return Err(Error::AlgorithmForbidden(format!(
            "EncryptionMethod {data_method}"
        )));
    }
    for key in doc
        .descendants(encrypted_assertion)
        .into_iter()
        .filter(|n| is(doc, *n, XENC, "EncryptedKey"))
    {
        let transport = method(doc, key)?;
        if !KEY_TRANSPORT.contains(&transport) {
            return Err(Error::AlgorithmForbidden(format!(
                "key transport {transport}"
            )));
        }
        let encryption_method = xml::required_child(doc, key, XENC, "EncryptionMethod")?;
        if transport == KEY_TRANSPORT[1] {
            check_oaep11_hashes(doc, encryption_method)?;
        }
        for parameter in child_elements(doc, encryption_method) {
            let algorithm = attr(doc, parameter, "Algorithm").unwrap_or("");
            let allowed = if is(doc, parameter, DSIG, "DigestMethod") {
                OAEP_DIGESTS.contains(&algorithm)
            } else if is(doc, parameter, XENC11, "MGF") {
                OAEP_MGFS.contains(&algorithm)
            } else {
                is(doc, parameter, XENC, "OAEPparams")
            };
            if !allowed {
                return Err(Error::AlgorithmForbidden(format!(
                    "OAEP parameter {algorithm}"
                )));
            }
        }
    }
    Ok(used_cbc)
}

/// xmlenc11 `rsa-oaep`: the OAEP digest (DigestMethod, default SHA-1) and the mask
/// generation hash (`xenc11:MGF`, default MGF1-SHA1, XML Encryption 1.1 §5.5.2) must be the
/// same hash: aws-lc, our one RSA implementation, has no OAEP with two different ones. Such a
/// key (SHA-256 with the default MGF, say) is refused by name rather than failing to decrypt.
fn check_oaep11_hashes(doc: &Document<'_>, method: NodeId) -> Result<(), Error> {
    let mut digest = "sha1";
    let mut mgf = "sha1";
    for parameter in child_elements(doc, method) {
        let algorithm = attr(doc, parameter, "Algorithm").unwrap_or("");
        if is(doc, parameter, DSIG, "DigestMethod") {
            digest = xml::oaep_hash_name(algorithm).unwrap_or_default();
        } else if is(doc, parameter, XENC11, "MGF") {
            mgf = xml::oaep_hash_name(algorithm).unwrap_or_default();
        }
    }
    if digest != mgf {
        return Err(Error::AlgorithmForbidden(format!(
            "rsa-oaep with a {digest} digest and MGF1-{mgf} (mismatched OAEP hashes are not supported)"
        )));
    }
    Ok(())
}

fn method<'d>(doc: &'d Document<'_>, element: NodeId) -> Result<&'d str, Error> {
    let method = xml::required_child(doc, element, XENC, "EncryptionMethod")?;
    attr(doc, method, "Algorithm")
        .ok_or_else(|| Error::Malformed("EncryptionMethod without Algorithm".into()))
}

/// The EncryptedAssertion's own bytes, wrapped in an element that declares every namespace
/// prefix in scope at its position, so it parses on its own exactly as it did in place.
fn standalone(doc: &Document<'_>, encrypted_assertion: NodeId) -> Result<String, Error> {
    let source = doc
        .node_source(encrypted_assertion)
        .ok_or_else(|| Error::Malformed("EncryptedAssertion source unavailable".into()))?;
    let mut bindings: Vec<(String, String)> = Vec::new();
    let mut chain = doc.ancestors(encrypted_assertion);
    chain.reverse();
    for ancestor in chain {
        if let Some(element) = doc.element(ancestor) {
            for (prefix, uri) in &element.namespace_declarations {
                bindings.retain(|(p, _)| p != prefix.as_ref());
                bindings.push((prefix.to_string(), uri.to_string()));
            }
        }
    }
    let mut out = String::with_capacity(source.len() + 256);
    out.push_str("<samlgate-decrypted");
    for (prefix, uri) in &bindings {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        out.push_str(&escape_attribute(uri));
        out.push('"');
    }
    out.push('>');
    out.push_str(source);
    out.push_str("</samlgate-decrypted>");
    Ok(out)
}

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}
