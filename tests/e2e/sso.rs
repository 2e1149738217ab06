//! SSO end to end with pysaml2 as the IdP: every login is an OIDC client's (authorize, the
//! browser's binding cookie, the ACS, the code, the token endpoint), and PyJWT verifies the
//! ID token against the organisation's JWKS.

use serde_json::{json, Value};

use crate::sso_support::*;
use crate::support::Harness;

/// A registered client's login at `idp`: the IdP's answer and the browser's binding cookie.
async fn signed_answer(
    sso: &Sso,
    py: &mut PyIdp,
    (idp, client_id): (&str, &str),
    extra: Value,
) -> (Value, String) {
    let (page, cookie) = sso
        .authorize("acme", client_id, &format!("&idp={idp}"))
        .await;
    (idp_answer(py, &page, extra), cookie)
}

/// Posts what the IdP answered to our ACS, as its auto-post page would, from the browser.
async fn post_answer(
    sso: &Sso,
    idp: &str,
    (answer, cookie): &(Value, String),
) -> samlgate_acs::Page {
    sso.post(
        ("acme", idp),
        answer["saml_response"].as_str().expect("saml_response"),
        answer["relay_state"].as_str(),
        Some(cookie),
    )
    .await
}

/// The client's end of the login: the code redeemed, the ID token verified by PyJWT against
/// the organisation's JWKS for this client. The claims and the ID token.
async fn verified_claims(
    sso: &Sso,
    py: &mut PyIdp,
    page: &samlgate_acs::Page,
    (client_id, secret): (&str, &str),
) -> (Value, String) {
    let code = code_of(page);
    let tokens = sso.redeem("acme", client_id, secret, &code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let tokens: Value = serde_json::from_str(&tokens.body).expect("JSON");
    let id_token = tokens["id_token"].as_str().expect("id_token").to_owned();
    let jwks = sso.jwks("acme").await;
    let answer = verify(py, &id_token, &jwks, client_id, "acme");
    assert_eq!(answer["ok"], true, "{answer}");
    (answer["claims"].clone(), id_token)
}

#[tokio::test]
async fn pysaml2_signs_in_after_verifying_our_redirect_request() {
    let h = Harness::new("sso-redirect").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("redirect");
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    let client = client_with(&h, "acme", json!({})).await;
    let answer = signed_answer(&sso, &mut py, ("pysaml2", &client.0), json!({})).await;
    let page = post_answer(&sso, "pysaml2", &answer).await;
    let (claims, _) = verified_claims(&sso, &mut py, &page, (&client.0, &client.1)).await;
    assert_eq!(claims["sub"], "pysaml2:alice@example.com");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["name"], "Alice");
    assert_eq!(claims["groups"], json!(["staff", "admins"]));
    assert_eq!(
        (claims["org"].as_str(), claims["idp"].as_str()),
        (Some("acme"), Some("pysaml2"))
    );
    let sessions = sessions(&h).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], claims["sid"]);
    assert_eq!(sessions[0]["session_index"], answer.0["session_index"]);
    let events = audit(&h, "acme", "sso.login").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["outcome"], "ok");
}

#[tokio::test]
async fn pysaml2_verifies_our_post_binding_request() {
    let h = Harness::new("sso-post").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("post");
    let mut settings = mapping();
    settings["request_binding"] = json!("post");
    register(&h, &sso, &mut py, "acme", "pysaml2", settings).await;
    let client = client_with(&h, "acme", json!({})).await;
    let answer = signed_answer(&sso, &mut py, ("pysaml2", &client.0), json!({})).await;
    let page = post_answer(&sso, "pysaml2", &answer).await;
    verified_claims(&sso, &mut py, &page, (&client.0, &client.1)).await;
}

