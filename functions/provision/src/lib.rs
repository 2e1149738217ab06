//! The provisioning function (one deployment per organisation): the event is
//! `{"org", "credential_id", "correlation_id"?}`, the answer is the outcome (status code and
//! timing) or an error code, never the secret and never the target's body.
//!
//! Errors are returned as `{"ok": false, "error": code}` in a successful invocation: an
//! asynchronous invoke that failed would be retried by Lambda, and a refused or failed
//! provisioning must not be repeated behind the caller's back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use samlgate_domain::audit::Caller;
use samlgate_domain::clock::Clock;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{
    AuditLog, ConfigReader, DecryptDataKey, Egress, MessageDecrypter, OutboundRequest,
    ProvisionInvoker, SecretReader,
};
use samlgate_domain::{PortError, VaultError};
use samlgate_vault::provision::{ProvisionConfig, ProvisionRequest, Provisioner};
use serde_json::{json, Value};

/// provision's capabilities, built once per cold start.
#[derive(Clone)]
pub struct App {
    pub keys: Arc<dyn DecryptDataKey>,
    pub secrets: Arc<dyn SecretReader>,
    pub config: Arc<dyn ConfigReader>,
    pub audit: Arc<dyn AuditLog>,
    pub clock: Arc<dyn Clock>,
    pub esdk: Arc<dyn MessageDecrypter>,
    pub egress: Arc<dyn Egress>,
    pub settings: Arc<ProvisionConfig>,
}

/// Handles one event. `request_id` is the Lambda request ID (the correlation ID when the event
/// brings none).
pub async fn handle(app: &App, event: Value, request_id: &str) -> Value {
    let request: ProvisionRequest = match serde_json::from_value(event) {
        Ok(r) => r,
        Err(_) => {
            let e = VaultError::InvalidRequest(
                "event must be {org, credential_id, correlation_id?}".into(),
            );
            return json!({"ok": false, "error": e.code(), "correlation_id": request_id});
        }
    };
    let correlation_id = request
        .correlation_id
        .clone()
        .filter(|c| !c.is_empty() && c.len() <= 128 && c.chars().all(|ch| ch.is_ascii_graphic()))
        .unwrap_or_else(|| request_id.to_owned());
    let caller = Caller {
        actor: "provision".into(),
        correlation_id: correlation_id.clone(),
    };
    let provisioner = Provisioner {
        keys: app.keys.as_ref(),
        secrets: app.secrets.as_ref(),
        config: app.config.as_ref(),
        audit: app.audit.as_ref(),
        clock: app.clock.as_ref(),
        esdk: app.esdk.as_ref(),
        egress: app.egress.as_ref(),
        settings: app.settings.as_ref(),
    };
    match provisioner.provision(&caller, &request).await {
        Ok(outcome) => {
            tracing::info!(org = %outcome.org, credential_id = %outcome.credential_id, status = outcome.status, elapsed_ms = outcome.elapsed_ms, %correlation_id, "provisioned");
            json!({"ok": true, "outcome": outcome, "correlation_id": correlation_id})
        }
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, %correlation_id, "provisioning failed");
            json!({"ok": false, "error": e.code(), "correlation_id": correlation_id})
        }
    }
}

/// The provision handler called in-process as admin's [`ProvisionInvoker`]: what the dev
/// server (and the end-to-end tests) wire in, where there is no Lambda to invoke. It answers
/// exactly what the deployed function answers, with the same refusals (another organisation
/// than the one configured: `wrong_organisation`).
pub struct InProcess(pub App);

#[async_trait]
impl ProvisionInvoker for InProcess {
    async fn invoke(
        &self,
        _function: &str,
        org: &OrgId,
        credential_id: &str,
        correlation_id: &str,
    ) -> Result<Value, PortError> {
        let event = json!({"org": org.to_string(), "credential_id": credential_id, "correlation_id": correlation_id});
        Ok(handle(&self.0, event, correlation_id).await)
    }
}

/// Egress over the hardened client (`samlgate_aws::http::hardened_client`: no redirects, which
/// could carry the secret to another host; no proxy from the environment), a 10 s total
/// timeout, and the body is never read.
pub struct HttpEgress {
    client: reqwest::Client,
}

impl HttpEgress {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            client: samlgate_aws::http::hardened_client(Duration::from_secs(10))?,
        })
    }
}

#[async_trait]
impl Egress for HttpEgress {
    async fn send(&self, request: OutboundRequest) -> Result<u16, String> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| "invalid method".to_owned())?;
        let mut builder = self.client.request(method, request.url.clone());
        for (name, value) in &request.headers {
            let mut value = reqwest::header::HeaderValue::from_str(value.as_str())
                .map_err(|_| "credential cannot be sent in a header".to_owned())?;
            value.set_sensitive(true);
            builder = builder.header(name.as_str(), value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.to_vec());
        }
        // The error's text names the URL, never headers or body.
        let response = builder.send().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                "request failed".to_owned()
            }
        })?;
        Ok(response.status().as_u16())
    }
}
