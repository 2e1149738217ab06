//! IdP metadata refresh: every day, for every IdP registered by metadata URL, a
//! conditional GET (ETag / If-Modified-Since) with admin's size and time limits; the
//! document's signature checked when a metadata signing certificate is configured; its
//! `validUntil` honoured. A changed document is compared with the stored configuration:
//!
//! - endpoints changed: applied;
//! - signing certificates added: applied when the document's signature was checked against a
//!   configured metadata signing certificate; on unsigned metadata, held for an org admin's
//!   approval (`Idp::refresh.pending_certificates`, audit reason `metadata_certificates_held`),
//!   because a document nobody signed must not change which keys are trusted by itself;
//! - signing certificates removed: applied as long as at least one trusted certificate remains
//!   (a document with no signing key at all is refused; an unsigned one that drops every
//!   trusted key keeps them, its new keys held);
//! - the entity ID changed: held, never applied (it is a different IdP: re-register it);
//! - anything unreadable, unsigned where a signature is required, expired, oversized or
//!   slow: refused; the stored configuration stays as it was.
//!
//! Every change and every refusal is an audit item (`idp.metadata_refresh`) and counts in the
//! run's report, which rotate turns into the metrics the template's alarms watch.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::codes;
use samlgate_domain::idp::Idp;
use samlgate_domain::ids::{sha256_hex, IdpId, OrgId};
use samlgate_domain::ports::{
    AuditLog, Fetched, MetadataFetcher, SsoConfigReader, SsoConfigWriter,
};
use samlgate_domain::PortErrorKind;
use serde::Serialize;
use time::OffsetDateTime;

use crate::document::{apply_document, max_bytes_for, DocumentRejection};

/// How one IdP's refresh ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 304, or the same bytes as stored.
    Unchanged,
    /// The document changed and its changes were written.
    Applied,
    /// The document changed in a way never applied automatically: its entity ID (nothing is
    /// written), or signing certificates added by unsigned metadata (held for approval; the
    /// rest of the document is applied).
    Held,
    /// Fetching or reading the document failed; nothing was written.
    Failed,
}

/// What changed between the stored configuration and a fetched document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// SHA-256 (hex) of each certificate added or removed.
    pub certificates_added: Vec<String>,
    pub certificates_removed: Vec<String>,
    /// SHA-256 (hex) of each certificate unsigned metadata added that now waits for approval.
    pub certificates_held: Vec<String>,
    pub endpoints_changed: Vec<&'static str>,
    pub entity_id_changed: bool,
}

/// The audit reason of a refresh whose new certificates wait for an admin.
pub const CERTIFICATES_HELD: &str = "metadata_certificates_held";

/// Pending certificates kept at most per IdP (a document listing more holds the first ones).
pub const MAX_PENDING_CERTIFICATES: usize = 8;

/// Unsigned metadata: the certificates it adds wait in `pending_certificates`; those it drops
/// are dropped only while a trusted one remains.
fn hold_additions(stored: &Idp, candidate: &mut Idp) {
    let published = std::mem::take(&mut candidate.signing_certificates);
    let kept: Vec<String> = stored
        .signing_certificates
        .iter()
        .filter(|c| published.contains(c))
        .cloned()
        .collect();
    candidate.refresh.pending_certificates = published
        .into_iter()
        .filter(|c| !stored.signing_certificates.contains(c))
        .take(MAX_PENDING_CERTIFICATES)
        .collect();
    candidate.signing_certificates = if kept.is_empty() {
        stored.signing_certificates.clone()
    } else {
        kept
    };
}

fn fingerprint(certificate: &str) -> String {
    sha256_hex(&B64.decode(certificate).unwrap_or_default())
}

