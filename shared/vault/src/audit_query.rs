//! Searching an organisation's audit log (`GET /admin/orgs/{org}/audit`): filters by action
//! prefix, outcome, reason code and correlation ID, newest first. The log is read page by page
//! and filtered here, with a bound on how many items one search reads, so that a search never
//! becomes an unbounded table read; the answer says whether it reached the oldest event.

use samlgate_domain::audit::{AuditEvent, Outcome};
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::AuditReader;
use samlgate_domain::{Result, VaultError};

/// Events one answer returns at most, and by default.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 100;
/// Items one search reads at most (the log's most recent ones).
pub const MAX_SCANNED: usize = 5_000;
const PAGE: usize = 500;
const MAX_FILTER_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// The action starts with this (`credential.`, `sso.login`).
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
    pub correlation_id: Option<String>,
    pub limit: usize,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            action: None,
            outcome: None,
            reason: None,
            correlation_id: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditResults {
    pub events: Vec<AuditEvent>,
    /// The search read the log down to its oldest event.
    pub scanned_all: bool,
}

impl AuditFilter {
    /// Reads the query string. Unknown parameters, repeated ones, over-long values and a limit
    /// outside 1..=500 are refused, not ignored.
    pub fn from_query(query: &str) -> Result<Self> {
        let bad = |m: String| VaultError::InvalidRequest(m);
        let mut filter = Self::default();
        let mut seen = std::collections::BTreeSet::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !seen.insert(name.to_string()) {
                return Err(bad(format!("{name} is given twice")));
            }
            if value.len() > MAX_FILTER_LEN || value.chars().any(char::is_control) {
                return Err(bad(format!(
                    "{name} must be at most {MAX_FILTER_LEN} printable characters"
                )));
            }
            let text = (!value.is_empty()).then(|| value.to_string());
            match name.as_ref() {
                "action" => filter.action = text,
                "reason" => filter.reason = text,
                "correlation_id" => filter.correlation_id = text,
                "outcome" => {
                    filter.outcome = match value.as_ref() {
                        "" => None,
                        "ok" => Some(Outcome::Ok),
                        "error" => Some(Outcome::Error),
                        _ => return Err(bad("outcome must be ok or error".into())),
                    }
                }
                "limit" => {
                    filter.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad(format!("limit must be 1 to {MAX_LIMIT}")))?;
                }
                other => return Err(bad(format!("unknown filter {other}"))),
            }
        }
        Ok(filter)
    }

    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.action
            .as_deref()
            .is_none_or(|a| event.action.starts_with(a))
            && self.outcome.is_none_or(|o| event.outcome == o)
            && self
                .reason
                .as_deref()
                .is_none_or(|r| event.reason.as_deref() == Some(r))
            && self
                .correlation_id
                .as_deref()
                .is_none_or(|c| event.correlation_id == c)
    }
}

