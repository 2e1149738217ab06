//! `samlgate dev`: one local HTTP server that mounts every function's handler on the API's
//! routes (`samlgate_deploy::routes`, the same table the template is checked against), over the
//! AWS that `AWS_ENDPOINT_URL` points at (moto, started by `scripts/dev`). It creates a demo
//! organisation, registers the built-in demo IdP through the admin handler, and serves a demo
//! application page that shows the token it received, and the admin console (`console/`, built
//! by `scripts/setup`) under `/console/`.

mod demo_app;
mod demo_idp;
mod request_log;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::body::{to_bytes, Body as AxumBody};
use axum::extract::State;
use axum::http::{Request as HttpRequest, Response as HttpResponse, StatusCode};
use samlgate_acs::escape_html;
use samlgate_admin::{App as AdminApp, HttpFetcher, Scope};
use samlgate_aws::http::Destinations;
use samlgate_aws::{sdk_config, Kms, Secrets, Table};
use samlgate_deploy::key_policy::{render, PolicyInputs};
use samlgate_deploy::routes::{resolve, Function};
use samlgate_domain::audit::Caller;
use samlgate_domain::clock::{Clock, SystemClock};
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::{CreateKey, OrgReader};
use samlgate_domain::urls::PublicUrls;
use samlgate_sso::KeyCache;
use samlgate_vault::provision::ProvisionConfig;
use serde_json::{json, Value};

use demo_app::DemoApp;
use demo_idp::{DemoIdp, USERS};
use request_log::{local_admin_guard, log_requests, NotingAudit, RequestNote};

pub const DEMO_ORG: &str = "demo";
pub const DEMO_IDP: &str = "demo";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// DynamoDB table (created if missing).
    #[arg(long, default_value = "samlgate-dev")]
    table: String,
    /// Where the demo IdP keeps its key pair across restarts.
    #[arg(long, default_value = ".dev")]
    state_dir: PathBuf,
    /// Account ID for the demo organisation's key policy.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// The built admin console (`npm run build` in console/, which scripts/setup runs).
    #[arg(long, default_value = "console/dist")]
    console_dir: PathBuf,
}

struct Dev {
    base: String,
    port: u16,
    admin: AdminApp,
    acs: samlgate_acs::App,
    metadata: samlgate_metadata::App,
    idp: DemoIdp,
    app: DemoApp,
}

