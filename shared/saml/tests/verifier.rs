//! The verifier against fixtures made by third-party signers and encrypters (python-xmlsec /
//! libxmlsec1, signxml; see fixtures/generate.py). Each case asserts one exact outcome.
//! One test binary on purpose: fewer binaries, faster builds.

// Test code: a failed assumption is the test failing (the workspace denies these elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod fixtures {
    use super::support::{load_manifest, run_case, Case};

    #[test]
    fn every_fixture_case_gets_its_expected_outcome() {
        let cases = load_manifest();
        assert!(cases.len() >= 40, "manifest has only {} cases", cases.len());
        let mut failures = Vec::new();
        for case in &cases {
            let got = run_case(case);
            let ok = match (&got, case.expect.as_str()) {
                (Ok(name_id), "valid") => {
                    case.name_id.as_deref().is_none_or(|want| want == name_id)
                }
                (Err(code), want) => code == want,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{:<48} expected {:<28} got {:?}",
                    case.name, case.expect, got
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    /// The fixtures exercise every rejection code the pipeline can produce from a message
    /// (the replay codes belong to the caller's one-time-use step: samlgate-domain's
    /// `one_time` tests exercise them over these fixtures).
    #[test]
    fn fixtures_cover_every_message_error_code() {
        let cases: Vec<Case> = load_manifest();
        let missing: Vec<&str> = saml::Error::CODES
            .iter()
            .copied()
            .filter(|code| !matches!(*code, "replayed" | "replay_cache_unavailable"))
            .filter(|code| !cases.iter().any(|c| c.expect == *code))
            .collect();
        assert!(missing.is_empty(), "no fixture expects: {missing:?}");
    }
}

/// SP key rollover: the verifier holds every published decryption key.
mod rollover {
    use super::support::{fixtures_dir, input_of, load_manifest, Case};
    use saml::{DecryptionKey, FixedClock, IdpMetadata, Limits, Verifier};
    use std::time::Duration;

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(fixtures_dir().join(name)).expect("fixture")
    }

    fn der(crt: &str) -> Vec<u8> {
        use base64::Engine as _;
        let text = String::from_utf8(read(crt)).expect("PEM");
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("base64")
    }

    fn verify_with(case: &Case, keys: &[DecryptionKey<'_>]) -> Result<String, String> {
        let metadata = IdpMetadata::parse(&read(&case.metadata), &Limits::default()).expect("md");
        let policy = saml::Policy {
            clock_skew: Duration::from_secs(case.clock_skew),
            ..saml::Policy::default()
        };
        let sp = saml::ServiceProvider {
            entity_id: super::support::SP_ENTITY_ID.into(),
            acs_url: super::support::ACS_URL.into(),
        };
        let verifier = Verifier::new(&metadata, sp, policy)
            .expect("verifier")
            .with_decryption_keys(keys)
            .expect("keys");
        let clock = FixedClock(super::support::instant(&case.now));
        verifier
            .verify(&input_of(case), case.request_id.as_deref(), &clock)
            .map(|a| a.name_id().value.clone())
            .map_err(|e| e.code().to_owned())
    }

    fn encrypted_valid_cases() -> Vec<Case> {
        let cases: Vec<Case> = load_manifest()
            .into_iter()
            .filter(|c| c.expect == "valid" && c.sp_key.as_deref() == Some("keys/sp-enc.key"))
            .collect();
        assert!(cases.len() >= 6, "{} encrypted cases", cases.len());
        cases
    }

    /// Whichever key comes first and whether or not the sender named its certificate, an
    /// assertion encrypted to any one of the published keys opens.
    #[test]
    fn an_assertion_encrypted_to_any_published_key_is_decrypted() {
        let (other, enc) = (read("keys/sp-other.key"), read("keys/sp-enc.key"));
        let (other_crt, enc_crt) = (der("keys/sp-other.crt"), der("keys/sp-enc.crt"));
        let orders: [Vec<DecryptionKey<'_>>; 3] = [
            vec![
                DecryptionKey {
                    pem: &other,
                    certificate: None,
                },
                DecryptionKey {
                    pem: &enc,
                    certificate: None,
                },
            ],
            vec![
                DecryptionKey {
                    pem: &other,
                    certificate: Some(&other_crt),
                },
                DecryptionKey {
                    pem: &enc,
                    certificate: Some(&enc_crt),
                },
            ],
            vec![
                DecryptionKey {
                    pem: &enc,
                    certificate: Some(&enc_crt),
                },
                DecryptionKey {
                    pem: &other,
                    certificate: Some(&other_crt),
                },
            ],
        ];
        for case in encrypted_valid_cases() {
            for keys in &orders {
                let got = verify_with(&case, keys);
                assert!(got.is_ok(), "{}: {got:?}", case.name);
            }
        }
    }

    /// A retired key is no longer offered, and the remaining ones do not open its assertions.
    #[test]
    fn without_the_recipient_key_decryption_fails() {
        let other = read("keys/sp-other.key");
        for case in encrypted_valid_cases() {
            let got = verify_with(
                &case,
                &[DecryptionKey {
                    pem: &other,
                    certificate: None,
                }],
            );
            assert_eq!(got, Err("decryption_failed".to_owned()), "{}", case.name);
        }
    }
}

mod claims {
    use super::support::{case_named, verifier_for};

    #[test]
    fn claims_come_from_the_signed_assertion() {
        let case = case_named("response_signed");
        let (verifier, input, clock) = verifier_for(&case);
        let got = verifier
            .verify(&input, case.request_id.as_deref(), &clock)
            .map_err(|e| e.to_string());
        let assertion = got.as_ref().ok();
        assert_eq!(
            assertion.map(|a| a.name_id().value.as_str()),
            Some("alice@example.com")
        );
        assert_eq!(
            assertion.map(|a| a.issuer()),
            Some("https://idp.example.com/saml")
        );
        assert_eq!(
            assertion.and_then(|a| a.session_index()),
            Some("_session-7a1")
        );
        assert_eq!(
            assertion.and_then(|a| a.attribute("groups")),
            Some(&["admins".to_owned(), "engineering".to_owned()][..])
        );
        assert_eq!(assertion.map(|a| a.response_signed()), Some(true));
        assert_eq!(
            assertion.and_then(|a| a.in_response_to()),
            Some("_req-4f6c1b2e")
        );
    }

    /// Issue 15 §3: scoped attributes keep only values whose scope the IdP's metadata declares
    /// (`shibmd:Scope`, literal or regexp); the rest are dropped and reported.
    #[test]
    fn scoped_attribute_values_outside_the_declared_scopes_are_dropped() {
        let case = case_named("scoped_attributes");
        let (verifier, input, clock) = verifier_for(&case);
        let assertion = verifier
            .verify(&input, case.request_id.as_deref(), &clock)
            .unwrap();
        assert_eq!(
            assertion.attribute("urn:oid:1.3.6.1.4.1.5923.1.1.1.6"),
            Some(&["alice@example.com".to_owned()][..])
        );
        assert_eq!(
            assertion.attribute("urn:oid:1.3.6.1.4.1.5923.1.1.1.9"),
            Some(&["member@staff.example.com".to_owned()][..]),
            "the regexp scope"
        );
        assert_eq!(
            assertion.attribute("urn:oasis:names:tc:SAML:attribute:subject-id"),
            None,
            "an unscoped value is dropped, and the attribute with it"
        );
        assert_eq!(
            assertion.dropped_attributes(),
            [
                "eduPersonPrincipalName: 1 value(s)",
                "eduPersonScopedAffiliation: 1 value(s)",
                "urn:oasis:names:tc:SAML:attribute:subject-id: 1 value(s)"
            ]
        );
        // Other attributes are not scoped attributes, whatever their values look like.
        assert_eq!(
            assertion.attribute("email"),
            Some(&["alice@example.com".to_owned()][..])
        );
        // Metadata without scopes: every scoped value is dropped.
        let mut without = case.clone();
        without.metadata = "metadata/idp.xml".into();
        let (verifier, input, clock) = super::support::verifier_for(&without);
        let assertion = verifier
            .verify(&input, without.request_id.as_deref(), &clock)
            .unwrap();
        assert_eq!(
            assertion.attribute("urn:oid:1.3.6.1.4.1.5923.1.1.1.6"),
            None
        );
        assert_eq!(assertion.dropped_attributes().len(), 3);
    }

    /// Issue 15 §3: a NameID-valued attribute is a structured value (a comment beside the
    /// NameID is still `mixed_content`: the manifest's `attribute_name_id_with_comment`).
    #[test]
    fn a_name_id_valued_attribute_is_read_as_a_structured_value() {
        let case = case_named("attribute_name_id");
        let (verifier, input, clock) = verifier_for(&case);
        let assertion = verifier
            .verify(&input, case.request_id.as_deref(), &clock)
            .unwrap();
        let targeted = assertion
            .attributes()
            .iter()
            .find(|a| a.friendly_name.as_deref() == Some("eduPersonTargetedID"))
            .unwrap();
        assert_eq!(targeted.values, ["ZW1haWwtaGFzaA=="]);
        let id = &targeted.name_ids[0];
        assert_eq!(
            (
                id.value.as_str(),
                id.format.as_deref(),
                id.name_qualifier.as_deref(),
                id.sp_name_qualifier.as_deref()
            ),
            (
                "ZW1haWwtaGFzaA==",
                Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
                Some("https://idp.example.com/saml"),
                Some("https://sp.example.com/saml/metadata")
            )
        );
        // Text values keep their text and have no NameID.
        let groups = assertion
            .attributes()
            .iter()
            .find(|a| a.name == "groups")
            .unwrap();
        assert!(groups.name_ids.is_empty());
    }
}

mod mutations {
    //! Thousands of mutated and truncated valid responses: never a panic, and never "valid"
    //! with a different NameID.
    use super::support::{load_manifest, verifier_for, Case};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn valid_cases() -> &'static Vec<Case> {
        static CASES: OnceLock<Vec<Case>> = OnceLock::new();
        CASES.get_or_init(|| {
            load_manifest()
                .into_iter()
                .filter(|c| c.expect == "valid" && c.response.is_some())
                .collect()
        })
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Truncate(usize),
        Flip(usize, u8),
        Delete(usize, usize),
        Insert(usize, &'static str),
        Duplicate(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let snippets = prop::sample::select(vec![
            "<!---->",
            "<?pi x?>",
            "<a/>",
            "&amp;",
            "\"",
            "<",
            ">",
            "ID=\"_assert-0001\" ",
            "<saml:Assertion>",
            "</saml:Assertion>",
            "xmlns:saml=\"urn:x\" ",
            "]]>",
            "\u{0}",
            "é",
        ]);
        prop_oneof![
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
            (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
            (any::<usize>(), snippets).prop_map(|(i, s)| Mutation::Insert(i, s)),
            (any::<usize>(), 1usize..400).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        ]
    }

    fn apply(input: &[u8], m: &Mutation) -> Vec<u8> {
        let mut out = input.to_vec();
        let at = |i: usize| if out.is_empty() { 0 } else { i % out.len() };
        match m {
            Mutation::Truncate(i) => out.truncate(at(*i)),
            Mutation::Flip(i, b) => {
                let i = at(*i);
                if let Some(byte) = out.get_mut(i) {
                    *byte ^= b | 1;
                }
            }
            Mutation::Delete(i, n) => {
                let i = at(*i);
                let end = (i + n).min(out.len());
                out.drain(i..end);
            }
            Mutation::Insert(i, s) => {
                let i = at(*i);
                out.splice(i..i, s.bytes());
            }
            Mutation::Duplicate(i, n) => {
                let i = at(*i);
                let end = (i + n).min(out.len());
                let copy = out[i..end].to_vec();
                out.splice(end..end, copy);
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn mutated_responses_never_panic_or_change_identity(
            pick in any::<prop::sample::Index>(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            let cases = valid_cases();
            prop_assume!(!cases.is_empty());
            let case = pick.get(cases);
            let (verifier, input, clock) = verifier_for(case);
            let mut mutated = input.clone();
            for m in &mutations {
                mutated = apply(&mutated, m);
            }
            let result = verifier.verify(&mutated, case.request_id.as_deref(), &clock);
            if let Ok(assertion) = result {
                prop_assert_eq!(Some(assertion.name_id().value.as_str()), case.name_id.as_deref());
            }
        }
    }

    /// The cases whose identity is in an EncryptedID or a NameID-valued attribute, with the
    /// element the mutations aim at (issue 15 §3).
    fn structured_cases() -> &'static Vec<(Case, &'static str)> {
        static CASES: OnceLock<Vec<(Case, &'static str)>> = OnceLock::new();
        CASES.get_or_init(|| {
            let aimed = [
                ("encrypted_id", "EncryptedID"),
                ("encrypted_id_aes128cbc", "EncryptedID"),
                ("attribute_name_id", "AttributeValue"),
            ];
            valid_cases()
                .iter()
                .filter_map(|c| {
                    aimed
                        .iter()
                        .find(|(name, _)| *name == c.name)
                        .map(|(_, element)| (c.clone(), *element))
                })
                .collect()
        })
    }

    /// The byte range of the first `<…:{local}` element through its end tag, if the input
    /// holds one (the fixtures are raw XML).
    fn element_range(input: &[u8], local: &str) -> Option<(usize, usize)> {
        let text = std::str::from_utf8(input).ok()?;
        let open = text.find(&format!(":{local}"))?;
        let start = text[..open].rfind('<')?;
        let close = format!(":{local}>");
        let end = text[open + 1..].find(&close)? + open + 1 + close.len();
        Some((start, end))
    }

    /// Who an assertion says the user is: the subject and every NameID-valued attribute.
    fn identity(assertion: &saml::VerifiedAssertion) -> (String, Vec<saml::NameId>) {
        (
            assertion.name_id().value.clone(),
            assertion
                .attributes()
                .iter()
                .flat_map(|a| a.name_ids.iter().cloned())
                .collect(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]
        /// Mutations aimed inside an EncryptedID or a NameID-valued AttributeValue never panic,
        /// and whatever is still accepted names the same subject and the same structured values
        /// (Format, NameQualifier, SPNameQualifier included) as the untouched Response.
        #[test]
        fn mutated_encrypted_ids_and_name_id_attributes_never_change_identity(
            pick in any::<prop::sample::Index>(),
            mutations in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..4),
        ) {
            let cases = structured_cases();
            prop_assume!(cases.len() == 3);
            let (case, element) = pick.get(cases);
            let (verifier, input, clock) = verifier_for(case);
            let expected = identity(
                &verifier
                    .verify(&input, case.request_id.as_deref(), &clock)
                    .expect("the untouched case verifies"),
            );
            let mut mutated = input.clone();
            for (at, m) in &mutations {
                // Aim the mutation's position into the element (still inside it after earlier
                // mutations, if it survived them).
                let (start, end) = element_range(&mutated, element).unwrap_or((0, mutated.len()));
                let offset = start + at.index(end.saturating_sub(start).max(1));
                let m = match m.clone() {
                    Mutation::Truncate(_) => Mutation::Truncate(offset),
                    Mutation::Flip(_, b) => Mutation::Flip(offset, b),
                    Mutation::Delete(_, n) => Mutation::Delete(offset, n),
                    Mutation::Insert(_, s) => Mutation::Insert(offset, s),
                    Mutation::Duplicate(_, n) => Mutation::Duplicate(offset, n),
                };
                mutated = apply(&mutated, &m);
            }
            if let Ok(assertion) = verifier.verify(&mutated, case.request_id.as_deref(), &clock) {
                prop_assert_eq!(identity(&assertion), expected.clone());
            }
        }
    }
}

mod codes {
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_documented_in_the_readme() {
        let codes = saml::Error::CODES;
        let unique: HashSet<&str> = codes.iter().copied().collect();
        assert_eq!(unique.len(), codes.len(), "duplicate code");
        for code in codes {
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code} is not snake_case"
            );
        }
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .expect("README.md");
        let missing: Vec<&str> = codes
            .iter()
            .copied()
            .filter(|code| !readme.contains(&format!("`{code}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "README.md does not document {missing:?}"
        );
    }
}

mod metadata {
    use super::support::fixtures_dir;
    use saml::{IdpMetadata, Limits, MetadataDocument};

    fn parse(name: &str) -> Result<IdpMetadata, String> {
        let bytes = std::fs::read(fixtures_dir().join("metadata").join(name)).expect("fixture");
        IdpMetadata::parse(&bytes, &Limits::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn signing_and_encryption_keys_are_kept_apart() {
        let md = parse("idp.xml").expect("parses");
        assert_eq!(md.entity_id, "https://idp.example.com/saml");
        assert_eq!(md.signing_certificates.len(), 1);
        assert_eq!(md.encryption_certificates.len(), 1);
        assert_ne!(md.signing_certificates[0], md.encryption_certificates[0]);
        assert!(md.want_authn_requests_signed);
        let bindings: Vec<&str> = md
            .single_sign_on
            .iter()
            .map(|e| e.binding.as_str())
            .collect();
        assert_eq!(
            bindings,
            [
                "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
            ]
        );
        assert_eq!(md.single_logout[0].location, "https://idp.example.com/slo");
        assert_eq!(md.name_id_formats.len(), 2);
    }

    #[test]
    fn a_key_descriptor_without_use_signs_and_rollover_keeps_both() {
        let md = parse("idp-rollover.xml").expect("parses");
        assert_eq!(md.signing_certificates.len(), 2);
        assert!(md.encryption_certificates.is_empty());
    }

    #[test]
    fn an_entities_descriptor_with_one_idp_is_accepted() {
        assert_eq!(parse("idp-entities.xml"), parse("idp.xml"));
    }

    #[test]
    fn hostile_or_ambiguous_metadata_is_refused() {
        let limits = Limits::default();
        let doctype = b"<!DOCTYPE x><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\"/>";
        assert!(IdpMetadata::parse(doctype, &limits).is_err());
        let one =
            std::fs::read_to_string(fixtures_dir().join("metadata/idp.xml")).expect("fixture");
        let inner = one.replace(" xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"", "");
        let two = format!(
            "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{inner}{inner}</md:EntitiesDescriptor>"
        );
        assert!(
            IdpMetadata::parse(two.as_bytes(), &limits).is_err(),
            "two IdPs: which one?"
        );
        let big = vec![b' '; limits.max_bytes + 1];
        assert!(IdpMetadata::parse(&big, &limits).is_err());
    }

    fn federation(name: &str) -> Vec<u8> {
        std::fs::read(fixtures_dir().join("metadata").join(name)).expect("fixture")
    }

    fn federation_signer() -> Vec<Vec<u8>> {
        let pem = std::fs::read(fixtures_dir().join("keys/federation.crt")).expect("cert");
        vec![pem::parse(pem).expect("pem").into_contents()]
    }

    const IDP: &str = "https://idp.example.com/saml";

    /// A federation aggregate signed by libxmlsec1 (generate.py): the IdP is picked by entity
    /// ID from a nested EntitiesDescriptor, the aggregate's signature verifies with the
    /// federation's certificate, and the validity is the earliest on the path to the entity.
    #[test]
    fn an_idp_is_picked_from_a_signed_federation_aggregate_by_entity_id() {
        let limits = Limits::default();
        let bytes = federation("federation-aggregate.xml");
        let signers = federation_signer();
        let document =
            MetadataDocument::parse_entity(&bytes, &limits, Some(&signers), Some(IDP)).unwrap();
        assert!(document.signature_verified());
        let md = document.metadata();
        assert_eq!(md.entity_id, IDP);
        assert_eq!(md.signing_certificates.len(), 1);
        assert_eq!(
            md.single_sign_on[1].location,
            "https://idp.example.com/sso/post"
        );
        // The nested EntitiesDescriptor (2026-06-01, PT1H) is earlier than the root's.
        assert_eq!(
            document.valid_until(),
            Some(time::macros::datetime!(2026-06-01 0:00 UTC))
        );
        assert_eq!(document.cache_duration().map(|d| d.as_secs()), Some(3_600));
        // Another member, named by its entity ID, is another IdP.
        let other = MetadataDocument::parse_entity(
            &bytes,
            &limits,
            Some(&signers),
            Some("https://idp3.other.example/idp"),
        )
        .unwrap();
        assert_eq!(
            other.valid_until(),
            Some(time::macros::datetime!(2027-01-01 0:00 UTC))
        );
        // Without an entity ID, an aggregate of several IdPs is refused, naming the way out.
        let unnamed = IdpMetadata::parse(&bytes, &limits).unwrap_err().to_string();
        assert!(
            unnamed.contains("4 IdPs") && unnamed.contains("entity ID"),
            "{unnamed}"
        );
    }

    #[test]
    fn a_tampered_or_foreign_aggregate_or_an_absent_entity_is_refused() {
        let limits = Limits::default();
        let signers = federation_signer();
        let tampered = federation("federation-aggregate-tampered.xml");
        let e = MetadataDocument::parse_entity(&tampered, &limits, Some(&signers), Some(IDP))
            .unwrap_err();
        assert_eq!(e.code(), "signature_invalid", "{e}");
        // Signed, but not by the configured federation key.
        let idp_cert = std::fs::read(fixtures_dir().join("keys/idp-rsa.crt")).expect("cert");
        let foreign = vec![pem::parse(idp_cert).expect("pem").into_contents()];
        let bytes = federation("federation-aggregate.xml");
        let e =
            MetadataDocument::parse_entity(&bytes, &limits, Some(&foreign), Some(IDP)).unwrap_err();
        assert!(
            matches!(e.code(), "untrusted_key" | "signature_invalid"),
            "{e}"
        );
        for (entity, why) in [
            ("https://absent.example/idp", "no entity"),
            ("https://sp.other.example/sp", "not an IdP"),
        ] {
            let e = MetadataDocument::parse_entity(&bytes, &limits, Some(&signers), Some(entity))
                .unwrap_err();
            assert_eq!(e.code(), "malformed");
            assert!(e.to_string().contains(why), "{e}");
        }
        // The same entity ID twice (unsigned, so only selection is tested): ambiguous.
        let text = String::from_utf8(bytes).unwrap();
        let twice = text.replace(
            "https://idp2.other.example/idp",
            "https://idp.example.com/saml",
        );
        let e = IdpMetadata::parse_entity(twice.as_bytes(), &limits, Some(IDP)).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
        // Larger than the limit the caller set for aggregates.
        let small = Limits {
            max_bytes: 1024,
            ..Limits::default()
        };
        assert!(IdpMetadata::parse_entity(twice.as_bytes(), &small, Some(IDP)).is_err());
    }
}

/// AuthnRequests over HTTP-Redirect, checked by a third party (OneLogin's python3-saml, in
/// `.venv`): the query signature verifies with the SP certificate, the inflated request is
/// schema-valid SAML, and a changed RelayState breaks the signature.
mod requests {
    use saml::{redirect_url, AuthnRequest, OutgoingMessage as _, RequestSigner};
    use std::path::PathBuf;
    use std::process::Command;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn check(url: &str) -> serde_json::Value {
        let python = root().join("../../.venv/bin/python");
        assert!(python.exists(), "run scripts/setup first");
        let out = Command::new(python)
            .arg(root().join("tests/fixtures/check_redirect.py"))
            .arg(url)
            .arg(root().join("tests/fixtures/keys/sp-other.crt"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn signed_url(relay_state: &str) -> String {
        let key = std::fs::read(root().join("tests/fixtures/keys/sp-other.key")).unwrap();
        let signer = RequestSigner::from_pem(&key).unwrap();
        let xml = AuthnRequest {
            id: "_a1b2c3",
            issue_instant: time::macros::datetime!(2026-01-01 0:00 UTC),
            destination: "https://idp.example.com/saml/sso",
            acs_url: "https://sp.example.com/o/acme/idp/okta/acs",
            sp_entity_id: "https://sp.example.com/saml/metadata",
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            force_authn: false,
        }
        .to_xml();
        redirect_url(
            "https://idp.example.com/saml/sso?tenant=acme",
            &xml,
            Some(relay_state),
            Some(&signer),
        )
        .unwrap()
    }

    #[test]
    fn python3_saml_verifies_our_redirect_signature_and_schema() {
        let url = signed_url("rs-4f6c/1b2e+=&?");
        assert!(url.starts_with("https://idp.example.com/saml/sso?tenant=acme&SAMLRequest="));
        let checked = check(&url);
        assert_eq!(checked["signature_valid"], true, "{checked}");
        assert_eq!(checked["schema_valid"], true, "{checked}");
        assert_eq!(checked["relay_state"], "rs-4f6c/1b2e+=&?");
        let xml = checked["xml"].as_str().unwrap();
        assert!(xml.contains(r#"ID="_a1b2c3""#) && xml.contains("AssertionConsumerServiceURL"));
    }

    #[test]
    fn a_changed_relay_state_breaks_the_signature() {
        let url = signed_url("original").replace("RelayState=original", "RelayState=tampered");
        assert_eq!(check(&url)["signature_valid"], false);
    }

    #[test]
    fn short_or_non_rsa_keys_are_refused() {
        let ec = std::fs::read(root().join("tests/fixtures/keys/idp-ec.key")).unwrap();
        assert!(RequestSigner::from_pem(&ec).is_err());
        assert!(RequestSigner::from_pem(b"not a key").is_err());
    }
}

/// SP metadata, checked by a third party: python3-saml's SAML metadata schema, then read back.
mod sp_metadata {
    use base64::Engine as _;
    use saml::SpMetadata;
    use std::io::Write as _;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn der(name: &str) -> Vec<u8> {
        let pem = std::fs::read_to_string(root().join("tests/fixtures/keys").join(name)).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    #[test]
    fn sp_metadata_is_schema_valid_and_publishes_every_certificate() {
        let signing = vec![der("sp-other.crt"), der("idp-rsa-next.crt")];
        let encryption = vec![der("sp-enc.crt")];
        let xml = SpMetadata {
            entity_id: "https://sp.example.com/saml/metadata?org=a&b",
            acs_url: "https://sp.example.com/o/acme/idp/okta/acs",
            slo_url: Some("https://sp.example.com/o/acme/idp/okta/slo"),
            signing_certificates: &signing,
            encryption_certificates: &encryption,
            name_id_formats: &["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"],
            authn_requests_signed: true,
            want_assertions_signed: true,
        }
        .to_xml();
        let python = root().join("../../.venv/bin/python");
        let mut child = Command::new(python)
            .arg(root().join("tests/fixtures/check_sp_metadata.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(xml.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(read["schema_valid"], true, "{read}\n{xml}");
        assert_eq!(
            read["entity_id"],
            "https://sp.example.com/saml/metadata?org=a&b"
        );
        assert_eq!(read["acs"][0], "https://sp.example.com/o/acme/idp/okta/acs");
        assert_eq!(read["slo_bindings"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            read["certificates"]["signing"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(
            read["certificates"]["encryption"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(read["authn_requests_signed"], "true");
    }
}

/// Issue 15 §1: an IdP's exceptions allow exactly what they name, say when they were needed,
/// and nothing else can be excepted.
mod exceptions {
    use super::support::{case_named, verifier_allowing};
    use saml::Exceptions;

    fn run(case: &str, names: &[&str]) -> Result<Vec<&'static str>, String> {
        let case = case_named(case);
        let (verifier, input, clock) =
            verifier_allowing(&case, Exceptions::from_names(names).unwrap());
        verifier
            .verify(&input, case.request_id.as_deref(), &clock)
            .map(|a| a.exceptions_used().names())
            .map_err(|e| e.code().to_owned())
    }

    #[test]
    fn each_exception_allows_only_its_own_algorithm_and_is_reported_when_used() {
        let forbidden = Err("algorithm_forbidden".to_owned());
        assert_eq!(run("rsa_sha1", &[]), forbidden);
        assert_eq!(run("rsa_sha1", &["sha1", "aes-cbc"]), forbidden);
        assert_eq!(run("rsa_sha1", &["rsa-sha1"]), Ok(vec!["rsa-sha1"]));
        assert_eq!(run("sha1_digest", &["rsa-sha1", "aes-cbc"]), forbidden);
        assert_eq!(run("sha1_digest", &["sha1"]), Ok(vec!["sha1"]));
        assert_eq!(run("encrypted_cbc_unsigned_response", &[]), forbidden);
        assert_eq!(
            run("encrypted_cbc_unsigned_response", &["aes-cbc"]),
            Ok(vec!["aes-cbc"])
        );
        // Configured but not needed: the login says so (the admin can remove them).
        assert_eq!(
            run("response_signed", &["rsa-sha1", "sha1", "aes-cbc"]),
            Ok(vec![])
        );
        // CBC inside a verified Response signature never needed the exception.
        assert_eq!(
            run("encrypted_aes256cbc_response_signed", &["aes-cbc"]),
            Ok(vec![])
        );
    }

    #[test]
    fn what_cannot_be_excepted_stays_refused_with_every_exception_set() {
        let all = ["rsa-sha1", "sha1", "aes-cbc"];
        for (case, code) in [
            ("hmac_key_confusion", "algorithm_forbidden"),
            ("doctype_xxe", "doctype_forbidden"),
            ("xsw1", "signature_profile"),
        ] {
            let got = run(case, &all).map(|_| ()).unwrap_err();
            assert_eq!(got, code, "{case}");
        }
        for name in [
            "hmac-sha1",
            "rsa-1_5",
            "xpath",
            "xslt",
            "doctype",
            "RSA-SHA1",
        ] {
            assert!(Exceptions::from_names(&[name]).is_err(), "{name}");
        }
    }
}
