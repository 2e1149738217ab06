//! Every URL samlgate publishes or compares, from the deployment's public base URL.

use crate::error::VaultError;
use crate::ids::{IdpId, OrgId};

/// The deployment's public base URL (`https://sso.example.com`, no trailing slash): every
/// entity ID, ACS URL and issuer derives from it, never from the request's Host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    base: String,
    /// Where the admin console is served, when not under the base URL.
    console: Option<String>,
}

impl PublicUrls {
    pub fn new(base: &str, allow_loopback_http: bool) -> Result<Self, VaultError> {
        crate::rules::web_url("public base URL", base, allow_loopback_http)?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            console: None,
        })
    }

    /// The console served elsewhere (`https://console.example.com/console/`): its sign-in's
    /// redirect URI and the setup links point there.
    pub fn with_console(
        mut self,
        console: &str,
        allow_loopback_http: bool,
    ) -> Result<Self, VaultError> {
        crate::rules::web_url("console URL", console, allow_loopback_http)?;
        if !console.ends_with("/console/") {
            return Err(VaultError::InvalidRequest(
                "the console URL ends with /console/".into(),
            ));
        }
        self.console = Some(console.to_owned());
        Ok(self)
    }
    pub fn base(&self) -> &str {
        &self.base
    }
    /// The token issuer of an organisation.
    pub fn issuer(&self, org: &OrgId) -> String {
        format!("{}/o/{org}", self.base)
    }
    /// Our entity ID towards one IdP: its metadata URL.
    pub fn sp_entity_id(&self, org: &OrgId, idp: &IdpId) -> String {
        format!("{}/o/{org}/idp/{idp}/metadata", self.base)
    }
    pub fn acs_url(&self, org: &OrgId, idp: &IdpId) -> String {
        format!("{}/o/{org}/idp/{idp}/acs", self.base)
    }
    pub fn slo_url(&self, org: &OrgId, idp: &IdpId) -> String {
        format!("{}/o/{org}/idp/{idp}/slo", self.base)
    }
    pub fn login_url(&self, org: &OrgId) -> String {
        format!("{}/o/{org}/login", self.base)
    }
    /// The admin console (its sign-in's redirect URI): `{base}/console/` unless configured.
    pub fn console_url(&self) -> String {
        self.console
            .clone()
            .unwrap_or_else(|| format!("{}/console/", self.base))
    }
}
