//! samlgate's domain: organisations, credentials, the key hierarchy and audit (DESIGN.md §3,
//! §4, §6), reaching AWS only through the ports in [`ports`], one trait per capability.
//!
//! | who | module | capabilities (ports) |
//! |---|---|---|
//! | admin | [`admin::Admin`] | `GenerateDataKey`, `SecretWriter`, `ConfigReader`, `ConfigWriter`, `AuditLog` |
//! | provision | [`provision::Provisioner`] | `DecryptDataKey`, `SecretReader`, `ConfigReader`, `AuditLog`, egress |
//! | local onboarding | `samlgate org create` | `CreateKey` + admin's |

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod audit_query;
pub mod context;
pub mod egress;
pub mod envelope;
pub mod error;
#[cfg(feature = "esdk")]
pub mod esdk;
pub mod esdk_header;
pub mod idp;
pub mod idp_admin;
pub mod intake_key;
pub mod key_policy;
pub mod mapping;
#[cfg(feature = "memory")]
pub mod memory;
pub mod model;
pub mod ports;
pub mod provision;
pub mod refresh;
pub mod rotation;
pub mod routes;
pub mod slo;
pub mod sp_key;
pub mod sso;
pub mod token;

pub use error::{PortError, PortErrorKind, Result, VaultError};