/// The newest events of `org` that match `filter`.
pub async fn search(
    reader: &dyn AuditReader,
    org: &OrgId,
    filter: &AuditFilter,
) -> Result<AuditResults> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    let mut scanned = 0;
    loop {
        let page = reader.audit_page(org, cursor.as_deref(), PAGE).await?;
        let in_page = page.events.len();
        scanned += in_page;
        let last_page = page.next.is_none();
        for (i, event) in page.events.into_iter().enumerate() {
            if filter.matches(&event) {
                events.push(event);
                if events.len() == filter.limit {
                    return Ok(AuditResults {
                        events,
                        // The limit met exactly at the oldest event still read it all.
                        scanned_all: last_page && i + 1 == in_page,
                    });
                }
            }
        }
        match page.next {
            None => {
                return Ok(AuditResults {
                    events,
                    scanned_all: true,
                })
            }
            Some(_) if scanned >= MAX_SCANNED => {
                return Ok(AuditResults {
                    events,
                    scanned_all: false,
                })
            }
            next => cursor = next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use samlgate_domain::ports::AuditPage;
    use samlgate_domain::PortError;

    /// The log as a list, oldest first, read newest first in pages (cursor: items returned).
    struct Log(Vec<AuditEvent>);

    #[async_trait::async_trait]
    impl AuditReader for Log {
        async fn audit_page(
            &self,
            org: &OrgId,
            before: Option<&str>,
            limit: usize,
        ) -> Result<AuditPage, PortError> {
            let skip: usize = before.map_or(0, |b| b.parse().unwrap());
            let mine: Vec<&AuditEvent> = self.0.iter().rev().filter(|e| &e.org == org).collect();
            let events: Vec<AuditEvent> = mine
                .iter()
                .skip(skip)
                .take(limit)
                .map(|e| (*e).clone())
                .collect();
            let next =
                (skip + events.len() < mine.len()).then(|| (skip + events.len()).to_string());
            Ok(AuditPage { events, next })
        }
    }

    fn event(i: usize, action: &str, outcome: Outcome) -> AuditEvent {
        AuditEvent {
            org: OrgId::parse("acme").unwrap(),
            at: format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
            correlation_id: format!("corr-{i}"),
            actor: "test".into(),
            action: action.into(),
            outcome,
            reason: (outcome == Outcome::Error).then(|| "target_failed".into()),
            credential_id: None,
            facts: Default::default(),
        }
    }

    #[test]
    fn query_strings_are_read_strictly() {
        let f = AuditFilter::from_query("action=credential.&outcome=error&limit=5").unwrap();
        assert_eq!(f.action.as_deref(), Some("credential."));
        assert_eq!(f.outcome, Some(Outcome::Error));
        assert_eq!(f.limit, 5);
        assert_eq!(AuditFilter::from_query("").unwrap(), AuditFilter::default());
        for bad in [
            "limit=0",
            "limit=501",
            "limit=x",
            "outcome=maybe",
            "who=me",
            "action=a&action=b",
            "reason=%0a",
        ] {
            assert!(AuditFilter::from_query(bad).is_err(), "{bad}");
        }
        let long = format!("reason={}", "x".repeat(129));
        assert!(AuditFilter::from_query(&long).is_err());
    }

    #[tokio::test]
    async fn search_returns_the_newest_matches_across_pages() {
        let org = OrgId::parse("acme").unwrap();
        let store = Log((0..1_200)
            .map(|i| {
                if i % 100 == 7 {
                    event(i, "credential.provision", Outcome::Error)
                } else {
                    event(i, "sso.login", Outcome::Ok)
                }
            })
            .collect());
        let all_errors = AuditFilter {
            outcome: Some(Outcome::Error),
            ..AuditFilter::default()
        };
        let found = search(&store, &org, &all_errors).await.unwrap();
        assert!(found.scanned_all);
        let ids: Vec<&str> = found
            .events
            .iter()
            .map(|e| e.correlation_id.as_str())
            .collect();
        assert_eq!(ids.len(), 12);
        assert_eq!(ids[0], "corr-1107", "newest first");
        assert_eq!(ids[11], "corr-7");

        let few = AuditFilter {
            action: Some("sso.".into()),
            limit: 3,
            ..AuditFilter::default()
        };
        let found = search(&store, &org, &few).await.unwrap();
        assert!(!found.scanned_all);
        let ids: Vec<&str> = found
            .events
            .iter()
            .map(|e| e.correlation_id.as_str())
            .collect();
        assert_eq!(ids, ["corr-1199", "corr-1198", "corr-1197"]);

        let exact = AuditFilter {
            limit: 3,
            ..AuditFilter::default()
        };
        let small = Log((0..3).map(|i| event(i, "sso.login", Outcome::Ok)).collect());
        let found = search(&small, &org, &exact).await.unwrap();
        assert_eq!(found.events.len(), 3);
        assert!(found.scanned_all, "the limit met at the oldest event");

        let other = search(
            &store,
            &OrgId::parse("other").unwrap(),
            &AuditFilter::default(),
        )
        .await
        .unwrap();
        assert!(other.events.is_empty() && other.scanned_all);
    }
}
