//! `samlgate`: the command-line face of samlgate.
//!
//! Exit codes are a contract (scripts depend on them): 0 valid/done, 1 rejected/refused, 2 usage
//! or configuration error. Parsing the command line and reading files happen here; every
//! decision about a Response is made by `samlgate-saml`, every other decision by the context crates (`samlgate-sso`, `samlgate-idp`, `samlgate-vault`).

mod dev;
mod encrypt;
mod org;
mod output;
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
    /// Organisations (local/dev onboarding against the AWS that AWS_ENDPOINT_URL points at).
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Encrypt a credential (read from stdin) to an organisation's intake key; prints base64.
    EncryptCredential(encrypt::Args),
    /// Local samlgate: every function's handler on the API's routes, a demo organisation, a
    /// demo IdP and a demo app (needs AWS_ENDPOINT_URL: scripts/dev starts moto and runs this).
    Dev(dev::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Org(command) => org::run(&command),
        Command::EncryptCredential(args) => encrypt::run(&args),
        Command::Dev(args) => dev::run(&args),
    }
}
