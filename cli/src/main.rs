//! `samlgate`: the command-line face of samlgate.
//!
//! Exit codes are a contract (scripts depend on them): 0 valid, 1 rejected, 2 usage or
//! configuration error. Parsing the command line and reading files happen here; every
//! decision about a Response is made by `samlgate-saml`.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "samlgate",
    version,
    about = "samlgate: a fail-closed SAML 2.0 service provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a SAML Response (raw XML or the base64 posted as SAMLResponse) against IdP metadata.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate::run(&args),
    }
}
