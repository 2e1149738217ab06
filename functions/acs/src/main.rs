//! Lambda wiring only: build the adapters once per cold start, then serve `handle`.

use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use samlgate_acs::{handle, App};
use samlgate_aws::{sdk_config, Kms, Table};
use samlgate_core::sp_key::KeyCache;
use samlgate_core::sso::PublicUrls;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let config = sdk_config().await;
    let table = Arc::new(Table::new(&config, std::env::var("SAMLGATE_TABLE")?));
    let local = std::env::var("SAMLGATE_LOCAL").is_ok_and(|v| v == "1");
    let ttl = std::env::var("SAMLGATE_SP_KEY_CACHE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(KeyCache::DEFAULT_TTL, std::time::Duration::from_secs);
    let app = App {
        config: table.clone(),
        logins: table.clone(),
        replay: table.clone(),
        sessions: table.clone(),
        audit: table,
        kms: Arc::new(Kms::new(&config)),
        keys: Arc::new(KeyCache::new(ttl)),
        clock: Arc::new(saml::SystemClock),
        urls: PublicUrls::new(&std::env::var("SAMLGATE_BASE_URL")?, local)?,
    };
    lambda_http::run(service_fn(|request: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(handle(&app, request).await) }
    }))
    .await
}
