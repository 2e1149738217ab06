//! samlgate's ESDK layer (`samlgate_vault::esdk`) against the Python AWS Encryption SDK, the
//! third party, in both directions: every accepted algorithm suite, framed and in one block,
//! empty to multi-frame plaintexts; and the suites intake refuses.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::VaultError;
use samlgate_vault::esdk;
use serde_json::{json, Value};

use crate::support::{rsa_key_pair, run_python};

const NS: &str = "samlgate-intake";
const NAME: &str = "interop/k-1";

/// One run of tests/fixtures/esdk_interop.py.
fn python_esdk(request: &Value) -> Value {
    let out = run_python("esdk_interop.py", &[], request.to_string().as_bytes());
    serde_json::from_slice(&out).expect("answer")
}

#[tokio::test]
async fn the_python_esdk_and_ours_open_each_others_messages() {
    let (private, public) = rsa_key_pair();
    let plaintexts: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"canary-python-esdk-interop".to_vec(),
        vec![7; 4096],
        (0..9000).map(|i| (i % 256) as u8).collect(),
    ];
    let context = json!({"org": "interop", "purpose": "intake"});
    let mut cases = Vec::new();
    for suite in [0x0178u16, 0x0378, 0x0478, 0x0578] {
        for frame_length in [0, 128, 4096] {
            for plaintext in &plaintexts {
                cases.push((suite, frame_length, plaintext.clone()));
            }
        }
    }
    // Suites intake refuses: no key derivation, and AES-192.
    let refused = [(0x0078u16, 4096), (0x0346, 4096)];
    let request_of = |(suite, frame_length, plaintext): &(u16, u32, Vec<u8>)| {
        json!({"suite": suite, "frame_length": frame_length,
               "plaintext": B64.encode(plaintext), "context": context})
    };
    let ours_context = BTreeMap::from([
        ("org".to_owned(), "interop".to_owned()),
        ("purpose".to_owned(), "intake".to_owned()),
    ]);
    let mut ours = Vec::new();
    for plaintext in &plaintexts {
        let message = esdk::encrypt(&public, NS, NAME, &ours_context, plaintext)
            .await
            .expect("seal");
        ours.push(B64.encode(message));
    }
    let mut encrypt: Vec<Value> = cases.iter().map(request_of).collect();
    encrypt.extend(
        refused
            .iter()
            .map(|(suite, frame)| request_of(&(*suite, *frame, b"refused".to_vec()))),
    );
    let answer = python_esdk(&json!({
        "private_pem": private, "provider_id": NS, "key_name": NAME,
        "encrypt": encrypt, "decrypt": ours,
    }));

    let encrypted = answer["encrypted"].as_array().expect("encrypted");
    assert_eq!(encrypted.len(), cases.len() + refused.len());
    for (case, message) in cases.iter().zip(encrypted) {
        let message = B64.decode(message.as_str().expect("b64")).expect("b64");
        let opened = esdk::open(&message, private.as_bytes(), NS, NAME)
            .unwrap_or_else(|e| panic!("suite {:#06x}, frame {}: {e}", case.0, case.1));
        assert_eq!(
            opened.as_slice(),
            case.2.as_slice(),
            "suite {:#06x}",
            case.0
        );
        // The same message does not open for another key name.
        assert!(esdk::open(&message, private.as_bytes(), NS, "interop/k-2").is_err());
    }
    for ((suite, _), message) in refused.iter().zip(&encrypted[cases.len()..]) {
        let message = B64.decode(message.as_str().expect("b64")).expect("b64");
        let got = esdk::open(&message, private.as_bytes(), NS, NAME);
        assert!(
            matches!(got, Err(VaultError::CiphertextAlgorithm(s)) if s == *suite),
            "suite {suite:#06x} was not refused"
        );
    }

    let decrypted = answer["decrypted"].as_array().expect("decrypted");
    assert_eq!(decrypted.len(), plaintexts.len());
    for (plaintext, got) in plaintexts.iter().zip(decrypted) {
        assert_eq!(
            B64.decode(got["plaintext"].as_str().expect("b64"))
                .expect("b64"),
            *plaintext
        );
        assert_eq!(got["suite"], 0x0578);
        assert_eq!(got["context"]["org"], "interop");
        assert!(got["context"]["aws-crypto-public-key"].is_string());
    }
}
