//! The acs handler, every path: the real domain over in-memory ports, Responses signed by
//! libxmlsec1 (the core's fixtures), and the reason code each failure leaves in the audit log.
//! The browser's page never carries the reason.

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod oidc;
mod support;

use samlgate_acs::{route, HttpRequest};
use samlgate_domain::client::TokenAuthMethod;
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
async fn a_test_sign_in_shows_the_identity_a_client_would_receive_and_issues_nothing() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Test sign-in succeeded"));
    assert!(page.body.contains("Nothing was issued"));
    for row in [
        "<tr><th>sub</th><td>okta:alice@example.com</td></tr>",
        "<tr><th>email</th><td>alice@example.com</td></tr>",
        "<tr><th>name</th><td>Alice Example</td></tr>",
        "<tr><th>groups</th><td>admins, engineering</td></tr>",
        "<tr><th>acr</th><td>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</td></tr>",
        "<tr><th>idp</th><td>okta</td></tr>",
        "<tr><th>NameID</th><td>alice@example.com</td></tr>",
    ] {
        assert!(page.body.contains(row), "{row} in {}", page.body);
    }
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.header("location").is_none());
    assert!(acs.store.sessions.lock().unwrap().is_empty(), "no session");
    assert!(acs.store.codes.lock().unwrap().is_empty(), "no code");
    let event = acs.audit().pop().unwrap();
    assert_eq!(event.action, "sso.login");
    assert_eq!(event.reason, None);
    assert_eq!(event.facts["test"], "true");
    assert_eq!(event.facts["assertion_id"], "_assert-0001");
    assert_eq!(event.facts["sub"], "okta:alice@example.com");
    assert!(!event.facts.contains_key("session_id"));
    assert!(
        acs.store.logins.lock().unwrap().is_empty(),
        "the state is used up"
    );
}

#[tokio::test]
async fn a_test_sign_in_completes_only_in_the_browser_that_started_it() {
    let acs = Acs::new(settings()).await;
    for cookie in [
        None,
        Some("__Host-samlgate-login=ffffffffffffffffffffffffffffffff"),
    ] {
        acs.expect_login(&state('a'), "okta", LATER);
        let page = acs
            .post_with_cookie(&response("samlgate_sp_entity_id"), &state('a'), cookie)
            .await;
        assert_eq!(page.status, 400, "{cookie:?}");
        assert!(!page.body.contains("Test sign-in succeeded"));
        assert_eq!(acs.last_reason().as_deref(), Some("browser_mismatch"));
    }
}

