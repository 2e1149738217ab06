//! Step 3: every `ds:Signature` follows the SAML signature profile, before any cryptography.
//!
//! SAML Core §5.4 narrows XML-DSig to one shape: an enveloped signature, a direct child of the
//! element it signs, with a single same-document Reference to that element's ID, and only the
//! enveloped-signature and exclusive-c14n transforms. Everything XML-DSig allows beyond that
//! (XPath/XSLT transforms, detached or whole-document references, `ds:Object`, several
//! references) is what signature-wrapping and transform attacks are made of, so we refuse it.
//! bergshamra has no profile or algorithm policy of its own: this module is that policy.

use crate::error::Error;
use crate::xml::{self, attr, child_elements, is, DSIG, SAML, SAMLP};
use uppsala::{Document, NodeId, NodeKind};

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const INCLUSIVE_NAMESPACES_NS: &str = EXC_C14N;

/// SignatureMethod allow-list (DESIGN.md §5 step 3).
pub(crate) const SIGNATURE_METHODS: [&str; 5] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
];

/// DigestMethod allow-list: SHA-256 and stronger.
pub(crate) const DIGEST_METHODS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];

/// SHA-1 methods, refused unless an IdP's exceptions allow them.
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// The algorithms an organisation can allow for one IdP that samlgate otherwise refuses, and
/// nothing else: HMAC, RSA-1_5, XPath, XSLT and DOCTYPEs stay refused whatever is configured.
/// The same type says which exceptions a verification actually needed
/// ([`crate::VerifiedAssertion::exceptions_used`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exceptions {
    /// SignatureMethod `rsa-sha1`.
    pub rsa_sha1: bool,
    /// DigestMethod `sha1`.
    pub sha1: bool,
    /// AES-CBC EncryptedData when no verified signature covers the whole Response (an
    /// unauthenticated CBC ciphertext: a padding oracle, Jager & Somorovsky, CCS 2011).
    pub aes_cbc: bool,
}

