//! The kernel's ports over the AWS SDK (DESIGN.md §2 `shared/aws`). Every adapter talks to the
//! real service API, so tests run them against moto (`AWS_ENDPOINT_URL`) rather than a mock.
//!
//! Three capabilities are features, so that a function that must never have them cannot link
//! them (`scripts/check-deps` proves it from `cargo tree`):
//!
//! | feature | adapter | enabled by |
//! |---|---|---|
//! | `decrypt` | `Kms` as `DecryptDataKey` (`kms:Decrypt`) | acs, provision |
//! | `secret-read` | `Secrets` as `SecretReader` (`secretsmanager:GetSecretValue`) | provision |
//! | `invoke` | `lambda::ProvisionFunctions` as `ProvisionInvoker` (`lambda:InvokeFunction`) | admin |
//!
//! The table's items: one module per record (`orgs`, `credentials`, `clients`, `idps`, `sp_keys`,
//! `logins`, `replay`, `sessions`, `setup`, `audit`), every key named in `keys`; `steps` writes
//! each leg of a login in one transaction.

mod audit;
mod clients;
mod codes;
mod credentials;
pub mod destination;
pub mod emf;
mod errors;
pub mod http;
mod idps;
pub mod keys;
pub mod kms;
#[cfg(feature = "invoke")]
pub mod lambda;
mod logins;
mod orgs;
mod replay;
pub mod secrets;
mod sessions;
mod setup;
mod sp_keys;
mod steps;
pub mod table;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

pub use kms::Kms;
pub use secrets::Secrets;
pub use table::Table;

/// Loads the SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`)
/// with bounded retries and timeouts: a throttled or hanging AWS call fails with a clean error
/// code within seconds instead of being retried forever.
pub async fn sdk_config() -> aws_config::SdkConfig {
    config_loader().load().await
}

/// The loader behind [`sdk_config`], for callers that override a setting (tests).
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(12))
                .build(),
        )
}
