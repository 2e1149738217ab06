//! Lambda wiring only: build the adapters once per cold start, then run the daily job. The
//! metrics go to stdout as Embedded Metric Format lines (CloudWatch Logs extracts them; the
//! role needs no cloudwatch:PutMetricData).

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use samlgate_aws::http::HttpFetcher;
use samlgate_aws::{lambda_config, Kms, Table};
use samlgate_domain::clock::SystemClock;
use samlgate_domain::config::Config;
use samlgate_rotate::{emf_lines, run, App};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    let settings = Config::from_env()?;
    let config = lambda_config()?;
    let table = Arc::new(Table::new(&config, &settings.table));
    let app = App {
        orgs: table.clone(),
        config: table.clone(),
        writer: table.clone(),
        sp_keys: table.clone(),
        kms: Arc::new(Kms::new(&config)),
        fetcher: Arc::new(HttpFetcher::new(samlgate_aws::http::Destinations::Public)?),
        audit: table,
        clock: Arc::new(SystemClock),
        allow_loopback_http: settings.local,
        aggregate_max_bytes: settings.metadata_aggregate_max_bytes,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let app = app.clone();
        async move {
            let correlation_id = event.context.request_id.clone();
            match run(&app, &event.payload, &correlation_id).await {
                Ok(output) => {
                    let now_ms =
                        (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
                    for line in emf_lines(&output, now_ms) {
                        println!("{line}");
                    }
                    tracing::info!(summary = %output.summary, "rotate run");
                    Ok(output.summary)
                }
                Err(error) => {
                    tracing::error!(%error, "rotate run failed");
                    Err(Error::from(error))
                }
            }
        }
    }))
    .await
}
