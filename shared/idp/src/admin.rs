//! IdP and SSO configuration through admin: register an IdP from metadata XML, a metadata
//! URL or manual fields; set its settings; set the organisation's SSO settings.
//! Registering an IdP creates its SP signing and encryption keys (and the organisation's
//! token key, once), sealed under the organisation key; the IdP item and its keys are written
//! in one transaction, so nothing is half-written.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::idp::{Idp, IdpSettings, MetadataSource, SsoSettings};
use samlgate_domain::ids::{sha256_hex, IdpId, OrgId};
use samlgate_domain::org::Org;
use samlgate_domain::ports::{
    AuditLog, GenerateDataKey, MetadataFetcher, SsoConfigReader, SsoConfigWriter,
};
use samlgate_domain::rules::web_url;
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey};
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::{PortErrorKind, Result, VaultError};
use serde::{Deserialize, Serialize};

use crate::document::{apply_document, bounded_entity_id, certificate_der, max_bytes_for};
use crate::refresh::certificate_not_after;
use crate::sp_key;

/// admin's SSO-configuration capabilities.
pub struct IdpAdmin<'a> {
    pub keys: &'a dyn GenerateDataKey,
    pub config: &'a dyn SsoConfigReader,
    pub writer: &'a dyn SsoConfigWriter,
    pub fetcher: &'a dyn MetadataFetcher,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub urls: &'a PublicUrls,
    /// Local development: IdP URLs may be plain HTTP to loopback.
    pub allow_loopback_http: bool,
    /// The size limit of a federation aggregate (`Config::metadata_aggregate_max_bytes`).
    pub aggregate_max_bytes: usize,
}

/// How an MDQ request names the entity (Metadata Query Protocol §3.2, SAML profile §2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MdqIdentifier {
    /// The entity ID itself, URL-encoded.
    #[default]
    EntityId,
    /// `{sha1}` and the hex SHA-1 of the entity ID.
    Sha1,
}

/// The MDQ request URL for `entity_id` at the service `base`: `{base}/entities/{identifier}`.
pub fn mdq_url(base: &str, entity_id: &str, identifier: MdqIdentifier) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 3986 unreserved characters stay; everything else is encoded (`/`, `:`, `{`, `}`).
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let id = match identifier {
        MdqIdentifier::EntityId => entity_id.to_owned(),
        MdqIdentifier::Sha1 => {
            let digest = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                entity_id.as_bytes(),
            );
            format!("{{sha1}}{}", samlgate_domain::ids::hex(digest.as_ref()))
        }
    };
    format!(
        "{}/entities/{}",
        base.trim_end_matches('/'),
        utf8_percent_encode(&id, COMPONENT)
    )
}

/// Manually entered IdP details.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualIdp {
    pub entity_id: String,
    pub sso_url: String,
    #[serde(default)]
    pub slo_url: Option<String>,
    /// PEM certificates, or base64 DER.
    pub certificates: Vec<String>,
}

/// `POST /admin/orgs/{org}/idps`: exactly one of `metadata_xml`, `metadata_url`, `mdq_url`,
/// `manual`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewIdp {
    pub idp: String,
    #[serde(default)]
    pub metadata_xml: Option<String>,
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// A Metadata Query Protocol service (`https://mdq.example.org`): the IdP's metadata is
    /// `{mdq_url}/entities/{entity_id}`, signed by one of `metadata_signing_certificates`.
    #[serde(default)]
    pub mdq_url: Option<String>,
    #[serde(default)]
    pub mdq_identifier: MdqIdentifier,
    /// The IdP's entity ID: which entity of a federation aggregate (`metadata_url` or
    /// `metadata_xml` holding many entities) or of an MDQ service (`mdq_url`) this IdP is.
    #[serde(default)]
    pub entity_id: Option<String>,
    #[serde(default)]
    pub manual: Option<ManualIdp>,
    #[serde(default)]
    pub settings: IdpSettings,
    /// Certificates (PEM or base64 DER) that must sign the metadata document: checked now and
    /// on every daily refresh. Empty: unsigned metadata is accepted.
    #[serde(default)]
    pub metadata_signing_certificates: Vec<String>,
}