impl Changes {
    fn between(old: &Idp, new: &Idp) -> Self {
        let fingerprints = |certificates: &[String]| -> BTreeSet<String> {
            certificates.iter().map(|c| fingerprint(c)).collect()
        };
        let (before, after) = (
            fingerprints(&old.signing_certificates),
            fingerprints(&new.signing_certificates),
        );
        let (was_pending, pending) = (
            fingerprints(&old.refresh.pending_certificates),
            fingerprints(&new.refresh.pending_certificates),
        );
        let mut endpoints_changed = Vec::new();
        for (name, a, b) in [
            (
                "sso_redirect_url",
                &old.sso_redirect_url,
                &new.sso_redirect_url,
            ),
            ("sso_post_url", &old.sso_post_url, &new.sso_post_url),
            (
                "slo_redirect_url",
                &old.slo_redirect_url,
                &new.slo_redirect_url,
            ),
            ("slo_post_url", &old.slo_post_url, &new.slo_post_url),
        ] {
            if a != b {
                endpoints_changed.push(name);
            }
        }
        if old.want_authn_requests_signed != new.want_authn_requests_signed {
            endpoints_changed.push("want_authn_requests_signed");
        }
        Self {
            certificates_added: after.difference(&before).cloned().collect(),
            certificates_removed: before.difference(&after).cloned().collect(),
            certificates_held: pending.difference(&was_pending).cloned().collect(),
            endpoints_changed,
            entity_id_changed: old.entity_id != new.entity_id,
        }
    }

    fn any(&self) -> bool {
        !self.certificates_added.is_empty()
            || !self.certificates_removed.is_empty()
            || !self.certificates_held.is_empty()
            || !self.endpoints_changed.is_empty()
            || self.entity_id_changed
    }
}

/// One IdP's result.
#[derive(Debug, Clone, Serialize)]
pub struct IdpRefresh {
    pub org: OrgId,
    pub idp: IdpId,
    pub outcome: Outcome,
    /// The audit reason code of a failure or hold.
    pub reason: Option<&'static str>,
    pub changes: Changes,
}

/// Days until an IdP's earliest signing certificate ends (every IdP, however registered).
#[derive(Debug, Clone, Serialize)]
pub struct IdpDaysLeft {
    pub org: OrgId,
    pub idp: IdpId,
    pub days: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RefreshReport {
    pub idps: Vec<IdpRefresh>,
    pub days_left: Vec<IdpDaysLeft>,
}

impl RefreshReport {
    pub fn count(&self, outcome: &Outcome) -> usize {
        self.idps.iter().filter(|r| &r.outcome == outcome).count()
    }
}

/// rotate's capabilities for IdP metadata.
pub struct Refresh<'a> {
    pub config: &'a dyn SsoConfigReader,
    pub writer: &'a dyn SsoConfigWriter,
    pub fetcher: &'a dyn MetadataFetcher,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub caller: &'a Caller,
    /// Local development: metadata and endpoints may be plain HTTP to loopback.
    pub allow_loopback_http: bool,
    /// The size limit of a federation aggregate.
    pub aggregate_max_bytes: usize,
}

/// Why a document was refused or held: each variant is an audit reason code.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("the metadata URL could not be fetched: {0}")]
    Fetch(String),
    #[error("{0}")]
    Document(DocumentRejection),
    /// Never applied automatically: it is a different IdP (re-register it).
    #[error("the document names {0}")]
    EntityChanged(String),
    #[error("no SingleSignOnService for the configured request_binding")]
    NoSsoEndpoint,
    #[error("the IdP changed meanwhile; tomorrow's run retries")]
    WriteConflict,
    #[error("the IdP could not be written: {0}")]
    WriteFailed(String),
}

codes! {
    Refused {
        Fetch(String) => "metadata_fetch_failed", 502;
        EntityChanged(String) => "metadata_entity_changed", 409;
        NoSsoEndpoint => "metadata_invalid", 400;
        WriteConflict => "metadata_write_conflict", 409;
        WriteFailed(String) => "metadata_write_failed", 502;
    }
    delegate {
        Document => DocumentRejection::http_status;
    }
}

