//! The harness: one moto server per test binary (a watchdog stops it when the binary exits),
//! captured logs, a local provisioning target, and helpers that drive the real admin and
//! provision handlers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_admin::{route, App as AdminApp, HttpFetcher, Reply, Scope};
use samlgate_aws::{Kms, Secrets, Table};
use samlgate_deploy::key_policy::{render, PolicyInputs};
use samlgate_domain::audit::Caller;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::CreateKey;
use samlgate_provision::{App as ProvisionApp, HttpEgress};
use samlgate_vault::esdk::EsdkDecrypter;
use samlgate_vault::provision::{FleKey, ProvisionConfig};
use serde_json::{json, Value};

pub const ACCOUNT: &str = "123456789012";
/// The deployment's public base URL in the tests (never requested: handlers run in-process).
pub const BASE_URL: &str = "https://sso.samlgate.test";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts moto once for this test binary and points the SDK at it through the environment,
/// exactly as a developer or CI would (`AWS_ENDPOINT_URL`, region, dummy credentials).
pub fn moto() -> &'static str {
    static MOTO: OnceLock<String> = OnceLock::new();
    MOTO.get_or_init(|| {
        // moto's server with DynamoDB's write atomicity (tests/fixtures/moto_atomic.py: moto
        // checks a condition and writes without a lock; the races below need DynamoDB's
        // exactly-one-winner).
        let python = repo_root().join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup first",
            python.display()
        );
        let server = repo_root().join("tests/fixtures/moto_atomic.py");
        let port = free_port();
        // The watchdog ends moto when this test process is gone, even if it is killed.
        let script = format!(
            "'{}' '{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill $m",
            python.display(),
            server.display(),
            pid = std::process::id()
        );
        // Not waited for: the watchdog shell ends by itself once this process is gone.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .spawn()
            .expect("start moto");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\n\r\n");
                let mut buf = [0u8; 12];
                if s.read(&mut buf).is_ok_and(|n| n > 0) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        endpoint
    })
}

/// Every log line any handler or the SDK wrote (DEBUG and above), for the canary scan.
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&logs().lock().expect("log buffer")).into_owned()
}

/// A provisioning target: a plain HTTP server on loopback that records every request it
/// receives and answers with `status` and a body that must never travel further.
pub struct Target {
    pub port: u16,
    pub received: Arc<Mutex<Vec<String>>>,
}

pub const TARGET_BODY: &str = "TARGET-BODY-must-not-leak";

impl Target {
    pub fn start(status: u16) -> Self {
        Self::replying(status, TARGET_BODY.to_owned(), None)
    }

    /// A server that answers every request with `status` and `body`, after `delay` if given
    /// (an AWS endpoint that refuses, or one that hangs).
    pub fn replying(status: u16, body: String, delay: Option<Duration>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind target");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let request = read_request(&stream);
                log.lock().expect("target log").push(request);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let body_reply = reply.clone();
                std::thread::spawn(move || {
                    if let Some(d) = delay {
                        std::thread::sleep(d);
                    }
                    let mut stream = stream;
                    let _ = stream.write_all(body_reply.as_bytes());
                });
            }
        });
        Self { port, received }
    }

    pub fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/api/v1/idps/0oa1/credentials/keys",
            self.port
        )
    }

    pub fn requests(&self) -> Vec<String> {
        self.received.lock().expect("target log").clone()
    }
}

