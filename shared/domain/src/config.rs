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
    /// `SAMLGATE_CONSOLE_URL`: where the admin console is served (default
    /// `{SAMLGATE_BASE_URL}/console/`).
    pub console_url: Option<String>,
    /// `SAMLGATE_ORG`: the one organisation a provision deployment serves.
    pub org: Option<String>,
    /// `SAMLGATE_SP_KEY_CACHE_SECS`: how long acs keeps unwrapped keys (default 300).
    pub sp_key_cache: Duration,
    /// `SAMLGATE_FLE_PROVIDER_ID` and `SAMLGATE_FLE_KEY_NAME`: CloudFront field-level
    /// encryption's key provider, when the deployment uses it (both or neither).
    pub fle: Option<FleNames>,
    /// `SAMLGATE_FLE_ORIGIN_SECRET`: the value of the `x-samlgate-edge` header the intake
    /// distribution adds (admin: [`Config::fle_origin_secret`]).
    fle_origin_secret: Option<String>,
    /// `SAMLGATE_FLE_PRIVATE_KEY_SECRET`: the secret holding the FLE private key (provision).
    pub fle_private_key_secret: Option<String>,
    /// `SAMLGATE_SECRETS_KMS_KEY`: the key new secrets are encrypted with at rest (admin).
    pub secrets_kms_key: Option<String>,
    /// `SAMLGATE_METADATA_AGGREGATE_MAX_BYTES`: the largest federation aggregate admin and
    /// rotate read (default 64 MiB; reading one takes about 4.5 times its size in memory).
    pub metadata_aggregate_max_bytes: usize,
    /// `SAMLGATE_OPERATOR_ARNS`: the IAM roles (and users) admin takes as the platform's
    /// operators, comma-separated ([`Config::operators`]).
    pub operator_arns: Vec<String>,
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
        (
            "public_urls",
            &["SAMLGATE_BASE_URL", "SAMLGATE_CONSOLE_URL"],
        ),
        ("org", &["SAMLGATE_ORG"]),
        ("sp_key_cache", &["SAMLGATE_SP_KEY_CACHE_SECS"]),
        (
            "fle",
            &["SAMLGATE_FLE_PROVIDER_ID", "SAMLGATE_FLE_KEY_NAME"],
        ),
        ("fle_origin_secret", &["SAMLGATE_FLE_ORIGIN_SECRET"]),
        (
            "fle_private_key_secret",
            &["SAMLGATE_FLE_PRIVATE_KEY_SECRET"],
        ),
        ("secrets_kms_key", &["SAMLGATE_SECRETS_KMS_KEY"]),
        (
            "metadata_aggregate_max_bytes",
            &["SAMLGATE_METADATA_AGGREGATE_MAX_BYTES"],
        ),
        ("operators", &["SAMLGATE_OPERATOR_ARNS"]),
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
        let fle_origin_secret = get("SAMLGATE_FLE_ORIGIN_SECRET");
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
        let operator_arns = get("SAMLGATE_OPERATOR_ARNS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            metadata_aggregate_max_bytes,
            operator_arns,
            table,
            local,
            base_url: get("SAMLGATE_BASE_URL"),
            console_url: get("SAMLGATE_CONSOLE_URL"),
            org: get("SAMLGATE_ORG"),
            sp_key_cache,
            fle,
            fle_origin_secret,
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
        let urls = PublicUrls::new(base, self.local)
            .map_err(|e| ConfigError(format!("SAMLGATE_BASE_URL: {e}")))?;
        match &self.console_url {
            None => Ok(urls),
            Some(console) => urls
                .with_console(console, self.local)
                .map_err(|e| ConfigError(format!("SAMLGATE_CONSOLE_URL: {e}"))),
        }
    }

    /// What admin requires of the credential form's requests with field-level encryption:
    /// the intake distribution's `x-samlgate-edge` header value, at least 32 characters.
    /// `None` without FLE; an error when FLE is configured without it.
    pub fn fle_origin_secret(&self) -> Result<Option<String>, ConfigError> {
        match (&self.fle, &self.fle_origin_secret) {
            (None, _) => Ok(None),
            (Some(_), Some(secret)) if secret.len() >= 32 => Ok(Some(secret.clone())),
            (Some(_), _) => Err(ConfigError(
                "with field-level encryption, SAMLGATE_FLE_ORIGIN_SECRET (at least 32 characters) is required"
                    .into(),
            )),
        }
    }

    /// The operators admin admits (`SAMLGATE_OPERATOR_ARNS`): required outside local mode, so
    /// that a deployment never falls back to "any IAM principal of the account"; `None` in
    /// local mode without a list (every SigV4 caller is an operator there).
    pub fn operators(&self) -> Result<Option<Operators>, ConfigError> {
        if self.operator_arns.is_empty() {
            return if self.local {
                Ok(None)
            } else {
                Err(ConfigError(
                    "SAMLGATE_OPERATOR_ARNS is not set (the operators' IAM role ARNs)".into(),
                ))
            };
        }
        Operators::parse(&self.operator_arns).map(Some)
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

/// The platform's operators: IAM roles (`arn:aws:iam::{account}:role/[path/]{name}`, admitted
/// as any session of that role: API Gateway names a caller
/// `arn:aws:sts::{account}:assumed-role/{name}/{session}`) and IAM users (exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operators {
    /// (partition, account, role name) of each role.
    roles: Vec<(String, String, String)>,
    users: Vec<String>,
}

