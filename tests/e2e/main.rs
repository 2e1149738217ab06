//! End to end, one binary for all of it (the SDK is slow to link):
//! - the vault: the real admin and provision handlers, the real AWS SDK adapters,
//!   moto as AWS, samlgate's ESDK layer and the Python AWS Encryption SDK, and a local target;
//! - SSO: the real admin, acs and metadata handlers over the same adapters, with
//!   pysaml2 as the IdP and PyJWT checking the tokens;
//! - rotation and metadata refresh: the rotate job over two simulated years, with a
//!   python-xmlsec IdP and a local metadata server;
//! - the templates: routes, key policy, roles and environment against the code.

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_errors;
mod canary;
mod esdk;
mod faults;
mod flows;
mod isolation;
mod oidc;
mod rotation;
mod setup_links;
mod sso;
mod sso_admin;
mod sso_support;
mod support;
mod templates;
