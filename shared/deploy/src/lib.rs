//! What only tooling needs (DESIGN.md §2): linked by the `samlgate` CLI and the tests, never by
//! a Lambda function (`scripts/check-deps` proves it).
//!
//! - [`key_policy`]: the organisation key's policy, rendered from the one template that
//!   `samlgate org create` and org-template.yaml share, and our reading of IAM's evaluation
//!   behind the key-policy matrix;
//! - [`routes`]: the HTTP API's route table, which the dev server dispatches with and the
//!   template test compares with template.yaml.

pub mod key_policy;
pub mod routes;
