//! Lambda wiring only: build the adapters once per cold start, then serve `handle`.

use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use samlgate_admin::{handle, App, HttpFetcher};
use samlgate_aws::{sdk_config, Kms, Secrets, Table};
use samlgate_core::admin::FleProvider;
use samlgate_core::sso::PublicUrls;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let config = sdk_config().await;
    let table_name = std::env::var("SAMLGATE_TABLE")?;
    let table = Arc::new(Table::new(&config, table_name));
    let fle = match (
        std::env::var("SAMLGATE_FLE_PROVIDER_ID"),
        std::env::var("SAMLGATE_FLE_KEY_NAME"),
    ) {
        (Ok(provider_id), Ok(key_name)) => Some(FleProvider {
            provider_id,
            key_name,
        }),
        _ => None,
    };
    let local = std::env::var("SAMLGATE_LOCAL").is_ok_and(|v| v == "1");
    let urls = PublicUrls::new(&std::env::var("SAMLGATE_BASE_URL")?, local)?;
    let app = App {
        keys: Arc::new(Kms::new(&config)),
        secrets: Arc::new(
            Secrets::new(&config).with_at_rest_key(std::env::var("SAMLGATE_SECRETS_KMS_KEY").ok()),
        ),
        config: table.clone(),
        writer: table.clone(),
        sso_config: table.clone(),
        sso_writer: table.clone(),
        audit: table.clone(),
        audit_reader: table,
        clock: Arc::new(saml::SystemClock),
        fle,
        // Starting an organisation's provision function from admin (lambda:InvokeFunction on
        // each organisation's function) is not wired in AWS yet.
        provisioner: None,
        fetcher: Arc::new(HttpFetcher::new()?),
        urls,
        local,
    };
    lambda_http::run(service_fn(|request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, request).await) }
    }))
    .await
}
