//! The errors every context shares, each failure with a stable `code()` (the string the API,
//! the audit log and the tests use), and the error the ports return.
//!
//! Each enum's codes and HTTP statuses are written once, in a [`codes!`](crate::codes) table
//! beside the enum: `code()`, `http_status()`, `CODES` and `from_own_code()` all come from it,
//! and the compiler refuses a table that misses a variant.

use std::fmt;

/// The one code table of an error enum: `Variant(field types) => "code", status;` for each
/// variant, and `delegate { Variant => status_fn; }` for variants that wrap another coded
/// error (their code is the inner error's). It generates:
///
/// - `code()`: the stable code (an exhaustive match: a variant missing from the table does
///   not compile);
/// - `http_status()`: the status the API answers with;
/// - `CODES`: the table's own codes, in table order;
/// - `from_own_code()`: the variant a code names, with empty details (for codes that come
///   back from another function).
#[macro_export]
macro_rules! codes {
    (
        $ty:ident {
            $( $variant:ident $( ( $($field:ty),+ ) )? => $code:literal, $status:expr; )*
        }
        $( delegate { $( $dvariant:ident => $dstatus:expr; )+ } )?
    ) => {
        #[allow(dead_code)]
        impl $ty {
            /// The codes of this table, in its order.
            pub const CODES: &'static [&'static str] = &[$($code),*];

            /// The stable, documented code of this failure.
            pub fn code(&self) -> &'static str {
                match self {
                    $( Self::$variant { .. } => $code, )*
                    $( $( Self::$dvariant(inner) => inner.code(), )+ )?
                }
            }

            /// The HTTP status this failure is answered with.
            pub fn http_status(&self) -> u16 {
                match self {
                    $( Self::$variant { .. } => $status, )*
                    $( $( Self::$dvariant(inner) => ($dstatus)(inner), )+ )?
                }
            }

            /// The variant `code` names in this table, with empty details (the first, where
            /// several variants share a code).
            pub fn from_own_code(code: &str) -> Option<Self> {
                #[allow(unreachable_patterns)]
                match code {
                    $( $code => Some(Self::$variant $( ( $(<$field as Default>::default()),+ ) )?), )*
                    _ => None,
                }
            }
        }
    };
}

/// What an AWS capability can fail with, as the domain needs to tell it apart. Adapters map
/// the SDK's errors onto these kinds; `detail` is for logs and never carries secret material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortErrorKind {
    /// IAM or key policy said no (also: a revoked BYOK grant).
    AccessDenied,
    /// The KMS key is disabled or pending deletion.
    KeyDisabled,
    /// KMS could not use the key (custom key store disconnected, key in another region, ...).
    KeyUnavailable,
    /// The service throttled us after the SDK's bounded retries.
    Throttled,
    /// The call did not complete within its timeout.
    Timeout,
    /// A conditional write found a different state (exists / changed).
    Conflict,
    /// The item, secret or key does not exist.
    NotFound,
    /// KMS refused to decrypt: wrong key, wrong encryption context, damaged blob.
    InvalidCiphertext,
    /// Anything else (network, service error).
    Other,
}

