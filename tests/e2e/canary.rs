//! No secret in the clear: plant a random canary, run every flow (failing ones too), then look for it
//! everywhere it must not be.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn canary_appears_nowhere_but_at_the_provisioning_target() {
    let h = Harness::new("canary").await;
    let canary = format!("CANARY-{:016x}", rand_u64());
    let ok_target = Target::start(200);
    let failing_target = Target::start(500);
    h.onboard("canary", &["127.0.0.1"]).await;
    h.onboard("canary-other", &["127.0.0.1"]).await;

    // Intake (Rust ESDK and Python ESDK), update, a refused intake (wrong org's key), a failed
    // provisioning (target 500), a refused provisioning (wrong org), success, delete.
    let ct = h.encrypt_for("canary", &canary).await;
    let stored = h.store("canary", &ok_target.url(), &ct).await;
    let id = stored.body["id"].as_str().expect("id").to_owned();
    let (pem, ns, name) = h.intake_key("canary").await;
    let py = h
        .store(
            "canary",
            &failing_target.url(),
            &encrypt_with_python(&pem, &ns, &name, &canary),
        )
        .await;
    let py_id = py.body["id"].as_str().expect("id").to_owned();
    let refused = h
        .store(
            "canary",
            &ok_target.url(),
            &h.encrypt_for("canary-other", &canary).await,
        )
        .await;
    assert_eq!(refused.body["error"], "ciphertext_wrong_key");
    // The plaintext pasted into the wrong fields by mistake: refused without echoing it.
    let mut pasted = h.credential_body(&ok_target.url(), &canary);
    assert_eq!(
        h.call("POST", "/admin/orgs/canary/credentials", pasted.clone())
            .await
            .body["error"],
        "ciphertext_malformed"
    );
    // The form route reached without CloudFront's field-level encryption: plaintext secret.
    assert_eq!(
        h.call_raw(
            &h.admin,
            "POST",
            "/admin/orgs/canary/credentials/form",
            &h.credential_form(&ok_target.url(), &canary),
        )
        .await
        .body["error"],
        "ciphertext_malformed"
    );
    pasted["kind"] = canary.clone().into();
    assert_eq!(
        h.call("POST", "/admin/orgs/canary/credentials", pasted.clone())
            .await
            .body["error"],
        "invalid_request"
    );
    pasted["kind"] = "api_token".into();
    pasted["action"]["inject"] = serde_json::json!({"type": canary});
    assert_eq!(
        h.call("POST", "/admin/orgs/canary/credentials", pasted)
            .await
            .body["error"],
        "invalid_request"
    );
    let path = format!("/admin/orgs/canary/credentials/{id}");
    let updated = h
        .call(
            "PUT",
            &path,
            json!({"ciphertext": h.encrypt_for("canary", &canary).await}),
        )
        .await;
    assert_eq!(updated.status, 200);

    let app = h.provision_app("canary", None);
    assert_eq!(
        h.provision(&app, "canary", &py_id).await["error"],
        "target_failed"
    );
    assert_eq!(
        h.provision(&h.provision_app("canary-other", None), "canary", &id)
            .await["error"],
        "wrong_organisation"
    );
    assert_eq!(h.provision(&app, "canary", &id).await["ok"], true);
    for reply in [
        h.call("GET", &path, Value::Null).await,
        h.call("GET", "/admin/orgs/canary/credentials", Value::Null)
            .await,
    ] {
        assert_eq!(reply.status, 200);
    }

    // Secrets Manager values, raw and with every base64 field decoded (read before deletion).
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk);
    let listed = sm
        .list_secrets()
        .send()
        .await
        .expect("list")
        .secret_list
        .unwrap_or_default();
    let mut values = Vec::new();
    for s in &listed {
        let arn = s.arn.clone().expect("arn");
        let versions = sm
            .list_secret_version_ids()
            .secret_id(&arn)
            .include_deprecated(true)
            .send()
            .await
            .expect("versions");
        for v in versions.versions.unwrap_or_default() {
            let value = sm
                .get_secret_value()
                .secret_id(&arn)
                .version_id(v.version_id.expect("version id"))
                .send()
                .await
                .expect("value")
                .secret_string
                .unwrap_or_default();
            values.push(value);
        }
    }
    assert!(
        values.len() >= 3,
        "expected at least three stored versions, got {}",
        values.len()
    );
    assert_eq!(h.call("DELETE", &path, Value::Null).await.status, 200);

    let b64_canary = B64.encode(&canary);
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for v in &values {
        haystacks.push(("secret value".into(), v.clone()));
        let envelope: Value = serde_json::from_str(v).expect("secret is an envelope");
        for field in ["edk", "iv", "ct"] {
            let decoded = B64
                .decode(envelope[field].as_str().expect("field"))
                .expect("base64");
            haystacks.push((
                format!("secret {field} decoded"),
                String::from_utf8_lossy(&decoded).into_owned(),
            ));
        }
    }
    for item in h.table.scan_all().await.expect("scan") {
        haystacks.push(("dynamodb item".into(), item.to_string()));
    }
    haystacks.push(("logs".into(), captured_logs()));
    for reply in h.replies.lock().expect("replies").iter() {
        haystacks.push(("handler response".into(), reply.clone()));
    }
    for (place, text) in &haystacks {
        assert!(!text.contains(&canary), "canary found in {place}");
        assert!(
            !text.contains(&b64_canary),
            "base64 canary found in {place}"
        );
        assert!(!text.contains(TARGET_BODY), "target body found in {place}");
    }
    assert!(
        captured_logs().contains("provisioned"),
        "logs were captured"
    );

    // And it did arrive where it should, exactly.
    let delivered = ok_target.requests();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].contains(&format!("authorization: SSWS {canary}\r\n")));
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("random");
    u64::from_be_bytes(b)
}
