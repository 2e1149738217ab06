//! End to end, one binary for all of it (the SDK is slow to link):
//! - the vault (issue 4 §5): the real admin and provision handlers, the real AWS SDK adapters,
//!   moto as AWS, the Rust and the Python AWS Encryption SDKs, and a local target;
//! - SSO (issue 5 §5): the real admin, acs and metadata handlers over the same adapters, with
//!   pysaml2 as the IdP and PyJWT checking the tokens;
//! - rotation and metadata refresh (issue 7): the rotate job over two simulated years, with a
//!   python-xmlsec IdP and a local metadata server;
//! - the templates (issue 6): routes, key policy, roles and environment against the code.

mod aws_errors;
mod canary;
mod faults;
mod flows;
mod isolation;
mod rotation;
mod sso;
mod sso_admin;
mod sso_support;
mod support;
mod templates;
