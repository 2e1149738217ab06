//! One-time use of assertions (SAML Profiles §4.1.4.5): an Assertion ID is accepted once
//! until it could no longer validate anyway. The DynamoDB implementation (a conditional put
//! with TTL) lives in the AWS adapters; this crate defines the port and an in-memory twin.

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Remember an assertion until `expires_at`; answer whether it was new.
pub trait ReplayCache: Send + Sync {
    /// `Ok(true)` the first time `(issuer, assertion_id)` is seen, `Ok(false)` after that.
    /// `Err` when the cache cannot answer: the caller then rejects (fail closed).
    fn insert_once(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, String>;
}

/// For the CLI and tests: a process-local map, purged of expired entries on insert.
#[derive(Debug, Default)]
pub struct InMemoryReplayCache {
    seen: Mutex<HashMap<(String, String), OffsetDateTime>>,
}

impl ReplayCache for InMemoryReplayCache {
    fn insert_once(
        &self,
        issuer: &str,
        assertion_id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, String> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| "replay cache lock poisoned".to_owned())?;
        seen.retain(|_, until| *until > now);
        let key = (issuer.to_owned(), assertion_id.to_owned());
        if seen.contains_key(&key) {
            return Ok(false);
        }
        seen.insert(key, expires_at);
        Ok(true)
    }
}
