//! Setup links (issue 14 §1): an operator hands a customer's IT admin a scoped, expiring link;
//! opening it exchanges it, once, for a console session limited to that organisation and
//! those scopes. Every creation, use, refusal and revocation is audited
//! (`setup_link.create`, `setup_link.use`, `setup_link.revoke`).
//!
//! A link's token is `{id}.{secret}`: the ID names the item, the secret (256 random bits) is
//! stored only as its SHA-256. A session token is 256 random bits, stored the same way.

use std::collections::BTreeMap;

use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::ids::{random_hex, sha256_hex, IdpId, OrgId};
use samlgate_domain::ports::{AuditLog, OrgReader, SetupStore};
use samlgate_domain::setup::{ConsoleSession, DiagnosticTicket, LinkState, SetupLink, SetupScope};
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::{PortErrorKind, Result, VaultError};
use serde::{Deserialize, Serialize};

/// A link's lifetime when the operator names none (peers: SSOReady 24 h).
pub const DEFAULT_LINK_SECS: u32 = 24 * 3600;
/// The longest a link may live (Polis: 3 days; Auth0 tickets: 5 days).
pub const MAX_LINK_SECS: u32 = 7 * 24 * 3600;
/// The shortest: enough to pass a link on.
pub const MIN_LINK_SECS: u32 = 300;
/// How long a console session made from a link lasts.
pub const SESSION_SECS: i64 = 8 * 3600;
/// How long a diagnostic ticket may start test sign-ins.
pub const DIAGNOSTIC_SECS: i64 = 300;

/// `POST /admin/orgs/{org}/idps/{idp}/test-sign-in`: where the admin's browser starts a test
/// sign-in whose failure it may see in detail.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticLogin {
    pub url: String,
    pub expires_at: String,
}

/// `POST /admin/orgs/{org}/setup-links`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSetupLink {
    pub scopes: Vec<SetupScope>,
    #[serde(default)]
    pub ttl_secs: Option<u32>,
}

/// A link as admin lists it: no secret, no hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupLinkView {
    pub id: String,
    pub scopes: Vec<SetupScope>,
    pub state: LinkState,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: String,
    pub used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// The answer to a creation: the only time the link's URL exists outside the caller.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedSetupLink {
    #[serde(flatten)]
    pub link: SetupLinkView,
    /// `{console}#/o/{org}/setup/{id}.{secret}`: the token is in the fragment, which
    /// browsers send to no server and write to no access log.
    pub url: String,
}

/// The answer to an exchange: the console's bearer token for this organisation.
#[derive(Debug, Clone, Serialize)]
pub struct StartedSession {
    pub org: String,
    pub session_token: String,
    pub scopes: Vec<SetupScope>,
    pub expires_at: String,
}

impl StartedSession {
    fn of(token: String, session: ConsoleSession) -> Self {
        Self {
            org: session.org.to_string(),
            session_token: token,
            scopes: session.scopes,
            expires_at: instant(session.expires_at),
        }
    }
}

pub struct Setup<'a> {
    pub store: &'a dyn SetupStore,
    pub orgs: &'a dyn OrgReader,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    pub urls: &'a PublicUrls,
}

fn instant(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(format_instant)
        .unwrap_or_default()
}

fn view(link: &SetupLink) -> SetupLinkView {
    SetupLinkView {
        id: link.id.clone(),
        scopes: link.scopes.clone(),
        state: link.state,
        created_at: link.created_at.clone(),
        created_by: link.created_by.clone(),
        expires_at: instant(link.expires_at),
        used_at: link.used_at.clone(),
        revoked_at: link.revoked_at.clone(),
    }
}

