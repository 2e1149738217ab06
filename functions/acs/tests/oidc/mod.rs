//! The OIDC provider through the acs handler over the in-memory ports: authorize's refusals
//! (a page where the redirect URI is not proven, a redirect with `state` where it is), the
//! browser binding that stops login CSRF, the code's one redemption bound to its client,
//! redirect URI and PKCE verifier, and userinfo. The relying-party libraries (openid-client,
//! Authlib) drive the same endpoints in the e2e suite.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_acs::{HttpRequest, Page};
use samlgate_domain::client::TokenAuthMethod;
use samlgate_domain::ids::sha256_hex;
use samlgate_domain::session::AuthorizeRequest;
use samlgate_sso::grant::pkce_pair;
use serde_json::Value;

use crate::support::*;

fn query_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn json(page: &Page) -> Value {
    serde_json::from_str(&page.body).unwrap_or_else(|_| panic!("not JSON: {}", page.body))
}

async fn authorize(acs: &Acs, query: &str, cookie: Option<&str>) -> Page {
    acs.request(HttpRequest {
        method: "GET",
        path: "/o/acme/authorize",
        query,
        cookie,
        ..HttpRequest::default()
    })
    .await
}

fn authorize_query(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", CLIENT_REDIRECT)
        .append_pair("scope", "openid email profile groups")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1");
    for (n, v) in extra {
        q.append_pair(n, v);
    }
    q.finish()
}

fn request_for(client_id: &str, challenge: Option<&str>, scope: &[&str]) -> AuthorizeRequest {
    AuthorizeRequest {
        client_id: client_id.into(),
        redirect_uri: CLIENT_REDIRECT.into(),
        state: Some("st-1".into()),
        nonce: Some("n-1".into()),
        code_challenge: challenge.map(str::to_owned),
        scope: scope.iter().map(|s| (*s).to_owned()).collect(),
        max_age: None,
    }
}

async fn token(acs: &Acs, form: &[(&str, &str)], authorization: Option<&str>) -> Page {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (n, v) in form {
        body.append_pair(n, v);
    }
    let body = body.finish();
    acs.request(HttpRequest {
        method: "POST",
        path: "/o/acme/token",
        body: body.as_bytes(),
        authorization,
        ..HttpRequest::default()
    })
    .await
}

async fn userinfo(acs: &Acs, access_token: &str) -> Page {
    let header = format!("Bearer {access_token}");
    acs.request(HttpRequest {
        method: "GET",
        path: "/o/acme/userinfo",
        authorization: Some(&header),
        ..HttpRequest::default()
    })
    .await
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", B64.encode(format!("{id}:{secret}")))
}

/// A confidential client's login through the ACS: the code in the redirect.
async fn code_for(acs: &Acs, client_id: &str, challenge: Option<&str>, scope: &[&str]) -> String {
    // The one fixture Response serves every login of a test: forget its last use.
    acs.store.replay.lock().unwrap().clear();
    acs.expect_oidc_login(
        &state('c'),
        BINDING,
        request_for(client_id, challenge, scope),
    );
    let cookie = format!("other=1; __Host-samlgate-login={BINDING}");
    let page = acs
        .post_with_cookie(
            &response("samlgate_sp_entity_id"),
            &state('c'),
            Some(&cookie),
        )
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert!(
        location.starts_with(&format!("{CLIENT_REDIRECT}&")),
        "{location}"
    );
    assert_eq!(param(location, "state").as_deref(), Some("st-1"));
    param(location, "code").expect("a code")
}

