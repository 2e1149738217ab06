//! Lambda wiring only: this deployment's organisation and adapters, built once per cold start.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use samlgate_aws::{lambda_config, Kms, Secrets, Table};
use samlgate_domain::clock::SystemClock;
use samlgate_domain::config::Config;
use samlgate_provision::{handle, App, HttpEgress};
use samlgate_vault::esdk::EsdkDecrypter;
use samlgate_vault::provision::{FleKey, ProvisionConfig};
use serde_json::Value;
use zeroize::Zeroizing;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let settings = Config::from_env()?;
    let config = lambda_config()?;
    let table = Arc::new(Table::new(&config, &settings.table));
    let secrets = Secrets::new(&config);
    // CloudFront field-level encryption (optional): the deployment's FLE private key, kept in
    // Secrets Manager and readable by provisioning roles only.
    let fle = match (&settings.fle, &settings.fle_private_key_secret) {
        (Some(names), Some(secret_id)) => Some(FleKey {
            provider_id: names.provider_id.clone(),
            key_name: names.key_name.clone(),
            private_key_pem: Zeroizing::new(secrets.get_current(secret_id).await?.into_bytes()),
        }),
        _ => None,
    };
    let provision = ProvisionConfig {
        org: settings.org()?,
        allow_loopback_http: settings.local,
        fle,
    };
    let app = App {
        keys: Arc::new(Kms::new(&config)),
        secrets: Arc::new(secrets),
        config: table.clone(),
        audit: table,
        clock: Arc::new(SystemClock),
        esdk: Arc::new(EsdkDecrypter),
        egress: Arc::new(HttpEgress::new()?),
        settings: Arc::new(provision),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, event.payload, &event.context.request_id).await) }
    }))
    .await
}
