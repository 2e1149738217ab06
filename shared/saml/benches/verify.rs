//! Speed of the verifier, always beside its floor measured in the same run:
//! - `validate/rsa2048_sha256`: a typical signed Response (fixtures `response_signed`);
//! - `validate/encrypted_aes256gcm`: the same assertion, encrypted to the SP and signed;
//! - `floor/rsa2048_pkcs1_sha256_verify`: only the RSA verify of that Response's signature
//!   over its canonical SignedInfo (what no verifier can avoid);
//! - `floor/rsa2048_oaep_decrypt`: only the RSA-OAEP decrypt of the encrypted Response's
//!   EncryptedKey with the SP key (raw aws-lc: the private-key operation no decrypter can
//!   avoid); the encrypted validation's floor is this plus the verify floor;
//! - `reject/10_mib`: a 10 MiB input, rejected by size.
//!
//! `scripts/bench` runs this and prints the ratios, plus python3-saml on the same Response.

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use saml::{FixedClock, IdpMetadata, Limits, Policy, ServiceProvider, Verifier};
use serde::Deserialize;
use std::hint::black_box;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Case {
    name: String,
    response: Option<String>,
    metadata: String,
    sp_key: Option<String>,
    request_id: Option<String>,
    now: String,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(relative)).expect("fixture")
}

fn case(name: &str) -> Case {
    let cases: Vec<Case> = serde_json::from_slice(&read("manifest.json")).expect("manifest");
    cases.into_iter().find(|c| c.name == name).expect("case")
}

struct Prepared {
    verifier: Verifier,
    input: Vec<u8>,
    request_id: Option<String>,
    clock: FixedClock,
}

fn prepare(name: &str) -> Prepared {
    let case = case(name);
    let metadata = IdpMetadata::parse(&read(&case.metadata), &Limits::default()).expect("metadata");
    let sp = ServiceProvider {
        entity_id: "https://sp.example.com/saml/metadata".into(),
        acs_url: "https://sp.example.com/o/acme/idp/okta/acs".into(),
    };
    let mut verifier = Verifier::new(&metadata, sp, Policy::default()).expect("verifier");
    if let Some(key) = &case.sp_key {
        verifier = verifier.with_decryption_key_pem(&read(key)).expect("key");
    }
    let clock = FixedClock(saml::parse_instant(&case.now).expect("now"));
    let input = read(case.response.as_deref().expect("response"));
    Prepared {
        verifier,
        input,
        request_id: case.request_id,
        clock,
    }
}

fn validate(c: &mut Criterion, label: &str, fixture: &str) {
    let p = prepare(fixture);
    // One-time use is the caller's step: repeated verification measures the verifier alone.
    let check = p
        .verifier
        .verify(&p.input, p.request_id.as_deref(), &p.clock);
    assert!(check.is_ok(), "{fixture} must be valid: {check:?}");
    c.bench_function(label, |b| {
        b.iter(|| {
            black_box(
                p.verifier
                    .verify(black_box(&p.input), p.request_id.as_deref(), &p.clock),
            )
        })
    });
}

/// The RSA verify of the Response's own signature over its canonical SignedInfo.
fn floor(c: &mut Criterion) {
    use bergshamra::c14n::{canonicalize_doc, C14nMode};
    use bergshamra::xml::nodeset::NodeSet;
    use der::Decode;

    let p = prepare("response_signed");
    let xml = String::from_utf8(p.input).expect("utf8");
    let doc = uppsala::parse(&xml).expect("parse");
    let ds = "http://www.w3.org/2000/09/xmldsig#";
    let find = |local: &str| {
        doc.descendants(doc.root())
            .into_iter()
            .find(|n| {
                doc.element(*n)
                    .is_some_and(|e| e.name.matches(Some(ds), local))
            })
            .expect("element")
    };
    let signed_info = find("SignedInfo");
    let nodes = NodeSet::tree_without_comments(signed_info, &doc);
    let canonical =
        canonicalize_doc(&doc, C14nMode::Exclusive, Some(&nodes), &[] as &[&str]).expect("c14n");
    let signature_b64: String = doc
        .text_content_deep(find("SignatureValue"))
        .split_whitespace()
        .collect();
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature_b64)
        .expect("b64");

    let metadata =
        IdpMetadata::parse(&read("metadata/idp.xml"), &Limits::default()).expect("metadata");
    let cert = x509_cert::Certificate::from_der(&metadata.signing_certificates[0]).expect("cert");
    let public_key = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec();
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    );
    assert!(
        key.verify(&canonical, &signature).is_ok(),
        "floor must verify the real signature"
    );
    c.bench_function("floor/rsa2048_pkcs1_sha256_verify", |b| {
        b.iter(|| {
            black_box(
                key.verify(black_box(&canonical), black_box(&signature))
                    .is_ok(),
            )
        })
    });
}