/// `sl-` and 16 lowercase hex digits.
fn valid_link_id(id: &str) -> bool {
    id.len() == 19
        && id.starts_with("sl-")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Setup<'_> {
    fn auditor(&self) -> Auditor<'_> {
        Auditor {
            log: self.audit,
            clock: self.clock,
        }
    }

    fn facts(link: &SetupLink) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("setup_link".to_owned(), link.id.clone()),
            (
                "scopes".to_owned(),
                link.scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ])
    }

    /// `POST /admin/orgs/{org}/setup-links` (operators).
    pub async fn create(
        &self,
        caller: &Caller,
        org: &OrgId,
        new: NewSetupLink,
    ) -> Result<CreatedSetupLink> {
        let mut facts = BTreeMap::new();
        let result = async {
            self.orgs.active_org(org).await?;
            let mut scopes = new.scopes.clone();
            scopes.sort();
            scopes.dedup();
            if scopes.is_empty() || scopes.len() != new.scopes.len() {
                return Err(VaultError::InvalidRequest(
                    "scopes: one or both of `sso` and `credentials`, each once".into(),
                ));
            }
            let ttl = new.ttl_secs.unwrap_or(DEFAULT_LINK_SECS);
            if !(MIN_LINK_SECS..=MAX_LINK_SECS).contains(&ttl) {
                return Err(VaultError::InvalidRequest(format!(
                    "ttl_secs: from {MIN_LINK_SECS} to {MAX_LINK_SECS} (7 days)"
                )));
            }
            let now = self.clock.now();
            let secret = random_hex(32)?;
            let link = SetupLink {
                org: org.clone(),
                id: format!("sl-{}", random_hex(8)?),
                secret_sha256: sha256_hex(secret.as_bytes()),
                scopes,
                state: LinkState::Active,
                created_at: format_instant(now),
                created_by: caller.actor.clone(),
                expires_at: now.unix_timestamp() + i64::from(ttl),
                used_at: None,
                revoked_at: None,
                version: 1,
            };
            facts = Self::facts(&link);
            facts.insert("ttl_secs".into(), ttl.to_string());
            self.store.insert_link(&link).await?;
            Ok(CreatedSetupLink {
                url: format!(
                    "{}#/o/{org}/setup/{}.{secret}",
                    self.urls.console_url(),
                    link.id
                ),
                link: view(&link),
            })
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "setup_link.create", None, &result, facts)
            .await;
        result
    }

    /// `GET /admin/orgs/{org}/setup-links`: newest first, without secrets.
    pub async fn list(&self, org: &OrgId) -> Result<Vec<SetupLinkView>> {
        self.orgs
            .get_org(org)
            .await?
            .ok_or(VaultError::OrgNotFound)?;
        let mut links = self.store.list_links(org).await?;
        links.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(links.iter().map(view).collect())
    }

    /// `DELETE /admin/orgs/{org}/setup-links/{id}`: an active link can no longer be used (a
    /// session already made from it runs out on its own). Revoking twice is not an error.
    pub async fn revoke(&self, caller: &Caller, org: &OrgId, id: &str) -> Result<SetupLinkView> {
        let mut facts = BTreeMap::from([("setup_link".to_owned(), id.to_owned())]);
        let result = async {
            if !valid_link_id(id) {
                return Err(VaultError::SetupLinkInvalid);
            }
            let mut link = self
                .store
                .link(org, id)
                .await?
                .ok_or(VaultError::SetupLinkInvalid)?;
            facts = Self::facts(&link);
            if link.state == LinkState::Active {
                let expected = link.version;
                link.state = LinkState::Revoked;
                link.revoked_at = Some(format_instant(self.clock.now()));
                link.version += 1;
                self.store.replace_link(&link, expected).await?;
            }
            Ok(view(&link))
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "setup_link.revoke", None, &result, facts)
            .await;
        result
    }

    /// Opening a link: `{id}.{secret}` exchanged, once, for a console session. Anyone may
    /// try, so every refusal is audited with its reason; a wrong secret and an unknown ID are
    /// the same `setup_link_invalid`, and only the holder of the right secret learns that a
    /// link was used, revoked or expired.
    pub async fn exchange(
        &self,
        caller: &Caller,
        org: &OrgId,
        token: &str,
    ) -> Result<StartedSession> {
        let mut facts = BTreeMap::new();
        let result = async {
            let (id, secret) = token
                .split_once('.')
                .filter(|(id, secret)| valid_link_id(id) && secret.len() == 64)
                .ok_or(VaultError::SetupLinkInvalid)?;
            facts.insert("setup_link".to_owned(), id.to_owned());
            let link = self
                .store
                .link(org, id)
                .await?
                .filter(|l| l.secret_matches(secret))
                .ok_or(VaultError::SetupLinkInvalid)?;
            facts = Self::facts(&link);
            let now = self.clock.now();
            match link.state {
                LinkState::Used => return Err(VaultError::SetupLinkUsed),
                LinkState::Revoked => return Err(VaultError::SetupLinkRevoked),
                LinkState::Active if now.unix_timestamp() >= link.expires_at => {
                    return Err(VaultError::SetupLinkExpired)
                }
                LinkState::Active => {}
            }
            self.orgs.active_org(org).await?;
            let (token, session) =
                self.new_session(org, link.scopes.clone(), format!("setup:{}", link.id))?;
            let expected = link.version;
            let used = SetupLink {
                state: LinkState::Used,
                used_at: Some(format_instant(now)),
                version: link.version + 1,
                ..link
            };
            match self.store.use_link(&used, expected, &session).await {
                // Another exchange of the same link won the race.
                Err(e) if e.kind == PortErrorKind::Conflict => {
                    return Err(VaultError::SetupLinkUsed)
                }
                other => other?,
            }
            Ok(StartedSession::of(token, session))
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "setup_link.use", None, &result, facts)
            .await;
        result
    }

    /// A diagnostic ticket for test sign-ins at `idp` (an operator or a console session with
    /// the `sso` scope asks; the route decides who may). Audited as `idp.test_sign_in`.
    pub async fn diagnostic_login(
        &self,
        caller: &Caller,
        org: &OrgId,
        idp: &IdpId,
        known_idp: bool,
    ) -> Result<DiagnosticLogin> {
        let facts = BTreeMap::from([("idp".to_owned(), idp.to_string())]);
        let result = async {
            self.orgs.active_org(org).await?;
            if !known_idp {
                return Err(VaultError::IdpNotFound);
            }
            let now = self.clock.now();
            let ticket = random_hex(32)?;
            let record = DiagnosticTicket {
                org: org.clone(),
                idp: idp.clone(),
                ticket_sha256: sha256_hex(ticket.as_bytes()),
                created_by: caller.actor.clone(),
                expires_at: now.unix_timestamp() + DIAGNOSTIC_SECS,
            };
            self.store.put_diagnostic_ticket(&record).await?;
            Ok(DiagnosticLogin {
                url: format!(
                    "{}/o/{org}/login?idp={idp}&diagnostics={ticket}",
                    self.urls.base()
                ),
                expires_at: instant(record.expires_at),
            })
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "idp.test_sign_in", None, &result, facts)
            .await;
        result
    }

    /// A console sign-in through samlgate itself: the ID token the console received as the
    /// organisation's `samlgate-console` client (code + PKCE), exchanged for a console
    /// session with both scopes if its holder is in the organisation's `admin_group`. The
    /// token is verified here, before anything else: ES256 or RS256 under a key of the
    /// organisation's JWKS, `iss` the organisation's issuer, `aud` the console client, not
    /// expired (60 s leeway). Audited as `console.sign_in`.
    pub async fn oidc_session(
        &self,
        caller: &Caller,
        org: &OrgId,
        id_token: &str,
        jwks: &[serde_json::Value],
        admin_group: Option<&str>,
    ) -> Result<StartedSession> {
        let mut facts = BTreeMap::new();
        let result = async {
            self.orgs.active_org(org).await?;
            let claims = verify_id_token(id_token, jwks, &self.urls.issuer(org))?;
            let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
            facts.insert("sub".to_owned(), sub.clone());
            let group = admin_group.ok_or(VaultError::NotAnOrgAdmin)?;
            let member = claims["groups"]
                .as_array()
                .is_some_and(|groups| groups.iter().any(|g| g.as_str() == Some(group)));
            if !member {
                return Err(VaultError::NotAnOrgAdmin);
            }
            let (token, session) = self.new_session(
                org,
                vec![SetupScope::Sso, SetupScope::Credentials],
                format!("oidc:{sub}"),
            )?;
            self.store.insert_session(&session).await?;
            Ok(StartedSession::of(token, session))
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "console.sign_in", None, &result, facts)
            .await;
        result
    }

    /// A fresh console session (256-bit token, stored as its hash) of `SESSION_SECS`.
    fn new_session(
        &self,
        org: &OrgId,
        scopes: Vec<SetupScope>,
        actor: String,
    ) -> Result<(String, ConsoleSession)> {
        let now = self.clock.now();
        let token = random_hex(32)?;
        let session = ConsoleSession {
            org: org.clone(),
            token_sha256: sha256_hex(token.as_bytes()),
            scopes,
            actor,
            created_at: format_instant(now),
            expires_at: now.unix_timestamp() + SESSION_SECS,
        };
        Ok((token, session))
    }

    /// `DELETE /console-api/orgs/{org}/session`: the session ends now (audited as
    /// `console.sign_out`), not when it runs out.
    pub async fn end_session(&self, caller: &Caller, org: &OrgId, token: &str) -> Result<()> {
        let result = async {
            let session = self.session(org, token).await?;
            self.store.end_session(org, &session.token_sha256).await?;
            Ok(())
        }
        .await;
        self.auditor()
            .outcome(org, caller, "console.sign_out", None, &result)
            .await;
        result
    }

    /// The console session a bearer token names in `org`'s partition, if it is still valid:
    /// a session of another organisation is simply not found there.
    pub async fn session(&self, org: &OrgId, token: &str) -> Result<ConsoleSession> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VaultError::Unauthenticated);
        }
        let session = self
            .store
            .console_session(org, &sha256_hex(token.as_bytes()))
            .await?
            .ok_or(VaultError::Unauthenticated)?;
        if self.clock.now().unix_timestamp() >= session.expires_at {
            return Err(VaultError::Unauthenticated);
        }
        Ok(session)
    }
}

