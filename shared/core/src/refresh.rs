//! IdP metadata refresh (issue 7 §2): every day, for every IdP registered by metadata URL, a
//! conditional GET (ETag / If-Modified-Since) with admin's size and time limits; the
//! document's signature checked when a metadata signing certificate is configured; its
//! `validUntil` honoured. A changed document is compared with the stored configuration:
//!
//! - signing certificates added or removed, endpoints changed: applied, as long as at least
//!   one signing certificate remains (the metadata is the IdP's own statement, as at
//!   registration; a document that would leave no signing key is refused);
//! - the entity ID changed: held, never applied (it is a different IdP: re-register it);
//! - anything unreadable, unsigned where a signature is required, expired, oversized or
//!   slow: refused; the stored configuration stays as it was.
//!
//! Every change and every refusal is an audit item (`idp.metadata_refresh`) and counts in the
//! run's report, which rotate turns into the metrics the template's alarms watch.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use saml::{format_instant, Clock};
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{Auditor, Caller};
use crate::error::{PortError, PortErrorKind, VaultError};
use crate::idp::{Idp, IdpId};
use crate::idp_admin::{apply_document, MAX_METADATA_BYTES};
use crate::model::{sha256_hex, OrgId};
use crate::ports::{
    AuditLog, Fetched, MetadataFetcher, OrgDirectory, SsoConfigReader, SsoConfigWriter,
};

/// How one IdP's refresh ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 304, or the same bytes as stored.
    Unchanged,
    /// The document changed and its changes were written.
    Applied,
    /// The document changed in a way never applied automatically (its entity ID).
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
    pub endpoints_changed: Vec<&'static str>,
    pub entity_id_changed: bool,
}

impl Changes {
    fn between(old: &Idp, new: &Idp) -> Self {
        let fingerprints = |idp: &Idp| -> BTreeSet<String> {
            idp.signing_certificates
                .iter()
                .map(|c| sha256_hex(&B64.decode(c).unwrap_or_default()))
                .collect()
        };
        let (before, after) = (fingerprints(old), fingerprints(new));
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
            endpoints_changed,
            entity_id_changed: old.entity_id != new.entity_id,
        }
    }

    fn any(&self) -> bool {
        !self.certificates_added.is_empty()
            || !self.certificates_removed.is_empty()
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
    pub orgs: &'a dyn OrgDirectory,
    pub config: &'a dyn SsoConfigReader,
    pub writer: &'a dyn SsoConfigWriter,
    pub fetcher: &'a dyn MetadataFetcher,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub caller: &'a Caller,
    /// Local development: metadata and endpoints may be plain HTTP to loopback.
    pub allow_loopback_http: bool,
}

/// Why a document was refused or held (audit reason codes).
#[derive(Debug)]
struct Refused(&'static str, String);

impl Refresh<'_> {
    pub async fn run(&self) -> Result<RefreshReport, PortError> {
        let mut report = RefreshReport::default();
        for org in crate::rotation::active_orgs(self.orgs, self.config).await? {
            let idps = self.config.list_idps(&org.org).await?;
            self.org(&idps, &mut report).await;
        }
        Ok(report)
    }

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
            Ok(outcome) => result.outcome = outcome,
            Err(Refused(code, detail)) => {
                result.reason = Some(code);
                if code == "metadata_entity_changed" {
                    result.outcome = Outcome::Held;
                }
                tracing::warn!(code, org = %idp.org, idp = %idp.idp, detail, "IdP metadata not applied");
            }
        }
        result
    }

    async fn refresh_inner(&self, idp: &Idp, changes: &mut Changes) -> Result<Outcome, Refused> {
        let now = self.clock.now();
        let url = idp.metadata_url.as_deref().unwrap_or_default();
        let fetched = self
            .fetcher
            .fetch_if_changed(
                url,
                MAX_METADATA_BYTES,
                idp.refresh.etag.as_deref(),
                idp.refresh.last_modified.as_deref(),
            )
            .await
            .map_err(|e| Refused("metadata_fetch_failed", e.detail))?;
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
        apply_document(&mut candidate, &bytes, self.allow_loopback_http, now).map_err(|e| {
            let code = match &e {
                VaultError::MetadataInvalid(d) if d.starts_with("metadata signature") => {
                    "metadata_signature_invalid"
                }
                VaultError::MetadataInvalid(d) if d.contains("validUntil") => "metadata_expired",
                VaultError::MetadataInvalid(d) if d.contains("no signing certificate") => {
                    "metadata_no_signing_keys"
                }
                _ => "metadata_invalid",
            };
            Refused(code, e.to_string())
        })?;
        *changes = Changes::between(idp, &candidate);
        if changes.entity_id_changed {
            return Err(Refused(
                "metadata_entity_changed",
                format!("the document names {}", candidate.entity_id),
            ));
        }
        if candidate.sso_url().is_none() {
            return Err(Refused(
                "metadata_invalid",
                "no SingleSignOnService for the configured request_binding".into(),
            ));
        }
        candidate.refresh.etag = etag;
        candidate.refresh.last_modified = last_modified;
        self.write(idp, candidate, now).await?;
        Ok(if changes.any() {
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
                PortErrorKind::Conflict => Refused(
                    "metadata_write_conflict",
                    "the IdP changed meanwhile; tomorrow's run retries".into(),
                ),
                _ => Refused("metadata_write_failed", e.to_string()),
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
