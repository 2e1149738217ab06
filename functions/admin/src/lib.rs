//! The admin function's HTTP layer: parse the request, call the vault
//! ([`samlgate_vault::admin::Admin`]) or the IdP lifecycle ([`samlgate_idp::admin::IdpAdmin`]),
//! map the result. The routes (HttpApi, IAM or JWT authorizer in front):
//!
//! | method | path | |
//! |---|---|---|
//! | POST | `/admin/orgs` | register an organisation (its key must already exist) |
//! | GET | `/admin/orgs/{org}` | the organisation record |
//! | GET | `/admin/orgs/{org}/intake-key` | the intake public key (PEM and JWK) |
//! | POST | `/admin/orgs/{org}/credentials` | credential intake (ciphertext only) |
//! | POST | `/admin/orgs/{org}/credentials/form` | the same as a form, behind CloudFront field-level encryption (JWT) |
//! | GET | `/admin/orgs/{org}/credentials` | list (metadata only) |
//! | GET | `/admin/orgs/{org}/credentials/{id}` | one credential's metadata |
//! | PUT | `/admin/orgs/{org}/credentials/{id}` | a new version |
//! | DELETE | `/admin/orgs/{org}/credentials/{id}` | schedule deletion |
//! | GET, PUT, PATCH | `/admin/orgs/{org}/sso` | SSO settings: IdP routing, verified email domains, session lifetime, rotation (PATCH: an RFC 7396 merge patch) |
//! | POST | `/admin/orgs/{org}/idps` | register an IdP (metadata XML, metadata URL or manual) |
//! | GET | `/admin/orgs/{org}/idps` | list IdPs |
//! | GET | `/admin/orgs/{org}/idps/{idp}` | one IdP, with its SP URLs and certificates |
//! | PUT | `/admin/orgs/{org}/idps/{idp}/settings` | replace the IdP's settings (an absent field takes its default) |
//! | POST | `/admin/orgs/{org}/idps/{idp}/test-sign-in` | a test sign-in URL whose failure shows its reason (a diagnostic ticket, 5 minutes) |
//! | PATCH | `/admin/orgs/{org}/idps/{idp}/settings` | change only the fields named (RFC 7396 merge patch; `null` resets one); answers the IdP with its resulting settings |
//! | POST | `/admin/orgs/{org}/idps/{idp}/pending-certificates/{sha256}/approve` | trust a signing certificate that unsigned metadata added |
//! | DELETE | `/admin/orgs/{org}/idps/{idp}/pending-certificates/{sha256}` | drop it |
//! | POST | `/admin/orgs/{org}/clients` | register an OIDC client (its secret, if any, is in this answer only) |
//! | GET | `/admin/orgs/{org}/clients` | list clients (no secrets) |
//! | GET, DELETE | `/admin/orgs/{org}/clients/{id}` | one client; remove it |
//! | POST | `/admin/orgs/{org}/clients/{id}/secret` | a new secret; the previous one works 24 h more |
//! | POST | `/admin/orgs/{org}/credentials/{id}/provision` | run the organisation's provisioning for one credential |
//! | POST, GET | `/admin/orgs/{org}/setup-links` | a setup link for the organisation's IT admin (operators only; its URL is in this answer only); list them |
//! | DELETE | `/admin/orgs/{org}/setup-links/{id}` | revoke one |
//! | POST | `/console-api/orgs/{org}/setup/exchange` | a setup link exchanged, once, for a console session (no authorizer) |
//! | POST | `/console-api/orgs/{org}/session` | a console sign-in: the `samlgate-console` client's ID token, of a member of the organisation's `admin_group`, exchanged for a console session |
//! | DELETE | `/console-api/orgs/{org}/session` | sign-out: the bearer's console session ends now |
//! | any | `/console-api/orgs/{org}/…` | the routes above under `/admin/orgs/{org}/…`, with the console session's bearer token, within its scopes |
//! | GET | `/admin/orgs/{org}/audit` | the audit log, newest first (`action`, `outcome`, `reason`, `correlation_id`, `idp`, `fact`, `from`, `until`, `limit`; `next_until` pages back) |
//!
//! The authorizer decides who may call admin at all; the handler decides which organisations
//! a caller may act on ([`Scope`]): a JWT caller only on the organisation its `org` claim
//! names, an IAM caller on any if it is one of the operators (`SAMLGATE_OPERATOR_ARNS`; any
//! other IAM principal of the account is `not_an_operator`), a console session on its own
//! organisation within its scopes. Every answer carries
//! `Cache-Control: no-store` (some hold a client secret or an audit trail).

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use samlgate_domain::audit::Caller;
use samlgate_domain::clock::Clock;
use samlgate_domain::config::{FleNames, Operators};
use samlgate_domain::ids::{IdpId, OrgId};
use samlgate_domain::ports::{
    AuditLog, AuditReader, ClientReader, ClientWriter, ConfigReader, ConfigWriter, GenerateDataKey,
    JwksReader, MetadataFetcher, ProvisionInvoker, SecretWriter, SetupStore, SsoConfigReader,
    SsoConfigWriter,
};
use samlgate_domain::setup::SetupScope;
use samlgate_domain::urls::PublicUrls;
use samlgate_domain::VaultError;
use samlgate_idp::admin::IdpAdmin;
use samlgate_idp::clients::Clients;
use samlgate_vault::admin::Admin;
use samlgate_vault::audit_query::{self, AuditFilter};
use samlgate_vault::intake_key;
use samlgate_vault::setup::Setup;
use serde_json::{json, Value};

