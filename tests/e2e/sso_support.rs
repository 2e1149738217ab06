//! SSO end to end: pysaml2 (third party, `tests/fixtures/pysaml2_idp.py`) is the IdP; the
//! real admin, acs and metadata handlers run in-process over the real DynamoDB/KMS adapters
//! against moto. pysaml2 reads our SP metadata, verifies our request signatures, and signs
//! (and encrypts) the Responses; PyJWT verifies our tokens against our JWKS.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use samlgate_acs::{App as AcsApp, Page};
use samlgate_domain::urls::PublicUrls;
use samlgate_metadata::App as MetadataApp;
use samlgate_sso::KeyCache;
use serde_json::{json, Value};

use crate::support::{repo_root, Harness, BASE_URL};

pub const RETURN_URL: &str = "https://app.samlgate.test/callback";
pub const AUDIENCE: &str = "e2e-app";

/// The pysaml2 IdP process (one JSON object per line each way).
pub struct PyIdp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _workdir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl PyIdp {
    pub fn start(name: &str) -> Self {
        Self::start_with(name, &[])
    }

    /// With extra command-line options (`--slo-binding post`).
    pub fn start_with(name: &str, options: &[&str]) -> Self {
        let workdir =
            std::env::temp_dir().join(format!("samlgate-pysaml2-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&workdir).expect("workdir");
        let base = format!("https://idp-{name}.pysaml2.test");
        let mut child = Command::new(repo_root().join(".venv/bin/python"))
            .arg(repo_root().join("tests/fixtures/pysaml2_idp.py"))
            .args([
                "--entity-id",
                &format!("{base}/metadata"),
                "--base-url",
                &base,
            ])
            .arg("--workdir")
            .arg(&workdir)
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the pysaml2 IdP (run scripts/setup)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
            _workdir: TempDir(workdir),
        }
    }

    pub fn call(&mut self, request: Value) -> Value {
        writeln!(self.stdin, "{request}").expect("write to pysaml2");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from pysaml2");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("pysaml2 said: {line:?}"))
    }

    /// A call that must succeed.
    pub fn ok(&mut self, request: Value) -> Value {
        let answer = self.call(request.clone());
        assert_eq!(answer["ok"], true, "pysaml2 {}: {answer}", request["op"]);
        answer
    }
}

impl Drop for PyIdp {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"op": "quit"}));
        let _ = self.child.wait();
    }
}

/// The SSO functions over the harness's table and KMS.
pub struct Sso {
    pub acs: AcsApp,
    pub metadata: MetadataApp,
}

impl Sso {
    pub fn new(h: &Harness) -> Self {
        let urls = PublicUrls::new(BASE_URL, false).expect("base URL");
        Self {
            acs: AcsApp {
                config: h.table.clone(),
                logins: h.table.clone(),
                replay: h.table.clone(),
                sessions: h.table.clone(),
                clients: h.table.clone(),
                codes: h.table.clone(),
                access: h.table.clone(),
                backchannel: Arc::new(
                    samlgate_aws::http::HttpBackChannel::new().expect("HTTP client"),
                ),
                audit: h.table.clone(),
                kms: h.kms.clone(),
                keys: Arc::new(KeyCache::default()),
                clock: Arc::new(saml::SystemClock),
                urls: urls.clone(),
            },
            metadata: MetadataApp {
                config: h.table.clone(),
                jwks: h.table.clone(),
                urls,
            },
        }
    }

    pub async fn sp_metadata(&self, org: &str, idp: &str) -> String {
        let doc = samlgate_metadata::route(
            &self.metadata,
            "GET",
            &format!("/o/{org}/idp/{idp}/metadata"),
        )
        .await;
        assert_eq!(doc.status, 200, "{}", doc.body);
        doc.body
    }