/// What admin answers about an IdP: the record's public parts and what to give the IdP.
#[derive(Debug, Clone, Serialize)]
pub struct IdpView {
    #[serde(flatten)]
    pub idp: Idp,
    pub sp_entity_id: String,
    pub acs_url: String,
    pub slo_url: String,
    pub sp_metadata_url: String,
    pub login_url: String,
    pub sp_certificates: Vec<SpCertificate>,
    /// The IdP's signing certificates: SHA-256 fingerprint and end of validity.
    pub idp_certificates: Vec<IdpCertificate>,
    /// Registered by metadata URL with no metadata signing certificate: new signing
    /// certificates in its metadata wait for approval (`pending_certificates`).
    pub unsigned_metadata: bool,
    /// Signing certificates unsigned metadata added, not trusted until approved.
    pub pending_certificates: Vec<IdpCertificate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdpCertificate {
    pub fingerprint: String,
    /// `None` if the certificate cannot be read as X.509 (it is still trusted as a key).
    pub not_after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpCertificate {
    pub id: String,
    pub usage: KeyUse,
    /// `next` (published, not yet used), `active` or `retiring` (still published).
    pub state: KeyState,
    pub certificate: String,
    pub not_after: String,
}

/// One of the organisation's token keys, as `GET /admin/orgs/{org}/token-keys` shows it (the
/// public JWK is in the JWKS; nothing private is ever shown).
#[derive(Debug, Clone, Serialize)]
pub struct TokenKeyView {
    pub id: String,
    /// `ES256` or `RS256`.
    pub alg: &'static str,
    /// `next` (in the JWKS, not yet signing), `active`, `retiring` (in the JWKS, no longer
    /// signing) or `retired`.
    pub state: KeyState,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub not_after: String,
}

impl IdpAdmin<'_> {
    /// The organisation's token keys, newest first.
    pub async fn token_keys(&self, org: &OrgId) -> Result<Vec<TokenKeyView>> {
        self.org(org).await?;
        let mut keys: Vec<TokenKeyView> = self
            .config
            .sp_keys(org, None)
            .await?
            .into_iter()
            .filter(|k| k.usage.is_token())
            .map(|k| TokenKeyView {
                alg: if k.usage == KeyUse::TokenRsa {
                    "RS256"
                } else {
                    "ES256"
                },
                id: k.id,
                state: k.state,
                activated_at: k
                    .activated_at
                    .or_else(|| (k.state != KeyState::Next).then(|| k.created_at.clone())),
                created_at: k.created_at,
                not_after: k.not_after,
            })
            .collect();
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(keys)
    }

    async fn org(&self, org: &OrgId) -> Result<Org> {
        self.config.active_org(org).await
    }

    fn auditor(&self) -> Auditor<'_> {
        Auditor {
            log: self.audit,
            clock: self.clock,
        }
    }

    /// `PUT /admin/orgs/{org}/sso`: replaces the whole object.
    pub async fn put_sso_settings(
        &self,
        caller: &Caller,
        org: &OrgId,
        settings: SsoSettings,
    ) -> Result<SsoSettings> {
        self.change_sso_settings(caller, org, |_| Ok(settings))
            .await
    }

    /// `PATCH /admin/orgs/{org}/sso`: an RFC 7396 merge patch over the stored settings (or the
    /// defaults, if there are none yet); `{"domain_hints": {"old.example": null}}` drops one
    /// domain.
    pub async fn patch_sso_settings(
        &self,
        caller: &Caller,
        org: &OrgId,
        patch: &serde_json::Value,
    ) -> Result<SsoSettings> {
        use samlgate_domain::schema::{from_value, patched};
        self.change_sso_settings(caller, org, |current| match current {
            Some(current) => patched(current, patch),
            None => patched(&from_value::<SsoSettings>(serde_json::json!({}))?, patch),
        })
        .await
    }

    async fn change_sso_settings(
        &self,
        caller: &Caller,
        org: &OrgId,
        new_settings: impl FnOnce(Option<&SsoSettings>) -> Result<SsoSettings>,
    ) -> Result<SsoSettings> {
        let result = async {
            self.org(org).await?;
            let current = self.config.sso_settings(org).await?;
            let settings = new_settings(current.as_ref())?;
            settings.validate()?;
            let referenced = settings
                .domain_hints
                .values()
                .chain(settings.default_idp.iter());
            for idp in referenced {
                if self.config.idp(org, idp).await?.is_none() {
                    return Err(VaultError::InvalidRequest(format!(
                        "IdP {idp} is not registered"
                    )));
                }
            }
            self.writer.put_sso_settings(org, &settings).await?;
            Ok(settings)
        }
        .await;
        self.auditor()
            .outcome(org, caller, "sso.settings", None, &result)
            .await;
        result
    }

