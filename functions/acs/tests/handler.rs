//! The acs handler, every path: the real domain over in-memory ports, Responses signed by
//! libxmlsec1 (the core's fixtures), and the reason code each failure leaves in the audit log.
//! The browser's page never carries the reason.

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod oidc;
mod support;

use samlgate_acs::route;
use samlgate_domain::idp::{IdpSettings, MatchRules};
use support::*;

const LATER: i64 = 1_767_225_660 + 600; // NOW + 10 min

fn settings() -> IdpSettings {
    IdpSettings {
        mapping: samlgate_domain::idp::Mapping {
            subject: None,
            email: Some("email".into()),
            name: Some("displayName".into()),
            groups: Some("groups".into()),
        },
        ..IdpSettings::default()
    }
}

async fn rejected(acs: &Acs, page: samlgate_acs::Page, status: u16, code: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.body.contains("Sign-in failed") && page.body.contains("corr-1"));
    assert!(
        !page.body.contains(code),
        "the page must not name the reason"
    );
    assert_eq!(acs.last_reason().as_deref(), Some(code));
    assert!(
        acs.store.sessions.lock().unwrap().is_empty(),
        "no session on failure"
    );
}

#[tokio::test]
async fn a_solicited_response_yields_a_session_and_a_token_for_the_return_url() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("action=\"{RETURN}\"")));
    let fields = form_fields(&page);
    assert_eq!(fields[0].0, "id_token");
    let claims = claims(&fields[0].1);
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(
        claims["groups"],
        serde_json::json!(["admins", "engineering"])
    );
    assert_eq!(claims["iss"], "https://sp.example.com/o/acme");
    assert_eq!(claims["aud"], "acme-app");
    assert_eq!(claims["org"], "acme");
    assert_eq!(claims["idp"], "okta");
    assert_eq!(
        claims["acr"],
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let sessions = acs.store.sessions.lock().unwrap().clone();
    let session = sessions.values().next().expect("one session");
    assert_eq!(claims["sid"], session.id.as_str());
    assert_eq!(session.session_index.as_deref(), Some("_session-7a1"));
    let event = acs.audit().pop().unwrap();
    assert_eq!(event.action, "sso.login");
    assert_eq!(event.reason, None);
    assert_eq!(event.facts["assertion_id"], "_assert-0001");
    assert!(
        acs.store.logins.lock().unwrap().is_empty(),
        "the state is used up"
    );
}

#[tokio::test]
async fn the_same_response_cannot_be_used_twice() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "okta", LATER);
    assert_eq!(
        acs.post(&response("samlgate_sp_entity_id"), Some(&state('a')))
            .await
            .status,
        200
    );
    // Replayed with the used-up RelayState: no login in flight.
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(acs.last_reason().as_deref(), Some("request_state_unknown"));
    // Replayed under a fresh login for the same request ID: the replay cache says no.
    acs.expect_login(&state('b'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('b')))
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(acs.last_reason().as_deref(), Some("replayed"));
    assert_eq!(acs.store.sessions.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_relay_state_without_a_login_in_flight_is_refused() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('c')))
        .await;
    rejected(&acs, page, 400, "request_state_unknown").await;
}

#[tokio::test]
async fn an_expired_login_is_refused() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "okta", NOW.unix_timestamp());
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    rejected(&acs, page, 400, "request_state_expired").await;
}

#[tokio::test]
async fn a_login_started_for_another_idp_is_refused() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "entra", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    rejected(&acs, page, 400, "request_state_mismatch").await;
}

#[tokio::test]
async fn unsolicited_responses_need_the_idps_permission() {
    let acs = Acs::new(settings()).await;
    let page = acs.post(&response("samlgate_sp_entity_id"), None).await;
    rejected(&acs, page, 400, "unsolicited_not_allowed").await;
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(RETURN))
        .await;
    rejected(&acs, page, 400, "unsolicited_not_allowed").await;
}

#[tokio::test]
async fn an_allowed_unsolicited_response_may_only_name_an_allowed_return_url() {
    let acs = Acs::new(IdpSettings {
        allow_idp_initiated: true,
        ..settings()
    })
    .await;
    let page = acs
        .post(
            &response("samlgate_sp_entity_id"),
            Some("https://evil.example.com/"),
        )
        .await;
    rejected(&acs, page, 400, "return_to_not_allowed").await;
    // With no login in flight the verifier expects no InResponseTo; this one has one.
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(RETURN))
        .await;
    rejected(&acs, page, 400, "unexpected_in_response_to").await;
}

