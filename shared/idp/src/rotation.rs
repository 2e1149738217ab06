//! SP key rotation (DESIGN.md §4): every day, for every organisation, IdP and
//! key use (signing, encryption), the keys move along `next → active → retiring → retired`
//! on the organisation's calendar ([`RotationPolicy`], defaults after Cognito: long-lived
//! certificates, a new key every year, the previous one still valid for a while).
//!
//! - A `next` key is published in metadata at least `publish_next_days` before it signs, so
//!   an IdP that reads our metadata monthly has it before it matters.
//! - The previous key stays published and still decrypts for `retire_after_days`, so an IdP
//!   still encrypting to it keeps working.
//! - Each step is one conditional write (a transaction where two keys change together): two
//!   overlapping runs cannot both publish a key, and a run that stops half-way leaves every
//!   set with exactly one active key. What a run decides is a pure function ([`plan`]) of
//!   the keys, the policy and the injected clock.

use std::collections::BTreeMap;

use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::ports::{AuditLog, GenerateDataKey, SpKeyStore, SsoConfigReader};
use samlgate_domain::sp_key::{KeyState, KeyUse, RotationPolicy, SpKey};
use samlgate_domain::{PortError, PortErrorKind, VaultError};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::sp_key;

/// One step for one set of keys (an IdP's signing keys, or its encryption keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Generate a `next` key and publish it (the active key names it as successor).
    Publish { active: String },
    /// The `next` key becomes active; the active one (if any: a repair) becomes retiring.
    Promote {
        next: String,
        active: Option<String>,
    },
    /// A retiring key is retired (no longer published, no longer decrypts).
    Retire { key: String },
    /// The set has neither an active nor a next key (a repair): generate an active one.
    Replace,
}

/// The token keys' calendar (issue 18): a new key as often as the organisation's SP keys,
/// published in the JWKS 7 days before it signs (relying parties cache JWKS for hours, not
/// months), and the previous one kept a day after the handover (every ID token lives 5
/// minutes, a logout token 2; an `id_token_hint` signed by a retired key is refused).
pub fn token_policy(policy: &RotationPolicy) -> RotationPolicy {
    RotationPolicy {
        rotate_after_days: policy.rotate_after_days,
        publish_next_days: TOKEN_PUBLISH_NEXT_DAYS,
        retire_after_days: TOKEN_RETIRE_AFTER_DAYS,
    }
}

/// Days a token key's successor is in the JWKS before it signs.
pub const TOKEN_PUBLISH_NEXT_DAYS: u32 = 7;
/// Days a token key stays in the JWKS after its successor took over.
pub const TOKEN_RETIRE_AFTER_DAYS: u32 = 1;

/// An active key whose certificate ends within this is replaced even if its successor has
/// not yet been published for `publish_next_days`: a short overlap beats an expired key.
const EMERGENCY_DAYS: i64 = 7;

/// What today's run does to one set of keys (all of one IdP and one use).
pub fn plan(keys: &[&SpKey], policy: &RotationPolicy, now: OffsetDateTime) -> Vec<Step> {
    let mut steps = Vec::new();
    for key in keys.iter().filter(|k| k.state == KeyState::Retiring) {
        let since = key.retiring_since.as_deref().and_then(saml::parse_instant);
        let done = since.is_none_or(|s| now >= s + RotationPolicy::days(policy.retire_after_days));
        let expired = key.not_after().is_none_or(|end| now >= end);
        if done || expired {
            steps.push(Step::Retire {
                key: key.id.clone(),
            });
        }
    }
    // Newest first, so that a doubled state (never written by us) resolves to the newest.
    let newest = |state: KeyState| {
        keys.iter()
            .filter(|k| k.state == state)
            .max_by(|a, b| a.created_at.cmp(&b.created_at))
    };
    let (active, next) = (newest(KeyState::Active), newest(KeyState::Next));
    match (active, next) {
        (None, None) => steps.push(Step::Replace),
        (None, Some(next)) => steps.push(Step::Promote {
            next: next.id.clone(),
            active: None,
        }),
        (Some(active), next) => {
            let activated = active.activated().unwrap_or(now);
            let end = active.not_after().unwrap_or(now);
            let due = std::cmp::min(
                activated + RotationPolicy::days(policy.rotate_after_days),
                end - RotationPolicy::days(policy.retire_after_days),
            );
            match next {
                Some(next) => {
                    let published = saml::parse_instant(&next.created_at).unwrap_or(now);
                    let announced =
                        now >= published + RotationPolicy::days(policy.publish_next_days);
                    let emergency = now >= end - Duration::days(EMERGENCY_DAYS);
                    if (now >= due && announced) || emergency {
                        steps.push(Step::Promote {
                            next: next.id.clone(),
                            active: Some(active.id.clone()),
                        });
                    }
                }
                None if now >= due - RotationPolicy::days(policy.publish_next_days) => {
                    steps.push(Step::Publish {
                        active: active.id.clone(),
                    })
                }
                None => {}
            }
        }
    }
    steps
}

