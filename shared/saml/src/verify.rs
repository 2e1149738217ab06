//! The verification pipeline (DESIGN.md §5). Each step is one function; the first failure
//! ends the run with its own error. Read `Verifier::run` top to bottom.

use crate::assertion::{self, Expected, Protection, ResponseFacts, VerifiedAssertion};
use crate::clock::Clock;
use crate::error::{ConfigError, Error};
use crate::metadata::IdpMetadata;
use crate::profile::{self, Exceptions, SignatureSite};
use crate::xml::{self, is, SAML, SAMLP, XENC};
use crate::xmlsec::{
    self, BergshamraDecrypter, BergshamraVerifier, Decrypter, SignatureOutcome, SignatureVerifier,
};
use crate::{encrypted, ids, input, Limits};
use std::time::Duration;
use uppsala::{Document, NodeId};

/// This service provider, as configured (never derived from the incoming request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProvider {
    /// Our entity ID: the Audience every AudienceRestriction must name.
    pub entity_id: String,
    /// The ACS URL from configuration: Destination and Recipient must equal it.
    pub acs_url: String,
}

/// Per-IdP settings, with safe defaults (Shibboleth-style: one struct, no global knobs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Applied to every time comparison. Default 180 s.
    pub clock_skew: Duration,
    /// Reject plaintext assertions. Default off.
    pub require_encrypted: bool,
    pub limits: Limits,
    /// Algorithms this IdP may use although samlgate refuses them by default. Default none.
    pub exceptions: Exceptions,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(180),
            require_encrypted: false,
            limits: Limits::default(),
            exceptions: Exceptions::default(),
        }
    }
}

/// One step of a run and how it ended, for `samlgate validate --explain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStep {
    pub step: &'static str,
    pub outcome: String,
}

/// One SP decryption key: its private key PEM and, when known, its certificate (DER).
#[derive(Clone, Copy)]
pub struct DecryptionKey<'a> {
    pub pem: &'a [u8],
    pub certificate: Option<&'a [u8]>,
}

