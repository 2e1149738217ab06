//! Injected time. The verifier never reads the system clock itself, so fixtures never rot
//! and every time comparison is testable (as in rustls' `TimeProvider`).

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock, for production and the CLI's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock stopped at one instant (tests, `samlgate validate --now`).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// Parse an `xs:dateTime` / RFC 3339 instant (fractional seconds, `Z` or an offset).
/// SAML Core §1.3.3 requires UTC; a value without a zone is ambiguous and rejected.
pub fn parse_instant(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// Format an instant as RFC 3339 in UTC.
pub fn format_instant(instant: OffsetDateTime) -> String {
    instant
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_seconds_and_offsets_parse() {
        let a = parse_instant("2026-01-01T00:00:00.123456Z");
        let b = parse_instant("2026-01-01T01:00:00.123456+01:00");
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn zoneless_instant_is_rejected() {
        assert_eq!(parse_instant("2026-01-01T00:00:00"), None);
    }
}
