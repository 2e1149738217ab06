//! A logout message on the HTTP-Redirect binding: the query string as received (parameter
//! parsing, percent-decoding, the query signature, then inflation and the message).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Some(certificates) = common::idp_certificates() else {
        return;
    };
    let _ = saml::read_redirect(
        query,
        certificates,
        &common::expected(),
        &saml::Limits::default(),
    );
});