    /// The organisation's JWKS (`GET /o/{org}/.well-known/jwks.json`).
    pub async fn jwks(&self, org: &str) -> Value {
        let doc = samlgate_metadata::route(
            &self.metadata,
            "GET",
            &format!("/o/{org}/.well-known/jwks.json"),
        )
        .await;
        assert_eq!(doc.status, 200, "{}", doc.body);
        serde_json::from_str(&doc.body).expect("JWKS")
    }

    /// `GET /o/{org}/login?{query}`.
    pub async fn login(&self, org: &str, query: &str) -> Page {
        samlgate_acs::route(
            &self.acs,
            "corr-login",
            "GET",
            &format!("/o/{org}/login"),
            query,
            b"",
        )
        .await
    }

    /// `POST /o/{org}/idp/{idp}/acs` with the form the IdP's page would post.
    pub async fn post(
        &self,
        org: &str,
        idp: &str,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Page {
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("SAMLResponse", saml_response);
            if let Some(r) = relay_state {
                form.append_pair("RelayState", r);
            }
            form.finish()
        };
        samlgate_acs::route(
            &self.acs,
            "corr-acs",
            "POST",
            &format!("/o/{org}/idp/{idp}/acs"),
            "",
            body.as_bytes(),
        )
        .await
    }
}

/// Onboards `org`, registers the pysaml2 IdP `idp` from its metadata with `settings`, sets the
/// SSO settings, and lets pysaml2 trust our SP metadata.
pub async fn register(
    h: &Harness,
    sso: &Sso,
    py: &mut PyIdp,
    org: &str,
    idp: &str,
    settings: Value,
) {
    if h.call("GET", &format!("/admin/orgs/{org}"), Value::Null)
        .await
        .status
        == 404
    {
        h.onboard(org, &[]).await;
    }
    let metadata = py.ok(json!({"op": "metadata"}))["xml"].clone();
    let reply = h
        .call(
            "POST",
            &format!("/admin/orgs/{org}/idps"),
            json!({"idp": idp, "metadata_xml": metadata, "settings": settings}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = h
        .call(
            "PUT",
            &format!("/admin/orgs/{org}/sso"),
            json!({"return_urls": [RETURN_URL], "app_audience": AUDIENCE, "default_idp": idp}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let sp = sso.sp_metadata(org, idp).await;
    py.ok(json!({"op": "trust_sp", "xml": sp}));
}

pub fn alice() -> Value {
    json!({
        "name_id": "alice@example.com",
        "attributes": {"email": ["alice@example.com"], "displayName": ["Alice"], "groups": ["staff", "admins"]},
    })
}

pub fn mapping() -> Value {
    json!({"mapping": {"email": "email", "name": "displayName", "groups": "groups"}})
}

/// The hidden fields of an auto-post page.
pub fn form_fields(page: &Page) -> Vec<(String, String)> {
    page.body
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").expect("value");
            let value = rest.split_once('"').expect("end").0;
            (
                name.to_owned(),
                value
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            )
        })
        .collect()
}

pub fn field(page: &Page, name: &str) -> String {
    form_fields(page)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {}", page.body))
}

/// The audit items of `org` with `action`, oldest first.
pub async fn audit(h: &Harness, org: &str, action: &str) -> Vec<Value> {
    let mut items: Vec<Value> = h
        .table
        .scan_all()
        .await
        .expect("scan")
        .into_iter()
        .filter(|i| i["pk"] == format!("AUDIT#{org}") && i["action"] == action)
        .collect();
    items.sort_by(|a, b| a["sk"].as_str().cmp(&b["sk"].as_str()));
    items
}

pub async fn last_reason(h: &Harness, org: &str) -> Option<String> {
    audit(h, org, "sso.login")
        .await
        .last()
        .and_then(|i| i["reason"].as_str().map(str::to_owned))
}

pub async fn sessions(h: &Harness) -> Vec<Value> {
    h.table
        .scan_all()
        .await
        .expect("scan")
        .into_iter()
        .filter(|i| i["pk"].as_str().is_some_and(|pk| pk.starts_with("SESS#")))
        .collect()
}

/// A JWT's claims, unverified (for tests that verify elsewhere or compare claims only).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}
