//! One-time use of assertions (SAML Profiles §4.1.4.5) as a type. The verifier proves an
//! assertion authentic and says what must be remembered ([`saml::VerifiedAssertion::replay_key`]);
//! only recording that key turns it into the [`FreshAssertion`] a login's result takes.
//! [`FreshAssertion::record`] records it alone ([`ReplayStore::insert_once`]: logout, the
//! CLI); the ACS uses [`FreshAssertion::record_with_login`], which records it in the same write
//! as everything the login issues (session, code, audit item), so that nothing issued exists
//! for an assertion whose use was not recorded, and nothing is recorded for a login that
//! issued nothing. A code path that skipped the record has no result to hand back.

use std::ops::Deref;

use saml::VerifiedAssertion;

use crate::audit::AuditEvent;
use crate::grant::AuthCode;
use crate::ids::OrgId;
use crate::ports::{FinishRefused, FinishedLogin, LoginSteps, ReplayMark, ReplayStore};
use crate::session::Session;

/// Why [`FreshAssertion::record_with_login`] wrote nothing.
#[derive(Debug)]
pub enum NotRecorded {
    /// The login in flight was taken by another post of its RelayState.
    LoginTaken,
    /// `replayed`, or `replay_cache_unavailable` (fail closed: freshness is unproven).
    Assertion(saml::Error),
}

/// What an ACS login writes besides the assertion's record.
#[derive(Debug, Clone, Copy)]
pub struct LoginOutcome<'a> {
    /// The login in flight the Response answers (`None`: unsolicited).
    pub relay_state: Option<&'a str>,
    /// An OIDC login's session and code (the hash of its value, and its record).
    pub issued: Option<(&'a Session, &'a str, &'a AuthCode)>,
    pub audit: &'a AuditEvent,
}

#[derive(Debug)]
pub struct FreshAssertion(VerifiedAssertion);

impl FreshAssertion {
    /// Records the assertion's ID under `org` until it could no longer validate anyway
    /// (`NotOnOrAfter` plus the IdP's clock skew). A second use is `replayed`; a store that
    /// cannot answer is `replay_cache_unavailable` (fail closed: freshness is unproven).
    pub async fn record(
        store: &dyn ReplayStore,
        org: &OrgId,
        assertion: VerifiedAssertion,
    ) -> Result<Self, saml::Error> {
        let key = assertion.replay_key();
        let first = store
            .insert_once(
                org,
                key.issuer,
                key.assertion_id,
                key.until.unix_timestamp(),
            )
            .await;
        match first {
            Ok(true) => Ok(Self(assertion)),
            Ok(false) => Err(saml::Error::Replayed(key.assertion_id.to_owned())),
            Err(e) => Err(saml::Error::ReplayCacheUnavailable(e.to_string())),
        }
    }
}

impl FreshAssertion {
    /// The ACS's record: the assertion's ID, with the login it answers taken and what it
    /// issued written, in one write ([`LoginSteps::finish_login`]): all of it or none. The
    /// ID is kept as long as [`FreshAssertion::record`] keeps it.
    pub async fn record_with_login(
        steps: &dyn LoginSteps,
        org: &OrgId,
        assertion: VerifiedAssertion,
        outcome: LoginOutcome<'_>,
    ) -> Result<Self, NotRecorded> {
        let key = assertion.replay_key();
        let login = FinishedLogin {
            relay_state: outcome.relay_state,
            replay: ReplayMark {
                org,
                issuer: key.issuer,
                assertion_id: key.assertion_id,
                expires_at: key.until.unix_timestamp(),
            },
            issued: outcome.issued,
            audit: outcome.audit,
        };
        match steps.finish_login(&login).await {
            Ok(Ok(())) => Ok(Self(assertion)),
            Ok(Err(FinishRefused::LoginTaken)) => Err(NotRecorded::LoginTaken),
            Ok(Err(FinishRefused::Replayed)) => Err(NotRecorded::Assertion(saml::Error::Replayed(
                key.assertion_id.to_owned(),
            ))),
            Err(e) => Err(NotRecorded::Assertion(saml::Error::ReplayCacheUnavailable(
                e.to_string(),
            ))),
        }
    }
}

impl Deref for FreshAssertion {
    type Target = VerifiedAssertion;

    fn deref(&self) -> &VerifiedAssertion {
        &self.0
    }
}

