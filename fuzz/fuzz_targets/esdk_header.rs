//! The AWS Encryption SDK message header reader (admin reads it before anything decrypts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = samlgate_vault::esdk_header::parse(data);
});
