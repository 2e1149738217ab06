//! SDK errors → `PortError` kinds. The SDK's message is kept as detail (it names keys and
//! operations, never payloads).

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use samlgate_domain::{PortError, PortErrorKind};

pub(crate) fn map<E, R>(operation: &'static str, err: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let kind = match &err {
        SdkError::TimeoutError(_) => PortErrorKind::Timeout,
        SdkError::DispatchFailure(f) if f.is_timeout() => PortErrorKind::Timeout,
        SdkError::ServiceError(e) => kind_of(e.err().code().unwrap_or_default()),
        _ => PortErrorKind::Other,
    };
    let detail = match &err {
        SdkError::ServiceError(e) => format!(
            "{}: {}",
            e.err().code().unwrap_or("unknown"),
            e.err().message().unwrap_or("")
        ),
        other => other.to_string(),
    };
    PortError::new(kind, operation, detail)
}

fn kind_of(code: &str) -> PortErrorKind {
    match code {
        "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException" => {
            PortErrorKind::AccessDenied
        }
        "DisabledException" | "KMSInvalidStateException" => PortErrorKind::KeyDisabled,
        "KeyUnavailableException" | "DependencyTimeoutException" | "DecryptionFailure" => {
            PortErrorKind::KeyUnavailable
        }
        "ThrottlingException"
        | "LimitExceededException"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded" => PortErrorKind::Throttled,
        "ConditionalCheckFailedException"
        | "TransactionCanceledException"
        | "ResourceExistsException"
        | "InvalidRequestException" => PortErrorKind::Conflict,
        "NotFoundException" | "ResourceNotFoundException" => PortErrorKind::NotFound,
        "InvalidCiphertextException" | "IncorrectKeyException" => PortErrorKind::InvalidCiphertext,
        _ => PortErrorKind::Other,
    }
}
