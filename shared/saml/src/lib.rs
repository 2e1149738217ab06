//! samlgate's SAML 2.0 service-provider core: verify a Response from a configured IdP and
//! hand back the claims of the one assertion it proved authentic. No AWS, no I/O.
//!
//! The pipeline (DESIGN.md §5), each step a function and each failure its own `Error`
//! variant with a stable `code()`:
//!
//! | step | function | codes |
//! |---|---|---|
//! | 0 keys from metadata only | `Verifier::run` | `no_trusted_keys` |
//! | 1 size, base64, strict parse | `input::decode`, `xml::parse_strict` | `too_large`, `malformed`, `doctype_forbidden`, `too_deep` |
//! | 2 unique IDs | `ids::check_unique_ids` | `duplicate_id` |
//! | 3 signature profile, algorithms | `profile::check_signatures` | `signature_profile`, `algorithm_forbidden` |
//! | 4 every signature verifies and covers its parent | `Verifier::verify_signatures` | `untrusted_key`, `signature_invalid` |
//! | 4b top-level status | `ResponseFacts::require_success` | `status_not_success` |
//! | 5 one assertion, decrypt, signed | `single_assertion`, `encrypted::decrypt_assertion` | `assertion_count`, `encryption_required`, `decryption_key_missing`, `decryption_failed`, `signature_missing` |
//! | 6–7 checks on the verified node | `assertion::check_and_read` | `mixed_content`, `issuer_mismatch`, `destination_mismatch`, `not_yet_valid`, `expired`, `audience_mismatch`, `bearer_confirmation_missing`, `recipient_mismatch`, `in_response_to_mismatch`, `unexpected_in_response_to`, `authn_statement_missing` |
//! | 8 output | `VerifiedAssertion` (no public constructor) | |
//! | one-time use, the caller's step | `VerifiedAssertion::replay_key` | `replayed`, `replay_cache_unavailable` |
//!
//! XML-DSig, XML-Enc and C14N come from bergshamra (pure Rust, pinned), reached only through
//! the traits in `xmlsec`.

mod assertion;
mod clock;
mod encrypted;
mod error;
mod ids;
mod input;
mod logout;
mod metadata;
mod oaep;
mod profile;
mod request;
mod sign;
mod sp_metadata;
mod verify;
#[cfg(feature = "weak-sp-key")]
mod weak_key;
mod xml;
mod xmlsec;

pub use assertion::{Attribute, NameId, ReplayKey, VerifiedAssertion, SCOPED_ATTRIBUTES};
pub use clock::{format_instant, parse_instant, Clock, FixedClock, SystemClock};
pub use error::{ConfigError, Error};
pub use logout::{
    logout_redirect_url, read_post, read_redirect, LogoutExpected, LogoutMessage, LogoutRequest,
    LogoutResponse, VerifiedLogout, VerifiedLogoutRequest, VerifiedLogoutResponse,
    MAX_LOGOUT_REQUEST_AGE, STATUS_PARTIAL_LOGOUT, STATUS_SUCCESS,
};
pub use metadata::{parse_duration, Endpoint, IdpMetadata, MetadataDocument, Scope};
pub use profile::Exceptions;
pub use request::{new_request_id, redirect_url, AuthnRequest, ReceivedAuthnRequest};
pub use sign::{OutgoingMessage, RequestSigner, XmlSigner, RSA_SHA256};
pub use sp_metadata::SpMetadata;
pub use verify::{DecryptionKey, Policy, ServiceProvider, TraceStep, Verifier};
pub use xml::{HTTP_POST, HTTP_REDIRECT};

/// Bounds on everything that comes from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, before and after base64 decoding. Default 1 MiB.
    pub max_bytes: usize,
    /// Deepest element nesting. Default 64 (real Responses nest about 8 deep).
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            max_depth: 64,
        }
    }
}
