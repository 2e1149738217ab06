//! One organisation's provisioning function cannot open another's credential, by any route
//! the storage allows; admin has no capability that decrypts.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn another_orgs_provision_cannot_decrypt_and_moved_ciphertexts_fail() {
    let h = Harness::new("isolation").await;
    let target = Target::start(200);
    h.onboard("alpha", &["127.0.0.1"]).await;
    h.onboard("beta", &["127.0.0.1"]).await;
    let a = h
        .store(
            "alpha",
            &target.url(),
            &h.encrypt_for("alpha", "alpha-secret").await,
        )
        .await;
    let b = h
        .store(
            "beta",
            &target.url(),
            &h.encrypt_for("beta", "beta-secret").await,
        )
        .await;
    let a_id = a.body["id"].as_str().expect("id").to_owned();
    let b_id = b.body["id"].as_str().expect("id").to_owned();
    let beta = h.provision_app("beta", None);

    // 1. beta's deployment refuses a request for alpha.
    assert_eq!(
        h.provision(&beta, "alpha", &a_id).await["error"],
        "wrong_organisation"
    );
    // 2. Asked for alpha's credential id under its own org: there is no such credential.
    assert_eq!(
        h.provision(&beta, "beta", &a_id).await["error"],
        "credential_not_found"
    );

    // 3. alpha's envelope copied into beta's secret: the envelope names alpha → refused before KMS.
    let sm = aws_sdk_secretsmanager::Client::new(&h.sdk);
    let alpha_value = sm
        .get_secret_value()
        .secret_id(a.body["secret_arn"].as_str().expect("arn"))
        .send()
        .await
        .expect("read alpha")
        .secret_string
        .expect("value");
    let moved = sm
        .put_secret_value()
        .secret_id(b.body["secret_arn"].as_str().expect("arn"))
        .secret_string(&alpha_value)
        .send()
        .await
        .expect("move");
    let repoint = |version: String| {
        let table = h.table.name().to_owned();
        let ddb = aws_sdk_dynamodb::Client::new(&h.sdk);
        let b_id = b_id.clone();
        async move {
            ddb.update_item()
                .table_name(table)
                .key("pk", AttributeValue::S("ORG#beta".into()))
                .key("sk", AttributeValue::S(format!("CRED#{b_id}")))
                .update_expression("SET secret_version_id = :v")
                .expression_attribute_values(":v", AttributeValue::S(version))
                .send()
                .await
                .expect("repoint");
        }
    };
    repoint(moved.version_id.clone().expect("version")).await;
    assert_eq!(
        h.provision(&beta, "beta", &b_id).await["error"],
        "envelope_mismatch"
    );

    // 4. The attacker also rewrites the envelope's context and key to beta's: KMS (pinned to
    //    beta's key, with beta's context) refuses alpha's wrapped data key.
    let mut envelope: Value = serde_json::from_str(&alpha_value).expect("envelope");
    let beta_org = h.call("GET", "/admin/orgs/beta", Value::Null).await;
    envelope["ctx"]["org"] = "beta".into();
    envelope["ctx"]["id"] = b_id.clone().into();
    envelope["kms_key"] = beta_org.body["key_arn"].clone();
    let forged = sm
        .put_secret_value()
        .secret_id(b.body["secret_arn"].as_str().expect("arn"))
        .secret_string(envelope.to_string())
        .send()
        .await
        .expect("forge");
    repoint(forged.version_id.clone().expect("version")).await;
    let out = h.provision(&beta, "beta", &b_id).await;
    assert!(
        out["error"] == "envelope_invalid" || out["error"] == "key_access_denied",
        "{out}"
    );
    assert!(target.requests().is_empty(), "nothing may reach the target");
}
