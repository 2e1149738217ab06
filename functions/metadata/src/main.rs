//! Lambda wiring only: build the adapters once per cold start, then serve `handle`.

use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use samlgate_aws::{sdk_config, Table};
use samlgate_core::sso::PublicUrls;
use samlgate_metadata::{handle, App};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let config = sdk_config().await;
    let table = Arc::new(Table::new(&config, std::env::var("SAMLGATE_TABLE")?));
    let local = std::env::var("SAMLGATE_LOCAL").is_ok_and(|v| v == "1");
    let app = App {
        config: table.clone(),
        jwks: table,
        urls: PublicUrls::new(&std::env::var("SAMLGATE_BASE_URL")?, local)?,
    };
    lambda_http::run(service_fn(|request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, request).await) }
    }))
    .await
}
