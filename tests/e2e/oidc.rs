//! The OIDC provider end to end: pysaml2 (third party) is the IdP, the real admin, acs and
//! metadata handlers run over the DynamoDB and KMS adapters against moto, and PyJWT verifies
//! the ID tokens against each organisation's own JWKS.

use base64::Engine as _;
use samlgate_acs::{HttpRequest, Page};
use serde_json::{json, Value};

use crate::sso_support::*;
use crate::support::{Harness, BASE_URL};

#[tokio::test]
async fn a_code_flow_through_pysaml2_yields_an_id_token_pyjwt_verifies_for_the_client() {
    let h = Harness::new("oidc-flow").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("oidc-flow");
    register(&h, &sso, &mut py, "acme", "corp", mapping()).await;
    let (client_id, secret) = client_with(&h, "acme", json!({})).await;

    let code = code_for(&sso, &mut py, ("acme", "corp"), &client_id, "").await;
    let page = sso.redeem("acme", &client_id, &secret, &code).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let tokens: Value = serde_json::from_str(&page.body).unwrap();
    let jwks = sso.jwks("acme").await;
    let verified = verify(
        &mut py,
        tokens["id_token"].as_str().unwrap(),
        &jwks,
        &client_id,
        "acme",
    );
    assert_eq!(verified["ok"], true, "{verified}");
    let claims = &verified["claims"];
    assert_eq!(claims["sub"], "corp:alice@example.com");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["name"], "Alice");
    assert!(claims["auth_time"].is_i64());

    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let info = sso
        .serve(HttpRequest {
            method: "GET",
            path: "/o/acme/userinfo",
            authorization: Some(&bearer),
            ..HttpRequest::default()
        })
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    let info: Value = serde_json::from_str(&info.body).unwrap();
    assert_eq!(info["sub"], "corp:alice@example.com");

    // Nothing of the code or the token is stored in the clear.
    let items = serde_json::to_string(&h.table.scan_all().await.unwrap()).unwrap();
    assert!(!items.contains(&code));
    assert!(!items.contains(tokens["access_token"].as_str().unwrap()));
    assert!(!items.contains(&secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn twenty_concurrent_redemptions_of_one_code_issue_exactly_one_token() {
    let h = Harness::new("oidc-race").await;
    let sso = std::sync::Arc::new(Sso::new(&h));
    let mut py = PyIdp::start("oidc-race");
    register(&h, &sso, &mut py, "acme", "race", mapping()).await;
    let (client_id, secret) = client_with(&h, "acme", json!({})).await;
    let code = code_for(&sso, &mut py, ("acme", "race"), &client_id, "").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (sso, client_id, secret, code) =
            (sso.clone(), client_id.clone(), secret.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            sso.redeem("acme", &client_id, &secret, &code).await
        }));
    }
    let mut pages = Vec::new();
    for t in tasks {
        pages.push(t.await.unwrap());
    }
    let statuses: Vec<u16> = pages.iter().map(|p| p.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    for page in pages.iter().filter(|p| p.status != 200) {
        assert_eq!(page.status, 400, "{}", page.body);
        let body: Value = serde_json::from_str(&page.body).unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
    let access_tokens = h
        .table
        .scan_all()
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i["pk"].as_str().is_some_and(|pk| pk.starts_with("ACCESS#")))
        .count();
    assert!(access_tokens <= 1, "{access_tokens} access tokens");
}

#[tokio::test]
async fn a_second_idps_user_never_gets_the_first_idps_sub_and_tokens_stay_in_their_organisation() {
    let h = Harness::new("oidc-isolation").await;
    let sso = Sso::new(&h);
    let mut corp = PyIdp::start("oidc-corp");
    let mut partner = PyIdp::start("oidc-partner");
    register(&h, &sso, &mut corp, "acme", "corp", mapping()).await;
    register(&h, &sso, &mut partner, "acme", "partner", mapping()).await;
    let mut other = PyIdp::start("oidc-globex");
    register(&h, &sso, &mut other, "globex", "globex", mapping()).await;
    let (acme_client, acme_secret) = client_with(&h, "acme", json!({})).await;
    let (globex_client, globex_secret) = client_with(&h, "globex", json!({})).await;

    let mut subs = Vec::new();
    for (py, idp) in [(&mut corp, "corp"), (&mut partner, "partner")] {
        // Both IdPs assert the same NameID, alice@example.com.
        let code = code_for(
            &sso,
            py,
            ("acme", idp),
            &acme_client,
            &format!("&idp={idp}"),
        )
        .await;
        let page = sso.redeem("acme", &acme_client, &acme_secret, &code).await;
        let tokens: Value = serde_json::from_str(&page.body).unwrap();
        subs.push(
            crate::sso_support::jwt_claims(tokens["id_token"].as_str().unwrap())["sub"].clone(),
        );
    }
    assert_eq!(
        subs,
        [
            json!("corp:alice@example.com"),
            json!("partner:alice@example.com")
        ]
    );

    // globex's ID token, verified as acme's client would: the issuer and the keys differ.
    let code = code_for(&sso, &mut other, ("globex", "globex"), &globex_client, "").await;
    let page = sso
        .redeem("globex", &globex_client, &globex_secret, &code)
        .await;
    let tokens: Value = serde_json::from_str(&page.body).unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let acme_jwks = sso.jwks("acme").await;
    let refused = verify(&mut corp, id_token, &acme_jwks, &globex_client, "acme");
    assert_eq!(refused["ok"], false, "{refused}");
    let globex_jwks = sso.jwks("globex").await;
    let refused = verify(&mut corp, id_token, &globex_jwks, &globex_client, "acme");
    assert_eq!(refused["ok"], false, "wrong issuer: {refused}");
    let accepted = verify(&mut corp, id_token, &globex_jwks, &globex_client, "globex");
    assert_eq!(accepted["ok"], true, "{accepted}");
    // A code of globex is unknown at acme's token endpoint.
    let code = code_for(&sso, &mut other, ("globex", "globex"), &globex_client, "").await;
    let page = sso
        .redeem("acme", &globex_client, &globex_secret, &code)
        .await;
    assert_eq!(
        page.status, 401,
        "globex's client is unknown to acme: {}",
        page.body
    );
}

