//! IdP metadata (SAML Metadata §2.3, §2.4.3): who the IdP is and which keys may sign for it.
//!
//! Parsed with the same strict parser as Responses (DOCTYPE forbidden, size and depth
//! limits). Only an `EntityDescriptor` with an `IDPSSODescriptor`, or an `EntitiesDescriptor`
//! holding exactly one such entity, is accepted. Metadata signature verification and refresh
//! belong to the rotation issue; here metadata is configuration the operator supplied.

use crate::error::ConfigError;
use crate::xml::{self, attr, child_elements, is, DSIG, MD};
use crate::Limits;
use base64::Engine;
use uppsala::{Document, NodeId};

/// A protocol endpoint (`SingleSignOnService`, `SingleLogoutService`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
    pub response_location: Option<String>,
}

/// What samlgate needs from an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// DER certificates whose keys may verify signatures (`use="signing"` or no `use`):
    /// several during rollover. A key marked `use="encryption"` is never here.
    pub signing_certificates: Vec<Vec<u8>>,
    /// DER certificates marked `use="encryption"` (kept for display; never verify).
    pub encryption_certificates: Vec<Vec<u8>>,
    pub single_sign_on: Vec<Endpoint>,
    pub single_logout: Vec<Endpoint>,
    pub name_id_formats: Vec<String>,
    pub want_authn_requests_signed: bool,
    /// Things we skipped (unparsable certificates, …), for `--explain` and the admin UI.
    pub warnings: Vec<String>,
}

impl IdpMetadata {
    /// Parse metadata XML (raw bytes as read from a file or URL).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ConfigError> {
        if bytes.len() > limits.max_bytes {
            return Err(ConfigError::Metadata(format!(
                "{} bytes exceeds the limit of {} bytes",
                bytes.len(),
                limits.max_bytes
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ConfigError::Metadata("not UTF-8 text".into()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let doc =
            xml::parse_strict(text, limits).map_err(|e| ConfigError::Metadata(e.to_string()))?;
        let root = doc
            .document_element()
            .ok_or_else(|| ConfigError::Metadata("empty document".into()))?;
        let entity = find_idp_entity(&doc, root)?;
        let idp = idp_descriptor(&doc, entity)?;
        let entity_id = attr(&doc, entity, "entityID")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConfigError::Metadata("EntityDescriptor has no entityID".into()))?
            .to_owned();

        let mut metadata = IdpMetadata {
            entity_id,
            signing_certificates: Vec::new(),
            encryption_certificates: Vec::new(),
            single_sign_on: endpoints(&doc, idp, "SingleSignOnService"),
            single_logout: endpoints(&doc, idp, "SingleLogoutService"),
            name_id_formats: xml::children_named(&doc, idp, MD, "NameIDFormat")
                .into_iter()
                .filter_map(|n| xml::simple_text(&doc, n, "NameIDFormat").ok())
                .collect(),
            want_authn_requests_signed: matches!(
                attr(&doc, idp, "WantAuthnRequestsSigned"),
                Some("true") | Some("1")
            ),
            warnings: Vec::new(),
        };
        for descriptor in xml::children_named(&doc, idp, MD, "KeyDescriptor") {
            let usage = attr(&doc, descriptor, "use");
            for der in certificates(&doc, descriptor, &mut metadata.warnings) {
                match usage {
                    None | Some("signing") => metadata.signing_certificates.push(der),
                    Some("encryption") => metadata.encryption_certificates.push(der),
                    Some(other) => metadata
                        .warnings
                        .push(format!("KeyDescriptor use={other:?} ignored")),
                }
            }
        }
        Ok(metadata)
    }
}

fn find_idp_entity(doc: &Document<'_>, root: NodeId) -> Result<NodeId, ConfigError> {
    if is(doc, root, MD, "EntityDescriptor") {
        return Ok(root);
    }
    if !is(doc, root, MD, "EntitiesDescriptor") {
        return Err(ConfigError::Metadata(
            "root is neither EntityDescriptor nor EntitiesDescriptor".into(),
        ));
    }
    let idps: Vec<NodeId> = doc
        .descendants(root)
        .into_iter()
        .filter(|n| is(doc, *n, MD, "EntityDescriptor"))
        .filter(|n| !xml::children_named(doc, *n, MD, "IDPSSODescriptor").is_empty())
        .collect();
    match idps.as_slice() {
        [one] => Ok(*one),
        [] => Err(ConfigError::Metadata(
            "EntitiesDescriptor holds no IdP".into(),
        )),
        _ => Err(ConfigError::Metadata(format!(
            "EntitiesDescriptor holds {} IdPs; give the metadata of one",
            idps.len()
        ))),
    }
}

fn idp_descriptor(doc: &Document<'_>, entity: NodeId) -> Result<NodeId, ConfigError> {
    let saml2 = |n: &NodeId| {
        attr(doc, *n, "protocolSupportEnumeration")
            .is_some_and(|p| p.split_ascii_whitespace().any(|p| p == crate::xml::SAMLP))
    };
    let descriptors: Vec<NodeId> = xml::children_named(doc, entity, MD, "IDPSSODescriptor")
        .into_iter()
        .filter(saml2)
        .collect();
    match descriptors.as_slice() {
        [one] => Ok(*one),
        [] => Err(ConfigError::Metadata(
            "no IDPSSODescriptor supporting SAML 2.0".into(),
        )),
        _ => Err(ConfigError::Metadata(
            "more than one IDPSSODescriptor".into(),
        )),
    }
}

fn endpoints(doc: &Document<'_>, idp: NodeId, local: &str) -> Vec<Endpoint> {
    xml::children_named(doc, idp, MD, local)
        .into_iter()
        .filter_map(|n| {
            Some(Endpoint {
                binding: attr(doc, n, "Binding")?.to_owned(),
                location: attr(doc, n, "Location")?.to_owned(),
                response_location: attr(doc, n, "ResponseLocation").map(str::to_owned),
            })
        })
        .collect()
}

fn certificates(
    doc: &Document<'_>,
    descriptor: NodeId,
    warnings: &mut Vec<String>,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for key_info in xml::children_named(doc, descriptor, DSIG, "KeyInfo") {
        for data in child_elements(doc, key_info).filter(|n| is(doc, *n, DSIG, "X509Data")) {
            for cert in xml::children_named(doc, data, DSIG, "X509Certificate") {
                let text = doc.text_content_deep(cert);
                match decode_certificate(&text) {
                    Some(der) if bergshamra::keys::loader::load_x509_cert_der(&der).is_ok() => {
                        out.push(der)
                    }
                    _ => warnings.push("an X509Certificate could not be parsed; ignored".into()),
                }
            }
        }
    }
    out
}

/// Base64 (with any whitespace) to DER bytes.
pub(crate) fn decode_certificate(text: &str) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}
