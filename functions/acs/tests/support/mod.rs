//! An acs over the in-memory ports, with an organisation `acme` whose IdP `okta` is registered
//! through the admin domain from the third-party fixture metadata (`shared/saml/tests/fixtures`,
//! signed by libxmlsec1), at the fixtures' instant.

use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use base64::Engine as _;
use samlgate_acs::{serve, App, HttpRequest, Page};
use samlgate_domain::audit::{AuditEvent, Caller};
use samlgate_domain::client::TokenAuthMethod;
use samlgate_domain::idp::{IdpSettings, SsoSettings};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::memory::{
    LocalKms, MemoryBackChannel, MemoryFetcher, MemoryMetrics, MemoryStore,
};
use samlgate_domain::org::{Org, OrgStatus};
use samlgate_domain::session::{AuthorizeRequest, LoginState};
use samlgate_domain::urls::PublicUrls;
use samlgate_idp::admin::{IdpAdmin, NewIdp};
use samlgate_idp::clients::{Clients, NewClient};
use samlgate_sso::KeyCache;
use serde_json::Value;

pub const BASE: &str = "https://sp.example.com";
/// The browser binding cookie's value of "this browser" (the one that started the login).
pub const BINDING: &str = "0123456789abcdef0123456789abcdef";
/// The OIDC client's one redirect URI (with a query of its own, kept).
pub const CLIENT_REDIRECT: &str = "https://app.example.com/oidc/cb?tenant=1";
pub const REQUEST_ID: &str = "_req-4f6c1b2e";
/// The fixtures' instant (manifest.json `now`).
pub const NOW: time::OffsetDateTime = time::macros::datetime!(2026-01-01 0:01 UTC);

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/saml/tests/fixtures")
        .join(path)
}

pub fn response(name: &str) -> String {
    B64.encode(std::fs::read(fixture(&format!("responses/{name}.xml"))).expect("fixture"))
}

pub struct Acs {
    pub store: Arc<MemoryStore>,
    pub kms: Arc<LocalKms>,
    pub metrics: Arc<MemoryMetrics>,
    pub app: App,
}

pub fn org() -> OrgId {
    OrgId::parse("acme").unwrap()
}

pub fn okta() -> IdpId {
    IdpId::parse("okta").unwrap()
}

impl Acs {
    pub async fn new(settings: IdpSettings) -> Self {
        let store = Arc::new(MemoryStore::default());
        let backchannel = Arc::new(MemoryBackChannel::default());
        let kms = Arc::new(LocalKms::new().unwrap());
        let metrics = Arc::new(MemoryMetrics::default());
        let urls = PublicUrls::new(BASE, false).unwrap();
        store.orgs.lock().unwrap().insert(
            org(),
            Org {
                org: org(),
                name: "Acme".into(),
                key_arn: "arn:aws:kms:us-east-1:123456789012:key/acme".into(),
                byok: false,
                provision_function_arn: None,
                provision_role_arn: None,
                egress_allowlist: vec![],
                intake_key_id: "k-1".into(),
                status: OrgStatus::Active,
                created_at: "2026-01-01T00:00:00Z".into(),
            },
        );
        let clock = saml::FixedClock(NOW);
        let admin = IdpAdmin {
            keys: kms.as_ref(),
            config: store.as_ref(),
            writer: store.as_ref(),
            fetcher: &MemoryFetcher::default(),
            audit: store.as_ref(),
            clock: &clock,
            urls: &urls,
            allow_loopback_http: false,
            aggregate_max_bytes: samlgate_domain::config::DEFAULT_METADATA_AGGREGATE_MAX_BYTES,
        };
        let caller = Caller {
            actor: "test".into(),
            correlation_id: "setup".into(),
        };
        let metadata = std::fs::read_to_string(fixture("metadata/idp.xml")).unwrap();
        admin
            .register_idp(
                &caller,
                &org(),
                NewIdp {
                    idp: "okta".into(),
                    metadata_xml: Some(metadata),
                    metadata_url: None,
                    manual: None,
                    settings,
                    metadata_signing_certificates: Vec::new(),
                    ..NewIdp::default()
                },
            )
            .await
            .expect("register the IdP");
        admin
            .put_sso_settings(
                &caller,
                &org(),
                SsoSettings {
                    domain_hints: Default::default(),
                    default_idp: Some(okta()),
                    session_ttl_secs: 3600,
                    rotation: Default::default(),
                    admin_group: None,
                },
            )
            .await
            .expect("SSO settings");
        store.audit.lock().unwrap().clear();
        let app = App {
            config: store.clone(),
            steps: store.clone(),
            logins: store.clone(),
            replay: store.clone(),
            sessions: store.clone(),
            clients: store.clone(),
            codes: store.clone(),
            access: store.clone(),
            backchannel: backchannel.clone(),
            audit: store.clone(),
            metrics: metrics.clone(),
            kms: kms.clone(),
            keys: Arc::new(KeyCache::default()),
            clock: Arc::new(clock),
            urls,
        };
        Self {
            store,
            kms,
            metrics,
            app,
        }
    }

    /// A test sign-in in flight, as `/login` would have stored it for this browser
    /// ([`BINDING`]).
    pub fn expect_login(&self, relay_state: &str, idp: &str, expires_at: i64) {
        self.store_login(
            relay_state,
            IdpId::parse(idp).unwrap(),
            expires_at,
            None,
            BINDING,
        );
    }