/// The ACS makes its reads together; what a post is refused for is still decided in the order
/// of the checks: the IdP before the login in flight, the browser before the SP keys.
#[tokio::test]
async fn a_posts_reads_run_together_and_its_refusals_keep_their_order() {
    use samlgate_domain::PortErrorKind;
    let acs = Acs::new(settings()).await;
    let this_browser = format!("__Host-samlgate-login={BINDING}");
    acs.store.faults.fail("get_login", PortErrorKind::Timeout);
    acs.store.faults.fail("sp_keys", PortErrorKind::Timeout);
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("SAMLResponse", &response("samlgate_sp_entity_id"));
    form.append_pair("RelayState", &state('a'));
    let body = form.finish();
    let page = acs
        .request(HttpRequest {
            method: "POST",
            path: "/o/acme/idp/nobody/acs",
            body: body.as_bytes(),
            cookie: Some(&this_browser),
            ..HttpRequest::default()
        })
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(acs.last_reason().as_deref(), Some("idp_not_found"));

    acs.store.faults.heal("get_login");
    acs.expect_login(&state('a'), "okta", LATER);
    let elsewhere = "__Host-samlgate-login=ffffffffffffffffffffffffffffffff";
    let page = acs
        .post_with_cookie(
            &response("samlgate_sp_entity_id"),
            &state('a'),
            Some(elsewhere),
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(acs.last_reason().as_deref(), Some("browser_mismatch"));

    acs.expect_login(&state('b'), "okta", LATER);
    let page = acs
        .post_with_cookie(
            &response("samlgate_sp_entity_id"),
            &state('b'),
            Some(&this_browser),
        )
        .await;
    assert!(page.status >= 500, "{} {}", page.status, page.body);
    assert_eq!(acs.last_reason().as_deref(), Some("aws_timeout"));

    acs.store.faults.heal("sp_keys");
    acs.expect_login(&state('c'), "okta", LATER);
    let page = acs
        .post_with_cookie(
            &response("samlgate_sp_entity_id"),
            &state('c'),
            Some(&this_browser),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Test sign-in succeeded"));
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
    let accepted = acs
        .audit()
        .iter()
        .filter(|e| e.action == "sso.login" && e.reason.is_none())
        .count();
    assert_eq!(accepted, 1);
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
        .post(
            &response("samlgate_sp_entity_id"),
            Some("https://app.example.com/cb"),
        )
        .await;
    rejected(&acs, page, 400, "unsolicited_not_allowed").await;
}

/// One way in: an allowed unsolicited Response only starts the client's own OIDC login
/// (OIDC Core §4), so its RelayState must name a client that registered an
/// `initiate_login_uri`; a URL, an unknown client or one without that URI is refused.
#[tokio::test]
async fn an_allowed_unsolicited_response_must_name_a_client_with_an_initiate_login_uri() {
    let acs = Acs::new(IdpSettings {
        allow_idp_initiated: true,
        ..settings()
    })
    .await;
    let (plain, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    let (tiled, _) = acs
        .client_with(
            TokenAuthMethod::ClientSecretBasic,
            Some("https://app.example.com/start-login"),
        )
        .await;
    for relay in [
        None,
        Some(""),
        Some("https://evil.example.com/"),
        Some("unknown-client"),
        Some(plain.as_str()),
    ] {
        let page = acs.post(&response("samlgate_sp_entity_id"), relay).await;
        rejected(&acs, page, 400, "unsolicited_client_unknown").await;
    }
    // With no login in flight the verifier expects no InResponseTo; this one has one. (The
    // e2e suite's pysaml2 IdP sends a real unsolicited Response through to the redirect.)
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&tiled))
        .await;
    rejected(&acs, page, 400, "unexpected_in_response_to").await;
}

/// Advisory regression (issue 17 §6): the IdP-initiated path checks the organisation and
/// the IdP like any other, before the Response is even verified: a suspended organisation or
/// an IdP that is no longer registered gets nothing, not even the redirect to the client.
#[tokio::test]
async fn an_unsolicited_response_for_a_suspended_organisation_or_a_removed_idp_is_refused() {
    let acs = Acs::new(IdpSettings {
        allow_idp_initiated: true,
        ..settings()
    })
    .await;
    let (tiled, _) = acs
        .client_with(
            TokenAuthMethod::ClientSecretBasic,
            Some("https://app.example.com/start-login"),
        )
        .await;
    acs.store
        .orgs
        .lock()
        .unwrap()
        .values_mut()
        .for_each(|o| o.status = samlgate_domain::org::OrgStatus::Suspended);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&tiled))
        .await;
    rejected(&acs, page, 400, "org_inactive").await;
    assert!(acs.store.replay.lock().unwrap().is_empty(), "not verified");

    acs.store
        .orgs
        .lock()
        .unwrap()
        .values_mut()
        .for_each(|o| o.status = samlgate_domain::org::OrgStatus::Active);
    acs.store.idps.lock().unwrap().clear();
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&tiled))
        .await;
    rejected(&acs, page, 400, "idp_not_found").await;
    assert!(acs.store.replay.lock().unwrap().is_empty(), "not verified");
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
        // One status for every refusal: the page does not tell a prober which rule failed.
        rejected(&acs, page, 400, code).await;
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
    assert_eq!(login.idp.as_str(), "okta");
    // A test sign-in: no OIDC request, bound to this browser by its cookie.
    assert!(login.authorize.is_none());
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.starts_with("__Host-samlgate-login=")
            && cookie.contains("; Secure; HttpOnly; SameSite=None"),
        "{cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-samlgate-login=");
    assert_eq!(
        login.browser.as_deref(),
        Some(samlgate_domain::ids::sha256_hex(value.as_bytes()).as_str())
    );
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
        ("idp=entra", 400, "idp_not_found"),
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