/// The RSA-OAEP (SHA-1, MGF1-SHA-1: `rsa-oaep-mgf1p`) decrypt of the encrypted Response's
/// EncryptedKey under the SP's key: one RSA-2048 private-key operation.
fn oaep_floor(c: &mut Criterion) {
    use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1};
    use base64::Engine;

    let case = case("encrypted_oaep_aes256gcm_response_signed");
    let xml = String::from_utf8(read(case.response.as_deref().expect("response"))).expect("utf8");
    let doc = uppsala::parse(&xml).expect("parse");
    let xenc = "http://www.w3.org/2001/04/xmlenc#";
    let named = |local: &str| {
        doc.descendants(doc.root())
            .into_iter()
            .filter(|n| {
                doc.element(*n)
                    .is_some_and(|e| e.name.matches(Some(xenc), local))
            })
            .collect::<Vec<_>>()
    };
    let encrypted_key = named("EncryptedKey")[0];
    let cipher_value = doc
        .descendants(encrypted_key)
        .into_iter()
        .find(|n| {
            doc.element(*n)
                .is_some_and(|e| e.name.matches(Some(xenc), "CipherValue"))
        })
        .expect("CipherValue");
    let wrapped: String = doc
        .text_content_deep(cipher_value)
        .split_whitespace()
        .collect();
    let wrapped = base64::engine::general_purpose::STANDARD
        .decode(wrapped)
        .expect("b64");
    let key_pem = pem::parse(read(case.sp_key.as_deref().expect("sp key"))).expect("pem");
    let key = OaepPrivateDecryptingKey::new(
        PrivateDecryptingKey::from_pkcs8(key_pem.contents()).expect("pkcs8"),
    )
    .expect("oaep key");
    let mut out = vec![0u8; key.min_output_size()];
    let content_key_len = key
        .decrypt(&OAEP_SHA1_MGF1SHA1, &wrapped, &mut out, None)
        .expect("floor must unwrap the real content key")
        .len();
    assert_eq!(content_key_len, 32, "an AES-256 content key");
    c.bench_function("floor/rsa2048_oaep_decrypt", |b| {
        b.iter(|| {
            black_box(
                key.decrypt(&OAEP_SHA1_MGF1SHA1, black_box(&wrapped), &mut out, None)
                    .map(|k| k.len()),
            )
        })
    });
}

fn reject_oversize(c: &mut Criterion) {
    let p = prepare("response_signed");
    let big = vec![b'<'; 10 << 20];
    let check = p.verifier.verify(&big, None, &p.clock);
    assert_eq!(check.map_err(|e| e.code()).err(), Some("too_large"));
    c.bench_function("reject/10_mib", |b| {
        b.iter(|| black_box(p.verifier.verify(black_box(&big), None, &p.clock)))
    });
}

fn benches(c: &mut Criterion) {
    floor(c);
    oaep_floor(c);
    validate(c, "validate/rsa2048_sha256", "response_signed");
    validate(
        c,
        "validate/encrypted_aes256gcm",
        "encrypted_oaep_aes256gcm_response_signed",
    );
    reject_oversize(c);
}

criterion_group! {
    name = verify;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(4));
    targets = benches
}
criterion_main!(verify);
