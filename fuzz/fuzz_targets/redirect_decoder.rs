//! The Redirect-binding decoder without a signature in the way: base64, bounded DEFLATE,
//! strict parse (the AuthnRequest reader the demo IdP uses shares all three with logout).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = saml::Limits {
        max_bytes: 64 * 1024,
        ..saml::Limits::default()
    };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = saml::ReceivedAuthnRequest::from_redirect(text, &limits);
    }
});