/// Issue 17 §4: junk posts (anyone can send them) are counted per minute, IdP and reason,
/// not itemised, so a flood is a handful of items and every real event stays in the
/// console's view; made-up IdP names share one aggregate. Failures after the signature
/// verified are still one item each.
#[tokio::test]
async fn a_flood_of_anonymous_acs_failures_is_counted_not_itemised() {
    let acs = Acs::new(settings()).await;
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(acs.audit().len(), 1, "a real sign-in is itemised");
    for i in 0..5_000 {
        let junk = if i % 2 == 0 {
            "PGp1bms+"
        } else {
            "not base64 at all"
        };
        acs.post(junk, None).await;
    }
    for i in 0..200 {
        acs.request(HttpRequest {
            method: "POST",
            path: &format!("/o/acme/idp/made-up-{i}/acs"),
            body: b"SAMLResponse=PGp1bms%2B",
            ..HttpRequest::default()
        })
        .await;
    }
    let audit = acs.audit();
    let aggregates: Vec<_> = audit.iter().filter(|e| e.count.is_some()).collect();
    assert_eq!(audit.len() - aggregates.len(), 1);
    assert!(aggregates.len() <= 3, "{aggregates:?}");
    let total: u64 = aggregates.iter().filter_map(|e| e.count).sum();
    assert_eq!(total, 5_200);
    let made_up = aggregates
        .iter()
        .find(|e| e.reason.as_deref() == Some("idp_not_found"))
        .expect("the unknown IdPs' aggregate");
    assert_eq!(
        (made_up.facts["idp"].as_str(), made_up.count),
        ("-", Some(200))
    );
    for aggregate in &aggregates {
        assert!(
            aggregate.at.ends_with(":00Z"),
            "a minute's start: {}",
            aggregate.at
        );
        assert_eq!(aggregate.action, "sso.login");
    }
}

