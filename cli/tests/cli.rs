//! `samlgate validate` end to end: the exit codes and JSON shapes of the CLI contract.

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

const SP_ENTITY_ID: &str = "https://sp.example.com/saml/metadata";
const ACS_URL: &str = "https://sp.example.com/o/acme/idp/okta/acs";
const NOW: &str = "2026-01-01T00:01:00Z";
const REQUEST_ID: &str = "_req-4f6c1b2e";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/saml/tests/fixtures")
}

/// The response file of a manifest case.
fn response_of(case: &str) -> PathBuf {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("manifest.json")).expect("manifest"))
            .expect("manifest parses");
    let path = manifest
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["name"] == case))
        .and_then(|c| c["response"].as_str())
        .unwrap_or_else(|| panic!("no case {case}"));
    fixtures().join(path)
}

fn validate(metadata: &str) -> Command {
    let mut cmd = Command::cargo_bin("samlgate").expect("binary");
    cmd.arg("validate")
        .arg("--idp-metadata")
        .arg(fixtures().join("metadata").join(metadata))
        .args(["--sp-entity-id", SP_ENTITY_ID, "--acs-url", ACS_URL]);
    cmd
}

fn json(stdout: &[u8]) -> Value {
    serde_json::from_slice(stdout).expect("stdout is one JSON object")
}

#[test]
fn a_valid_response_prints_the_claims_and_exits_0() {
    let out = validate("idp.xml")
        .args(["--now", NOW, "--request-id", REQUEST_ID])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out.stdout);
    assert_eq!(v["status"], "valid");
    assert_eq!(v["name_id"], "alice@example.com");
    assert_eq!(
        v["name_id_format"],
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    );
    assert_eq!(v["issuer"], "https://idp.example.com/saml");
    assert_eq!(v["session_index"], "_session-7a1");
    assert_eq!(
        v["authn_context"],
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    );
    assert_eq!(v["not_on_or_after"], "2026-01-01T00:05:00Z");
    assert_eq!(
        v["attributes"]["groups"],
        serde_json::json!(["admins", "engineering"])
    );
    let keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 10, "exactly the documented keys: {keys:?}");
    assert_eq!(v["attributes_dropped"], serde_json::json!([]));
    assert_eq!(v["exceptions_used"], serde_json::json!([]));
}

/// A federation aggregate (signed by libxmlsec1): the IdP is picked with `--entity-id`, the
/// aggregate's signature checked with `--metadata-signer`, and its validUntil honoured.
#[test]
fn a_federation_aggregate_is_read_by_entity_id_with_its_signer() {
    let signer = fixtures().join("keys/federation.crt");
    let run = |now: &str, extra: &[&std::ffi::OsStr]| {
        validate("federation-aggregate.xml")
            .args(["--entity-id", "https://idp.example.com/saml"])
            .args(extra)
            .args(["--now", now, "--request-id", REQUEST_ID])
            .arg(response_of("response_signed"))
            .output()
            .expect("runs")
    };
    let signed = run(NOW, &["--metadata-signer".as_ref(), signer.as_os_str()]);
    assert_eq!(signed.status.code(), Some(0), "{signed:?}");
    assert_eq!(json(&signed.stdout)["name_id"], "alice@example.com");
    // The nested EntitiesDescriptor around the IdP ends on 2026-06-01.
    let expired = run(
        "2026-07-01T00:00:00Z",
        &["--metadata-signer".as_ref(), signer.as_os_str()],
    );
    assert_eq!(expired.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&expired.stderr).contains("validUntil"));
    // Another certificate did not sign it.
    let other = fixtures().join("keys/idp-rsa.crt");
    let foreign = run(NOW, &["--metadata-signer".as_ref(), other.as_os_str()]);
    assert_eq!(foreign.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&foreign.stderr).contains("signature"));
    // Without --entity-id, which of its four IdPs?
    let unnamed = validate("federation-aggregate.xml")
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(unnamed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unnamed.stderr).contains("entity ID"));
}