impl Refresh<'_> {
    /// One organisation's IdPs (rotate's run lists them once for rotation and refresh).
    pub async fn org(&self, idps: &[Idp], report: &mut RefreshReport) {
        for idp in idps {
            let mut current = None;
            if idp.metadata_url.is_some() {
                let result = self.refresh(idp).await;
                self.record(idp, &result).await;
                if result.outcome == Outcome::Applied {
                    current = self.config.idp(&idp.org, &idp.idp).await.ok().flatten();
                }
                report.idps.push(result);
            }
            let current = current.as_ref().unwrap_or(idp);
            if let Some(days) = idp_days_left(current, self.clock.now()) {
                report.days_left.push(IdpDaysLeft {
                    org: idp.org.clone(),
                    idp: idp.idp.clone(),
                    days,
                });
            }
        }
    }

    /// Refreshes one IdP. Never returns an error: a failure is an outcome.
    pub async fn refresh(&self, idp: &Idp) -> IdpRefresh {
        let mut result = IdpRefresh {
            org: idp.org.clone(),
            idp: idp.idp.clone(),
            outcome: Outcome::Failed,
            reason: None,
            changes: Changes::default(),
        };
        match self.refresh_inner(idp, &mut result.changes).await {
            Ok(outcome) => {
                if outcome == Outcome::Held {
                    result.reason = Some(CERTIFICATES_HELD);
                }
                result.outcome = outcome;
            }
            Err(refused) => {
                result.reason = Some(refused.code());
                if matches!(refused, Refused::EntityChanged(_)) {
                    result.outcome = Outcome::Held;
                }
                tracing::warn!(code = refused.code(), org = %idp.org, idp = %idp.idp, detail = %refused, "IdP metadata not applied");
            }
        }
        result
    }

    async fn refresh_inner(&self, idp: &Idp, changes: &mut Changes) -> Result<Outcome, Refused> {
        let now = self.clock.now();
        let url = idp.metadata_url.as_deref().unwrap_or_default();
        let max_bytes = max_bytes_for(idp.refresh.source, self.aggregate_max_bytes);
        let fetched = self
            .fetcher
            .fetch_if_changed(
                url,
                max_bytes,
                idp.refresh.etag.as_deref(),
                idp.refresh.last_modified.as_deref(),
            )
            .await
            .map_err(|e| Refused::Fetch(e.detail))?;
        let (bytes, etag, last_modified) = match fetched {
            Fetched::NotModified => return Ok(Outcome::Unchanged),
            Fetched::Body {
                bytes,
                etag,
                last_modified,
            } => (bytes, etag, last_modified),
        };
        if idp.metadata_sha256.as_deref() == Some(sha256_hex(&bytes).as_str()) {
            if etag != idp.refresh.etag || last_modified != idp.refresh.last_modified {
                let mut updated = idp.clone();
                updated.refresh.etag = etag;
                updated.refresh.last_modified = last_modified;
                self.write(idp, updated, now).await?;
            }
            return Ok(Outcome::Unchanged);
        }
        let mut candidate = idp.clone();
        apply_document(
            &mut candidate,
            &bytes,
            self.allow_loopback_http,
            now,
            max_bytes,
        )
        .map_err(Refused::Document)?;
        if idp.on_unsigned_metadata() {
            hold_additions(idp, &mut candidate);
        }
        *changes = Changes::between(idp, &candidate);
        if changes.entity_id_changed {
            return Err(Refused::EntityChanged(candidate.entity_id));
        }
        if candidate.sso_url().is_none() {
            return Err(Refused::NoSsoEndpoint);
        }
        candidate.refresh.etag = etag;
        candidate.refresh.last_modified = last_modified;
        self.write(idp, candidate, now).await?;
        Ok(if !changes.certificates_held.is_empty() {
            Outcome::Held
        } else if changes.any() {
            Outcome::Applied
        } else {
            Outcome::Unchanged
        })
    }

    async fn write(&self, old: &Idp, mut new: Idp, now: OffsetDateTime) -> Result<(), Refused> {
        new.version = old.version + 1;
        new.updated_at = format_instant(now);
        self.writer
            .replace_idp(&new, old.version)
            .await
            .map_err(|e| match e.kind {
                PortErrorKind::Conflict => Refused::WriteConflict,
                _ => Refused::WriteFailed(e.to_string()),
            })
    }

    /// One audit item per refresh that changed, held or failed (an unchanged document is
    /// not news).
    async fn record(&self, idp: &Idp, result: &IdpRefresh) {
        if result.outcome == Outcome::Unchanged {
            return;
        }
        let changes = &result.changes;
        let mut facts = BTreeMap::from([
            ("idp".to_owned(), idp.idp.to_string()),
            (
                "outcome".to_owned(),
                format!("{:?}", result.outcome).to_lowercase(),
            ),
        ]);
        let mut put = |name: &str, values: &[String]| {
            if !values.is_empty() {
                facts.insert(name.to_owned(), values.join(" "));
            }
        };
        put("certificates_added", &changes.certificates_added);
        put("certificates_removed", &changes.certificates_removed);
        put("certificates_held", &changes.certificates_held);
        let endpoints: Vec<String> = changes
            .endpoints_changed
            .iter()
            .map(|e| (*e).to_owned())
            .collect();
        put("endpoints_changed", &endpoints);
        if changes.entity_id_changed {
            facts.insert("entity_id_changed".into(), "true".into());
        }
        let auditor = Auditor {
            log: self.audit,
            clock: self.clock,
        };
        auditor
            .keep(auditor.event_with_reason(
                &idp.org,
                self.caller,
                "idp.metadata_refresh",
                None,
                result.reason,
                facts,
            ))
            .await;
    }
}