/// Verifies Responses from one IdP for one SP.
pub struct Verifier {
    idp_entity_id: String,
    trusted_certificates: Vec<Vec<u8>>,
    signatures: Option<Box<dyn SignatureVerifier>>,
    decrypter: Option<Box<dyn Decrypter>>,
    sp: ServiceProvider,
    policy: Policy,
    /// The IdP's `shibmd:Scope`s, regexps compiled once.
    scopes: Vec<(crate::Scope, Option<regex_lite::Regex>)>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("idp_entity_id", &self.idp_entity_id)
            .field("trusted_certificates", &self.trusted_certificates.len())
            .field("decryption_key", &self.decrypter.is_some())
            .field("sp", &self.sp)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Verifier {
    /// A verifier trusting exactly the signing certificates in `idp`. Metadata without any
    /// is accepted here and every Response is then rejected with `no_trusted_keys`.
    pub fn new(
        idp: &IdpMetadata,
        sp: ServiceProvider,
        policy: Policy,
    ) -> Result<Self, ConfigError> {
        let signatures: Option<Box<dyn SignatureVerifier>> = if idp.signing_certificates.is_empty()
        {
            None
        } else {
            Some(Box::new(BergshamraVerifier::new(
                &idp.signing_certificates,
            )?))
        };
        Ok(Self {
            idp_entity_id: idp.entity_id.clone(),
            trusted_certificates: idp.signing_certificates.clone(),
            signatures,
            decrypter: None,
            sp,
            policy,
            scopes: idp
                .scopes
                .iter()
                .map(|s| {
                    let pattern = s
                        .regexp
                        .then(|| crate::metadata::scope_pattern(&s.value))
                        .flatten();
                    (s.clone(), pattern)
                })
                .collect(),
        })
    }

    /// Add the SP's RSA decryption key (PEM, PKCS#8 or PKCS#1).
    pub fn with_decryption_key_pem(self, pem: &[u8]) -> Result<Self, ConfigError> {
        self.with_decryption_keys(&[DecryptionKey {
            pem,
            certificate: None,
        }])
    }

    /// Add an SP RSA decryption key that may be shorter than 2048 bits (from 1024): only for
    /// diagnosing old captures (`samlgate validate --allow-weak-sp-key`); feature `weak-sp-key`,
    /// which no Lambda links. A key of 2048 bits or more is used as by
    /// [`Self::with_decryption_key_pem`].
    #[cfg(feature = "weak-sp-key")]
    pub fn with_weak_decryption_key_pem(mut self, pem: &[u8]) -> Result<Self, ConfigError> {
        let mut decrypter = BergshamraDecrypter::new();
        decrypter.add_weak_pem(pem)?;
        self.decrypter = Some(Box::new(decrypter));
        Ok(self)
    }

    /// Add the SP's RSA decryption keys: during a rollover every published key (DESIGN.md
    /// §6), the one whose certificate an EncryptedKey names tried first, the others in order.
    pub fn with_decryption_keys(mut self, keys: &[DecryptionKey<'_>]) -> Result<Self, ConfigError> {
        let mut decrypter = BergshamraDecrypter::new();
        for key in keys {
            decrypter.add_pem(key.pem, key.certificate.map(<[u8]>::to_vec))?;
        }
        self.decrypter = if keys.is_empty() {
            None
        } else {
            Some(Box::new(decrypter))
        };
        Ok(self)
    }

    /// Verify a Response (raw XML or base64, as posted in `SAMLResponse`).
    ///
    /// `request_id` is the ID of the AuthnRequest this login answers, from server-side
    /// state; `None` means an unsolicited (IdP-initiated) response is expected.
    ///
    /// One-time use is the caller's step: the result says what to remember
    /// ([`VerifiedAssertion::replay_key`]), and nothing may use the assertion before the
    /// caller has recorded it.
    pub fn verify(
        &self,
        input: &[u8],
        request_id: Option<&str>,
        clock: &dyn Clock,
    ) -> Result<VerifiedAssertion, Error> {
        self.run(input, request_id, clock, &mut |_, _| {})
    }

    /// `verify`, also returning each step's outcome.
    pub fn verify_traced(
        &self,
        input: &[u8],
        request_id: Option<&str>,
        clock: &dyn Clock,
    ) -> (Result<VerifiedAssertion, Error>, Vec<TraceStep>) {
        let mut steps = Vec::new();
        let result = self.run(input, request_id, clock, &mut |step, outcome| {
            steps.push(TraceStep { step, outcome })
        });
        if let Err(error) = &result {
            steps.push(TraceStep {
                step: "result",
                outcome: format!("rejected: {} ({error})", error.code()),
            });
        }
        (result, steps)
    }

    fn run(
        &self,
        input: &[u8],
        request_id: Option<&str>,
        clock: &dyn Clock,
        trace: &mut dyn FnMut(&'static str, String),
    ) -> Result<VerifiedAssertion, Error> {
        let limits = &self.policy.limits;
        // 0. Without a signing key from metadata nothing can be verified.
        if self.signatures.is_none() {
            return Err(Error::NoTrustedKeys);
        }
        trace(
            "0 trusted keys",
            format!("{} signing certificate(s)", self.trusted_certificates.len()),
        );

        // 1. Size limits, transport decoding, strict parse.
        let text = input::decode(input, limits)?;
        let doc = xml::parse_strict(&text, limits)?;
        let response = response_root(&doc)?;
        trace("1 decode and parse", format!("{} bytes of XML", text.len()));

        // 2. Unique IDs.
        ids::check_unique_ids(&doc)?;
        trace("2 unique IDs", "ok".into());

        // 3. Signature profile and algorithms, for every signature.
        let allowed = self.policy.exceptions;
        let mut used = Exceptions::default();
        let sites = profile::check_signatures(&doc, allowed, &mut used)?;
        trace(
            "3 signature profile",
            format!("{} signature(s) follow the profile", sites.len()),
        );

        // 4. Every signature verifies with a metadata key and covers its parent.
        let signed = self.verify_signatures(&doc, &sites)?;
        let response_signed = signed.contains(&response);
        trace(
            "4 signatures",
            format!("response signed: {response_signed}"),
        );

        // Core §3.2.2: an error Response usually carries no assertion at all; report its
        // status rather than a missing assertion. (Rejecting on an unsigned status is safe.)
        let facts = ResponseFacts::read(&doc, response, response_signed)?;
        facts.require_success()?;

        // 5. Exactly one (Encrypted)Assertion, directly under the Response.
        let assertion = single_assertion(&doc, response)?;
        let skew = self.policy.clock_skew;
        let expected = Expected {
            idp_entity_id: &self.idp_entity_id,
            sp_entity_id: &self.sp.entity_id,
            acs_url: &self.sp.acs_url,
            request_id,
            now: clock.now(),
            skew,
            decrypter: self.decrypter.as_deref(),
        };

        let mut claims = if is(&doc, assertion, SAML, "Assertion") {
            if self.policy.require_encrypted {
                return Err(Error::EncryptionRequired);
            }
            let assertion_signed = signed.contains(&assertion);
            require_signed(assertion_signed, response_signed)?;
            trace(
                "5 assertion",
                format!("plaintext, assertion signed: {assertion_signed}"),
            );
            // 6–8. Checks and claims, from the verified node only.
            assertion::check_and_read(
                &facts,
                &doc,
                assertion,
                &expected,
                Protection {
                    response_signed,
                    assertion_signed,
                    encrypted: false,
                },
            )?
        } else {
            let plaintext = encrypted::decrypt_assertion(
                &doc,
                assertion,
                self.decrypter.as_deref(),
                response_signed,
                (allowed.aes_cbc, &mut used.aes_cbc),
            )?;
            if plaintext.len() > limits.max_bytes {
                return Err(Error::TooLarge {
                    size: plaintext.len(),
                    limit: limits.max_bytes,
                });
            }
            // The decrypted assertion goes through steps 1–4 on its own.
            let inner = xml::parse_strict(&plaintext, limits)?;
            ids::check_unique_ids(&inner)?;
            let inner_sites = profile::check_signatures(&inner, allowed, &mut used)?;
            let inner_signed = self.verify_signatures(&inner, &inner_sites)?;
            let decrypted = decrypted_assertion(&inner)?;
            let assertion_signed = inner_signed.contains(&decrypted);
            require_signed(assertion_signed, response_signed)?;
            trace(
                "5 assertion",
                format!("decrypted, assertion signed: {assertion_signed}"),
            );
            assertion::check_and_read(
                &facts,
                &inner,
                decrypted,
                &expected,
                Protection {
                    response_signed,
                    assertion_signed,
                    encrypted: true,
                },
            )?
        };
        trace(
            "6-7 conditions and subject",
            assertion::describe_window(&claims),
        );
        if !used.is_empty() {
            trace("exceptions", format!("used: {}", used.names().join(", ")));
        }
        claims.exceptions_used = used;
        claims.enforce_scopes(&self.scopes);
        if !claims.dropped.is_empty() {
            trace("scopes", format!("dropped: {}", claims.dropped.join(", ")));
        }

        // 8. The output: `VerifiedAssertion` has no public constructor. One-time use
        // (Profiles §4.1.4.5) is the caller's step, on `replay_key()`.
        Ok(claims)
    }

    /// Step 4. Returns the elements covered by a valid signature.
    fn verify_signatures(
        &self,
        doc: &Document<'_>,
        sites: &[SignatureSite],
    ) -> Result<Vec<NodeId>, Error> {
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let verifier = self.signatures.as_ref().ok_or(Error::NoTrustedKeys)?;
        let outcomes = verifier.verify_all(doc)?;
        if outcomes.len() != sites.len() {
            return Err(Error::SignatureInvalid(
                "signature count changed during verification".into(),
            ));
        }
        for (site, outcome) in sites.iter().zip(outcomes) {
            match outcome {
                // The one Reference must resolve to the element that holds the signature:
                // a valid signature over some other element proves nothing about this one.
                SignatureOutcome::Valid { signature, covers }
                    if signature == site.signature && covers == [Some(site.signed)] => {}
                SignatureOutcome::Valid { .. } => {
                    return Err(Error::SignatureInvalid(
                        "the signature does not cover the element that holds it".into(),
                    ))
                }
                SignatureOutcome::Invalid { reason } => {
                    let named = xmlsec::key_info_certificates(doc, site.signature);
                    let foreign = !named.is_empty()
                        && !named.iter().any(|c| self.trusted_certificates.contains(c));
                    return Err(if foreign {
                        Error::UntrustedKey
                    } else {
                        Error::SignatureInvalid(reason)
                    });
                }
            }
        }
        Ok(sites.iter().map(|s| s.signed).collect())
    }
}

fn response_root(doc: &Document<'_>) -> Result<NodeId, Error> {
    doc.document_element()
        .filter(|root| is(doc, *root, SAMLP, "Response"))
        .ok_or_else(|| Error::Malformed("the root element is not a samlp:Response".into()))
}

/// Profiles §4.1.4.2 / DESIGN.md §5 step 5: exactly one assertion, a direct child of the
/// Response. Assertions anywhere else (Extensions, Advice, inside other elements) are never
/// read, so they cannot be substituted for the one that was checked.
fn single_assertion(doc: &Document<'_>, response: NodeId) -> Result<NodeId, Error> {
    let found: Vec<NodeId> = xml::child_elements(doc, response)
        .filter(|c| is(doc, *c, SAML, "Assertion") || is(doc, *c, SAML, "EncryptedAssertion"))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(Error::AssertionCount(found.len())),
    }
}

/// In the decrypted document: exactly one Assertion directly inside the EncryptedAssertion
/// (beside any EncryptedKey elements).
fn decrypted_assertion(doc: &Document<'_>) -> Result<NodeId, Error> {
    let wrapper = doc
        .document_element()
        .ok_or_else(|| Error::Malformed("empty decrypted document".into()))?;
    let encrypted = xml::required_child(doc, wrapper, SAML, "EncryptedAssertion")?;
    let mut assertions = Vec::new();
    for child in xml::child_elements(doc, encrypted) {
        if is(doc, child, SAML, "Assertion") {
            assertions.push(child);
        } else if !is(doc, child, XENC, "EncryptedKey") {
            return Err(Error::Malformed(
                "decrypted content is not an Assertion".into(),
            ));
        }
    }
    match assertions.as_slice() {
        [one] => Ok(*one),
        _ => Err(Error::AssertionCount(assertions.len())),
    }
}

fn require_signed(assertion_signed: bool, response_signed: bool) -> Result<(), Error> {
    if assertion_signed || response_signed {
        Ok(())
    } else {
        Err(Error::SignatureMissing)
    }
}
