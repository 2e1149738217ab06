//! `samlgate validate`: verify one captured Response, print one JSON object.
//!
//! stdout: `{"status":"valid",…}` (exit 0) or `{"status":"rejected","error":code,"detail":…}`
//! (exit 1). Usage errors, unreadable files, unparsable metadata or SP keys: a message on
//! stderr and exit 2. `--explain` prints each pipeline step on stderr.
//!
//! One-time use runs as in acs: the verified assertion is recorded in a replay store (here the
//! in-memory twin, so it remembers this process only) before it is read, and `--explain`
//! reports that step as it ran.

use saml::{
    format_instant, parse_instant, Clock, ConfigError, Error, Exceptions, FixedClock, IdpMetadata,
    Limits, Policy, ServiceProvider, SystemClock, VerifiedAssertion, Verifier,
};
use samlgate_domain::ids::OrgId;
use samlgate_domain::memory::MemoryStore;
use samlgate_domain::one_time::FreshAssertion;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// IdP metadata XML (EntityDescriptor, or an EntitiesDescriptor holding one IdP, or a
    /// federation aggregate with --entity-id).
    #[arg(long, value_name = "FILE")]
    idp_metadata: PathBuf,
    /// The IdP's entity ID in a federation aggregate (an EntitiesDescriptor of many entities).
    #[arg(long, value_name = "ENTITY_ID")]
    entity_id: Option<String>,
    /// A certificate (PEM) that must have signed the metadata, such as a federation's metadata
    /// signing certificate; repeatable. The metadata's validUntil is then checked too.
    #[arg(long = "metadata-signer", value_name = "PEM_FILE")]
    metadata_signers: Vec<PathBuf>,
    /// Largest metadata file read, in bytes (federation aggregates are tens of MB).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    metadata_max_bytes: usize,
    /// This SP's entity ID: every AudienceRestriction must name it.
    #[arg(long, value_name = "ID")]
    sp_entity_id: String,
    /// The ACS URL the IdP posts to: Destination and Recipient must equal it.
    #[arg(long, value_name = "URL")]
    acs_url: String,
    /// SP decryption key: RSA private key in PEM (PKCS#8 or PKCS#1).
    #[arg(long, value_name = "PEM_FILE")]
    sp_key: Option<PathBuf>,
    /// Validate as of this instant (RFC 3339, e.g. 2026-01-01T00:01:00Z); default: now.
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Allowed clock difference with the IdP, applied to every time comparison.
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    clock_skew: u64,
    /// ID of the AuthnRequest this Response answers; without it the Response must be unsolicited.
    #[arg(long, value_name = "ID")]
    request_id: Option<String>,
    /// Reject assertions that are not encrypted.
    #[arg(long)]
    require_encrypted: bool,
    /// Allow an algorithm samlgate refuses by default, as an IdP's `algorithm_exceptions` do:
    /// rsa-sha1 (SignatureMethod), sha1 (DigestMethod), aes-cbc (AES-CBC not covered by a
    /// verified Response signature). Repeatable.
    #[arg(long = "allow-algorithm", value_name = "NAME")]
    allow_algorithm: Vec<String>,
    /// Accept an RSA SP decryption key shorter than 2048 bits (from 1024), to diagnose an old
    /// capture: samlgate itself never accepts one.
    #[arg(long, requires = "sp_key")]
    allow_weak_sp_key: bool,
    /// Print each verification step and its outcome on stderr.
    #[arg(long)]
    explain: bool,
    /// The Response: raw XML, or its base64 as posted in SAMLResponse.
    #[arg(value_name = "RESPONSE_FILE")]
    response: PathBuf,
}

#[derive(Serialize)]
struct Valid<'a> {
    status: &'static str,
    name_id: &'a str,
    name_id_format: Option<&'a str>,
    issuer: &'a str,
    session_index: Option<&'a str>,
    authn_context: Option<&'a str>,
    not_on_or_after: String,
    attributes: BTreeMap<&'a str, &'a [String]>,
    /// The `--allow-algorithm` exceptions this Response needed.
    exceptions_used: Vec<&'static str>,
    /// Scoped attributes whose values were dropped (a scope the metadata does not declare).
    attributes_dropped: &'a [String],
}

#[derive(Serialize)]
struct Rejected<'a> {
    status: &'static str,
    error: &'static str,
    detail: &'a str,
}

/// Exit status for configuration problems, with the message on stderr.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("samlgate validate: {message}");
    ExitCode::from(2)
}