#[tokio::test]
async fn verifier_failures_keep_their_codes() {
    for (fixture, code) in [
        ("response_signed", "audience_mismatch"),
        ("xsw1", "signature_profile"),
        ("xsw_same_id", "duplicate_id"),
        ("attacker_key_info", "untrusted_key"),
    ] {
        let acs = Acs::new(settings()).await;
        acs.expect_login(&state('a'), "okta", LATER);
        let page = acs.post(&response(fixture), Some(&state('a'))).await;
        assert_eq!(page.status, 400, "{fixture}");
        let reason = acs.last_reason().unwrap();
        assert_eq!(reason, code, "{fixture}");
    }
}

#[tokio::test]
async fn match_rules_are_enforced_after_verification() {
    for (rules, code) in [
        (
            MatchRules {
                required_group: Some("finance".into()),
                ..MatchRules::default()
            },
            "group_required",
        ),
        (
            MatchRules {
                subject_pattern: Some(r".*@other\.example".into()),
                ..MatchRules::default()
            },
            "subject_rejected",
        ),
        (
            MatchRules {
                authn_context: vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:X509".into()],
                ..MatchRules::default()
            },
            "authn_context_rejected",
        ),
    ] {
        let acs = Acs::new(IdpSettings {
            rules,
            ..settings()
        })
        .await;
        acs.expect_login(&state('a'), "okta", LATER);
        let page = acs
            .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
            .await;
        rejected(&acs, page, 403, code).await;
    }
}

#[tokio::test]
async fn a_subject_attribute_that_is_absent_is_refused() {
    let mut s = settings();
    s.mapping.subject = Some("employeeNumber".into());
    let acs = Acs::new(s).await;
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    rejected(&acs, page, 400, "subject_missing").await;
}

#[tokio::test]
async fn an_organisation_key_that_no_longer_opens_the_sp_keys_stops_logins() {
    let mut acs = Acs::new(settings()).await;
    // Another KMS: every sealed SP key is now unreadable, as with a revoked BYOK key.
    acs.app.kms = std::sync::Arc::new(samlgate_domain::memory::LocalKms::new().unwrap());
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 502, "an upstream (KMS) failure");
    assert_eq!(acs.last_reason().as_deref(), Some("envelope_invalid"));
    let _ = &acs.kms;
}

#[tokio::test]
async fn login_redirects_with_a_signed_request_and_stores_the_state() {
    let acs = Acs::new(settings()).await;
    let page = route(
        &acs.app,
        "corr-1",
        "GET",
        "/o/acme/login",
        "login_hint=bob@acme.example",
        b"",
    )
    .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert!(location.starts_with("https://idp.example.com/sso/redirect?SAMLRequest="));
    assert!(location.contains("&SigAlg=") && location.contains("&Signature="));
    let logins = acs.store.logins.lock().unwrap().clone();
    let (relay_state, login) = logins.iter().next().unwrap();
    assert!(location.contains(&format!("RelayState={relay_state}")));
    assert_eq!(login.return_to, RETURN);
    assert_eq!(login.idp.as_str(), "okta");
    let event = acs.audit().pop().unwrap();
    assert_eq!(
        (event.action.as_str(), event.reason),
        ("sso.login_start", None)
    );
    assert_eq!(event.facts["request_id"], login.request_id);
}

#[tokio::test]
async fn login_posts_a_signed_request_when_the_idp_wants_post() {
    let acs = Acs::new(IdpSettings {
        request_binding: samlgate_domain::idp::RequestBinding::Post,
        ..settings()
    })
    .await;
    let page = route(&acs.app, "corr-1", "GET", "/o/acme/login", "", b"").await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("action=\"https://idp.example.com/sso/post\""));
    let fields = form_fields(&page);
    assert_eq!(fields[0].0, "SAMLRequest");
    use base64::Engine as _;
    let xml = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&fields[0].1)
            .unwrap(),
    )
    .unwrap();
    assert!(
        xml.contains("<ds:SignatureValue>")
            && !xml.contains("<ds:SignatureValue></ds:SignatureValue>")
    );
}