/// What a run did, for its result and its metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RotationReport {
    pub orgs: usize,
    pub idps: usize,
    /// Steps written by this run.
    pub published: usize,
    pub activated: usize,
    pub retired: usize,
    pub replaced: usize,
    /// Steps another run had already written (a failed condition): not errors.
    pub already_done: usize,
    /// Sets whose step failed (each audited with its reason; the next run retries).
    pub failures: usize,
    /// Per organisation and IdP: steps written, failures, and days until the earliest
    /// published SP certificate ends.
    pub per_idp: Vec<SpIdpReport>,
    /// Token key steps written (included in the counts above).
    pub token_rotations: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpIdpReport {
    pub org: OrgId,
    pub idp: IdpId,
    pub rotations: usize,
    pub failures: usize,
    pub days_left: Option<i64>,
}

impl RotationReport {
    fn steps_written(&self) -> usize {
        self.published + self.activated + self.retired + self.replaced
    }
}

/// rotate's capabilities for SP keys: wrap new keys (never decrypt), conditional writes.
pub struct Rotation<'a> {
    pub keys: &'a dyn GenerateDataKey,
    pub config: &'a dyn SsoConfigReader,
    pub store: &'a dyn SpKeyStore,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub caller: &'a Caller,
}

impl Rotation<'_> {
    /// One organisation's IdPs (rotate's run lists them once for rotation and refresh).
    pub async fn org(&self, org: &Org, idps: &[IdpId], report: &mut RotationReport) {
        report.orgs += 1;
        let policy = match self.config.sso_settings(&org.org).await {
            Ok(settings) => settings.map(|s| s.rotation).unwrap_or_default(),
            Err(e) => {
                report.failures += 1;
                tracing::error!(code = "rotation_failed", org = %org.org, error = %e, "rotation of an organisation failed");
                return;
            }
        };
        let written = report.steps_written();
        if let Err(e) = self.tokens(org, &token_policy(&policy), report).await {
            report.failures += 1;
            tracing::error!(code = "rotation_failed", org = %org.org, error = %e, "rotation of the token keys failed");
        }
        report.token_rotations += report.steps_written() - written;
        for idp in idps {
            report.idps += 1;
            let (written, failed) = (report.steps_written(), report.failures);
            let result = self.idp(org, idp, &policy, report).await;
            let mut failures = report.failures - failed;
            let days_left = match &result {
                Ok(days) => *days,
                Err(e) => {
                    failures += 1;
                    report.failures += 1;
                    tracing::error!(code = "rotation_failed", org = %org.org, idp = %idp, error = %e, "rotation of an IdP's keys failed");
                    None
                }
            };
            report.per_idp.push(SpIdpReport {
                org: org.org.clone(),
                idp: idp.clone(),
                rotations: report.steps_written() - written,
                failures,
                days_left,
            });
        }
    }

    /// Plans and writes both key sets of one IdP from one read; returns the days left on its
    /// earliest published certificate afterwards.
    async fn idp(
        &self,
        org: &Org,
        idp: &IdpId,
        policy: &RotationPolicy,
        report: &mut RotationReport,
    ) -> Result<Option<i64>, PortError> {
        let keys = self.config.sp_keys(&org.org, Some(idp)).await?;
        let written = report.steps_written();
        for usage in [KeyUse::Signing, KeyUse::Encryption] {
            let set: Vec<&SpKey> = keys.iter().filter(|k| k.usage == usage).collect();
            for step in plan(&set, policy, self.clock.now()) {
                self.apply(org, Some(idp), usage, &set, step, report).await;
            }
        }
        let keys = if report.steps_written() == written {
            keys
        } else {
            self.config.sp_keys(&org.org, Some(idp)).await?
        };
        Ok(days_left(&keys, self.clock.now()))
    }

    /// The organisation's token keys (ES256 and RS256), one set each, on `policy` (the token
    /// calendar). An organisation without token keys (no IdP registered yet) has none to
    /// rotate.
    async fn tokens(
        &self,
        org: &Org,
        policy: &RotationPolicy,
        report: &mut RotationReport,
    ) -> Result<(), PortError> {
        let keys = self.config.sp_keys(&org.org, None).await?;
        for usage in [KeyUse::Token, KeyUse::TokenRsa] {
            let set: Vec<&SpKey> = keys.iter().filter(|k| k.usage == usage).collect();
            if set.is_empty() {
                continue;
            }
            for step in plan(&set, policy, self.clock.now()) {
                self.apply(org, None, usage, &set, step, report).await;
            }
        }
        Ok(())
    }

    async fn apply(
        &self,
        org: &Org,
        idp: Option<&IdpId>,
        usage: KeyUse,
        set: &[&SpKey],
        step: Step,
        report: &mut RotationReport,
    ) {
        let mut facts = BTreeMap::from([("usage".to_owned(), usage.as_str().to_owned())]);
        if let Some(idp) = idp {
            facts.insert("idp".to_owned(), idp.to_string());
        }
        let (action, result) = match self.write(org, idp, usage, set, &step, &mut facts).await {
            Ok(action) => (action, Ok(())),
            Err((action, e)) => (action, Err(e)),
        };
        match &result {
            Ok(()) => match step {
                Step::Publish { .. } => report.published += 1,
                Step::Promote { .. } => report.activated += 1,
                Step::Retire { .. } => report.retired += 1,
                Step::Replace => report.replaced += 1,
            },
            Err(e) if e.kind == PortErrorKind::Conflict => {
                // Another run wrote this step first: nothing to record twice.
                report.already_done += 1;
                return;
            }
            Err(_) => report.failures += 1,
        }
        let auditor = Auditor {
            log: self.audit,
            clock: self.clock,
        };
        let reason = result.as_ref().err().map(|e| match e.kind {
            PortErrorKind::Throttled | PortErrorKind::Timeout => "rotation_retry_later",
            _ => "rotation_failed",
        });
        if let Err(e) = &result {
            let idp = idp.map(IdpId::to_string).unwrap_or_default();
            tracing::error!(code = reason, org = %org.org, idp, usage = usage.as_str(), error = %e, "rotation step failed");
        }
        auditor
            .keep(auditor.event_with_reason(&org.org, self.caller, action, None, reason, facts))
            .await;
    }

    /// Writes one step; returns its audit action.
    async fn write(
        &self,
        org: &Org,
        idp: Option<&IdpId>,
        usage: KeyUse,
        set: &[&SpKey],
        step: &Step,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<&'static str, (&'static str, PortError)> {
        let now = self.clock.now();
        let stamp = format_instant(now);
        // Token keys (no IdP) are audited under their own actions.
        let find = |id: &str| set.iter().find(|k| k.id == id).map(|k| (*k).clone());
        let missing = |action| {
            (
                action,
                PortError::new(PortErrorKind::Other, "rotation", "key vanished"),
            )
        };
        match step {
            Step::Publish { active } => {
                let action: &'static str = if idp.is_some() {
                    "sp_key.publish"
                } else {
                    "token_key.publish"
                };
                let mut active = find(active).ok_or_else(|| missing(action))?;
                let next = self
                    .generate(org, idp, usage, KeyState::Next)
                    .await
                    .map_err(|e| (action, e))?;
                facts.insert("key".into(), next.id.clone());
                facts.insert("not_after".into(), next.not_after.clone());
                active.successor = Some(next.id.clone());
                self.store
                    .publish_next(&active, &next)
                    .await
                    .map_err(|e| (action, e))?;
                Ok(action)
            }
            Step::Promote { next, active } => {
                let action: &'static str = if idp.is_some() {
                    "sp_key.activate"
                } else {
                    "token_key.activate"
                };
                let mut next = find(next).ok_or_else(|| missing(action))?;
                facts.insert("key".into(), next.id.clone());
                next.state = KeyState::Active;
                next.activated_at = Some(stamp.clone());
                let previous = match active {
                    Some(id) => {
                        let mut previous = find(id).ok_or_else(|| missing(action))?;
                        facts.insert("previous".into(), previous.id.clone());
                        previous.state = KeyState::Retiring;
                        previous.retiring_since = Some(stamp);
                        Some(previous)
                    }
                    None => None,
                };
                self.store
                    .promote(&next, previous.as_ref())
                    .await
                    .map_err(|e| (action, e))?;
                Ok(action)
            }
            Step::Retire { key } => {
                let action: &'static str = if idp.is_some() {
                    "sp_key.retire"
                } else {
                    "token_key.retire"
                };
                let mut key = find(key).ok_or_else(|| missing(action))?;
                facts.insert("key".into(), key.id.clone());
                key.state = KeyState::Retired;
                self.store.retire(&key).await.map_err(|e| (action, e))?;
                Ok(action)
            }
            Step::Replace => {
                let action: &'static str = if idp.is_some() {
                    "sp_key.replace"
                } else {
                    "token_key.replace"
                };
                let key = self
                    .generate(org, idp, usage, KeyState::Active)
                    .await
                    .map_err(|e| (action, e))?;
                facts.insert("key".into(), key.id.clone());
                self.store.insert_key(&key).await.map_err(|e| (action, e))?;
                Ok(action)
            }
        }
    }

    async fn generate(
        &self,
        org: &Org,
        idp: Option<&IdpId>,
        usage: KeyUse,
        state: KeyState,
    ) -> Result<SpKey, PortError> {
        let now = self.clock.now();
        match idp {
            Some(idp) => sp_key::generate_saml_key(self.keys, org, idp, usage, state, now).await,
            None => sp_key::generate_token_key(self.keys, org, usage, state, now).await,
        }
        .map_err(|e| match e {
            VaultError::Port(p) => p,
            other => PortError::new(PortErrorKind::Other, "rotation", other.code()),
        })
    }
}

