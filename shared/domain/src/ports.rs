//! The ports: one small trait per AWS capability (DESIGN.md §3). A function receives only the
//! traits its IAM role allows, so its signature is its permission list: admin gets
//! `GenerateDataKey` and `SecretWriter` and has no way to name `DecryptDataKey` or
//! `SecretReader`.

use async_trait::async_trait;
use url::Url;
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::client::OidcClient;
use crate::context::EncryptionContext;
use crate::credential::{Credential, CredentialState};
use crate::error::{PortError, PortErrorKind, VaultError};
use crate::grant::{AccessToken, AuthCode};
use crate::idp::{Idp, SsoSettings};
use crate::ids::{IdpId, OrgId};
use crate::org::{IntakeKey, Org, OrgStatus};
use crate::session::{LoginState, Session};
use crate::setup::{ConsoleSession, DiagnosticTicket, SetupLink};
use crate::sp_key::SpKey;

/// A fresh data key: plaintext (zeroized on drop) and the same key wrapped by KMS.
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub wrapped: Vec<u8>,
}

/// `kms:GenerateDataKey` (AES-256) with an encryption context. admin, rotate.
#[async_trait]
pub trait GenerateDataKey: Send + Sync {
    async fn generate_data_key(
        &self,
        key_arn: &str,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, PortError>;
}

/// `kms:Decrypt` with an encryption context, pinned to one key. provision (and acs for SP keys).
#[async_trait]
pub trait DecryptDataKey: Send + Sync {
    async fn decrypt_data_key(
        &self,
        key_arn: &str,
        wrapped: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, PortError>;
}

/// `kms:CreateKey` with a key policy: the local/dev onboarding path (`samlgate org create`) and
/// the tests. In AWS the organisation's stack creates the key (org-template.yaml).
#[async_trait]
pub trait CreateKey: Send + Sync {
    async fn create_key(&self, description: &str, policy_json: &str) -> Result<String, PortError>;
    /// Compensation when onboarding fails after the key was created for it.
    async fn schedule_key_deletion(&self, key_arn: &str) -> Result<(), PortError>;
}

/// A stored secret's ARN and the version a write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub arn: String,
    pub version_id: String,
}

/// `secretsmanager:CreateSecret`, `PutSecretValue`, `DeleteSecret`, `TagResource`. admin.
#[async_trait]
pub trait SecretWriter: Send + Sync {
    async fn create_secret(
        &self,
        name: &str,
        org: &OrgId,
        value: &str,
    ) -> Result<SecretVersion, PortError>;
    async fn put_secret_value(&self, arn: &str, value: &str) -> Result<SecretVersion, PortError>;
    /// Schedules deletion with a recovery window (days).
    async fn schedule_deletion(&self, arn: &str, recovery_days: i64) -> Result<(), PortError>;
    /// Compensation for a secret that never became live: delete without recovery.
    async fn delete_unreferenced(&self, arn: &str) -> Result<(), PortError>;
}

/// `secretsmanager:GetSecretValue` of one exact version. provision.
#[async_trait]
pub trait SecretReader: Send + Sync {
    async fn get_secret_version(&self, arn: &str, version_id: &str) -> Result<String, PortError>;
}

/// `dynamodb:GetItem` of an organisation item. Every function that reads configuration.
#[async_trait]
pub trait OrgReader: Send + Sync {
    async fn get_org(&self, org: &OrgId) -> Result<Option<Org>, PortError>;