/// Largest request body admin reads (a 64 KiB ciphertext in base64, plus metadata).
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// admin's capabilities, built once per cold start. No port here decrypts or reads a secret
/// value: admin cannot see a credential even if its code wanted to.
#[derive(Clone)]
pub struct App {
    pub keys: Arc<dyn GenerateDataKey>,
    pub secrets: Arc<dyn SecretWriter>,
    pub config: Arc<dyn ConfigReader>,
    pub writer: Arc<dyn ConfigWriter>,
    pub audit: Arc<dyn AuditLog>,
    pub audit_reader: Arc<dyn AuditReader>,
    pub clock: Arc<dyn Clock>,
    pub fle: Option<FleNames>,
    /// Starts the organisation's provisioning function; `None` where admin cannot (the route
    /// answers `provisioning_unavailable`).
    pub provisioner: Option<Arc<dyn ProvisionInvoker>>,
    pub sso_config: Arc<dyn SsoConfigReader>,
    pub sso_writer: Arc<dyn SsoConfigWriter>,
    pub clients: Arc<dyn ClientReader>,
    pub client_writer: Arc<dyn ClientWriter>,
    pub fetcher: Arc<dyn MetadataFetcher>,
    pub urls: PublicUrls,
    /// Local development: requests without an authorizer act as `local-dev`, and IdP and
    /// client URLs may be plain HTTP to loopback.
    pub local: bool,
    /// The size limit of a federation aggregate (`SAMLGATE_METADATA_AGGREGATE_MAX_BYTES`).
    pub aggregate_max_bytes: usize,
    /// Setup links and the console sessions they become.
    pub setup: Arc<dyn SetupStore>,
    /// The IAM principals taken as operators (`SAMLGATE_OPERATOR_ARNS`); `None` only in local
    /// mode, where every SigV4 caller is one.
    pub operators: Option<Operators>,
    /// With field-level encryption, the `x-samlgate-edge` value the intake distribution adds
    /// (`SAMLGATE_FLE_ORIGIN_SECRET`): the credential form is refused without it.
    pub fle_origin_secret: Option<String>,
    /// The organisations' public token keys: a console sign-in's ID token is checked with them.
    pub jwks: Arc<dyn JwksReader>,
}

