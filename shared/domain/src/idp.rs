//! IdP configuration (DESIGN.md §7): an organisation's identity providers, each with its own
//! settings (safe defaults), and the organisation's SSO settings (IdP routing, verified domains,
//! routing hints). Records only; admin and rotate write them, acs and metadata read them.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};
use crate::ids::{IdpId, OrgId};
use crate::rules::short_text;
use crate::sp_key::RotationPolicy;

/// How samlgate sends the AuthnRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestBinding {
    #[default]
    Redirect,
    Post,
}

/// Where each canonical claim comes from. `subject: None` means the NameID; the others name
/// a SAML attribute (`Name`), read with all its values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mapping {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Option<String>,
}

/// Extra conditions on a verified assertion (Issuer and Audience are always checked by the
/// verifier against configuration).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchRules {
    /// A regular expression the whole subject must match (anchored).
    pub subject_pattern: Option<String>,
    /// The user must be in this group (after mapping).
    pub required_group: Option<String>,
    /// Accepted AuthnContextClassRef values; empty accepts any.
    pub authn_context: Vec<String>,
}

/// Per-IdP settings, each with a safe default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdpSettings {
    /// Applied to every time comparison. Default 180, at most 600.
    pub clock_skew_secs: u32,
    /// Accept unsolicited (IdP-initiated) Responses. Default off.
    pub allow_idp_initiated: bool,
    /// Reject plaintext assertions. Default off.
    pub require_encrypted_assertions: bool,
    /// Sign AuthnRequests (rsa-sha256). Default on.
    pub sign_requests: bool,
    pub request_binding: RequestBinding,
    pub name_id_format: Option<String>,
    pub mapping: Mapping,
    pub rules: MatchRules,
    /// Algorithms the verifier would otherwise reject, by name: `rsa-sha1`, `sha1`,
    /// `aes-cbc` ([`saml::Exceptions`]). Off by default; every change is audited, and every
    /// login that needs one says so in its audit item.
    pub algorithm_exceptions: Vec<String>,
    /// What an OIDC `sub` starts with (`{namespace}:{subject}`): the IdP's ID when unset. Two
    /// IdPs share a namespace only when an admin gives them the same one (a migration).
    pub subject_namespace: Option<String>,
}

impl Default for IdpSettings {
    fn default() -> Self {
        Self {
            clock_skew_secs: 180,
            allow_idp_initiated: false,
            require_encrypted_assertions: false,
            sign_requests: true,
            request_binding: RequestBinding::Redirect,
            name_id_format: None,
            mapping: Mapping::default(),
            rules: MatchRules::default(),
            algorithm_exceptions: Vec::new(),
            subject_namespace: None,
        }
    }
}

/// The algorithm URIs earlier versions stored in `algorithm_exceptions`, read as the names.
const LEGACY_EXCEPTIONS: [(&str, &str); 2] = [
    ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "rsa-sha1"),
    ("http://www.w3.org/2000/09/xmldsig#sha1", "sha1"),
];

/// Largest subject pattern, in bytes (and its compiled size is bounded too).
const MAX_PATTERN: usize = 512;

impl IdpSettings {
    /// The verifier's exceptions from `algorithm_exceptions` (`rsa-sha1`, `sha1`, `aes-cbc`;
    /// the URIs earlier versions stored for the first two are read as their names).
    pub fn exceptions(&self) -> Result<saml::Exceptions> {
        let names: Vec<&str> = self
            .algorithm_exceptions
            .iter()
            .map(|name| {
                LEGACY_EXCEPTIONS
                    .iter()
                    .find(|(uri, _)| uri == name)
                    .map_or(name.as_str(), |(_, short)| short)
            })
            .collect();
        saml::Exceptions::from_names(&names)
            .map_err(|e| VaultError::InvalidRequest(format!("algorithm_exceptions: {e}")))
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(VaultError::InvalidRequest(m.to_owned()));
        if self.clock_skew_secs > 600 {
            return bad("clock_skew_secs must be at most 600");
        }
        if self.algorithm_exceptions.len() > saml::Exceptions::NAMES.len() {
            return bad("algorithm_exceptions names each exception at most once");
        }
        self.exceptions()?;
        if let Some(format) = &self.name_id_format {
            short_text("name_id_format", format, 256)?;
        }
        for attr in [
            &self.mapping.subject,
            &self.mapping.email,
            &self.mapping.name,
            &self.mapping.groups,
        ]
        .into_iter()
        .flatten()
        {
            short_text("mapping attribute", attr, 256)?;
        }
        if let Some(pattern) = &self.rules.subject_pattern {
            subject_regex(pattern)?;
        }
        if let Some(group) = &self.rules.required_group {
            short_text("required_group", group, 256)?;
        }
        if let Some(namespace) = &self.subject_namespace {
            // No ':' (it separates the namespace from the subject, so no two pairs meet).
            let ok = (1..=64).contains(&namespace.len())
                && namespace.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'-'
                        || b == b'_'
                        || b == b'.'
                });
            if !ok {
                return bad("subject_namespace must be 1–64 of a–z 0–9 - _ .");
            }
        }
        if self.rules.authn_context.len() > 16 {
            return bad("at most 16 authn_context values");
        }
        for class in &self.rules.authn_context {
            short_text("authn_context", class, 256)?;
        }
        Ok(())
    }
}

