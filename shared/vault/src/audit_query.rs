//! Searching an organisation's audit log (`GET /admin/orgs/{org}/audit`): filters by action
//! prefix, outcome, reason code and correlation ID, within a time window (`from`, `until`),
//! newest first. The window is a key condition (the log is read only inside it), pages of it
//! are filtered here, and one search reads a bounded number of items; when it stops before the
//! window's oldest event, the answer's `next_until` is where the next search starts, so an
//! admin can page back through any stretch of the log however many items a flood wrote.

use samlgate_domain::audit::{AuditEvent, Outcome};
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{AuditReader, AuditWindow};
use samlgate_domain::{Result, VaultError};

/// Events one answer returns at most, and by default.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 100;
/// Items one search reads at most (the window's most recent ones).
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
    /// The event is about this IdP (`facts.idp`).
    pub idp: Option<String>,
    /// The event has this fact (`exceptions_used`: logins that needed an algorithm exception).
    pub fact: Option<String>,
    /// Events at or after `from`, before `until` (RFC 3339 in the query string).
    pub window: AuditWindow,
    pub limit: usize,
}

impl Default for AuditFilter {
    fn default() -> Self {
        Self {
            action: None,
            outcome: None,
            reason: None,
            correlation_id: None,
            idp: None,
            fact: None,
            window: AuditWindow::default(),
            limit: DEFAULT_LIMIT,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditResults {
    pub events: Vec<AuditEvent>,
    /// The search read the window down to its oldest event.
    pub scanned_all: bool,
    /// When it did not: search again with `until` set to this (the oldest instant read) for
    /// the events before it.
    pub next_until: Option<String>,
}

impl AuditFilter {
    /// Reads the query string. Unknown parameters, repeated ones, over-long values, instants
    /// that are not RFC 3339, an empty window and a limit outside 1..=500 are refused, not
    /// ignored.
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
            let instant = || {
                text.as_deref()
                    .map(|t| {
                        samlgate_domain::clock::parse_instant(t).ok_or_else(|| {
                            bad(format!(
                                "{name} must be an RFC 3339 instant (2026-01-01T00:00:00Z)"
                            ))
                        })
                    })
                    .transpose()
            };
            match name.as_ref() {
                "action" => filter.action = text,
                "reason" => filter.reason = text,
                "correlation_id" => filter.correlation_id = text,
                "idp" => filter.idp = text,
                "fact" => filter.fact = text,
                "from" => filter.window.from = instant()?,
                "until" => filter.window.until = instant()?,
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
        if let (Some(from), Some(until)) = (filter.window.from, filter.window.until) {
            if from >= until {
                return Err(bad("from must be before until".into()));
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
            && self
                .idp
                .as_deref()
                .is_none_or(|i| event.facts.get("idp").map(String::as_str) == Some(i))
            && self
                .fact
                .as_deref()
                .is_none_or(|f| event.facts.contains_key(f))
    }
}

/// The newest events of `org` in the filter's window that match it. A page of the answer
/// never splits the events of one instant (the limit is exceeded rather than lose some to
/// `next_until`).
pub async fn search(
    reader: &dyn AuditReader,
    org: &OrgId,
    filter: &AuditFilter,
) -> Result<AuditResults> {
    let mut events: Vec<AuditEvent> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut scanned = 0;
    loop {
        let page = reader
            .audit_page(org, filter.window, cursor.as_deref(), PAGE)
            .await?;
        let in_page = page.events.len();
        scanned += in_page;
        let oldest_read = page.events.last().map(|e| e.at.clone());
        for event in page.events {
            let full = events.len() >= filter.limit;
            if let Some(last) = events.last().filter(|last| full && last.at != event.at) {
                // An older event exists: the next search starts before the last one kept.
                return Ok(AuditResults {
                    next_until: Some(last.at.clone()),
                    events,
                    scanned_all: false,
                });
            }
            if filter.matches(&event) {
                events.push(event);
            }
        }
        match page.next {
            None => {
                return Ok(AuditResults {
                    events,
                    scanned_all: true,
                    next_until: None,
                })
            }
            Some(_) if scanned >= MAX_SCANNED => {
                return Ok(AuditResults {
                    events,
                    scanned_all: false,
                    next_until: oldest_read,
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
            window: AuditWindow,
            before: Option<&str>,
            limit: usize,
        ) -> Result<AuditPage, PortError> {
            let skip: usize = before.map_or(0, |b| b.parse().unwrap());
            let mine: Vec<&AuditEvent> = self
                .0
                .iter()
                .rev()
                .filter(|e| &e.org == org)
                .filter(|e| window.contains(samlgate_domain::clock::parse_instant(&e.at).unwrap()))
                .collect();
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
            count: None,
            last_at: None,
        }
    }

    fn at(text: &str) -> time::OffsetDateTime {
        samlgate_domain::clock::parse_instant(text).unwrap()
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

        let f = AuditFilter::from_query("idp=okta&fact=exceptions_used").unwrap();
        assert_eq!(
            (f.idp.as_deref(), f.fact.as_deref()),
            (Some("okta"), Some("exceptions_used"))
        );
        let mut login = event(1, "sso.login", Outcome::Ok);
        assert!(!f.matches(&login));
        login.facts.insert("idp".into(), "okta".into());
        assert!(!f.matches(&login));
        login.facts.insert("exceptions_used".into(), "sha1".into());
        assert!(f.matches(&login));
        login.facts.insert("idp".into(), "entra".into());
        assert!(!f.matches(&login));

        let window =
            AuditFilter::from_query("from=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z")
                .unwrap()
                .window;
        assert_eq!(
            (window.from, window.until),
            (
                Some(at("2026-01-01T00:00:00Z")),
                Some(at("2026-01-02T00:00:00Z"))
            )
        );
        for bad in [
            "from=yesterday",
            "until=2026-13-01T00:00:00Z",
            "from=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
            "from=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        ] {
            let e = AuditFilter::from_query(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{bad}");
        }
    }

    /// Issue 17 §4: the search pages back by time, so no number of newer items hides an
    /// older event, and a page never splits the events of one instant.
    #[tokio::test]
    async fn a_search_pages_back_through_a_window_by_time() {
        let org = OrgId::parse("acme").unwrap();
        // 0..1200 one a second from 00:00:00; 7 more events at the instant of event 600.
        let mut log: Vec<AuditEvent> = (0..1_200)
            .map(|i| event(i, "sso.login", Outcome::Ok))
            .collect();
        for n in 0..7 {
            let mut twin = event(600, "sso.login", Outcome::Ok);
            twin.correlation_id = format!("twin-{n}");
            log.insert(601, twin);
        }
        let store = Log(log);
        let window = AuditFilter {
            window: AuditWindow {
                from: Some(at("2026-01-01T00:05:00Z")),
                until: Some(at("2026-01-01T00:10:05Z")),
            },
            limit: 2,
            ..AuditFilter::default()
        };
        let found = search(&store, &org, &window).await.unwrap();
        let ids: Vec<&str> = found
            .events
            .iter()
            .map(|e| e.correlation_id.as_str())
            .collect();
        assert_eq!(ids, ["corr-604", "corr-603"], "until is exclusive");
        assert_eq!(found.next_until.as_deref(), Some("2026-01-01T00:10:03Z"));

        // Page from there: all eight events of 00:10:00 in one answer, beyond the limit.
        let mut page = AuditFilter {
            limit: 3,
            ..window.clone()
        };
        page.window.until = Some(at("2026-01-01T00:10:03Z"));
        let found = search(&store, &org, &page).await.unwrap();
        assert_eq!(
            found.events.len(),
            3 + 7,
            "the instant of corr-600 is not split"
        );
        assert!(found
            .events
            .iter()
            .skip(2)
            .all(|e| e.at == "2026-01-01T00:10:00Z"));
        assert_eq!(found.next_until.as_deref(), Some("2026-01-01T00:10:00Z"));

        // The window's oldest event is reached, and nothing before `from` is read.
        let mut rest = AuditFilter {
            limit: 500,
            ..window.clone()
        };
        rest.window.until = found.next_until.as_deref().map(at);
        let found = search(&store, &org, &rest).await.unwrap();
        assert!(found.scanned_all && found.next_until.is_none());
        assert_eq!(found.events.len(), 300);
        assert_eq!(found.events.last().unwrap().correlation_id, "corr-300");
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