/// Which organisations a caller may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The platform operator (IAM), or local development.
    All,
    /// An organisation's administrator (JWT with an `org` claim).
    Org(OrgId),
    /// An authenticated caller that names no organisation: may act on none.
    None,
    /// A console session made from a setup link: one organisation, the link's scopes.
    Session(OrgId, Vec<SetupScope>),
}

impl Scope {
    fn allows(&self, org: &OrgId) -> bool {
        match self {
            Self::All => true,
            Self::Org(own) | Self::Session(own, _) => own == org,
            Self::None => false,
        }
    }

    /// Whether a console session may use the route under `/admin/orgs/{org}/` (`rest`): the
    /// overview and the audit log with any scope, the SSO routes with `sso`, the credential
    /// routes with `credentials`, nothing else (setup links are the operators').
    fn permits(&self, method: &str, rest: &[&str]) -> bool {
        let Self::Session(_, scopes) = self else {
            return true;
        };
        let needs = match rest {
            [] | ["audit"] => return method == "GET",
            ["sso" | "token-keys"] | ["idps" | "clients", ..] => SetupScope::Sso,
            ["credentials", ..] | ["intake-key"] => SetupScope::Credentials,
            _ => return false,
        };
        scopes.contains(&needs)
    }
}

impl App {
    fn admin(&self) -> Admin<'_> {
        Admin {
            keys: self.keys.as_ref(),
            secrets: self.secrets.as_ref(),
            config: self.config.as_ref(),
            writer: self.writer.as_ref(),
            audit: self.audit.as_ref(),
            clock: self.clock.as_ref(),
            fle: self.fle.clone(),
        }
    }

    fn clients(&self) -> Clients<'_> {
        Clients {
            orgs: self.config.as_ref(),
            reader: self.clients.as_ref(),
            writer: self.client_writer.as_ref(),
            audit: self.audit.as_ref(),
            clock: self.clock.as_ref(),
            allow_loopback_http: self.local,
        }
    }

    fn setup(&self) -> Setup<'_> {
        Setup {
            store: self.setup.as_ref(),
            orgs: self.config.as_ref(),
            audit: self.audit.as_ref(),
            clock: self.clock.as_ref(),
            urls: &self.urls,
        }
    }

    fn idps(&self) -> IdpAdmin<'_> {
        IdpAdmin {
            keys: self.keys.as_ref(),
            config: self.sso_config.as_ref(),
            writer: self.sso_writer.as_ref(),
            fetcher: self.fetcher.as_ref(),
            audit: self.audit.as_ref(),
            clock: self.clock.as_ref(),
            urls: &self.urls,
            allow_loopback_http: self.local,
            aggregate_max_bytes: self.aggregate_max_bytes,
        }
    }
}

/// An API answer: status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

fn error_reply(error: &VaultError, caller: &Caller) -> Reply {
    // Port failures carry AWS detail: logged, never returned.
    let message = match error {
        VaultError::Port(_) => "the request could not be completed".to_owned(),
        other => other.to_string(),
    };
    tracing::warn!(code = error.code(), correlation_id = %caller.correlation_id, error = %error, "admin request failed");
    Reply {
        status: error.http_status(),
        body: json!({"error": error.code(), "message": message, "correlation_id": caller.correlation_id}),
    }
}

fn ok(status: u16, value: impl serde::Serialize, caller: &Caller) -> Reply {
    match serde_json::to_value(value) {
        Ok(body) => Reply { status, body },
        Err(_) => error_reply(&VaultError::Internal("serialisation"), caller),
    }
}

