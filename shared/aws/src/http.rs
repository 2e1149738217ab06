//! IdP metadata over HTTPS (admin at registration, rotate every day) and OIDC back-channel
//! logout (acs): no redirects, no proxy from the environment, a time limit for the whole
//! exchange, only the destinations [`Destinations`] allows (public addresses on port 443 in a
//! deployment), the body read only up to the size limit, and conditional GETs with the
//! validators of the last answer.

use std::sync::Arc;
use std::time::Duration;

use samlgate_domain::ports::{BackChannel, Fetched, MetadataFetcher};
use samlgate_domain::{PortError, PortErrorKind};

pub use crate::destination::Destinations;
use crate::destination::{check_url, CheckedResolver, Refused, REFUSED_ADDRESS};

/// The one way samlgate builds an HTTP client for a destination it does not control (IdP
/// metadata URLs; provisioning targets): no redirects (a redirect could carry a secret or a
/// request to another host), no proxy from the environment, `total` for the whole exchange and
/// at most 3 s to connect.
pub fn hardened_client(total: Duration) -> Result<reqwest::Client, String> {
    hardened_builder(total).build().map_err(|e| e.to_string())
}

fn hardened_builder(total: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(total)
        .connect_timeout(total.min(Duration::from_secs(3)))
}

/// [`hardened_client`] that resolves names only to the addresses `destinations` allows.
fn checked_client(total: Duration, destinations: Destinations) -> Result<reqwest::Client, String> {
    hardened_builder(total)
        .dns_resolver(Arc::new(CheckedResolver(destinations)))
        .build()
        .map_err(|e| e.to_string())
}

/// A request to `url` may be sent: its scheme, port and any address literal pass.
fn allowed(op: &'static str, url: &str, destinations: Destinations) -> Result<(), PortError> {
    check_url(url, destinations)
        .map_err(|why| PortError::new(PortErrorKind::Other, op, why.to_owned()))
}

/// The address the answer came from passed too (the resolver's addresses are the only ones
/// the connector has; this is the second look).
fn connected(
    op: &'static str,
    response: &reqwest::Response,
    destinations: Destinations,
) -> Result<(), PortError> {
    match response.remote_addr() {
        Some(addr) if destinations.allows(addr.ip()) => Ok(()),
        _ => Err(PortError::new(
            PortErrorKind::Other,
            op,
            REFUSED_ADDRESS.to_owned(),
        )),
    }
}

/// What a failed send says (for the audit log): a refused destination, a timeout, or only
/// that it failed.
fn send_failed(op: &'static str, e: &reqwest::Error) -> PortError {
    let refused = std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .any(|e| e.is::<Refused>());
    let (kind, detail) = if refused {
        (PortErrorKind::Other, REFUSED_ADDRESS)
    } else if e.is_timeout() {
        (PortErrorKind::Timeout, "timed out")
    } else {
        (PortErrorKind::Other, "request failed")
    };
    PortError::new(kind, op, detail.to_owned())
}

pub struct HttpFetcher {
    client: reqwest::Client,
    destinations: Destinations,
}

/// Longest accepted validator (ETag, Last-Modified) kept for the next conditional GET.
const MAX_VALIDATOR: usize = 256;

impl HttpFetcher {
    /// 10 s for the whole exchange, 3 s to connect.
    pub fn new(destinations: Destinations) -> Result<Self, String> {
        Self::with_timeout(Duration::from_secs(10), destinations)
    }

    pub fn with_timeout(total: Duration, destinations: Destinations) -> Result<Self, String> {
        Ok(Self {
            client: checked_client(total, destinations)?,
            destinations,
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
        let timed_out = |e: reqwest::Error| send_failed(OP, &e);
        allowed(OP, url, self.destinations)?;
        // The metadata media type first (RFC 7231 §5.3.2): what MDQ services answer with.
        let mut request = self.client.get(url).header(
            reqwest::header::ACCEPT,
            "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8",
        );
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, date);
        }
        let mut response = request.send().await.map_err(timed_out)?;
        connected(OP, &response, self.destinations)?;
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

/// OIDC Back-Channel Logout over HTTPS (acs): the checked client, 3 s for the whole exchange
/// (an IdP's logout waits for it), the form `logout_token=…`, no body read.
pub struct HttpBackChannel {
    client: reqwest::Client,
    destinations: Destinations,
}

impl HttpBackChannel {
    pub fn new(destinations: Destinations) -> Result<Self, String> {
        Ok(Self {
            client: checked_client(Duration::from_secs(3), destinations)?,
            destinations,
        })
    }
}

#[async_trait::async_trait]
impl BackChannel for HttpBackChannel {
    async fn deliver_logout(&self, uri: &str, logout_token: &str) -> Result<(), PortError> {
        const OP: &str = "https:BackChannelLogout";
        let fail = |kind, detail: String| PortError::new(kind, OP, detail);
        allowed(OP, uri, self.destinations)?;
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
            .map_err(|e| send_failed(OP, &e))?;
        connected(OP, &response, self.destinations)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination::REFUSED_PORT;

    /// A local HTTP server that answers `200 metadata` and counts its connections.
    async fn server() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 2048];
                let _ = socket.read(&mut buffer).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nmetadata")
                    .await;
            }
        });
        (port, count)
    }

    #[tokio::test]
    async fn a_deployments_fetcher_reaches_no_private_address_and_says_so_only_in_the_detail() {
        let (port, connections) = server().await;
        let fetcher = HttpFetcher::new(Destinations::Public).unwrap();
        for (url, why) in [
            // An address literal, the metadata service, a mapped loopback: refused as written.
            ("https://127.0.0.1/metadata".to_owned(), REFUSED_ADDRESS),
            (
                "https://169.254.169.254/latest/meta-data/".to_owned(),
                REFUSED_ADDRESS,
            ),
            ("https://[::ffff:127.0.0.1]/".to_owned(), REFUSED_ADDRESS),
            // A name that resolves to loopback: refused as it resolves, before connecting.
            ("https://localhost/metadata".to_owned(), REFUSED_ADDRESS),
            // The listening server itself: not https on 443.
            (format!("http://127.0.0.1:{port}/metadata"), REFUSED_PORT),
            (format!("https://localhost:{port}/metadata"), REFUSED_PORT),
        ] {
            let e = fetcher.fetch(&url, 1024).await.unwrap_err();
            assert_eq!(e.detail, why, "{url}");
        }
        let back_channel = HttpBackChannel::new(Destinations::Public).unwrap();
        let e = back_channel
            .deliver_logout("https://localhost/logout", "t")
            .await
            .unwrap_err();
        assert_eq!(e.detail, REFUSED_ADDRESS);
        assert_eq!(
            connections.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "nothing connected"
        );
    }

    #[tokio::test]
    async fn local_development_reaches_loopback_only() {
        let (port, connections) = server().await;
        let fetcher = HttpFetcher::new(Destinations::PublicAndLoopback).unwrap();
        let body = fetcher
            .fetch(&format!("http://localhost:{port}/metadata"), 1024)
            .await
            .unwrap();
        assert_eq!(body, b"metadata");
        assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
        let e = fetcher
            .fetch("http://10.0.0.1:8080/metadata", 1024)
            .await
            .unwrap_err();
        assert_eq!(e.detail, REFUSED_ADDRESS);
    }
}
