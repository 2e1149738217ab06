//! samlgate's kernel (DESIGN.md §2): the identifiers, every record the table holds, the ports
//! (one trait per AWS capability, so that a function's signature is its permission list), the
//! errors and their codes, the auditor, the public URLs and the write rules. It imports
//! nothing above it; the three contexts build on it:
//!
//! | context | crate | linked by |
//! |---|---|---|
//! | SSO runtime: login, ACS, logout, mapping, tokens, key cache | `samlgate-sso` | acs |
//! | IdP lifecycle: registration, metadata documents, SP keys, rotation, refresh | `samlgate-idp` | admin, rotate |
//! | vault: organisations, credentials, audit search, provisioning | `samlgate-vault` | admin, provision |
//!
//! | records | module | table item (DESIGN.md §7) |
//! |---|---|---|
//! | [`org::Org`], [`org::IntakeKey`] | [`org`] | `ORG#{org}` / `ORG`, `INTAKE#{kid}` |
//! | [`credential::Credential`] | [`credential`] | `ORG#{org}` / `CRED#{id}` |
//! | [`client::OidcClient`] | [`client`] | `ORG#{org}` / `CLIENT#{client_id}` |
//! | [`idp::Idp`], [`idp::SsoSettings`] | [`idp`] | `ORG#{org}` / `IDP#{idp}`, `SSO` |
//! | [`sp_key::SpKey`], [`sp_key::RotationPolicy`] | [`sp_key`] | `ORG#{org}` / `SPKEY#…` |
//! | [`session::LoginState`], [`session::Session`] | [`session`] | `REQ#…`, `SESS#…` |
//! | [`grant::AuthCode`], [`grant::AccessToken`] | [`grant`] | `CODE#…`, `ACCESS#…` |
//! | [`audit::AuditEvent`] | [`audit`] | `AUDIT#{org}` / `{time}#…` |
//! | [`setup::SetupLink`], [`setup::ConsoleSession`] | [`setup`] | `ORG#{org}` / `SETUP#{id}`, `CONSOLE#{sha256}` |
//! | [`envelope::Envelope`] | [`envelope`] | inside keys and secrets |

pub mod audit;
pub mod auditor;
pub mod client;
pub mod config;
pub mod context;
pub mod credential;
pub mod envelope;
pub mod error;
pub mod grant;
pub mod idp;
pub mod ids;
pub mod jwk;
#[cfg(feature = "memory")]
pub mod memory;
pub mod one_time;
pub mod org;
pub mod ports;
pub mod rules;
pub mod schema;
pub mod sealing;
pub mod session;
pub mod setup;
pub mod sp_key;
pub mod urls;

pub use error::{PortError, PortErrorKind, Result, VaultError};

/// Time, always injected (the SAML core's clock, re-exported so that the contexts and the
/// functions name one).
pub mod clock {
    pub use saml::{format_instant, parse_instant, Clock, FixedClock, SystemClock};
}