    /// The organisation record, if it exists and is active: where every operation on an
    /// organisation starts (`org_not_found`, `org_inactive` otherwise).
    async fn active_org(&self, org: &OrgId) -> Result<Org, VaultError> {
        let record = self.get_org(org).await?.ok_or(VaultError::OrgNotFound)?;
        if record.status != OrgStatus::Active {
            return Err(VaultError::OrgInactive);
        }
        Ok(record)
    }
}

/// `dynamodb:GetItem`/`Query` on organisation and credential items. admin, provision.
#[async_trait]
pub trait ConfigReader: OrgReader {
    async fn get_intake_key(&self, org: &OrgId, kid: &str) -> Result<Option<IntakeKey>, PortError>;
    async fn get_credential(&self, org: &OrgId, id: &str) -> Result<Option<Credential>, PortError>;
    async fn list_credentials(&self, org: &OrgId) -> Result<Vec<Credential>, PortError>;
}

/// Conditional writes of organisation and credential items. admin.
#[async_trait]
pub trait ConfigWriter: Send + Sync {
    /// Writes the organisation and its intake key in one transaction, only if the organisation
    /// does not exist (`Conflict` otherwise).
    async fn create_org(&self, org: &Org, intake: &IntakeKey) -> Result<(), PortError>;
    /// Creates a credential item only if none exists with its id.
    async fn insert_credential(&self, credential: &Credential) -> Result<(), PortError>;
    /// Replaces a credential item only if its stored `state` and `version` are the given ones.
    async fn replace_credential(
        &self,
        credential: &Credential,
        expected_state: CredentialState,
        expected_version: u32,
    ) -> Result<(), PortError>;
    /// Removes a credential item that never became active (compensation).
    async fn remove_pending_credential(&self, org: &OrgId, id: &str) -> Result<(), PortError>;
}

/// `dynamodb:PutItem` of audit items. Every function.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, event: &AuditEvent) -> Result<(), PortError>;

    /// `dynamodb:UpdateItem`: one more anonymous failure counted into the aggregate of its
    /// organisation, action, IdP (`facts["idp"]`), reason and minute (`event.at`, the minute's
    /// start), which expires at `expires_at` (Unix seconds). A flood of junk posts is one item
    /// a minute per IdP and reason, not one per post (acs).
    async fn count_failure(&self, event: &AuditEvent, expires_at: i64) -> Result<(), PortError>;
}

/// Counters in the function's own log as Embedded Metric Format (namespace `samlgate`,
/// dimensions `Org`, `Idp` and none), which CloudWatch turns into metrics. acs: no IAM beyond
/// its log group.
pub trait Metrics: Send + Sync {
    /// One occurrence of `metric` for an organisation's IdP.
    fn count(&self, org: &OrgId, idp: &IdpId, metric: &'static str);
}

/// Which stretch of an organisation's audit log a search reads: events at or after `from`
/// and before `until` (either open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditWindow {
    pub from: Option<time::OffsetDateTime>,
    pub until: Option<time::OffsetDateTime>,
}

impl AuditWindow {
    pub fn contains(&self, at: time::OffsetDateTime) -> bool {
        self.from.is_none_or(|from| at >= from) && self.until.is_none_or(|until| at < until)
    }
}

/// One page of an organisation's audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Where the next (older) page starts; `None` at the oldest event.
    pub next: Option<String>,
}

