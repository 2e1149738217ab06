//! Lambda wiring only: build the adapters once per cold start, then serve `handle`.

use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use samlgate_admin::{handle, App, HttpFetcher};
use samlgate_aws::lambda::ProvisionFunctions;
use samlgate_aws::{lambda_config, Kms, Secrets, Table};
use samlgate_domain::clock::SystemClock;
use samlgate_domain::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let settings = Config::from_env()?;
    let config = lambda_config()?;
    let table = Arc::new(Table::new(&config, &settings.table));
    let app = App {
        keys: Arc::new(Kms::new(&config)),
        secrets: Arc::new(Secrets::new(&config).with_at_rest_key(settings.secrets_kms_key.clone())),
        config: table.clone(),
        writer: table.clone(),
        sso_config: table.clone(),
        sso_writer: table.clone(),
        clients: table.clone(),
        client_writer: table.clone(),
        audit: table.clone(),
        audit_reader: table.clone(),
        clock: Arc::new(SystemClock),
        fle: settings.fle.clone(),
        // lambda:InvokeFunction of the function onboarding recorded for the organisation; the
        // role allows only `samlgate-provision-*` functions of this account.
        provisioner: Some(Arc::new(ProvisionFunctions::new(&config, settings.local))),
        fetcher: Arc::new(HttpFetcher::new(samlgate_aws::http::Destinations::Public)?),
        urls: settings.public_urls()?,
        local: settings.local,
        aggregate_max_bytes: settings.metadata_aggregate_max_bytes,
        setup: table.clone(),
        operators: settings.operators()?,
        fle_origin_secret: settings.fle_origin_secret()?,
        jwks: table,
    };
    lambda_http::run(service_fn(|request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, request).await) }
    }))
    .await
}
