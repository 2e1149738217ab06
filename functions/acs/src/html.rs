//! The few pages acs sends: a redirect, an auto-submitting form (to the IdP), a test
//! sign-in's result, and a generic error page. Every value is HTML-escaped; the only script is the
//! one-line submit, allowed by its hash in the Content-Security-Policy.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use samlgate_sso::acs::{TestFailure, TestResult};

const SUBMIT_SCRIPT: &str = "document.forms[0].submit();";

/// An HTTP answer from acs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// HTML-escapes text for element content and double- or single-quoted attribute values.
/// The five characters are ASCII, so the runs between them are copied whole.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut start = 0;
    for (at, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // `at` is the index of an ASCII byte: a character boundary.
        out.push_str(&text[start..at]);
        out.push_str(entity);
        start = at + 1;
    }
    out.push_str(&text[start..]);
    out
}

fn common_headers(csp: String) -> Vec<(&'static str, String)> {
    vec![
        ("cache-control", "no-store".to_owned()),
        ("pragma", "no-cache".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("content-security-policy", csp),
    ]
}

impl Page {
    pub fn redirect(location: &str) -> Self {
        let mut headers = common_headers("default-src 'none'; frame-ancestors 'none'".to_owned());
        headers.push(("location", location.to_owned()));
        Self {
            status: 302,
            headers,
            body: String::new(),
        }
    }

    /// A form that posts `fields` to `action` as soon as it loads (SAML HTTP-POST binding).
    pub fn auto_post(action: &str, fields: &[(&str, &str)]) -> Self {
        let script_hash = B64.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, SUBMIT_SCRIPT.as_bytes())
                .as_ref(),
        );
        let inputs: String = fields
            .iter()
            .map(|(name, value)| {
                format!(
                    r#"<input type="hidden" name="{}" value="{}">"#,
                    escape(name),
                    escape(value)
                )
            })
            .collect();
        let body = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signing in…</title></head><body><form method="post" action="{}">{inputs}<noscript><button type="submit">Continue</button></noscript></form><script>{SUBMIT_SCRIPT}</script></body></html>"#,
            escape(action)
        );
        let csp = format!(
            "default-src 'none'; script-src 'sha256-{script_hash}'; form-action {}; frame-ancestors 'none'",
            origin(action)
        );
        let mut headers = common_headers(csp);
        headers.push(("content-type", "text/html; charset=utf-8".to_owned()));
        Self {
            status: 200,
            headers,
            body,
        }
    }

    /// What the browser sees for any failure: no reason, only the correlation ID to quote.
    pub fn error(status: u16, correlation_id: &str) -> Self {
        let body = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head><body><h1>Sign-in failed</h1><p>We could not sign you in. Please try again, or contact your administrator and quote this reference:</p><p><code>{}</code></p></body></html>"#,
            escape(correlation_id)
        );
        let mut headers = common_headers("default-src 'none'; frame-ancestors 'none'".to_owned());
        headers.push(("content-type", "text/html; charset=utf-8".to_owned()));
        Self {
            status,
            headers,
            body,
        }
    }

    /// A refusal the browser may read (the OIDC authorize errors that must not redirect:
    /// unknown client, unregistered redirect URI).
    pub fn refused(status: u16, correlation_id: &str, message: &str) -> Self {
        let body = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-in refused</title></head><body><h1>Sign-in refused</h1><p>{}</p><p>Reference: <code>{}</code></p></body></html>"#,
            escape(message),
            escape(correlation_id)
        );
        let mut page = Self::error(status, correlation_id);
        page.body = body;
        page
    }

    /// A test sign-in's result: the claims a client would receive and what the IdP asserted,
    /// each value escaped. It says plainly that nothing was issued.
    pub fn test_result(result: &TestResult) -> Self {
        let c = &result.claims;
        let yes = |b: bool| if b { "yes" } else { "no" };
        let claims = [
            ("sub", c.sub.clone()),
            ("email", c.email.clone().unwrap_or_default()),
            ("email_verified", c.email_verified.to_string()),
            ("name", c.name.clone().unwrap_or_default()),
            ("groups", c.groups.join(", ")),
            ("acr", c.acr.clone().unwrap_or_default()),
            (
                "auth_time",
                c.auth_time.map(|t| t.to_string()).unwrap_or_default(),
            ),
            ("org", c.org.to_string()),
            ("idp", c.idp.to_string()),
        ];
        let mut asserted = vec![
            ("NameID".to_owned(), result.name_id.clone()),
            (
                "NameID Format".to_owned(),
                result.name_id_format.clone().unwrap_or_default(),
            ),
            (
                "Response signed".to_owned(),
                yes(result.response_signed).into(),
            ),
            (
                "Assertion signed".to_owned(),
                yes(result.assertion_signed).into(),
            ),
            (
                "Assertion encrypted".to_owned(),
                yes(result.encrypted).into(),
            ),
        ];
        asserted.extend(
            result
                .attributes
                .iter()
                .map(|(name, values)| (format!("attribute {name}"), values.join(", "))),
        );
        let rows = |rows: &mut dyn Iterator<Item = (&str, &str)>| -> String {
            rows.map(|(k, v)| format!("<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v)))
                .collect()
        };
        let body = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test sign-in succeeded</title></head><body><h1>Test sign-in succeeded</h1><p>The IdP <code>{idp}</code> signed you in and samlgate verified the Response. Nothing was issued: no session, no code, no token.</p><h2>What a client would receive</h2><table id="claims">{claims}</table><h2>What the IdP asserted</h2><table id="assertion">{asserted}</table></body></html>"#,
            idp = escape(c.idp.as_str()),
            claims = rows(&mut claims.iter().map(|(k, v)| (*k, v.as_str()))),
            asserted = rows(&mut asserted.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        let mut page = Self::error(200, "");
        page.body = body;
        page
    }

    /// A failed test sign-in, for the administrator whose browser started it: the reason
    /// code, the check's message (what arrived) and what configuration expected, each value
    /// escaped. End users never see this page: their failures show [`Page::error`].
    pub fn test_failure(failure: &TestFailure, correlation_id: &str) -> Self {
        let expected: String = failure
            .expected
            .iter()
            .map(|(k, v)| {
                format!(
                    "<tr><th>{}</th><td><code>{}</code></td></tr>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        let expected = if expected.is_empty() {
            String::new()
        } else {
            format!(r#"<h2>What samlgate expected</h2><table id="expected">{expected}</table>"#)
        };
        let body = format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test sign-in failed</title></head><body><h1>Test sign-in failed</h1><p>Reason: <code id="reason">{code}</code></p><p id="received">{message}</p>{expected}<p>The audit log has this attempt under <code>{corr}</code>. Nothing was issued. People who sign in to an application see only a generic page with that reference.</p></body></html>"#,
            code = escape(failure.code),
            message = escape(&failure.message),
            corr = escape(correlation_id),
        );
        let mut page = Self::error(400, correlation_id);
        page.body = body;
        page
    }

    /// The end of a logout that has nowhere else to go.
    pub fn signed_out() -> Self {
        let mut page = Self::error(200, "");
        page.body = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head><body><h1>Signed out</h1><p>You are signed out. You may close this window.</p></body></html>"#.to_owned();
        page
    }

    /// A JSON answer (token, userinfo), never cached (RFC 6749 §5.1).
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let mut headers = common_headers("default-src 'none'; frame-ancestors 'none'".to_owned());
        headers.push(("content-type", "application/json".to_owned()));
        Self {
            status,
            headers,
            body: value.to_string(),
        }
    }

    /// The answer to a CORS preflight of the token and userinfo endpoints: any origin, the
    /// methods and headers a client library sends, no credentials.
    pub fn preflight() -> Self {
        let mut page = Self::json(204, &serde_json::Value::Null);
        page.body = String::new();
        page.headers.retain(|(n, _)| *n != "content-type");
        page.with_header("access-control-allow-methods", "GET, POST".to_owned())
            .with_header(
                "access-control-allow-headers",
                "Authorization, Content-Type".to_owned(),
            )
            .with_header("access-control-max-age", "600".to_owned())
            .readable_by_any_origin()
    }

    /// Scripts of any origin may read this answer (CORS `*`, never with credentials: nothing
    /// here depends on a cookie), including its `WWW-Authenticate` challenge.
    pub fn readable_by_any_origin(self) -> Self {
        self.with_header("access-control-allow-origin", "*".to_owned())
            .with_header(
                "access-control-expose-headers",
                "WWW-Authenticate".to_owned(),
            )
    }

    /// Adds a header (replacing one of the same name).
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name, value));
        self
    }

    pub fn not_found(correlation_id: &str) -> Self {
        Self::error(404, correlation_id)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// `scheme://host[:port]` of a URL we configured (an IdP endpoint).
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "'none'".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = Page::auto_post(
            "https://app.example.com/cb?a=1&b=2",
            &[("SAMLRequest", "\"><script>")],
        );
        assert!(page.body.contains("a=1&amp;b=2"));
        assert!(page.body.contains("&quot;&gt;&lt;script&gt;"));
        assert!(!page.body.contains("\"><script>"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(page
            .header("content-security-policy")
            .unwrap()
            .contains("form-action https://app.example.com;"));
    }

    #[test]
    fn escape_replaces_the_five_characters_and_keeps_the_rest() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("plain"), "plain");
        assert_eq!(
            escape("Åsa <ö@ex.com> & 'Zoë' \"日本\""),
            "Åsa &lt;ö@ex.com&gt; &amp; &#39;Zoë&#39; &quot;日本&quot;"
        );
        assert_eq!(escape("&&"), "&amp;&amp;");
    }

    #[test]
    fn error_page_names_only_the_correlation_id() {
        let page = Page::error(400, "<abc>");
        assert!(page.body.contains("&lt;abc&gt;"));
        assert_eq!(page.status, 400);
    }
}