pub fn run(args: &Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("samlgate dev: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("samlgate dev: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: &Args) -> Result<(), String> {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return Err("AWS_ENDPOINT_URL is not set: run scripts/dev (it starts moto)".into());
    }
    let base = format!("http://127.0.0.1:{}", args.port);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port)))
        .await
        .map_err(|e| format!("cannot listen on {base}: {e}"))?;
    let config = sdk_config().await;
    let table = Arc::new(Table::new(&config, &args.table));
    table.create().await.map_err(|e| e.to_string())?;
    let kms = Arc::new(Kms::new(&config));
    let urls = PublicUrls::new(&base, true).map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let secrets = Arc::new(Secrets::new(&config));
    // Every handler audits through this, so each request's log line can name its reason.
    let audit = Arc::new(NotingAudit::new(table.clone()));
    // The console's "Provision" button: the provision handler in-process, for the demo
    // organisation only, allowed to reach plain-HTTP targets on loopback (local mode).
    let provision = samlgate_provision::App {
        keys: kms.clone(),
        secrets: secrets.clone(),
        config: table.clone(),
        audit: audit.clone(),
        clock: clock.clone(),
        esdk: Arc::new(samlgate_vault::esdk::EsdkDecrypter),
        egress: Arc::new(samlgate_provision::HttpEgress::new()?),
        settings: Arc::new(ProvisionConfig {
            org: OrgId::parse(DEMO_ORG).map_err(|e| e.to_string())?,
            allow_loopback_http: true,
            fle: None,
        }),
    };
    let admin = AdminApp {
        keys: kms.clone(),
        secrets,
        config: table.clone(),
        writer: table.clone(),
        audit: audit.clone(),
        audit_reader: table.clone(),
        clock: clock.clone(),
        fle: None,
        provisioner: Some(Arc::new(samlgate_provision::InProcess(provision))),
        sso_config: table.clone(),
        sso_writer: table.clone(),
        clients: table.clone(),
        client_writer: table.clone(),
        fetcher: Arc::new(HttpFetcher::new(Destinations::PublicAndLoopback)?),
        urls: urls.clone(),
        local: true,
        aggregate_max_bytes: samlgate_domain::config::DEFAULT_METADATA_AGGREGATE_MAX_BYTES,
        setup: table.clone(),
        operators: None,
        fle_origin_secret: None,
        jwks: table.clone(),
    };
    let acs = samlgate_acs::App {
        config: table.clone(),
        steps: table.clone(),
        logins: table.clone(),
        replay: table.clone(),
        sessions: table.clone(),
        clients: table.clone(),
        codes: table.clone(),
        access: table.clone(),
        backchannel: Arc::new(samlgate_aws::http::HttpBackChannel::new(
            Destinations::PublicAndLoopback,
        )?),
        audit: audit.clone(),
        metrics: Arc::new(samlgate_aws::emf::EmfMetrics),
        kms: kms.clone(),
        keys: Arc::new(KeyCache::default()),
        clock,
        urls: urls.clone(),
    };
    let metadata = samlgate_metadata::App {
        config: table.clone(),
        jwks: table.clone(),
        urls,
    };
    let idp = DemoIdp::load_or_create(&args.state_dir, &base)?;
    let dev = Arc::new(Dev {
        base: base.clone(),
        port: args.port,
        admin,
        acs,
        metadata,
        idp,
        app: DemoApp::default(),
    });
    println!(
        "==> setting up the demo organisation (table {})",
        args.table
    );
    setup(&dev, table.as_ref(), kms.as_ref(), &args.account_id).await?;
    println!("==> samlgate dev is running");
    println!("    demo app:        {base}/   (open it and click \"Sign in\")");
    println!("    SP metadata:     {base}/o/{DEMO_ORG}/idp/{DEMO_IDP}/metadata");
    println!("    OIDC discovery:  {base}/o/{DEMO_ORG}/.well-known/openid-configuration");
    println!("    admin API:       {base}/admin/orgs/{DEMO_ORG}   (local mode: no authorizer)");
    if args.console_dir.join("index.html").is_file() {
        println!("    admin console:   {base}/console/#/o/{DEMO_ORG}");
    } else {
        println!(
            "    admin console:   not built ({} has no index.html): run scripts/setup",
            args.console_dir.display()
        );
    }
    println!("    stop with Ctrl-C");
    let console = axum::Router::new()
        .route(
            "/console",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        .route_service(
            "/console/",
            tower_http::services::ServeFile::new(args.console_dir.join("index.html")),
        )
        // The console's runtime settings, as scripts/deploy-console writes them in AWS.
        .route(
            "/console/config.json",
            axum::routing::get({
                let settings = json!({"issuer_base": base}).to_string();
                move || async move { ([("content-type", "application/json")], settings.clone()) }
            }),
        )
        .nest_service(
            "/console/assets",
            tower_http::services::ServeDir::new(args.console_dir.join("assets")),
        )
        .layer(axum::middleware::map_response(console_headers));
    let app = axum::Router::new()
        .merge(console)
        .fallback(dispatch)
        .with_state(dev)
        .layer(axum::middleware::from_fn(move |request, next| {
            log_requests(audit.clone(), request, next)
        }));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

async fn admin_call(dev: &Dev, method: &str, path: &str, body: Value) -> Result<Value, String> {
    let caller = Caller {
        actor: "samlgate-dev".into(),
        correlation_id: "dev-setup".into(),
    };
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let reply = samlgate_admin::route(&dev.admin, &caller, &Scope::All, method, path, &bytes).await;
    if reply.status >= 300 {
        return Err(format!("{method} {path}: {} {}", reply.status, reply.body));
    }
    Ok(reply.body)
}

/// The console is static: its own scripts and styles only, API calls to this origin only, no
/// framing, no caching of pages that show configuration.
async fn console_headers(mut response: axum::response::Response) -> axum::response::Response {
    const HEADERS: [(&str, &str); 5] = [
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("cross-origin-opener-policy", "same-origin"),
    ];
    for (name, value) in HEADERS {
        response
            .headers_mut()
            .insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

/// The demo organisation (its own KMS key with the real key policy), the demo IdP registered
/// through the admin handler like any IdP, and SSO settings that return to the demo app.
async fn setup(dev: &Dev, table: &Table, kms: &Kms, account: &str) -> Result<(), String> {
    let org = OrgId::parse(DEMO_ORG).map_err(|e| e.to_string())?;
    if table
        .get_org(&org)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        let principals = PolicyInputs::platform_defaults(account, &org);
        let key_arn = kms
            .create_key("samlgate demo organisation", &render(&principals))
            .await
            .map_err(|e| e.to_string())?;
        admin_call(
            dev,
            "POST",
            "/admin/orgs",
            json!({"org": DEMO_ORG, "name": "Demo organisation", "key_arn": key_arn,
                   "provision_role_arn": principals.provision_role_arn,
                   // Not invoked: the dev server runs the provision handler in-process.
                   "provision_function_arn": format!(
                       "arn:aws:lambda:us-east-1:{account}:function:samlgate-provision-{DEMO_ORG}"),
                   // Provisioning from the console may reach targets on this machine only.
                   "egress_allowlist": ["127.0.0.1"]}),
        )
        .await?;
    }
    let idp_path = format!("/admin/orgs/{DEMO_ORG}/idps/{DEMO_IDP}");
    if admin_call(dev, "GET", &idp_path, Value::Null)
        .await
        .is_err()
    {
        admin_call(
            dev,
            "POST",
            &format!("/admin/orgs/{DEMO_ORG}/idps"),
            json!({
                "idp": DEMO_IDP,
                "manual": {
                    "entity_id": dev.idp.entity_id,
                    "sso_url": dev.idp.sso_url,
                    "certificates": [dev.idp.certificate_pem],
                },
                "settings": {"mapping": {"email": "email", "name": "displayName", "groups": "groups"}},
            }),
        )
        .await?;
    }
    admin_call(
        dev,
        "PUT",
        &format!("/admin/orgs/{DEMO_ORG}/sso"),
        // The demo IdP's admins (Alice) may sign in to the console through samlgate.
        json!({"default_idp": DEMO_IDP, "admin_group": "admins"}),
    )
    .await?;
    demo_client(dev).await
}

/// The demo app's OIDC client: registered once, with a fresh secret on every start (the
/// secret is shown only once, and this process keeps it in memory only).
async fn demo_client(dev: &Dev) -> Result<(), String> {
    let clients_path = format!("/admin/orgs/{DEMO_ORG}/clients");
    let existing = admin_call(dev, "GET", &clients_path, Value::Null).await?;
    let redirect = demo_app::redirect_uri(dev);
    let known = existing["clients"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "Demo app" && c["redirect_uris"] == json!([redirect]))
        .and_then(|c| c["client_id"].as_str().map(str::to_owned));
    let answer = match known {
        Some(id) => {
            admin_call(
                dev,
                "POST",
                &format!("{clients_path}/{id}/secret"),
                Value::Null,
            )
            .await?
        }
        None => {
            admin_call(
                dev,
                "POST",
                &clients_path,
                json!({"name": "Demo app", "redirect_uris": [redirect],
                       "post_logout_redirect_uris": [format!("{}/", dev.base)],
                       "backchannel_logout_uri": format!("{}/app/backchannel-logout", dev.base),
                       "token_endpoint_auth_method": "client_secret_basic"}),
            )
            .await?
        }
    };
    let id = answer["client_id"].as_str().ok_or("no client_id")?;
    let secret = answer["client_secret"].as_str().ok_or("no client_secret")?;
    dev.app.set_client(id.to_owned(), secret.to_owned());
    Ok(())
}

fn redirect(location: &str) -> HttpResponse<AxumBody> {
    let mut response = HttpResponse::new(AxumBody::empty());
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = axum::http::HeaderValue::from_str(location) {
        response.headers_mut().insert("location", value);
    }
    response
}

fn html(status: StatusCode, body: String) -> HttpResponse<AxumBody> {
    let mut response = HttpResponse::new(AxumBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn dispatch(
    State(dev): State<Arc<Dev>>,
    request: HttpRequest<AxumBody>,
) -> HttpResponse<AxumBody> {
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, samlgate_acs::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return html(StatusCode::PAYLOAD_TOO_LARGE, "body too large".into()),
    };
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    match (method.as_str(), path.as_str()) {
        ("GET", "/") => return html(StatusCode::OK, home(&dev)),
        // Browsers ask for it on every page; an empty answer keeps their consoles clean.
        ("GET", "/favicon.ico") => {
            let mut out = HttpResponse::new(AxumBody::empty());
            *out.status_mut() = StatusCode::NO_CONTENT;
            return out;
        }
        ("GET", "/app/login") => {
            return match demo_app::login(&dev, &query) {
                Ok(location) => redirect(&location),
                Err(e) => html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("demo app: {}", escape_html(&e)),
                ),
            }
        }
        ("GET", "/app/callback") => {
            let (status, page) = demo_app::callback(&dev, &query).await;
            return html(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                page,
            );
        }
        ("GET", "/demo-idp/sso") => {
            return match dev.idp.picker(&query, &dev.base) {
                Ok(page) => html(StatusCode::OK, page),
                Err(e) => html(
                    StatusCode::BAD_REQUEST,
                    format!("demo IdP: {}", escape_html(&e)),
                ),
            }
        }
        ("POST", "/demo-idp/sso") => return demo_idp_post(&dev, &bytes),
        ("GET", "/demo-idp/" | "/demo-idp") => return html(StatusCode::OK, dev.idp.home()),
        ("POST", "/demo-idp/logout") => {
            let index = url::form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == "index")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(usize::MAX);
            return match dev.idp.logout(index, time::OffsetDateTime::now_utc()) {
                Ok(location) => redirect(&location),
                Err(e) => html(
                    StatusCode::BAD_REQUEST,
                    format!("demo IdP: {}", escape_html(&e)),
                ),
            };
        }
        ("POST", "/app/backchannel-logout") => {
            let (status, text) = demo_app::backchannel_logout(&dev, &bytes).await;
            let mut out = html(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                text,
            );
            out.headers_mut().insert(
                "cache-control",
                axum::http::HeaderValue::from_static("no-store"),
            );
            return out;
        }
        ("GET", "/demo-idp/metadata") => {
            return match dev.idp.metadata() {
                Ok(xml) => {
                    let mut out = HttpResponse::new(AxumBody::from(xml));
                    out.headers_mut().insert(
                        "content-type",
                        axum::http::HeaderValue::from_static("application/samlmetadata+xml"),
                    );
                    out
                }
                Err(e) => html(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("demo IdP: {}", escape_html(&e)),
                ),
            }
        }
        _ => {}
    }
    let Some(function) = resolve(&method, &path) else {
        return html(StatusCode::NOT_FOUND, "no such route".into());
    };
    if function == Function::Admin {
        if let Err(message) = local_admin_guard(&parts.headers, &method, &path, dev.port) {
            let mut out = HttpResponse::new(AxumBody::from(
                json!({"error": "forbidden", "message": message}).to_string(),
            ));
            *out.status_mut() = StatusCode::FORBIDDEN;
            out.extensions_mut().insert(RequestNote {
                correlation_id: "-".into(),
                error: Some("forbidden".into()),
            });
            out.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("application/json"),
            );
            return out;
        }
    }
    let correlation_id = match samlgate_domain::ids::random_hex(8) {
        Ok(id) => format!("dev-{id}"),
        Err(_) => return html(StatusCode::INTERNAL_SERVER_ERROR, "no randomness".into()),
    };
    let mut lambda_request = lambda_http::http::Request::builder()
        .method(parts.method.as_str())
        .uri(parts.uri.to_string());
    for (name, value) in &parts.headers {
        lambda_request = lambda_request.header(name.as_str(), value.as_bytes());
    }
    let lambda_body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        }
    };
    let Ok(lambda_request) = lambda_request.body(lambda_body) else {
        return html(StatusCode::BAD_REQUEST, "unreadable request".into());
    };
    let lambda_request = with_request_id(lambda_request, &correlation_id);
    let response = match function {
        Function::Acs => samlgate_acs::handle(&dev.acs, lambda_request).await,
        Function::Metadata => samlgate_metadata::handle(&dev.metadata, lambda_request).await,
        Function::Admin => samlgate_admin::handle(&dev.admin, lambda_request).await,
    };
    let (parts, body) = response.into_parts();
    let body = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    let json = parts
        .headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let error = (json && parts.status.as_u16() >= 400)
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten()
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    let mut out = HttpResponse::new(AxumBody::from(body));
    out.extensions_mut().insert(RequestNote {
        correlation_id,
        error,
    });
    *out.status_mut() =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &parts.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_str().as_bytes()),
            axum::http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().insert(n, v);
        }
    }
    out
}