#[tokio::test]
async fn login_failures_are_audited_with_their_codes() {
    let acs = Acs::new(settings()).await;
    for (query, status, code) in [
        (
            "return_to=https%3A%2F%2Fevil.example.com%2F",
            400,
            "return_to_not_allowed",
        ),
        ("idp=entra", 404, "idp_not_found"),
        ("idp=okta&idp=entra", 400, "invalid_request"),
    ] {
        let page = route(&acs.app, "corr-1", "GET", "/o/acme/login", query, b"").await;
        assert_eq!(page.status, status, "{query}");
        if code != "invalid_request" {
            assert_eq!(acs.last_reason().as_deref(), Some(code), "{query}");
        }
    }
    assert!(acs.store.logins.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_organisation_leaves_no_audit_item() {
    let acs = Acs::new(settings()).await;
    let page = route(&acs.app, "corr-1", "GET", "/o/nobody/login", "", b"").await;
    assert_eq!(page.status, 404);
    assert!(acs.audit().is_empty());
}

#[tokio::test]
async fn unknown_routes_and_oversized_bodies_get_the_generic_page() {
    let acs = Acs::new(settings()).await;
    assert_eq!(
        route(&acs.app, "c", "GET", "/o/acme/idp/okta/acs", "", b"")
            .await
            .status,
        404
    );
    let big = vec![b'a'; samlgate_acs::MAX_BODY_BYTES + 1];
    assert_eq!(
        route(&acs.app, "c", "POST", "/o/acme/idp/okta/acs", "", &big)
            .await
            .status,
        400
    );
}

async fn signed_in(acs: &Acs) -> String {
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 200);
    claims(&form_fields(&page)[0].1)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn sp_initiated_logout_ends_the_session_then_sends_a_signed_request_to_the_idp() {
    let acs = Acs::new(settings()).await;
    let sid = signed_in(&acs).await;
    let page = route(
        &acs.app,
        "corr-1",
        "GET",
        "/o/acme/idp/okta/slo",
        &format!("sid={sid}"),
        b"",
    )
    .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.header("location").unwrap();
    assert!(
        location.starts_with("https://idp.example.com/slo?SAMLRequest="),
        "{location}"
    );
    assert!(location.contains("&SigAlg=") && location.contains("&Signature="));
    assert!(acs.store.sessions.lock().unwrap().is_empty());
    let logins = acs.store.logins.lock().unwrap().clone();
    let state = logins.values().next().unwrap();
    assert_eq!(
        state.purpose,
        samlgate_domain::session::StatePurpose::Logout
    );
    assert_eq!(state.return_to, RETURN);
    // A logout state cannot be spent on a login.
    let relay = state.relay_state.clone();
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&relay))
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(acs.last_reason().as_deref(), Some("request_state_mismatch"));
}

#[tokio::test]
async fn logout_failures_are_audited_with_their_codes() {
    let acs = Acs::new(settings()).await;
    let sid = signed_in(&acs).await;
    for (query, code) in [
        (
            "sid=s-000000000000000000000000".to_owned(),
            "session_unknown",
        ),
        (
            format!("sid={sid}&return_to=https%3A%2F%2Fevil.example.com%2F"),
            "return_to_not_allowed",
        ),
        (
            "SAMLRequest=fVLLbsIwEPyVyHeTBwRaiyBROFRUtDr5U&RelayState=x".to_owned(),
            "signature_invalid",
        ),
    ] {
        let page = route(
            &acs.app,
            "corr-1",
            "GET",
            "/o/acme/idp/okta/slo",
            &query,
            b"",
        )
        .await;
        assert_eq!(page.status, 400, "{query}");
        assert_eq!(acs.last_reason().as_deref(), Some(code), "{query}");
    }
    assert_eq!(acs.store.sessions.lock().unwrap().len(), 1, "nothing ended");
    let page = route(
        &acs.app,
        "corr-1",
        "POST",
        "/o/acme/idp/okta/slo",
        "",
        b"SAMLRequest=x",
    )
    .await;
    assert_eq!(page.status, 400);
}