codes! {
    PortErrorKind {
        AccessDenied => "key_access_denied", 502;
        KeyDisabled => "key_disabled", 502;
        KeyUnavailable => "key_unavailable", 502;
        Throttled => "aws_throttled", 429;
        Timeout => "aws_timeout", 504;
        Conflict => "conflict", 409;
        NotFound => "not_found", 404;
        InvalidCiphertext => "envelope_invalid", 502;
        Other => "aws_unavailable", 502;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError {
    pub kind: PortErrorKind,
    /// Which operation failed, e.g. `kms:GenerateDataKey`.
    pub operation: &'static str,
    pub detail: String,
}

impl PortError {
    pub fn new(kind: PortErrorKind, operation: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            operation,
            detail: detail.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed ({}): {}",
            self.operation,
            self.kind.code(),
            self.detail
        )
    }
}

impl std::error::Error for PortError {}

/// Every way an operation of the domain fails (organisations, credentials, IdP configuration,
/// provisioning). `code()` is stable: it is the API's `error` field and the audit log's reason
/// code.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("organisation not found")]
    OrgNotFound,
    #[error("organisation already exists")]
    OrgExists,
    #[error("organisation is not active")]
    OrgInactive,
    #[error("credential not found")]
    CredentialNotFound,
    #[error("credential is not active")]
    CredentialInactive,
    #[error("credential was changed concurrently")]
    VersionConflict,
    #[error("ciphertext is larger than {0} bytes")]
    CiphertextTooLarge(usize),
    #[error("ciphertext is not an AWS Encryption SDK message: {0}")]
    CiphertextMalformed(&'static str),
    #[error("ciphertext uses algorithm suite {0:#06x}, which is not accepted")]
    CiphertextAlgorithm(u16),
    #[error("ciphertext is not encrypted to a key this organisation accepts")]
    CiphertextWrongKey,
    /// A field-level-encrypted secret whose plaintext names another organisation (or none):
    /// the deployment's one FLE key does not say whose a ciphertext is, its plaintext does.
    #[error("ciphertext was made for another organisation")]
    CiphertextWrongOrganisation,
    #[error("request is for another organisation")]
    WrongOrganisation,
    #[error("stored envelope does not belong to this credential")]
    EnvelopeMismatch,
    #[error("stored envelope failed to decrypt")]
    EnvelopeInvalid,
    #[error("credential ciphertext failed to decrypt")]
    IntakeDecryptFailed,
    #[error("provisioning target is not on the egress allowlist")]
    EgressDenied,
    #[error("provisioning target failed: {0}")]
    TargetFailed(String),
    #[error("IdP already exists")]
    IdpExists,
    #[error("IdP not found")]
    IdpNotFound,
    #[error("organisation has no SSO settings")]
    SsoNotConfigured,
    #[error("client not found")]
    ClientNotFound,
    #[error("no such certificate waits for approval on this IdP")]
    CertificateNotPending,
    #[error("IdP metadata is not usable: {0}")]
    MetadataInvalid(String),
    /// The detail (a refused destination, a status, a timeout) goes to the audit log only:
    /// the caller cannot learn what answered at an address it chose.
    #[error("IdP metadata could not be fetched")]
    MetadataFetch(String),
    #[error("this deployment cannot start provisioning from the admin API")]
    ProvisioningUnavailable,
    #[error("this setup link is not valid")]
    SetupLinkInvalid,
    #[error("this setup link has expired: ask your samlgate operator for a new one")]
    SetupLinkExpired,
    #[error("this setup link has already been used: ask your samlgate operator for a new one")]
    SetupLinkUsed,
    #[error("this setup link was revoked: ask your samlgate operator for a new one")]
    SetupLinkRevoked,
    #[error("no valid console session: open your setup link again or sign in")]
    Unauthenticated,
    #[error("this session may not do that: its setup link did not grant the scope")]
    ScopeNotGranted,
    #[error("this IAM principal is not one of the deployment's operators")]
    NotAnOperator,
    #[error("the credential form is accepted only through the intake distribution")]
    EdgeRequired,
    #[error("you are not in this organisation's admin group (or console sign-in is off)")]
    NotAnOrgAdmin,
    /// Our own machinery failed (random generator, key generation, serialisation): never the
    /// caller's fault, never a detail worth showing.
    #[error("internal error: {0} failed")]
    Internal(&'static str),
    #[error("{0}")]
    Port(#[from] PortError),
}

codes! {
    VaultError {
        InvalidRequest(String) => "invalid_request", 400;
        OrgNotFound => "org_not_found", 404;
        OrgExists => "org_exists", 409;
        OrgInactive => "org_inactive", 409;
        CredentialNotFound => "credential_not_found", 404;
        CredentialInactive => "credential_inactive", 409;
        VersionConflict => "version_conflict", 409;
        CiphertextTooLarge(usize) => "ciphertext_too_large", 400;
        CiphertextMalformed(&'static str) => "ciphertext_malformed", 400;
        CiphertextAlgorithm(u16) => "ciphertext_algorithm", 400;
        CiphertextWrongKey => "ciphertext_wrong_key", 400;
        CiphertextWrongOrganisation => "ciphertext_wrong_organisation", 400;
        WrongOrganisation => "wrong_organisation", 403;
        EnvelopeMismatch => "envelope_mismatch", 502;
        EnvelopeInvalid => "envelope_invalid", 502;
        IntakeDecryptFailed => "intake_decrypt_failed", 502;
        EgressDenied => "egress_denied", 400;
        TargetFailed(String) => "target_failed", 502;
        IdpExists => "idp_exists", 409;
        IdpNotFound => "idp_not_found", 404;
        SsoNotConfigured => "sso_not_configured", 404;
        ClientNotFound => "client_not_found", 404;
        CertificateNotPending => "certificate_not_pending", 404;
        MetadataInvalid(String) => "metadata_invalid", 400;
        MetadataFetch(String) => "metadata_fetch_failed", 502;
        ProvisioningUnavailable => "provisioning_unavailable", 501;
        SetupLinkInvalid => "setup_link_invalid", 404;
        SetupLinkExpired => "setup_link_expired", 410;
        SetupLinkUsed => "setup_link_used", 410;
        SetupLinkRevoked => "setup_link_revoked", 410;
        Unauthenticated => "unauthenticated", 401;
        ScopeNotGranted => "scope_not_granted", 403;
        NotAnOperator => "not_an_operator", 403;
        EdgeRequired => "edge_required", 403;
        NotAnOrgAdmin => "not_an_org_admin", 403;
        Internal(&'static str) => "internal_error", 500;
    }
    delegate {
        Port => PortError::http_status;
    }
}

impl VaultError {
    /// The error a code names, for codes that come back from another function (provision's
    /// answer to admin): the API then answers with the status that code has everywhere else.
    /// Details are not carried in a code, so the variants' texts are empty; an unknown code
    /// is `None`.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::from_own_code(code).or_else(|| {
            PortErrorKind::from_own_code(code)
                .map(|kind| Self::Port(PortError::new(kind, "remote", "")))
        })
    }

    /// Every code a `VaultError` can carry: its own, then the ports' not already among them.
    pub fn codes() -> Vec<&'static str> {
        let mut codes = Self::CODES.to_vec();
        for code in PortErrorKind::CODES {
            if !codes.contains(code) {
                codes.push(code);
            }
        }
        codes
    }
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md");
        let mut seen = std::collections::BTreeSet::new();
        for code in VaultError::codes() {
            assert!(seen.insert(code), "{code} twice");
            assert!(
                readme.contains(&format!("`{code}`")),
                "README does not document {code}"
            );
        }
    }

    #[test]
    fn every_code_reads_back_as_an_error_with_that_code() {
        for code in VaultError::codes() {
            let e = VaultError::from_code(code).expect(code);
            assert_eq!(e.code(), code);
        }
        assert!(VaultError::from_code("no_such_code").is_none());
        assert_eq!(
            VaultError::from_code("aws_throttled").map(|e| e.http_status()),
            Some(429)
        );
        assert_eq!(
            VaultError::from_code("internal_error").map(|e| e.http_status()),
            Some(500)
        );
    }
}