/// API Gateway gives every request an ID, which the functions use as the correlation ID of
/// their audit items and error pages; the dev server does the same (without an authorizer
/// identity: local mode).
fn with_request_id(request: lambda_http::Request, id: &str) -> lambda_http::Request {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt as _;
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(id.to_owned());
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

fn home(dev: &Dev) -> String {
    let logouts = dev.app.logouts_html();
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>samlgate demo app</title></head><body>
<h1>samlgate demo app</h1>
<p>This page stands for your application, an OIDC client of the organisation <code>{DEMO_ORG}</code>. "Sign in" sends you to samlgate's authorize endpoint (code flow with PKCE), which sends a signed AuthnRequest to the demo IdP; the IdP posts a signed Response to samlgate's ACS, and samlgate redirects back here with a one-time code, which the app redeems for an ID token.</p>
<p><a href="/app/login"><button>Sign in</button></a></p>
<ul><li><a href="/console/#/o/{DEMO_ORG}">Admin console</a></li><li><a href="/o/{DEMO_ORG}/idp/{DEMO_IDP}/metadata">SP metadata</a></li><li><a href="/demo-idp/metadata">Demo IdP metadata</a></li><li><a href="/o/{DEMO_ORG}/.well-known/openid-configuration">OIDC discovery</a></li><li><a href="/o/{DEMO_ORG}/.well-known/jwks.json">JWKS</a></li><li><a href="/admin/orgs/{DEMO_ORG}/idps/{DEMO_IDP}">IdP configuration (admin API)</a></li><li><a href="/admin/orgs/{DEMO_ORG}/clients">OIDC clients (admin API)</a></li><li><a href="/demo-idp/">Demo IdP (sign out everywhere)</a></li></ul>
{logouts}</body></html>"#
    )
}

