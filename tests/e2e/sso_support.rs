//! SSO end to end: pysaml2 (third party, `tests/fixtures/pysaml2_idp.py`) is the IdP; the
//! real admin, acs and metadata handlers run in-process over the real DynamoDB/KMS adapters
//! against moto. pysaml2 reads our SP metadata, verifies our request signatures, and signs
//! (and encrypts) the Responses; PyJWT verifies our tokens against our JWKS. Every login is an
//! OIDC client's (authorize, the browser's binding cookie, the ACS, the code).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_acs::{App as AcsApp, HttpRequest, Page};
use samlgate_domain::urls::PublicUrls;
use samlgate_metadata::App as MetadataApp;
use samlgate_sso::KeyCache;
use serde_json::{json, Value};

use crate::support::{repo_root, Harness, BASE_URL};

/// The e2e client's redirect URI.
pub const CALLBACK: &str = "https://app.samlgate.test/oidc/callback";
/// Where the e2e client's browser goes after logout.
pub const AFTER_LOGOUT: &str = "https://app.samlgate.test/signed-out";

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
                steps: h.table.clone(),
                logins: h.table.clone(),
                replay: h.table.clone(),
                sessions: h.table.clone(),
                clients: h.table.clone(),
                codes: h.table.clone(),
                access: h.table.clone(),
                backchannel: Arc::new(
                    samlgate_aws::http::HttpBackChannel::new(
                        samlgate_aws::http::Destinations::PublicAndLoopback,
                    )
                    .expect("HTTP client"),
                ),
                audit: h.table.clone(),
                metrics: Arc::new(samlgate_aws::emf::EmfMetrics),
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

    /// One request to acs, correlation ID `corr-e2e`.
    pub async fn serve(&self, request: HttpRequest<'_>) -> Page {
        samlgate_acs::serve(
            &self.acs,
            &HttpRequest {
                correlation_id: "corr-e2e",
                ..request
            },
        )
        .await
    }

    /// `GET /o/{org}/authorize` for `client_id` (code flow, scopes openid email profile
    /// groups, state `s-1`, nonce `n-1`, then `extra`): the page on to the IdP and the binding
    /// cookie (`name=value`) of the browser it set.
    pub async fn authorize(&self, org: &str, client_id: &str, extra: &str) -> (Page, String) {
        let query = format!(
            "response_type=code&client_id={client_id}&redirect_uri={}&scope=openid+email+profile+groups&state=s-1&nonce=n-1{extra}",
            urlencode(CALLBACK)
        );
        let page = self
            .serve(HttpRequest {
                method: "GET",
                path: &format!("/o/{org}/authorize"),
                query: &query,
                ..HttpRequest::default()
            })
            .await;
        assert!(page.status == 302 || page.status == 200, "{}", page.body);
        let cookie = page
            .header("set-cookie")
            .expect("binding cookie")
            .split(';')
            .next()
            .expect("name=value")
            .to_owned();
        (page, cookie)
    }

    /// `POST /o/{org}/idp/{idp}/acs` with the form the IdP's page would post, from the
    /// browser that sends `cookie`.
    pub async fn post(
        &self,
        (org, idp): (&str, &str),
        saml_response: &str,
        relay_state: Option<&str>,
        cookie: Option<&str>,
    ) -> Page {
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("SAMLResponse", saml_response);
            if let Some(r) = relay_state {
                form.append_pair("RelayState", r);
            }
            form.finish()
        };
        self.serve(HttpRequest {
            method: "POST",
            path: &format!("/o/{org}/idp/{idp}/acs"),
            body: body.as_bytes(),
            cookie,
            ..HttpRequest::default()
        })
        .await
    }

    /// `POST /o/{org}/token` for the code, with Basic client authentication.
    pub async fn redeem(&self, org: &str, client_id: &str, secret: &str, code: &str) -> Page {
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}",
            urlencode(code),
            urlencode(CALLBACK)
        );
        let basic = format!("Basic {}", B64.encode(format!("{client_id}:{secret}")));
        self.serve(HttpRequest {
            method: "POST",
            path: &format!("/o/{org}/token"),
            body: body.as_bytes(),
            authorization: Some(&basic),
            ..HttpRequest::default()
        })
        .await
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A query parameter of a URL.
pub fn param(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// A confidential client of `org` registered through the admin API (redirect URI
/// [`CALLBACK`], post-logout [`AFTER_LOGOUT`], then `extra` fields): its ID and secret.
pub async fn client_with(h: &Harness, org: &str, extra: Value) -> (String, String) {
    let mut body = json!({"name": "e2e app", "redirect_uris": [CALLBACK],
                          "post_logout_redirect_uris": [AFTER_LOGOUT],
                          "token_endpoint_auth_method": "client_secret_basic"});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let reply = h
        .call("POST", &format!("/admin/orgs/{org}/clients"), body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    (
        reply.body["client_id"]
            .as_str()
            .expect("client_id")
            .to_owned(),
        reply.body["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    )
}

/// What the IdP answers to the login `page` (a Redirect-binding 302 or a POST-binding form),
/// pysaml2 having verified our request's signature; `extra` goes into the `authn` call.
pub fn idp_answer(py: &mut PyIdp, page: &Page, extra: Value) -> Value {
    let mut request = json!({"op": "authn", "user": alice(), "encrypt": false,
                             "sign_response": true, "sign_assertion": true});
    if page.status == 302 {
        let location = page.header("location").expect("location");
        assert!(location.contains("&Signature="), "{location}");
        request["binding"] = json!("redirect");
        request["url"] = json!(location);
    } else {
        assert_eq!(page.status, 200, "{}", page.body);
        request["binding"] = json!("post");
        request["saml_request"] = json!(field(page, "SAMLRequest"));
        request["relay_state"] = json!(field(page, "RelayState"));
    }
    for (k, v) in extra.as_object().expect("object") {
        request[k] = v.clone();
    }
    py.ok(request)
}

/// The one-time code in the ACS's redirect to the client (with the state echoed).
pub fn code_of(page: &Page) -> String {
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").expect("location");
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    assert_eq!(param(location, "state").as_deref(), Some("s-1"));
    param(location, "code").expect("code")
}

/// authorize → pysaml2 → ACS from the same browser: the code the client receives.
pub async fn code_for(
    sso: &Sso,
    py: &mut PyIdp,
    (org, idp): (&str, &str),
    client_id: &str,
    extra: &str,
) -> String {
    let (page, cookie) = sso.authorize(org, client_id, extra).await;
    let answer = idp_answer(py, &page, json!({}));
    let page = sso
        .post(
            (org, idp),
            answer["saml_response"].as_str().expect("saml_response"),
            answer["relay_state"].as_str(),
            Some(&cookie),
        )
        .await;
    code_of(&page)
}

/// PyJWT's verdict on a token of `org` for `audience`, against `jwks`.
pub fn verify(py: &mut PyIdp, token: &str, jwks: &Value, audience: &str, org: &str) -> Value {
    py.call(json!({"op": "verify_jwt", "token": token, "jwks": jwks,
                   "audience": audience, "issuer": format!("{BASE_URL}/o/{org}")}))
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
            json!({"default_idp": idp}),
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
    // In the order things happened: an aggregate of anonymous failures by its latest one.
    let when = |i: &Value| {
        i["last_at"]
            .as_str()
            .or(i["at"].as_str())
            .and_then(saml::parse_instant)
    };
    items.sort_by_key(|i| when(i));
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