/// Issue 15 §1: an IdP's exceptions reach the verifier; a login that needed one says which in
/// its audit item and counts in `AlgorithmExceptionsUsed`; a login that did not need a
/// configured one says that too.
#[tokio::test]
async fn algorithm_exceptions_are_honoured_audited_and_counted() {
    let refused = Acs::new(settings()).await;
    refused.expect_login(&state('a'), "okta", LATER);
    let page = refused
        .post(&response("samlgate_sp_entity_id_sha1"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 400);
    assert_eq!(
        refused.last_reason().as_deref(),
        Some("algorithm_forbidden")
    );

    let acs = Acs::new(IdpSettings {
        algorithm_exceptions: vec!["rsa-sha1".into(), "sha1".into(), "aes-cbc".into()],
        ..settings()
    })
    .await;
    acs.expect_login(&state('a'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id_sha1"), Some(&state('a')))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let event = acs.audit().pop().unwrap();
    assert_eq!(event.reason, None);
    assert_eq!(event.facts["exceptions_used"], "rsa-sha1 sha1");
    assert_eq!(event.facts["exceptions_unused"], "aes-cbc");
    assert_eq!(
        acs.metrics.counted.lock().unwrap().as_slice(),
        [(
            "acme".to_owned(),
            "okta".to_owned(),
            "AlgorithmExceptionsUsed"
        )]
    );
    // A modern Response needed none of them.
    acs.expect_login(&state('b'), "okta", LATER);
    acs.post(&response("samlgate_sp_entity_id"), Some(&state('b')))
        .await;
    let event = acs.audit().pop().unwrap();
    assert!(!event.facts.contains_key("exceptions_used"));
    assert_eq!(event.facts["exceptions_unused"], "rsa-sha1 sha1 aes-cbc");
    assert_eq!(acs.metrics.counted.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unknown_organisation_leaves_no_audit_item() {
    let acs = Acs::new(settings()).await;
    let page = route(&acs.app, "corr-1", "GET", "/o/nobody/login", "", b"").await;
    assert_eq!(page.status, 400);
    assert!(acs.audit().is_empty());
}

/// Issue 17 §5: the page of a refused login is the same, status included, whatever the check
/// that refused it (an unknown organisation or IdP, a signature, a group rule); only the
/// audit log tells them apart.
#[tokio::test]
async fn every_refused_login_gets_the_same_page_and_status_whatever_the_reason() {
    let acs = Acs::new(IdpSettings {
        rules: MatchRules {
            required_group: Some("finance".into()),
            ..MatchRules::default()
        },
        ..settings()
    })
    .await;
    let mut pages = vec![
        route(&acs.app, "corr-1", "GET", "/o/nobody/login", "", b"").await,
        route(&acs.app, "corr-1", "GET", "/o/acme/login", "idp=entra", b"").await,
    ];
    acs.expect_login(&state('a'), "okta", LATER);
    pages.push(acs.post(&response("xsw1"), Some(&state('a'))).await);
    acs.expect_login(&state('b'), "okta", LATER);
    pages.push(
        acs.post(&response("samlgate_sp_entity_id"), Some(&state('b')))
            .await,
    );
    assert_eq!(acs.last_reason().as_deref(), Some("group_required"));
    for page in &pages {
        assert_eq!((page.status, &page.body), (400, &pages[0].body));
    }
}

/// Issue 14 §2: a test sign-in started with admin's diagnostic ticket shows its failure's
/// reason and what was expected, to the browser that started it; the same failure without
/// the ticket is the generic page above.
#[tokio::test]
async fn a_diagnostic_test_sign_in_shows_why_it_failed() {
    let acs = Acs::new(IdpSettings {
        rules: MatchRules {
            required_group: Some("finance".into()),
            ..MatchRules::default()
        },
        ..settings()
    })
    .await;
    acs.expect_diagnostic_login(&state('a'), "okta", LATER);
    let page = acs.post(&response("xsw1"), Some(&state('a'))).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("Test sign-in failed"), "{}", page.body);
    let reason = acs.last_reason().unwrap();
    assert!(
        page.body
            .contains(&format!("<code id=\"reason\">{reason}</code>")),
        "{}",
        page.body
    );
    acs.expect_diagnostic_login(&state('b'), "okta", LATER);
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('b')))
        .await;
    assert!(page.body.contains("group_required"), "{}", page.body);
    assert!(
        acs.store.sessions.lock().unwrap().is_empty(),
        "nothing issued"
    );
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

/// One OIDC login through the ACS: the session's ID.
async fn signed_in(acs: &Acs) -> String {
    let (client_id, _) = acs.client(TokenAuthMethod::ClientSecretBasic).await;
    acs.expect_oidc_login(
        &state('d'),
        BINDING,
        samlgate_domain::session::AuthorizeRequest {
            client_id,
            redirect_uri: CLIENT_REDIRECT.into(),
            state: Some("st".into()),
            nonce: None,
            code_challenge: None,
            scope: vec!["openid".into()],
            max_age: None,
        },
    );
    let page = acs
        .post(&response("samlgate_sp_entity_id"), Some(&state('d')))
        .await;
    assert_eq!(page.status, 302, "{:?}", acs.last_reason());
    let sessions = acs.store.sessions.lock().unwrap().clone();
    sessions.values().next().expect("one session").id.clone()
}

#[tokio::test]
async fn logout_failures_are_audited_with_their_codes() {
    let acs = Acs::new(settings()).await;
    let sid = signed_in(&acs).await;
    for (query, code) in [
        // The application's logout is RP-initiated at `{issuer}/logout`; the SLO endpoint
        // takes only the IdP's signed messages.
        (format!("sid={sid}"), "invalid_request"),
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
