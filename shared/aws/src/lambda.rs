//! `lambda:InvokeFunction` of an organisation's provisioning function (feature `invoke`,
//! admin only): the [`ProvisionInvoker`] port. One synchronous (`RequestResponse`) attempt,
//! never retried by the SDK: a retried invocation could make the credential's request twice.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::ProvisionInvoker;
use samlgate_domain::{PortError, PortErrorKind};
use serde_json::{json, Value};

use crate::errors::map;

/// provision's own bound is its 10 s request plus KMS and Secrets Manager calls; a cold start
/// adds about a second. admin's timeout is 29 s, the HttpApi's 30 s.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(27);

/// The largest answer read back (provision answers a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

pub struct ProvisionFunctions {
    client: aws_sdk_lambda::Client,
    by_name: bool,
}

impl ProvisionFunctions {
    /// `local`: invoke by the function's name, the last part of its ARN (cargo lambda watch
    /// serves each binary under its name and knows no ARNs); in AWS, by the full ARN.
    pub fn new(config: &aws_config::SdkConfig, local: bool) -> Self {
        let config = aws_sdk_lambda::config::Builder::from(config)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(INVOKE_TIMEOUT)
                    .operation_timeout(INVOKE_TIMEOUT)
                    .build(),
            )
            .build();
        Self {
            client: aws_sdk_lambda::Client::from_conf(config),
            by_name: local,
        }
    }
}

#[async_trait]
impl ProvisionInvoker for ProvisionFunctions {
    async fn invoke(
        &self,
        function: &str,
        org: &OrgId,
        credential_id: &str,
        correlation_id: &str,
    ) -> Result<Value, PortError> {
        const OP: &str = "lambda:Invoke";
        let event = json!({"org": org.to_string(), "credential_id": credential_id,
                           "correlation_id": correlation_id});
        let function = match function.rsplit_once(":function:") {
            Some((_, name)) if self.by_name => name,
            _ => function,
        };
        let output = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .map_err(|e| map(OP, e))?;
        let payload = output.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(error) = output.function_error {
            // The function crashed or timed out (provision's own refusals are answers, not
            // function errors). Its error payload names the error type only.
            let kind = serde_json::from_slice::<Value>(&payload)
                .ok()
                .and_then(|v| v["errorType"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(PortError::new(
                PortErrorKind::Other,
                OP,
                format!("function error {error} {kind}"),
            ));
        }
        if payload.len() > MAX_ANSWER {
            return Err(PortError::new(
                PortErrorKind::Other,
                OP,
                "answer too large".to_owned(),
            ));
        }
        serde_json::from_slice(&payload)
            .map_err(|_| PortError::new(PortErrorKind::Other, OP, "answer is not JSON".to_owned()))
    }
}
