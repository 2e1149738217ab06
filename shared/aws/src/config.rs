//! The SDK configuration: [`lambda_config`] for the functions, from their environment only;
//! [`sdk_config`] (the SDK's default chains) for the CLI and the tests. Both bound retries and
//! timeouts: a throttled or hanging AWS call fails with a clean error code within seconds
//! instead of being retried forever.

use std::time::Duration;

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}

/// The configuration a Lambda function runs with, read from the variables Lambda sets and
/// nothing else: the region (`AWS_REGION`), the execution role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and, for local runs
/// against moto, `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.
///
/// The SDK's default chains ([`sdk_config`]) also read profile files, web-identity tokens, SSO
/// caches, the container and instance metadata endpoints and STS: none of them exists in a
/// Lambda, and leaving them out keeps their code out of the bootstraps (issue 16) and a function
/// from ever taking credentials from anywhere but its own role.
pub fn lambda_config() -> Result<SdkConfig, String> {
    config_from(&|name| std::env::var(name).ok())
}

/// [`lambda_config`] over any environment (the tests pass a map).
fn config_from(env: &(dyn Fn(&str) -> Option<String> + Send + Sync)) -> Result<SdkConfig, String> {
    let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let region = set("AWS_REGION")
        .ok_or_else(|| "AWS_REGION is not set (Lambda sets it for every function)".to_owned())?;
    if set("AWS_ACCESS_KEY_ID").is_none() || set("AWS_SECRET_ACCESS_KEY").is_none() {
        return Err(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them \
                    from the function's execution role)"
                .to_owned(),
        );
    }
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .service_config(EnvironmentEndpoints {
            per_service: SERVICE_ENDPOINTS
                .iter()
                .filter_map(|&(service, variable)| set(variable).map(|url| (service, url)))
                .collect(),
        });
    if let Some(url) = set("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// The services samlgate calls: the SDK's service ID and its `AWS_ENDPOINT_URL_<SERVICE>`.
const SERVICE_ENDPOINTS: [(&str, &str); 4] = [
    ("DynamoDB", "AWS_ENDPOINT_URL_DYNAMODB"),
    ("KMS", "AWS_ENDPOINT_URL_KMS"),
    ("Secrets Manager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
    ("Lambda", "AWS_ENDPOINT_URL_LAMBDA"),
];

/// `AWS_ENDPOINT_URL_<SERVICE>` for the services samlgate calls (the SDK asks its
/// `service_config` first and falls back to the shared `endpoint_url`); every other setting is
/// the SDK's default.
#[derive(Debug)]
struct EnvironmentEndpoints {
    per_service: Vec<(&'static str, String)>,
}

impl LoadServiceConfig for EnvironmentEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != "AWS_ENDPOINT_URL" {
            return None;
        }
        self.per_service
            .iter()
            .find(|(service, _)| *service == key.service_id())
            .map(|(_, url)| url.clone())
    }
}

/// Loads the SDK configuration through the SDK's default chains (profiles, SSO, instance
/// metadata: what a developer's machine has), for the CLI and the tests.
pub async fn sdk_config() -> SdkConfig {
    config_loader().load().await
}

/// The loader behind [`sdk_config`], for callers that override a setting (tests).
pub fn config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[test]
    fn a_lambda_environment_gives_its_region_bounded_retries_and_no_endpoint_override() {
        let config = config_from(&env(LAMBDA)).unwrap();
        assert_eq!(config.region().map(Region::as_ref), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), None);
        assert_eq!(config.retry_config().unwrap().max_attempts(), 3);
        assert_eq!(
            config.timeout_config().unwrap().operation_timeout(),
            Some(Duration::from_secs(12))
        );
        assert!(config.credentials_provider().is_some());
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(&config).build();
        assert_eq!(dynamodb.region().map(Region::as_ref), Some("eu-west-1"));
    }

    #[test]
    fn the_shared_endpoint_and_a_services_own_endpoint_are_both_read() {
        let mut pairs = LAMBDA.to_vec();
        pairs.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"));
        pairs.push(("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9000"));
        let config = config_from(&env(&pairs)).unwrap();
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        let endpoints = config.service_config().unwrap();
        let key = |service| {
            ServiceConfigKey::builder()
                .service_id(service)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .unwrap()
        };
        assert_eq!(
            endpoints.load_config(key("Lambda")).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(endpoints.load_config(key("KMS")), None);
    }

    #[test]
    fn a_missing_region_or_credential_is_a_clear_error() {
        let e = config_from(&env(&LAMBDA[1..])).unwrap_err();
        assert!(e.starts_with("AWS_REGION is not set"), "{e}");
        let e = config_from(&env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", " "),
        ]))
        .unwrap_err();
        assert!(
            e.starts_with("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            "{e}"
        );
    }
}