/// `dynamodb:Query` of an organisation's audit items, newest first. admin (the console).
#[async_trait]
pub trait AuditReader: Send + Sync {
    /// Up to `limit` events in `window`, older than the cursor `before` from the previous page.
    async fn audit_page(
        &self,
        org: &OrgId,
        window: AuditWindow,
        before: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage, PortError>;
}

/// `lambda:InvokeFunction`: runs the organisation's provisioning function (`function`, the
/// ARN onboarding recorded) for one credential and returns its answer (`{"ok": …, "outcome" |
/// "error", "correlation_id"}`, never a secret). admin; locally the dev server runs the
/// provision handler in-process.
#[async_trait]
pub trait ProvisionInvoker: Send + Sync {
    async fn invoke(
        &self,
        function: &str,
        org: &OrgId,
        credential_id: &str,
        correlation_id: &str,
    ) -> Result<serde_json::Value, PortError>;
}

/// Setup links (`ORG#{org}` / `SETUP#{id}`) and console sessions (`ORG#{org}` /
/// `CONSOLE#{sha256}`): `dynamodb:GetItem`, `Query`, `PutItem` inside the organisation's
/// partition. admin.
#[async_trait]
pub trait SetupStore: Send + Sync {
    /// Conflict when the ID exists.
    async fn insert_link(&self, link: &SetupLink) -> Result<(), PortError>;
    async fn link(&self, org: &OrgId, id: &str) -> Result<Option<SetupLink>, PortError>;
    async fn list_links(&self, org: &OrgId) -> Result<Vec<SetupLink>, PortError>;
    /// Conflict when the stored version is not `expected_version` (a revocation).
    async fn replace_link(&self, link: &SetupLink, expected_version: u32) -> Result<(), PortError>;
    /// One transaction: the link marked used (Conflict when its version moved: another use won)
    /// and the session it becomes.
    async fn use_link(
        &self,
        used: &SetupLink,
        expected_version: u32,
        session: &ConsoleSession,
    ) -> Result<(), PortError>;
    async fn console_session(
        &self,
        org: &OrgId,
        token_sha256: &str,
    ) -> Result<Option<ConsoleSession>, PortError>;
    async fn put_diagnostic_ticket(&self, ticket: &DiagnosticTicket) -> Result<(), PortError>;
    /// A console session made by a sign-in (not from a link). Conflict when it exists.
    async fn insert_session(&self, session: &ConsoleSession) -> Result<(), PortError>;
    /// `dynamodb:DeleteItem`: a console session ended at sign-out (gone already: fine).
    async fn end_session(&self, org: &OrgId, token_sha256: &str) -> Result<(), PortError>;
}

/// Reads of SSO configuration: organisation, SSO settings, IdPs, SP keys. admin, acs, metadata.
#[async_trait]
pub trait SsoConfigReader: OrgReader {
    async fn sso_settings(&self, org: &OrgId) -> Result<Option<SsoSettings>, PortError>;
    async fn idp(&self, org: &OrgId, idp: &IdpId) -> Result<Option<Idp>, PortError>;
    async fn list_idps(&self, org: &OrgId) -> Result<Vec<Idp>, PortError>;
    /// The SP keys of one IdP (`Some`) or the organisation's token keys (`None`).
    async fn sp_keys(&self, org: &OrgId, idp: Option<&IdpId>) -> Result<Vec<SpKey>, PortError>;
    /// A test sign-in's diagnostic ticket, by the hash of its value (acs).
    async fn diagnostic_ticket(
        &self,
        org: &OrgId,
        ticket_sha256: &str,
    ) -> Result<Option<DiagnosticTicket>, PortError>;
}

/// Conditional writes of SSO configuration. admin (and rotate, later).
#[async_trait]
pub trait SsoConfigWriter: Send + Sync {
    async fn put_sso_settings(&self, org: &OrgId, settings: &SsoSettings) -> Result<(), PortError>;
    /// Writes a new IdP with its SP keys in one transaction, only if the IdP does not exist.
    async fn insert_idp(&self, idp: &Idp, keys: &[SpKey]) -> Result<(), PortError>;
    /// Replaces an IdP item only if its stored `version` is `expected_version`.
    async fn replace_idp(&self, idp: &Idp, expected_version: u32) -> Result<(), PortError>;
    /// Writes a token key and its public JWKS entry in one transaction.
    async fn insert_token_key(&self, key: &SpKey) -> Result<(), PortError>;
}

/// Reads of an organisation's OIDC clients (`ORG#{org}` / `CLIENT#…`). acs, admin.
#[async_trait]
pub trait ClientReader: Send + Sync {
    async fn client(&self, org: &OrgId, client_id: &str) -> Result<Option<OidcClient>, PortError>;
    async fn list_clients(&self, org: &OrgId) -> Result<Vec<OidcClient>, PortError>;
}

/// Conditional writes of OIDC clients. admin.
#[async_trait]
pub trait ClientWriter: Send + Sync {
    /// Creates a client only if none exists with its ID.
    async fn insert_client(&self, client: &OidcClient) -> Result<(), PortError>;
    /// Replaces a client only if its stored `version` is `expected_version`.
    async fn replace_client(
        &self,
        client: &OidcClient,
        expected_version: u32,
    ) -> Result<(), PortError>;
    /// Removes a client; `NotFound` if there is none.
    async fn delete_client(&self, org: &OrgId, client_id: &str) -> Result<(), PortError>;
}

/// The organisations, for the daily jobs (`ORGS` / `ORG#{org}` items). rotate.
#[async_trait]
pub trait OrgDirectory: Send + Sync {
    async fn list_orgs(&self) -> Result<Vec<OrgId>, PortError>;
}

/// Conditional SP key transitions (the IdP lifecycle's rotation). Each call is one write or one
/// transaction; a key passed in is its new version, written only if the stored one is still
/// in the state the transition starts from (`Conflict` otherwise). rotate.
#[async_trait]
pub trait SpKeyStore: Send + Sync {
    /// Adds `next` (state next) and writes `active` (its `successor` set), only if `active`
    /// is still active without a successor. A token key's JWKS entry is added with it.
    async fn publish_next(&self, active: &SpKey, next: &SpKey) -> Result<(), PortError>;
    /// Writes `next` (now active) and `previous` (now retiring), only if they are still next
    /// and active.
    async fn promote(&self, next: &SpKey, previous: Option<&SpKey>) -> Result<(), PortError>;
    /// Writes `key` (now retired), only if it is still retiring. A token key's JWKS entry is
    /// removed with it.
    async fn retire(&self, key: &SpKey) -> Result<(), PortError>;
    /// Adds a replacement key to a set that has none usable, only if its ID is new (a token
    /// key with its JWKS entry).
    async fn insert_key(&self, key: &SpKey) -> Result<(), PortError>;
}

/// An organisation's public token keys, for `{issuer}/.well-known/jwks.json`. metadata.
#[async_trait]
pub trait JwksReader: Send + Sync {
    async fn jwks(&self, org: &OrgId) -> Result<Vec<serde_json::Value>, PortError>;
}

/// Server-side AuthnRequest state keyed by RelayState (DESIGN.md §8). acs.
#[async_trait]
pub trait LoginStateStore: Send + Sync {
    /// Stores a logout in flight (a login is stored by [`LoginSteps::start_login`]).
    async fn put_login(&self, state: &LoginState) -> Result<(), PortError>;
    /// The state stored under `relay_state`, if any (a Response's login is then taken by
    /// [`LoginSteps::finish_login`], or by [`LoginStateStore::take_login`] when it fails).
    async fn get_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError>;
    /// Deletes and returns the state in one conditional step: of concurrent callers, exactly
    /// one gets `Some`.
    async fn take_login(&self, relay_state: &str) -> Result<Option<LoginState>, PortError>;
}

/// Authorization codes (`CODE#{hash}`), by the hash of their value (never the value). acs.
#[async_trait]
pub trait CodeStore: Send + Sync {
    async fn get_code(&self, hash: &str) -> Result<Option<AuthCode>, PortError>;
}

/// The assertion a Response proved, for its one-time use: `(org, issuer, assertion_id)` is
/// remembered until `expires_at` (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct ReplayMark<'a> {
    pub org: &'a OrgId,
    pub issuer: &'a str,
    pub assertion_id: &'a str,
    pub expires_at: i64,
}