/// The verifier's own fixtures (python-xmlsec signed, `../saml/tests/fixtures`), with their
/// instant injected: one-time use over the real verifier.
#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use saml::{FixedClock, IdpMetadata, Limits, Policy, ServiceProvider, Verifier};

    use super::*;
    use crate::error::{PortError, PortErrorKind};

    const REQUEST_ID: &str = "_req-4f6c1b2e";

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../saml/tests/fixtures/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn verifier() -> (Verifier, Vec<u8>, FixedClock) {
        let metadata =
            IdpMetadata::parse(&fixture("metadata/idp.xml"), &Limits::default()).unwrap();
        let sp = ServiceProvider {
            entity_id: "https://sp.example.com/saml/metadata".into(),
            acs_url: "https://sp.example.com/o/acme/idp/okta/acs".into(),
        };
        let verifier = Verifier::new(&metadata, sp, Policy::default()).unwrap();
        let clock = FixedClock(saml::parse_instant("2026-01-01T00:01:00Z").unwrap());
        (verifier, fixture("responses/response_signed.xml"), clock)
    }

    /// A replay store that remembers (the DynamoDB one is a conditional put).
    #[derive(Default)]
    struct Seen(Mutex<BTreeSet<(OrgId, String, String)>>);

    #[async_trait::async_trait]
    impl ReplayStore for Seen {
        async fn insert_once(
            &self,
            org: &OrgId,
            issuer: &str,
            assertion_id: &str,
            _expires_at: i64,
        ) -> Result<bool, PortError> {
            let key = (org.clone(), issuer.to_owned(), assertion_id.to_owned());
            Ok(self.0.lock().unwrap().insert(key))
        }
    }

    struct Unavailable;

    #[async_trait::async_trait]
    impl ReplayStore for Unavailable {
        async fn insert_once(
            &self,
            _: &OrgId,
            _: &str,
            _: &str,
            _: i64,
        ) -> Result<bool, PortError> {
            Err(PortError::new(
                PortErrorKind::Timeout,
                "dynamodb:PutItem",
                "timed out",
            ))
        }
    }

    async fn login(
        verifier: &Verifier,
        input: &[u8],
        clock: &FixedClock,
        store: &dyn ReplayStore,
    ) -> Result<FreshAssertion, saml::Error> {
        let org = OrgId::parse("acme").unwrap();
        let verified = verifier.verify(input, Some(REQUEST_ID), clock)?;
        FreshAssertion::record(store, &org, verified).await
    }

    #[tokio::test]
    async fn the_same_assertion_is_accepted_once() {
        let (verifier, input, clock) = verifier();
        let store = Seen::default();
        assert!(login(&verifier, &input, &clock, &store).await.is_ok());
        let again = login(&verifier, &input, &clock, &store).await;
        assert_eq!(again.map_err(|e| e.code()).err(), Some("replayed"));
    }

    #[tokio::test]
    async fn an_expired_replay_entry_is_forgotten_but_the_assertion_is_then_expired() {
        let (verifier, input, clock) = verifier();
        let store = Seen::default();
        assert!(login(&verifier, &input, &clock, &store).await.is_ok());
        // DynamoDB's TTL removed the entry once it expired: the verifier refuses anyway.
        store.0.lock().unwrap().clear();
        let later = FixedClock(clock.0 + time::Duration::hours(1));
        let again = login(&verifier, &input, &later, &store).await;
        assert_eq!(again.map_err(|e| e.code()).err(), Some("expired"));
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_rejects() {
        let (verifier, input, clock) = verifier();
        let got = login(&verifier, &input, &clock, &Unavailable).await;
        assert_eq!(
            got.map_err(|e| e.code()).err(),
            Some("replay_cache_unavailable")
        );
    }

    #[tokio::test]
    async fn the_entry_lives_until_the_assertion_could_no_longer_validate() {
        let (verifier, input, clock) = verifier();
        let verified = verifier.verify(&input, Some(REQUEST_ID), &clock).unwrap();
        let key = verified.replay_key();
        assert_eq!(key.issuer, "https://idp.example.com/saml");
        assert_eq!(key.assertion_id, verified.assertion_id());
        assert_eq!(
            key.until,
            verified.not_on_or_after() + std::time::Duration::from_secs(180)
        );
    }
}