/// A JSON body into one of our request types: a refusal names the field and what it
/// accepts, never the value ([`samlgate_domain::schema`]).
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, VaultError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(VaultError::InvalidRequest(format!(
            "body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    samlgate_domain::schema::from_json(body)
}

/// The credential intake form (`application/x-www-form-urlencoded`, fields `name`,
/// `description`, `kind`, `action` as JSON, `secret`), meant to arrive through the CloudFront
/// distribution whose field-level encryption has replaced `secret` with an ESDK message in
/// base64. A form that did not (a plaintext `secret`) fails the same ciphertext checks as
/// any malformed ciphertext; no field value is ever quoted in an error.
fn parse_credential_form(body: &[u8]) -> Result<Value, VaultError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(VaultError::InvalidRequest(format!(
            "body is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let mut fields = serde_json::Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let (name, value) = match key.as_ref() {
            "name" | "description" | "kind" => {
                (key.into_owned(), Value::String(value.into_owned()))
            }
            "action" => (
                "action".to_owned(),
                serde_json::from_str(&value).map_err(|_| {
                    VaultError::InvalidRequest("form field action is not a JSON object".into())
                })?,
            ),
            "secret" => ("ciphertext".to_owned(), Value::String(value.into_owned())),
            _ => {
                return Err(VaultError::InvalidRequest(
                    "form fields are name, description, kind, action and secret".into(),
                ))
            }
        };
        if fields.insert(name, value).is_some() {
            return Err(VaultError::InvalidRequest(
                "a form field appears more than once".into(),
            ));
        }
    }
    Ok(Value::Object(fields))
}

/// Routes one request. `path` is the raw path, with the query string if there is one; `body`
/// the raw body.
pub async fn route(
    app: &App,
    caller: &Caller,
    scope: &Scope,
    method: &str,
    path: &str,
    body: &[u8],
) -> Reply {
    match route_inner(app, caller, scope, method, path, body).await {
        Ok(reply) => reply,
        Err(e) => error_reply(&e, caller),
    }
}

async fn route_inner(
    app: &App,
    caller: &Caller,
    scope: &Scope,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Reply, VaultError> {
    let admin = app.admin();
    let idps = app.idps();
    let clients = app.clients();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    // Every organisation in a path is checked against the caller's scope first.
    if let ["admin", "orgs", o, rest @ ..] = segments.as_slice() {
        if !scope.allows(&OrgId::parse(o)?) {
            return Err(VaultError::WrongOrganisation);
        }
        if !scope.permits(method, rest) {
            return Err(VaultError::ScopeNotGranted);
        }
    }
    let org = |s: &str| OrgId::parse(s);
    let idp = |s: &str| IdpId::parse(s);
    Ok(match (method, segments.as_slice()) {
        ("POST", ["admin", "orgs"]) if *scope != Scope::All => {
            return Err(VaultError::WrongOrganisation)
        }
        // Setup links are handed out by operators only.
        (_, ["admin", "orgs", _, "setup-links", ..]) if *scope != Scope::All => {
            return Err(VaultError::WrongOrganisation)
        }
        ("POST", ["admin", "orgs", o, "setup-links"]) => ok(
            201,
            app.setup()
                .create(caller, &org(o)?, parse_body(body)?)
                .await?,
            caller,
        ),
        ("GET", ["admin", "orgs", o, "setup-links"]) => ok(
            200,
            json!({"setup_links": app.setup().list(&org(o)?).await?}),
            caller,
        ),
        ("DELETE", ["admin", "orgs", o, "setup-links", id]) => {
            ok(200, app.setup().revoke(caller, &org(o)?, id).await?, caller)
        }
        ("POST", ["admin", "orgs"]) => ok(
            201,
            admin.register_org(caller, parse_body(body)?).await?,
            caller,
        ),
        ("GET", ["admin", "orgs", o]) => ok(200, admin.get_org(&org(o)?).await?, caller),
        ("GET", ["admin", "orgs", o, "intake-key"]) => ok(
            200,
            intake_key::public_view(&admin.intake_key(&org(o)?).await?)?,
            caller,
        ),
        ("POST", ["admin", "orgs", o, "credentials"]) => ok(
            201,
            admin
                .create_credential(caller, &org(o)?, parse_body(body)?)
                .await?,
            caller,
        ),
        ("POST", ["admin", "orgs", o, "credentials", "form"]) => {
            let form = serde_json::to_vec(&parse_credential_form(body)?)
                .map_err(|_| VaultError::Internal("serialisation"))?;
            ok(
                201,
                admin
                    .create_credential(caller, &org(o)?, parse_body(&form)?)
                    .await?,
                caller,
            )
        }
        ("GET", ["admin", "orgs", o, "credentials"]) => ok(
            200,
            json!({"credentials": admin.list_credentials(&org(o)?).await?}),
            caller,
        ),
        ("GET", ["admin", "orgs", o, "credentials", id]) => {
            ok(200, admin.get_credential(&org(o)?, id).await?, caller)
        }
        ("PUT", ["admin", "orgs", o, "credentials", id]) => ok(
            200,
            admin
                .update_credential(caller, &org(o)?, id, parse_body(body)?)
                .await?,
            caller,
        ),
        ("DELETE", ["admin", "orgs", o, "credentials", id]) => ok(
            200,
            admin.delete_credential(caller, &org(o)?, id).await?,
            caller,
        ),
        ("GET", ["admin", "orgs", o, "sso"]) => {
            ok(200, idps.get_sso_settings(&org(o)?).await?, caller)
        }
        ("GET", ["admin", "orgs", o, "token-keys"]) => ok(
            200,
            json!({"token_keys": idps.token_keys(&org(o)?).await?}),
            caller,
        ),
        ("PUT", ["admin", "orgs", o, "sso"]) => ok(
            200,
            idps.put_sso_settings(caller, &org(o)?, parse_body(body)?)
                .await?,
            caller,
        ),
        ("PATCH", ["admin", "orgs", o, "sso"]) => ok(
            200,
            idps.patch_sso_settings(caller, &org(o)?, &parse_body(body)?)
                .await?,
            caller,
        ),
        ("POST", ["admin", "orgs", o, "idps"]) => ok(
            201,
            idps.register_idp(caller, &org(o)?, parse_body(body)?)
                .await?,
            caller,
        ),
        ("GET", ["admin", "orgs", o, "idps"]) => ok(
            200,
            json!({"idps": idps.list_idps(&org(o)?).await?}),
            caller,
        ),
        ("GET", ["admin", "orgs", o, "idps", i]) => {
            ok(200, idps.get_idp(&org(o)?, &idp(i)?).await?, caller)
        }
        ("POST", ["admin", "orgs", o, "credentials", id, "provision"]) => ok(
            200,
            admin
                .request_provisioning(caller, &org(o)?, id, app.provisioner.as_deref())
                .await?,
            caller,
        ),
        ("GET", ["admin", "orgs", o, "audit"]) => {
            let org = org(o)?;
            admin.get_org(&org).await?;
            let filter = AuditFilter::from_query(query)?;
            ok(
                200,
                audit_query::search(app.audit_reader.as_ref(), &org, &filter).await?,
                caller,
            )
        }
        ("POST", ["admin", "orgs", o, "clients"]) => ok(
            201,
            clients
                .register(caller, &org(o)?, parse_body(body)?)
                .await?,
            caller,
        ),
        ("GET", ["admin", "orgs", o, "clients"]) => ok(
            200,
            json!({"clients": clients.list(&org(o)?).await?}),
            caller,
        ),
        ("GET", ["admin", "orgs", o, "clients", id]) => {
            ok(200, clients.get(&org(o)?, id).await?, caller)
        }
        ("DELETE", ["admin", "orgs", o, "clients", id]) => {
            clients.delete(caller, &org(o)?, id).await?;
            ok(200, json!({"client_id": id, "deleted": true}), caller)
        }
        ("POST", ["admin", "orgs", o, "clients", id, "secret"]) => {
            ok(200, clients.new_secret(caller, &org(o)?, id).await?, caller)
        }
        ("POST", ["admin", "orgs", o, "idps", i, "test-sign-in"]) => {
            let (org, idp) = (org(o)?, idp(i)?);
            let known = app.sso_config.idp(&org, &idp).await?.is_some();
            ok(
                200,
                app.setup()
                    .diagnostic_login(caller, &org, &idp, known)
                    .await?,
                caller,
            )
        }
        ("PATCH", ["admin", "orgs", o, "idps", i, "settings"]) => ok(
            200,
            idps.patch_settings(caller, &org(o)?, &idp(i)?, &parse_body(body)?)
                .await?,
            caller,
        ),
        ("PUT", ["admin", "orgs", o, "idps", i, "settings"]) => ok(
            200,
            idps.update_settings(caller, &org(o)?, &idp(i)?, parse_body(body)?)
                .await?,
            caller,
        ),
        ("POST", ["admin", "orgs", o, "idps", i, "pending-certificates", sha256, "approve"]) => ok(
            200,
            idps.decide_pending_certificate(caller, &org(o)?, &idp(i)?, sha256, true)
                .await?,
            caller,
        ),
        ("DELETE", ["admin", "orgs", o, "idps", i, "pending-certificates", sha256]) => ok(
            200,
            idps.decide_pending_certificate(caller, &org(o)?, &idp(i)?, sha256, false)
                .await?,
            caller,
        ),
        _ => Reply {
            status: 404,
            body: json!({"error": "no_route", "message": "no such route", "correlation_id": caller.correlation_id}),
        },
    })
}

/// Who is calling, from the API Gateway authorizer: an IAM principal that is one of the
/// deployment's operators (any organisation; another IAM principal of the account is refused,
/// `not_an_operator`), or the JWT subject (the organisation its `org` claim names).
fn caller_of(
    request: &Request,
    local: bool,
    operators: Option<&Operators>,
) -> Result<(Caller, Scope), (Caller, VaultError)> {
    let (who, correlation_id) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let auth = ctx.authorizer.as_ref();
            let iam = auth
                .and_then(|a| a.iam.as_ref())
                .and_then(|iam| iam.user_arn.clone())
                .map(|arn| {
                    let admitted = operators.is_none_or(|ops| ops.admits(&arn));
                    (arn, admitted.then_some(Scope::All))
                });
            let jwt = auth.and_then(|a| a.jwt.as_ref()).and_then(|jwt| {
                let sub = jwt.claims.get("sub")?;
                let scope = jwt
                    .claims
                    .get("org")
                    .and_then(|o| OrgId::parse(o).ok())
                    .map_or(Scope::None, Scope::Org);
                Some((format!("jwt:{sub}"), Some(scope)))
            });
            (iam.or(jwt), ctx.request_id.clone())
        }
        _ => (None, None),
    };
    let correlation_id = correlation_id
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_else(|| "local".to_owned());
    let caller = |actor: String| Caller {
        actor,
        correlation_id: correlation_id.clone(),
    };
    match who.or_else(|| local.then(|| ("local-dev".to_owned(), Some(Scope::All)))) {
        Some((actor, Some(scope))) => Ok((caller(actor), scope)),
        Some((actor, None)) => Err((caller(actor), VaultError::NotAnOperator)),
        None => Err((caller("anonymous".into()), VaultError::Unauthenticated)),
    }
}

/// `POST /console-api/orgs/{org}/setup/exchange`'s body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Exchange {
    token: String,
}