/// Whole days until the earliest of an IdP's signing certificates ends.
pub fn idp_days_left(idp: &Idp, now: OffsetDateTime) -> Option<i64> {
    idp.signing_certificates
        .iter()
        .filter_map(|c| B64.decode(c).ok())
        .filter_map(|der| certificate_not_after(&der))
        .map(|end| (end - now).whole_days())
        .min()
}

/// An X.509 certificate's notAfter.
pub fn certificate_not_after(der: &[u8]) -> Option<OffsetDateTime> {
    use x509_cert::der::Decode as _;
    let certificate = x509_cert::Certificate::from_der(der).ok()?;
    let end = certificate
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration();
    OffsetDateTime::from_unix_timestamp(i64::try_from(end.as_secs()).ok()?).ok()
}

/// Refresh over the kernel's twins (a metadata server twin with ETags): each outcome and audit
/// reason of the README's table, and the stored IdP unchanged unless applied.
#[cfg(test)]
mod tests {
    use samlgate_domain::PortErrorKind::{Conflict, Other, Timeout};

    use super::*;
    use crate::testing::{acme, caller, metadata, okta, World, METADATA_URL};

    async fn refresh(world: &World) -> IdpRefresh {
        let caller = caller();
        let refresher = world.refresh(&caller);
        let idp = world.idp();
        let result = refresher.refresh(&idp).await;
        refresher.record(&idp, &result).await;
        result
    }

    fn reasons(world: &World) -> Vec<Option<String>> {
        world.audit().into_iter().map(|e| e.reason).collect()
    }

