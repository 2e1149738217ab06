//! `samlgate encrypt-credential`: client-side encryption of a credential to an organisation's
//! intake public key with the AWS Encryption SDK. The secret is read from stdin (never from
//! the command line, where `ps` and shell history would see it); stdout is the base64 message
//! that goes into `POST /admin/orgs/{org}/credentials` as `ciphertext`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::ids::OrgId;
use zeroize::Zeroizing;

use crate::output::usage;

/// Largest secret accepted (the stored message must stay under 64 KiB).
const MAX_SECRET_BYTES: usize = 32 * 1024;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The organisation (bound into the message's encryption context as `samlgate:org`).
    #[arg(long)]
    org: String,
    /// The JSON that GET /admin/orgs/{org}/intake-key (or `samlgate org intake-key`) prints.
    #[arg(long, value_name = "FILE")]
    intake_key: PathBuf,
}

pub fn run(args: &Args) -> ExitCode {
    let org = match OrgId::parse(&args.org) {
        Ok(org) => org,
        Err(e) => return usage(&e.to_string()),
    };
    let key: serde_json::Value = match std::fs::read(&args.intake_key)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return usage(&format!("{}: {e}", args.intake_key.display())),
    };
    let field = |name: &str| key[name].as_str().map(str::to_owned);
    let (Some(pem), Some(namespace), Some(name)) = (
        field("public_key_pem"),
        field("key_namespace"),
        field("key_name"),
    ) else {
        return usage("intake key JSON needs public_key_pem, key_namespace and key_name");
    };
    if !name.starts_with(&format!("{org}/")) {
        return usage(&format!(
            "that intake key belongs to another organisation ({name})"
        ));
    }
    let mut secret = Zeroizing::new(Vec::new());
    if let Err(e) = std::io::stdin()
        .take(MAX_SECRET_BYTES as u64 + 1)
        .read_to_end(&mut secret)
    {
        return usage(&format!("cannot read the secret from stdin: {e}"));
    }
    // `echo token | samlgate …` adds one newline that is not part of the secret.
    if secret.ends_with(b"\n") {
        secret.pop();
        if secret.ends_with(b"\r") {
            secret.pop();
        }
    }
    if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
        return usage(&format!(
            "the secret on stdin must be 1–{MAX_SECRET_BYTES} bytes"
        ));
    }
    let context = BTreeMap::from([("samlgate:org".to_owned(), org.to_string())]);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    match rt.block_on(samlgate_vault::esdk::encrypt(
        &pem, &namespace, &name, &context, &secret,
    )) {
        Ok(message) => {
            println!("{}", B64.encode(message));
            ExitCode::SUCCESS
        }
        Err(e) => usage(&e.to_string()),
    }
}