/// Everything a verified Response ends a login with, written together
/// ([`LoginSteps::finish_login`]).
#[derive(Debug, Clone, Copy)]
pub struct FinishedLogin<'a> {
    /// The login in flight it answers, taken (deleted) only if it is still there; `None` for
    /// an unsolicited Response.
    pub relay_state: Option<&'a str>,
    /// The assertion, recorded only if it is new.
    pub replay: ReplayMark<'a>,
    /// An OIDC login's session (with its subject index) and one-time code (the hash of its
    /// value, and its record); neither for a test sign-in or an unsolicited Response.
    pub issued: Option<(&'a Session, &'a str, &'a AuthCode)>,
    /// The login's audit item.
    pub audit: &'a AuditEvent,
}

/// Why [`LoginSteps::finish_login`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishRefused {
    /// The login in flight is gone (another post of the same RelayState took it).
    LoginTaken,
    /// The assertion was seen before.
    Replayed,
}

/// The writes that end each leg of a login, one request per leg (DynamoDB
/// `TransactWriteItems`: all of it or none), its audit item included, so that a warm login
/// is three writes: authorize, ACS, token. acs.
#[async_trait]
pub trait LoginSteps: Send + Sync {
    /// `authorize` (or a test sign-in): the login in flight (only if its RelayState is new)
    /// and its audit item.
    async fn start_login(&self, state: &LoginState, audit: &AuditEvent) -> Result<(), PortError>;
    /// The ACS: takes the login, records the assertion once and writes what it issued, or
    /// writes nothing (`Ok(Err(_))` says why; of concurrent callers, exactly one writes).
    async fn finish_login(
        &self,
        login: &FinishedLogin<'_>,
    ) -> Result<Result<(), FinishRefused>, PortError>;
    /// The token endpoint: takes the code (`hash`), recording the hash of the access token
    /// issued from it, and stores that token with the audit item. `Ok(false)` when the code
    /// was taken already (or is gone): nothing is written then, and of concurrent callers
    /// exactly one gets `Ok(true)`.
    async fn redeem_code(
        &self,
        hash: &str,
        token_hash: &str,
        token: &AccessToken,
        audit: &AuditEvent,
    ) -> Result<bool, PortError>;
}

