//! The organisation's OIDC clients through admin (DESIGN.md §6): register, list, show, delete,
//! and a new secret with the old one valid for a grace period. A secret is shown once, in the
//! answer that made it, and stored only as its hash.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use samlgate_domain::audit::Caller;
use samlgate_domain::auditor::Auditor;
use samlgate_domain::client::{ClientSecret, OidcClient, SigningAlg, TokenAuthMethod};
use samlgate_domain::clock::{format_instant, Clock};
use samlgate_domain::ids::{random_hex, sha256_hex, OrgId};
use samlgate_domain::ports::{AuditLog, ClientReader, ClientWriter, OrgReader};
use samlgate_domain::rules::{text, web_url};
use samlgate_domain::{PortErrorKind, Result, VaultError};
use serde::{Deserialize, Serialize};
use time::Duration;

/// How long a replaced secret keeps working: a day, so that every instance of an application
/// can pick up the new one before the old one stops.
pub const SECRET_GRACE: Duration = Duration::hours(24);

/// Most redirect URIs (and post-logout redirect URIs) per client.
const MAX_URIS: usize = 16;

/// admin's capabilities for clients.
pub struct Clients<'a> {
    pub orgs: &'a dyn OrgReader,
    pub reader: &'a dyn ClientReader,
    pub writer: &'a dyn ClientWriter,
    pub audit: &'a dyn AuditLog,
    pub clock: &'a dyn Clock,
    /// Local development: redirect URIs may be plain HTTP to loopback.
    pub allow_loopback_http: bool,
}

/// `POST /admin/orgs/{org}/clients`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub initiate_login_uri: Option<String>,
    pub token_endpoint_auth_method: TokenAuthMethod,
    #[serde(default)]
    pub id_token_signed_response_alg: SigningAlg,
}

/// What admin answers about a client: everything but the secrets' hashes.
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub initiate_login_uri: Option<String>,
    pub token_endpoint_auth_method: TokenAuthMethod,
    pub id_token_signed_response_alg: SigningAlg,
    /// When each secret was made and until when a replaced one still works.
    pub secrets: Vec<SecretView>,
    pub created_at: String,
    pub updated_at: String,
    /// The new secret: only in the answer that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretView {
    pub created_at: String,
    pub expires_at: Option<String>,
}

impl ClientView {
    fn of(client: &OidcClient, secret: Option<String>) -> Self {
        Self {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            initiate_login_uri: client.initiate_login_uri.clone(),
            token_endpoint_auth_method: client.token_endpoint_auth_method,
            id_token_signed_response_alg: client.id_token_signed_response_alg,
            secrets: client
                .secrets
                .iter()
                .map(|s| SecretView {
                    created_at: s.created_at.clone(),
                    expires_at: s.expires_at.clone(),
                })
                .collect(),
            created_at: client.created_at.clone(),
            updated_at: client.updated_at.clone(),
            client_secret: secret,
        }
    }
}

/// 256 random bits, base64url without padding: only unreserved characters.
fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| VaultError::Internal("random generator"))?;
    Ok(B64URL.encode(bytes))
}

