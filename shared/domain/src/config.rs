//! A function's configuration, read from the environment once per cold start (template.yaml
//! and org-template.yaml set it; `scripts/dev` and `cargo lambda watch` set it locally). Each
//! function asks only for what it uses; a value that is set but unreadable is an error, never
//! a silent default.

use std::time::Duration;

use crate::ids::OrgId;
use crate::urls::PublicUrls;

/// A missing or unreadable setting, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Every `SAMLGATE_*` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SAMLGATE_TABLE`: the one DynamoDB table.
    pub table: String,
    /// `SAMLGATE_LOCAL=1`: local development (no authorizer; plain HTTP allowed to loopback).
    pub local: bool,
    /// `SAMLGATE_BASE_URL`: the public base URL every entity ID, ACS URL and issuer derives
    /// from.
    pub base_url: Option<String>,
    /// `SAMLGATE_ORG`: the one organisation a provision deployment serves.
    pub org: Option<String>,
    /// `SAMLGATE_SP_KEY_CACHE_SECS`: how long acs keeps unwrapped keys (default 300).
    pub sp_key_cache: Duration,
    /// `SAMLGATE_FLE_PROVIDER_ID` and `SAMLGATE_FLE_KEY_NAME`: CloudFront field-level
    /// encryption's key provider, when the deployment uses it (both or neither).
    pub fle: Option<FleNames>,
    /// `SAMLGATE_FLE_PRIVATE_KEY_SECRET`: the secret holding the FLE private key (provision).
    pub fle_private_key_secret: Option<String>,
    /// `SAMLGATE_SECRETS_KMS_KEY`: the key new secrets are encrypted with at rest (admin).
    pub secrets_kms_key: Option<String>,
    /// `SAMLGATE_METADATA_AGGREGATE_MAX_BYTES`: the largest federation aggregate admin and
    /// rotate read (default 64 MiB; reading one takes about 4.5 times its size in memory).
    pub metadata_aggregate_max_bytes: usize,
}

/// The FLE key provider's ID and key name, as ESDK messages name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleNames {
    pub provider_id: String,
    pub key_name: String,
}

/// The default size limit of a federation aggregate: national federations publish tens of MB.
pub const DEFAULT_METADATA_AGGREGATE_MAX_BYTES: usize = 64 << 20;
/// The accepted range of `SAMLGATE_METADATA_AGGREGATE_MAX_BYTES`.
const AGGREGATE_LIMIT_RANGE: std::ops::RangeInclusive<usize> = (1 << 20)..=(1 << 30);

/// acs's default bound on how long a revoked organisation key still allows logins.
pub const DEFAULT_SP_KEY_CACHE: Duration = Duration::from_secs(300);

