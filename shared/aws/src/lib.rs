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
mod config;
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

pub use config::{config_loader, lambda_config, sdk_config};
pub use kms::Kms;
pub use secrets::Secrets;
pub use table::Table;