/// Access tokens (`ACCESS#{hash}`), for `userinfo`. acs.
#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    async fn access_token(&self, hash: &str) -> Result<Option<AccessToken>, PortError>;
    /// Revokes a token (a redeemed code was presented again); a missing one is not an error.
    async fn revoke_access_token(&self, hash: &str) -> Result<(), PortError>;
}

/// OIDC Back-Channel Logout 1.0 §2.5: POST a `logout_token` to a client's registered URI.
/// acs (an IdP-initiated logout tells every client of the sessions it ends).
#[async_trait]
pub trait BackChannel: Send + Sync {
    /// `Ok` when the client answered 2xx (200 or 204, §2.8); anything else is an error.
    async fn deliver_logout(&self, uri: &str, logout_token: &str) -> Result<(), PortError>;
}

/// One-time use of assertions: a conditional put with TTL. acs.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// `Ok(true)` the first time `(org, issuer, assertion_id)` is seen.
    async fn insert_once(
        &self,
        org: &OrgId,
        issuer: &str,
        assertion_id: &str,
        expires_at: i64,
    ) -> Result<bool, PortError>;
}

/// Sessions (`SESS#{id}`), for logout (a login creates one with
/// [`LoginSteps::finish_login`]). acs.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn get_session(&self, id: &str) -> Result<Option<Session>, PortError>;
    /// The sessions of one subject (NameID) at one IdP, for IdP-initiated logout.
    async fn sessions_of(
        &self,
        org: &OrgId,
        idp: &IdpId,
        name_id: &str,
    ) -> Result<Vec<Session>, PortError>;
    /// Ends a session; `Ok(false)` if it did not exist.
    async fn end_session(&self, id: &str) -> Result<bool, PortError>;
}

/// A conditional GET's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// 304: the document has not changed since the validators given.
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// Fetches IdP metadata over HTTPS with a size and time limit, no redirects. admin, rotate.
#[async_trait]
pub trait MetadataFetcher: Send + Sync {
    /// A conditional GET (`If-None-Match`, `If-Modified-Since` with the validators given).
    async fn fetch_if_changed(
        &self,
        url: &str,
        max_bytes: usize,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, PortError>;

    /// An unconditional GET (registration): the document's bytes.
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, PortError> {
        match self.fetch_if_changed(url, max_bytes, None, None).await? {
            Fetched::Body { bytes, .. } => Ok(bytes),
            // Without validators there is nothing a 304 could refer to.
            Fetched::NotModified => Err(PortError::new(
                PortErrorKind::Other,
                "https:GetMetadata",
                "HTTP status 304",
            )),
        }
    }
}

/// Opens an ESDK message with one RSA private key (the real ESDK in the vault's `esdk` module).
#[async_trait]
pub trait MessageDecrypter: Send + Sync {
    async fn decrypt(
        &self,
        message: &[u8],
        private_key_pem: &[u8],
        key_namespace: &str,
        key_name: &str,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError>;
}

/// One outbound request; the secret-bearing parts are zeroized on drop.
pub struct OutboundRequest {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, Zeroizing<String>)>,
    pub body: Option<Zeroizing<Vec<u8>>>,
}

/// The provisioning function's network egress: sends one request, returns the status code and
/// never the body. Errors are short descriptions without request content.
#[async_trait]
pub trait Egress: Send + Sync {
    async fn send(&self, request: OutboundRequest) -> std::result::Result<u16, String>;
}