fn read_request(mut stream: &TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// The admin handler and the AWS adapters, over one table of its own.
pub struct Harness {
    pub table: Arc<Table>,
    pub kms: Arc<Kms>,
    pub secrets: Arc<Secrets>,
    pub admin: AdminApp,
    pub sdk: aws_config::SdkConfig,
    /// Every admin reply, for the canary scan.
    pub replies: Mutex<Vec<String>>,
}

pub fn caller() -> Caller {
    Caller {
        actor: "arn:aws:iam::123456789012:user/test-admin".into(),
        correlation_id: "corr-test".into(),
    }
}

impl Harness {
    pub async fn new(name: &str) -> Self {
        moto();
        logs();
        let sdk = samlgate_aws::sdk_config().await;
        let table = Arc::new(Table::new(&sdk, format!("samlgate-test-{name}")));
        table.create().await.expect("create table");
        let kms = Arc::new(Kms::new(&sdk));
        let secrets = Arc::new(Secrets::new(&sdk));
        let admin = AdminApp {
            keys: kms.clone(),
            secrets: secrets.clone(),
            config: table.clone(),
            writer: table.clone(),
            audit: table.clone(),
            audit_reader: table.clone(),
            clock: Arc::new(saml::SystemClock),
            fle: None,
            provisioner: None,
            sso_config: table.clone(),
            sso_writer: table.clone(),
            clients: table.clone(),
            client_writer: table.clone(),
            fetcher: Arc::new(
                HttpFetcher::new(samlgate_aws::http::Destinations::PublicAndLoopback)
                    .expect("http client"),
            ),
            urls: samlgate_domain::urls::PublicUrls::new(BASE_URL, false).expect("base URL"),
            local: true,
            aggregate_max_bytes: crate::rotation::AGGREGATE_MAX_BYTES,
            setup: table.clone(),
            operators: None,
            fle_origin_secret: None,
            jwks: table.clone(),
        };
        Self {
            table,
            kms,
            secrets,
            admin,
            sdk,
            replies: Mutex::new(Vec::new()),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> Reply {
        self.call_with(&self.admin, method, path, body).await
    }

    pub async fn call_with(&self, app: &AdminApp, method: &str, path: &str, body: Value) -> Reply {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.call_raw(app, method, path, &bytes).await
    }

    pub async fn call_raw(&self, app: &AdminApp, method: &str, path: &str, bytes: &[u8]) -> Reply {
        let reply = route(app, &caller(), &Scope::All, method, path, bytes).await;
        self.replies
            .lock()
            .expect("replies")
            .push(reply.body.to_string());
        reply
    }

    /// `samlgate org create`'s path: a key with the rendered policy, then registration.
    pub async fn create_org_key(&self, org: &str) -> String {
        let org_id = OrgId::parse(org).expect("org id");
        let policy = render(&PolicyInputs::platform_defaults(ACCOUNT, &org_id));
        self.kms
            .create_key(&format!("samlgate org {org}"), &policy)
            .await
            .expect("create key")
    }

    pub async fn onboard(&self, org: &str, hosts: &[&str]) -> Value {
        let key_arn = self.create_org_key(org).await;
        let reply = self
            .call(
                "POST",
                "/admin/orgs",
                json!({
                    "org": org,
                    "name": format!("{org} Ltd"),
                    "key_arn": key_arn,
                    "provision_role_arn": PolicyInputs::platform_defaults(ACCOUNT, &OrgId::parse(org).expect("org id")).provision_role_arn,
                    "provision_function_arn": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:samlgate-provision-{org}"),
                    "egress_allowlist": hosts,
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// The intake public key as served by admin: (PEM, key namespace, key name).
    pub async fn intake_key(&self, org: &str) -> (String, String, String) {
        let reply = self
            .call("GET", &format!("/admin/orgs/{org}/intake-key"), Value::Null)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let s = |k: &str| reply.body[k].as_str().expect("field").to_owned();
        (s("public_key_pem"), s("key_namespace"), s("key_name"))
    }

    /// Client-side encryption with the Rust ESDK (what `samlgate encrypt-credential` does).
    pub async fn encrypt_for(&self, org: &str, secret: &str) -> String {
        let (pem, namespace, name) = self.intake_key(org).await;
        let ctx = [("samlgate:org".to_owned(), org.to_owned())]
            .into_iter()
            .collect();
        let message =
            samlgate_vault::esdk::encrypt(&pem, &namespace, &name, &ctx, secret.as_bytes())
                .await
                .expect("esdk encrypt");
        B64.encode(message)
    }

    pub fn credential_body(&self, url: &str, ciphertext: &str) -> Value {
        json!({
            "name": "okta-admin-token",
            "description": "Okta API token used to upload SP certificates",
            "kind": "api_token",
            "action": {"method": "POST", "url": url, "inject": {"type": "ssws"},
                       "body": {"kty": "RSA", "use": "sig"}},
            "ciphertext": ciphertext,
        })
    }

    /// The intake form as CloudFront delivers it after field-level encryption: `secret` is
    /// whatever the edge put there (an ESDK message in base64, or the plaintext if the
    /// request bypassed CloudFront).
    pub fn credential_form(&self, url: &str, secret: &str) -> Vec<u8> {
        let body = self.credential_body(url, "");
        form_urlencoded::Serializer::new(String::new())
            .append_pair("name", body["name"].as_str().unwrap_or_default())
            .append_pair(
                "description",
                body["description"].as_str().unwrap_or_default(),
            )
            .append_pair("kind", "api_token")
            .append_pair("action", &body["action"].to_string())
            .append_pair("secret", secret)
            .finish()
            .into_bytes()
    }

    pub async fn store(&self, org: &str, url: &str, ciphertext: &str) -> Reply {
        self.call(
            "POST",
            &format!("/admin/orgs/{org}/credentials"),
            self.credential_body(url, ciphertext),
        )
        .await
    }

    pub fn provision_app(&self, org: &str, fle: Option<FleKey>) -> ProvisionApp {
        ProvisionApp {
            keys: self.kms.clone(),
            secrets: self.secrets.clone(),
            config: self.table.clone(),
            audit: self.table.clone(),
            clock: Arc::new(saml::SystemClock),
            esdk: Arc::new(EsdkDecrypter),
            egress: Arc::new(HttpEgress::new().expect("http client")),
            settings: Arc::new(ProvisionConfig {
                org: OrgId::parse(org).expect("org id"),
                allow_loopback_http: true,
                fle,
            }),
        }
    }

    pub async fn provision(&self, app: &ProvisionApp, org: &str, id: &str) -> Value {
        let out = samlgate_provision::handle(
            app,
            json!({"org": org, "credential_id": id, "correlation_id": "corr-provision"}),
            "lambda-request-id",
        )
        .await;
        self.replies.lock().expect("replies").push(out.to_string());
        out
    }

    /// Items of an organisation whose sort key starts with `prefix`, as JSON.
    async fn items(&self, org: &str, prefix: &str) -> Vec<Value> {
        self.table
            .scan_all()
            .await
            .expect("scan")
            .into_iter()
            .filter(|i| {
                i["pk"] == format!("ORG#{org}")
                    && i["sk"].as_str().is_some_and(|s| s.starts_with(prefix))
            })
            .collect()
    }

    /// The organisation's audit items (`AUDIT#{org}`), as JSON.
    pub async fn audit_items(&self, org: &str) -> Vec<Value> {
        self.table
            .scan_all()
            .await
            .expect("scan")
            .into_iter()
            .filter(|i| i["pk"] == format!("AUDIT#{org}"))
            .collect()
    }

    pub async fn credential_items(&self, org: &str) -> Vec<Value> {
        self.items(org, "CRED#").await
    }

    /// Names of secrets under `samlgate/{org}/` that are not scheduled for deletion.
    pub async fn live_secrets(&self, org: &str) -> Vec<String> {
        let client = aws_sdk_secretsmanager::Client::new(&self.sdk);
        let out = client.list_secrets().send().await.expect("list secrets");
        out.secret_list
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.deleted_date.is_none())
            .filter_map(|s| s.name)
            .filter(|n| n.starts_with(&format!("samlgate/{org}/")))
            .collect()
    }
}

/// A fresh RSA-3072 key pair as (private PKCS#8 PEM, public SPKI PEM), e.g. a CloudFront FLE key.
pub fn rsa_key_pair() -> (String, String) {
    let (private, public) = samlgate_vault::intake_key::new_rsa_key_pair().expect("rsa");
    (private.to_string(), public)
}

/// Runs `tests/fixtures/<script>` with the project's Python (scripts/setup), `input` on its
/// stdin; its stdout once it exited successfully.
pub fn run_python(script: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(repo_root().join(".venv/bin/python"))
        .arg(repo_root().join("tests/fixtures").join(script))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the project's Python (run scripts/setup)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("python output");
    assert!(out.status.success(), "tests/fixtures/{script} failed");
    out.stdout
}

/// Encrypts with the Python AWS Encryption SDK (third party), as CloudFront FLE does.
pub fn encrypt_with_python(
    public_pem: &str,
    provider: &str,
    key_name: &str,
    secret: &str,
) -> String {
    let dir = std::env::temp_dir().join(format!(
        "samlgate-esdk-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pem_file = dir.join("public.pem");
    std::fs::write(&pem_file, public_pem).expect("write pem");
    let pem_arg = pem_file.display().to_string();
    let out = run_python(
        "esdk_encrypt.py",
        &[&pem_arg, provider, key_name],
        secret.as_bytes(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out).expect("base64")
}