    pub async fn get_sso_settings(&self, org: &OrgId) -> Result<SsoSettings> {
        self.config
            .sso_settings(org)
            .await?
            .ok_or(VaultError::SsoNotConfigured)
    }

    /// `POST /admin/orgs/{org}/idps`.
    pub async fn register_idp(&self, caller: &Caller, org: &OrgId, new: NewIdp) -> Result<IdpView> {
        let mut facts = BTreeMap::new();
        let result = self.register_inner(org, new, &mut facts).await;
        self.auditor()
            .outcome_with_facts(org, caller, "idp.register", None, &result, facts)
            .await;
        result
    }

    async fn register_inner(
        &self,
        org_id: &OrgId,
        new: NewIdp,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<IdpView> {
        let org = self.org(org_id).await?;
        let idp_id = IdpId::parse(&new.idp)?;
        facts.insert("idp".into(), idp_id.to_string());
        new.settings.validate()?;
        if !new.settings.algorithm_exceptions.is_empty() {
            facts.insert(
                "algorithm_exceptions".into(),
                new.settings.algorithm_exceptions.join(" "),
            );
        }
        let sources = [
            new.metadata_xml.is_some(),
            new.metadata_url.is_some(),
            new.mdq_url.is_some(),
            new.manual.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(VaultError::InvalidRequest(
                "give exactly one of metadata_xml, metadata_url, mdq_url, manual".into(),
            ));
        }
        if new.entity_id.is_some() && new.manual.is_some() {
            return Err(VaultError::InvalidRequest(
                "entity_id picks an IdP from an aggregate or an MDQ service; give it in manual"
                    .into(),
            ));
        }
        if new.mdq_url.is_some()
            && (new.entity_id.is_none() || new.metadata_signing_certificates.is_empty())
        {
            return Err(VaultError::InvalidRequest(
                "mdq_url needs entity_id and the service's metadata_signing_certificates".into(),
            ));
        }
        if self.config.idp(org_id, &idp_id).await?.is_some() {
            return Err(VaultError::IdpExists);
        }
        let now = self.clock.now();
        let stamp = format_instant(now);
        let mut idp = Idp {
            org: org_id.clone(),
            idp: idp_id.clone(),
            entity_id: String::new(),
            sso_redirect_url: None,
            sso_post_url: None,
            slo_redirect_url: None,
            slo_post_url: None,
            signing_certificates: Vec::new(),
            want_authn_requests_signed: false,
            metadata_url: None,
            metadata_sha256: None,
            settings: new.settings,
            version: 1,
            created_at: stamp.clone(),
            updated_at: stamp,
            refresh: Default::default(),
            scopes: Vec::new(),
        };
        if new.metadata_signing_certificates.len() > 4 {
            return Err(VaultError::InvalidRequest(
                "give at most 4 metadata_signing_certificates".into(),
            ));
        }
        for text in &new.metadata_signing_certificates {
            let der = certificate_der(text)?;
            saml::IdpMetadata::signing_key_usable(&der).map_err(|_| {
                VaultError::InvalidRequest(
                    "a metadata signing certificate is not a usable X.509 certificate".into(),
                )
            })?;
            idp.refresh.signing_certificates.push(B64.encode(der));
        }
        if new.manual.is_some() && !idp.refresh.signing_certificates.is_empty() {
            return Err(VaultError::InvalidRequest(
                "metadata_signing_certificates need metadata_xml or metadata_url".into(),
            ));
        }
        if let Some(entity_id) = &new.entity_id {
            idp.entity_id = bounded_entity_id(entity_id)?;
            idp.refresh.source = if new.mdq_url.is_some() {
                MetadataSource::Mdq
            } else {
                MetadataSource::Aggregate
            };
            facts.insert(
                "metadata_source".into(),
                serde_json::to_value(idp.refresh.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            );
        }
        let max_bytes = max_bytes_for(idp.refresh.source, self.aggregate_max_bytes);
        let url = match (&new.metadata_url, &new.mdq_url) {
            (Some(url), _) => {
                Some(web_url("metadata_url", url, self.allow_loopback_http)?.to_string())
            }
            (None, Some(base)) => {
                let base = web_url("mdq_url", base, self.allow_loopback_http)?;
                let url = mdq_url(base.as_str(), &idp.entity_id, new.mdq_identifier);
                Some(web_url("mdq_url", &url, self.allow_loopback_http)?.to_string())
            }
            (None, None) => None,
        };
        if let Some(xml) = &new.metadata_xml {
            apply_document(
                &mut idp,
                xml.as_bytes(),
                self.allow_loopback_http,
                now,
                max_bytes,
            )?;
            facts.insert("source".into(), "metadata_xml".into());
        } else if let Some(url) = url {
            let bytes = self.fetcher.fetch(&url, max_bytes).await.map_err(|e| {
                facts.insert("fetch_error".into(), e.detail.clone());
                VaultError::MetadataFetch(e.detail)
            })?;
            apply_document(&mut idp, &bytes, self.allow_loopback_http, now, max_bytes)?;
            let source = if new.mdq_url.is_some() {
                "mdq_url"
            } else {
                "metadata_url"
            };
            facts.insert("source".into(), source.into());
            idp.metadata_url = Some(url);
        } else if let Some(manual) = &new.manual {
            self.apply_manual(&mut idp, manual)?;
            facts.insert("source".into(), "manual".into());
        }
        facts.insert("entity_id".into(), idp.entity_id.clone());
        if idp.sso_url().is_none() {
            return Err(VaultError::InvalidRequest(
                "the IdP has no SingleSignOnService for the configured request_binding".into(),
            ));
        }

        let mut keys = vec![
            sp_key::generate_saml_key(
                self.keys,
                &org,
                &idp_id,
                KeyUse::Signing,
                KeyState::Active,
                now,
            )
            .await?,
            sp_key::generate_saml_key(
                self.keys,
                &org,
                &idp_id,
                KeyUse::Encryption,
                KeyState::Active,
                now,
            )
            .await?,
        ];
        match self.writer.insert_idp(&idp, &keys).await {
            Ok(()) => {}
            Err(e) if e.kind == PortErrorKind::Conflict => return Err(VaultError::IdpExists),
            Err(e) => return Err(e.into()),
        }
        // The organisation's token keys, once: ES256 (the default) and RS256 (OIDC Core
        // §15.1), both in its JWKS.
        if self.config.sp_keys(org_id, None).await?.is_empty() {
            for usage in [KeyUse::Token, KeyUse::TokenRsa] {
                let token_key =
                    sp_key::generate_token_key(self.keys, &org, usage, KeyState::Active, now)
                        .await?;
                self.writer.insert_token_key(&token_key).await?;
                keys.push(token_key);
            }
        }
        Ok(self.view(idp, &keys))
    }

    fn apply_manual(&self, idp: &mut Idp, manual: &ManualIdp) -> Result<()> {
        idp.entity_id = bounded_entity_id(&manual.entity_id)?;
        let sso = web_url("sso_url", &manual.sso_url, self.allow_loopback_http)?.to_string();
        idp.sso_redirect_url = Some(sso.clone());
        idp.sso_post_url = Some(sso);
        if let Some(slo) = &manual.slo_url {
            let slo = web_url("slo_url", slo, self.allow_loopback_http)?.to_string();
            idp.slo_redirect_url = Some(slo.clone());
            idp.slo_post_url = Some(slo);
        }
        if manual.certificates.is_empty() || manual.certificates.len() > 8 {
            return Err(VaultError::InvalidRequest(
                "give 1–8 signing certificates".into(),
            ));
        }
        for text in &manual.certificates {
            let der = certificate_der(text)?;
            // The verifier loads every certificate with this loader; refuse what it could not.
            saml::IdpMetadata::signing_key_usable(&der).map_err(|_| {
                VaultError::InvalidRequest("a certificate is not a usable X.509 certificate".into())
            })?;
            idp.signing_certificates.push(B64.encode(der));
        }
        Ok(())
    }

    /// `PUT …/idps/{idp}/settings`: replaces the whole settings object (an absent field takes
    /// its default).
    pub async fn update_settings(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp_id: &IdpId,
        settings: IdpSettings,
    ) -> Result<IdpView> {
        self.change_settings(caller, org, idp_id, |_| Ok(settings))
            .await
    }

    /// `PATCH …/idps/{idp}/settings`: an RFC 7396 merge patch over the stored settings (only
    /// the fields it names change; `null` resets one to its default). The answer holds the
    /// resulting settings.
    pub async fn patch_settings(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp_id: &IdpId,
        patch: &serde_json::Value,
    ) -> Result<IdpView> {
        self.change_settings(caller, org, idp_id, |current| {
            samlgate_domain::schema::patched(current, patch)
        })
        .await
    }

    async fn change_settings(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp_id: &IdpId,
        new_settings: impl FnOnce(&IdpSettings) -> Result<IdpSettings>,
    ) -> Result<IdpView> {
        let mut facts = BTreeMap::from([("idp".to_owned(), idp_id.to_string())]);
        let result = async {
            self.org(org).await?;
            let mut idp = self
                .config
                .idp(org, idp_id)
                .await?
                .ok_or(VaultError::IdpNotFound)?;
            let settings = new_settings(&idp.settings)?;
            settings.validate()?;
            if settings.algorithm_exceptions != idp.settings.algorithm_exceptions {
                facts.insert(
                    "algorithm_exceptions".into(),
                    settings.algorithm_exceptions.join(" "),
                );
            }
            let expected = idp.version;
            idp.settings = settings;
            if idp.sso_url().is_none() {
                return Err(VaultError::InvalidRequest(
                    "the IdP has no SingleSignOnService for that request_binding".into(),
                ));
            }
            self.replace(idp, expected).await
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "idp.settings", None, &result, facts)
            .await;
        result
    }

    /// An org admin's decision on a signing certificate that unsigned metadata added (held by
    /// the daily refresh in `refresh.pending_certificates`): `approve` trusts it
    /// (`POST …/idps/{idp}/pending-certificates/{sha256}/approve`), otherwise it is dropped
    /// (`DELETE …/idps/{idp}/pending-certificates/{sha256}`).
    pub async fn decide_pending_certificate(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp_id: &IdpId,
        fingerprint: &str,
        approve: bool,
    ) -> Result<IdpView> {
        let action = if approve {
            "idp.certificate_approved"
        } else {
            "idp.certificate_rejected"
        };
        let mut facts = BTreeMap::from([("idp".to_owned(), idp_id.to_string())]);
        let result = async {
            if fingerprint.len() != 64
                || !fingerprint
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(VaultError::InvalidRequest(
                    "a certificate is named by its SHA-256 fingerprint: 64 lowercase hex digits"
                        .into(),
                ));
            }
            facts.insert("certificate".into(), fingerprint.to_owned());
            self.org(org).await?;
            let mut idp = self
                .config
                .idp(org, idp_id)
                .await?
                .ok_or(VaultError::IdpNotFound)?;
            let position = idp
                .refresh
                .pending_certificates
                .iter()
                .position(|c| {
                    B64.decode(c)
                        .is_ok_and(|der| sha256_hex(&der) == fingerprint)
                })
                .ok_or(VaultError::CertificateNotPending)?;
            let certificate = idp.refresh.pending_certificates.remove(position);
            if approve {
                let der = B64.decode(&certificate).unwrap_or_default();
                saml::IdpMetadata::signing_key_usable(&der).map_err(|_| {
                    VaultError::InvalidRequest(
                        "the certificate is not a usable X.509 certificate".into(),
                    )
                })?;
                idp.signing_certificates.push(certificate);
            }
            let expected = idp.version;
            self.replace(idp, expected).await
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, action, None, &result, facts)
            .await;
        result
    }

    pub async fn get_idp(&self, org: &OrgId, idp_id: &IdpId) -> Result<IdpView> {
        let idp = self
            .config
            .idp(org, idp_id)
            .await?
            .ok_or(VaultError::IdpNotFound)?;
        let keys = self.config.sp_keys(org, Some(idp_id)).await?;
        Ok(self.view(idp, &keys))
    }

    pub async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>> {
        Ok(self.config.list_idps(org).await?)
    }

    /// Writes the next version of `idp` if the stored one is still `expected`
    /// (`version_conflict` otherwise), and answers its view.
    async fn replace(&self, mut idp: Idp, expected: u32) -> Result<IdpView> {
        idp.version = expected + 1;
        idp.updated_at = format_instant(self.clock.now());
        match self.writer.replace_idp(&idp, expected).await {
            Ok(()) => {}
            Err(e) if e.kind == PortErrorKind::Conflict => return Err(VaultError::VersionConflict),
            Err(e) => return Err(e.into()),
        }
        let keys = self.config.sp_keys(&idp.org, Some(&idp.idp)).await?;
        Ok(self.view(idp, &keys))
    }

    fn view(&self, idp: Idp, keys: &[SpKey]) -> IdpView {
        let (org, id) = (&idp.org, &idp.idp);
        IdpView {
            sp_entity_id: self.urls.sp_entity_id(org, id),
            acs_url: self.urls.acs_url(org, id),
            slo_url: self.urls.slo_url(org, id),
            sp_metadata_url: self.urls.sp_entity_id(org, id),
            login_url: format!("{}?idp={id}", self.urls.login_url(org)),
            sp_certificates: keys
                .iter()
                .filter(|k| k.idp.as_ref() == Some(id) && k.published())
                .filter_map(|k| {
                    Some(SpCertificate {
                        id: k.id.clone(),
                        usage: k.usage,
                        state: k.state,
                        certificate: k.certificate.clone()?,
                        not_after: k.not_after.clone(),
                    })
                })
                .collect(),
            idp_certificates: certificates(&idp.signing_certificates),
            unsigned_metadata: idp.on_unsigned_metadata(),
            pending_certificates: certificates(&idp.refresh.pending_certificates),
            idp,
        }
    }
}

/// Fingerprints and ends of validity of base64 DER certificates.
fn certificates(base64_der: &[String]) -> Vec<IdpCertificate> {
    base64_der
        .iter()
        .filter_map(|c| B64.decode(c).ok())
        .map(|der| IdpCertificate {
            fingerprint: sha256_hex(&der),
            not_after: certificate_not_after(&der).map(format_instant),
        })
        .collect()
}

/// Registration and settings over the kernel's twins: every refusal leaves nothing behind.
#[cfg(test)]
mod tests {
    use samlgate_domain::PortErrorKind::{AccessDenied, Conflict, Timeout};

