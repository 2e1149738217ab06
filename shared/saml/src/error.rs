//! Every way a SAML Response can be rejected, each with a stable code.
//!
//! The code (`Error::code`) is the contract: the CLI prints it, the API returns it and the
//! audit log records it. Codes are never renamed or reused; new failure modes get new codes.
//! The `Display` text is for humans and may change; it never contains key material or the
//! decrypted plaintext, but may quote values from the message (an Issuer, an Audience).

use thiserror::Error;

/// Why a Response was rejected. One variant per failed check (see the pipeline in `verify`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The IdP metadata yields no certificate that may verify signatures (step 0).
    #[error("the IdP metadata has no usable signing certificate")]
    NoTrustedKeys,
    /// Input larger than the configured limit, before or after base64 decoding (step 1).
    #[error("input larger than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// Element nesting deeper than the configured limit (step 1).
    #[error("XML nesting exceeds the depth limit of {limit}")]
    TooDeep { limit: u32 },
    /// A DOCTYPE (DTD, entities, XXE) anywhere in the input (step 1).
    #[error("DOCTYPE declarations are forbidden")]
    DoctypeForbidden,
    /// Not base64, not UTF-8, not well-formed XML, or not the SAML structure we require.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Two elements carry the same ID value (step 2): ID resolution would be ambiguous.
    #[error("duplicate ID value {0:?}")]
    DuplicateId(String),
    /// A `ds:Signature` that does not follow the SAML signature profile (step 3).
    #[error("signature does not follow the SAML profile: {0}")]
    SignatureProfile(String),
    /// An algorithm outside the allow-list (step 3, step 5 for encryption).
    #[error("algorithm not allowed: {0}")]
    AlgorithmForbidden(String),
    /// A signature that fails and names a certificate the IdP metadata does not contain.
    #[error("signature made with a key that is not in the IdP metadata")]
    UntrustedKey,
    /// A signature that does not verify (content altered, bad value) (step 4).
    #[error("signature is invalid: {0}")]
    SignatureInvalid(String),
    /// Neither the Assertion nor the Response carries a valid signature (step 5).
    #[error("neither the Assertion nor the Response is signed")]
    SignatureMissing,
    /// Not exactly one Assertion or EncryptedAssertion directly under the Response (step 5).
    #[error("expected exactly one assertion as a direct child of the Response, found {0}")]
    AssertionCount(usize),
    /// The IdP must encrypt assertions but this one is plaintext (step 5).
    #[error("the assertion is not encrypted but encryption is required")]
    EncryptionRequired,
    /// The assertion is encrypted and no SP decryption key was configured (step 5).
    #[error("the assertion is encrypted but no SP decryption key is configured")]
    DecryptionKeyMissing,
    /// The EncryptedAssertion could not be decrypted with the SP key (step 5).
    #[error("the encrypted assertion could not be decrypted")]
    DecryptionFailed,
    /// A value element (NameID, AttributeValue, Issuer, Audience) holds a comment, a
    /// processing instruction or a child element: reading it could truncate it (step 6).
    #[error("{0} contains a comment, processing instruction or element")]
    MixedContent(&'static str),
    /// Top-level StatusCode is not Success (step 7).
    #[error("status is not Success: {0}")]
    StatusNotSuccess(String),
    /// Issuer of the Response or Assertion is not the IdP's entity ID (step 7).
    #[error("issuer {0:?} is not the configured IdP")]
    IssuerMismatch(String),
    /// Response Destination is not the ACS URL from configuration (step 7).
    #[error("destination {0:?} is not this ACS URL")]
    DestinationMismatch(String),
    /// Bearer SubjectConfirmationData Recipient is not the ACS URL (step 7).
    #[error("recipient {0:?} is not this ACS URL")]
    RecipientMismatch(String),
    /// No AudienceRestriction, or one without the SP entity ID (step 7).
    #[error("audience restriction does not name this SP: {0}")]
    AudienceMismatch(String),
    /// No usable bearer SubjectConfirmation (step 7).
    #[error("no bearer subject confirmation: {0}")]
    BearerConfirmationMissing(String),
    /// No AuthnStatement in the assertion (step 7).
    #[error("the assertion has no AuthnStatement")]
    AuthnStatementMissing,
    /// A NotBefore lies in the future, beyond the clock skew (step 7).
    #[error("{0} is not yet valid")]
    NotYetValid(&'static str),
    /// A NotOnOrAfter has passed, beyond the clock skew (step 7).
    #[error("{0} has expired")]
    Expired(&'static str),
    /// InResponseTo differs from the request we sent, or is absent from signed content.
    #[error("InResponseTo does not match the outstanding request: {0}")]
    InResponseToMismatch(String),
    /// An unsolicited (IdP-initiated) login carries InResponseTo.
    #[error("unsolicited response carries InResponseTo {0:?}")]
    UnexpectedInResponseTo(String),
    /// This Assertion ID was already consumed (step 7).
    #[error("assertion {0:?} was already used")]
    Replayed(String),
    /// The replay cache could not answer; we cannot prove the assertion is fresh.
    #[error("replay cache unavailable: {0}")]
    ReplayCacheUnavailable(String),
}

impl Error {
    /// The stable, documented snake_case code of this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoTrustedKeys => "no_trusted_keys",
            Error::TooLarge { .. } => "too_large",
            Error::TooDeep { .. } => "too_deep",
            Error::DoctypeForbidden => "doctype_forbidden",
            Error::Malformed(_) => "malformed",
            Error::DuplicateId(_) => "duplicate_id",
            Error::SignatureProfile(_) => "signature_profile",
            Error::AlgorithmForbidden(_) => "algorithm_forbidden",
            Error::UntrustedKey => "untrusted_key",
            Error::SignatureInvalid(_) => "signature_invalid",
            Error::SignatureMissing => "signature_missing",
            Error::AssertionCount(_) => "assertion_count",
            Error::EncryptionRequired => "encryption_required",
            Error::DecryptionKeyMissing => "decryption_key_missing",
            Error::DecryptionFailed => "decryption_failed",
            Error::MixedContent(_) => "mixed_content",
            Error::StatusNotSuccess(_) => "status_not_success",
            Error::IssuerMismatch(_) => "issuer_mismatch",
            Error::DestinationMismatch(_) => "destination_mismatch",
            Error::RecipientMismatch(_) => "recipient_mismatch",
            Error::AudienceMismatch(_) => "audience_mismatch",
            Error::BearerConfirmationMissing(_) => "bearer_confirmation_missing",
            Error::AuthnStatementMissing => "authn_statement_missing",
            Error::NotYetValid(_) => "not_yet_valid",
            Error::Expired(_) => "expired",
            Error::InResponseToMismatch(_) => "in_response_to_mismatch",
            Error::UnexpectedInResponseTo(_) => "unexpected_in_response_to",
            Error::Replayed(_) => "replayed",
            Error::ReplayCacheUnavailable(_) => "replay_cache_unavailable",
        }
    }

    /// Every code, in pipeline order: the documented, stable list (README and tests use it).
    pub const CODES: &'static [&'static str] = &[
        "no_trusted_keys",
        "too_large",
        "malformed",
        "doctype_forbidden",
        "too_deep",
        "duplicate_id",
        "signature_profile",
        "algorithm_forbidden",
        "untrusted_key",
        "signature_invalid",
        "status_not_success",
        "assertion_count",
        "encryption_required",
        "decryption_key_missing",
        "decryption_failed",
        "signature_missing",
        "mixed_content",
        "issuer_mismatch",
        "destination_mismatch",
        "not_yet_valid",
        "expired",
        "audience_mismatch",
        "bearer_confirmation_missing",
        "recipient_mismatch",
        "in_response_to_mismatch",
        "unexpected_in_response_to",
        "authn_statement_missing",
        "replayed",
        "replay_cache_unavailable",
    ];
}

/// Errors reading IdP metadata or SP keys: configuration problems, not verdicts on a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("metadata: {0}")]
    Metadata(String),
    #[error("SP key: {0}")]
    SpKey(String),
    /// An RSA SP key shorter than 2048 bits: refused (aws-lc's floor). Only the CLI, to
    /// diagnose an old capture, can open one (`--allow-weak-sp-key`).
    #[error("SP key: a {bits}-bit RSA key; samlgate requires at least 2048 bits")]
    WeakSpKey { bits: usize },
}