/// A client's back-channel logout endpoint: records every body posted to it; answers
/// `status`.
async fn logout_endpoint(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            loop {
                let n = socket.read(&mut buffer).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())
                                .flatten()
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        seen.lock().unwrap().push(body.to_owned());
                        break;
                    }
                }
            }
            let answer =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, bodies)
}

async fn slo_get(sso: &Sso, org: &str, idp: &str, url: &str) -> Page {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    sso.serve(HttpRequest {
        method: "GET",
        path: &format!("/o/{org}/idp/{idp}/slo"),
        query,
        ..HttpRequest::default()
    })
    .await
}

#[tokio::test]
async fn an_idp_initiated_logout_from_pysaml2_tells_the_client_by_back_channel_once() {
    let h = Harness::new("oidc-bcl").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("oidc-bcl");
    register(&h, &sso, &mut py, "acme", "corp", mapping()).await;
    let (endpoint, bodies) = logout_endpoint(200).await;
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/clients",
            json!({"name": "bcl", "redirect_uris": [CALLBACK], "backchannel_logout_uri": endpoint,
                   "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let client_id = reply.body["client_id"].as_str().unwrap().to_owned();
    let code = code_for(&sso, &mut py, ("acme", "corp"), &client_id, "").await;
    let secret = reply.body["client_secret"].as_str().unwrap();
    let tokens: Value =
        serde_json::from_str(&sso.redeem("acme", &client_id, secret, &code).await.body).unwrap();
    let sid = jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].clone();
    let session_index = sessions(&h).await[0]["session_index"].clone();

    let request = py.ok(json!({"op": "idp_logout_request",
                               "sp_entity_id": format!("{BASE_URL}/o/acme/idp/corp/metadata"),
                               "name_id": "alice@example.com", "session_index": session_index}));
    let url = request["url"].as_str().unwrap();
    let page = slo_get(&sso, "acme", "corp", url).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(sessions(&h).await.is_empty());
    let answer =
        py.ok(json!({"op": "check_logout_response", "url": page.header("location").unwrap()}));
    assert_eq!(
        answer["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    assert_eq!(answer["sub_status"], Value::Null, "every client was told");

    // The client received one logout token: PyJWT verifies it for the client, and it
    // carries the back-channel event and the session, and no nonce.
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let token = url::form_urlencoded::parse(bodies[0].as_bytes())
        .find(|(n, _)| n == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("logout_token");
    let jwks = sso.jwks("acme").await;
    let verified = verify(&mut py, &token, &jwks, &client_id, "acme");
    assert_eq!(verified["ok"], true, "{verified}");
    let claims = &verified["claims"];
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["sub"], "corp:alice@example.com");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "logout+jwt");

    // The same LogoutRequest again: refused as a replay.
    let again = slo_get(&sso, "acme", "corp", url).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(
        audit(&h, "acme", "sso.logout").await.last().unwrap()["reason"],
        "replayed"
    );
}

#[tokio::test]
async fn a_client_that_cannot_be_told_makes_the_idps_logout_partial() {
    let h = Harness::new("oidc-bcl-partial").await;
    let sso = Sso::new(&h);
    let mut py = PyIdp::start("oidc-bcl-partial");
    register(&h, &sso, &mut py, "acme", "corp", mapping()).await;
    let (endpoint, _) = logout_endpoint(500).await;
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/clients",
            json!({"name": "down", "redirect_uris": [CALLBACK], "backchannel_logout_uri": endpoint,
                   "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    let client_id = reply.body["client_id"].as_str().unwrap().to_owned();
    code_for(&sso, &mut py, ("acme", "corp"), &client_id, "").await;
    let session_index = sessions(&h).await[0]["session_index"].clone();
    let request = py.ok(json!({"op": "idp_logout_request",
                               "sp_entity_id": format!("{BASE_URL}/o/acme/idp/corp/metadata"),
                               "name_id": "alice@example.com", "session_index": session_index}));
    let page = slo_get(&sso, "acme", "corp", request["url"].as_str().unwrap()).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(sessions(&h).await.is_empty(), "our session ends regardless");
    let answer =
        py.ok(json!({"op": "check_logout_response", "url": page.header("location").unwrap()}));
    assert_eq!(
        answer["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    assert_eq!(
        answer["sub_status"],
        "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
    );
    let item = audit(&h, "acme", "sso.logout")
        .await
        .last()
        .unwrap()
        .clone();
    assert_eq!(item["facts"]["backchannel_failed"], "1");
}
