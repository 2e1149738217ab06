//! IdP configuration through the admin handler: every way registration can be
//! refused leaves nothing behind; callers act only on their own organisation.

use samlgate_admin::{route, Scope};
use samlgate_domain::ids::OrgId;
use serde_json::{json, Value};

use crate::sso_support::*;
use crate::support::{caller, Harness, Target};

fn idp_items(items: &[Value], org: &str) -> usize {
    items
        .iter()
        .filter(|i| {
            i["pk"] == format!("ORG#{org}")
                && i["sk"]
                    .as_str()
                    .is_some_and(|sk| sk.starts_with("IDP#") || sk.starts_with("SPKEY#"))
        })
        .count()
}

#[tokio::test]
async fn bad_registrations_are_refused_with_codes_and_write_nothing() {
    let h = Harness::new("idp-admin").await;
    h.onboard("acme", &[]).await;
    let mut py = PyIdp::start("admin");
    let metadata = py.ok(json!({"op": "metadata"}))["xml"].clone();
    let path = "/admin/orgs/acme/idps";
    for (body, status, code) in [
        (
            json!({"idp": "x", "metadata_xml": "<not-metadata/>"}),
            400,
            "metadata_invalid",
        ),
        (
            json!({"idp": "x", "metadata_xml": "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>"}),
            400,
            "metadata_invalid",
        ),
        (
            json!({"idp": "x", "metadata_xml": metadata, "metadata_url": "https://idp.example/md"}),
            400,
            "invalid_request",
        ),
        (json!({"idp": "x"}), 400, "invalid_request"),
        (
            json!({"idp": "Bad Id", "metadata_xml": metadata}),
            400,
            "invalid_request",
        ),
        (
            json!({"idp": "x", "metadata_xml": metadata, "settings": {"clock_skew_secs": 3600}}),
            400,
            "invalid_request",
        ),
        (
            json!({"idp": "x", "metadata_xml": metadata, "settings": {"unknown": true}}),
            400,
            "invalid_request",
        ),
        (
            json!({"idp": "x", "metadata_xml": metadata,
                   "settings": {"algorithm_exceptions": ["http://www.w3.org/2000/09/xmldsig#dsa-sha1"]}}),
            400,
            "invalid_request",
        ),
        (
            json!({"idp": "x", "metadata_url": "http://idp.example.com/metadata"}),
            400,
            "invalid_request",
        ),
        (
            json!({"idp": "x", "manual": {"entity_id": "https://idp", "sso_url": "https://idp/sso",
                                          "certificates": ["bm90IGEgY2VydGlmaWNhdGU="]}}),
            400,
            "invalid_request",
        ),
        (
            json!({"idp": "x", "manual": {"entity_id": "https://idp", "sso_url": "https://idp/sso",
                                          "certificates": []}}),
            400,
            "invalid_request",
        ),
    ] {
        let reply = h.call("POST", path, body.clone()).await;
        assert_eq!(
            (reply.status, reply.body["error"].as_str()),
            (status, Some(code)),
            "{body}: {}",
            reply.body
        );
    }
    let items = h.table.scan_all().await.unwrap();
    assert_eq!(idp_items(&items, "acme"), 0, "nothing half-written");

    let ok = json!({"idp": "okta", "metadata_xml": metadata});
    let reply = h.call("POST", path, ok.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["sp_entity_id"],
        format!("{}/o/acme/idp/okta/metadata", crate::support::BASE_URL)
    );
    assert_eq!(reply.body["sp_certificates"].as_array().unwrap().len(), 2);
    assert!(!reply.body.to_string().contains("PRIVATE KEY"));
    let reply = h.call("POST", path, ok).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (409, Some("idp_exists"))
    );
    // No plaintext private key anywhere in the table.
    let items = h.table.scan_all().await.unwrap();
    assert!(!serde_json::to_string(&items)
        .unwrap()
        .contains("PRIVATE KEY"));
    // SSO settings may only name registered IdPs.
    let reply = h
        .call(
            "PUT",
            "/admin/orgs/acme/sso",
            json!({"default_idp": "nope"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = h
        .call(
            "PUT",
            "/admin/orgs/acme/sso",
            json!({"return_urls": ["https://app.example.com/"]}),
        )
        .await;
    // One way in: applications are OIDC clients; the old return-URL fields are refused.
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.to_string().contains("return_urls was removed"),
        "{}",
        reply.body
    );
    // PATCH changes only what it names (against the stored item in DynamoDB); a bad enum
    // value is refused naming the field and the allowed values, never the value.
    let settings = "/admin/orgs/acme/idps/okta/settings";
    let reply = h
        .call(
            "PUT",
            settings,
            json!({"mapping": {"email": "mail", "groups": "memberOf"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = h
        .call("PATCH", settings, json!({"request_binding": "post"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["settings"]["request_binding"], "post");
    assert_eq!(reply.body["settings"]["mapping"]["email"], "mail");
    let stored = h
        .call("GET", "/admin/orgs/acme/idps/okta", Value::Null)
        .await;
    assert_eq!(stored.body["settings"], reply.body["settings"]);
    let reply = h
        .call(
            "PATCH",
            settings,
            json!({"request_binding": "HTTP-POST-CANARY"}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["message"].as_str()),
        (
            400,
            Some("invalid request: request_binding: unknown value, expected `redirect` or `post`")
        ),
        "{}",
        reply.body
    );
    let reply = h
        .call("PATCH", settings, json!({"allow_idp_initated": true}))
        .await;
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown field `allow_idp_initated`, expected one of"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn metadata_is_fetched_from_a_url_with_a_size_limit() {
    let h = Harness::new("idp-url").await;
    h.onboard("acme", &[]).await;
    let mut py = PyIdp::start("url");
    let metadata = py.ok(json!({"op": "metadata"}))["xml"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = Target::replying(200, metadata, None);
    // Local mode accepts http to loopback (the harness's admin runs with local = true).
    let url = format!("http://127.0.0.1:{}/metadata", server.port);
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/idps",
            json!({"idp": "byurl", "metadata_url": url}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["metadata_url"], url);
    assert_eq!(reply.body["metadata_sha256"].as_str().unwrap().len(), 64);

    let huge = Target::replying(200, "x".repeat(600 * 1024), None);
    let url = format!("http://127.0.0.1:{}/metadata", huge.port);
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/idps",
            json!({"idp": "huge", "metadata_url": url}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (502, Some("metadata_fetch_failed")),
        "{}",
        reply.body
    );
    let missing = Target::replying(404, String::new(), None);
    let url = format!("http://127.0.0.1:{}/metadata", missing.port);
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/idps",
            json!({"idp": "gone", "metadata_url": url}),
        )
        .await;
    assert_eq!(
        reply.body["error"], "metadata_fetch_failed",
        "{}",
        reply.body
    );
    // The caller cannot tell what answered at the address it chose (a 404, a timeout, a
    // refused destination): one message; the detail is in the audit log.
    assert_eq!(
        reply.body["message"], "IdP metadata could not be fetched",
        "{}",
        reply.body
    );
    let item = audit(&h, "acme", "idp.register")
        .await
        .last()
        .cloned()
        .expect("audit item");
    assert_eq!(item["reason"], "metadata_fetch_failed");
    assert_eq!(item["facts"]["fetch_error"], "HTTP status 404");
}

#[tokio::test]
async fn an_organisation_admin_acts_only_on_their_own_organisation() {
    let h = Harness::new("idp-scope").await;
    h.onboard("acme", &[]).await;
    h.onboard("globex", &[]).await;
    let acme = Scope::Org(OrgId::parse("acme").unwrap());
    let call = |scope: Scope, method: &'static str, path: &'static str| {
        let admin = &h.admin;
        async move { route(admin, &caller(), &scope, method, path, b"").await }
    };
    assert_eq!(
        call(acme.clone(), "GET", "/admin/orgs/acme/idps")
            .await
            .status,
        200
    );
    let reply = call(acme.clone(), "GET", "/admin/orgs/globex/idps").await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (403, Some("wrong_organisation"))
    );
    let reply = call(acme.clone(), "GET", "/admin/orgs/globex/credentials").await;
    assert_eq!(reply.status, 403);
    let reply = call(acme, "POST", "/admin/orgs").await;
    assert_eq!(
        reply.status, 403,
        "only the operator registers organisations"
    );
    let reply = call(Scope::None, "GET", "/admin/orgs/acme").await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        call(Scope::All, "GET", "/admin/orgs/globex").await.status,
        200
    );
}

/// OIDC clients through the admin handler over DynamoDB (moto): the secret is in the
/// registration's answer only, the item holds its hash; a new secret leaves the old one in
/// its grace period; a deleted client is gone.
#[tokio::test]
async fn clients_are_registered_with_a_secret_shown_once_and_deleted() {
    let h = Harness::new("clients").await;
    h.onboard("acme", &[]).await;
    let reply = h
        .call(
            "POST",
            "/admin/orgs/acme/clients",
            json!({"name": "Acme app", "redirect_uris": ["https://app.example.com/cb"],
                   "token_endpoint_auth_method": "client_secret_basic"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["client_id"].as_str().expect("id").to_owned();
    let secret = reply.body["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let items = h.table.scan_all().await.expect("scan");
    let item = items
        .iter()
        .find(|i| i["sk"] == format!("CLIENT#{id}"))
        .expect("client item");
    assert!(!item.to_string().contains(&secret), "the secret is stored");
    let shown = h
        .call(
            "GET",
            &format!("/admin/orgs/acme/clients/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.get("client_secret").is_none());
    let rotated = h
        .call(
            "POST",
            &format!("/admin/orgs/acme/clients/{id}/secret"),
            Value::Null,
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_ne!(rotated.body["client_secret"], json!(secret));
    assert_eq!(rotated.body["secrets"].as_array().map(Vec::len), Some(2));
    assert!(rotated.body["secrets"][1]["expires_at"].is_string());
    let list = h.call("GET", "/admin/orgs/acme/clients", Value::Null).await;
    assert_eq!(list.body["clients"].as_array().map(Vec::len), Some(1));
    let bad = h
        .call(
            "POST",
            "/admin/orgs/acme/clients",
            json!({"name": "x", "redirect_uris": ["http://app.example.com/cb"],
                   "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["error"].clone()),
        (400, json!("invalid_request"))
    );
    let deleted = h
        .call(
            "DELETE",
            &format!("/admin/orgs/acme/clients/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(deleted.status, 200);
    let gone = h
        .call(
            "GET",
            &format!("/admin/orgs/acme/clients/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(
        (gone.status, gone.body["error"].clone()),
        (404, json!("client_not_found"))
    );
}
