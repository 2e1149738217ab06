//! Loads `fixtures/manifest.json` (written by fixtures/generate.py) and runs cases.

use saml::{FixedClock, IdpMetadata, Limits, Policy, ServiceProvider, Verifier};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;

pub const SP_ENTITY_ID: &str = "https://sp.example.com/saml/metadata";
pub const ACS_URL: &str = "https://sp.example.com/o/acme/idp/okta/acs";

#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub name: String,
    pub response: Option<String>,
    pub metadata: String,
    pub sp_key: Option<String>,
    pub request_id: Option<String>,
    pub now: String,
    pub clock_skew: u64,
    #[serde(default)]
    pub require_encrypted: bool,
    pub expect: String,
    pub name_id: Option<String>,
    #[serde(default)]
    pub generate: Option<String>,
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn load_manifest() -> Vec<Case> {
    serde_json::from_slice(&read("manifest.json")).expect("manifest.json parses")
}

pub fn case_named(name: &str) -> Case {
    load_manifest()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no fixture case {name:?}"))
}

pub fn instant(text: &str) -> OffsetDateTime {
    saml::parse_instant(text).unwrap_or_else(|| panic!("bad instant {text:?}"))
}

/// The response bytes of a case (some are generated here rather than stored).
pub fn input_of(case: &Case) -> Vec<u8> {
    match (case.response.as_deref(), case.generate.as_deref()) {
        (Some(path), _) => read(path),
        (None, Some("oversize")) => {
            let mut big =
                b"<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">".to_vec();
            big.resize(2 << 20, b' ');
            big
        }
        other => panic!("case {} has no response: {other:?}", case.name),
    }
}

pub fn verifier_for(case: &Case) -> (Verifier, Vec<u8>, FixedClock) {
    verifier_allowing(case, saml::Exceptions::default())
}

/// [`verifier_for`] with the IdP's algorithm exceptions.
pub fn verifier_allowing(
    case: &Case,
    exceptions: saml::Exceptions,
) -> (Verifier, Vec<u8>, FixedClock) {
    let metadata =
        IdpMetadata::parse(&read(&case.metadata), &Limits::default()).expect("metadata parses");
    let policy = Policy {
        clock_skew: Duration::from_secs(case.clock_skew),
        require_encrypted: case.require_encrypted,
        exceptions,
        ..Policy::default()
    };
    let sp = ServiceProvider {
        entity_id: SP_ENTITY_ID.into(),
        acs_url: ACS_URL.into(),
    };
    let mut verifier = Verifier::new(&metadata, sp, policy).expect("verifier");
    if let Some(key) = &case.sp_key {
        verifier = verifier
            .with_decryption_key_pem(&read(key))
            .expect("sp key");
    }
    (verifier, input_of(case), FixedClock(instant(&case.now)))
}

/// `Ok(name_id)` or `Err(code)`.
pub fn run_case(case: &Case) -> Result<String, String> {
    let (verifier, input, clock) = verifier_for(case);
    verifier
        .verify(&input, case.request_id.as_deref(), &clock)
        .map(|a| a.name_id().value.clone())
        .map_err(|e| e.code().to_owned())
}
