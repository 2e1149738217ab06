//! The acs POST handler in-process over in-memory ports, against validation alone (the SAML
//! core's verifier on the same Response, same keys, same clock), in one run. Target: the
//! handler's overhead on a test sign-in (state, browser binding, replay, mapping, audit, the
//! result page) ≤ 20 %. And the
//! OIDC path (the ACS with the browser binding, the code, then the token endpoint with client
//! authentication and the ID token) against the same baseline: target ≤ 40 %. And the ACS
//! post with every read 2 ms away (`acs distant`): the reads that wait for one another.
//!
//!     cargo bench -p samlgate-acs

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use samlgate_domain::error::PortError;
use samlgate_domain::idp::{Idp, IdpSettings, SsoSettings};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::ports::{LoginStateStore, OrgReader, SsoConfigReader};
use samlgate_domain::session::LoginState;
use samlgate_domain::setup::DiagnosticTicket;
use samlgate_domain::sp_key::SpKey;
use support::*;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let acs = rt.block_on(Acs::new(IdpSettings::default()));
    let posted = response("samlgate_sp_entity_id");
    let form_prefix = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &posted)
        .finish();

    let metadata = saml::IdpMetadata::parse(
        &std::fs::read(fixture("metadata/idp.xml")).unwrap(),
        &saml::Limits::default(),
    )
    .unwrap();
    let verifier = saml::Verifier::new(
        &metadata,
        saml::ServiceProvider {
            entity_id: format!("{BASE}/o/acme/idp/okta/metadata"),
            acs_url: format!("{BASE}/o/acme/idp/okta/acs"),
        },
        saml::Policy::default(),
    )
    .unwrap();
    let clock = saml::FixedClock(NOW);

    let mut group = c.benchmark_group("acs");
    group.bench_function("verify only (baseline)", |b| {
        b.iter(|| {
            verifier
                .verify(posted.as_bytes(), Some(REQUEST_ID), &clock)
                .unwrap()
        })
    });
    let n = AtomicU64::new(0);
    let this_browser = format!("__Host-samlgate-login={BINDING}");
    group.bench_function("acs POST handler (in-memory ports)", |b| {
        b.iter_batched(
            || {
                let relay = format!("{:032x}", n.fetch_add(1, Ordering::Relaxed));
                acs.expect_login(&relay, "okta", NOW.unix_timestamp() + 600);
                acs.store.replay.lock().unwrap().clear();
                acs.store.sessions.lock().unwrap().clear();
                acs.store.audit.lock().unwrap().clear();
                format!("{form_prefix}&RelayState={relay}")
            },
            |body| {
                let page = rt.block_on(acs.request(samlgate_acs::HttpRequest {
                    method: "POST",
                    path: "/o/acme/idp/okta/acs",
                    body: body.as_bytes(),
                    cookie: Some(&this_browser),
                    ..Default::default()
                }));
                assert_eq!(page.status, 200, "{}", page.body);
                page
            },
            // One setup per run: the replay cache must be empty for each post.
            BatchSize::PerIteration,
        )
    });
    // The OIDC path: the ACS from the browser that started the login (binding cookie), the
    // code redirect, then the client's token request (Basic, one-time code, ES256 ID token).
    let (client_id, secret) =
        rt.block_on(acs.client(samlgate_domain::client::TokenAuthMethod::ClientSecretBasic));
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{client_id}:{}", secret.unwrap())
        )
    );
    let binding = BINDING;
    let cookie = format!("__Host-samlgate-login={binding}");
    let request = samlgate_domain::session::AuthorizeRequest {
        client_id: client_id.clone(),
        redirect_uri: CLIENT_REDIRECT.into(),
        state: Some("st".into()),
        nonce: Some("n".into()),
        code_challenge: None,
        scope: vec!["openid".into(), "email".into()],
        max_age: None,
    };
    group.bench_function("oidc: ACS then token (in-memory ports)", |b| {
        b.iter_batched(
            || {
                let relay = format!("{:032x}", n.fetch_add(1, Ordering::Relaxed));
                acs.expect_oidc_login(&relay, binding, request.clone());
                acs.store.replay.lock().unwrap().clear();
                acs.store.sessions.lock().unwrap().clear();
                acs.store.audit.lock().unwrap().clear();
                acs.store.codes.lock().unwrap().clear();
                acs.store.access_tokens.lock().unwrap().clear();
                format!("{form_prefix}&RelayState={relay}")
            },
            |body| rt.block_on(acs_then_token(&acs, &body, &cookie, &basic)),
            BatchSize::PerIteration,
        )
    });
    count_aws_calls(&rt, &acs, &client_id, &basic, &form_prefix, &request);
    // What the handler adds, piece by piece (for the note; not part of the target).
    let (_, pem) = {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        ((), pair.serialize_pem())
    };
    let signer = samlgate_sso::token::TokenSigner::from_pem(
        &pem,
        "tk-bench",
        samlgate_domain::sp_key::KeyUse::Token,
    )
    .unwrap();
    let claims = serde_json::json!({
        "iss": "https://sp.example.com/o/acme", "aud": "acme-app", "sub": "okta:alice@example.com",
        "email": "alice@example.com", "groups": ["admins", "engineering"], "org": "acme",
        "idp": "okta", "sid": "s-1", "iat": 1, "exp": 301, "nonce": "n"
    });
    group.bench_function("part: ES256 token signature", |b| {
        b.iter(|| signer.sign(&claims).unwrap())
    });
    // What the ACS decodes: the posted form with its RelayState.
    let form_body = format!("{form_prefix}&RelayState={:032x}", 7);
    group.bench_function("part: form decode of the post", |b| {
        b.iter(|| {
            samlgate_acs::form::saml_form(black_box(form_body.as_bytes()), &["SAMLResponse"])
                .unwrap()
        })
    });
    // The same decoding by the url crate (what the ACS used before: every field decoded into
    // its own string), as the baseline of the part above.
    group.bench_function("part: form decode, url crate (baseline)", |b| {
        b.iter(|| {
            url::form_urlencoded::parse(black_box(form_body.as_bytes()))
                .filter(|(name, _)| name == "SAMLResponse" || name == "RelayState")
                .map(|(_, value)| value.into_owned())
                .collect::<Vec<String>>()
        })
    });
    group.finish();
    distant_reads(c, &rt, &acs, &form_prefix, &request, &cookie);
}

