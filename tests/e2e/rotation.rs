//! Rotation and metadata refresh end to end: the real rotate job, acs and
//! metadata handlers over the real DynamoDB/KMS adapters against moto, an injected clock, and
//! a third-party IdP (`tests/fixtures/rotation_idp.py`: python-xmlsec signs and encrypts, lxml
//! reads our metadata, pyca/cryptography checks our request signatures). The refresh tests
//! serve IdP metadata from a local HTTP server with ETags.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use samlgate_acs::App as AcsApp;
use samlgate_aws::http::HttpFetcher;
use samlgate_domain::idp::{Idp, SsoSettings};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::ports::{OrgReader, SpKeyStore, SsoConfigReader};
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey};
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::PortError;
use samlgate_idp::refresh::certificate_not_after;
use samlgate_metadata::App as MetadataApp;
use samlgate_rotate::App as RotateApp;
use samlgate_sso::KeyCache;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::sso_support::audit;
use crate::support::{repo_root, Harness, BASE_URL};

/// The simulation's clock: every component reads it, the test moves it.
#[derive(Clone)]
struct SimClock(Arc<Mutex<OffsetDateTime>>);

impl SimClock {
    fn set(&self, t: OffsetDateTime) {
        *self.0.lock().expect("clock") = t;
    }
}

impl saml::Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock")
    }
}

/// The python-xmlsec IdP process.
struct XmlsecIdp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl XmlsecIdp {
    fn start() -> Self {
        let mut child = Command::new(repo_root().join(".venv/bin/python"))
            .arg(repo_root().join("tests/fixtures/rotation_idp.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start rotation_idp.py (run scripts/setup)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn ok(&mut self, request: Value) -> Value {
        writeln!(self.stdin, "{request}").expect("write");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read");
        let answer: Value = serde_json::from_str(&line).expect("json answer");
        assert_eq!(answer["ok"], true, "{request}: {answer}");
        answer
    }
}

impl Drop for XmlsecIdp {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"op": "quit"}));
        let _ = self.child.wait();
    }
}

/// The federation aggregate limit the harness's admin and rotate run with (the deployment's
/// default is 64 MiB): small, so that an oversized aggregate is cheap to serve.
pub(crate) const AGGREGATE_MAX_BYTES: usize = 2 << 20;

const IDP_ENTITY: &str = "https://idp.rotation.test/saml";
const IDP_SSO: &str = "https://idp.rotation.test/sso";

fn rotate_app(h: &Harness, clock: &SimClock, sp_keys: Arc<dyn SpKeyStore>) -> RotateApp {
    RotateApp {
        orgs: h.table.clone(),
        config: h.table.clone(),
        writer: h.table.clone(),
        sp_keys,
        kms: h.kms.clone(),
        fetcher: Arc::new(
            HttpFetcher::with_timeout(
                StdDuration::from_secs(1),
                samlgate_aws::http::Destinations::PublicAndLoopback,
            )
            .expect("http"),
        ),
        audit: h.table.clone(),
        clock: Arc::new(clock.clone()),
        allow_loopback_http: true,
        aggregate_max_bytes: AGGREGATE_MAX_BYTES,
    }
}

async fn run_rotate(app: &RotateApp) -> samlgate_rotate::RunOutput {
    let event = json!({"source": "samlgate.schedule", "action": "daily"});
    match samlgate_rotate::run(app, &event, "corr-rotate").await {
        Ok(output) => output,
        Err(e) => panic!("rotate run: {e}"),
    }
}

/// A second run that read the keys before the first one wrote: its plan repeats the first
/// run's steps, and every write must be refused by its condition.
struct StaleKeys {
    inner: Arc<samlgate_aws::Table>,
    keys: BTreeMap<String, Vec<SpKey>>,
}

#[async_trait]
impl OrgReader for StaleKeys {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        self.inner.get_org(org).await
    }
}

#[async_trait]
impl SsoConfigReader for StaleKeys {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError> {
        self.inner.sso_settings(org).await
    }
    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError> {
        self.inner.idp(org, idp).await
    }
    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError> {
        self.inner.list_idps(org).await
    }
    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError> {
        let id = format!("{org}/{}", idp.map_or("-", IdpId::as_str));
        Ok(self.keys.get(&id).cloned().unwrap_or_default())
    }
    async fn diagnostic_ticket(
        &self,
        org: &OrgId,
        ticket_sha256: &str,
    ) -> Result<Option<samlgate_domain::setup::DiagnosticTicket>, PortError> {
        self.inner.diagnostic_ticket(org, ticket_sha256).await
    }
}

