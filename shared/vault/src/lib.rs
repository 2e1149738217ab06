//! samlgate's credential vault (DESIGN.md §4): organisations and their intake keys,
//! credential intake and writes (ciphertext only), the structural reading of an ESDK header,
//! the audit search, and provisioning.
//!
//! | module | who | capabilities (ports) |
//! |---|---|---|
//! | [`admin`] | admin | `GenerateDataKey`, `SecretWriter`, `ConfigReader`, `ConfigWriter`, `AuditLog`, `ProvisionInvoker` |
//! | [`audit_query`] | admin | `AuditReader` |
//! | [`setup`] | admin | `SetupStore`, `OrgReader`, `AuditLog`: setup links and console sessions |
//! | `provision` (feature `provision`) | provision | `DecryptDataKey`, `SecretReader`, `ConfigReader`, `AuditLog`, `MessageDecrypter`, `Egress` |
//! | `esdk` (feature `esdk`) | provision (open), the CLI (seal) | none: the AWS Encryption SDK message format on aws-lc-rs |
//!
//! admin links this crate without either feature, so it links no code that opens an envelope
//! or an ESDK message (`scripts/check-deps` proves it from `cargo tree`).

pub mod admin;
pub mod audit_query;
#[cfg(feature = "esdk")]
pub mod esdk;
pub mod esdk_header;
pub mod intake_key;
#[cfg(feature = "provision")]
pub mod provision;
pub mod setup;
#[cfg(test)]
mod testing;
