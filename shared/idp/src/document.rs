//! An IdP's metadata document read into its configuration: at registration (upload or URL) and
//! by the daily refresh. One reading for both, and one rejection type whose `code()` the
//! refresh audits and whose conversion registration answers with.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::{Limits, HTTP_POST, HTTP_REDIRECT};
use samlgate_domain::clock::format_instant;
use samlgate_domain::codes;
use samlgate_domain::idp::{Idp, IdpScope, MetadataSource};
use samlgate_domain::ids::sha256_hex;
use samlgate_domain::rules::{short_text, web_url};
use samlgate_domain::{Result, VaultError};
use time::OffsetDateTime;

/// Largest metadata document of one IdP accepted (upload, URL, MDQ answer).
pub const MAX_METADATA_BYTES: usize = 512 * 1024;

/// The size limit of an IdP's metadata document: the aggregate limit for an aggregate.
pub fn max_bytes_for(source: MetadataSource, aggregate_max_bytes: usize) -> usize {
    match source {
        MetadataSource::Aggregate => aggregate_max_bytes,
        MetadataSource::Document | MetadataSource::Mdq => MAX_METADATA_BYTES,
    }
}

/// Why a metadata document was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DocumentRejection {
    /// Not metadata samlgate can read (XML, structure, one IdP).
    #[error("{0}")]
    Unreadable(String),
    /// A metadata signing certificate in the IdP's configuration cannot be decoded.
    #[error("a configured metadata signing certificate is unreadable")]
    SignerUnreadable,
    /// Signers are configured and the document's signature is missing, foreign or broken.
    #[error("metadata signature: {0}")]
    Signature(String),
    /// The document's `validUntil` has passed (Metadata §2.3.1).
    #[error("the metadata's validUntil has passed")]
    Expired,
    /// The IdP publishes no key that may sign (nothing could be verified); with what the
    /// metadata reader skipped (a certificate too weak to verify with, say).
    #[error("the IdP publishes no usable signing certificate{0}")]
    NoSigningKeys(String),
    /// A value that samlgate would store or send is not acceptable (an endpoint that is not
    /// https, an over-long entity ID).
    #[error("{0}")]
    Field(String),
}

codes! {
    DocumentRejection {
        Unreadable(String) => "metadata_invalid", 400;
        SignerUnreadable => "metadata_invalid", 400;
        Signature(String) => "metadata_signature_invalid", 400;
        Expired => "metadata_expired", 400;
        NoSigningKeys(String) => "metadata_no_signing_keys", 400;
        Field(String) => "metadata_invalid", 400;
    }
}

/// What registration answers: the document's faults are `metadata_invalid` with the reason,
/// a bad field is `invalid_request` with the field's message.
impl From<DocumentRejection> for VaultError {
    fn from(rejection: DocumentRejection) -> Self {
        match rejection {
            DocumentRejection::Field(message) => VaultError::InvalidRequest(message),
            other => VaultError::MetadataInvalid(other.to_string()),
        }
    }
}

/// A field's refusal (`rules::web_url`, `bounded_entity_id`) as a document's.
fn field(e: VaultError) -> DocumentRejection {
    match e {
        VaultError::InvalidRequest(message) => DocumentRejection::Field(message),
        other => DocumentRejection::Field(other.to_string()),
    }
}

/// Reads a metadata document into `idp` (registration, and the refresh job's candidate): its
/// signature when `idp.refresh.signing_certificates` names signers, its `validUntil`, then the
/// entity ID, endpoints (https; loopback http only locally) and signing certificates. From an
/// aggregate or an MDQ answer (`idp.refresh.source`), the IdP is the entity of
/// `idp.entity_id`; `max_bytes` is the document's size limit ([`max_bytes_for`]).
pub fn apply_document(
    idp: &mut Idp,
    bytes: &[u8],
    allow_loopback_http: bool,
    now: OffsetDateTime,
    max_bytes: usize,
) -> Result<(), DocumentRejection> {
    let limits = Limits {
        max_bytes,
        ..Limits::default()
    };
    let selected = idp
        .refresh
        .source
        .selects_entity()
        .then(|| idp.entity_id.clone());
    let signers: Vec<Vec<u8>> = idp
        .refresh
        .signing_certificates
        .iter()
        .map(|c| {
            B64.decode(c)
                .map_err(|_| DocumentRejection::SignerUnreadable)
        })
        .collect::<Result<_, _>>()?;
    let document = saml::MetadataDocument::parse_entity(
        bytes,
        &limits,
        (!signers.is_empty()).then_some(signers.as_slice()),
        selected.as_deref(),
    )
    .map_err(|e| match e {
        saml::Error::SignatureInvalid(_)
        | saml::Error::SignatureProfile(_)
        | saml::Error::UntrustedKey => DocumentRejection::Signature(e.to_string()),
        other => DocumentRejection::Unreadable(other.to_string()),
    })?;
    if document.valid_until().is_some_and(|until| until <= now) {
        return Err(DocumentRejection::Expired);
    }
    let metadata = document.metadata();
    if metadata.signing_certificates.is_empty() {
        let skipped = metadata.warnings.join("; ");
        return Err(DocumentRejection::NoSigningKeys(if skipped.is_empty() {
            skipped
        } else {
            format!(" ({skipped})")
        }));
    }
    let pick = |endpoints: &[saml::Endpoint], binding: &str| {
        endpoints
            .iter()
            .find(|e| e.binding == binding)
            .map(|e| {
                web_url("metadata endpoint", &e.location, allow_loopback_http)
                    .map(|u| u.to_string())
                    .map_err(field)
            })
            .transpose()
    };
    idp.entity_id = bounded_entity_id(&metadata.entity_id).map_err(field)?;
    idp.sso_redirect_url = pick(&metadata.single_sign_on, HTTP_REDIRECT)?;
    idp.sso_post_url = pick(&metadata.single_sign_on, HTTP_POST)?;
    idp.slo_redirect_url = pick(&metadata.single_logout, HTTP_REDIRECT)?;
    idp.slo_post_url = pick(&metadata.single_logout, HTTP_POST)?;
    idp.signing_certificates = metadata
        .signing_certificates
        .iter()
        .map(|c| B64.encode(c))
        .collect();
    idp.want_authn_requests_signed = metadata.want_authn_requests_signed;
    idp.scopes = metadata.scopes.iter().map(IdpScope::from).collect();
    idp.metadata_sha256 = Some(sha256_hex(bytes));
    idp.refresh.valid_until = document.valid_until().map(format_instant);
    idp.refresh.cache_duration_secs = document.cache_duration().map(|d| d.as_secs());
    idp.refresh.checked_at = Some(format_instant(now));
    Ok(())
}

