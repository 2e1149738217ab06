//! Lambda wiring only: build the adapters once per cold start, then serve `handle`.

use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use samlgate_acs::{handle, App};
use samlgate_aws::http::HttpBackChannel;
use samlgate_aws::{lambda_config, Kms, Table};
use samlgate_domain::clock::SystemClock;
use samlgate_domain::config::Config;
use samlgate_sso::KeyCache;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let settings = Config::from_env()?;
    let config = lambda_config()?;
    let table = Arc::new(Table::new(&config, &settings.table));
    let app = App {
        config: table.clone(),
        steps: table.clone(),
        logins: table.clone(),
        replay: table.clone(),
        sessions: table.clone(),
        clients: table.clone(),
        codes: table.clone(),
        access: table.clone(),
        backchannel: Arc::new(HttpBackChannel::new(
            samlgate_aws::http::Destinations::Public,
        )?),
        audit: table,
        metrics: Arc::new(samlgate_aws::emf::EmfMetrics),
        kms: Arc::new(Kms::new(&config)),
        keys: Arc::new(KeyCache::new(settings.sp_key_cache)),
        clock: Arc::new(SystemClock),
        urls: settings.public_urls()?,
    };
    lambda_http::run(service_fn(|request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, request).await) }
    }))
    .await
}