    use super::*;
    use crate::testing::{acme, caller, metadata, okta, World, METADATA_URL};

    fn nothing_written(world: &World) -> bool {
        world.store.idps.lock().unwrap().is_empty() && world.store.keys.lock().unwrap().is_empty()
    }

    #[tokio::test]
    async fn registration_makes_the_idp_its_keys_and_the_organisations_token_key_once() {
        let world = World::new().await;
        let keys = world.store.keys.lock().unwrap().clone();
        let token_keys = keys.iter().filter(|k| k.usage.is_token()).count();
        assert_eq!(
            (keys.len(), token_keys),
            (4, 2),
            "SP signing, SP encryption, ES256, RS256"
        );
        let view = world.admin().get_idp(&acme(), &okta()).await.unwrap();
        assert_eq!(view.acs_url, "https://sso.example.com/o/acme/idp/okta/acs");
        assert_eq!(view.sp_certificates.len(), 2);
        assert_eq!(view.idp.metadata_url.as_deref(), Some(METADATA_URL));
        let mut second = world.new_idp();
        second.idp = "entra".into();
        world
            .admin()
            .register_idp(&caller(), &acme(), second)
            .await
            .unwrap();
        let token_keys = world
            .store
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.usage.is_token())
            .count();
        assert_eq!(token_keys, 2, "one pair of token keys per organisation");
    }

