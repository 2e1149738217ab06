//! What the logout targets share: the fixture IdP's certificates and expectations.
use std::sync::OnceLock;

static METADATA: &[u8] = include_bytes!("../shared/saml/tests/fixtures/metadata/idp.xml");

pub fn idp_certificates() -> Option<&'static [Vec<u8>]> {
    static CERTS: OnceLock<Option<Vec<Vec<u8>>>> = OnceLock::new();
    CERTS
        .get_or_init(|| {
            saml::IdpMetadata::parse(METADATA, &saml::Limits::default())
                .ok()
                .map(|m| m.signing_certificates)
        })
        .as_deref()
}

pub fn expected() -> saml::LogoutExpected<'static> {
    saml::LogoutExpected {
        issuer: "https://idp.example.com/saml",
        destination: "https://sp.example.com/o/acme/idp/okta/slo",
        now: time::macros::datetime!(2026-01-01 0:01 UTC),
        clock_skew: std::time::Duration::from_secs(180),
    }
}
