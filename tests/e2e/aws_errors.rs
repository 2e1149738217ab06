//! moto does not enforce key state, key policies or grants, so BYOK revocation cannot be
//! produced there. What is ours to get right is how a real AWS refusal reaches the domain:
//! these tests point the real SDK adapters at an endpoint that answers with AWS's own error
//! responses and check the code each becomes, that nothing is retried beyond the SDK's
//! bounded attempts, and that a hanging endpoint becomes `aws_timeout`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
use samlgate_aws::{config_loader, Kms, Secrets};
use samlgate_domain::ports::{DecryptDataKey, GenerateDataKey, SecretReader};
use samlgate_domain::VaultError;

use crate::support::*;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";

async fn config_for(endpoint: &Target, attempt_timeout: Duration) -> aws_config::SdkConfig {
    moto(); // the environment (region, dummy credentials)
    config_loader()
        .endpoint_url(format!("http://127.0.0.1:{}", endpoint.port))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .operation_timeout(attempt_timeout * 4)
                .build(),
        )
        .load()
        .await
}

fn code(e: samlgate_domain::PortError) -> &'static str {
    VaultError::from(e).code()
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_refusals_become_clean_codes_with_bounded_retries() {
    // (AWS error type, HTTP status, our code, attempts the SDK makes)
    let cases = [
        ("AccessDeniedException", 400, "key_access_denied", 1),
        ("DisabledException", 400, "key_disabled", 1),
        ("KMSInvalidStateException", 400, "key_disabled", 1),
        ("KeyUnavailableException", 500, "key_unavailable", 3),
        ("InvalidCiphertextException", 400, "envelope_invalid", 1),
        ("IncorrectKeyException", 400, "envelope_invalid", 1),
        ("ThrottlingException", 400, "aws_throttled", 3),
        ("NotFoundException", 400, "not_found", 1),
    ];
    let ctx = BTreeMap::from([("org".to_owned(), "acme".to_owned())]);
    for (aws_type, status, want, attempts) in cases {
        let body = format!(r#"{{"__type":"{aws_type}","message":"refused by test"}}"#);
        let endpoint = Target::replying(status, body, None);
        let kms = Kms::new(&config_for(&endpoint, Duration::from_secs(5)).await);
        let e = kms
            .decrypt_data_key(KEY, b"blob", &ctx)
            .await
            .map(|_| ())
            .expect_err("decrypt must fail");
        let detail = e.to_string();
        assert_eq!(code(e), want, "Decrypt answered with {aws_type}: {detail}");
        let e = kms
            .generate_data_key(KEY, &ctx)
            .await
            .map(|_| ())
            .expect_err("generate must fail");
        assert_eq!(code(e), want, "GenerateDataKey answered with {aws_type}");
        assert_eq!(
            endpoint.requests().len(),
            2 * attempts,
            "{aws_type}: attempts"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_manager_refusals_and_a_hanging_endpoint() {
    let body = r#"{"__type":"DecryptionFailure","message":"platform key unavailable"}"#.to_owned();
    let endpoint = Target::replying(400, body, None);
    let secrets = Secrets::new(&config_for(&endpoint, Duration::from_secs(5)).await);
    let e = secrets
        .get_secret_version("arn", "v")
        .await
        .map(|_| ())
        .expect_err("must fail");
    assert_eq!(code(e), "key_unavailable");

    let hanging = Target::replying(200, "{}".into(), Some(Duration::from_secs(30)));
    let kms = Kms::new(&config_for(&hanging, Duration::from_millis(300)).await);
    let started = Instant::now();
    let e = kms
        .generate_data_key(KEY, &BTreeMap::new())
        .await
        .map(|_| ())
        .expect_err("must time out");
    assert_eq!(code(e), "aws_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "timeout was not bounded"
    );
}
