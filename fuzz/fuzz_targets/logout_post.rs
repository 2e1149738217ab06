//! A logout message on the HTTP-POST binding (raw XML or base64, as posted).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(certificates) = common::idp_certificates() else {
        return;
    };
    let _ = saml::read_post(
        text,
        Some("relay"),
        certificates,
        &common::expected(),
        &saml::Limits::default(),
    );
});