/// Whole days until the earliest published certificate among `keys` ends.
pub fn days_left(keys: &[SpKey], now: OffsetDateTime) -> Option<i64> {
    keys.iter()
        .filter(|k| k.published() && !k.usage.is_token())
        .filter_map(SpKey::not_after)
        .map(|end| (end - now).whole_days())
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use samlgate_domain::sp_key::CERT_DAYS;

    fn at(day: i64) -> OffsetDateTime {
        time::macros::datetime!(2027-01-01 00:00 UTC) + Duration::days(day)
    }

    fn key(id: &str, state: KeyState, created: i64) -> SpKey {
        SpKey {
            org: OrgId::parse("acme").unwrap(),
            idp: Some(IdpId::parse("okta").unwrap()),
            usage: KeyUse::Signing,
            id: id.into(),
            certificate: None,
            public_jwk: None,
            wrapped_private_key: samlgate_domain::envelope::Envelope {
                v: 1,
                alg: String::new(),
                kms_key: String::new(),
                ctx: Default::default(),
                edk: String::new(),
                iv: String::new(),
                ct: String::new(),
            },
            state,
            not_after: format_instant(at(created + CERT_DAYS)),
            created_at: format_instant(at(created)),
            activated_at: None,
            retiring_since: None,
            successor: None,
        }
    }

    #[test]
    fn the_default_calendar_is_valid_and_bounds_are_enforced() {
        RotationPolicy::default().validate().unwrap();
        for bad in [
            RotationPolicy {
                publish_next_days: 29,
                ..Default::default()
            },
            RotationPolicy {
                retire_after_days: 6,
                ..Default::default()
            },
            RotationPolicy {
                rotate_after_days: 900,
                publish_next_days: 180,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_year_old_key_gets_a_successor_30_days_ahead_then_hands_over() {
        let policy = RotationPolicy::default();
        let a = key("a", KeyState::Active, 0);
        assert!(plan(&[&a], &policy, at(334)).is_empty());
        assert_eq!(
            plan(&[&a], &policy, at(335)),
            vec![Step::Publish { active: "a".into() }]
        );
        let n = key("n", KeyState::Next, 335);
        // Due on day 365; the successor was published on day 335: exactly 30 days.
        assert!(plan(&[&a, &n], &policy, at(364)).is_empty());
        assert_eq!(
            plan(&[&a, &n], &policy, at(365)),
            vec![Step::Promote {
                next: "n".into(),
                active: Some("a".into())
            }]
        );
    }

    #[test]
    fn a_late_successor_waits_its_30_days_unless_the_active_key_is_expiring() {
        let policy = RotationPolicy::default();
        let a = key("a", KeyState::Active, 0);
        let n = key("n", KeyState::Next, 400);
        assert!(plan(&[&a, &n], &policy, at(429)).is_empty());
        assert_eq!(plan(&[&a, &n], &policy, at(430)).len(), 1);
        // Seven days before the active certificate ends, the successor takes over anyway.
        let n = key("n", KeyState::Next, CERT_DAYS - 10);
        assert!(matches!(
            plan(&[&a, &n], &policy, at(CERT_DAYS - 7))[..],
            [Step::Promote { .. }]
        ));
    }

    #[test]
    fn retiring_keys_retire_after_the_overlap_and_broken_sets_are_repaired() {
        let policy = RotationPolicy::default();
        let mut r = key("r", KeyState::Retiring, 0);
        r.retiring_since = Some(format_instant(at(365)));
        let a = key("a", KeyState::Active, 335);
        assert!(plan(&[&r, &a], &policy, at(394)).is_empty());
        assert_eq!(
            plan(&[&r, &a], &policy, at(395)),
            vec![Step::Retire { key: "r".into() }]
        );
        let n = key("n", KeyState::Next, 10);
        assert_eq!(
            plan(&[&n], &policy, at(11)),
            vec![Step::Promote {
                next: "n".into(),
                active: None
            }]
        );
        let gone = key("g", KeyState::Retired, 0);
        assert_eq!(plan(&[&gone], &policy, at(11)), vec![Step::Replace]);
    }
}

/// Runs over the kernel's twins: the calendar's steps written as conditional writes, a step
/// another run wrote first, and failures audited with their reason and retried the next day.
#[cfg(test)]
mod runs {
    use samlgate_domain::sp_key::KeyState;
    use samlgate_domain::PortErrorKind::{AccessDenied, Conflict, Throttled};

    use super::*;
    use crate::testing::{caller, okta, World};

    async fn run(world: &World) -> RotationReport {
        let caller = caller();
        let org = world.store.orgs.lock().unwrap()[&crate::testing::acme()].clone();
        let mut report = RotationReport::default();
        world
            .rotation(&caller)
            .org(&org, &[okta()], &mut report)
            .await;
        report
    }

    fn states(world: &World, usage: KeyUse) -> Vec<KeyState> {
        let mut states: Vec<KeyState> = world
            .store
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.usage == usage)
            .map(|k| k.state)
            .collect();
        states.sort_by_key(|s| format!("{s:?}"));
        states
    }

    #[tokio::test]
    async fn the_calendar_publishes_promotes_and_retires_each_set() {
        let world = World::new().await;
        world.at_day(334);
        assert_eq!(run(&world).await.published, 0);
        world.at_day(335);
        let report = run(&world).await;
        assert_eq!((report.published, report.failures), (2, 0));
        assert_eq!(
            states(&world, KeyUse::Signing),
            [KeyState::Active, KeyState::Next]
        );
        world.at_day(365);
        assert_eq!(run(&world).await.activated, 2);
        assert_eq!(
            states(&world, KeyUse::Encryption),
            [KeyState::Active, KeyState::Retiring]
        );
        world.at_day(395);
        let report = run(&world).await;
        assert_eq!(report.retired, 2);
        assert_eq!(report.per_idp[0].rotations, 2);
        assert!(report.per_idp[0].days_left.is_some_and(|d| d > 700));
        let actions: Vec<String> = world.audit().into_iter().map(|e| e.action).collect();
        assert_eq!(actions.iter().filter(|a| *a == "sp_key.publish").count(), 2);
        assert_eq!(actions.iter().filter(|a| *a == "sp_key.retire").count(), 2);
    }

    fn jwks_kids(world: &World) -> Vec<String> {
        let mut kids: Vec<String> = world
            .store
            .jwks
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, jwk)| jwk["kid"].as_str().map(str::to_owned))
            .collect();
        kids.sort();
        kids
    }

    fn kids_of(world: &World, state: KeyState) -> Vec<String> {
        let mut kids: Vec<String> = world
            .store
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.usage.is_token() && k.state == state)
            .map(|k| k.id.clone())
            .collect();
        kids.sort();
        kids
    }

    #[tokio::test]
    async fn token_keys_are_in_the_jwks_7_days_before_they_sign_and_leave_it_a_day_after() {
        let world = World::new().await;
        let first = kids_of(&world, KeyState::Active);
        assert_eq!(first.len(), 2, "ES256 and RS256");
        assert_eq!(jwks_kids(&world), first);
        world.at_day(357);
        assert_eq!(run(&world).await.token_rotations, 0);
        world.at_day(358);
        let report = run(&world).await;
        assert_eq!(report.token_rotations, 2, "a successor for each");
        let next = kids_of(&world, KeyState::Next);
        assert_eq!(next.len(), 2);
        let mut published = [first.clone(), next.clone()].concat();
        published.sort();
        assert_eq!(
            jwks_kids(&world),
            published,
            "the successors are in the JWKS already"
        );
        world.at_day(364);
        assert_eq!(run(&world).await.token_rotations, 0, "not 7 days yet");
        world.at_day(365);
        run(&world).await;
        assert_eq!(kids_of(&world, KeyState::Active), next);
        assert_eq!(kids_of(&world, KeyState::Retiring), first);
        assert_eq!(
            jwks_kids(&world),
            published,
            "the previous ones still verify"
        );
        world.at_day(366);
        run(&world).await;
        assert_eq!(kids_of(&world, KeyState::Retired), first);
        assert_eq!(jwks_kids(&world), next, "retired keys leave the JWKS");
        let actions: Vec<String> = world.audit().into_iter().map(|e| e.action).collect();
        for action in [
            "token_key.publish",
            "token_key.activate",
            "token_key.retire",
        ] {
            assert_eq!(
                actions.iter().filter(|a| *a == action).count(),
                2,
                "{action}"
            );
        }
    }

    #[tokio::test]
    async fn a_step_another_run_wrote_first_is_not_a_failure() {
        let world = World::new().await;
        world.at_day(335);
        world.store.faults.fail("publish_next", Conflict);
        let report = run(&world).await;
        assert_eq!(
            (report.already_done, report.failures, report.published),
            (2, 0, 0)
        );
        assert!(world.audit().is_empty(), "nothing to record twice");
    }

    #[tokio::test]
    async fn a_failed_step_is_audited_and_the_next_run_retries_it() {
        let world = World::new().await;
        world.at_day(335);
        world.kms.faults.fail("generate_data_key", AccessDenied);
        let report = run(&world).await;
        assert_eq!((report.failures, report.published), (2, 0));
        assert_eq!(report.per_idp[0].failures, 2);
        world.kms.faults.heal("generate_data_key");
        world.store.faults.fail("publish_next", Throttled);
        run(&world).await;
        let reasons: Vec<Option<String>> = world.audit().into_iter().map(|e| e.reason).collect();
        assert_eq!(
            reasons,
            [
                Some("rotation_failed".into()),
                Some("rotation_failed".into()),
                Some("rotation_retry_later".into()),
                Some("rotation_retry_later".into())
            ]
        );
        world.store.faults.heal("publish_next");
        world.at_day(336);
        assert_eq!(run(&world).await.published, 2, "the calendar slipped a day");
        assert_eq!(
            states(&world, KeyUse::Signing),
            [KeyState::Active, KeyState::Next]
        );
    }

    #[tokio::test]
    async fn an_organisation_whose_settings_cannot_be_read_is_counted() {
        let world = World::new().await;
        world.store.faults.fail("sso_settings", Throttled);
        let report = run(&world).await;
        assert_eq!((report.failures, report.idps), (1, 0));
    }
}
