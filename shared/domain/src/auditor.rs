//! Writes audit items ([`crate::audit::AuditEvent`]) through the `AuditLog` port: one event per
//! operation, with the reason code on failure.

use std::collections::BTreeMap;

use saml::{format_instant, Clock};

use crate::audit::{AuditEvent, Caller, Outcome};
use crate::error::{PortError, VaultError};
use crate::ids::OrgId;
use crate::ports::AuditLog;

/// Writes audit items at the injected clock's time.
pub struct Auditor<'a> {
    pub log: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
}

impl Auditor<'_> {
    pub fn event(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        credential_id: Option<&str>,
        outcome: std::result::Result<(), &VaultError>,
        facts: BTreeMap<String, String>,
    ) -> AuditEvent {
        let reason = outcome.err().map(VaultError::code);
        self.event_with_reason(org, caller, action, credential_id, reason, facts)
    }

    /// An event whose failure is given by its code (`None`: success), for errors other than
    /// the vault's (the SSO steps).
    pub fn event_with_reason(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        credential_id: Option<&str>,
        reason: Option<&str>,
        facts: BTreeMap<String, String>,
    ) -> AuditEvent {
        AuditEvent {
            org: org.clone(),
            at: format_instant(self.clock.now()),
            correlation_id: caller.correlation_id.clone(),
            actor: caller.actor.clone(),
            action: action.to_owned(),
            outcome: if reason.is_none() {
                Outcome::Ok
            } else {
                Outcome::Error
            },
            reason: reason.map(str::to_owned),
            count: None,
            last_at: None,
            credential_id: credential_id.map(str::to_owned),
            facts,
        }
    }

    /// Records an event; a failure to record is returned so the caller decides (provision
    /// refuses to decrypt without an audit trail; admin reports it in its logs).
    pub async fn record(&self, event: AuditEvent) -> Result<(), PortError> {
        self.log.record(&event).await
    }

    /// Records the outcome of a finished operation. The operation's own result stands (it
    /// has already been written or refused); a failure to audit is logged with its code.
    pub async fn outcome<T>(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        credential_id: Option<&str>,
        result: &Result<T, VaultError>,
    ) {
        self.outcome_with_facts(org, caller, action, credential_id, result, BTreeMap::new())
            .await;
    }

    /// [`Auditor::outcome`] with non-secret facts (status, timing) attached.
    pub async fn outcome_with_facts<T>(
        &self,
        org: &OrgId,
        caller: &Caller,
        action: &str,
        credential_id: Option<&str>,
        result: &Result<T, VaultError>,
        facts: BTreeMap<String, String>,
    ) {
        let outcome = result.as_ref().map(|_| ());
        self.keep(self.event(org, caller, action, credential_id, outcome, facts))
            .await;
    }

    /// Records the event of an operation that has finished either way: a failure to record
    /// is logged with its code, and the operation's own result stands.
    pub async fn keep(&self, event: AuditEvent) {
        if let Err(e) = self.log.record(&event).await {
            tracing::error!(
                code = "audit_unavailable",
                org = %event.org,
                action = %event.action,
                correlation_id = %event.correlation_id,
                error = %e,
                "audit item not written"
            );
        }
    }
}