#[test]
fn allow_algorithm_takes_exactly_the_exception_names_and_reports_their_use() {
    let run = |names: &[&str]| {
        let mut cmd = validate("idp.xml");
        cmd.args(["--now", NOW, "--request-id", REQUEST_ID]);
        for name in names {
            cmd.args(["--allow-algorithm", name]);
        }
        cmd.arg(response_of("rsa_sha1")).output().expect("runs")
    };
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(json(&refused.stdout)["error"], "algorithm_forbidden");
    let allowed = run(&["rsa-sha1"]);
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stdout)
    );
    assert_eq!(
        json(&allowed.stdout)["exceptions_used"],
        serde_json::json!(["rsa-sha1"])
    );
    let unknown = run(&["hmac-sha1"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(unknown.stdout.is_empty());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("rsa-sha1, sha1, aes-cbc"));
}

#[test]
fn now_accepts_fractional_seconds_and_offsets() {
    let out = validate("idp.xml")
        .args([
            "--now",
            "2026-01-01T01:01:00.250+01:00",
            "--request-id",
            REQUEST_ID,
        ])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_rejected_response_prints_the_code_and_exits_1() {
    let out = validate("idp.xml")
        .args(["--now", NOW, "--request-id", "_another-request"])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out.stdout);
    assert_eq!(v["status"], "rejected");
    assert_eq!(v["error"], "in_response_to_mismatch");
    assert!(v["detail"]
        .as_str()
        .is_some_and(|d| !d.is_empty() && !d.contains('\n')));
    assert_eq!(v.as_object().map(|o| o.len()), Some(3));
}

#[test]
fn metadata_without_a_signing_key_is_a_rejection_not_a_usage_error() {
    let out = validate("idp-enc-only.xml")
        .args(["--now", NOW, "--request-id", REQUEST_ID])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out.stdout)["error"], "no_trusted_keys");
}

#[test]
fn a_10_mib_file_is_rejected_by_size() {
    let dir = tempdir();
    let big = dir.join("big.xml");
    std::fs::write(&big, vec![b'<'; 10 << 20]).expect("write");
    let out = validate("idp.xml")
        .args(["--now", NOW])
        .arg(&big)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out.stdout)["error"], "too_large");
}

