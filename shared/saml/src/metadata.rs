//! IdP metadata (SAML Metadata §2.3, §2.4.3): who the IdP is and which keys may sign for it.
//!
//! Parsed with the same strict parser as Responses (DOCTYPE forbidden, size and depth
//! limits). Only an `EntityDescriptor` with an `IDPSSODescriptor`, or an `EntitiesDescriptor`
//! holding exactly one such entity, is accepted. [`MetadataDocument`] adds what the daily
//! refresh needs: the document's `validUntil` and `cacheDuration`, and its signature checked
//! against a configured metadata signing certificate.

use crate::error::ConfigError;
use crate::xml::{self, attr, child_elements, is, DSIG, MD};
use crate::xmlsec::decode_certificate;
use crate::Limits;
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
    /// `shibmd:Scope` (Shibboleth metadata extension): the scopes this IdP may assert in
    /// scoped attributes (eduPersonPrincipalName, eduPersonScopedAffiliation, subject-id,
    /// pairwise-id). Values with any other scope are dropped ([`crate::SCOPED_ATTRIBUTES`]).
    pub scopes: Vec<Scope>,
    /// Things we skipped (unparsable certificates, …), for `--explain` and the admin UI.
    pub warnings: Vec<String>,
}

/// One `shibmd:Scope`: a literal domain, or (`regexp="true"`) a regular expression the whole
/// scope must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub value: String,
    pub regexp: bool,
}

/// The pattern of a regexp scope.
/// A `shibmd:Scope regexp="true"` as an anchored pattern (the whole scope must match), with
/// bounded compiled size; `None` when it does not compile.
pub(crate) fn scope_pattern(pattern: &str) -> Option<regex_lite::Regex> {
    regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 16)
        .build()
        .ok()
}

const SHIBMD: &str = "urn:mace:shibboleth:metadata:1.0";
/// Longest scope (or scope pattern) read.
const MAX_SCOPE: usize = 256;