fn demo_idp_post(dev: &Dev, body: &[u8]) -> HttpResponse<AxumBody> {
    let field = |name: &str| {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let acs_url = field("acs_url");
    if !acs_url.starts_with(&format!("{}/", dev.base)) {
        return html(StatusCode::BAD_REQUEST, "demo IdP: foreign ACS URL".into());
    }
    let Some(user) = USERS.iter().find(|u| u.id == field("user")) else {
        return html(StatusCode::BAD_REQUEST, "demo IdP: unknown user".into());
    };
    let response = dev.idp.response(
        user,
        &field("request_id"),
        &field("sp_entity_id"),
        &acs_url,
        time::OffsetDateTime::now_utc(),
    );
    match response {
        Ok(saml_response) => {
            let relay_state = field("relay_state");
            let page = samlgate_acs::Page::auto_post(
                &acs_url,
                &[
                    ("SAMLResponse", &saml_response),
                    ("RelayState", &relay_state),
                ],
            );
            let mut out = html(StatusCode::OK, page.body);
            // The form posts to samlgate on this same origin; keep the page's own CSP.
            for (name, value) in page.headers {
                if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
                    out.headers_mut().insert(name, v);
                }
            }
            out
        }
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("demo IdP: {}", escape_html(&e)),
        ),
    }
}