impl Operators {
    pub fn parse(arns: &[String]) -> Result<Self, ConfigError> {
        let mut roles = Vec::new();
        let mut users = Vec::new();
        for arn in arns {
            let bad = || {
                ConfigError(format!(
                    "SAMLGATE_OPERATOR_ARNS: {arn} is not an IAM role or user ARN"
                ))
            };
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let [_, partition, "iam", "", account, resource] = parts.as_slice() else {
                return Err(bad());
            };
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            if let Some(role) = resource.strip_prefix("role/") {
                let name = role
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(bad)?;
                roles.push((
                    (*partition).to_owned(),
                    (*account).to_owned(),
                    name.to_owned(),
                ));
            } else if resource.starts_with("user/") {
                users.push(arn.clone());
            } else {
                return Err(bad());
            }
        }
        Ok(Self { roles, users })
    }

    /// Whether the caller API Gateway's IAM authorizer names is one of the operators.
    pub fn admits(&self, caller_arn: &str) -> bool {
        if self.users.iter().any(|u| u == caller_arn) {
            return true;
        }
        let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
        let [_, partition, "sts", "", account, resource] = parts.as_slice() else {
            return false;
        };
        let Some(role) = resource
            .strip_prefix("assumed-role/")
            .and_then(|r| r.split('/').next())
        else {
            return false;
        };
        self.roles
            .iter()
            .any(|(p, a, r)| p == partition && a == account && r == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_console_url_defaults_to_the_base_and_is_checked() {
        let base = [
            ("SAMLGATE_TABLE", "t"),
            ("SAMLGATE_BASE_URL", "https://sso.example.com"),
        ];
        let urls = config(&base).unwrap().public_urls().unwrap();
        assert_eq!(urls.console_url(), "https://sso.example.com/console/");
        let elsewhere = [
            base.as_slice(),
            &[(
                "SAMLGATE_CONSOLE_URL",
                "https://console.example.com/console/",
            )],
        ]
        .concat();
        let urls = config(&elsewhere).unwrap().public_urls().unwrap();
        assert_eq!(urls.console_url(), "https://console.example.com/console/");
        for bad in [
            "http://console.example.com/console/",
            "https://console.example.com/",
            "console",
        ] {
            let c = [base.as_slice(), &[("SAMLGATE_CONSOLE_URL", bad)]].concat();
            assert!(config(&c).unwrap().public_urls().is_err(), "{bad}");
        }
    }

    #[test]
    fn fle_needs_the_edge_header_value_for_admin() {
        let fle = [
            ("SAMLGATE_TABLE", "t"),
            ("SAMLGATE_FLE_PROVIDER_ID", "samlgate"),
            ("SAMLGATE_FLE_KEY_NAME", "k"),
        ];
        assert!(config(&fle).unwrap().fle_origin_secret().is_err());
        let short = [fle.as_slice(), &[("SAMLGATE_FLE_ORIGIN_SECRET", "short")]].concat();
        assert!(config(&short).unwrap().fle_origin_secret().is_err());
        let secret = "e".repeat(32);
        let good = [
            fle.as_slice(),
            &[("SAMLGATE_FLE_ORIGIN_SECRET", secret.as_str())],
        ]
        .concat();
        assert_eq!(
            config(&good).unwrap().fle_origin_secret().unwrap(),
            Some(secret)
        );
        let none = config(&[("SAMLGATE_TABLE", "t")]).unwrap();
        assert_eq!(none.fle_origin_secret().unwrap(), None);
    }

    #[test]
    fn operators_are_the_listed_roles_and_users_only() {
        let ops = Operators::parse(&[
            "arn:aws:iam::123456789012:role/ops/samlgate-operator".into(),
            "arn:aws:iam::123456789012:user/alice".into(),
        ])
        .unwrap();
        assert!(ops.admits("arn:aws:sts::123456789012:assumed-role/samlgate-operator/bob"));
        assert!(ops.admits("arn:aws:iam::123456789012:user/alice"));
        for refused in [
            "arn:aws:sts::123456789012:assumed-role/samlgate-admin/x",
            "arn:aws:sts::210987654321:assumed-role/samlgate-operator/bob",
            "arn:aws-cn:sts::123456789012:assumed-role/samlgate-operator/bob",
            "arn:aws:iam::123456789012:user/mallory",
            "arn:aws:iam::123456789012:role/samlgate-operator",
            "",
        ] {
            assert!(!ops.admits(refused), "{refused}");
        }
        for bad in [
            "role/x",
            "arn:aws:iam::12345:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:group/x",
        ] {
            assert!(Operators::parse(&[bad.into()]).is_err(), "{bad}");
        }
        let required = config(&[("SAMLGATE_TABLE", "t")]).unwrap();
        assert!(required.operators().is_err(), "required outside local mode");
        let local = config(&[("SAMLGATE_TABLE", "t"), ("SAMLGATE_LOCAL", "1")]).unwrap();
        assert_eq!(local.operators().unwrap(), None);
        let listed = config(&[
            ("SAMLGATE_TABLE", "t"),
            (
                "SAMLGATE_OPERATOR_ARNS",
                " arn:aws:iam::123456789012:user/alice ,",
            ),
        ])
        .unwrap();
        assert!(listed
            .operators()
            .unwrap()
            .unwrap()
            .admits("arn:aws:iam::123456789012:user/alice"));
    }

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
