//! Lambda wiring only: this deployment's organisation and adapters, built once per cold start.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use samlgate_aws::{sdk_config, Kms, Secrets, Table};
use samlgate_core::esdk::EsdkDecrypter;
use samlgate_core::model::OrgId;
use samlgate_core::provision::{FleKey, ProvisionConfig};
use samlgate_provision::{handle, App, HttpEgress};
use serde_json::Value;
use zeroize::Zeroizing;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let config = sdk_config().await;
    let org = OrgId::parse(&std::env::var("SAMLGATE_ORG")?)?;
    let table = Arc::new(Table::new(&config, std::env::var("SAMLGATE_TABLE")?));
    let secrets = Secrets::new(&config);
    // CloudFront field-level encryption (optional): the deployment's FLE private key, kept in
    // Secrets Manager and readable by provisioning roles only.
    let fle = match (
        std::env::var("SAMLGATE_FLE_PROVIDER_ID"),
        std::env::var("SAMLGATE_FLE_KEY_NAME"),
        std::env::var("SAMLGATE_FLE_PRIVATE_KEY_SECRET"),
    ) {
        (Ok(provider_id), Ok(key_name), Ok(secret_id)) => Some(FleKey {
            provider_id,
            key_name,
            private_key_pem: Zeroizing::new(secrets.get_current(&secret_id).await?.into_bytes()),
        }),
        _ => None,
    };
    let settings = ProvisionConfig {
        org,
        allow_loopback_http: std::env::var("SAMLGATE_LOCAL").is_ok_and(|v| v == "1"),
        fle,
    };
    let app = App {
        keys: Arc::new(Kms::new(&config)),
        secrets: Arc::new(secrets),
        config: table.clone(),
        audit: table,
        clock: Arc::new(saml::SystemClock),
        esdk: Arc::new(EsdkDecrypter),
        egress: Arc::new(HttpEgress::new()?),
        settings: Arc::new(settings),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, event.payload, &event.context.request_id).await) }
    }))
    .await
}