/// An entity ID samlgate stores and compares: 1–1024 bytes, none a control character.
pub fn bounded_entity_id(entity_id: &str) -> Result<String> {
    short_text("entity ID", entity_id, 1024)?;
    Ok(entity_id.to_owned())
}

/// A certificate as PEM or bare base64 DER.
pub fn certificate_der(text: &str) -> Result<Vec<u8>> {
    let invalid =
        || VaultError::InvalidRequest("a certificate is neither PEM nor base64 DER".into());
    if text.len() > 16 * 1024 {
        return Err(invalid());
    }
    if text.contains("-----BEGIN") {
        let pem = pem::parse(text).map_err(|_| invalid())?;
        if pem.tag() != "CERTIFICATE" {
            return Err(invalid());
        }
        return Ok(pem.into_contents());
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../saml/tests/fixtures/metadata/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn blank() -> Idp {
        serde_json::from_value(serde_json::json!({
            "org": "acme", "idp": "okta", "entity_id": "", "sso_redirect_url": null,
            "sso_post_url": null, "slo_redirect_url": null, "slo_post_url": null,
            "signing_certificates": [], "want_authn_requests_signed": false,
            "metadata_url": null, "metadata_sha256": null, "settings": {},
            "version": 1, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 0:00 UTC);

    /// [`apply_document`] as registration reads one IdP's own document, outside local mode.
    fn apply(idp: &mut Idp, bytes: &[u8]) -> Result<(), DocumentRejection> {
        apply_document(idp, bytes, false, NOW, MAX_METADATA_BYTES)
    }

    #[test]
    fn a_document_is_read_into_the_idp() {
        let mut idp = blank();
        apply(&mut idp, &metadata("idp.xml")).unwrap();
        assert_eq!(idp.entity_id, "https://idp.example.com/saml");
        assert!(!idp.signing_certificates.is_empty());
        assert!(idp.sso_url().is_some());
        assert_eq!(
            idp.refresh.checked_at.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn the_declared_scopes_are_kept_with_the_idp() {
        let mut idp = blank();
        apply(&mut idp, &metadata("idp-scoped.xml")).unwrap();
        assert_eq!(
            idp.scopes,
            [
                IdpScope {
                    value: "example.com".into(),
                    regexp: false
                },
                IdpScope {
                    value: r"[a-z]+\.example\.com".into(),
                    regexp: true
                }
            ]
        );
    }

    #[test]
    fn each_rejection_has_its_code() {
        let mut idp = blank();
        let unreadable = apply(&mut idp, b"<not-metadata/>").unwrap_err();
        assert_eq!(unreadable.code(), "metadata_invalid");
        assert!(matches!(
            VaultError::from(unreadable),
            VaultError::MetadataInvalid(_)
        ));

        idp.refresh.signing_certificates = vec!["%%%".into()];
        let signer = apply(&mut idp, &metadata("idp.xml")).unwrap_err();
        assert!(matches!(signer, DocumentRejection::SignerUnreadable));
        assert_eq!(signer.code(), "metadata_invalid");

        // An unsigned document where a signer is configured.
        let mut signed = blank();
        signed.refresh.signing_certificates = blank_signer();
        let unsigned = apply(&mut signed, &metadata("idp.xml")).unwrap_err();
        assert_eq!(unsigned.code(), "metadata_signature_invalid");

        let text = String::from_utf8(metadata("idp.xml")).unwrap();
        let expired = text.replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor validUntil=\"2025-01-01T00:00:00Z\" ",
            1,
        );
        assert_ne!(expired, text, "the fixture's root is md:EntityDescriptor");
        let rejection = apply(&mut blank(), expired.as_bytes()).unwrap_err();
        assert_eq!(rejection.code(), "metadata_expired");
    }

    #[test]
    fn a_plain_http_endpoint_is_a_field_error_outside_local_mode() {
        let text = String::from_utf8(metadata("idp.xml")).unwrap();
        let http = text.replace("https://idp.example.com/sso", "http://127.0.0.1:9/sso");
        assert_ne!(http, text);
        let rejection = apply(&mut blank(), http.as_bytes()).unwrap_err();
        assert_eq!(rejection.code(), "metadata_invalid");
        assert!(matches!(
            VaultError::from(rejection),
            VaultError::InvalidRequest(_)
        ));
        assert!(
            apply_document(&mut blank(), http.as_bytes(), true, NOW, MAX_METADATA_BYTES).is_ok()
        );
    }

    /// Some certificate that signed nothing here: the IdP's own signing certificate.
    fn blank_signer() -> Vec<String> {
        let mut idp = blank();
        apply(&mut idp, &metadata("idp.xml")).unwrap();
        idp.signing_certificates
    }
}
