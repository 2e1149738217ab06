//! Setup links against moto: an operator creates one, the customer's IT admin exchanges it
//! once for a console session, and the session reaches only its organisation and scopes.

use samlgate_admin::{console_api, Reply};
use serde_json::{json, Value};

use crate::support::Harness;

async fn console(h: &Harness, token: Option<&str>, method: &str, path: &str, body: Value) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    console_api(
        &h.admin,
        "corr-console",
        bearer.as_deref(),
        method,
        path,
        &bytes,
    )
    .await
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setup_link_opens_one_session_limited_to_its_organisation_and_scopes() {
    let h = Harness::new("setup-links").await;
    h.onboard("acme", &[]).await;
    h.onboard("beta", &[]).await;
    let created = h
        .call(
            "POST",
            "/admin/orgs/acme/setup-links",
            json!({"scopes": ["sso"], "ttl_secs": 3600}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let url = created.body["url"].as_str().unwrap().to_owned();
    let token = token_of(&url);
    let secret = token.split_once('.').unwrap().1.to_owned();
    let listed = h
        .call("GET", "/admin/orgs/acme/setup-links", Value::Null)
        .await;
    assert_eq!(listed.body["setup_links"][0]["state"], "active");
    assert!(!listed.body.to_string().contains(&secret));

    let exchange = "/console-api/orgs/acme/setup/exchange";
    let started = console(&h, None, "POST", exchange, json!({"token": token})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let session = started.body["session_token"].as_str().unwrap().to_owned();
    let again = console(&h, None, "POST", exchange, json!({"token": token})).await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (410, Some("setup_link_used"))
    );

    let s = Some(session.as_str());
    let reply = console(&h, s, "GET", "/console-api/orgs/acme", Value::Null).await;
    assert_eq!(
        (reply.status, reply.body["org"].as_str()),
        (200, Some("acme"))
    );
    let reply = console(&h, s, "GET", "/console-api/orgs/acme/idps", Value::Null).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = console(
        &h,
        s,
        "PUT",
        "/console-api/orgs/acme/sso",
        json!({"session_ttl_secs": 3600}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for (method, path, status, code) in [
        (
            "GET",
            "/console-api/orgs/acme/credentials",
            403,
            "scope_not_granted",
        ),
        (
            "GET",
            "/console-api/orgs/acme/intake-key",
            403,
            "scope_not_granted",
        ),
        (
            "POST",
            "/console-api/orgs/acme/setup-links",
            403,
            "scope_not_granted",
        ),
        // Another organisation's partition does not hold this session.
        ("GET", "/console-api/orgs/beta", 401, "unauthenticated"),
        ("GET", "/console-api/orgs/beta/idps", 401, "unauthenticated"),
    ] {
        let reply = console(&h, s, method, path, json!({})).await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (status, Some(code)),
            "{method} {path}: {}",
            reply.body
        );
    }
    let reply = console(&h, None, "GET", "/console-api/orgs/acme", Value::Null).await;
    assert_eq!(reply.status, 401);
    let forged = "0".repeat(64);
    let reply = console(
        &h,
        Some(&forged),
        "GET",
        "/console-api/orgs/acme",
        Value::Null,
    )
    .await;
    assert_eq!(reply.status, 401);

    // A revoked link, and a link of acme opened as beta's.
    let second = h
        .call(
            "POST",
            "/admin/orgs/acme/setup-links",
            json!({"scopes": ["credentials"]}),
        )
        .await;
    let second_token = token_of(second.body["url"].as_str().unwrap());
    let id = second.body["id"].as_str().unwrap();
    let wrong_org = console(
        &h,
        None,
        "POST",
        "/console-api/orgs/beta/setup/exchange",
        json!({"token": second_token}),
    )
    .await;
    assert_eq!(wrong_org.body["error"], "setup_link_invalid");
    let revoked = h
        .call(
            "DELETE",
            &format!("/admin/orgs/acme/setup-links/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(revoked.body["state"], "revoked");
    let refused = console(&h, None, "POST", exchange, json!({"token": second_token})).await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (410, Some("setup_link_revoked"))
    );

    // Audited: creation, use, refusals, revocation; the session's write under its own actor.
    let audit = h.audit_items("acme").await;
    let of =
        |action: &str| -> Vec<&Value> { audit.iter().filter(|a| a["action"] == action).collect() };
    assert_eq!(of("setup_link.create").len(), 2);
    assert_eq!(of("setup_link.revoke").len(), 1);
    let uses: Vec<_> = of("setup_link.use")
        .iter()
        .map(|a| a["reason"].as_str().unwrap_or("ok").to_owned())
        .collect();
    assert_eq!(uses.len(), 3, "{uses:?}");
    for reason in ["ok", "setup_link_used", "setup_link_revoked"] {
        assert!(uses.iter().any(|u| u == reason), "{uses:?}");
    }
    let settings = of("sso.settings");
    assert!(settings[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("setup:sl-"));
    // Neither the link's secret nor the session token is in any item.
    let items = serde_json::to_string(&h.table.scan_all().await.unwrap()).unwrap();
    assert!(!items.contains(&secret) && !items.contains(&session));
}
