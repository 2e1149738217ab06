//! The credential path from intake to the provisioning target, and the admin API around it.

use serde_json::{json, Value};

use crate::support::*;

fn id_of(reply: &samlgate_admin::Reply) -> String {
    reply.body["id"].as_str().expect("credential id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn client_side_encrypted_credential_reaches_the_target_and_only_there() {
    let h = Harness::new("flow").await;
    let target = Target::start(200);
    h.onboard("acme", &["127.0.0.1"]).await;
    let secret = "00aBcD-okta-api-token-flow";
    let ct = h.encrypt_for("acme", secret).await;

    let stored = h.store("acme", &target.url(), &ct).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    assert_eq!(stored.body["state"], "active");
    assert_eq!(stored.body["version"], 1);
    let id = id_of(&stored);
    let arn = stored.body["secret_arn"].as_str().expect("arn");
    assert!(
        arn.contains(&format!("samlgate/acme/credentials/{id}")),
        "{arn}"
    );

    // Get and list return metadata only.
    let got = h
        .call(
            "GET",
            &format!("/admin/orgs/acme/credentials/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("ciphertext").is_none());
    let listed = h
        .call("GET", "/admin/orgs/acme/credentials", Value::Null)
        .await;
    assert_eq!(listed.body["credentials"].as_array().map(Vec::len), Some(1));

    let out = h
        .provision(&h.provision_app("acme", None), "acme", &id)
        .await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["outcome"]["status"], 200);
    let requests = target.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].contains(&format!("authorization: SSWS {secret}\r\n")),
        "{}",
        requests[0]
    );
    assert!(requests[0].ends_with(r#"{"kty":"RSA","use":"sig"}"#));
    assert!(!out.to_string().contains(TARGET_BODY));

    // Audit: intake, then for provisioning two decrypts (credential, intake key) and the outcome.
    let audit = h.audit_items("acme").await;
    let actions: Vec<&str> = audit.iter().filter_map(|a| a["action"].as_str()).collect();
    for want in [
        "org.register",
        "credential.intake",
        "kms.decrypt",
        "credential.provision",
    ] {
        assert!(actions.contains(&want), "no {want} in {actions:?}");
    }
    let decrypts: Vec<&Value> = audit
        .iter()
        .filter(|a| a["action"] == "kms.decrypt")
        .collect();
    let purposes: Vec<&str> = decrypts
        .iter()
        .filter_map(|a| a["facts"]["purpose"].as_str())
        .collect();
    assert!(
        purposes.contains(&"credential") && purposes.contains(&"intake"),
        "{purposes:?}"
    );
    let provision = audit
        .iter()
        .find(|a| a["action"] == "credential.provision")
        .expect("provision audit");
    assert_eq!(provision["outcome"], "ok");
    assert_eq!(provision["facts"]["status"], "200");
    assert_eq!(provision["correlation_id"], "corr-provision");
    assert!(provision["facts"]["elapsed_ms"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn python_esdk_message_like_cloudfront_fle_decrypts_in_provision() {
    let h = Harness::new("interop").await;
    let target = Target::start(204);
    h.onboard("interop", &["127.0.0.1"]).await;

    // 1. Python ESDK (v1, non-committing, RSA-OAEP-SHA256) to the organisation's intake key.
    let (pem, namespace, name) = h.intake_key("interop").await;
    let secret = "python-esdk-to-intake-key";
    let ct = encrypt_with_python(&pem, &namespace, &name, secret);
    let stored = h.store("interop", &target.url(), &ct).await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    let out = h
        .provision(
            &h.provision_app("interop", None),
            "interop",
            &id_of(&stored),
        )
        .await;
    assert_eq!(out["ok"], true, "{out}");
    assert!(target.requests()[0].contains(&format!("SSWS {secret}\r\n")));

    // 2. The CloudFront FLE path: the deployment's FLE key, accepted by admin, opened by provision.
    let (fle_private, fle_public) = rsa_key_pair();
    let fle_secret = "python-esdk-to-fle-key";
    // What the page writes into the form's `secret` field, which CloudFront then encrypts.
    let fle_field = |org: &str, secret: &str| format!("samlgate-org:{org}\n{secret}");
    let fle_ct = encrypt_with_python(
        &fle_public,
        "samlgate-fle",
        "fle-key-1",
        &fle_field("interop", fle_secret),
    );
    let refused = h.store("interop", &target.url(), &fle_ct).await;
    assert_eq!(
        refused.body["error"], "ciphertext_wrong_key",
        "admin without FLE configured"
    );
    let mut admin = h.admin.clone();
    admin.fle = Some(samlgate_domain::config::FleNames {
        provider_id: "samlgate-fle".into(),
        key_name: "fle-key-1".into(),
    });
    // As CloudFront delivers it: the form, its `secret` field replaced by the ESDK message,
    // and the distribution's origin header; the same form without the header (posted to the
    // execute-api endpoint around CloudFront) is refused before anything is read.
    admin.fle_origin_secret = Some("e".repeat(64));
    let form_request = |edge: Option<String>| {
        let mut request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/admin/orgs/interop/credentials/form")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(edge) = edge {
            request = request.header("x-samlgate-edge", edge);
        }
        request
            .body(lambda_http::Body::Text(
                String::from_utf8(h.credential_form(&target.url(), &fle_ct)).unwrap(),
            ))
            .unwrap()
    };
    let answer = |response: lambda_http::Response<lambda_http::Body>| {
        let status = response.status().as_u16();
        let body: Value = match response.body() {
            lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => Value::Null,
        };
        (status, body)
    };
    for edge in [None, Some("f".repeat(64)), Some("e".repeat(63))] {
        let (status, body) = answer(samlgate_admin::handle(&admin, form_request(edge)).await);
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("edge_required")),
            "{body}"
        );
    }
    let (status, stored_body) =
        answer(samlgate_admin::handle(&admin, form_request(Some("e".repeat(64)))).await);
    assert_eq!(status, 201, "{stored_body}");
    let stored = samlgate_admin::Reply {
        status,
        body: stored_body,
    };
    let fle = samlgate_vault::provision::FleKey {
        provider_id: "samlgate-fle".into(),
        key_name: "fle-key-1".into(),
        private_key_pem: zeroize::Zeroizing::new(fle_private.into_bytes()),
    };
    let fle_key = || samlgate_vault::provision::FleKey {
        provider_id: "samlgate-fle".into(),
        key_name: "fle-key-1".into(),
        private_key_pem: zeroize::Zeroizing::new(fle.private_key_pem.to_vec()),
    };
    let out = h
        .provision(
            &h.provision_app("interop", Some(fle_key())),
            "interop",
            &id_of(&stored),
        )
        .await;
    assert_eq!(out["ok"], true, "{out}");
    assert!(target.requests()[1].contains(&format!("SSWS {fle_secret}\r\n")));

    // 3. The same deployment-wide FLE key serves every organisation: a message made for
    // interop's form, stored under another organisation, and one whose field names no
    // organisation are refused by provision and reach no target.
    h.onboard("interop-b", &["127.0.0.1"]).await;
    for (label, ciphertext) in [
        ("another organisation's", fle_ct.clone()),
        (
            "no organisation's",
            encrypt_with_python(&fle_public, "samlgate-fle", "fle-key-1", fle_secret),
        ),
    ] {
        let stored = h
            .call_raw(
                &admin,
                "POST",
                "/admin/orgs/interop-b/credentials/form",
                &h.credential_form(&target.url(), &ciphertext),
            )
            .await;
        assert_eq!(stored.status, 201, "{}", stored.body);
        let out = h
            .provision(
                &h.provision_app("interop-b", Some(fle_key())),
                "interop-b",
                &id_of(&stored),
            )
            .await;
        assert_eq!(out["ok"], false, "{label}: {out}");
        assert_eq!(
            out["error"], "ciphertext_wrong_organisation",
            "{label}: {out}"
        );
    }
    assert_eq!(target.requests().len(), 2, "nothing sent for interop-b");
}

#[tokio::test(flavor = "multi_thread")]
async fn update_makes_a_new_version_and_delete_stops_provisioning() {
    let h = Harness::new("lifecycle").await;
    let target = Target::start(200);
    h.onboard("lifecycle", &["127.0.0.1"]).await;
    let stored = h
        .store(
            "lifecycle",
            &target.url(),
            &h.encrypt_for("lifecycle", "first-secret").await,
        )
        .await;
    let id = id_of(&stored);
    let path = format!("/admin/orgs/lifecycle/credentials/{id}");

    let updated = h
        .call(
            "PUT",
            &path,
            json!({"ciphertext": h.encrypt_for("lifecycle", "second-secret").await,
                                   "description": "rotated"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["version"], 2);
    assert_ne!(
        updated.body["secret_version_id"],
        stored.body["secret_version_id"]
    );

    let app = h.provision_app("lifecycle", None);
    assert_eq!(
        h.provision(&app, "lifecycle", &id).await["outcome"]["credential_version"],
        2
    );
    assert!(target.requests()[0].contains("SSWS second-secret\r\n"));

    let deleted = h.call("DELETE", &path, Value::Null).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["state"], "deleted");
    assert!(
        h.live_secrets("lifecycle").await.is_empty(),
        "secret not scheduled for deletion"
    );
    let out = h.provision(&app, "lifecycle", &id).await;
    assert_eq!(out["error"], "credential_inactive");
    assert_eq!(target.requests().len(), 1);
    // A second delete is a clean retry, not an error.
    assert_eq!(h.call("DELETE", &path, Value::Null).await.status, 200);
    let audit = h.audit_items("lifecycle").await;
    assert!(audit
        .iter()
        .any(|a| a["action"] == "credential.update" && a["outcome"] == "ok"));
    assert!(audit
        .iter()
        .any(|a| a["action"] == "credential.delete" && a["outcome"] == "ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_intake_is_refused_with_a_code_and_writes_nothing() {
    let h = Harness::new("badintake").await;
    h.onboard("bad", &["127.0.0.1"]).await;
    h.onboard("other", &["127.0.0.1"]).await;
    let url = "http://127.0.0.1:9/x";
    let good = h.encrypt_for("bad", "s").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            h.credential_body(url, "***not base64***"),
            "ciphertext_malformed",
        ),
        (
            h.credential_body(url, &base64_of(&[1u8; 300])),
            "ciphertext_malformed",
        ),
        (
            h.credential_body(url, &"A".repeat(100_000)),
            "ciphertext_too_large",
        ),
        (
            h.credential_body(url, &h.encrypt_for("other", "s").await),
            "ciphertext_wrong_key",
        ),
        (
            h.credential_body("https://evil.example/steal", &good),
            "egress_denied",
        ),
        (
            h.credential_body("http://10.0.0.1/x", &good),
            "egress_denied",
        ),
        (json!({"name": "x"}), "invalid_request"),
        (
            json!({"name": "", "kind": "api_token", "ciphertext": good,
                "action": {"method": "POST", "url": url, "inject": {"type": "bearer"}}}),
            "invalid_request",
        ),
        (
            json!({"name": "x", "kind": "api_token", "ciphertext": good,
                "action": {"method": "GET", "url": url, "inject": {"type": "bearer"}}}),
            "invalid_request",
        ),
        (
            json!({"name": "x", "kind": "api_token", "ciphertext": good,
                "action": {"method": "POST", "url": url, "inject": {"type": "header", "name": "Host"}}}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let reply = h.call("POST", "/admin/orgs/bad/credentials", body).await;
        assert_eq!(reply.body["error"], code, "{}", reply.body);
        assert!(reply.status >= 400 && reply.status < 500);
    }
    let missing = h
        .call(
            "POST",
            "/admin/orgs/nobody/credentials",
            h.credential_body(url, &good),
        )
        .await;
    assert_eq!(missing.body["error"], "org_not_found");
    assert!(h.credential_items("bad").await.is_empty());
    assert!(h.live_secrets("bad").await.is_empty());
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_proves_the_key_and_leaves_nothing_on_failure() {
    let h = Harness::new("register").await;
    let unknown =
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000");
    let reply = h
        .call(
            "POST",
            "/admin/orgs",
            json!({"org": "ghost", "name": "Ghost", "key_arn": unknown}),
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.body["error"], "not_found");
    assert_eq!(
        h.call("GET", "/admin/orgs/ghost", Value::Null).await.body["error"],
        "org_not_found"
    );

    for bad in [
        json!({"org": "Bad_Org", "name": "x", "key_arn": unknown}),
        json!({"org": "ok", "name": "x", "key_arn": "alias/foo"}),
        json!({"org": "ok", "name": "x", "key_arn": unknown, "egress_allowlist": ["https://x"]}),
        json!({"org": "ok", "name": "x", "key_arn": unknown, "surprise": 1}),
    ] {
        let reply = h.call("POST", "/admin/orgs", bad).await;
        assert_eq!(reply.body["error"], "invalid_request", "{}", reply.body);
    }

    h.onboard("twice", &[]).await;
    let again = h
        .call(
            "POST",
            "/admin/orgs",
            json!({"org": "twice", "name": "x", "key_arn": h.create_org_key("twice").await}),
        )
        .await;
    assert_eq!(again.body["error"], "org_exists");

    // The intake key is served as PEM and as an RSA-3072 JWK.
    let key = h
        .call("GET", "/admin/orgs/twice/intake-key", Value::Null)
        .await;
    assert_eq!(key.body["jwk"]["kty"], "RSA");
    assert_eq!(key.body["jwk"]["alg"], "RSA-OAEP-256");
    assert_eq!(key.body["jwk"]["n"].as_str().map(str::len), Some(512));
}

/// The platform template gives admin `SAMLGATE_SECRETS_KMS_KEY`: credential secrets are then
/// encrypted at rest under the platform key, not the account's `aws/secretsmanager` key.
#[tokio::test(flavor = "multi_thread")]
async fn credential_secrets_are_encrypted_at_rest_under_the_configured_key() {
    use samlgate_domain::ports::SecretWriter;
    let h = Harness::new("at-rest").await;
    // Any key moto knows will do: the point is which key Secrets Manager is told to use.
    let platform_key = h.create_org_key("at-rest").await;
    let secrets = samlgate_aws::Secrets::new(&h.sdk).with_at_rest_key(Some(platform_key.clone()));
    let org = samlgate_domain::ids::OrgId::parse("at-rest").expect("org");
    let created = secrets
        .create_secret("samlgate/at-rest/credentials/c1", &org, "envelope")
        .await
        .expect("create secret");
    let described = aws_sdk_secretsmanager::Client::new(&h.sdk)
        .describe_secret()
        .secret_id(&created.arn)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.kms_key_id(), Some(platform_key.as_str()));
}

/// The console's two routes over the real adapters: provisioning started from admin (the dev
/// server's in-process invoker; `provisioning_unavailable` where there is none), and the audit
/// search, newest first across DynamoDB pages, filtered, bounded.
#[tokio::test(flavor = "multi_thread")]
async fn admin_starts_provisioning_and_searches_the_audit_log() {
    let h = Harness::new("console-routes").await;
    let target = Target::start(200);
    h.onboard("acme", &["127.0.0.1"]).await;
    let secret = "console-route-secret-1";
    let stored = h
        .store("acme", &target.url(), &h.encrypt_for("acme", secret).await)
        .await;
    let id = id_of(&stored);
    let path = format!("/admin/orgs/acme/credentials/{id}/provision");

    let refused = h.call("POST", &path, Value::Null).await;
    assert_eq!(refused.status, 501);
    assert_eq!(refused.body["error"], "provisioning_unavailable");
    assert!(target.requests().is_empty());

    let mut admin = h.admin.clone();
    admin.provisioner = Some(std::sync::Arc::new(samlgate_provision::InProcess(
        h.provision_app("acme", None),
    )));
    let done = h.call_with(&admin, "POST", &path, Value::Null).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["outcome"]["status"], 200);
    assert!(!done.body.to_string().contains(secret));
    assert!(target.requests()[0].contains(&format!("SSWS {secret}\r\n")));
    let unknown = h
        .call_with(
            &admin,
            "POST",
            "/admin/orgs/acme/credentials/c-000000000000000000000000/provision",
            Value::Null,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "credential_not_found");
    // admin records who asked; provision records what it did, under the same correlation ID.
    let audit = h.audit_items("acme").await;
    let asked: Vec<&Value> = audit
        .iter()
        .filter(|a| a["action"] == "credential.provision_request")
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    let done = asked
        .iter()
        .find(|a| a["outcome"] == "ok")
        .expect("the request that ran");
    assert_ne!(done["actor"], "provision");
    assert!(audit
        .iter()
        .any(|a| a["action"] == "credential.provision"
            && a["correlation_id"] == done["correlation_id"]));

    // Enough events for two DynamoDB pages of the search (500 each).
    let org = samlgate_domain::ids::OrgId::parse("acme").expect("org");
    for i in 0..620 {
        let event = samlgate_domain::audit::AuditEvent {
            org: org.clone(),
            at: format!("2030-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
            correlation_id: format!("bulk-{i:03}"),
            actor: "test".into(),
            action: if i % 100 == 0 {
                "bulk.rare"
            } else {
                "bulk.common"
            }
            .into(),
            outcome: samlgate_domain::audit::Outcome::Ok,
            reason: None,
            credential_id: None,
            facts: Default::default(),
            count: None,
            last_at: None,
        };
        samlgate_domain::ports::AuditLog::record(h.table.as_ref(), &event)
            .await
            .expect("record");
    }
    let search = |query: &str| {
        let path = format!("/admin/orgs/acme/audit{query}");
        let h = &h;
        async move { h.call("GET", &path, Value::Null).await }
    };
    let rare = search("?action=bulk.rare").await;
    assert_eq!(rare.status, 200, "{}", rare.body);
    let ids: Vec<&str> = rare.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["correlation_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["bulk-600", "bulk-500", "bulk-400", "bulk-300", "bulk-200", "bulk-100", "bulk-000"]
    );
    assert_eq!(rare.body["scanned_all"], true);
    let newest = search("?limit=2").await;
    let ids: Vec<&str> = newest.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["correlation_id"].as_str())
        .collect();
    assert_eq!(ids, ["bulk-619", "bulk-618"], "the newest first");
    assert_eq!(newest.body["scanned_all"], false);
    assert_eq!(newest.body["next_until"], "2030-01-01T00:10:18Z");
    // A time window is a key condition: only its items are read (issue 17 §4).
    let minute = search("?from=2030-01-01T00:05:00Z&until=2030-01-01T00:06:00Z&limit=500").await;
    assert_eq!(minute.status, 200, "{}", minute.body);
    let ids: Vec<&str> = minute.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["correlation_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 60);
    assert_eq!((ids[0], ids[59]), ("bulk-359", "bulk-300"));
    assert_eq!(minute.body["scanned_all"], true);
    let bad = search("?from=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z").await;
    assert_eq!(
        (bad.status, bad.body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // Anonymous failures are counted into one item per minute, IdP and reason, with a TTL.
    let failure = samlgate_domain::audit::AuditEvent {
        org: org.clone(),
        at: "2031-01-01T00:00:00Z".into(),
        correlation_id: "junk-1".into(),
        actor: "anonymous".into(),
        action: "sso.login".into(),
        outcome: samlgate_domain::audit::Outcome::Error,
        reason: Some("malformed".into()),
        credential_id: None,
        facts: [("idp".to_owned(), "okta".to_owned())].into(),
        count: None,
        last_at: None,
    };
    for n in 0..3 {
        let event = samlgate_domain::audit::AuditEvent {
            correlation_id: format!("junk-{n}"),
            ..failure.clone()
        };
        samlgate_domain::ports::AuditLog::count_failure(h.table.as_ref(), &event, 1_924_992_000)
            .await
            .expect("count");
    }
    let counted = search("?from=2031-01-01T00:00:00Z").await;
    let events = counted.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{}", counted.body);
    assert_eq!(
        (
            events[0]["count"].as_u64(),
            events[0]["correlation_id"].as_str()
        ),
        (Some(3), Some("junk-2"))
    );
    let stored: Vec<Value> = h
        .table
        .scan_all()
        .await
        .expect("scan")
        .into_iter()
        .filter(|i| i["count"] == 3)
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["expires_at"], 1_924_992_000);
    assert!(stored[0]["sk"]
        .as_str()
        .expect("sk")
        .starts_with("2031-01-01T00:00:00.000000000Z#agg#sso.login#okta#malformed"));
    // The prefix matches both steps of the one provisioning that ran.
    let provisioning = search("?action=credential.provision&outcome=ok").await;
    let mut actions: Vec<&str> = provisioning.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["credential.provision", "credential.provision_request"]
    );
    for bad in ["?limit=0", "?outcome=maybe", "?who=me"] {
        let reply = search(bad).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.body["error"], "invalid_request");
    }
    let other = h.call("GET", "/admin/orgs/nobody/audit", Value::Null).await;
    assert_eq!(other.body["error"], "org_not_found");
}