#[test]
fn usage_errors_exit_2_with_a_message_on_stderr() {
    // Missing required option.
    let out = Command::cargo_bin("samlgate")
        .expect("binary")
        .args(["validate", "x.xml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

    // Unreadable response file.
    let out = validate("idp.xml")
        .arg("/nonexistent/response.xml")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());

    // Unparsable metadata.
    let dir = tempdir();
    let bad = dir.join("bad-metadata.xml");
    std::fs::write(&bad, "<not-metadata/>").expect("write");
    let out = Command::cargo_bin("samlgate")
        .expect("binary")
        .arg("validate")
        .arg("--idp-metadata")
        .arg(&bad)
        .args(["--sp-entity-id", SP_ENTITY_ID, "--acs-url", ACS_URL])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("metadata"));

    // A --now without a zone.
    let out = validate("idp.xml")
        .args(["--now", "2026-01-01T00:01:00"])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));

    // An SP key that is not a key.
    let out = validate("idp.xml")
        .arg("--sp-key")
        .arg(&bad)
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_reports_each_step_on_stderr_only() {
    let out = validate("idp.xml")
        .args(["--now", NOW, "--request-id", REQUEST_ID, "--explain"])
        .arg(response_of("response_signed"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for step in [
        "0 trusted keys",
        "1 decode and parse",
        "3 signature profile",
        "4 signatures",
        "7 replay",
    ] {
        assert!(stderr.contains(step), "missing {step:?} in:\n{stderr}");
    }
    assert_eq!(json(&out.stdout)["status"], "valid");
}

#[test]
fn an_encrypted_response_is_opened_with_the_sp_key() {
    let out = validate("idp.xml")
        .args([
            "--now",
            NOW,
            "--request-id",
            REQUEST_ID,
            "--require-encrypted",
        ])
        .arg("--sp-key")
        .arg(fixtures().join("keys/sp-enc.key"))
        .arg(response_of("encrypted_oaep_aes256gcm"))
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json(&out.stdout)["name_id"], "alice@example.com");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "samlgate-cli-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `samlgate org policy`: the key policy an organisation key gets, as JSON, no AWS needed.
#[test]
fn org_policy_prints_the_rendered_key_policy() {
    let out = Command::cargo_bin("samlgate")
        .unwrap()
        .args([
            "org",
            "policy",
            "--org",
            "acme",
            "--account-id",
            "111122223333",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let policy = json(&out.stdout);
    let text = policy.to_string();
    assert!(text.contains("arn:aws:iam::111122223333:role/samlgate-provision-acme"));
    assert!(!text.contains("${"));
    assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(7));
}

/// `samlgate encrypt-credential` never takes the secret as an argument, and refuses bad input
/// with exit 2 and a message on stderr.
#[test]
fn encrypt_credential_usage_errors_exit_2() {
    let dir = std::env::temp_dir().join(format!("samlgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("intake-key.json");
    std::fs::write(
        &key,
        r#"{"public_key_pem":"x","key_namespace":"samlgate-intake","key_name":"globex/k-1"}"#,
    )
    .unwrap();
    let key_arg = key.to_str().unwrap();
    for (args, stdin) in [
        (
            vec![
                "encrypt-credential",
                "--org",
                "acme",
                "--intake-key",
                key_arg,
            ],
            "s",
        ),
        (
            vec![
                "encrypt-credential",
                "--org",
                "Bad!",
                "--intake-key",
                key_arg,
            ],
            "s",
        ),
        (
            vec![
                "encrypt-credential",
                "--org",
                "acme",
                "--intake-key",
                "/nonexistent",
            ],
            "s",
        ),
        (
            vec![
                "encrypt-credential",
                "--org",
                "globex",
                "--intake-key",
                key_arg,
            ],
            "",
        ),
        (
            vec![
                "encrypt-credential",
                "--org",
                "globex",
                "--intake-key",
                key_arg,
                "secret",
            ],
            "s",
        ),
    ] {
        let out = Command::cargo_bin("samlgate")
            .unwrap()
            .args(&args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn interop_root() -> PathBuf {
    std::env::var_os("SAMLGATE_INTEROP")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/interop"))
}

/// A 1024-bit SP key (a real Okta capture's, from the interop corpus) is refused with its
/// size and the flag that diagnoses it; with the flag the capture opens.
#[test]
fn a_weak_sp_key_is_named_by_its_size_and_opens_only_with_the_flag() {
    let case = interop_root().join("cases/okta-2020-encrypted-both-signed");
    if !case.is_dir() {
        eprintln!("SKIPPED: the interop corpus is not at {}", case.display());
        return;
    }
    let run = |extra: &[&str]| {
        Command::cargo_bin("samlgate")
            .unwrap()
            .current_dir(&case)
            .args(["validate", "--idp-metadata", "idp-metadata.xml"])
            .args(["--sp-entity-id", "http://localhost:8000/saml/metadata"])
            .args(["--acs-url", "http://localhost:8000/saml/acs"])
            .args(["--now", "2020-03-03T19:40:55Z"])
            .args([
                "--request-id",
                "id-953d4cab69ff475c5901d12e585b0bb15a7b85fe",
            ])
            .args(["--sp-key", "sp-key.pem"])
            .args(extra)
            .arg("response.b64")
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("1024-bit RSA key") && message.contains("--allow-weak-sp-key"),
        "{message}"
    );
    let opened = run(&["--allow-weak-sp-key"]);
    assert_eq!(opened.status.code(), Some(0), "{opened:?}");
    assert_eq!(json(&opened.stdout)["name_id"], "testuser@testrsc.com");
    // The flag needs a key to apply to.
    let alone = Command::cargo_bin("samlgate")
        .unwrap()
        .current_dir(&case)
        .args([
            "validate",
            "--allow-weak-sp-key",
            "--idp-metadata",
            "idp-metadata.xml",
        ])
        .args(["--sp-entity-id", "x", "--acs-url", "y", "response.b64"])
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(2));
}

/// The interop corpus (`../shared/interop`, beside the checkout; `SAMLGATE_INTEROP` names
/// another place): 52 Responses from 15 real IdP products, each run the way its `case.json`
/// says (`samlgate validate … <args> <response>` in the case directory). A valid case must
/// print its `name_id`; a rejected one must be rejected with the code reviewed for it below.
/// Cases samlgate cannot pass yet are listed with the outcome they get today, so that a fix
/// shows up here as a failure asking to move the case (issue 15).
#[test]
fn the_interop_corpus_of_real_idp_responses() {
    let cases = interop_root().join("cases");
    if !cases.is_dir() {
        eprintln!(
            "SKIPPED: the interop corpus is not at {} (set SAMLGATE_INTEROP)",
            cases.display()
        );
        return;
    }
    // The codes of the rejected cases, each reviewed against what the case is named for.
    let rejections: &[(&str, &str)] = &[
        (
            "keycloak-assertion-signed-no-authnstatement",
            "authn_statement_missing",
        ),
        ("google-apps-2016-comment-split-nameid", "mixed_content"),
        (
            "okta-2024-fixture-reindented-response-sig-broken",
            "signature_invalid",
        ),
        ("oktadev-response-signed-c14n11", "signature_profile"),
        (
            "reject-entra-id-unsigned-response-issuer-changed",
            "issuer_mismatch",
        ),
        ("reject-google-apps-2016-cve-2018-7340", "signature_invalid"),
        (
            "reject-okta-2024-assertion-signature-stripped",
            "signature_invalid",
        ),
        ("reject-okta-2024-expired-one-year-later", "expired"),
        ("reject-okta-2024-metadata-other-cert", "untrusted_key"),
        ("reject-okta-2024-other-sp", "audience_mismatch"),
        (
            "reject-okta-2024-signature-method-altered",
            "algorithm_forbidden",
        ),
        // The source's own key and c14n 1.1: refused at the profile, before any key is tried.
        ("reject-oktadev-signed-by-other-key", "signature_profile"),
        ("reject-onelogin-2016-xsw1", "duplicate_id"),
        ("reject-onelogin-2016-xsw2", "duplicate_id"),
        (
            "reject-onelogin-olgn09-tampered-assertion",
            "signature_invalid",
        ),
        ("reject-onelogin-olgn09-wrong-audience", "audience_mismatch"),
        (
            "reject-onelogin-olgn09-wrong-destination",
            "destination_mismatch",
        ),
        ("reject-onelogin-olgn09-wrong-idp-cert", "untrusted_key"),
        (
            "reject-pingfed-unsigned-response-issuer-changed",
            "issuer_mismatch",
        ),
    ];
    // Disputed (the note of issue 15 says why): two captures signed with 1024-bit RSA IdP
    // keys, which the corpus expects valid with only the SHA-1 exceptions. samlgate refuses to
    // verify with an RSA key under 2048 bits (aws-lc's floor; a 1024-bit key is within reach
    // of a well-funded attacker, NIST SP 800-131A) and has no exception for it: the metadata
    // reader skips such a certificate with a warning that names its size, so the IdP has no
    // usable key. A fix (or a decision to add an exception) shows up here as a failure.
    let pending: &[(&str, &str)] = &[
        (
            "oracle-oam-assertion-signed-sha1-nokeyinfo",
            "no_trusted_keys",
        ),
        ("simplesamlphp-2014-both-signed-sha1", "no_trusted_keys"),
    ];
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .expect("cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("case.json").is_file())
        .collect();
    dirs.sort();
    let (mut passed, mut problems) = (0, Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: Value =
            serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let text = |k: &str| case[k].as_str().unwrap_or_default().to_owned();
        let args: Vec<String> = case["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let out = Command::cargo_bin("samlgate")
            .unwrap()
            .current_dir(dir)
            .arg("validate")
            .args(["--idp-metadata", &text("idp_metadata")])
            .args([
                "--sp-entity-id",
                &text("sp_entity_id"),
                "--acs-url",
                &text("acs_url"),
            ])
            .args(&args)
            .arg(text("response"))
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let got = match (out.status.code(), v["status"].as_str()) {
            (Some(0), Some("valid")) => format!("valid:{}", v["name_id"].as_str().unwrap_or("")),
            (Some(1), Some("rejected")) => v["error"].as_str().unwrap_or("?").to_owned(),
            (Some(2), _) => "usage_error".to_owned(),
            (code, _) => format!("exit {code:?}"),
        };
        let find = |list: &[(&'static str, &'static str)]| -> Option<&'static str> {
            list.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
        };
        let want = match (find(pending), text("expect").as_str(), find(rejections)) {
            (Some(today), _, _) => today.to_owned(),
            (None, "valid", _) => format!("valid:{}", text("name_id")),
            (None, _, Some(code)) => code.to_owned(),
            (None, _, None) => format!("a reviewed rejection code (got {got})"),
        };
        if got == want {
            passed += usize::from(find(pending).is_none());
        } else if find(pending).is_some() {
            problems.push(format!(
                "{name}: now {got} (was {want}): move it out of `pending`"
            ));
        } else {
            problems.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    eprintln!(
        "interop corpus: {passed}/{} pass, {} pending",
        dirs.len(),
        pending.len()
    );
    assert!(
        dirs.len() >= 52,
        "only {} cases in {}",
        dirs.len(),
        cases.display()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