/// The ACS post from the browser with `cookie` (a redirect with the code), then the client's
/// token request with `basic` (the ID token); both must succeed.
async fn acs_then_token(acs: &Acs, body: &str, cookie: &str, basic: &str) -> samlgate_acs::Page {
    let page = acs
        .request(samlgate_acs::HttpRequest {
            method: "POST",
            path: "/o/acme/idp/okta/acs",
            body: body.as_bytes(),
            cookie: Some(cookie),
            ..Default::default()
        })
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    let code = url::form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", CLIENT_REDIRECT)
        .finish();
    let tokens = acs
        .request(samlgate_acs::HttpRequest {
            method: "POST",
            path: "/o/acme/token",
            body: form.as_bytes(),
            authorization: Some(basic),
            ..Default::default()
        })
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    tokens
}

/// One whole OIDC login, warm (an earlier login filled the caches): `/authorize`, the ACS post
/// from that browser, then the token request. Every port call is counted (the in-memory ports
/// count each operation; in `shared/aws` each one is one DynamoDB or KMS request) and written
/// to `target/criterion/acs/aws_calls.json` for `scripts/bench`.
fn count_aws_calls(
    rt: &tokio::runtime::Runtime,
    acs: &Acs,
    client_id: &str,
    basic: &str,
    form_prefix: &str,
    request: &samlgate_domain::session::AuthorizeRequest,
) {
    let login = |relay: &str| {
        rt.block_on(async {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", CLIENT_REDIRECT)
                .append_pair("scope", "openid email")
                .append_pair("state", "st")
                .append_pair("nonce", "n")
                .finish();
            let authorize = acs
                .request(samlgate_acs::HttpRequest {
                    method: "GET",
                    path: "/o/acme/authorize",
                    query: &query,
                    ..Default::default()
                })
                .await;
            assert!(
                matches!(authorize.status, 200 | 302),
                "authorize: {} {}",
                authorize.status,
                authorize.body
            );
            // The login /authorize stored carries a fresh request ID; the fixture Response
            // answers REQUEST_ID, so the ACS continues a login stored for it (same shape).
            acs.expect_oidc_login(relay, BINDING, request.clone());
            acs.store.replay.lock().unwrap().clear();
            let body = format!("{form_prefix}&RelayState={relay}");
            let cookie = format!("__Host-samlgate-login={BINDING}");
            acs_then_token(acs, &body, &cookie, basic).await;
        })
    };
    login(&format!("{:032x}", u128::MAX - 1));
    acs.store.faults.reset_counts();
    acs.kms.faults.reset_counts();
    login(&format!("{:032x}", u128::MAX - 2));
    let store = acs.store.faults.calls();
    let kms = acs.kms.faults.calls();
    let ops: serde_json::Map<String, serde_json::Value> = store
        .iter()
        .map(|(op, n)| (op.to_string(), (*n).into()))
        .collect();
    let kms_calls: usize = kms.values().sum();
    let report = serde_json::json!({ "table": ops, "kms": kms_calls });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion/acs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("aws_calls.json"), report.to_string()).unwrap();
    println!("acs/aws calls per warm OIDC login: {report}");
}