fn id_token_claims(tokens: &Value) -> Value {
    claims(tokens["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn authorize_answers_an_unknown_client_or_unregistered_redirect_with_a_page_never_a_redirect()
{
    let acs = Acs::new(Default::default()).await;
    let (client_id, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;

    let page = authorize(&acs, &authorize_query("nobody", &[]), None).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.header("location").is_none());
    assert!(page.body.contains("unknown client"));
    assert_eq!(acs.last_reason().as_deref(), Some("client_unknown"));

    let query = authorize_query(&client_id, &[]).replace(
        &url::form_urlencoded::byte_serialize(CLIENT_REDIRECT.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2Fcb",
    );
    let page = authorize(&acs, &query, None).await;
    assert_eq!(page.status, 400);
    assert!(page.header("location").is_none());
    assert_eq!(
        acs.last_reason().as_deref(),
        Some("redirect_uri_not_registered")
    );
    assert!(
        acs.store.logins.lock().unwrap().is_empty(),
        "no login started"
    );
}

#[tokio::test]
async fn authorize_refusals_with_a_proven_redirect_uri_redirect_with_the_rfc_error_and_state() {
    let acs = Acs::new(Default::default()).await;
    let (confidential, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let (public, _) = acs.client(TokenAuthMethod::None).await;
    let (_, challenge) = pkce_pair().unwrap();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            authorize_query(&confidential, &[]).replace("scope=openid+", "scope="),
            "invalid_scope",
            "scope_without_openid",
        ),
        (
            authorize_query(&confidential, &[])
                .replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
            "response_type_unsupported",
        ),
        (
            authorize_query(&public, &[]),
            "invalid_request",
            "pkce_required",
        ),
        (
            authorize_query(
                &public,
                &[
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
            "pkce_method_unsupported",
        ),
        (
            authorize_query(&public, &[("code_challenge", &challenge)]),
            "invalid_request",
            "pkce_method_unsupported",
        ),
        (
            authorize_query(&confidential, &[("prompt", "none")]),
            "login_required",
            "login_required",
        ),
        (
            format!("{}&state=again", authorize_query(&confidential, &[])),
            "invalid_request",
            "oidc_parameter_invalid",
        ),
    ];
    for (query, error, code) in cases {
        let page = authorize(&acs, &query, None).await;
        assert_eq!(page.status, 302, "{query}: {}", page.body);
        let location = page.header("location").unwrap();
        assert!(location.starts_with(CLIENT_REDIRECT), "{location}");
        assert_eq!(param(location, "error").as_deref(), Some(error), "{query}");
        assert!(param(location, "error_description").is_some());
        if code != "oidc_parameter_invalid" {
            assert_eq!(param(location, "state").as_deref(), Some("st-1"), "{query}");
        }
        assert!(param(location, "code").is_none());
        assert_eq!(acs.last_reason().as_deref(), Some(code), "{query}");
    }
    assert!(
        acs.store.logins.lock().unwrap().is_empty(),
        "no login started"
    );
}

#[tokio::test]
async fn authorize_binds_the_login_to_the_browser_with_a_host_cookie() {
    let acs = Acs::new(Default::default()).await;
    let (client_id, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let page = authorize(
        &acs,
        &authorize_query(&client_id, &[("prompt", "login")]),
        None,
    )
    .await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(page
        .header("location")
        .unwrap()
        .starts_with("https://idp.example.com/"));
    let cookie = page.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-samlgate-login="), "{cookie}");
    for attribute in ["; Path=/", "; Secure", "; HttpOnly", "; SameSite=None"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Domain="));
    let value = cookie
        .trim_start_matches("__Host-samlgate-login=")
        .split(';')
        .next()
        .unwrap();
    let logins = acs.store.logins.lock().unwrap().clone();
    let login = logins.values().next().unwrap();
    assert_eq!(
        login.browser.as_deref(),
        Some(sha256_hex(value.as_bytes()).as_str())
    );
    let request = login.authorize.as_ref().unwrap();
    assert_eq!(request.client_id, client_id);
    assert_eq!(request.state.as_deref(), Some("st-1"));
    assert_eq!(request.scope, ["openid", "email", "profile", "groups"]);
    let audit = acs.audit();
    let item = audit.last().unwrap();
    assert_eq!(item.action, "oidc.authorize");
    assert_eq!(item.reason, None);
    assert_eq!(item.facts["force_authn"], "true");

    // The same browser keeps its binding for its next login.
    let again = authorize(
        &acs,
        &authorize_query(&client_id, &[]),
        Some(&format!("__Host-samlgate-login={value}")),
    )
    .await;
    assert!(again
        .header("set-cookie")
        .unwrap()
        .starts_with(&format!("__Host-samlgate-login={value};")));
}

#[tokio::test]
async fn a_response_posted_from_a_browser_without_the_logins_cookie_is_refused() {
    // Login CSRF: the attacker's own Response and RelayState, auto-posted from another site.
    let acs = Acs::new(Default::default()).await;
    let (client_id, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    for cookie in [
        None,
        Some("__Host-samlgate-login=ffffffffffffffffffffffffffffffff"),
    ] {
        acs.expect_oidc_login(
            &state('d'),
            BINDING,
            request_for(&client_id, None, &["openid"]),
        );
        let page = acs
            .post_with_cookie(&response("samlgate_sp_entity_id"), &state('d'), cookie)
            .await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(
            page.header("location").is_none(),
            "no redirect to the client"
        );
        assert!(!page.body.contains("browser_mismatch"));
        assert_eq!(acs.last_reason().as_deref(), Some("browser_mismatch"));
        assert!(acs.store.sessions.lock().unwrap().is_empty());
        assert!(acs.store.codes.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_confidential_clients_code_is_redeemed_once_for_an_id_token_bound_to_it() {
    let acs = Acs::new(settings_with_mapping()).await;
    let (client_id, secret) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let secret = secret.unwrap();
    let code = code_for(&acs, &client_id, None, &["openid", "email", "profile"]).await;
    let sessions = acs.store.sessions.lock().unwrap().clone();
    let session = sessions.values().next().unwrap();
    assert_eq!(session.client_id.as_deref(), Some(client_id.as_str()));
    assert!(
        !acs.store.codes.lock().unwrap().contains_key(&code),
        "stored only under its hash"
    );

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CLIENT_REDIRECT),
    ];
    let page = token(&acs, &form, Some(&basic(&client_id, &secret))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let tokens = json(&page);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    let claims = id_token_claims(&tokens);
    assert_eq!(claims["iss"], "https://sp.example.com/o/acme");
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["sub"], "okta:alice@example.com");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["sid"], session.id.as_str());
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(
        claims["email_verified"], false,
        "example.com is no IdP's domain"
    );
    assert_eq!(claims["name"], "Alice Example");
    assert!(claims.get("groups").is_none(), "no groups scope, no groups");
    assert_eq!(claims["org"], "acme");
    assert_eq!(claims["idp"], "okta");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");

    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let info = userinfo(&acs, &access_token).await;
    assert_eq!(info.status, 200, "{}", info.body);
    let info = json(&info);
    assert_eq!(info["sub"], "okta:alice@example.com");
    assert_eq!(info["email"], "alice@example.com");

    // The second redemption is refused, and revokes what the first one issued.
    let again = token(&acs, &form, Some(&basic(&client_id, &secret))).await;
    assert_eq!(again.status, 400);
    assert_eq!(json(&again)["error"], "invalid_grant");
    assert_eq!(acs.last_reason().as_deref(), Some("code_reused"));
    let refused = userinfo(&acs, &access_token).await;
    assert_eq!(refused.status, 401);
    assert_eq!(json(&refused)["error"], "invalid_token");
    assert!(refused
        .header("www-authenticate")
        .unwrap()
        .starts_with("Bearer"));
}

fn settings_with_mapping() -> samlgate_domain::idp::IdpSettings {
    samlgate_domain::idp::IdpSettings {
        mapping: samlgate_domain::idp::Mapping {
            subject: None,
            email: Some("email".into()),
            name: Some("displayName".into()),
            groups: Some("groups".into()),
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn openid_alone_releases_no_email_profile_or_groups() {
    let acs = Acs::new(settings_with_mapping()).await;
    let (client_id, secret) = acs.client(TokenAuthMethod::ClientSecretPost).await;
    let secret = secret.unwrap();
    let code = code_for(&acs, &client_id, None, &["openid"]).await;
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let tokens = json(&page);
    let claims = id_token_claims(&tokens);
    for claim in ["email", "email_verified", "name", "groups"] {
        assert!(claims.get(claim).is_none(), "{claim} without its scope");
    }
    let info = json(&userinfo(&acs, tokens["access_token"].as_str().unwrap()).await);
    assert_eq!(info, serde_json::json!({"sub": "okta:alice@example.com"}));
}

#[tokio::test]
async fn the_token_endpoint_refuses_with_the_rfc_errors() {
    let acs = Acs::new(Default::default()).await;
    let (client_id, secret) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let secret = secret.unwrap();
    let (public, _) = acs.client(TokenAuthMethod::None).await;
    let (verifier, challenge) = pkce_pair().unwrap();
    let good = basic(&client_id, &secret);

    // Wrong secret: 401 invalid_client with WWW-Authenticate.
    let code = code_for(&acs, &client_id, None, &["openid"]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CLIENT_REDIRECT),
    ];
    let page = token(&acs, &form, Some(&basic(&client_id, "wrong"))).await;
    assert_eq!(page.status, 401);
    assert_eq!(json(&page)["error"], "invalid_client");
    assert!(page
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    // The right secret by the wrong method.
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await;
    assert_eq!(page.status, 401);
    // Another redirect URI than the request's.
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example.com/oidc/cb"),
        ],
        Some(&good),
    )
    .await;
    assert_eq!(json(&page)["error"], "invalid_grant");
    assert_eq!(acs.last_reason().as_deref(), Some("redirect_uri_mismatch"));
    // A verifier for a code issued without a challenge (RFC 9700).
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(&good),
    )
    .await;
    assert_eq!(json(&page)["error"], "invalid_grant");
    assert_eq!(
        acs.last_reason().as_deref(),
        Some("code_verifier_unexpected")
    );
    // The code belongs to another client.
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
            ("client_id", &public),
        ],
        None,
    )
    .await;
    assert_eq!(json(&page)["error"], "invalid_grant");
    assert_eq!(acs.last_reason().as_deref(), Some("code_client_mismatch"));
    // Unknown grant type and unknown code.
    let page = token(
        &acs,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
        Some(&good),
    )
    .await;
    assert_eq!(json(&page)["error"], "unsupported_grant_type");
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", CLIENT_REDIRECT),
        ],
        Some(&good),
    )
    .await;
    assert_eq!(json(&page)["error"], "invalid_grant");
    assert_eq!(acs.last_reason().as_deref(), Some("code_unknown"));

    // A public client: PKCE wrong, missing, then right.
    let code = code_for(&acs, &public, Some(&challenge), &["openid"]).await;
    let with = |v: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", CLIENT_REDIRECT.to_owned()),
            ("client_id", public.clone()),
        ];
        if let Some(v) = v {
            form.push(("code_verifier", v.to_owned()));
        }
        form
    };
    for (verifier, reason) in [
        (Some("a".repeat(43)), "pkce_mismatch"),
        (None, "code_verifier_missing"),
    ] {
        let form = with(verifier.as_deref());
        let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let page = token(&acs, &form, None).await;
        assert_eq!(json(&page)["error"], "invalid_grant");
        assert_eq!(acs.last_reason().as_deref(), Some(reason));
    }
    let form = with(Some(&verifier));
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let page = token(&acs, &form, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(id_token_claims(&json(&page))["aud"], public.as_str());
}

#[tokio::test]
async fn a_login_refused_after_the_request_is_known_redirects_access_denied_with_state() {
    let acs = Acs::new(samlgate_domain::idp::IdpSettings {
        rules: samlgate_domain::idp::MatchRules {
            required_group: Some("nobody-is-in-this".into()),
            ..Default::default()
        },
        ..settings_with_mapping()
    })
    .await;
    let (client_id, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    acs.expect_oidc_login(
        &state('e'),
        BINDING,
        request_for(&client_id, None, &["openid"]),
    );
    let cookie = format!("__Host-samlgate-login={BINDING}");
    let page = acs
        .post_with_cookie(
            &response("samlgate_sp_entity_id"),
            &state('e'),
            Some(&cookie),
        )
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "state").as_deref(), Some("st-1"));
    assert!(param(location, "code").is_none());
    assert_eq!(acs.last_reason().as_deref(), Some("group_required"));
    assert!(acs.store.codes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn userinfo_without_a_token_is_401_bearer_and_answers_post_too() {
    let acs = Acs::new(Default::default()).await;
    for method in ["GET", "POST"] {
        let page = acs
            .request(HttpRequest {
                method,
                path: "/o/acme/userinfo",
                ..HttpRequest::default()
            })
            .await;
        assert_eq!(page.status, 401, "{method}");
        assert!(page
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer"));
    }
}

/// A browser-based (public) client calls token and userinfo from its own origin: both answer
/// any origin without credentials, expose the challenge, and answer the preflight; the
/// front-channel pages (authorize, the ACS, logout) do not.
#[tokio::test]
async fn token_and_userinfo_are_readable_by_scripts_of_any_origin_without_credentials() {
    let acs = Acs::new(Default::default()).await;
    for path in ["/o/acme/token", "/o/acme/userinfo"] {
        let preflight = acs
            .request(HttpRequest {
                method: "OPTIONS",
                path,
                ..HttpRequest::default()
            })
            .await;
        assert_eq!(preflight.status, 204, "{path}");
        assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
        assert!(preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("Authorization"));
        assert!(preflight
            .header("access-control-allow-credentials")
            .is_none());
    }
    let token = acs
        .request(HttpRequest {
            method: "POST",
            path: "/o/acme/token",
            body: b"grant_type=authorization_code&code=x",
            ..HttpRequest::default()
        })
        .await;
    let userinfo = acs
        .request(HttpRequest {
            method: "GET",
            path: "/o/acme/userinfo",
            ..HttpRequest::default()
        })
        .await;
    for page in [&token, &userinfo] {
        assert_eq!(page.status, 401, "{}", page.body);
        assert_eq!(page.header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            page.header("access-control-expose-headers"),
            Some("WWW-Authenticate")
        );
    }
    let authorize = authorize(&acs, "client_id=nobody", None).await;
    assert!(authorize.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn sub_carries_the_idps_namespace_and_email_is_verified_only_for_its_own_domains() {
    // Cross-IdP impersonation: a second IdP asserting the same NameID gets another `sub`
    // (its own namespace), and its emails are unverified unless the domain is its own.
    let acs = Acs::new(samlgate_domain::idp::IdpSettings {
        subject_namespace: Some("corp".into()),
        ..settings_with_mapping()
    })
    .await;
    acs.store
        .sso
        .lock()
        .unwrap()
        .get_mut(&org())
        .unwrap()
        .domain_hints
        .insert("example.com".into(), okta());
    let (client_id, secret) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let code = code_for(&acs, &client_id, None, &["openid", "email"]).await;
    let page = token(
        &acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
        ],
        Some(&basic(&client_id, &secret.unwrap())),
    )
    .await;
    let claims = id_token_claims(&json(&page));
    assert_eq!(claims["sub"], "corp:alice@example.com");
    assert_eq!(claims["email_verified"], true);
}

/// A signed-in confidential client: its ID, secret and the ID token of one login.
async fn signed_in(acs: &Acs) -> (String, String, String) {
    let (client_id, secret) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let secret = secret.unwrap();
    let code = code_for(acs, &client_id, None, &["openid"]).await;
    let page = token(
        acs,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CLIENT_REDIRECT),
        ],
        Some(&basic(&client_id, &secret)),
    )
    .await;
    let id_token = json(&page)["id_token"].as_str().unwrap().to_owned();
    (client_id, secret, id_token)
}

async fn logout(acs: &Acs, query: &str) -> Page {
    acs.request(HttpRequest {
        method: "GET",
        path: "/o/acme/logout",
        query,
        ..HttpRequest::default()
    })
    .await
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_then_logs_out_at_the_idp_and_returns_with_state() {
    let acs = Acs::new(Default::default()).await;
    let (_, _, id_token) = signed_in(&acs).await;
    assert_eq!(acs.store.sessions.lock().unwrap().len(), 1);
    let post_logout = "https://app.example.com/bye";
    acs.store
        .clients
        .lock()
        .unwrap()
        .values_mut()
        .for_each(|c| c.post_logout_redirect_uris = vec![post_logout.into()]);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", post_logout)
        .append_pair("state", "bye-1")
        .finish();
    let page = logout(&acs, &query).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(page
        .header("location")
        .unwrap()
        .starts_with("https://idp.example.com/slo?SAMLRequest="));
    assert!(
        acs.store.sessions.lock().unwrap().is_empty(),
        "session ended"
    );
    let logins = acs.store.logins.lock().unwrap().clone();
    let logout_state = logins.values().next().unwrap().clone();
    assert_eq!(
        logout_state.purpose,
        samlgate_domain::session::StatePurpose::Logout
    );
    assert_eq!(
        logout_state.return_to,
        "https://app.example.com/bye?state=bye-1"
    );
    let audit = acs.audit();
    let item = audit
        .iter()
        .rev()
        .find(|i| i.action == "oidc.logout")
        .unwrap();
    assert_eq!(item.reason, None);

    // The same hint again: the session is over, so straight back to the client.
    let page = logout(&acs, &query).await;
    assert_eq!(page.status, 302);
    assert_eq!(
        page.header("location"),
        Some("https://app.example.com/bye?state=bye-1")
    );

    // A logout state cannot be spent on a login.
    let page = acs
        .post(
            &response("samlgate_sp_entity_id"),
            Some(&logout_state.relay_state),
        )
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(acs.last_reason().as_deref(), Some("request_state_mismatch"));
}

#[tokio::test]
async fn rp_initiated_logout_refuses_unregistered_redirects_and_forged_hints_with_a_page() {
    let acs = Acs::new(Default::default()).await;
    let (_, _, id_token) = signed_in(&acs).await;
    let unregistered = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://evil.example/")
        .finish();
    let page = logout(&acs, &unregistered).await;
    assert_eq!(page.status, 400);
    assert!(page.header("location").is_none());
    assert_eq!(
        acs.last_reason().as_deref(),
        Some("post_logout_redirect_uri_not_registered")
    );
    assert_eq!(acs.store.sessions.lock().unwrap().len(), 1, "nothing ended");

    let (head, rest) = id_token.split_once('.').unwrap();
    let (_, signature) = rest.rsplit_once('.').unwrap();
    let forged_claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"iss":"https://sp.example.com/o/acme","aud":"x","sid":"s-1"}"#);
    for hint in [
        format!("{head}.{forged_claims}.{signature}"),
        "not-a-jwt".to_owned(),
        String::new(),
    ] {
        let query = format!("id_token_hint={hint}");
        let page = logout(&acs, &query).await;
        assert_eq!(page.status, 400, "{hint}");
        assert!(page.header("location").is_none());
        assert_eq!(acs.last_reason().as_deref(), Some("id_token_hint_invalid"));
    }
    assert_eq!(acs.store.sessions.lock().unwrap().len(), 1, "nothing ended");
}

/// Each leg of a login ends in one write, its audit item included (issue 16: ≤ 4 writes per
/// login): the ACS's takes the login, records the assertion and stores the session and the
/// code together, or writes none of them. When it fails, the client hears
/// `temporarily_unavailable`, the login and the assertion are used up all the same, and
/// nothing was issued.
#[tokio::test]
async fn the_acs_writes_its_login_in_one_step_or_issues_nothing() {
    use samlgate_domain::PortErrorKind;
    let acs = Acs::new(settings_with_mapping()).await;
    let (client_id, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    acs.expect_oidc_login(
        &state('f'),
        BINDING,
        request_for(&client_id, None, &["openid"]),
    );
    acs.store
        .faults
        .fail("finish_login", PortErrorKind::Timeout);
    let cookie = format!("__Host-samlgate-login={BINDING}");
    let (posted, relay) = (response("samlgate_sp_entity_id"), state('f'));
    let post = || acs.post_with_cookie(&posted, &relay, Some(&cookie));
    let page = post().await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert_eq!(
        param(location, "error").as_deref(),
        Some("temporarily_unavailable"),
        "{location}"
    );
    assert!(param(location, "code").is_none());
    assert_eq!(
        acs.last_reason().as_deref(),
        Some("replay_cache_unavailable")
    );
    assert!(acs.store.sessions.lock().unwrap().is_empty());
    assert!(acs.store.codes.lock().unwrap().is_empty());
    assert!(
        acs.store.logins.lock().unwrap().is_empty(),
        "the login is used up"
    );
    assert_eq!(
        acs.store.replay.lock().unwrap().len(),
        1,
        "so is the assertion"
    );

    // The store answers again: the same post finds no login in flight, and gets the page.
    acs.store.faults.heal("finish_login");
    let again = post().await;
    assert_eq!(again.status, 400);
    assert!(again.header("location").is_none());
    assert_eq!(acs.last_reason().as_deref(), Some("request_state_unknown"));
    assert!(acs.store.sessions.lock().unwrap().is_empty());
}

/// The token endpoint's one write redeems the code with the access token and the audit item,
/// or nothing: a redemption whose write failed leaves the code unused and no token behind.
#[tokio::test]
async fn a_redemption_whose_write_fails_leaves_the_code_unused_and_no_token() {
    use samlgate_domain::PortErrorKind;
    let acs = Acs::new(settings_with_mapping()).await;
    let (client_id, secret) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let secret = secret.unwrap();
    let code = code_for(&acs, &client_id, None, &["openid"]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CLIENT_REDIRECT),
    ];
    acs.store.faults.fail("redeem_code", PortErrorKind::Timeout);
    let page = token(&acs, &form, Some(&basic(&client_id, &secret))).await;
    assert!(page.status >= 500, "{} {}", page.status, page.body);
    let stored = acs.store.codes.lock().unwrap()[&sha256_hex(code.as_bytes())].clone();
    assert!(!stored.redeemed && stored.access_token.is_none());
    assert!(acs.store.access_tokens.lock().unwrap().is_empty());
    assert_eq!(acs.last_reason().as_deref(), Some("aws_timeout"));

    acs.store.faults.heal("redeem_code");
    let page = token(&acs, &form, Some(&basic(&client_id, &secret))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(acs.store.access_tokens.lock().unwrap().len(), 1);
    let issued = acs.audit();
    let last = issued.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.reason.as_deref()),
        ("oidc.token", None)
    );
    assert!(last.facts.contains_key("sid"));
}