/// The subject pattern, anchored at both ends, with bounded compiled size.
pub fn subject_regex(pattern: &str) -> Result<regex_lite::Regex> {
    if pattern.len() > MAX_PATTERN {
        return Err(VaultError::InvalidRequest(format!(
            "subject_pattern is longer than {MAX_PATTERN} bytes"
        )));
    }
    regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|_| {
            VaultError::InvalidRequest("subject_pattern is not a valid regular expression".into())
        })
}

/// `ORG#{org}` / `IDP#{idp}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idp {
    pub org: OrgId,
    pub idp: IdpId,
    pub entity_id: String,
    pub sso_redirect_url: Option<String>,
    pub sso_post_url: Option<String>,
    pub slo_redirect_url: Option<String>,
    pub slo_post_url: Option<String>,
    /// Base64 DER certificates whose keys verify the IdP's signatures (several in rollover).
    pub signing_certificates: Vec<String>,
    pub want_authn_requests_signed: bool,
    /// Where the metadata came from, and its SHA-256 (hex) for the refresh job.
    pub metadata_url: Option<String>,
    pub metadata_sha256: Option<String>,
    pub settings: IdpSettings,
    pub version: u32,
    pub created_at: String,
    pub updated_at: String,
    /// What the daily metadata refresh keeps (IdPs registered by URL).
    #[serde(default)]
    pub refresh: MetadataRefresh,
    /// The scopes its metadata declares (`shibmd:Scope`): scoped attributes with another
    /// scope are dropped at login.
    #[serde(default)]
    pub scopes: Vec<IdpScope>,
}

/// One declared scope: a domain, or a regular expression the whole scope must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpScope {
    pub value: String,
    #[serde(default)]
    pub regexp: bool,
}

/// Read from metadata (registration, refresh).
impl From<&saml::Scope> for IdpScope {
    fn from(scope: &saml::Scope) -> Self {
        Self {
            value: scope.value.clone(),
            regexp: scope.regexp,
        }
    }
}

/// Given to the verifier (acs).
impl From<&IdpScope> for saml::Scope {
    fn from(scope: &IdpScope) -> Self {
        Self {
            value: scope.value.clone(),
            regexp: scope.regexp,
        }
    }
}

/// The refresh job's state for an IdP registered by metadata URL (`crate::refresh`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetadataRefresh {
    /// What the metadata document is: the IdP's own, a federation aggregate, an MDQ answer.
    pub source: MetadataSource,
    /// Base64 DER certificates that must sign the metadata document (empty: unsigned
    /// metadata over HTTPS is accepted, as at registration).
    pub signing_certificates: Vec<String>,
    /// The last response's validators, for a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The stored document's `validUntil` and `cacheDuration` (seconds).
    pub valid_until: Option<String>,
    pub cache_duration_secs: Option<u64>,
    /// When the stored document was last confirmed current (200 or 304).
    pub checked_at: Option<String>,
    /// Base64 DER signing certificates that unsigned metadata added, held until an org admin
    /// approves them (`POST …/idps/{idp}/pending-certificates/{sha256}/approve`): a document
    /// nobody signed never changes which keys are trusted by itself.
    pub pending_certificates: Vec<String>,
}

/// What an IdP's metadata document is (registration, and the daily refresh of `metadata_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataSource {
    /// The IdP's own metadata: one IdP in the document.
    #[default]
    Document,
    /// A federation aggregate (an EntitiesDescriptor of many entities, tens of MB for a
    /// national federation): the IdP is the entity of its `entity_id`, and the document's
    /// size limit is the aggregate limit.
    Aggregate,
    /// A Metadata Query Protocol service's answer for the IdP's `entity_id`
    /// (`{base}/entities/{id}`): a per-entity document, signed.
    Mdq,
}

impl MetadataSource {
    /// Whether the IdP is picked from the document by its entity ID.
    pub fn selects_entity(self) -> bool {
        self != Self::Document
    }
}

impl Idp {
    /// Registered by metadata URL with no metadata signing certificate: its daily refresh
    /// reads a document nobody signed, so certificate additions wait for an admin.
    pub fn on_unsigned_metadata(&self) -> bool {
        self.metadata_url.is_some() && self.refresh.signing_certificates.is_empty()
    }

    /// The configured signing certificates as DER; `None` if one is unreadable (a damaged
    /// item: nothing may be verified with a partial set).
    pub fn signing_certificates_der(&self) -> Option<Vec<Vec<u8>>> {
        self.signing_certificates
            .iter()
            .map(|c| B64.decode(c).ok())
            .collect()
    }

    /// The SSO endpoint for the configured binding.
    pub fn sso_url(&self) -> Option<&str> {
        match self.settings.request_binding {
            RequestBinding::Redirect => self.sso_redirect_url.as_deref(),
            RequestBinding::Post => self.sso_post_url.as_deref(),
        }
    }
}