/// How long a read of configuration or login state takes in [`distant_reads`]: about one
/// DynamoDB round trip inside a region.
const READ_LATENCY: std::time::Duration = std::time::Duration::from_millis(2);

/// The in-memory store, with [`READ_LATENCY`] before every read of configuration or login
/// state (the reads of the ACS; its one write stays instant).
struct Distant(std::sync::Arc<samlgate_domain::memory::MemoryStore>);

#[async_trait::async_trait]
impl OrgReader for Distant {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.get_org(org).await
    }
}

#[async_trait::async_trait]
impl SsoConfigReader for Distant {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.sso_settings(org).await
    }
    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.idp(org, idp).await
    }
    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.list_idps(org).await
    }
    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.sp_keys(org, idp).await
    }
    async fn diagnostic_ticket(
        &self,
        org: &OrgId,
        ticket_sha256: &str,
    ) -> Result<Option<DiagnosticTicket>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.diagnostic_ticket(org, ticket_sha256).await
    }
}

#[async_trait::async_trait]
impl LoginStateStore for Distant {
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError> {
        self.0.put_login(state).await
    }
    async fn get_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        tokio::time::sleep(READ_LATENCY).await;
        self.0.get_login(relay_state).await
    }
    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError> {
        self.0.take_login(relay_state).await
    }
}

/// The ACS post of an OIDC login (warm caches) when each read takes [`READ_LATENCY`]: the
/// time over the in-memory post is the reads that wait for one another. Printed as round
/// trips for the note (not a target of its own).
fn distant_reads(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    acs: &Acs,
    form_prefix: &str,
    request: &samlgate_domain::session::AuthorizeRequest,
    cookie: &str,
) {
    let app = &acs.app;
    let distant = samlgate_acs::App {
        config: std::sync::Arc::new(Distant(acs.store.clone())),
        steps: app.steps.clone(),
        logins: std::sync::Arc::new(Distant(acs.store.clone())),
        replay: app.replay.clone(),
        sessions: app.sessions.clone(),
        clients: app.clients.clone(),
        codes: app.codes.clone(),
        access: app.access.clone(),
        backchannel: app.backchannel.clone(),
        audit: app.audit.clone(),
        metrics: app.metrics.clone(),
        kms: app.kms.clone(),
        keys: app.keys.clone(),
        clock: app.clock.clone(),
        urls: app.urls.clone(),
    };
    let n = AtomicU64::new(u64::MAX / 2);
    let mut group = c.benchmark_group("acs distant");
    group.sample_size(30);
    group.bench_function("ACS post of an OIDC login, 2 ms per read", |b| {
        b.iter_batched(
            || {
                let relay = format!("{:032x}", n.fetch_add(1, Ordering::Relaxed));
                acs.expect_oidc_login(&relay, BINDING, request.clone());
                acs.store.replay.lock().unwrap().clear();
                format!("{form_prefix}&RelayState={relay}")
            },
            |body| {
                let page = rt.block_on(samlgate_acs::serve(
                    &distant,
                    &samlgate_acs::HttpRequest {
                        correlation_id: "corr-distant",
                        method: "POST",
                        path: "/o/acme/idp/okta/acs",
                        body: body.as_bytes(),
                        cookie: Some(cookie),
                        ..Default::default()
                    },
                ));
                assert_eq!(page.status, 302, "{}", page.body);
                page
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
