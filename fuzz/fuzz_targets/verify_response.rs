//! Response verification, whole: decoding, strict parse, IDs, signature profile, signatures,
//! decryption (the SP key is configured), the checks on the verified assertion. Seeds: the
//! fixture Responses (valid ones among them, so mutations of unsigned parts reach the end).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static METADATA: &[u8] = include_bytes!("../../shared/saml/tests/fixtures/metadata/idp.xml");
static SP_KEY: &[u8] = include_bytes!("../../shared/saml/tests/fixtures/keys/sp-enc.key");

fn verifier() -> Option<&'static saml::Verifier> {
    static VERIFIER: OnceLock<Option<saml::Verifier>> = OnceLock::new();
    VERIFIER
        .get_or_init(|| {
            let metadata = saml::IdpMetadata::parse(METADATA, &saml::Limits::default()).ok()?;
            let sp = saml::ServiceProvider {
                entity_id: "https://sp.example.com/saml/metadata".into(),
                acs_url: "https://sp.example.com/o/acme/idp/okta/acs".into(),
            };
            saml::Verifier::new(&metadata, sp, saml::Policy::default())
                .ok()?
                .with_decryption_key_pem(SP_KEY)
                .ok()
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let clock = saml::FixedClock(time::macros::datetime!(2026-01-01 0:01 UTC));
    if let Some(verifier) = verifier() {
        let _ = verifier.verify(data, Some("_req-4f6c1b2e"), &clock);
        let _ = verifier.verify(data, None, &clock);
    }
});