    fn federation_signer() -> String {
        String::from_utf8(
            std::fs::read(format!(
                "{}/../saml/tests/fixtures/keys/federation.crt",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap()
    }

    const FEDERATION: &str = "https://federation.example.org/aggregate.xml";
    const IDP: &str = "https://idp.example.com/saml";

    /// An IdP picked by entity ID from a signed federation aggregate (libxmlsec1 fixture):
    /// stored with its source, its validity the nested EntitiesDescriptor's, refreshed from the
    /// aggregate URL; a tampered aggregate or an entity it does not hold is refused.
    #[tokio::test]
    async fn an_idp_registers_from_a_signed_federation_aggregate_by_entity_id() {
        let world = World::empty();
        world
            .fetcher
            .serve(FEDERATION, &metadata("federation-aggregate.xml"), None);
        let new = |entity: &str| NewIdp {
            metadata_url: Some(FEDERATION.into()),
            entity_id: Some(entity.into()),
            metadata_signing_certificates: vec![federation_signer()],
            ..world.new_idp()
        };
        let view = world
            .admin()
            .register_idp(&caller(), &acme(), new(IDP))
            .await
            .unwrap();
        assert_eq!(view.idp.entity_id, IDP);
        assert_eq!(view.idp.refresh.source, MetadataSource::Aggregate);
        assert_eq!(view.idp.metadata_url.as_deref(), Some(FEDERATION));
        assert_eq!(
            view.idp.refresh.valid_until.as_deref(),
            Some("2026-06-01T00:00:00Z")
        );
        assert!(!view.unsigned_metadata);
        for (entity, code) in [
            ("https://absent.example/idp", "metadata_invalid"),
            ("https://sp.other.example/sp", "metadata_invalid"),
        ] {
            let e = World::empty();
            e.fetcher
                .serve(FEDERATION, &metadata("federation-aggregate.xml"), None);
            let refused = e
                .admin()
                .register_idp(
                    &caller(),
                    &acme(),
                    NewIdp {
                        metadata_url: Some(FEDERATION.into()),
                        entity_id: Some(entity.into()),
                        ..e.new_idp()
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(refused.code(), code, "{entity}: {refused}");
        }
        let tampered = World::empty();
        tampered.fetcher.serve(
            FEDERATION,
            &metadata("federation-aggregate-tampered.xml"),
            None,
        );
        let refused = tampered
            .admin()
            .register_idp(
                &caller(),
                &acme(),
                NewIdp {
                    metadata_url: Some(FEDERATION.into()),
                    entity_id: Some(IDP.into()),
                    metadata_signing_certificates: vec![federation_signer()],
                    ..tampered.new_idp()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "metadata_invalid");
        assert!(refused.to_string().contains("signature"), "{refused}");
    }

    #[test]
    fn mdq_request_urls_encode_the_entity_id_or_its_sha1() {
        assert_eq!(
            mdq_url(
                "https://mdq.example.org/",
                "https://idp.example.com/saml",
                MdqIdentifier::EntityId
            ),
            "https://mdq.example.org/entities/https%3A%2F%2Fidp.example.com%2Fsaml"
        );
        // echo -n https://idp.example.com/saml | sha1sum
        assert_eq!(
            mdq_url(
                "https://mdq.example.org",
                "https://idp.example.com/saml",
                MdqIdentifier::Sha1
            ),
            format!(
                "https://mdq.example.org/entities/%7Bsha1%7D{}",
                "c68b4eb2098d5dc331f71853a825b2e44b661a13"
            )
        );
    }

    #[tokio::test]
    async fn an_mdq_registration_fetches_the_entitys_url_and_needs_a_signer() {
        let world = World::empty();
        let url = mdq_url("https://mdq.example.org", IDP, MdqIdentifier::EntityId);
        world
            .fetcher
            .serve(&url, &metadata("federation-aggregate.xml"), None);
        let mdq = |w: &World, signers: Vec<String>| NewIdp {
            metadata_url: None,
            mdq_url: Some("https://mdq.example.org".into()),
            entity_id: Some(IDP.into()),
            metadata_signing_certificates: signers,
            ..w.new_idp()
        };
        let refused = world
            .admin()
            .register_idp(&caller(), &acme(), mdq(&world, vec![]))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "invalid_request");
        let view = world
            .admin()
            .register_idp(&caller(), &acme(), mdq(&world, vec![federation_signer()]))
            .await
            .unwrap();
        assert_eq!(view.idp.refresh.source, MetadataSource::Mdq);
        assert_eq!(view.idp.metadata_url.as_deref(), Some(url.as_str()));
    }

    #[tokio::test]
    async fn refused_registrations_write_nothing() {
        let two_sources = |w: &World| NewIdp {
            metadata_xml: Some(String::from_utf8(metadata("idp.xml")).unwrap()),
            ..w.new_idp()
        };
        let bad_id = |w: &World| NewIdp {
            idp: "Okta!".into(),
            ..w.new_idp()
        };
        let no_keys = |w: &World| NewIdp {
            metadata_url: None,
            metadata_xml: Some(String::from_utf8(metadata("idp-no-keys.xml")).unwrap()),
            ..w.new_idp()
        };
        type Input<'a> = &'a dyn Fn(&World) -> NewIdp;
        let cases: Vec<(Input, &str)> = vec![
            (&two_sources, "invalid_request"),
            (&bad_id, "invalid_request"),
            (&no_keys, "metadata_invalid"),
        ];
        for (input, code) in cases {
            let world = World::empty();
            world
                .fetcher
                .serve(METADATA_URL, &metadata("idp.xml"), None);
            let e = world
                .admin()
                .register_idp(&caller(), &acme(), input(&world))
                .await
                .unwrap_err();
            assert_eq!(e.code(), code);
            assert!(nothing_written(&world), "{code}");
            let reasons: Vec<_> = world.audit().into_iter().map(|e| e.reason).collect();
            assert_eq!(reasons, [Some(code.to_owned())]);
        }
    }

    #[tokio::test]
    async fn failures_on_the_way_write_nothing_half() {
        // The metadata URL does not answer.
        let world = World::empty();
        world.fetcher.fail(METADATA_URL, Timeout);
        let e = world
            .admin()
            .register_idp(&caller(), &acme(), world.new_idp())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "metadata_fetch_failed");
        assert!(nothing_written(&world));
        // The organisation key refuses: no SP key can be sealed.
        let world = World::empty();
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp.xml"), None);
        world.kms.faults.fail("generate_data_key", AccessDenied);
        let e = world
            .admin()
            .register_idp(&caller(), &acme(), world.new_idp())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "key_access_denied");
        assert!(nothing_written(&world));
        // Another registration of the same IdP won the race to the transaction.
        let world = World::empty();
        world
            .fetcher
            .serve(METADATA_URL, &metadata("idp.xml"), None);
        world.store.faults.fail("insert_idp", Conflict);
        let e = world
            .admin()
            .register_idp(&caller(), &acme(), world.new_idp())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "idp_exists");
        assert!(nothing_written(&world));
    }

    #[tokio::test]
    async fn settings_and_sso_settings_refuse_what_cannot_work() {
        let world = World::new().await;
        let admin = world.admin();
        let e = admin
            .register_idp(&caller(), &acme(), world.new_idp())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "idp_exists");
        world.store.faults.fail("replace_idp", Conflict);
        let e = admin
            .update_settings(&caller(), &acme(), &okta(), IdpSettings::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "version_conflict");
        world.store.faults.heal("replace_idp");
        let unknown = IdpId::parse("entra").unwrap();
        let e = admin
            .update_settings(&caller(), &acme(), &unknown, IdpSettings::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "idp_not_found");
        let mut settings = admin.get_sso_settings(&acme()).await.unwrap();
        settings.default_idp = Some(unknown);
        let e = admin
            .put_sso_settings(&caller(), &acme(), settings)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert_eq!(world.idp().version, 1);
    }

    /// A user sent `{"request_binding": "post"}` with PUT and lost the mapping: PATCH changes
    /// only what it names, answers the result, and is refused as a whole like PUT.
    #[tokio::test]
    async fn a_settings_patch_keeps_every_field_it_does_not_name() {
        use serde_json::json;
        let world = World::new().await;
        let admin = world.admin();
        let mut settings = world.idp().settings;
        settings.mapping.email = Some("mail".into());
        settings.rules.required_group = Some("staff".into());
        admin
            .update_settings(&caller(), &acme(), &okta(), settings.clone())
            .await
            .unwrap();
        let view = admin
            .patch_settings(
                &caller(),
                &acme(),
                &okta(),
                &json!({"request_binding": "post"}),
            )
            .await
            .unwrap();
        let mut expected = settings.clone();
        expected.request_binding = samlgate_domain::idp::RequestBinding::Post;
        assert_eq!(view.idp.settings, expected);
        assert_eq!(world.idp().settings, expected);
        let version = world.idp().version;
        for bad in [
            json!({"request_binding": "HTTP-POST"}),
            json!({"clock_skew_secs": 601}),
            json!({"algorithm_exceptions": ["md5"]}),
            json!("post"),
        ] {
            let e = admin
                .patch_settings(&caller(), &acme(), &okta(), &bad)
                .await
                .unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{bad}");
        }
        assert_eq!(world.idp().version, version, "nothing written");
        assert_eq!(world.idp().settings, expected);

        // SSO settings: a domain added and one removed, the rest kept.
        let mut sso = admin.get_sso_settings(&acme()).await.unwrap();
        sso.domain_hints.insert("old.example".into(), okta());
        sso.session_ttl_secs = 3600;
        admin
            .put_sso_settings(&caller(), &acme(), sso)
            .await
            .unwrap();
        let after = admin
            .patch_sso_settings(
                &caller(),
                &acme(),
                &json!({"domain_hints": {"old.example": null, "new.example": "okta"}}),
            )
            .await
            .unwrap();
        assert_eq!(after.session_ttl_secs, 3600);
        assert_eq!(
            after.domain_hints.keys().collect::<Vec<_>>(),
            ["new.example"]
        );
        assert_eq!(admin.get_sso_settings(&acme()).await.unwrap(), after);
    }
}