/// `ORG#{org}` / `SSO`: the organisation's SSO settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoSettings {
    /// Email domain (lowercase) → IdP: routes a `login_hint`, and is the only source of
    /// `email_verified` (an email is verified only when its domain is assigned to the IdP
    /// that asserted it).
    #[serde(default)]
    pub domain_hints: BTreeMap<String, IdpId>,
    #[serde(default)]
    pub default_idp: Option<IdpId>,
    /// Session lifetime cap, seconds (default 8 h; at most 7 days).
    #[serde(default = "default_session_secs")]
    pub session_ttl_secs: u32,
    /// The SP key rotation calendar (defaults: a new key every year, published 30 days
    /// ahead, the previous one kept 30 days).
    #[serde(default)]
    pub rotation: RotationPolicy,
    /// The group (after the IdP's mapping) whose members may sign in to the admin console
    /// through samlgate (`samlgate-admins`, say). Unset: console sign-in is off and only setup
    /// links and operators get in.
    #[serde(default)]
    pub admin_group: Option<String>,
}

fn default_session_secs() -> u32 {
    8 * 3600
}

impl SsoSettings {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(VaultError::InvalidRequest(m.to_owned()));
        if let Some(group) = &self.admin_group {
            if group.is_empty() || group.len() > 256 || group.chars().any(char::is_control) {
                return bad("admin_group: 1 to 256 characters, no control characters");
            }
        }
        if self.domain_hints.len() > 256 {
            return bad("at most 256 domain_hints");
        }
        for domain in self.domain_hints.keys() {
            let ok = !domain.is_empty()
                && domain.len() <= 253
                && domain
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
            if !ok {
                return bad("domain_hints keys must be lowercase domain names");
            }
        }
        if self.session_ttl_secs < 60 || self.session_ttl_secs > 7 * 24 * 3600 {
            return bad("session_ttl_secs must be between 60 and 604800");
        }
        self.rotation.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::web_url;

    #[test]
    fn defaults_are_the_safe_ones() {
        let s: IdpSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.clock_skew_secs, 180);
        assert!(!s.allow_idp_initiated);
        assert!(s.sign_requests);
        assert!(s.algorithm_exceptions.is_empty());
        s.validate().unwrap();
    }

    #[test]
    fn settings_reject_bad_values() {
        let mut s = IdpSettings {
            clock_skew_secs: 601,
            ..IdpSettings::default()
        };
        assert!(s.validate().is_err());
        s.clock_skew_secs = 0;
        s.algorithm_exceptions = vec!["http://www.w3.org/2001/04/xmldsig-more#hmac-md5".into()];
        assert!(s.validate().is_err());
        for accepted in [
            vec!["rsa-sha1", "sha1", "aes-cbc"],
            vec!["http://www.w3.org/2000/09/xmldsig#rsa-sha1"],
        ] {
            s.algorithm_exceptions = accepted.iter().map(|n| (*n).to_owned()).collect();
            s.validate().unwrap();
        }
        assert!(s.exceptions().unwrap().rsa_sha1);
        for refused in [
            vec!["rsa-1_5"],
            vec!["xpath"],
            vec!["sha1", "sha1", "sha1", "sha1"],
        ] {
            s.algorithm_exceptions = refused.iter().map(|n| (*n).to_owned()).collect();
            assert!(s.validate().is_err(), "{refused:?}");
        }
        s.algorithm_exceptions.clear();
        s.rules.subject_pattern = Some("(".into());
        assert!(s.validate().is_err());
        assert!(serde_json::from_str::<IdpSettings>(r#"{"unknown": 1}"#).is_err());
    }

    #[test]
    fn subject_pattern_is_anchored() {
        let re = subject_regex(r"[a-z]+@example\.com").unwrap();
        assert!(re.is_match("alice@example.com"));
        assert!(!re.is_match("alice@example.com.evil.org"));
        assert!(!re.is_match("x alice@example.com"));
    }

    #[test]
    fn sso_settings_have_safe_defaults_and_refuse_the_removed_return_urls() {
        let s: SsoSettings = serde_json::from_str("{}").unwrap();
        s.validate().unwrap();
        assert_eq!(s.session_ttl_secs, 8 * 3600);
        // One way in: applications are OIDC clients; a return URL is refused, not ignored.
        assert!(serde_json::from_str::<SsoSettings>(r#"{"return_urls": []}"#).is_err());
        assert!(serde_json::from_str::<SsoSettings>(r#"{"app_audience": "a"}"#).is_err());
        let bad = SsoSettings {
            domain_hints: BTreeMap::from([("ACME.example".into(), IdpId::parse("okta").unwrap())]),
            ..s
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn web_urls_are_https_without_credentials() {
        assert!(web_url("u", "http://app.example.com/", true).is_err());
        assert!(web_url("u", "http://127.0.0.1:8080/", true).is_ok());
        assert!(web_url("u", "http://127.0.0.1:8080/", false).is_err());
        assert!(web_url("u", "https://u:p@app.example.com/", false).is_err());
    }
}
