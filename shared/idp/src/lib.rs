//! samlgate's IdP lifecycle (DESIGN.md §4, §5): what admin and rotate do with identity
//! providers and with our SP keys. Nothing here decrypts: SP keys are generated and sealed
//! under the organisation key (`GenerateDataKey`), and only acs can open them.
//!
//! - [`admin`]: register an IdP (metadata XML, metadata URL, manual), its settings, the
//!   organisation's SSO settings;
//! - [`clients`]: the organisation's OIDC clients;
//! - [`document`]: a metadata document read into an IdP's configuration, one rejection type;
//! - [`sp_key`]: SP and token key generation;
//! - [`rotation`]: the SP key calendar (`plan`) and its conditional writes;
//! - [`refresh`]: the daily metadata refresh;
//! - [`daily`]: rotate's run over every organisation, rotation then refresh.

pub mod admin;
pub mod clients;
pub mod daily;
pub mod document;
pub mod refresh;
pub mod rotation;
pub mod sp_key;
#[cfg(test)]
mod testing;
