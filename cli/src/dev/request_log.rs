//! What the dev server prints and refuses per request: one line per request (method, path
//! without its query, status, correlation ID, and the reason code of a failure, from the audit
//! item the handler wrote or the API's JSON error), and the guard in front of its
//! unauthenticated admin API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response};
use samlgate_domain::audit::{AuditEvent, Outcome};
use samlgate_domain::ports::AuditLog;
use samlgate_domain::PortError;

/// Attached by the dispatcher to the responses of samlgate's handlers.
#[derive(Debug, Clone)]
pub struct RequestNote {
    pub correlation_id: String,
    /// The error code of the API's JSON answer, if it has one.
    pub error: Option<String>,
}

/// The handlers' audit log, noting the reason of each failure by correlation ID so the
/// request's log line can show it. Everything is still written to the table.
pub struct NotingAudit {
    inner: Arc<dyn AuditLog>,
    reasons: Mutex<HashMap<String, String>>,
}

/// Reasons kept for requests whose line is not printed yet (a flood forgets them).
const MAX_NOTED: usize = 1024;

impl NotingAudit {
    pub fn new(inner: Arc<dyn AuditLog>) -> Self {
        Self {
            inner,
            reasons: Mutex::new(HashMap::new()),
        }
    }

    fn note(&self, event: &AuditEvent) {
        let (Outcome::Error, Some(reason)) = (event.outcome, &event.reason) else {
            return;
        };
        if let Ok(mut reasons) = self.reasons.lock() {
            if reasons.len() >= MAX_NOTED {
                reasons.clear();
            }
            reasons
                .entry(event.correlation_id.clone())
                .or_insert_with(|| reason.clone());
        }
    }

    /// The first failure reason audited under `correlation_id`, forgotten once read.
    pub fn take(&self, correlation_id: &str) -> Option<String> {
        self.reasons.lock().ok()?.remove(correlation_id)
    }
}

#[async_trait]
impl AuditLog for NotingAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        self.note(event);
        self.inner.record(event).await
    }

    async fn count_failure(&self, event: &AuditEvent, expires_at: i64) -> Result<(), PortError> {
        self.note(event);
        self.inner.count_failure(event, expires_at).await
    }
}

/// `axum::middleware::from_fn` body: one line per request on stdout. The query string is
/// never printed (it carries SAML messages, codes and tokens).
pub async fn log_requests(
    audit: Arc<NotingAudit>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let mut line = format!("{method} {path} {status}");
    if let Some(note) = response.extensions().get::<RequestNote>() {
        line.push(' ');
        line.push_str(&note.correlation_id);
        let reason = audit
            .take(&note.correlation_id)
            .or_else(|| note.error.clone());
        if let Some(reason) = reason {
            line.push(' ');
            line.push_str(&reason);
        }
    }
    println!("{line}");
    response
}

/// The dev server's admin API has no authorizer, so any web page the developer opens could
/// reconfigure it: only requests to a loopback `Host`, from no `Origin` or a loopback one of
/// this server, and (when they change something) with an `application/json` body pass. The
/// credential form keeps its own content type.
pub fn local_admin_guard(
    headers: &HeaderMap,
    method: &str,
    path: &str,
    port: u16,
) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let loopback_host = |host: &str| {
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|name| host == format!("{name}:{port}"))
    };
    if !header("host").is_some_and(loopback_host) {
        return Err("the dev server's admin API answers only to a loopback Host");
    }
    if let Some(origin) = header("origin") {
        if !origin.strip_prefix("http://").is_some_and(loopback_host) {
            return Err("the dev server's admin API answers only to pages of this server");
        }
    }
    if matches!(method, "GET" | "HEAD") {
        return Ok(());
    }
    let wanted = if path.ends_with("/credentials/form") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let media_type = header("content-type")
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some(wanted) {
        return Err(if wanted == "application/json" {
            "the dev server's admin API takes only application/json"
        } else {
            "the credential form takes only application/x-www-form-urlencoded"
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_admin_guard_lets_only_local_json_through() {
        let path = "/admin/orgs/demo/clients";
        let json = ("content-type", "application/json; charset=utf-8");
        let ok = |h: &[(&'static str, &'static str)], method| {
            local_admin_guard(&headers(h), method, path, 8080)
        };
        assert!(ok(&[("host", "127.0.0.1:8080")], "GET").is_ok());
        assert!(ok(&[("host", "localhost:8080"), json], "POST").is_ok());
        assert!(ok(
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                json
            ],
            "PATCH"
        )
        .is_ok());
        // DNS rebinding: a foreign name resolving to 127.0.0.1.
        assert!(ok(&[("host", "evil.example:8080")], "GET").is_err());
        assert!(ok(&[], "GET").is_err());
        assert!(ok(&[("host", "127.0.0.1:9999")], "GET").is_err());
        // Another page, even on this machine.
        assert!(ok(
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:3000"),
                json
            ],
            "POST"
        )
        .is_err());
        assert!(ok(
            &[
                ("host", "127.0.0.1:8080"),
                ("origin", "https://evil.example"),
                json
            ],
            "POST"
        )
        .is_err());
        // The simple requests a cross-site form or fetch can send without a preflight.
        for media in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let h = headers(&[("host", "127.0.0.1:8080"), ("content-type", media)]);
            assert!(
                local_admin_guard(&h, "POST", path, 8080).is_err(),
                "{media}"
            );
        }
        assert!(ok(&[("host", "127.0.0.1:8080")], "DELETE").is_err());
        let form = headers(&[
            ("host", "127.0.0.1:8080"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        assert!(
            local_admin_guard(&form, "POST", "/admin/orgs/demo/credentials/form", 8080).is_ok()
        );
    }
}
