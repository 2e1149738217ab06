//! Lambda wiring only: build the adapters once per cold start, then serve `handle`.

use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use samlgate_aws::{lambda_config, Table};
use samlgate_domain::config::Config;
use samlgate_metadata::{handle, App};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let settings = Config::from_env()?;
    let config = lambda_config()?;
    let table = Arc::new(Table::new(&config, &settings.table));
    let app = App {
        config: table.clone(),
        jwks: table,
        urls: settings.public_urls()?,
    };
    lambda_http::run(service_fn(|request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, request).await) }
    }))
    .await
}