impl Exceptions {
    /// The names an IdP's settings and `samlgate validate --allow-algorithm` take.
    pub const NAMES: [&'static str; 3] = ["rsa-sha1", "sha1", "aes-cbc"];

    /// From names; an unknown name is refused with the list of known ones.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut exceptions = Self::default();
        for name in names {
            match name.as_ref() {
                "rsa-sha1" => exceptions.rsa_sha1 = true,
                "sha1" => exceptions.sha1 = true,
                "aes-cbc" => exceptions.aes_cbc = true,
                other => {
                    return Err(format!(
                        "{other:?} cannot be allowed; the exceptions are {}",
                        Self::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(exceptions)
    }

    /// The names of those set, in [`Self::NAMES`] order.
    pub fn names(&self) -> Vec<&'static str> {
        [self.rsa_sha1, self.sha1, self.aes_cbc]
            .iter()
            .zip(Self::NAMES)
            .filter_map(|(set, name)| set.then_some(name))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn add(&mut self, other: Self) {
        self.rsa_sha1 |= other.rsa_sha1;
        self.sha1 |= other.sha1;
        self.aes_cbc |= other.aes_cbc;
    }
}

/// A signature that passed the profile: where it is and what it must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignatureSite {
    pub signature: NodeId,
    /// The `Response` or `Assertion` that holds the signature and that its one Reference
    /// must resolve to.
    pub signed: NodeId,
}

/// Elements a signature may sit on: `(namespace, local name)`.
pub(crate) type Signable = [(&'static str, &'static str)];

/// What a Response may carry signatures on.
pub(crate) const RESPONSE_SIGNABLE: &Signable = &[(SAMLP, "Response"), (SAML, "Assertion")];
/// What a logout message may carry a signature on (HTTP-POST binding).
pub(crate) const LOGOUT_SIGNABLE: &Signable =
    &[(SAMLP, "LogoutRequest"), (SAMLP, "LogoutResponse")];

/// Check every `ds:Signature` in `doc` (Response or Assertion signatures); return them in
/// document order. SHA-1 methods pass only as `allowed` says; those used are added to `used`.
pub(crate) fn check_signatures(
    doc: &Document<'_>,
    allowed: Exceptions,
    used: &mut Exceptions,
) -> Result<Vec<SignatureSite>, Error> {
    check_signatures_allowing(doc, RESPONSE_SIGNABLE, allowed, used)
}

/// [`check_signatures`] for messages whose signatures sit on other elements, with no
/// exceptions.
pub(crate) fn check_signatures_on(
    doc: &Document<'_>,
    signable: &Signable,
) -> Result<Vec<SignatureSite>, Error> {
    check_signatures_allowing(
        doc,
        signable,
        Exceptions::default(),
        &mut Exceptions::default(),
    )
}

fn check_signatures_allowing(
    doc: &Document<'_>,
    signable: &Signable,
    allowed: Exceptions,
    used: &mut Exceptions,
) -> Result<Vec<SignatureSite>, Error> {
    let signatures: Vec<NodeId> = doc
        .descendants(doc.root())
        .into_iter()
        .filter(|n| is(doc, *n, DSIG, "Signature"))
        .collect();
    let mut sites = Vec::with_capacity(signatures.len());
    for signature in signatures {
        let signed = check_structure(doc, signature, signable)?;
        if sites.iter().any(|s: &SignatureSite| s.signed == signed) {
            return Err(profile("more than one Signature on one element"));
        }
        sites.push(SignatureSite { signature, signed });
    }
    for site in &sites {
        used.add(check_algorithms(doc, site.signature, allowed)?);
    }
    Ok(sites)
}

fn profile(why: &str) -> Error {
    Error::SignatureProfile(why.to_owned())
}

/// SAML Core §5.4.1–5.4.4. Returns the signed element.
fn check_structure(
    doc: &Document<'_>,
    signature: NodeId,
    signable: &Signable,
) -> Result<NodeId, Error> {
    // §5.4.1: enveloped, on an element we consume (Response or Assertion; a logout message).
    let parent = doc
        .parent(signature)
        .filter(|p| signable.iter().any(|(ns, local)| is(doc, *p, ns, local)))
        .ok_or_else(|| profile("Signature is not a direct child of a signable element"))?;
    let id = attr(doc, parent, "ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| profile("signed element has no ID"))?;

    // XML-DSig allows ds:Object for enveloping signatures; SAML never uses it, and content
    // inside it can be referenced and mistaken for the message.
    if doc
        .descendants(signature)
        .into_iter()
        .any(|n| is(doc, n, DSIG, "Object"))
    {
        return Err(profile("ds:Object is not allowed"));
    }
    // A comment or processing instruction inside the Signature (a DigestValue split by one,
    // say): exclusive c14n drops it, but readers differ on what the value then is. No IdP
    // emits one; we refuse rather than pick a reading.
    if doc.descendants(signature).into_iter().any(|n| {
        matches!(
            doc.node_kind(n),
            Some(NodeKind::Comment(_) | NodeKind::ProcessingInstruction(_))
        )
    }) {
        return Err(profile(
            "comment or processing instruction inside the Signature",
        ));
    }
    for child in child_elements(doc, signature) {
        let allowed = ["SignedInfo", "SignatureValue", "KeyInfo"]
            .iter()
            .any(|name| is(doc, child, DSIG, name));
        if !allowed {
            return Err(profile("unexpected element in Signature"));
        }
    }
    let signed_info = one(doc, signature, "SignedInfo")?;
    one(doc, signature, "SignatureValue")?;

    let c14n = one(doc, signed_info, "CanonicalizationMethod")?;
    if !is_exclusive_c14n(attr(doc, c14n, "Algorithm")) {
        return Err(profile("CanonicalizationMethod must be exclusive c14n"));
    }
    check_c14n_children(doc, c14n)?;
    one(doc, signed_info, "SignatureMethod")?;

    // §5.4.2: exactly one Reference, to the enveloping element's ID.
    let reference = one(doc, signed_info, "Reference")?;
    for child in child_elements(doc, signed_info) {
        let allowed = ["CanonicalizationMethod", "SignatureMethod", "Reference"]
            .iter()
            .any(|name| is(doc, child, DSIG, name));
        if !allowed {
            return Err(profile("unexpected element in SignedInfo"));
        }
    }
    let uri = attr(doc, reference, "URI").unwrap_or("");
    if uri.strip_prefix('#') != Some(id) {
        return Err(profile(
            "Reference URI must be '#' followed by the signed element's ID",
        ));
    }

    // §5.4.4: only enveloped-signature and exclusive c14n transforms.
    if let Some(transforms) = xml::optional_child(doc, reference, DSIG, "Transforms")
        .map_err(|_| profile("more than one Transforms element"))?
    {
        let list: Vec<NodeId> = child_elements(doc, transforms).collect();
        if list.len() > 2 {
            return Err(profile("more than two transforms"));
        }
        for transform in list {
            if !is(doc, transform, DSIG, "Transform") {
                return Err(profile("unexpected element in Transforms"));
            }
            let algorithm = attr(doc, transform, "Algorithm");
            if algorithm == Some(ENVELOPED) {
                if child_elements(doc, transform).next().is_some() {
                    return Err(profile("enveloped-signature transform takes no parameters"));
                }
            } else if is_exclusive_c14n(algorithm) {
                check_c14n_children(doc, transform)?;
            } else {
                return Err(profile(
                    "only enveloped-signature and exclusive c14n transforms are allowed",
                ));
            }
        }
    }
    one(doc, reference, "DigestMethod")?;
    one(doc, reference, "DigestValue")?;
    Ok(parent)
}

fn is_exclusive_c14n(algorithm: Option<&str>) -> bool {
    matches!(algorithm, Some(EXC_C14N) | Some(EXC_C14N_COMMENTS))
}

/// Exclusive c14n takes one optional parameter: `ec:InclusiveNamespaces PrefixList`.
fn check_c14n_children(doc: &Document<'_>, method: NodeId) -> Result<(), Error> {
    let mut children = child_elements(doc, method);
    match (children.next(), children.next()) {
        (None, _) => Ok(()),
        (Some(c), None) if is(doc, c, INCLUSIVE_NAMESPACES_NS, "InclusiveNamespaces") => Ok(()),
        _ => Err(profile("unexpected exclusive c14n parameters")),
    }
}

fn one(doc: &Document<'_>, parent: NodeId, local: &'static str) -> Result<NodeId, Error> {
    let found = xml::children_named(doc, parent, DSIG, local);
    match found.as_slice() {
        [single] => Ok(*single),
        [] => Err(Error::SignatureProfile(format!("missing {local}"))),
        _ => Err(Error::SignatureProfile(format!("more than one {local}"))),
    }
}

/// The algorithm allow-list: no SHA-1 (unless `allowed`), no HMAC (key confusion: an HMAC
/// "keyed" with the IdP's public certificate verifies for anyone), no RSA-1_5. Returns the
/// exceptions this signature needed.
fn check_algorithms(
    doc: &Document<'_>,
    signature: NodeId,
    allowed: Exceptions,
) -> Result<Exceptions, Error> {
    let mut used = Exceptions::default();
    let signed_info = one(doc, signature, "SignedInfo")?;
    let method = one(doc, signed_info, "SignatureMethod")?;
    let algorithm = attr(doc, method, "Algorithm").unwrap_or("");
    if algorithm == RSA_SHA1 && allowed.rsa_sha1 {
        used.rsa_sha1 = true;
    } else if !SIGNATURE_METHODS.contains(&algorithm) {
        return Err(Error::AlgorithmForbidden(format!(
            "SignatureMethod {algorithm}"
        )));
    }
    if child_elements(doc, method).next().is_some() {
        return Err(profile("SignatureMethod takes no parameters here"));
    }
    let reference = one(doc, signed_info, "Reference")?;
    let digest = one(doc, reference, "DigestMethod")?;
    let algorithm = attr(doc, digest, "Algorithm").unwrap_or("");
    if algorithm == SHA1 && allowed.sha1 {
        used.sha1 = true;
    } else if !DIGEST_METHODS.contains(&algorithm) {
        return Err(Error::AlgorithmForbidden(format!(
            "DigestMethod {algorithm}"
        )));
    }
    Ok(used)
}

/// Verifies a document that must carry exactly one signature, on its root element, whose one
/// Reference covers that root, by one of `certificates`: logout messages over HTTP-POST and
/// signed metadata. `what` names the document in the error messages.
pub(crate) fn verify_root_signature(
    doc: &Document<'_>,
    root: NodeId,
    signable: &Signable,
    certificates: &[Vec<u8>],
    what: &str,
) -> Result<(), Error> {
    use crate::xmlsec::{BergshamraVerifier, SignatureOutcome, SignatureVerifier};
    if certificates.is_empty() {
        return Err(Error::NoTrustedKeys);
    }
    crate::ids::check_unique_ids(doc)?;
    let sites = check_signatures_on(doc, signable)?;
    let site = match sites.as_slice() {
        [site] if site.signed == root => *site,
        [] => return Err(Error::SignatureInvalid(format!("the {what} is not signed"))),
        _ => {
            return Err(Error::SignatureProfile(format!(
                "one signature, on the {what}'s root element"
            )))
        }
    };
    let verifier = BergshamraVerifier::new(certificates)
        .map_err(|e| Error::SignatureInvalid(format!("configured certificate: {e}")))?;
    match verifier.verify_all(doc)?.as_slice() {
        [SignatureOutcome::Valid { signature, covers }]
            if *signature == site.signature && covers.as_slice() == [Some(root)] =>
        {
            Ok(())
        }
        [SignatureOutcome::Invalid { reason }] => Err(Error::SignatureInvalid(reason.clone())),
        _ => Err(Error::SignatureInvalid(format!(
            "the signature does not cover the {what}"
        ))),
    }
}
