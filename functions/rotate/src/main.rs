use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let result = samlgate_rotate::handle(&event.payload);
        match &result {
            Ok(summary) => tracing::info!(%summary, "rotate run (rotation lands with issue 7)"),
            Err(error) => tracing::error!(%error, "rotate run refused its input"),
        }
        result.map_err(Error::from)
    }))
    .await
}
