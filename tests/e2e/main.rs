//! The vault end to end (issue 4 §5): the real admin and provision handlers, the real AWS SDK
//! adapters, moto as AWS, the Rust and the Python AWS Encryption SDKs, and a local target.
//! One binary for all of it (the SDK is slow to link).

mod aws_errors;
mod canary;
mod faults;
mod flows;
mod isolation;
mod support;
