//! IdP metadata: the registration reading (one IdP, its keys and endpoints) and the document
//! reading with a required signature (daily refresh with a metadata signing certificate).
#![no_main]

use libfuzzer_sys::fuzz_target;

static SIGNER: &[u8] = include_bytes!("../../shared/saml/tests/fixtures/keys/idp-rsa.crt");

fuzz_target!(|data: &[u8]| {
    let limits = saml::Limits::default();
    let _ = saml::IdpMetadata::parse(data, &limits);
    if let Ok(document) = saml::MetadataDocument::parse(data, &limits, None) {
        let _ = document.valid_until();
        let _ = document.cache_duration();
    }
    if let Some(der) = signer() {
        let _ = saml::MetadataDocument::parse(data, &limits, Some(std::slice::from_ref(&der)));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = saml::parse_duration(text);
        let _ = saml::parse_instant(text);
    }
});

fn signer() -> Option<Vec<u8>> {
    let text = std::str::from_utf8(SIGNER).ok()?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