    #[tokio::test]
    async fn an_unchanged_document_changes_nothing_and_a_304_is_asked_for_next_time() {
        let world = World::new().await;
        let before = world.idp();
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp.xml"), Some("\"v1\""));
        assert_eq!(refresh(&world).await.outcome, Outcome::Unchanged);
        // The same bytes with a validator: the validator is kept, nothing else changes.
        let kept = world.idp();
        assert_eq!(kept.refresh.etag.as_deref(), Some("\"v1\""));
        assert_eq!(kept.signing_certificates, before.signing_certificates);
        assert_eq!(refresh(&world).await.outcome, Outcome::Unchanged);
        let asked = world
            .fetcher
            .requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap();
        assert_eq!(asked.etag.as_deref(), Some("\"v1\""));
        assert!(
            world.audit().is_empty(),
            "an unchanged document is not news"
        );
    }

    /// Issue 17 §3: unsigned metadata that adds a signing certificate holds it; only an org
    /// admin's approval makes it trusted.
    #[tokio::test]
    async fn unsigned_metadata_holds_an_added_certificate_until_an_admin_approves_it() {
        let world = World::new().await;
        let before = world.idp();
        assert!(before.on_unsigned_metadata());
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp-rollover.xml"), None);
        let result = refresh(&world).await;
        assert_eq!(
            (result.outcome.clone(), result.reason),
            (Outcome::Held, Some(CERTIFICATES_HELD))
        );
        assert!(result.changes.certificates_added.is_empty());
        assert_eq!(result.changes.certificates_held.len(), 1);
        let held = world.idp();
        assert_eq!(held.version, before.version + 1);
        assert_eq!(held.signing_certificates, before.signing_certificates);
        assert_eq!(held.refresh.pending_certificates.len(), 1);
        let event = world.audit().pop().unwrap();
        assert_eq!(event.action, "idp.metadata_refresh");
        assert_eq!(event.reason.as_deref(), Some(CERTIFICATES_HELD));
        assert_eq!(event.facts["outcome"], "held");
        assert_eq!(
            event.facts["certificates_held"],
            result.changes.certificates_held[0]
        );
        // The next run reads the same bytes: nothing new, the certificate still waits.
        assert_eq!(refresh(&world).await.outcome, Outcome::Unchanged);
        assert_eq!(world.idp().refresh.pending_certificates.len(), 1);

        // The console shows it; the admin approves it.
        let admin = world.admin();
        let view = admin.get_idp(&acme(), &okta()).await.unwrap();
        assert!(view.unsigned_metadata);
        let fingerprint = view.pending_certificates[0].fingerprint.clone();
        assert_eq!(fingerprint, result.changes.certificates_held[0]);
        let view = admin
            .decide_pending_certificate(&caller(), &acme(), &okta(), &fingerprint, true)
            .await
            .unwrap();
        assert!(view.pending_certificates.is_empty());
        assert_eq!(view.idp_certificates.len(), 2);
        assert!(view
            .idp_certificates
            .iter()
            .any(|c| c.fingerprint == fingerprint));
        let event = world.audit().pop().unwrap();
        assert_eq!(
            (event.action.as_str(), event.facts["certificate"].as_str()),
            ("idp.certificate_approved", fingerprint.as_str())
        );
        // Approved once: there is nothing left to decide.
        let again = admin
            .decide_pending_certificate(&caller(), &acme(), &okta(), &fingerprint, true)
            .await
            .unwrap_err();
        assert_eq!(again.code(), "certificate_not_pending");
    }

    #[tokio::test]
    async fn a_rejected_certificate_is_dropped_and_never_trusted() {
        let world = World::new().await;
        let before = world.idp();
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp-rollover.xml"), None);
        refresh(&world).await;
        let admin = world.admin();
        let pending = admin
            .get_idp(&acme(), &okta())
            .await
            .unwrap()
            .pending_certificates;
        let bad = admin
            .decide_pending_certificate(&caller(), &acme(), &okta(), "NOT-HEX", false)
            .await
            .unwrap_err();
        assert_eq!(bad.code(), "invalid_request");
        let view = admin
            .decide_pending_certificate(&caller(), &acme(), &okta(), &pending[0].fingerprint, false)
            .await
            .unwrap();
        assert!(view.pending_certificates.is_empty());
        assert_eq!(
            world.idp().signing_certificates,
            before.signing_certificates
        );
        assert_eq!(
            world.audit().pop().unwrap().action,
            "idp.certificate_rejected"
        );
    }

    /// Removals apply only while a trusted key remains: unsigned metadata that swaps every key
    /// for a new one keeps the trusted ones and holds the new one.
    #[tokio::test]
    async fn unsigned_metadata_that_drops_every_trusted_key_keeps_them() {
        let world = World::new().await;
        let before = world.idp();
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp-next-only.xml"), None);
        let result = refresh(&world).await;
        assert_eq!(result.outcome, Outcome::Held);
        assert!(result.changes.certificates_removed.is_empty());
        let after = world.idp();
        assert_eq!(after.signing_certificates, before.signing_certificates);
        assert_eq!(after.refresh.pending_certificates.len(), 1);
        // Once the new key is approved, the document's removal of the old one applies.
        let fingerprint = result.changes.certificates_held[0].clone();
        world
            .admin()
            .decide_pending_certificate(&caller(), &acme(), &okta(), &fingerprint, true)
            .await
            .unwrap();
        // The IdP republishes (the same keys, new bytes).
        let mut republished = metadata("idp-next-only.xml");
        republished.extend_from_slice(b"\n");
        world.fetcher.serve(METADATA_URL, &republished, None);
        let result = refresh(&world).await;
        assert_eq!(result.outcome, Outcome::Applied);
        assert_eq!(result.changes.certificates_removed.len(), 1);
        assert_eq!(world.idp().signing_certificates.len(), 1);
        assert_ne!(
            world.idp().signing_certificates,
            before.signing_certificates
        );
    }

    #[tokio::test]
    async fn refused_and_held_documents_leave_the_idp_as_it_was() {
        let text = String::from_utf8(metadata("idp.xml")).unwrap();
        let other_entity =
            text.replace("https://idp.example.com/saml", "https://evil.example/saml");
        let expired = text.replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor validUntil=\"2025-06-01T00:00:00Z\" ",
            1,
        );
        let cases: Vec<(Option<Vec<u8>>, Outcome, &str)> = vec![
            (
                Some(metadata("idp-no-keys.xml")),
                Outcome::Failed,
                "metadata_no_signing_keys",
            ),
            (
                Some(other_entity.into_bytes()),
                Outcome::Held,
                "metadata_entity_changed",
            ),
            (
                Some(expired.into_bytes()),
                Outcome::Failed,
                "metadata_expired",
            ),
            (
                Some(b"<html>moved</html>".to_vec()),
                Outcome::Failed,
                "metadata_invalid",
            ),
            (None, Outcome::Failed, "metadata_fetch_failed"),
        ];
        for (document, outcome, code) in cases {
            let world = World::new().await;
            let before = world.idp();
            match document {
                Some(bytes) => world.fetcher.serve(METADATA_URL, &bytes, None),
                None => world.fetcher.fail(METADATA_URL, Timeout),
            }
            let result = refresh(&world).await;
            assert_eq!((result.outcome, result.reason), (outcome, Some(code)));
            assert_eq!(world.idp(), before, "{code}");
            assert_eq!(reasons(&world), [Some(code.to_owned())]);
        }
    }

    #[tokio::test]
    async fn a_write_that_loses_a_race_or_fails_is_refused_with_its_own_code() {
        for (kind, code) in [
            (Conflict, "metadata_write_conflict"),
            (Other, "metadata_write_failed"),
        ] {
            let world = World::new().await;
            world
                .fetcher
                .serve(METADATA_URL, &metadata("idp-rollover.xml"), None);
            world.store.faults.fail("replace_idp", kind);
            let result = refresh(&world).await;
            assert_eq!(result.reason, Some(code));
            assert_eq!(result.outcome, Outcome::Failed);
        }
    }

    #[tokio::test]
    async fn a_document_without_the_binding_the_idp_is_configured_for_is_refused() {
        let world = World::new().await;
        world
            .store
            .idps
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|idp| {
                idp.settings.request_binding = samlgate_domain::idp::RequestBinding::Post
            });
        let text = String::from_utf8(metadata("idp-rollover.xml")).unwrap();
        let start = text.find("<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"").unwrap();
        let end = start + text[start..].find("/>").unwrap() + 2;
        let redirect_only = format!("{}{}", &text[..start], &text[end..]);
        world
            .fetcher
            .serve(METADATA_URL, redirect_only.as_bytes(), None);
        let before = world.idp();
        let result = refresh(&world).await;
        assert_eq!(
            (result.outcome, result.reason),
            (Outcome::Failed, Some("metadata_invalid"))
        );
        assert_eq!(world.idp(), before);
    }

    #[tokio::test]
    async fn signed_metadata_is_required_where_a_signer_is_configured_and_size_is_bounded() {
        let world = World::new().await;
        let signer = world.idp().signing_certificates[0].clone();
        world
            .store
            .idps
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|idp| idp.refresh.signing_certificates = vec![signer.clone()]);
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp-rollover.xml"), None);
        let result = refresh(&world).await;
        assert_eq!(
            result.reason,
            Some("metadata_signature_invalid"),
            "unsigned"
        );
        world.fetcher.serve(
            METADATA_URL,
            &vec![b' '; crate::document::MAX_METADATA_BYTES + 1],
            None,
        );
        let result = refresh(&world).await;
        assert_eq!(result.reason, Some("metadata_fetch_failed"), "oversized");
    }

    #[test]
    fn every_refresh_reason_is_documented_in_the_readme() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        for code in Refused::CODES.iter().chain(DocumentRejection::CODES) {
            assert!(readme.contains(&format!("`{code}`")), "README lacks {code}");
        }
    }

    #[tokio::test]
    async fn the_days_left_of_every_idp_are_reported() {
        let world = World::new().await;
        let caller = caller();
        let mut report = RefreshReport::default();
        world
            .refresh(&caller)
            .org(&[world.idp()], &mut report)
            .await;
        assert_eq!(report.idps.len(), 1);
        assert!(report.days_left[0].days > 0);
    }
}
