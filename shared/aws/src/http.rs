//! IdP metadata over HTTPS (admin at registration, rotate every day): no redirects, no proxy
//! from the environment, a time limit for the whole exchange, the body read only up to the
//! size limit, and conditional GETs with the validators of the last answer.

use std::time::Duration;

use samlgate_domain::ports::{BackChannel, Fetched, MetadataFetcher};
use samlgate_domain::{PortError, PortErrorKind};

/// The one way samlgate builds an HTTP client for a destination it does not control (IdP
/// metadata URLs; provisioning targets): no redirects (a redirect could carry a secret or a
/// request to another host), no proxy from the environment, `total` for the whole exchange and
/// at most 3 s to connect.
pub fn hardened_client(total: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(total)
        .connect_timeout(total.min(Duration::from_secs(3)))
        .build()
        .map_err(|e| e.to_string())
}

pub struct HttpFetcher {
    client: reqwest::Client,
}

/// Longest accepted validator (ETag, Last-Modified) kept for the next conditional GET.
const MAX_VALIDATOR: usize = 256;

impl HttpFetcher {
    /// 10 s for the whole exchange, 3 s to connect.
    pub fn new() -> Result<Self, String> {
        Self::with_timeout(Duration::from_secs(10))
    }

    pub fn with_timeout(total: Duration) -> Result<Self, String> {
        Ok(Self {
            client: hardened_client(total)?,
        })
    }

    async fn get(
        &self,
        url: &str,
        max_bytes: usize,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, PortError> {
        const OP: &str = "https:GetMetadata";
        let fail = |kind, detail: &str| PortError::new(kind, OP, detail.to_owned());
        let timed_out = |e: reqwest::Error| {
            if e.is_timeout() {
                fail(PortErrorKind::Timeout, "timed out")
            } else {
                fail(PortErrorKind::Other, "request failed")
            }
        };
        let mut request = self.client.get(url);
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
        }
        let mut response = request.send().await.map_err(timed_out)?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED
            && (etag.is_some() || last_modified.is_some())
        {
            return Ok(Fetched::NotModified);
        }
        if !response.status().is_success() {
            return Err(fail(
                PortErrorKind::Other,
                &format!("HTTP status {}", response.status().as_u16()),
            ));
        }
        let validator = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= MAX_VALIDATOR)
                .map(str::to_owned)
        };
        let etag = validator(reqwest::header::ETAG);
        let last_modified = validator(reqwest::header::LAST_MODIFIED);
        if response
            .content_length()
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(fail(
                PortErrorKind::Other,
                &format!("larger than {max_bytes} bytes"),
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(timed_out)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(fail(
                    PortErrorKind::Other,
                    &format!("larger than {max_bytes} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes: body,
            etag,
            last_modified,
        })
    }
}

#[async_trait::async_trait]
impl MetadataFetcher for HttpFetcher {
    async fn fetch_if_changed(
        &self,
        url: &str,
        max_bytes: usize,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, PortError> {
        self.get(url, max_bytes, etag, last_modified).await
    }
}

/// OIDC Back-Channel Logout over HTTPS (acs): the hardened client, 3 s for the whole exchange
/// (an IdP's logout waits for it), the form `logout_token=…`, no body read.
pub struct HttpBackChannel {
    client: reqwest::Client,
}

impl HttpBackChannel {
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            client: hardened_client(Duration::from_secs(3))?,
        })
    }
}

#[async_trait::async_trait]
impl BackChannel for HttpBackChannel {
    async fn deliver_logout(&self, uri: &str, logout_token: &str) -> Result<(), PortError> {
        const OP: &str = "https:BackChannelLogout";
        let fail = |kind, detail: String| PortError::new(kind, OP, detail);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", logout_token)
            .finish();
        let response = self
            .client
            .post(uri)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::CACHE_CONTROL, "no-store")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    fail(PortErrorKind::Timeout, "timed out".into())
                } else {
                    fail(PortErrorKind::Other, "request failed".into())
                }
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(fail(
                PortErrorKind::Other,
                format!("HTTP status {}", response.status().as_u16()),
            ))
        }
    }
}