/// Fails every write on the days it is told to (a run that stops half-way).
struct FlakyKeys {
    inner: Arc<samlgate_aws::Table>,
    failing: Mutex<bool>,
}

impl FlakyKeys {
    fn check(&self) -> Result<(), PortError> {
        if *self.failing.lock().expect("flag") {
            return Err(PortError::new(
                samlgate_domain::PortErrorKind::Other,
                "dynamodb:TransactWriteItems",
                "injected failure",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl SpKeyStore for FlakyKeys {
    async fn publish_next(&self, active: &SpKey, next: &SpKey) -> Result<(), PortError> {
        self.check()?;
        self.inner.publish_next(active, next).await
    }
    async fn promote(&self, next: &SpKey, previous: Option<&SpKey>) -> Result<(), PortError> {
        self.check()?;
        self.inner.promote(next, previous).await
    }
    async fn retire(&self, key: &SpKey) -> Result<(), PortError> {
        self.check()?;
        self.inner.retire(key).await
    }
    async fn insert_key(&self, key: &SpKey) -> Result<(), PortError> {
        self.check()?;
        self.inner.insert_key(key).await
    }
}

fn of(keys: &[SpKey], usage: KeyUse, state: KeyState) -> Vec<&SpKey> {
    keys.iter()
        .filter(|k| k.usage == usage && k.state == state)
        .collect()
}

/// Two years of daily runs. Every day: exactly one active key per use; the
/// published metadata holds usable certificates; our AuthnRequest is signed by the active key
/// and verifies for an IdP whose copy of our metadata is 29 days old; an assertion encrypted
/// to the certificate that was active 29 days ago (an IdP still on last year's certificate,
/// during the overlap) and one encrypted to our newest published certificate both log in.
/// On three transition days every write fails (the calendar slips a day, nothing breaks), and
/// every day a second run with a stale view of the keys writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_years_of_daily_rotation_never_break_a_login() {
    let h = Harness::new("rotation-2y").await;
    let mut idp = XmlsecIdp::start();
    h.onboard("acme", &[]).await;
    let metadata = idp.ok(
        json!({"op": "metadata", "entity_id": IDP_ENTITY, "sso_url": IDP_SSO, "signing": ["a"]}),
    )["xml"]
        .clone();
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/idps",
            json!({"idp": "corp", "metadata_xml": metadata, "settings": {"require_encrypted_assertions": true}}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = h
        .call(
            "PUT",
            "/admin/orgs/acme/sso",
            json!({"default_idp": "corp"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let start = OffsetDateTime::now_utc().replace_nanosecond(0).expect("ns");
    let clock = SimClock(Arc::new(Mutex::new(start)));
    let urls = PublicUrls::new(BASE_URL, false).expect("urls");
    let acs = AcsApp {
        config: h.table.clone(),
        steps: h.table.clone(),
        logins: h.table.clone(),
        replay: h.table.clone(),
        sessions: h.table.clone(),
        clients: h.table.clone(),
        codes: h.table.clone(),
        access: h.table.clone(),
        backchannel: Arc::new(samlgate_domain::memory::MemoryBackChannel::default()),
        audit: h.table.clone(),
        metrics: Arc::new(samlgate_aws::emf::EmfMetrics),
        kms: h.kms.clone(),
        keys: Arc::new(KeyCache::default()),
        clock: Arc::new(clock.clone()),
        urls: urls.clone(),
    };
    let metadata_app = MetadataApp {
        config: h.table.clone(),
        jwks: h.table.clone(),
        urls: urls.clone(),
    };
    let flaky = Arc::new(FlakyKeys {
        inner: h.table.clone(),
        failing: Mutex::new(false),
    });
    let rotate = rotate_app(&h, &clock, flaky.clone());
    let org = OrgId::parse("acme").expect("org");
    let corp = IdpId::parse("corp").expect("idp");
    let acs_url = urls.acs_url(&org, &corp);
    let sp_entity_id = urls.sp_entity_id(&org, &corp);
    // Day → (signing certificates in our metadata, the active encryption certificate).
    let mut history: Vec<(Vec<String>, String)> = Vec::new();
    let (mut logins, mut second_runs_refused, mut transitions) = (0, 0, Vec::new());
    const LAG: usize = 29;
    // Two years and the second handover's overlap.
    const DAYS: usize = 765;
    const FAILING_DAYS: [usize; 3] = [335, 366, 397];
    let (mut last_lagged, mut last_keys) = (String::new(), Vec::new());
    let started = std::time::Instant::now();

    for day in 0..=DAYS {
        let now = start + Duration::days(day as i64) + Duration::minutes(1);
        clock.set(now);
        *flaky.failing.lock().expect("flag") = FAILING_DAYS.contains(&day);
        // What a run that started before this one read (yesterday's keys: nothing else
        // writes them).
        let before = last_keys.clone();
        let before_tokens = h.table.sp_keys(&org, None).await.expect("token keys");
        let output = run_rotate(&rotate).await;
        let written = output.rotation.published
            + output.rotation.activated
            + output.rotation.retired
            + output.rotation.replaced;
        if FAILING_DAYS.contains(&day) {
            assert!(
                output.rotation.failures > 0 && written == 0,
                "day {day}: {}",
                output.summary
            );
        }
        if written > 0 {
            transitions.push((day, output.summary["sp_keys"].clone()));
            let stale = StaleKeys {
                inner: h.table.clone(),
                keys: BTreeMap::from([
                    ("acme/corp".to_owned(), before),
                    ("acme/-".to_owned(), before_tokens),
                ]),
            };
            let mut second = rotate_app(&h, &clock, h.table.clone());
            second.config = Arc::new(stale);
            let again = run_rotate(&second).await;
            assert_eq!(
                (again.rotation.failures, again.rotation.already_done > 0),
                (0, true),
                "day {day}: the stale run wrote: {}",
                again.summary
            );
            second_runs_refused += 1;
        }

        let keys = h.table.sp_keys(&org, Some(&corp)).await.expect("keys");
        for usage in [KeyUse::Signing, KeyUse::Encryption] {
            assert_eq!(
                of(&keys, usage, KeyState::Active).len(),
                1,
                "day {day} {usage:?}"
            );
            assert!(of(&keys, usage, KeyState::Next).len() <= 1, "day {day}");
        }
        let active_signing = of(&keys, KeyUse::Signing, KeyState::Active)[0]
            .certificate
            .clone()
            .expect("cert");
        let active_encryption = of(&keys, KeyUse::Encryption, KeyState::Active)[0]
            .certificate
            .clone()
            .expect("cert");
        // Our metadata, a login and its decryption depend only on the keys' states and on
        // the certificates the IdP encrypts to, which change only on transition days; those
        // days and the day after each change are checked, the others weekly. (Each check is
        // about 30 calls to moto, whose ~8 ms per call would make daily checks take minutes.)
        let lagged_active = history
            .get(day.saturating_sub(LAG))
            .map(|h| h.1.clone())
            .unwrap_or_else(|| active_encryption.clone());
        let check_today = day % 7 == 0
            || written > 0
            || FAILING_DAYS.contains(&day)
            || keys != last_keys
            || lagged_active != last_lagged;
        last_lagged = lagged_active;
        last_keys = keys.clone();
        if day % 100 == 0 {
            eprintln!(
                "rotation: day {day}, {logins} logins, {:.0?}",
                started.elapsed()
            );
        }
        if !check_today {
            let (signing, _) = history.last().cloned().expect("history");
            history.push((signing, active_encryption));
            continue;
        }

        // Our metadata as the IdP reads it.
        let doc = samlgate_metadata::route(&metadata_app, "GET", "/o/acme/idp/corp/metadata").await;
        assert_eq!(doc.status, 200);
        let published = idp.ok(json!({"op": "read_sp_metadata", "xml": doc.body}));
        let list = |use_: &str| -> Vec<String> {
            published[use_]
                .as_array()
                .expect("certs")
                .iter()
                .map(|c| c.as_str().expect("cert").to_owned())
                .collect()
        };
        let (signing, encryption) = (list("signing"), list("encryption"));
        assert!(signing.contains(&active_signing) && encryption.contains(&active_encryption));
        for cert in signing.iter().chain(&encryption) {
            let der = base64_decode(cert);
            let end = certificate_not_after(&der).expect("notAfter");
            assert!(
                end > now + Duration::days(30),
                "day {day}: a published certificate expires within 30 days"
            );
        }
        history.push((signing.clone(), active_encryption.clone()));
        let lagged = &history[day.saturating_sub(LAG)];

        // Encrypt to the certificate active LAG days ago, and to our newest published one.
        let newest = keys
            .iter()
            .filter(|k| k.usage == KeyUse::Encryption && k.published())
            .max_by(|a, b| a.created_at.cmp(&b.created_at))
            .and_then(|k| k.certificate.clone())
            .expect("newest");
        let mut targets = vec![lagged.1.clone()];
        if newest != lagged.1 {
            targets.push(newest);
        }
        for target in targets {
            let page =
                samlgate_acs::route(&acs, "corr-login", "GET", "/o/acme/login", "idp=corp", b"")
                    .await;
            assert_eq!(page.status, 302, "day {day}: {}", page.body);
            let location = page.header("location").expect("location").to_owned();
            // The test sign-in is bound to this browser.
            let cookie = page
                .header("set-cookie")
                .and_then(|c| c.split(';').next())
                .expect("binding cookie")
                .to_owned();
            let mut certs = vec![active_signing.clone()];
            certs.extend(lagged.0.iter().cloned());
            let checked = idp.ok(json!({"op": "check_request", "url": location, "certs": certs}));
            let verified = checked["verified"].as_array().expect("verified");
            assert_eq!(verified[0], true, "day {day}: not signed by the active key");
            assert!(
                verified[1..].iter().any(|v| v == true),
                "day {day}: an IdP with our metadata of day {} cannot verify our request",
                day.saturating_sub(LAG)
            );
            let response = idp.ok(json!({
                "op": "response", "request_id": checked["id"], "acs_url": acs_url,
                "sp_entity_id": sp_entity_id, "issuer": IDP_ENTITY,
                "now": saml::format_instant(now), "encrypt_to": target,
            }))["saml_response"]
                .as_str()
                .expect("response")
                .to_owned();
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("SAMLResponse", &response)
                .append_pair(
                    "RelayState",
                    checked["relay_state"].as_str().expect("relay"),
                )
                .finish();
            let page = samlgate_acs::serve(
                &acs,
                &samlgate_acs::HttpRequest {
                    correlation_id: "corr-acs",
                    method: "POST",
                    path: "/o/acme/idp/corp/acs",
                    body: body.as_bytes(),
                    cookie: Some(&cookie),
                    ..Default::default()
                },
            )
            .await;
            assert!(
                page.status == 200 && page.body.contains("Test sign-in succeeded"),
                "day {day}: login with an assertion encrypted to a published key failed: {}",
                page.body
            );
            logins += 1;
        }
    }

    // The calendar, each step a day late where a failure was injected: publish on day 335
    // (336), activate when due and announced 30 days (366 → 367), retire 30 days later
    // (397 → 398); then a year after that activation: publish (702), activate (732),
    // retire (762). The token keys on their own overlap: successors in the JWKS 7 days ahead
    // (358), active when due (365), the previous retired a day later (366 failed → 367);
    // then publish (723), activate (730), retire (731).
    let days: Vec<usize> = transitions.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        days,
        vec![336, 358, 365, 367, 398, 702, 723, 730, 731, 732, 762],
        "{transitions:?}"
    );
    let keys = h.table.sp_keys(&org, Some(&corp)).await.expect("keys");
    assert_eq!(
        keys.iter().filter(|k| k.state == KeyState::Retired).count(),
        4
    );
    let activations = audit(&h, "acme", "sp_key.activate").await;
    let failed = activations
        .iter()
        .filter(|a| a["reason"] == "rotation_failed")
        .count();
    assert_eq!(
        (activations.len(), failed),
        (6, 2),
        "two handovers of two keys, one failed day"
    );
    eprintln!(
        "rotation: {} days, {logins} logins, {} transition days, {second_runs_refused} stale runs refused",
        DAYS + 1,
        transitions.len()
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// The IdP as stored.
async fn stored_idp(h: &Harness, org: &str, idp: &str) -> Idp {
    h.table
        .idp(
            &OrgId::parse(org).expect("org"),
            &IdpId::parse(idp).expect("idp"),
        )
        .await
        .expect("idp")
        .expect("stored")
}

/// A metadata server with ETags: serves whatever the test last set, answers 304 to a
/// matching `If-None-Match`, and can be made slow.
#[derive(Clone, Default)]
struct MetadataServer {
    state: Arc<Mutex<ServerState>>,
}

#[derive(Default)]
struct ServerState {
    body: Vec<u8>,
    /// Bodies by request path (an MDQ responder's `/entities/{id}`); other paths get `body`.
    paths: BTreeMap<String, Vec<u8>>,
    /// Request paths in the order they arrived.
    seen: Vec<String>,
    delay_ms: u64,
    requests: usize,
    not_modified: usize,
}

impl MetadataServer {
    async fn start() -> (Self, String) {
        let server = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/metadata.xml",
            listener.local_addr().expect("addr")
        );
        let state = server.state.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let path = String::from_utf8_lossy(&request)
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let (body, delay) = {
                        let mut s = state.lock().expect("state");
                        s.requests += 1;
                        s.seen.push(path.clone());
                        let body = s.paths.get(&path).unwrap_or(&s.body).clone();
                        (body, s.delay_ms)
                    };
                    let etag = format!("\"{}\"", samlgate_domain::ids::sha256_hex(&body));
                    let matches = head.lines().any(|l| {
                        l.strip_prefix("if-none-match:")
                            .is_some_and(|v| v.trim() == etag.to_ascii_lowercase())
                    });
                    tokio::time::sleep(StdDuration::from_millis(delay)).await;
                    let reply = if matches {
                        state.lock().expect("state").not_modified += 1;
                        format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n").into_bytes()
                    } else {
                        let mut reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/samlmetadata+xml\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        reply.extend_from_slice(&body);
                        reply
                    };
                    let _ = socket.write_all(&reply).await;
                });
            }
        });
        (server, url)
    }

    fn serve(&self, body: &str) {
        self.state.lock().expect("state").body = body.as_bytes().to_vec();
    }

    fn serve_at(&self, path: &str, body: &[u8]) {
        self.state
            .lock()
            .expect("state")
            .paths
            .insert(path.to_owned(), body.to_vec());
    }
}

/// Federation metadata (issue 15 §3), made by python-xmlsec: an IdP registered by entity ID
/// from a signed aggregate larger than one IdP's metadata limit, and one from an MDQ responder
/// (`/entities/{sha1}…`, per-entity signed answers). The daily refresh applies a signed
/// certificate addition to both, and for the aggregate refuses one that no longer holds the
/// entity, one signed by another key, and one over the aggregate limit, keeping the stored
/// configuration each time.
#[tokio::test]
async fn federation_aggregates_and_mdq_register_and_refresh() {
    let h = Harness::new("rotation-federation").await;
    let mut py = XmlsecIdp::start();
    let certs = py.ok(json!({"op": "keys"}))["certs"].clone();
    let cert = |name: &str| certs[name].as_str().expect("cert").to_owned();
    h.onboard("acme", &[]).await;
    let (server, url) = MetadataServer::start().await;
    let base = url.trim_end_matches("/metadata.xml").to_owned();
    let aggregate = |py: &mut XmlsecIdp, signing: &[&str], sign_with: &str, others: usize| {
        let members = if signing.is_empty() {
            json!([])
        } else {
            json!([{"entity_id": IDP_ENTITY, "sso_url": IDP_SSO, "signing": signing}])
        };
        py.ok(json!({"op": "aggregate", "members": members, "others": others, "sign_with": sign_with}))["xml"]
            .as_str()
            .expect("xml")
            .as_bytes()
            .to_vec()
    };
    let entity = |py: &mut XmlsecIdp, signing: &[&str]| {
        py.ok(json!({"op": "metadata", "entity_id": IDP_ENTITY, "sso_url": IDP_SSO, "signing": signing, "sign_with": "m"}))["xml"]
            .as_str()
            .expect("xml")
            .as_bytes()
            .to_vec()
    };
    // More than one IdP's 512 KiB, less than the aggregate limit.
    let first = aggregate(&mut py, &["a"], "m", 700);
    assert!(
        first.len() > 512 * 1024 && first.len() < AGGREGATE_MAX_BYTES,
        "{}",
        first.len()
    );
    server.serve_at("/federation.xml", &first);
    // `printf %s https://idp.rotation.test/saml | sha1sum` (Metadata Query Protocol's {sha1}).
    let mdq_path = "/mdq/entities/%7Bsha1%7Db901b83899a588ae4e37a889c04ce540eb34e1b3".to_owned();
    server.serve_at(&mdq_path, &entity(&mut py, &["a"]));
    for (idp, body) in [
        (
            "fed",
            json!({"idp": "fed", "metadata_url": format!("{base}/federation.xml"), "entity_id": IDP_ENTITY,
                   "metadata_signing_certificates": [cert("m")]}),
        ),
        (
            "mdq",
            json!({"idp": "mdq", "mdq_url": format!("{base}/mdq"), "mdq_identifier": "sha1",
                   "entity_id": IDP_ENTITY, "metadata_signing_certificates": [cert("m")]}),
        ),
    ] {
        let reply = h.call("POST", "/admin/orgs/acme/idps", body).await;
        assert_eq!(reply.status, 201, "{idp}: {}", reply.body);
        assert_eq!(reply.body["entity_id"], IDP_ENTITY);
        let source = if idp == "fed" { "aggregate" } else { "mdq" };
        assert_eq!(reply.body["refresh"]["source"], source, "{}", reply.body);
    }
    assert!(server.state.lock().expect("s").seen.contains(&mdq_path));

    let clock = SimClock(Arc::new(Mutex::new(OffsetDateTime::now_utc())));
    let app = rotate_app(&h, &clock, h.table.clone());
    let h = &h;
    let certificates =
        |idp: &'static str| async move { stored_idp(h, "acme", idp).await.signing_certificates };
    let outcome = |out: &samlgate_rotate::RunOutput, idp: &str| {
        let r = out
            .refresh
            .idps
            .iter()
            .find(|r| r.idp.as_str() == idp)
            .expect("refreshed");
        (serde_json::to_value(&r.outcome).expect("outcome"), r.reason)
    };
    let out = run_rotate(&app).await;
    assert_eq!(outcome(&out, "fed").0, "unchanged");
    assert_eq!(outcome(&out, "mdq").0, "unchanged");

    // A signed rollover: key "b" added by the federation and by the MDQ service.
    server.serve_at(
        "/federation.xml",
        &aggregate(&mut py, &["a", "b"], "m", 700),
    );
    server.serve_at(&mdq_path, &entity(&mut py, &["a", "b"]));
    let out = run_rotate(&app).await;
    assert_eq!(
        (outcome(&out, "fed").0, outcome(&out, "mdq").0),
        (json!("applied"), json!("applied"))
    );
    assert_eq!(certificates("fed").await, vec![cert("a"), cert("b")]);
    assert_eq!(certificates("mdq").await, vec![cert("a"), cert("b")]);

    // Refused, the stored configuration kept: the entity left the aggregate, another key
    // signed it, it grew past the aggregate limit.
    let refusals: [(Vec<u8>, &str); 3] = [
        (aggregate(&mut py, &[], "m", 10), "metadata_invalid"),
        (
            aggregate(&mut py, &["a"], "x", 10),
            "metadata_signature_invalid",
        ),
        (vec![b' '; AGGREGATE_MAX_BYTES + 1], "metadata_fetch_failed"),
    ];
    for (body, reason) in refusals {
        server.serve_at("/federation.xml", &body);
        let out = run_rotate(&app).await;
        assert_eq!(
            (outcome(&out, "fed").0, outcome(&out, "fed").1),
            (json!("failed"), Some(reason)),
        );
        assert_eq!(certificates("fed").await, vec![cert("a"), cert("b")]);
    }
}

/// Refresh: unchanged (304 after the first ETag), a certificate added, one
/// removed, one that would remove every key, a changed entity ID, an expired document, a
/// wrong or missing metadata signature, an oversized and a slow document: each the right
/// outcome, the right audit reason, and the stored configuration only changed when applied.
#[tokio::test]
async fn metadata_refresh_applies_safe_changes_and_refuses_the_rest() {
    let h = Harness::new("rotation-refresh").await;
    let mut py = XmlsecIdp::start();
    let certs = py.ok(json!({"op": "keys"}))["certs"].clone();
    let cert = |name: &str| certs[name].as_str().expect("cert").to_owned();
    h.onboard("acme", &[]).await;
    let (server, url) = MetadataServer::start().await;
    let (signed_server, signed_url) = MetadataServer::start().await;
    let doc = |py: &mut XmlsecIdp, signing: &[&str], extra: Value| -> String {
        let mut request = json!({"op": "metadata", "entity_id": IDP_ENTITY, "sso_url": IDP_SSO, "signing": signing});
        if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
            r.extend(e.clone());
        }
        py.ok(request)["xml"].as_str().expect("xml").to_owned()
    };
    server.serve(&doc(&mut py, &["a"], json!({})));
    signed_server.serve(&doc(&mut py, &["a"], json!({"sign_with": "m"})));
    for (idp, metadata_url, signers) in [
        ("plain", &url, json!([])),
        ("signed", &signed_url, json!([cert("m")])),
    ] {
        let reply = h
            .call(
                "POST",
                "/admin/orgs/acme/idps",
                json!({"idp": idp, "metadata_url": metadata_url, "metadata_signing_certificates": signers}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    // Registration itself refuses a document the configured signer did not sign.
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/idps",
            json!({"idp": "wrong", "metadata_url": url, "metadata_signing_certificates": [cert("m")]}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (400, Some("metadata_invalid")),
        "{}",
        reply.body
    );

    let clock = SimClock(Arc::new(Mutex::new(OffsetDateTime::now_utc())));
    let app = rotate_app(&h, &clock, h.table.clone());
    let stored = |idp: &'static str| stored_idp(&h, "acme", idp);
    let fingerprint = |name: &str| samlgate_domain::ids::sha256_hex(&base64_decode(&cert(name)));
    let outcome_of = |output: &samlgate_rotate::RunOutput, idp: &str| -> (String, Option<String>) {
        let r = output
            .refresh
            .idps
            .iter()
            .find(|r| r.idp.as_str() == idp)
            .expect("refreshed");
        (
            serde_json::to_value(&r.outcome)
                .expect("outcome")
                .as_str()
                .expect("s")
                .to_owned(),
            r.reason.map(str::to_owned),
        )
    };
    let last_audit = |h: &Harness| {
        let h_table = h.table.clone();
        async move {
            let items: Vec<Value> = h_table
                .scan_all()
                .await
                .expect("scan")
                .into_iter()
                .filter(|i| i["action"] == "idp.metadata_refresh")
                .collect();
            items
        }
    };

    // 1. Unchanged: the first run stores the ETag, the second gets a 304.
    let out = run_rotate(&app).await;
    assert_eq!(outcome_of(&out, "plain"), ("unchanged".into(), None));
    let out = run_rotate(&app).await;
    assert_eq!(outcome_of(&out, "plain"), ("unchanged".into(), None));
    assert_eq!(server.state.lock().expect("s").not_modified, 1);
    assert!(
        last_audit(&h).await.is_empty(),
        "an unchanged document is not audited"
    );

    // 2. A certificate added (rollover begins) by unsigned metadata: held, not trusted, until
    // an org admin approves it (issue 17 §3).
    server.serve(&doc(&mut py, &["a", "b"], json!({})));
    let out = run_rotate(&app).await;
    assert_eq!(
        outcome_of(&out, "plain"),
        ("held".into(), Some("metadata_certificates_held".into()))
    );
    assert_eq!(stored("plain").await.signing_certificates, vec![cert("a")]);
    assert_eq!(
        stored("plain").await.refresh.pending_certificates,
        vec![cert("b")]
    );
    let items = last_audit(&h).await;
    assert_eq!(
        items.last().expect("audit")["facts"]["certificates_held"],
        fingerprint("b")
    );
    let view = h
        .call("GET", "/admin/orgs/acme/idps/plain", json!(null))
        .await;
    assert_eq!(
        (
            view.body["unsigned_metadata"].as_bool(),
            view.body["pending_certificates"][0]["fingerprint"].as_str()
        ),
        (Some(true), Some(fingerprint("b").as_str())),
        "{}",
        view.body
    );
    let approve = format!(
        "/admin/orgs/acme/idps/plain/pending-certificates/{}/approve",
        fingerprint("b")
    );
    let reply = h.call("POST", &approve, json!(null)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        stored("plain").await.signing_certificates,
        vec![cert("a"), cert("b")]
    );
    let reply = h.call("POST", &approve, json!(null)).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (404, Some("certificate_not_pending"))
    );

    // 3. The old certificate removed (rollover done): applied, one key remains.
    server.serve(&doc(&mut py, &["b"], json!({})));
    let out = run_rotate(&app).await;
    assert_eq!(outcome_of(&out, "plain"), ("applied".into(), None));
    assert_eq!(stored("plain").await.signing_certificates, vec![cert("b")]);
    let items = last_audit(&h).await;
    assert_eq!(
        items.last().expect("audit")["facts"]["certificates_removed"],
        fingerprint("a")
    );
    // IdP certificate "b" ends in 400 days: the expiry metric says so.
    let days = out
        .refresh
        .days_left
        .iter()
        .find(|d| d.idp.as_str() == "plain")
        .expect("days")
        .days;
    assert!((398..=400).contains(&days), "{days}");

    // 3b. Unsigned metadata that swaps the only trusted key for another: the trusted key
    // stays (a removal applies only while a trusted key remains), the new one is held; the
    // admin drops it.
    server.serve(&doc(&mut py, &["c"], json!({})));
    let out = run_rotate(&app).await;
    assert_eq!(outcome_of(&out, "plain").0, "held");
    assert_eq!(stored("plain").await.signing_certificates, vec![cert("b")]);
    let reply = h
        .call(
            "DELETE",
            &format!(
                "/admin/orgs/acme/idps/plain/pending-certificates/{}",
                fingerprint("c")
            ),
            json!(null),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(stored("plain")
        .await
        .refresh
        .pending_certificates
        .is_empty());
    server.serve(&doc(&mut py, &["b"], json!({})));
    run_rotate(&app).await;

    // 4–7. Refused: each leaves the stored configuration as it was.
    let before = stored("plain").await;
    let expired = saml::format_instant(OffsetDateTime::now_utc() - Duration::days(1));
    let cases: Vec<(String, &str)> = vec![
        (doc(&mut py, &[], json!({})), "metadata_no_signing_keys"),
        (
            doc(&mut py, &["b"], json!({"valid_until": expired})),
            "metadata_expired",
        ),
        (
            doc(&mut py, &["b", "a"], json!({})).replace(IDP_ENTITY, "https://other.test/saml"),
            "metadata_entity_changed",
        ),
        ("x".repeat(600 * 1024), "metadata_fetch_failed"),
        ("<md:EntityDescriptor".into(), "metadata_invalid"),
    ];
    for (body, reason) in cases {
        server.serve(&body);
        let out = run_rotate(&app).await;
        let (outcome, got) = outcome_of(&out, "plain");
        assert_eq!(got.as_deref(), Some(reason), "{outcome}");
        let expected = if reason == "metadata_entity_changed" {
            "held"
        } else {
            "failed"
        };
        assert_eq!(outcome, expected, "{reason}");
        let item = last_audit(&h).await.last().cloned().expect("audit");
        assert_eq!(
            (item["outcome"].as_str(), item["reason"].as_str()),
            (Some("error"), Some(reason))
        );
        assert_eq!(
            stored("plain").await,
            before,
            "{reason} changed the configuration"
        );
        assert_eq!(out.summary["idp_metadata"]["applied"], 0);
    }
    // A slow server: the fetcher's time limit (1 s here, 10 s in Lambda) ends it.
    server.serve(&doc(&mut py, &["b", "a"], json!({})));
    server.state.lock().expect("s").delay_ms = 2_000;
    let out = run_rotate(&app).await;
    assert_eq!(
        outcome_of(&out, "plain"),
        ("failed".into(), Some("metadata_fetch_failed".into()))
    );
    assert_eq!(stored("plain").await, before);
    server.state.lock().expect("s").delay_ms = 0;

    // 8. Signed metadata: a change signed by another key, or unsigned, is refused; signed by
    // the configured signer, it is applied.
    let signed_before = stored("signed").await;
    for (body, reason) in [
        (
            doc(&mut py, &["a", "b"], json!({"sign_with": "x"})),
            "metadata_signature_invalid",
        ),
        (
            doc(&mut py, &["a", "b"], json!({})),
            "metadata_signature_invalid",
        ),
    ] {
        signed_server.serve(&body);
        let out = run_rotate(&app).await;
        assert_eq!(
            outcome_of(&out, "signed"),
            ("failed".into(), Some(reason.into()))
        );
        assert_eq!(stored("signed").await, signed_before);
    }
    signed_server.serve(&doc(&mut py, &["a", "b"], json!({"sign_with": "m"})));
    let out = run_rotate(&app).await;
    assert_eq!(outcome_of(&out, "signed"), ("applied".into(), None));
    assert_eq!(
        stored("signed").await.signing_certificates,
        vec![cert("a"), cert("b")]
    );

    // The run's metrics carry the changes and failures for the alarms.
    let lines = samlgate_rotate::emf_lines(&out, 0);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"IdpMetadataChanges\":1.0") && l.contains("\"Idp\":\"signed\"")),
        "{lines:?}"
    );
}
