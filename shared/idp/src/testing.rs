//! The IdP lifecycle over the kernel's in-memory twins, for the unit tests of registration,
//! rotation, refresh and the daily run: an organisation `acme` whose IdP `okta` is registered
//! through `IdpAdmin` from a metadata URL that a twin serves (the SAML core's python-xmlsec
//! fixtures), with a clock the test moves.

use std::sync::Mutex;

use samlgate_domain::audit::{AuditEvent, Caller};
use samlgate_domain::clock::Clock;
use samlgate_domain::idp::{IdpSettings, SsoSettings};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::memory::{LocalKms, MemoryFetcher, MemoryStore};
use samlgate_domain::org::{Org, OrgStatus};
use samlgate_domain::urls::PublicUrls;
use time::{Duration, OffsetDateTime};

use crate::admin::{IdpAdmin, NewIdp};
use crate::refresh::Refresh;
use crate::rotation::Rotation;

pub const METADATA_URL: &str = "https://idp.example.com/metadata";
pub const START: OffsetDateTime = time::macros::datetime!(2026-01-01 0:00 UTC);

/// A clock the test moves.
pub struct TestClock(pub Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        self.0.lock().map(|t| *t).unwrap_or(START)
    }
}

pub fn metadata(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../saml/tests/fixtures/metadata/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn acme() -> OrgId {
    OrgId::parse("acme").unwrap()
}

pub fn okta() -> IdpId {
    IdpId::parse("okta").unwrap()
}

pub fn caller() -> Caller {
    Caller {
        actor: "test".into(),
        correlation_id: "corr-1".into(),
    }
}

pub fn org_record(org: &str, status: OrgStatus) -> Org {
    Org {
        org: OrgId::parse(org).unwrap(),
        name: org.into(),
        key_arn: format!("arn:aws:kms:us-east-1:123456789012:key/{org}"),
        byok: false,
        provision_function_arn: None,
        provision_role_arn: None,
        egress_allowlist: vec![],
        intake_key_id: "k-1".into(),
        status,
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

pub struct World {
    pub store: MemoryStore,
    pub kms: LocalKms,
    pub fetcher: MemoryFetcher,
    pub clock: TestClock,
    pub urls: PublicUrls,
}

impl World {
    /// `acme` with no IdP yet.
    pub fn empty() -> Self {
        Self {
            store: MemoryStore::default().with_org(org_record("acme", OrgStatus::Active)),
            kms: LocalKms::new().unwrap(),
            fetcher: MemoryFetcher::default(),
            clock: TestClock(Mutex::new(START)),
            urls: PublicUrls::new("https://sso.example.com", false).unwrap(),
        }
    }

    /// `acme` with `okta` registered from `METADATA_URL` (serving `idp.xml`) at `START`.
    pub async fn new() -> Self {
        let world = Self::empty();
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp.xml"), None);
        world
            .admin()
            .register_idp(&caller(), &acme(), world.new_idp())
            .await
            .unwrap();
        world
            .admin()
            .put_sso_settings(
                &caller(),
                &acme(),
                SsoSettings {
                    domain_hints: Default::default(),
                    default_idp: Some(okta()),
                    session_ttl_secs: 3600,
                    rotation: Default::default(),
                    admin_group: None,
                },
            )
            .await
            .unwrap();
        world.store.audit.lock().unwrap().clear();
        world
    }

    pub fn new_idp(&self) -> NewIdp {
        NewIdp {
            idp: "okta".into(),
            metadata_xml: None,
            metadata_url: Some(METADATA_URL.into()),
            manual: None,
            settings: IdpSettings::default(),
            metadata_signing_certificates: Vec::new(),
            ..NewIdp::default()
        }
    }

    pub fn admin(&self) -> IdpAdmin<'_> {
        IdpAdmin {
            keys: &self.kms,
            config: &self.store,
            writer: &self.store,
            fetcher: &self.fetcher,
            audit: &self.store,
            clock: &self.clock,
            urls: &self.urls,
            allow_loopback_http: false,
            aggregate_max_bytes: samlgate_domain::config::DEFAULT_METADATA_AGGREGATE_MAX_BYTES,
        }
    }

    pub fn rotation<'a>(&'a self, caller: &'a Caller) -> Rotation<'a> {
        Rotation {
            keys: &self.kms,
            config: &self.store,
            store: &self.store,
            audit: &self.store,
            clock: &self.clock,
            caller,
        }
    }

    pub fn refresh<'a>(&'a self, caller: &'a Caller) -> Refresh<'a> {
        Refresh {
            config: &self.store,
            writer: &self.store,
            fetcher: &self.fetcher,
            audit: &self.store,
            clock: &self.clock,
            caller,
            allow_loopback_http: false,
            aggregate_max_bytes: samlgate_domain::config::DEFAULT_METADATA_AGGREGATE_MAX_BYTES,
        }
    }

    /// Moves the clock to `days` after `START`.
    pub fn at_day(&self, days: i64) {
        *self.clock.0.lock().unwrap() = START + Duration::days(days);
    }

    pub fn audit(&self) -> Vec<AuditEvent> {
        self.store.audit.lock().unwrap().clone()
    }

    pub fn idp(&self) -> samlgate_domain::idp::Idp {
        self.store.idps.lock().unwrap()[&(acme(), okta())].clone()
    }
}