#[tokio::test]
async fn encrypted_assertions_from_pysaml2_are_accepted_and_required_where_configured() {
    let h = Harness::new("sso-enc").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("enc");
    let mut settings = mapping();
    settings["require_encrypted_assertions"] = json!(true);
    register(&h, &sso, &mut py, "acme", "pysaml2", settings).await;
    let client = client_with(&h, "acme", json!({})).await;
    let answer = signed_answer(
        &sso,
        &mut py,
        ("pysaml2", &client.0),
        json!({"encrypt": true}),
    )
    .await;
    let xml = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            answer.0["saml_response"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(xml.contains("EncryptedAssertion") && !xml.contains("alice@example.com"));
    let page = post_answer(&sso, "pysaml2", &answer).await;
    let (claims, _) = verified_claims(&sso, &mut py, &page, (&client.0, &client.1)).await;
    assert_eq!(claims["sub"], "pysaml2:alice@example.com");
    // The same IdP sending a plaintext assertion is refused: the client hears access_denied.
    let answer = signed_answer(&sso, &mut py, ("pysaml2", &client.0), json!({})).await;
    let page = post_answer(&sso, "pysaml2", &answer).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert_eq!(param(location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(location, "state").as_deref(), Some("s-1"));
    assert_eq!(
        last_reason(&h, "acme").await.as_deref(),
        Some("encryption_required")
    );
}

#[tokio::test]
async fn a_replayed_response_and_a_tampered_relay_state_are_rejected() {
    let h = Harness::new("sso-replay").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("replay");
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    let (client_id, _) = client_with(&h, "acme", json!({})).await;
    let (answer, cookie) = signed_answer(&sso, &mut py, ("pysaml2", &client_id), json!({})).await;
    let response = answer["saml_response"].as_str().unwrap();
    let relay = answer["relay_state"].as_str().unwrap();
    let post = |relay: String| {
        let (sso, response, cookie) = (&sso, response.to_owned(), cookie.clone());
        async move {
            sso.post(("acme", "pysaml2"), &response, Some(&relay), Some(&cookie))
                .await
        }
    };

    // A RelayState changed on the way to the IdP breaks our query signature: pysaml2 refuses.
    let (page, _) = sso.authorize("acme", &client_id, "").await;
    let location = page.header("location").unwrap();
    let (head, tail) = location.split_once("RelayState=").unwrap();
    // Change the first character to a different one (never to itself: that was a 1-in-16 flake).
    let first = if tail.starts_with('0') { '1' } else { '0' };
    let tampered = format!("{head}RelayState={first}{}", &tail[1..]);
    let refused = py.call(
        json!({"op": "authn", "binding": "redirect", "url": tampered, "user": alice(),
                                 "encrypt": false, "sign_response": true, "sign_assertion": true}),
    );
    assert_eq!(refused["ok"], false, "{refused}");

    // A RelayState changed on the way back to us names no login in flight.
    let other = format!(
        "{}{}",
        if relay.starts_with('0') { '1' } else { '0' },
        &relay[1..]
    );
    let page = post(other).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Sign-in failed") && !page.body.contains("request_state"));
    assert_eq!(
        last_reason(&h, "acme").await.as_deref(),
        Some("request_state_unknown")
    );

    // The genuine post works once; the same SAMLResponse again does not.
    assert_eq!(post(relay.to_owned()).await.status, 302);
    let page = post(relay.to_owned()).await;
    assert_eq!(page.status, 400);
    assert_eq!(
        last_reason(&h, "acme").await.as_deref(),
        Some("request_state_unknown")
    );
    assert_eq!(sessions(&h).await.len(), 1);
}

#[tokio::test]
async fn unsolicited_responses_are_rejected_unless_the_idp_allows_them() {
    let h = Harness::new("sso-unsolicited").await;
    let sso = Sso::new(&h);
    let mut strict = PyIdp::start("strict");
    let mut open = PyIdp::start("open");
    register(&h, &sso, &mut strict, "acme", "strict", mapping()).await;
    let mut settings = mapping();
    settings["allow_idp_initiated"] = json!(true);
    register(&h, &sso, &mut open, "acme", "open", settings).await;
    let base = crate::support::BASE_URL;

    let unsolicited = |py: &mut PyIdp, idp: &str| {
        py.ok(json!({"op": "unsolicited", "user": alice(),
                     "sp_entity_id": format!("{base}/o/acme/idp/{idp}/metadata"),
                     "acs_url": format!("{base}/o/acme/idp/{idp}/acs")}))["saml_response"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let response = unsolicited(&mut strict, "strict");
    let page = sso
        .post(("acme", "strict"), &response, Some("anything"), None)
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(
        last_reason(&h, "acme").await.as_deref(),
        Some("unsolicited_not_allowed")
    );

    // One way in: the RelayState must name a client that registered an initiate_login_uri.
    let (plain, _) = client_with(&h, "acme", json!({})).await;
    let start = "https://app.samlgate.test/start-login";
    let (tiled, _) = client_with(&h, "acme", json!({"initiate_login_uri": start})).await;
    let response = unsolicited(&mut open, "open");
    for relay in ["https://evil.example.com/", plain.as_str()] {
        let page = sso
            .post(("acme", "open"), &response, Some(relay), None)
            .await;
        assert_eq!(page.status, 400, "{relay}");
        assert_eq!(
            last_reason(&h, "acme").await.as_deref(),
            Some("unsolicited_client_unknown")
        );
    }
    // The verified Response only sends the browser to the client's login initiation
    // endpoint with our issuer (OIDC Core §4): no session, no code, no token.
    let page = sso
        .post(("acme", "open"), &response, Some(&tiled), None)
        .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert!(location.starts_with(&format!("{start}?")), "{location}");
    assert_eq!(param(location, "iss"), Some(format!("{base}/o/acme")));
    assert!(sessions(&h).await.is_empty());
    let events = audit(&h, "acme", "sso.login").await;
    assert_eq!(events.last().unwrap()["outcome"], "ok");
    assert_eq!(events.last().unwrap()["facts"]["client_id"], json!(tiled));
    // Without a login in flight only the replay cache stands between a copy and a redirect.
    let page = sso
        .post(("acme", "open"), &response, Some(&tiled), None)
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(last_reason(&h, "acme").await.as_deref(), Some("replayed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_posts_of_one_response_make_exactly_one_session() {
    let h = Harness::new("sso-race").await;
    let sso = std::sync::Arc::new(Sso::new(&h));
    let mut py = PyIdp::start("race");
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    let (client_id, _) = client_with(&h, "acme", json!({})).await;
    let (answer, cookie) = signed_answer(&sso, &mut py, ("pysaml2", &client_id), json!({})).await;
    let response = answer["saml_response"].as_str().unwrap().to_owned();
    let relay = answer["relay_state"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (sso, response, relay, cookie) =
            (sso.clone(), response.clone(), relay.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            sso.post(("acme", "pysaml2"), &response, Some(&relay), Some(&cookie))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(sessions(&h).await.len(), 1);
}

/// Signs alice in through pysaml2 for a client whose post-logout redirect URI is
/// [`AFTER_LOGOUT`]; returns the session's ID and index and the client's ID token.
async fn signed_in(h: &Harness, sso: &Sso, py: &mut PyIdp) -> (String, String, String) {
    let client = client_with(h, "acme", json!({})).await;
    let answer = signed_answer(sso, py, ("pysaml2", &client.0), json!({})).await;
    let page = post_answer(sso, "pysaml2", &answer).await;
    let (claims, id_token) = verified_claims(sso, py, &page, (&client.0, &client.1)).await;
    assert_eq!(sessions(h).await.len(), 1);
    (
        claims["sid"].as_str().unwrap().to_owned(),
        answer.0["session_index"].as_str().unwrap().to_owned(),
        id_token,
    )
}

/// The client's RP-initiated logout (`GET {issuer}/logout`), back to [`AFTER_LOGOUT`].
async fn rp_logout(sso: &Sso, id_token: &str) -> samlgate_acs::Page {
    let query = format!(
        "id_token_hint={id_token}&post_logout_redirect_uri={}",
        urlencode(AFTER_LOGOUT)
    );
    sso.serve(samlgate_acs::HttpRequest {
        method: "GET",
        path: "/o/acme/logout",
        query: &query,
        ..Default::default()
    })
    .await
}

async fn slo(sso: &Sso, query: &str) -> samlgate_acs::Page {
    samlgate_acs::route(
        &sso.acs,
        "corr-slo",
        "GET",
        "/o/acme/idp/pysaml2/slo",
        query,
        b"",
    )
    .await
}

fn query_of(url: &str) -> &str {
    url.split_once('?').map(|(_, q)| q).unwrap_or("")
}

#[tokio::test]
async fn sp_initiated_logout_ends_the_session_and_round_trips_through_pysaml2() {
    let h = Harness::new("sso-slo-sp").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("slo-sp");
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    let (_, session_index, id_token) = signed_in(&h, &sso, &mut py).await;

    let page = rp_logout(&sso, &id_token).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(sessions(&h).await.is_empty(), "our session ends at once");
    let to_idp = page.header("location").unwrap().to_owned();
    let answer = py.ok(json!({"op": "sp_logout_request", "url": to_idp}));
    assert_eq!(answer["name_id"], "alice@example.com");
    assert_eq!(answer["session_indexes"], json!([session_index]));
    let back = answer["url"].as_str().unwrap();
    let page = slo(&sso, query_of(back)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert_eq!(page.header("location"), Some(AFTER_LOGOUT));
    // The IdP's answer is good once.
    assert_eq!(slo(&sso, query_of(back)).await.status, 400);
    let events = audit(&h, "acme", "sso.logout").await;
    assert_eq!(events[0]["outcome"], "ok");
    assert_eq!(events[1]["reason"], "request_state_unknown");
}

#[tokio::test]
async fn idp_initiated_logout_from_pysaml2_ends_the_session_and_answers_signed() {
    let h = Harness::new("sso-slo-idp").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("slo-idp");
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    let (_, session_index, _) = signed_in(&h, &sso, &mut py).await;
    let base = crate::support::BASE_URL;
    let request = py.ok(json!({"op": "idp_logout_request",
                               "sp_entity_id": format!("{base}/o/acme/idp/pysaml2/metadata"),
                               "name_id": "alice@example.com", "session_index": session_index}));
    let url = request["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{base}/o/acme/idp/pysaml2/slo?")),
        "{url}"
    );

    // Tampered on the way: the query signature fails and nothing ends.
    let tampered = query_of(url).replacen("SAMLRequest=", "SAMLRequest=A", 1);
    assert_eq!(slo(&sso, &tampered).await.status, 400);
    assert_eq!(sessions(&h).await.len(), 1);

    let page = slo(&sso, query_of(url)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(sessions(&h).await.is_empty());
    let answer =
        py.ok(json!({"op": "check_logout_response", "url": page.header("location").unwrap()}));
    assert_eq!(answer["in_response_to"], request["request_id"]);
    assert_eq!(
        answer["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    let events = audit(&h, "acme", "sso.logout").await;
    assert_eq!(events.last().unwrap()["facts"]["sessions_ended"], "1");
}

async fn slo_post(sso: &Sso, fields: &[(&str, &str)]) -> samlgate_acs::Page {
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        form.finish()
    };
    samlgate_acs::route(
        &sso.acs,
        "corr-slo",
        "POST",
        "/o/acme/idp/pysaml2/slo",
        "",
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn logout_over_the_post_binding_both_ways_with_pysaml2() {
    let h = Harness::new("sso-slo-post").await;
    let sso = Sso::new(&h);
    // This IdP publishes only an HTTP-POST SingleLogoutService: samlgate must post, signed.
    let mut py = PyIdp::start_with("slo-post", &["--slo-binding", "post"]);
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    let base = crate::support::BASE_URL;

    // IdP-initiated: pysaml2 posts a LogoutRequest with an enveloped XML signature.
    let (_, session_index, _) = signed_in(&h, &sso, &mut py).await;
    let request = py.ok(json!({"op": "idp_logout_request", "binding": "post",
                               "sp_entity_id": format!("{base}/o/acme/idp/pysaml2/metadata"),
                               "name_id": "alice@example.com", "session_index": session_index}));
    let message = request["saml_request"].as_str().unwrap();
    let relay = request["relay_state"].as_str().unwrap();
    // The same message from another key's point of view: altered bytes fail the signature.
    let xml = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, message).unwrap(),
    )
    .unwrap();
    let altered = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        xml.replace("alice@example.com", "bob@example.com"),
    );
    let page = slo_post(&sso, &[("SAMLRequest", &altered), ("RelayState", relay)]).await;
    assert_eq!(page.status, 400);
    assert_eq!(
        audit(&h, "acme", "sso.logout").await.last().unwrap()["reason"],
        "signature_invalid"
    );
    assert_eq!(sessions(&h).await.len(), 1);
    let page = slo_post(&sso, &[("SAMLRequest", message), ("RelayState", relay)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(sessions(&h).await.is_empty());
    assert_eq!(field(&page, "RelayState"), relay);
    let answer = py
        .ok(json!({"op": "check_logout_response", "saml_response": field(&page, "SAMLResponse")}));
    assert_eq!(answer["in_response_to"], request["request_id"]);
    assert_eq!(
        answer["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );

    // SP-initiated: samlgate posts a signed LogoutRequest; pysaml2 answers by POST as well.
    let (_, _, id_token) = signed_in(&h, &sso, &mut py).await;
    let page = rp_logout(&sso, &id_token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("/slo/post\""));
    let answer = py.ok(
        json!({"op": "sp_logout_request", "saml_request": field(&page, "SAMLRequest"),
                              "relay_state": field(&page, "RelayState"), "response_binding": "post"}),
    );
    assert_eq!(answer["name_id"], "alice@example.com");
    let back = slo_post(
        &sso,
        &[
            ("SAMLResponse", answer["saml_response"].as_str().unwrap()),
            ("RelayState", answer["relay_state"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(back.header("location"), Some(AFTER_LOGOUT));
    assert!(sessions(&h).await.is_empty());
}

/// Every organisation is its own issuer: its discovery document names its own endpoints and
/// JWKS, which hold its ES256 and RS256 token keys and no other organisation's.
#[tokio::test]
async fn discovery_and_jwks_belong_to_one_organisation() {
    let h = Harness::new("sso-discovery").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("discovery");
    register(&h, &sso, &mut py, "acme", "pysaml2", mapping()).await;
    register(&h, &sso, &mut py, "globex", "pysaml2", mapping()).await;
    let issuer = format!("{}/o/acme", crate::support::BASE_URL);
    let doc = samlgate_metadata::route(
        &sso.metadata,
        "GET",
        "/o/acme/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(doc.status, 200, "{}", doc.body);
    assert!(doc.max_age > 0, "discovery is cacheable");
    assert!(
        doc.cors,
        "a browser-based client may read discovery from its own origin"
    );
    let discovery: Value = serde_json::from_str(&doc.body).expect("json");
    assert_eq!(discovery["issuer"], json!(issuer));
    assert_eq!(
        discovery["jwks_uri"],
        json!(format!("{issuer}/.well-known/jwks.json"))
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(discovery["response_types_supported"], json!(["code"]));
    assert!(discovery["grant_types_supported"]
        .as_array()
        .is_some_and(|g| !g.contains(&json!("refresh_token"))));
    let kids = |jwks: &Value| -> Vec<(String, String)> {
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| {
                (
                    k["kid"].as_str().unwrap_or("").to_owned(),
                    k["alg"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let acme = kids(&sso.jwks("acme").await);
    let globex = kids(&sso.jwks("globex").await);
    let algs: Vec<&str> = acme.iter().map(|(_, alg)| alg.as_str()).collect();
    assert!(
        algs.contains(&"ES256") && algs.contains(&"RS256"),
        "{acme:?}"
    );
    assert!(
        acme.iter().all(|k| !globex.contains(k)),
        "{acme:?} {globex:?}"
    );
    for path in [
        "/o/nobody/.well-known/jwks.json",
        "/o/nobody/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let doc = samlgate_metadata::route(&sso.metadata, "GET", path).await;
        assert_eq!(doc.status, 404, "{path}");
    }
}

/// Advisory regression (issue 17 §6): a signed assertion may carry an ID of any length; the
/// replay store's key is a hash of issuer and ID, so a 100 KiB ID (beyond DynamoDB's 2 KiB
/// key limit) is recorded once in DynamoDB and refused the second time, and IDs that would
/// collide if concatenated do not.
#[tokio::test]
async fn an_overlong_assertion_id_is_recorded_once_in_dynamodb() {
    use samlgate_domain::ports::ReplayStore;
    let h = Harness::new("sso-replay-key").await;
    let org = samlgate_domain::ids::OrgId::parse("acme").unwrap();
    let long = format!("_{}", "x".repeat(100 * 1024));
    let until = 4_102_444_800; // 2100-01-01
    let once = |issuer: &'static str, id: String| {
        let (table, org) = (h.table.clone(), org.clone());
        async move { table.insert_once(&org, issuer, &id, until).await.unwrap() }
    };
    assert!(once("https://idp.example.com", long.clone()).await);
    assert!(!once("https://idp.example.com", long).await);
    assert!(once("https://a", "b#c".into()).await);
    assert!(once("https://a#b", "c".into()).await);
}