    /// The same, started with a diagnostic ticket (its failure shows its reason).
    pub fn expect_diagnostic_login(&self, relay_state: &str, idp: &str, expires_at: i64) {
        self.expect_login(relay_state, idp, expires_at);
        if let Some(state) = self.store.logins.lock().unwrap().get_mut(relay_state) {
            state.diagnostics = true;
        }
    }

    /// A login in flight for `REQUEST_ID` at `idp`, bound to the browser whose binding cookie
    /// is `binding`; `authorize` is the OIDC request (none: a test sign-in).
    fn store_login(
        &self,
        relay_state: &str,
        idp: IdpId,
        expires_at: i64,
        authorize: Option<AuthorizeRequest>,
        binding: &str,
    ) {
        self.store.logins.lock().unwrap().insert(
            relay_state.into(),
            LoginState {
                purpose: Default::default(),
                relay_state: relay_state.into(),
                org: org(),
                idp,
                request_id: REQUEST_ID.into(),
                return_to: String::new(),
                expires_at,
                authorize,
                browser: Some(samlgate_domain::ids::sha256_hex(binding.as_bytes())),
                diagnostics: false,
            },
        );
    }

    /// The Response posted to the ACS from this browser (its binding cookie is [`BINDING`]).
    pub async fn post(&self, response: &str, relay_state: Option<&str>) -> Page {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("SAMLResponse", response);
        if let Some(r) = relay_state {
            form.append_pair("RelayState", r);
        }
        let body = form.finish();
        let cookie = format!("__Host-samlgate-login={BINDING}");
        self.request(HttpRequest {
            method: "POST",
            path: "/o/acme/idp/okta/acs",
            body: body.as_bytes(),
            cookie: Some(&cookie),
            ..HttpRequest::default()
        })
        .await
    }

    /// A registered client of `acme` with `method`: its ID and (confidential) secret.
    pub async fn client(&self, method: TokenAuthMethod) -> (String, Option<String>) {
        self.client_with(method, None).await
    }

    /// A registered client with an `initiate_login_uri` (OIDC Core §4) if one is given.
    pub async fn client_with(
        &self,
        method: TokenAuthMethod,
        initiate_login_uri: Option<&str>,
    ) -> (String, Option<String>) {
        let clock = saml::FixedClock(NOW);
        let clients = Clients {
            orgs: self.store.as_ref(),
            reader: self.store.as_ref(),
            writer: self.store.as_ref(),
            audit: self.store.as_ref(),
            clock: &clock,
            allow_loopback_http: false,
        };
        let caller = Caller {
            actor: "test".into(),
            correlation_id: "setup".into(),
        };
        let view = clients
            .register(
                &caller,
                &org(),
                NewClient {
                    name: "Acme app".into(),
                    redirect_uris: vec![CLIENT_REDIRECT.into()],
                    post_logout_redirect_uris: vec![],
                    backchannel_logout_uri: None,
                    initiate_login_uri: initiate_login_uri.map(str::to_owned),
                    token_endpoint_auth_method: method,
                    id_token_signed_response_alg: Default::default(),
                },
            )
            .await
            .expect("register the client");
        self.store.audit.lock().unwrap().clear();
        (view.client_id, view.client_secret)
    }

    /// An OIDC login in flight, as `/authorize` would have stored it, bound to the browser
    /// whose binding cookie is `binding`.
    pub fn expect_oidc_login(&self, relay_state: &str, binding: &str, request: AuthorizeRequest) {
        let expires_at = NOW.unix_timestamp() + 600;
        self.store_login(relay_state, okta(), expires_at, Some(request), binding);
    }

    /// The Response posted to the ACS from a browser sending `cookie`.
    pub async fn post_with_cookie(
        &self,
        response: &str,
        relay_state: &str,
        cookie: Option<&str>,
    ) -> Page {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("SAMLResponse", response);
        form.append_pair("RelayState", relay_state);
        let body = form.finish();
        self.request(HttpRequest {
            method: "POST",
            path: "/o/acme/idp/okta/acs",
            body: body.as_bytes(),
            cookie,
            ..HttpRequest::default()
        })
        .await
    }

    /// One request, correlation ID `corr-1`.
    pub async fn request(&self, request: HttpRequest<'_>) -> Page {
        serve(
            &self.app,
            &HttpRequest {
                correlation_id: "corr-1",
                ..request
            },
        )
        .await
    }

    pub fn audit(&self) -> Vec<AuditEvent> {
        self.store.audit.lock().unwrap().clone()
    }

    /// The reason code of the last audit item (`None` if it recorded success).
    pub fn last_reason(&self) -> Option<String> {
        self.audit().last().expect("an audit item").reason.clone()
    }
}

pub fn state(c: char) -> String {
    std::iter::repeat_n(c, 32).collect()
}

/// The hidden fields of an auto-post page.
pub fn form_fields(page: &Page) -> Vec<(String, String)> {
    page.body
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once("\" value=\"").unwrap();
            let value = rest.split_once('"').unwrap().0;
            (
                name.to_owned(),
                value.replace("&quot;", "\"").replace("&amp;", "&"),
            )
        })
        .collect()
}

/// The claims of a JWT (payload only; the signature is checked by PyJWT in the e2e suite).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