/// The console client's ID token from `issuer`, checked against the organisation's JWKS.
fn verify_id_token(
    token: &str,
    jwks: &[serde_json::Value],
    issuer: &str,
) -> Result<serde_json::Value> {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let invalid = || VaultError::Unauthenticated;
    if token.len() > 16 * 1024 {
        return Err(invalid());
    }
    let header = decode_header(token).map_err(|_| invalid())?;
    if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
        return Err(invalid());
    }
    let kid = header.kid.ok_or_else(invalid)?;
    let jwk = jwks
        .iter()
        .find(|k| k["kid"].as_str() == Some(kid.as_str()))
        .and_then(|k| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone()).ok())
        .ok_or_else(invalid)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid())?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[samlgate_domain::client::CONSOLE_CLIENT_ID]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    decode::<serde_json::Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use samlgate_domain::clock::FixedClock;
    use samlgate_domain::memory::MemoryStore;
    use samlgate_domain::org::{Org, OrgStatus};

    use super::*;

    fn acme() -> OrgId {
        OrgId::parse("acme").unwrap()
    }

    fn operator() -> Caller {
        Caller {
            actor: "arn:aws:iam::123456789012:role/operator".into(),
            correlation_id: "corr-op".into(),
        }
    }

    fn visitor() -> Caller {
        Caller {
            actor: "anonymous".into(),
            correlation_id: "corr-visit".into(),
        }
    }

    fn store() -> MemoryStore {
        MemoryStore::default().with_org(Org {
            org: acme(),
            name: "Acme".into(),
            key_arn: "arn:aws:kms:us-east-1:123456789012:key/acme".into(),
            byok: false,
            provision_function_arn: None,
            provision_role_arn: None,
            egress_allowlist: vec![],
            intake_key_id: "k1".into(),
            status: OrgStatus::Active,
            created_at: "2026-01-01T00:00:00Z".into(),
        })
    }

    struct World {
        store: MemoryStore,
        clock: FixedClock,
        urls: PublicUrls,
    }

    impl World {
        fn new() -> Self {
            Self {
                store: store(),
                clock: FixedClock(time::macros::datetime!(2026-12-02 10:00 UTC)),
                urls: PublicUrls::new("https://sso.example.com", false).unwrap(),
            }
        }
        fn setup(&self) -> Setup<'_> {
            Setup {
                store: &self.store,
                orgs: &self.store,
                audit: &self.store,
                clock: &self.clock,
                urls: &self.urls,
            }
        }
        fn reasons(&self, action: &str) -> Vec<Option<String>> {
            self.store
                .audit
                .lock()
                .unwrap()
                .iter()
                .filter(|e| e.action == action)
                .map(|e| e.reason.clone())
                .collect()
        }
    }

    fn token_of(url: &str) -> String {
        url.rsplit('/').next().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_link_is_exchanged_once_for_a_session_of_its_organisation_and_scopes() {
        let w = World::new();
        let created = w
            .setup()
            .create(
                &operator(),
                &acme(),
                NewSetupLink {
                    scopes: vec![SetupScope::Sso],
                    ttl_secs: None,
                },
            )
            .await
            .unwrap();
        assert!(created
            .url
            .starts_with("https://sso.example.com/console/#/o/acme/setup/sl-"));
        assert_eq!(created.link.expires_at, "2026-12-03T10:00:00Z", "24 h");
        let token = token_of(&created.url);
        let secret = token.split_once('.').unwrap().1.to_owned();
        assert_eq!(secret.len(), 64, "256 bits");
        // Only the hash is stored, and no list or audit item holds the secret.
        let stored = w.store.setup_links.lock().unwrap().clone();
        let text = format!("{stored:?}{:?}", w.store.audit.lock().unwrap());
        assert!(!text.contains(&secret));
        let listed = w.setup().list(&acme()).await.unwrap();
        assert!(!serde_json::to_string(&listed).unwrap().contains(&secret));

        let started = w
            .setup()
            .exchange(&visitor(), &acme(), &token)
            .await
            .unwrap();
        assert_eq!(started.scopes, [SetupScope::Sso]);
        let session = w
            .setup()
            .session(&acme(), &started.session_token)
            .await
            .unwrap();
        assert_eq!(session.actor, format!("setup:{}", created.link.id));
        // Once only; the session is found in its own organisation's partition only.
        let e = w
            .setup()
            .exchange(&visitor(), &acme(), &token)
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("setup_link_used", 410));
        let other = OrgId::parse("other").unwrap();
        let e = w
            .setup()
            .session(&other, &started.session_token)
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("unauthenticated", 401));
        assert_eq!(
            w.reasons("setup_link.use"),
            [None, Some("setup_link_used".to_owned())]
        );
    }

    #[tokio::test]
    async fn expired_revoked_forged_and_malformed_links_are_refused_and_audited() {
        let w = World::new();
        let new = |ttl| NewSetupLink {
            scopes: vec![SetupScope::Credentials, SetupScope::Sso],
            ttl_secs: Some(ttl),
        };
        let short = w
            .setup()
            .create(&operator(), &acme(), new(300))
            .await
            .unwrap();
        let revoked = w
            .setup()
            .create(&operator(), &acme(), new(3600))
            .await
            .unwrap();
        w.setup()
            .revoke(&operator(), &acme(), &revoked.link.id)
            .await
            .unwrap();
        let again = w
            .setup()
            .revoke(&operator(), &acme(), &revoked.link.id)
            .await
            .unwrap();
        assert_eq!(again.state, LinkState::Revoked);
        // Five minutes on, the 300 s link is over.
        let expired_view = Setup {
            clock: &FixedClock(time::macros::datetime!(2026-12-02 10:05 UTC)),
            ..w.setup()
        };
        let e = expired_view
            .exchange(&visitor(), &acme(), &token_of(&short.url))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "setup_link_expired");
        let e = w
            .setup()
            .exchange(&visitor(), &acme(), &token_of(&revoked.url))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "setup_link_revoked");
        // A forged secret for a real ID says nothing about the link's state.
        let forged = format!("{}.{}", revoked.link.id, "0".repeat(64));
        let e = w
            .setup()
            .exchange(&visitor(), &acme(), &forged)
            .await
            .unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("setup_link_invalid", 404));
        for junk in ["", "x", "sl-zz.aa", &token_of(&short.url)[..30]] {
            let e = w
                .setup()
                .exchange(&visitor(), &acme(), junk)
                .await
                .unwrap_err();
            assert_eq!(e.code(), "setup_link_invalid", "{junk}");
        }
        // The link of one organisation does not open another's.
        let other = OrgId::parse("other").unwrap();
        let e = w
            .setup()
            .exchange(&visitor(), &other, &token_of(&short.url))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "setup_link_invalid");
        assert!(w.store.console_sessions.lock().unwrap().is_empty());
        assert_eq!(w.reasons("setup_link.use").len(), 8);
        assert_eq!(w.reasons("setup_link.revoke"), [None, None]);
        for bad in [
            NewSetupLink {
                scopes: vec![],
                ttl_secs: None,
            },
            NewSetupLink {
                scopes: vec![SetupScope::Sso, SetupScope::Sso],
                ttl_secs: None,
            },
            new(MAX_LINK_SECS + 1),
            new(MIN_LINK_SECS - 1),
        ] {
            let e = w
                .setup()
                .create(&operator(), &acme(), bad)
                .await
                .unwrap_err();
            assert_eq!(e.code(), "invalid_request");
        }
        assert_eq!(w.store.setup_links.lock().unwrap().len(), 2);
    }
}
