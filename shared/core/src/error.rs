//! One error type for the vault, with a stable `code()` per failure (the string the API, the
//! audit log and the tests use), and the error the ports return.

use std::fmt;

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

impl PortErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::AccessDenied => "key_access_denied",
            Self::KeyDisabled => "key_disabled",
            Self::KeyUnavailable => "key_unavailable",
            Self::Throttled => "aws_throttled",
            Self::Timeout => "aws_timeout",
            Self::Conflict => "conflict",
            Self::NotFound => "not_found",
            Self::InvalidCiphertext => "envelope_invalid",
            Self::Other => "aws_unavailable",
        }
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

/// Every way a vault operation fails. `code()` is stable: it is the API's `error` field and the
/// audit log's reason code.
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
    #[error("IdP metadata is not usable: {0}")]
    MetadataInvalid(String),
    #[error("IdP metadata could not be fetched: {0}")]
    MetadataFetch(String),
    #[error("this deployment cannot start provisioning from the admin API")]
    ProvisioningUnavailable,
    #[error("{0}")]
    Port(#[from] PortError),
}

impl VaultError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::OrgNotFound => "org_not_found",
            Self::OrgExists => "org_exists",
            Self::OrgInactive => "org_inactive",
            Self::CredentialNotFound => "credential_not_found",
            Self::CredentialInactive => "credential_inactive",
            Self::VersionConflict => "version_conflict",
            Self::CiphertextTooLarge(_) => "ciphertext_too_large",
            Self::CiphertextMalformed(_) => "ciphertext_malformed",
            Self::CiphertextAlgorithm(_) => "ciphertext_algorithm",
            Self::CiphertextWrongKey => "ciphertext_wrong_key",
            Self::WrongOrganisation => "wrong_organisation",
            Self::EnvelopeMismatch => "envelope_mismatch",
            Self::EnvelopeInvalid => "envelope_invalid",
            Self::IntakeDecryptFailed => "intake_decrypt_failed",
            Self::EgressDenied => "egress_denied",
            Self::TargetFailed(_) => "target_failed",
            Self::IdpExists => "idp_exists",
            Self::IdpNotFound => "idp_not_found",
            Self::SsoNotConfigured => "sso_not_configured",
            Self::MetadataInvalid(_) => "metadata_invalid",
            Self::MetadataFetch(_) => "metadata_fetch_failed",
            Self::ProvisioningUnavailable => "provisioning_unavailable",
            Self::Port(e) => e.kind.code(),
        }
    }

    /// The error a code names, for codes that come back from another function (provision's
    /// answer to admin): the API then answers with the status that code has everywhere else.
    /// Details are not carried in a code, so the variants' texts are empty; an unknown code
    /// is `None`.
    pub fn from_code(code: &str) -> Option<Self> {
        let port = |kind| Self::Port(PortError::new(kind, "provision", ""));
        Some(match code {
            "invalid_request" => Self::InvalidRequest(String::new()),
            "org_not_found" => Self::OrgNotFound,
            "org_exists" => Self::OrgExists,
            "org_inactive" => Self::OrgInactive,
            "credential_not_found" => Self::CredentialNotFound,
            "credential_inactive" => Self::CredentialInactive,
            "version_conflict" => Self::VersionConflict,
            "ciphertext_too_large" => Self::CiphertextTooLarge(0),
            "ciphertext_malformed" => Self::CiphertextMalformed(""),
            "ciphertext_algorithm" => Self::CiphertextAlgorithm(0),
            "ciphertext_wrong_key" => Self::CiphertextWrongKey,
            "wrong_organisation" => Self::WrongOrganisation,
            "envelope_mismatch" => Self::EnvelopeMismatch,
            "envelope_invalid" => Self::EnvelopeInvalid,
            "intake_decrypt_failed" => Self::IntakeDecryptFailed,
            "egress_denied" => Self::EgressDenied,
            "target_failed" => Self::TargetFailed(String::new()),
            "idp_exists" => Self::IdpExists,
            "idp_not_found" => Self::IdpNotFound,
            "sso_not_configured" => Self::SsoNotConfigured,
            "metadata_invalid" => Self::MetadataInvalid(String::new()),
            "metadata_fetch_failed" => Self::MetadataFetch(String::new()),
            "provisioning_unavailable" => Self::ProvisioningUnavailable,
            "key_access_denied" => port(PortErrorKind::AccessDenied),
            "key_disabled" => port(PortErrorKind::KeyDisabled),
            "key_unavailable" => port(PortErrorKind::KeyUnavailable),
            "aws_throttled" => port(PortErrorKind::Throttled),
            "aws_timeout" => port(PortErrorKind::Timeout),
            "conflict" => port(PortErrorKind::Conflict),
            "not_found" => port(PortErrorKind::NotFound),
            "aws_unavailable" => port(PortErrorKind::Other),
            _ => return None,
        })
    }

    /// The HTTP status the API maps this error to.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_)
            | Self::CiphertextTooLarge(_)
            | Self::CiphertextMalformed(_)
            | Self::CiphertextAlgorithm(_)
            | Self::CiphertextWrongKey
            | Self::EgressDenied
            | Self::MetadataInvalid(_) => 400,
            Self::WrongOrganisation => 403,
            Self::OrgNotFound
            | Self::CredentialNotFound
            | Self::IdpNotFound
            | Self::SsoNotConfigured => 404,
            Self::OrgExists
            | Self::VersionConflict
            | Self::OrgInactive
            | Self::CredentialInactive
            | Self::IdpExists => 409,
            Self::ProvisioningUnavailable => 501,
            Self::Port(e) => match e.kind {
                PortErrorKind::Throttled => 429,
                PortErrorKind::Conflict => 409,
                PortErrorKind::NotFound => 404,
                PortErrorKind::Timeout => 504,
                _ => 502,
            },
            _ => 502,
        }
    }

    /// Every code, for the README check.
    pub const CODES: &'static [&'static str] = &[
        "invalid_request",
        "org_not_found",
        "org_exists",
        "org_inactive",
        "credential_not_found",
        "credential_inactive",
        "version_conflict",
        "ciphertext_too_large",
        "ciphertext_malformed",
        "ciphertext_algorithm",
        "ciphertext_wrong_key",
        "wrong_organisation",
        "envelope_mismatch",
        "envelope_invalid",
        "intake_decrypt_failed",
        "egress_denied",
        "target_failed",
        "idp_exists",
        "idp_not_found",
        "sso_not_configured",
        "metadata_invalid",
        "metadata_fetch_failed",
        "provisioning_unavailable",
        "key_access_denied",
        "key_disabled",
        "key_unavailable",
        "aws_throttled",
        "aws_timeout",
        "conflict",
        "not_found",
        "aws_unavailable",
    ];
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
        for code in VaultError::CODES {
            assert!(seen.insert(code), "{code} twice");
            assert!(
                readme.contains(&format!("`{code}`")),
                "README does not document {code}"
            );
        }
    }

    #[test]
    fn every_variant_code_is_listed() {
        let kinds = [
            PortErrorKind::AccessDenied,
            PortErrorKind::KeyDisabled,
            PortErrorKind::KeyUnavailable,
            PortErrorKind::Throttled,
            PortErrorKind::Timeout,
            PortErrorKind::Conflict,
            PortErrorKind::NotFound,
            PortErrorKind::InvalidCiphertext,
            PortErrorKind::Other,
        ];
        let errors = [
            VaultError::InvalidRequest(String::new()),
            VaultError::OrgNotFound,
            VaultError::OrgExists,
            VaultError::OrgInactive,
            VaultError::CredentialNotFound,
            VaultError::CredentialInactive,
            VaultError::VersionConflict,
            VaultError::CiphertextTooLarge(1),
            VaultError::CiphertextMalformed(""),
            VaultError::CiphertextAlgorithm(0),
            VaultError::CiphertextWrongKey,
            VaultError::WrongOrganisation,
            VaultError::EnvelopeMismatch,
            VaultError::EnvelopeInvalid,
            VaultError::IntakeDecryptFailed,
            VaultError::EgressDenied,
            VaultError::TargetFailed(String::new()),
            VaultError::IdpExists,
            VaultError::IdpNotFound,
            VaultError::SsoNotConfigured,
            VaultError::MetadataInvalid(String::new()),
            VaultError::MetadataFetch(String::new()),
            VaultError::ProvisioningUnavailable,
        ];
        for e in errors {
            assert!(VaultError::CODES.contains(&e.code()), "{}", e.code());
        }
        // Every code reads back as an error with that code and the same HTTP status.
        for code in VaultError::CODES {
            let e = VaultError::from_code(code).expect(code);
            assert_eq!(e.code(), *code);
        }
        assert!(VaultError::from_code("no_such_code").is_none());
        for k in kinds {
            assert!(VaultError::CODES.contains(&k.code()), "{}", k.code());
        }
    }
}