/// The metadata's text: within the size limit, UTF-8, without a byte-order mark.
fn metadata_text<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, ConfigError> {
    if bytes.len() > limits.max_bytes {
        return Err(ConfigError::Metadata(format!(
            "{} bytes exceeds the limit of {} bytes",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| ConfigError::Metadata("not UTF-8 text".into()))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

impl IdpMetadata {
    /// Parse metadata XML (raw bytes as read from a file or URL): an EntityDescriptor, or an
    /// EntitiesDescriptor holding exactly one IdP.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, ConfigError> {
        Self::parse_entity(bytes, limits, None)
    }

    /// Like [`Self::parse`]; with `entity_id`, the IdP is the entity of that entityID in a
    /// federation aggregate (an EntitiesDescriptor of many entities, nested or not). Nothing
    /// is verified: [`MetadataDocument::parse_entity`] checks the aggregate's signature.
    pub fn parse_entity(
        bytes: &[u8],
        limits: &Limits,
        entity_id: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let text = metadata_text(bytes, limits)?;
        let doc =
            xml::parse_strict(text, limits).map_err(|e| ConfigError::Metadata(e.to_string()))?;
        let root = doc
            .document_element()
            .ok_or_else(|| ConfigError::Metadata("empty document".into()))?;
        let entity = find_idp_entity(&doc, root, entity_id)?;
        Self::read(&doc, entity)
    }

    /// The IdP's metadata from its EntityDescriptor.
    fn read(doc: &Document<'_>, entity: NodeId) -> Result<Self, ConfigError> {
        let idp = idp_descriptor(doc, entity)?;
        let entity_id = attr(doc, entity, "entityID")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConfigError::Metadata("EntityDescriptor has no entityID".into()))?
            .to_owned();

        let mut metadata = IdpMetadata {
            entity_id,
            signing_certificates: Vec::new(),
            encryption_certificates: Vec::new(),
            single_sign_on: endpoints(doc, idp, "SingleSignOnService"),
            single_logout: endpoints(doc, idp, "SingleLogoutService"),
            name_id_formats: xml::children_named(doc, idp, MD, "NameIDFormat")
                .into_iter()
                .filter_map(|n| xml::simple_text(doc, n, "NameIDFormat").ok())
                .collect(),
            want_authn_requests_signed: matches!(
                attr(doc, idp, "WantAuthnRequestsSigned"),
                Some("true") | Some("1")
            ),
            scopes: Vec::new(),
            warnings: Vec::new(),
        };
        // Scopes sit in the IDPSSODescriptor's Extensions, or the entity's.
        for holder in [idp, entity] {
            for extensions in xml::children_named(doc, holder, MD, "Extensions") {
                for node in xml::children_named(doc, extensions, SHIBMD, "Scope") {
                    match xml::simple_text(doc, node, "Scope") {
                        Ok(value) if !value.is_empty() && value.len() <= MAX_SCOPE => {
                            let regexp = matches!(attr(doc, node, "regexp"), Some("true" | "1"));
                            if regexp && scope_pattern(&value).is_none() {
                                metadata
                                    .warnings
                                    .push(format!("shibmd:Scope regexp {value:?} is not a usable pattern; it matches nothing"));
                            }
                            metadata.scopes.push(Scope { value, regexp });
                        }
                        _ => metadata
                            .warnings
                            .push("a shibmd:Scope is empty, too long or not text; ignored".into()),
                    }
                }
            }
        }
        for descriptor in xml::children_named(doc, idp, MD, "KeyDescriptor") {
            let usage = attr(doc, descriptor, "use");
            for der in certificates(doc, descriptor, &mut metadata.warnings) {
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

fn find_idp_entity(
    doc: &Document<'_>,
    root: NodeId,
    entity_id: Option<&str>,
) -> Result<NodeId, ConfigError> {
    let is_entity = |n: &NodeId| is(doc, *n, MD, "EntityDescriptor");
    if !is_entity(&root) && !is(doc, root, MD, "EntitiesDescriptor") {
        return Err(ConfigError::Metadata(
            "root is neither EntityDescriptor nor EntitiesDescriptor".into(),
        ));
    }
    let has_idp = |n: &NodeId| !xml::children_named(doc, *n, MD, "IDPSSODescriptor").is_empty();
    if let Some(wanted) = entity_id {
        let mut entities = std::iter::once(root)
            .chain(doc.descendants(root))
            .filter(is_entity)
            .filter(|n| attr(doc, *n, "entityID") == Some(wanted));
        return match (entities.next(), entities.next()) {
            (Some(entity), None) if has_idp(&entity) => Ok(entity),
            (Some(_), None) => Err(ConfigError::Metadata(format!(
                "entity {wanted:?} is not an IdP (no IDPSSODescriptor)"
            ))),
            (None, _) => Err(ConfigError::Metadata(format!(
                "no entity {wanted:?} in the metadata"
            ))),
            (Some(_), Some(_)) => Err(ConfigError::Metadata(format!(
                "entity {wanted:?} appears more than once"
            ))),
        };
    }
    if is_entity(&root) {
        return Ok(root);
    }
    let idps: Vec<NodeId> = doc
        .descendants(root)
        .into_iter()
        .filter(is_entity)
        .filter(has_idp)
        .collect();
    match idps.as_slice() {
        [one] => Ok(*one),
        [] => Err(ConfigError::Metadata(
            "EntitiesDescriptor holds no IdP".into(),
        )),
        _ => Err(ConfigError::Metadata(format!(
            "EntitiesDescriptor holds {} IdPs (a federation aggregate): name the IdP by its entity ID",
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
                let loaded = decode_certificate(&text).and_then(|der| {
                    let key = bergshamra::keys::loader::load_x509_cert_der(&der).ok()?;
                    Some((der, key))
                });
                match loaded {
                    Some((der, key)) => match weak_rsa_key(&key) {
                        Some(message) => warnings.push(format!("{message}; ignored")),
                        None => out.push(der),
                    },
                    None => warnings.push("an X509Certificate could not be parsed; ignored".into()),
                }
            }
        }
    }
    out
}

/// Why a certificate's RSA key is too short to verify anything (aws-lc's 2048-bit floor:
/// a 1024-bit key is within reach of a well-funded attacker, NIST SP 800-131A).
fn weak_rsa_key(key: &bergshamra::Key) -> Option<String> {
    crate::xmlsec::certificate_rsa_bits(key)
        .filter(|bits| *bits < crate::xmlsec::MIN_RSA_BITS)
        .map(|bits| {
            format!(
                "a certificate has a {bits}-bit RSA key, below the {} bits samlgate requires to verify with it",
                crate::xmlsec::MIN_RSA_BITS
            )
        })
}

impl IdpMetadata {
    /// Whether `der` is an X.509 certificate whose key can verify signatures here.
    pub fn signing_key_usable(der: &[u8]) -> Result<(), ConfigError> {
        let key = bergshamra::keys::loader::load_x509_cert_der(der)
            .map_err(|e| ConfigError::Metadata(format!("certificate: {e}")))?;
        match weak_rsa_key(&key) {
            Some(message) => Err(ConfigError::Metadata(message)),
            None => Ok(()),
        }
    }
}

/// A metadata document as the refresh job reads it: the IdP's metadata, the document's
/// validity (`validUntil`, `cacheDuration` on the root element, SAML Metadata §2.3.1), and
/// whether its signature was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataDocument {
    metadata: IdpMetadata,
    valid_until: Option<time::OffsetDateTime>,
    cache_duration: Option<std::time::Duration>,
    signature_verified: bool,
}

impl MetadataDocument {
    /// The IdP's metadata the document holds.
    pub fn metadata(&self) -> &IdpMetadata {
        &self.metadata
    }
    /// The root element's `validUntil`.
    pub fn valid_until(&self) -> Option<time::OffsetDateTime> {
        self.valid_until
    }
    /// The root element's `cacheDuration`.
    pub fn cache_duration(&self) -> Option<std::time::Duration> {
        self.cache_duration
    }
    /// Whether the document's signature was checked (and verified) against configured
    /// signers.
    pub fn signature_verified(&self) -> bool {
        self.signature_verified
    }
}

const METADATA_SIGNABLE: &crate::profile::Signable =
    &[(MD, "EntityDescriptor"), (MD, "EntitiesDescriptor")];

impl MetadataDocument {
    /// Parses `bytes`. With `signers` (DER certificates configured for this metadata), the
    /// document must carry exactly one signature, on its root element, verifying with one of
    /// them and covering the whole document; otherwise it is refused.
    pub fn parse(
        bytes: &[u8],
        limits: &Limits,
        signers: Option<&[Vec<u8>]>,
    ) -> Result<Self, crate::Error> {
        Self::parse_entity(bytes, limits, signers, None)
    }

    /// Like [`Self::parse`]; with `entity_id`, the IdP is that entity of a federation
    /// aggregate, and the validity is the earliest `validUntil` (and shortest
    /// `cacheDuration`) on the path from the root to it: an element is valid only while every
    /// element around it is (Metadata §2.3.1). The document is parsed once; with `signers`
    /// its signature is checked before anything in it is read.
    pub fn parse_entity(
        bytes: &[u8],
        limits: &Limits,
        signers: Option<&[Vec<u8>]>,
        entity_id: Option<&str>,
    ) -> Result<Self, crate::Error> {
        use crate::error::Error;
        let malformed = |e: ConfigError| Error::Malformed(e.to_string());
        let text = metadata_text(bytes, limits).map_err(malformed)?;
        let doc = xml::parse_strict(text, limits)?;
        let root = doc
            .document_element()
            .ok_or_else(|| Error::Malformed("empty document".into()))?;
        if let Some(signers) = signers {
            crate::profile::verify_root_signature(
                &doc,
                root,
                METADATA_SIGNABLE,
                signers,
                "metadata",
            )?;
        }
        let entity = find_idp_entity(&doc, root, entity_id).map_err(malformed)?;
        let metadata = IdpMetadata::read(&doc, entity).map_err(malformed)?;
        let mut path = doc.ancestors(entity);
        path.reverse();
        path.push(entity);
        let (mut valid_until, mut cache_duration) = (None, None);
        for element in path {
            if let Some(text) = attr(&doc, element, "validUntil") {
                let until = crate::parse_instant(text)
                    .ok_or_else(|| Error::Malformed("validUntil is not a UTC dateTime".into()))?;
                valid_until =
                    Some(valid_until.map_or(until, |v: time::OffsetDateTime| v.min(until)));
            }
            if let Some(text) = attr(&doc, element, "cacheDuration") {
                let duration = parse_duration(text).ok_or_else(|| {
                    Error::Malformed("cacheDuration is not an xs:duration".into())
                })?;
                cache_duration =
                    Some(cache_duration.map_or(duration, |c: std::time::Duration| c.min(duration)));
            }
        }
        Ok(Self {
            metadata,
            valid_until,
            cache_duration,
            // Reached only if the signature, when signers were given, verified.
            signature_verified: signers.is_some(),
        })
    }
}

/// An `xs:duration` without years or months (`PnDTnHnMn.nS`; `P1D`, `PT6H`, `PT3600S`):
/// those have no fixed length, and IdPs publish hours or days.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds = 0f64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut allowed = units.iter();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, scale) = allowed.by_ref().find(|(unit, _)| *unit == c)?;
            let value: f64 = number.parse().ok()?;
            seconds += value * scale;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400.0)])?;
    if let Some(time) = time {
        take(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (any && seconds.is_finite() && seconds < 1e10)
        .then(|| std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;

    #[test]
    fn durations_in_days_hours_minutes_seconds() {
        assert_eq!(parse_duration("P1D").map(|d| d.as_secs()), Some(86_400));
        assert_eq!(parse_duration("PT6H").map(|d| d.as_secs()), Some(21_600));
        assert_eq!(
            parse_duration("P1DT1H30M").map(|d| d.as_secs()),
            Some(life())
        );
        assert_eq!(parse_duration("PT3600S").map(|d| d.as_secs()), Some(3_600));
        for bad in [
            "", "P", "PT", "1D", "P1Y", "P1M", "PT1D", "P1DT", "PxD", "P1H",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    fn life() -> u64 {
        86_400 + 3_600 + 1_800
    }
}