impl Config {
    /// Which environment variables each field (or accessor) is read from: the templates must
    /// set every one a function uses (tests/e2e/templates.rs reads the functions' `main.rs`
    /// against this table), except `SAMLGATE_LOCAL`, which they must never set.
    pub const SOURCES: &'static [(&'static str, &'static [&'static str])] = &[
        ("table", &["SAMLGATE_TABLE"]),
        ("local", &["SAMLGATE_LOCAL"]),
        ("base_url", &["SAMLGATE_BASE_URL"]),
        ("public_urls", &["SAMLGATE_BASE_URL"]),
        ("org", &["SAMLGATE_ORG"]),
        ("sp_key_cache", &["SAMLGATE_SP_KEY_CACHE_SECS"]),
        (
            "fle",
            &["SAMLGATE_FLE_PROVIDER_ID", "SAMLGATE_FLE_KEY_NAME"],
        ),
        (
            "fle_private_key_secret",
            &["SAMLGATE_FLE_PRIVATE_KEY_SECRET"],
        ),
        ("secrets_kms_key", &["SAMLGATE_SECRETS_KMS_KEY"]),
        (
            "metadata_aggregate_max_bytes",
            &["SAMLGATE_METADATA_AGGREGATE_MAX_BYTES"],
        ),
    ];

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests). An empty value
    /// counts as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let table =
            get("SAMLGATE_TABLE").ok_or_else(|| ConfigError("SAMLGATE_TABLE is not set".into()))?;
        let local = match get("SAMLGATE_LOCAL").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(ConfigError("SAMLGATE_LOCAL must be 0 or 1".into())),
        };
        let sp_key_cache = match get("SAMLGATE_SP_KEY_CACHE_SECS") {
            None => DEFAULT_SP_KEY_CACHE,
            Some(text) => text.parse().map(Duration::from_secs).map_err(|_| {
                ConfigError("SAMLGATE_SP_KEY_CACHE_SECS must be a number of seconds".into())
            })?,
        };
        let fle = match (
            get("SAMLGATE_FLE_PROVIDER_ID"),
            get("SAMLGATE_FLE_KEY_NAME"),
        ) {
            (Some(provider_id), Some(key_name)) => Some(FleNames {
                provider_id,
                key_name,
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError(
                    "set both SAMLGATE_FLE_PROVIDER_ID and SAMLGATE_FLE_KEY_NAME, or neither"
                        .into(),
                ))
            }
        };
        let metadata_aggregate_max_bytes = match get("SAMLGATE_METADATA_AGGREGATE_MAX_BYTES") {
            None => DEFAULT_METADATA_AGGREGATE_MAX_BYTES,
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| AGGREGATE_LIMIT_RANGE.contains(n))
                .ok_or_else(|| {
                    ConfigError(
                        "SAMLGATE_METADATA_AGGREGATE_MAX_BYTES must be a number of bytes from 1 MiB to 1 GiB"
                            .into(),
                    )
                })?,
        };
        Ok(Self {
            metadata_aggregate_max_bytes,
            table,
            local,
            base_url: get("SAMLGATE_BASE_URL"),
            org: get("SAMLGATE_ORG"),
            sp_key_cache,
            fle,
            fle_private_key_secret: get("SAMLGATE_FLE_PRIVATE_KEY_SECRET"),
            secrets_kms_key: get("SAMLGATE_SECRETS_KMS_KEY"),
        })
    }

    /// The public URLs (acs, metadata, admin): `SAMLGATE_BASE_URL` is required.
    pub fn public_urls(&self) -> Result<PublicUrls, ConfigError> {
        let base = self
            .base_url
            .as_deref()
            .ok_or_else(|| ConfigError("SAMLGATE_BASE_URL is not set".into()))?;
        PublicUrls::new(base, self.local)
            .map_err(|e| ConfigError(format!("SAMLGATE_BASE_URL: {e}")))
    }

    /// The organisation a provision deployment serves: `SAMLGATE_ORG` is required.
    pub fn org(&self) -> Result<OrgId, ConfigError> {
        let org = self
            .org
            .as_deref()
            .ok_or_else(|| ConfigError("SAMLGATE_ORG is not set".into()))?;
        OrgId::parse(org).map_err(|e| ConfigError(format!("SAMLGATE_ORG: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_and_required_settings() {
        let c = config(&[("SAMLGATE_TABLE", "t")]).unwrap();
        assert!(!c.local);
        assert_eq!(c.sp_key_cache, DEFAULT_SP_KEY_CACHE);
        assert_eq!(
            c.metadata_aggregate_max_bytes,
            DEFAULT_METADATA_AGGREGATE_MAX_BYTES
        );
        assert!(c.public_urls().is_err(), "no base URL");
        assert!(c.org().is_err(), "no organisation");
        assert!(config(&[]).is_err(), "no table");
        let c = config(&[
            ("SAMLGATE_TABLE", "t"),
            ("SAMLGATE_LOCAL", "1"),
            ("SAMLGATE_BASE_URL", "http://127.0.0.1:8080"),
            ("SAMLGATE_ORG", "acme"),
            ("SAMLGATE_SP_KEY_CACHE_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(c.public_urls().unwrap().base(), "http://127.0.0.1:8080");
        assert_eq!(c.org().unwrap().as_str(), "acme");
        assert_eq!(c.sp_key_cache, Duration::from_secs(60));
    }

    /// `Config::SOURCES` (which the template test reads main.rs against) names exactly the
    /// variables `from_lookup` reads.
    #[test]
    fn the_sources_table_names_exactly_what_is_read() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Config::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_owned());
            (name == "SAMLGATE_TABLE").then(|| "t".to_owned())
        })
        .unwrap();
        let named: std::collections::BTreeSet<String> = Config::SOURCES
            .iter()
            .flat_map(|(_, names)| names.iter().map(|n| (*n).to_owned()))
            .collect();
        assert_eq!(asked.into_inner(), named);
    }

    #[test]
    fn unreadable_values_are_errors() {
        for bad in [
            ("SAMLGATE_LOCAL", "yes"),
            ("SAMLGATE_SP_KEY_CACHE_SECS", "5m"),
            ("SAMLGATE_FLE_PROVIDER_ID", "only-one-half"),
            ("SAMLGATE_METADATA_AGGREGATE_MAX_BYTES", "64MiB"),
            ("SAMLGATE_METADATA_AGGREGATE_MAX_BYTES", "1024"),
        ] {
            assert!(config(&[("SAMLGATE_TABLE", "t"), bad]).is_err(), "{bad:?}");
        }
        let remote = config(&[
            ("SAMLGATE_TABLE", "t"),
            ("SAMLGATE_BASE_URL", "http://127.0.0.1:8080"),
        ])
        .unwrap();
        assert!(
            remote.public_urls().is_err(),
            "plain HTTP outside local mode"
        );
    }
}