/// `POST /console-api/orgs/{org}/session`'s body: the console client's ID token.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    id_token: String,
}

/// The console's API: `/console-api/orgs/{org}/…`, with no API Gateway authorizer in front,
/// so this function authenticates before any handler logic. The setup-link exchange is
/// anonymous; everything else needs `Authorization: Bearer {session token}`, looked up in the
/// path's organisation only (a session of another organisation is not found there), and is
/// then routed as `/admin/orgs/{org}/…` within the session's scopes.
pub async fn console_api(
    app: &App,
    correlation_id: &str,
    authorization: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Reply {
    let anonymous = Caller {
        actor: "anonymous".into(),
        correlation_id: correlation_id.to_owned(),
    };
    let result = async {
        let rest = path
            .strip_prefix("/console-api/orgs/")
            .ok_or(VaultError::InvalidRequest("no such route".into()))?;
        let (o, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let org = OrgId::parse(o)?;
        if (method, tail) == ("POST", "setup/exchange") {
            let exchange: Exchange = parse_body(body)?;
            return Ok(ok(
                200,
                app.setup()
                    .exchange(&anonymous, &org, &exchange.token)
                    .await?,
                &anonymous,
            ));
        }
        if (method, tail) == ("POST", "session") {
            let sign_in: SignIn = parse_body(body)?;
            let jwks = app.jwks.jwks(&org).await?;
            let admin_group = app
                .sso_config
                .sso_settings(&org)
                .await?
                .and_then(|s| s.admin_group);
            return Ok(ok(
                200,
                app.setup()
                    .oidc_session(
                        &anonymous,
                        &org,
                        &sign_in.id_token,
                        &jwks,
                        admin_group.as_deref(),
                    )
                    .await?,
                &anonymous,
            ));
        }
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .ok_or(VaultError::Unauthenticated)?;
        let session = app.setup().session(&org, token.trim()).await?;
        let caller = Caller {
            actor: session.actor.clone(),
            correlation_id: correlation_id.to_owned(),
        };
        if (method, tail) == ("DELETE", "session") {
            app.setup().end_session(&caller, &org, token.trim()).await?;
            return Ok(ok(200, json!({"signed_out": true}), &caller));
        }
        let scope = Scope::Session(org.clone(), session.scopes);
        let admin_path = format!("/admin/orgs/{org}/{tail}");
        Ok(route(
            app,
            &caller,
            &scope,
            method,
            admin_path.trim_end_matches('/'),
            body,
        )
        .await)
    }
    .await;
    result.unwrap_or_else(|e| error_reply(&e, &anonymous))
}

/// The Lambda entry point.
pub async fn handle(app: &App, request: Request) -> Response<Body> {
    if request.uri().path().starts_with("/console-api/") {
        let correlation_id = request_id(&request);
        let authorization = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let path = request
            .uri()
            .path_and_query()
            .map_or(request.uri().path(), |p| p.as_str());
        let reply = console_api(
            app,
            &correlation_id,
            authorization,
            request.method().as_str(),
            path,
            body_of(&request),
        )
        .await;
        return respond(reply);
    }
    let reply = match caller_of(&request, app.local, app.operators.as_ref()) {
        Err((caller, refusal)) => error_reply(&refusal, &caller),
        Ok((caller, _)) if !through_edge(app, &request) => {
            error_reply(&VaultError::EdgeRequired, &caller)
        }
        Ok((caller, scope)) => {
            route(
                app,
                &caller,
                &scope,
                request.method().as_str(),
                request
                    .uri()
                    .path_and_query()
                    .map_or(request.uri().path(), |p| p.as_str()),
                body_of(&request),
            )
            .await
        }
    };
    respond(reply)
}

/// The credential form came through the intake distribution: with field-level encryption,
/// its `x-samlgate-edge` header carries the value only CloudFront and admin know (compared in
/// constant time). The execute-api endpoint stays reachable, and a form posted there directly
/// would carry its secret unencrypted.
fn through_edge(app: &App, request: &Request) -> bool {
    if !request.uri().path().ends_with("/credentials/form") {
        return true;
    }
    let Some(expected) = &app.fle_origin_secret else {
        return true;
    };
    request
        .headers()
        .get("x-samlgate-edge")
        .is_some_and(|sent| {
            aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), expected.as_bytes())
                .is_ok()
        })
}

fn body_of(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// API Gateway's request ID, else Lambda's.
fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_else(|| "local".to_owned())
}

fn respond(reply: Reply) -> Response<Body> {
    let mut response = Response::new(Body::Text(reply.body.to_string()));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(reply.status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "cache-control",
        lambda_http::http::HeaderValue::from_static("no-store"),
    );
    response
}

pub use samlgate_aws::http::HttpFetcher;