impl Clients<'_> {
    fn auditor(&self) -> Auditor<'_> {
        Auditor {
            log: self.audit,
            clock: self.clock,
        }
    }

    fn uris(&self, field: &str, uris: &[String], min: usize) -> Result<()> {
        if uris.len() < min || uris.len() > MAX_URIS {
            return Err(VaultError::InvalidRequest(format!(
                "{field} must list {min}–{MAX_URIS} URIs"
            )));
        }
        for uri in uris {
            web_url(field, uri, self.allow_loopback_http)?;
        }
        Ok(())
    }

    /// `POST /admin/orgs/{org}/clients`: the client, and for a confidential one its secret.
    pub async fn register(
        &self,
        caller: &Caller,
        org: &OrgId,
        new: NewClient,
    ) -> Result<ClientView> {
        let mut facts = BTreeMap::new();
        let result = self.register_inner(org, new, &mut facts).await;
        self.auditor()
            .outcome_with_facts(org, caller, "client.register", None, &result, facts)
            .await;
        result
    }

    async fn register_inner(
        &self,
        org: &OrgId,
        new: NewClient,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<ClientView> {
        self.orgs.active_org(org).await?;
        text("name", &new.name, 1, 128)?;
        self.uris("redirect_uris", &new.redirect_uris, 1)?;
        self.uris(
            "post_logout_redirect_uris",
            &new.post_logout_redirect_uris,
            0,
        )?;
        for (field, uri) in [
            ("backchannel_logout_uri", &new.backchannel_logout_uri),
            ("initiate_login_uri", &new.initiate_login_uri),
        ] {
            if let Some(uri) = uri {
                web_url(field, uri, self.allow_loopback_http)?;
            }
        }
        let client_id = format!("client-{}", random_hex(12)?);
        facts.insert("client_id".into(), client_id.clone());
        let now = format_instant(self.clock.now());
        let secret = match new.token_endpoint_auth_method {
            TokenAuthMethod::None => None,
            _ => Some(new_secret()?),
        };
        let client = OidcClient {
            org: org.clone(),
            client_id,
            name: new.name,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            backchannel_logout_uri: new.backchannel_logout_uri,
            initiate_login_uri: new.initiate_login_uri,
            token_endpoint_auth_method: new.token_endpoint_auth_method,
            id_token_signed_response_alg: new.id_token_signed_response_alg,
            secrets: secret
                .iter()
                .map(|s| ClientSecret {
                    sha256: sha256_hex(s.as_bytes()),
                    created_at: now.clone(),
                    expires_at: None,
                })
                .collect(),
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        self.writer.insert_client(&client).await?;
        Ok(ClientView::of(&client, secret))
    }

    pub async fn list(&self, org: &OrgId) -> Result<Vec<ClientView>> {
        self.orgs.active_org(org).await?;
        let clients = self.reader.list_clients(org).await?;
        Ok(clients.iter().map(|c| ClientView::of(c, None)).collect())
    }

    pub async fn get(&self, org: &OrgId, client_id: &str) -> Result<ClientView> {
        Ok(ClientView::of(&self.stored(org, client_id).await?, None))
    }

    async fn stored(&self, org: &OrgId, client_id: &str) -> Result<OidcClient> {
        if client_id.len() > 64 {
            return Err(VaultError::ClientNotFound);
        }
        self.reader
            .client(org, client_id)
            .await?
            .ok_or(VaultError::ClientNotFound)
    }

    /// `DELETE /admin/orgs/{org}/clients/{id}`: its codes and tokens stop working at once
    /// (every redemption and userinfo call reads the client).
    pub async fn delete(&self, caller: &Caller, org: &OrgId, client_id: &str) -> Result<()> {
        let facts = BTreeMap::from([("client_id".to_owned(), client_id.to_owned())]);
        let result = async {
            self.orgs.active_org(org).await?;
            self.stored(org, client_id).await?;
            match self.writer.delete_client(org, client_id).await {
                Err(e) if e.kind == PortErrorKind::NotFound => Err(VaultError::ClientNotFound),
                other => Ok(other?),
            }
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "client.delete", None, &result, facts)
            .await;
        result
    }

    /// `POST /admin/orgs/{org}/clients/{id}/secret`: a new secret; the previous one works for
    /// [`SECRET_GRACE`] more, older ones stop now.
    pub async fn new_secret(
        &self,
        caller: &Caller,
        org: &OrgId,
        client_id: &str,
    ) -> Result<ClientView> {
        let facts = BTreeMap::from([("client_id".to_owned(), client_id.to_owned())]);
        let result = async {
            self.orgs.active_org(org).await?;
            let mut client = self.stored(org, client_id).await?;
            if client.is_public() {
                return Err(VaultError::InvalidRequest(
                    "a public client has no secret".into(),
                ));
            }
            let now = self.clock.now();
            let secret = new_secret()?;
            let stamp = format_instant(now);
            let current = client
                .secrets
                .iter()
                .find(|s| s.expires_at.is_none())
                .cloned()
                .map(|s| ClientSecret {
                    expires_at: Some(format_instant(now + SECRET_GRACE)),
                    ..s
                });
            client.secrets = std::iter::once(ClientSecret {
                sha256: sha256_hex(secret.as_bytes()),
                created_at: stamp.clone(),
                expires_at: None,
            })
            .chain(current)
            .collect();
            let expected = client.version;
            client.version += 1;
            client.updated_at = stamp;
            match self.writer.replace_client(&client, expected).await {
                Err(e) if e.kind == PortErrorKind::Conflict => Err(VaultError::VersionConflict),
                other => other.map_err(VaultError::from),
            }?;
            Ok(ClientView::of(&client, Some(secret)))
        }
        .await;
        self.auditor()
            .outcome_with_facts(org, caller, "client.secret", None, &result, facts)
            .await;
        result
    }
}

#[cfg(test)]
mod tests {
    use samlgate_domain::PortErrorKind::Conflict;

    use super::*;
    use crate::testing::{acme, caller, World};

    fn clients(world: &World) -> Clients<'_> {
        Clients {
            orgs: &world.store,
            reader: &world.store,
            writer: &world.store,
            audit: &world.store,
            clock: &world.clock,
            allow_loopback_http: false,
        }
    }

    fn new_client(method: TokenAuthMethod) -> NewClient {
        NewClient {
            name: "Acme app".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
            backchannel_logout_uri: Some("https://app.example.com/backchannel".into()),
            initiate_login_uri: None,
            token_endpoint_auth_method: method,
            id_token_signed_response_alg: SigningAlg::ES256,
        }
    }

    #[tokio::test]
    async fn a_confidential_client_gets_a_secret_once_and_only_its_hash_is_stored() {
        let world = World::empty();
        let view = clients(&world)
            .register(
                &caller(),
                &acme(),
                new_client(TokenAuthMethod::ClientSecretBasic),
            )
            .await
            .unwrap();
        let secret = view.client_secret.clone().unwrap();
        assert!(samlgate_domain::client::is_unreserved(&secret) && secret.len() >= 43);
        assert!(samlgate_domain::client::is_unreserved(&view.client_id));
        let stored = world
            .store
            .clients
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap();
        assert!(!serde_json::to_string(&stored).unwrap().contains(&secret));
        assert!(stored.secret_matches(&secret, world.clock.now()));
        let shown = clients(&world).get(&acme(), &view.client_id).await.unwrap();
        assert!(shown.client_secret.is_none());
        let public = clients(&world)
            .register(&caller(), &acme(), new_client(TokenAuthMethod::None))
            .await
            .unwrap();
        assert!(public.client_secret.is_none() && public.secrets.is_empty());
        assert_eq!(clients(&world).list(&acme()).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn bad_registrations_are_refused_and_write_nothing() {
        let world = World::empty();
        let mut cases = Vec::new();
        let mut c = new_client(TokenAuthMethod::None);
        c.redirect_uris = vec![];
        cases.push(c);
        for uri in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#fragment",
            "/relative",
            "https://user:pw@app.example.com/cb",
        ] {
            let mut c = new_client(TokenAuthMethod::None);
            c.redirect_uris = vec![uri.into()];
            cases.push(c);
        }
        let mut c = new_client(TokenAuthMethod::None);
        c.backchannel_logout_uri = Some("http://app.example.com/bc".into());
        cases.push(c);
        let mut c = new_client(TokenAuthMethod::None);
        c.name = String::new();
        cases.push(c);
        let n = cases.len();
        for c in cases {
            let e = clients(&world)
                .register(&caller(), &acme(), c)
                .await
                .unwrap_err();
            assert_eq!(e.code(), "invalid_request");
        }
        assert!(world.store.clients.lock().unwrap().is_empty());
        assert_eq!(world.audit().len(), n, "every refusal is audited");
    }

    #[tokio::test]
    async fn a_new_secret_leaves_the_old_one_valid_for_the_grace_period_only() {
        let world = World::empty();
        let first = clients(&world)
            .register(
                &caller(),
                &acme(),
                new_client(TokenAuthMethod::ClientSecretPost),
            )
            .await
            .unwrap();
        let old = first.client_secret.unwrap();
        let second = clients(&world)
            .new_secret(&caller(), &acme(), &first.client_id)
            .await
            .unwrap();
        let new = second.client_secret.unwrap();
        let stored = world
            .store
            .clients
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap();
        let now = world.clock.now();
        assert!(stored.secret_matches(&new, now) && stored.secret_matches(&old, now));
        assert!(!stored.secret_matches(&old, now + SECRET_GRACE));
        assert!(stored.secret_matches(&new, now + SECRET_GRACE));
        // A third secret ends the first one at once.
        let third = clients(&world)
            .new_secret(&caller(), &acme(), &first.client_id)
            .await
            .unwrap();
        let stored = world
            .store
            .clients
            .lock()
            .unwrap()
            .values()
            .next()
            .cloned()
            .unwrap();
        assert!(!stored.secret_matches(&old, now));
        assert!(stored.secret_matches(&third.client_secret.unwrap(), now));
        assert_eq!(stored.secrets.len(), 2);
        // A concurrent change, a public client, an unknown client.
        world.store.faults.fail("replace_client", Conflict);
        let e = clients(&world)
            .new_secret(&caller(), &acme(), &first.client_id)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "version_conflict");
        world.store.faults.heal("replace_client");
        let public = clients(&world)
            .register(&caller(), &acme(), new_client(TokenAuthMethod::None))
            .await
            .unwrap();
        let e = clients(&world)
            .new_secret(&caller(), &acme(), &public.client_id)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        let e = clients(&world)
            .new_secret(&caller(), &acme(), "client-none")
            .await
            .unwrap_err();
        assert_eq!(e.code(), "client_not_found");
    }

    #[tokio::test]
    async fn a_deleted_client_is_gone() {
        let world = World::empty();
        let view = clients(&world)
            .register(&caller(), &acme(), new_client(TokenAuthMethod::None))
            .await
            .unwrap();
        clients(&world)
            .delete(&caller(), &acme(), &view.client_id)
            .await
            .unwrap();
        let e = clients(&world)
            .get(&acme(), &view.client_id)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "client_not_found");
        let e = clients(&world)
            .delete(&caller(), &acme(), &view.client_id)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "client_not_found");
        let actions: Vec<String> = world.audit().into_iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            ["client.register", "client.delete", "client.delete"]
        );
    }
}