pub fn run(args: &Args) -> ExitCode {
    let limits = Limits::default();
    let clock: Box<dyn Clock> = match &args.now {
        Some(text) => match parse_instant(text) {
            Some(instant) => Box::new(FixedClock(instant)),
            None => {
                return usage_error(&format!(
                    "--now {text:?} is not an RFC 3339 instant with a zone"
                ))
            }
        },
        None => Box::new(SystemClock),
    };
    let metadata = match read_metadata(args, clock.as_ref()) {
        Ok(metadata) => metadata,
        Err(message) => return usage_error(&message),
    };
    let sp = ServiceProvider {
        entity_id: args.sp_entity_id.clone(),
        acs_url: args.acs_url.clone(),
    };
    let exceptions = match Exceptions::from_names(&args.allow_algorithm) {
        Ok(exceptions) => exceptions,
        Err(message) => return usage_error(&format!("--allow-algorithm: {message}")),
    };
    let policy = Policy {
        clock_skew: Duration::from_secs(args.clock_skew),
        require_encrypted: args.require_encrypted,
        limits,
        exceptions,
    };
    let mut verifier = match Verifier::new(&metadata, sp, policy) {
        Ok(verifier) => verifier,
        Err(e) => return usage_error(&e.to_string()),
    };
    if let Some(path) = &args.sp_key {
        let pem = match read_file(path, 64 * 1024) {
            Ok(pem) => pem,
            Err(message) => return usage_error(&message),
        };
        let verifier_with_key = if args.allow_weak_sp_key {
            verifier.with_weak_decryption_key_pem(&pem)
        } else {
            verifier.with_decryption_key_pem(&pem)
        };
        verifier = match verifier_with_key {
            Ok(verifier) => verifier,
            Err(e @ ConfigError::WeakSpKey { .. }) => {
                return usage_error(&format!(
                    "{}: {e} (to diagnose an old capture, pass --allow-weak-sp-key)",
                    path.display()
                ))
            }
            Err(e) => return usage_error(&format!("{}: {e}", path.display())),
        };
    }
    if args.explain {
        for warning in &metadata.warnings {
            eprintln!("metadata: {warning}");
        }
    }

    // Read at most one byte past the limit: a 10 MiB file is refused without reading it all.
    let response = match read_file_capped(&args.response, limits.max_bytes) {
        Ok(bytes) => bytes,
        Err(message) => return usage_error(&message),
    };
    let request_id = args.request_id.as_deref();
    let verified = if args.explain {
        let (result, steps) = verifier.verify_traced(&response, request_id, clock.as_ref());
        for step in steps {
            eprintln!("{:<28} {}", step.step, step.outcome);
        }
        result
    } else {
        verifier.verify(&response, request_id, clock.as_ref())
    };
    let result = verified.and_then(|assertion| first_use(assertion, args.explain));
    match result {
        Ok(assertion) => print_json(&valid(&assertion), ExitCode::SUCCESS),
        Err(error) => rejected(&error),
    }
}

/// The IdP's metadata: the one entity of the file, or `--entity-id`'s in an aggregate; with
/// `--metadata-signer`, only if the document's signature verifies with one of them and its
/// validUntil has not passed at the validation instant.
fn read_metadata(args: &Args, clock: &dyn Clock) -> Result<IdpMetadata, String> {
    let path = args.idp_metadata.display();
    let limits = Limits {
        max_bytes: args.metadata_max_bytes,
        ..Limits::default()
    };
    let bytes = read_file(&args.idp_metadata, limits.max_bytes)?;
    let mut signers = Vec::new();
    for signer in &args.metadata_signers {
        let text = read_file(signer, 64 * 1024)?;
        match pem::parse(&text) {
            Ok(pem) if pem.tag() == "CERTIFICATE" => signers.push(pem.into_contents()),
            _ => return Err(format!("{}: not a PEM certificate", signer.display())),
        }
    }
    let document = saml::MetadataDocument::parse_entity(
        &bytes,
        &limits,
        (!signers.is_empty()).then_some(signers.as_slice()),
        args.entity_id.as_deref(),
    )
    .map_err(|e| match e {
        Error::Malformed(detail) => format!("{path}: {detail}"),
        other => format!("{path}: {} ({})", other, other.code()),
    })?;
    if args.explain && document.signature_verified() {
        eprintln!("metadata: signature verified with a --metadata-signer certificate");
    }
    if !signers.is_empty() {
        if let Some(until) = document.valid_until() {
            if until <= clock.now() {
                return Err(format!(
                    "{path}: the metadata's validUntil ({}) has passed",
                    format_instant(until)
                ));
            }
        }
    }
    Ok(document.metadata().clone())
}

/// One-time use (Profiles §4.1.4.5), recorded the way acs records it, in a replay store that
/// lives for this process.
fn first_use(assertion: VerifiedAssertion, explain: bool) -> Result<FreshAssertion, Error> {
    let store = MemoryStore::default();
    let org = OrgId::parse("cli").map_err(|e| Error::ReplayCacheUnavailable(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::ReplayCacheUnavailable(e.to_string()))?;
    let result = runtime.block_on(FreshAssertion::record(&store, &org, assertion));
    if explain {
        let outcome = match &result {
            Ok(_) => "first use (in-memory store: this process only)".to_owned(),
            Err(e) => format!("rejected: {} ({e})", e.code()),
        };
        eprintln!("{:<28} {outcome}", "7 replay");
    }
    result
}

fn valid(assertion: &FreshAssertion) -> Valid<'_> {
    Valid {
        status: "valid",
        name_id: &assertion.name_id().value,
        name_id_format: assertion.name_id().format.as_deref(),
        issuer: assertion.issuer(),
        session_index: assertion.session_index(),
        authn_context: assertion.authn_context(),
        not_on_or_after: format_instant(assertion.not_on_or_after()),
        attributes: assertion
            .attributes()
            .iter()
            .map(|a| (a.name.as_str(), a.values.as_slice()))
            .collect(),
        exceptions_used: assertion.exceptions_used().names(),
        attributes_dropped: assertion.dropped_attributes(),
    }
}

fn rejected(error: &Error) -> ExitCode {
    let detail = error.to_string();
    let detail = detail.lines().next().unwrap_or_default();
    print_json(
        &Rejected {
            status: "rejected",
            error: error.code(),
            detail,
        },
        ExitCode::from(1),
    )
}

fn print_json<T: Serialize>(value: &T, code: ExitCode) -> ExitCode {
    match serde_json::to_string(value) {
        Ok(json) => {
            println!("{json}");
            code
        }
        Err(e) => usage_error(&format!("cannot encode the result: {e}")),
    }
}

/// A whole configuration file, refused above `limit` bytes.
fn read_file(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let bytes = read_file_capped(path, limit)?;
    if bytes.len() > limit {
        return Err(format!("{}: larger than {limit} bytes", path.display()));
    }
    Ok(bytes)
}

/// At most `limit + 1` bytes of `path`, so that the verifier sees and reports an oversize input.
fn read_file_capped(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}
