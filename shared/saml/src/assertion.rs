//! Steps 6–8: checks on the verified Assertion and the claims read from it.
//!
//! Everything here reads one `Assertion` node that the pipeline already proved is covered
//! by a valid signature (its own, or the enclosing Response's), and the Response element
//! itself. `VerifiedAssertion` has no public constructor: code that wants claims must go
//! through `Verifier::verify`.

use crate::clock::{format_instant, parse_instant};
use crate::error::Error;
use crate::xml::{self, attr, is, simple_text, SAML, SAMLP};
use std::time::Duration;
use time::OffsetDateTime;
use uppsala::NodeKind;
use uppsala::{Document, NodeId};

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// The subject's name identifier (SAML Core §2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
}

/// One SAML attribute with all its values, merged by `Name` in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    /// Every value's text; a NameID-valued one (eduPersonTargetedID, the SAML attribute
    /// profile) contributes its NameID's value here and its whole NameID to `name_ids`.
    pub values: Vec<String>,
    /// The NameID-valued values, with Format, NameQualifier and SPNameQualifier.
    pub name_ids: Vec<NameId>,
}

/// Claims from an assertion that passed every step. Only `Verifier::verify` builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub(crate) issuer: String,
    pub(crate) assertion_id: String,
    pub(crate) name_id: NameId,
    pub(crate) session_index: Option<String>,
    pub(crate) authn_context: Option<String>,
    pub(crate) authn_instant: Option<OffsetDateTime>,
    pub(crate) not_on_or_after: OffsetDateTime,
    /// `not_on_or_after` plus the clock skew: until then the assertion could still validate.
    pub(crate) remember_until: OffsetDateTime,
    pub(crate) session_not_on_or_after: Option<OffsetDateTime>,
    pub(crate) in_response_to: Option<String>,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) response_signed: bool,
    pub(crate) assertion_signed: bool,
    pub(crate) encrypted: bool,
    /// The IdP's algorithm exceptions this Response needed (SHA-1, unauthenticated AES-CBC).
    pub(crate) exceptions_used: crate::Exceptions,
    /// Scoped attributes whose values were dropped (a scope the IdP's metadata does not
    /// declare), as `Name: n value(s)`.
    pub(crate) dropped: Vec<String>,
}

/// Attributes whose values are `user@scope` and count only when the IdP's metadata declares
/// the scope (`shibmd:Scope`), as Shibboleth SP's default attribute filter does:
/// eduPersonPrincipalName, eduPersonScopedAffiliation, subject-id, pairwise-id.
pub const SCOPED_ATTRIBUTES: [&str; 4] = [
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
    "urn:oasis:names:tc:SAML:attribute:subject-id",
    "urn:oasis:names:tc:SAML:attribute:pairwise-id",
];

impl VerifiedAssertion {
    /// Drops the values of [`SCOPED_ATTRIBUTES`] whose scope (after the last `@`) none of
    /// `scopes` declares; an attribute left without values is removed. Each scope comes with
    /// its pattern, compiled once per verifier (`None`: a literal, or a regexp that does not
    /// compile and so matches nothing).
    pub(crate) fn enforce_scopes(&mut self, scopes: &[(crate::Scope, Option<regex_lite::Regex>)]) {
        let declared = |scope: &str| {
            scopes.iter().any(|(s, p)| match (s.regexp, p) {
                (false, _) => s.value.eq_ignore_ascii_case(scope),
                (true, Some(p)) => p.is_match(scope),
                (true, None) => false,
            })
        };
        for attribute in &mut self.attributes {
            if !SCOPED_ATTRIBUTES.contains(&attribute.name.as_str()) {
                continue;
            }
            let before = attribute.values.len();
            attribute.values.retain(|v| {
                v.rsplit_once('@')
                    .is_some_and(|(user, scope)| !user.is_empty() && declared(scope))
            });
            let gone = before - attribute.values.len();
            if gone > 0 {
                let name = attribute
                    .friendly_name
                    .as_deref()
                    .unwrap_or(&attribute.name);
                self.dropped.push(format!("{name}: {gone} value(s)"));
            }
        }
        self.attributes
            .retain(|a| !a.values.is_empty() || !SCOPED_ATTRIBUTES.contains(&a.name.as_str()));
    }

    /// Scoped attributes whose values were dropped, as `Name: n value(s)`.
    pub fn dropped_attributes(&self) -> &[String] {
        &self.dropped
    }
}

/// What one-time use must remember of an assertion (Profiles §4.1.4.5): its issuer and ID,
/// until it could no longer validate anyway. The verifier does not remember anything itself;
/// the caller records this and only then uses the assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey<'a> {
    pub issuer: &'a str,
    pub assertion_id: &'a str,
    /// The assertion's `NotOnOrAfter` plus the IdP's clock skew.
    pub until: OffsetDateTime,
}

impl VerifiedAssertion {
    /// What must be remembered so that this assertion is accepted only once.
    pub fn replay_key(&self) -> ReplayKey<'_> {
        ReplayKey {
            issuer: &self.issuer,
            assertion_id: &self.assertion_id,
            until: self.remember_until,
        }
    }
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    pub fn assertion_id(&self) -> &str {
        &self.assertion_id
    }
    pub fn name_id(&self) -> &NameId {
        &self.name_id
    }
    pub fn session_index(&self) -> Option<&str> {
        self.session_index.as_deref()
    }
    /// `AuthnContextClassRef` of the first AuthnStatement.
    pub fn authn_context(&self) -> Option<&str> {
        self.authn_context.as_deref()
    }
    pub fn authn_instant(&self) -> Option<OffsetDateTime> {
        self.authn_instant
    }
    /// The earliest of the bearer confirmation's and the Conditions' NotOnOrAfter.
    pub fn not_on_or_after(&self) -> OffsetDateTime {
        self.not_on_or_after
    }
    pub fn session_not_on_or_after(&self) -> Option<OffsetDateTime> {
        self.session_not_on_or_after
    }
    pub fn in_response_to(&self) -> Option<&str> {
        self.in_response_to.as_deref()
    }
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }
    /// All values of the attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.values.as_slice())
    }
    pub fn response_signed(&self) -> bool {
        self.response_signed
    }
    pub fn assertion_signed(&self) -> bool {
        self.assertion_signed
    }
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }
    /// Which of the IdP's algorithm exceptions this Response needed (empty: none; an admin
    /// can then remove a configured one).
    pub fn exceptions_used(&self) -> crate::Exceptions {
        self.exceptions_used
    }
}

/// What the checks are compared against: configuration, never the request (DESIGN.md §8).
pub(crate) struct Expected<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub request_id: Option<&'a str>,
    pub now: OffsetDateTime,
    pub skew: Duration,
    /// The SP keys, for a Subject's EncryptedID.
    pub decrypter: Option<&'a dyn crate::xmlsec::Decrypter>,
}

impl Expected<'_> {
    /// NotBefore is inclusive: valid from `not_before - skew` on.
    fn check_not_before(
        &self,
        not_before: OffsetDateTime,
        what: &'static str,
    ) -> Result<(), Error> {
        if self.now + self.skew < not_before {
            return Err(Error::NotYetValid(what));
        }
        Ok(())
    }
    /// NotOnOrAfter is exclusive: invalid from `not_on_or_after + skew` on.
    fn check_not_on_or_after(
        &self,
        limit: OffsetDateTime,
        what: &'static str,
    ) -> Result<(), Error> {
        if self.now - self.skew >= limit {
            return Err(Error::Expired(what));
        }
        Ok(())
    }
}

/// The Response's own fields. Only trusted as far as `signed` says.
pub(crate) struct ResponseFacts {
    pub issuer: Option<String>,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub status: String,
    pub signed: bool,
}

impl ResponseFacts {
    pub(crate) fn read(doc: &Document<'_>, response: NodeId, signed: bool) -> Result<Self, Error> {
        require_version(doc, response)?;
        let issuer = xml::optional_child(doc, response, SAML, "Issuer")?
            .map(|n| read_issuer(doc, n))
            .transpose()?;
        let status = xml::required_child(doc, response, SAMLP, "Status")?;
        let code = xml::required_child(doc, status, SAMLP, "StatusCode")?;
        let mut status_text = attr(doc, code, "Value").unwrap_or("").to_owned();
        if let Some(sub) = xml::optional_child(doc, code, SAMLP, "StatusCode")? {
            status_text = format!("{status_text} / {}", attr(doc, sub, "Value").unwrap_or(""));
        }
        Ok(Self {
            issuer,
            destination: attr(doc, response, "Destination").map(str::to_owned),
            in_response_to: attr(doc, response, "InResponseTo").map(str::to_owned),
            status: status_text,
            signed,
        })
    }
}

impl ResponseFacts {
    /// Core §3.2.2: the top-level StatusCode must be Success.
    pub(crate) fn require_success(&self) -> Result<(), Error> {
        if self.status != SUCCESS {
            return Err(Error::StatusNotSuccess(self.status.clone()));
        }
        Ok(())
    }
}

fn require_version(doc: &Document<'_>, element: NodeId) -> Result<(), Error> {
    if attr(doc, element, "Version") != Some("2.0") {
        return Err(Error::Malformed("Version must be 2.0".into()));
    }
    Ok(())
}

/// An Issuer's value; if it carries a Format, that must be the entity format (Core §2.2.5).
fn read_issuer(doc: &Document<'_>, issuer: NodeId) -> Result<String, Error> {
    if let Some(format) = attr(doc, issuer, "Format") {
        if format != ENTITY_FORMAT {
            return Err(Error::IssuerMismatch(format!("Format {format}")));
        }
    }
    simple_text(doc, issuer, "Issuer")
}

fn instant(doc: &Document<'_>, node: NodeId, name: &str) -> Result<Option<OffsetDateTime>, Error> {
    attr(doc, node, name)
        .map(|text| {
            parse_instant(text)
                .ok_or_else(|| Error::Malformed(format!("{name} is not a UTC xs:dateTime")))
        })
        .transpose()
}

/// Step 7 and 8 over the verified `assertion` node. The order of the checks is part of the
/// contract (the first failing check names the error).
pub(crate) fn check_and_read(
    response: &ResponseFacts,
    doc: &Document<'_>,
    assertion: NodeId,
    expected: &Expected<'_>,
    protection: Protection,
) -> Result<VerifiedAssertion, Error> {
    require_version(doc, assertion)?;
    let assertion_id = attr(doc, assertion, "ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Error::Malformed("Assertion has no ID".into()))?
        .to_owned();

    // Profiles §4.1.4.2: the Issuer of the assertion (and of the Response, if present) is
    // the IdP's entity ID.
    let issuer = read_issuer(doc, xml::required_child(doc, assertion, SAML, "Issuer")?)?;
    if issuer != expected.idp_entity_id {
        return Err(Error::IssuerMismatch(issuer));
    }
    if let Some(outer) = &response.issuer {
        if outer != expected.idp_entity_id {
            return Err(Error::IssuerMismatch(outer.clone()));
        }
    }

    // Bindings §3.5.5.2: Destination must be our ACS URL (from configuration, never from
    // the request's Host); a signed Response must carry it.
    match &response.destination {
        Some(destination) if destination != expected.acs_url => {
            return Err(Error::DestinationMismatch(destination.clone()))
        }
        None if response.signed => {
            return Err(Error::DestinationMismatch(
                "absent from a signed Response".into(),
            ))
        }
        _ => {}
    }

    // Core §2.5.1: Conditions validity window, skew applied to each bound.
    let conditions = xml::optional_child(doc, assertion, SAML, "Conditions")?;
    let mut not_on_or_after = None;
    if let Some(conditions) = conditions {
        if let Some(nb) = instant(doc, conditions, "NotBefore")? {
            expected.check_not_before(nb, "Conditions")?;
        }
        if let Some(noa) = instant(doc, conditions, "NotOnOrAfter")? {
            expected.check_not_on_or_after(noa, "Conditions")?;
            not_on_or_after = Some(noa);
        }
    }

    // Core §2.5.1.4 / Profiles §4.1.4.2: at least one AudienceRestriction, and every one of
    // them must name us (restrictions are ANDed).
    let restrictions = conditions
        .map(|c| xml::children_named(doc, c, SAML, "AudienceRestriction"))
        .unwrap_or_default();
    if restrictions.is_empty() {
        return Err(Error::AudienceMismatch("no AudienceRestriction".into()));
    }
    for restriction in restrictions {
        let mut named_us = false;
        let mut named = Vec::new();
        for audience in xml::children_named(doc, restriction, SAML, "Audience") {
            let text = simple_text(doc, audience, "Audience")?;
            named_us |= text == expected.sp_entity_id;
            named.push(format!("{text:?}"));
        }
        if !named_us {
            // What arrived is quoted (at most a few, shortened): the admin compares it with
            // the SP entity ID the IdP should have been given.
            let mut arrived: Vec<String> = named
                .iter()
                .take(3)
                .map(|a| a.chars().take(200).collect())
                .collect();
            if named.len() > 3 {
                arrived.push(format!("and {} more", named.len() - 3));
            }
            return Err(Error::AudienceMismatch(format!(
                "an AudienceRestriction without {} (it names {})",
                expected.sp_entity_id,
                if arrived.is_empty() {
                    "no Audience".to_owned()
                } else {
                    arrived.join(", ")
                }
            )));
        }
    }

    // Profiles §4.1.4.2: a bearer SubjectConfirmation whose data has Recipient = ACS URL and
    // a NotOnOrAfter that has not passed.
    let subject = xml::required_child(doc, assertion, SAML, "Subject")?;
    let bearer = bearer_confirmation(doc, subject, expected)?;
    not_on_or_after = Some(match not_on_or_after {
        Some(conditions) => conditions.min(bearer.not_on_or_after),
        None => bearer.not_on_or_after,
    });

    // Profiles §4.1.4.3: InResponseTo, read only from signed content, must name our request;
    // an unsolicited response must carry none.
    let in_response_to = check_in_response_to(response, &bearer, expected)?;

    // Profiles §4.1.4.2: at least one AuthnStatement.
    let authn = xml::children_named(doc, assertion, SAML, "AuthnStatement");
    let authn = *authn.first().ok_or(Error::AuthnStatementMissing)?;
    let session_not_on_or_after = instant(doc, authn, "SessionNotOnOrAfter")?;
    if let Some(limit) = session_not_on_or_after {
        expected.check_not_on_or_after(limit, "SessionNotOnOrAfter")?;
    }
    let authn_context = match xml::optional_child(doc, authn, SAML, "AuthnContext")? {
        Some(context) => xml::optional_child(doc, context, SAML, "AuthnContextClassRef")?
            .map(|n| simple_text(doc, n, "AuthnContextClassRef"))
            .transpose()?,
        None => None,
    };

    let name_id = read_name_id(doc, subject, expected.decrypter)?;
    let attributes = read_attributes(doc, assertion)?;
    let not_on_or_after = not_on_or_after.unwrap_or(bearer.not_on_or_after);
    Ok(VerifiedAssertion {
        issuer,
        assertion_id,
        name_id,
        session_index: attr(doc, authn, "SessionIndex").map(str::to_owned),
        authn_context,
        authn_instant: instant(doc, authn, "AuthnInstant")?,
        not_on_or_after,
        remember_until: not_on_or_after + expected.skew,
        session_not_on_or_after,
        in_response_to,
        attributes,
        response_signed: protection.response_signed,
        assertion_signed: protection.assertion_signed,
        encrypted: protection.encrypted,
        exceptions_used: crate::Exceptions::default(),
        dropped: Vec::new(),
    })
}

/// How the assertion reached us: which signatures covered it, whether it was encrypted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Protection {
    pub response_signed: bool,
    pub assertion_signed: bool,
    pub encrypted: bool,
}

struct Bearer {
    not_on_or_after: OffsetDateTime,
    in_response_to: Vec<String>,
}

fn bearer_confirmation(
    doc: &Document<'_>,
    subject: NodeId,
    expected: &Expected<'_>,
) -> Result<Bearer, Error> {
    let confirmations: Vec<NodeId> = xml::children_named(doc, subject, SAML, "SubjectConfirmation")
        .into_iter()
        .filter(|c| attr(doc, *c, "Method") == Some(BEARER))
        .collect();
    let mut first_error = None;
    for confirmation in &confirmations {
        match check_bearer(doc, *confirmation, expected) {
            Ok(bearer) => {
                // Every InResponseTo on any bearer confirmation must agree (checked later).
                let in_response_to = confirmations
                    .iter()
                    .filter_map(|c| {
                        xml::optional_child(doc, *c, SAML, "SubjectConfirmationData")
                            .ok()
                            .flatten()
                    })
                    .filter_map(|d| attr(doc, d, "InResponseTo").map(str::to_owned))
                    .collect();
                return Ok(Bearer {
                    not_on_or_after: bearer,
                    in_response_to,
                });
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        Error::BearerConfirmationMissing("no SubjectConfirmation with the bearer method".into())
    }))
}

fn check_bearer(
    doc: &Document<'_>,
    confirmation: NodeId,
    expected: &Expected<'_>,
) -> Result<OffsetDateTime, Error> {
    let data = xml::optional_child(doc, confirmation, SAML, "SubjectConfirmationData")?
        .ok_or_else(|| Error::BearerConfirmationMissing("no SubjectConfirmationData".into()))?;
    let not_on_or_after = instant(doc, data, "NotOnOrAfter")?.ok_or_else(|| {
        Error::BearerConfirmationMissing("SubjectConfirmationData has no NotOnOrAfter".into())
    })?;
    match attr(doc, data, "Recipient") {
        Some(recipient) if recipient == expected.acs_url => {}
        Some(recipient) => return Err(Error::RecipientMismatch(recipient.to_owned())),
        None => return Err(Error::RecipientMismatch("absent".into())),
    }
    if let Some(not_before) = instant(doc, data, "NotBefore")? {
        expected.check_not_before(not_before, "SubjectConfirmationData")?;
    }
    expected.check_not_on_or_after(not_on_or_after, "SubjectConfirmationData")?;
    Ok(not_on_or_after)
}

fn check_in_response_to(
    response: &ResponseFacts,
    bearer: &Bearer,
    expected: &Expected<'_>,
) -> Result<Option<String>, Error> {
    let present: Vec<&str> = response
        .in_response_to
        .iter()
        .chain(bearer.in_response_to.iter())
        .map(String::as_str)
        .collect();
    match expected.request_id {
        None => match present.first() {
            Some(value) => Err(Error::UnexpectedInResponseTo((*value).to_owned())),
            None => Ok(None),
        },
        Some(request_id) => {
            if let Some(other) = present.iter().find(|v| **v != request_id) {
                return Err(Error::InResponseToMismatch(format!("got {other:?}")));
            }
            let signed = (response.signed && response.in_response_to.is_some())
                || !bearer.in_response_to.is_empty();
            if !signed {
                return Err(Error::InResponseToMismatch(
                    "absent from signed content".into(),
                ));
            }
            Ok(Some(request_id.to_owned()))
        }
    }
}

/// The Subject's NameID, or its EncryptedID opened with the SP keys (exactly one of them).
fn read_name_id(
    doc: &Document<'_>,
    subject: NodeId,
    decrypter: Option<&dyn crate::xmlsec::Decrypter>,
) -> Result<NameId, Error> {
    let Some(encrypted) = xml::optional_child(doc, subject, SAML, "EncryptedID")? else {
        return name_id_of(doc, xml::required_child(doc, subject, SAML, "NameID")?);
    };
    if xml::optional_child(doc, subject, SAML, "NameID")?.is_some() {
        return Err(Error::Malformed(
            "Subject has both NameID and EncryptedID".into(),
        ));
    }
    let plaintext = crate::encrypted::decrypt_id(doc, encrypted, decrypter)?;
    let limits = crate::Limits::default();
    if plaintext.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: plaintext.len(),
            limit: limits.max_bytes,
        });
    }
    let inner = xml::parse_strict(&plaintext, &limits)?;
    let wrapper = inner
        .document_element()
        .ok_or_else(|| Error::Malformed("empty decrypted EncryptedID".into()))?;
    let opened = xml::required_child(&inner, wrapper, SAML, "EncryptedID")?;
    let mut name_ids = xml::child_elements(&inner, opened)
        .filter(|c| !is(&inner, *c, crate::xml::XENC, "EncryptedKey"));
    match (name_ids.next(), name_ids.next()) {
        (Some(node), None) if is(&inner, node, SAML, "NameID") => name_id_of(&inner, node),
        _ => Err(Error::Malformed(
            "a decrypted EncryptedID holds one NameID".into(),
        )),
    }
}

fn name_id_of(doc: &Document<'_>, node: NodeId) -> Result<NameId, Error> {
    Ok(NameId {
        value: simple_text(doc, node, "NameID")?,
        format: attr(doc, node, "Format").map(str::to_owned),
        name_qualifier: attr(doc, node, "NameQualifier").map(str::to_owned),
        sp_name_qualifier: attr(doc, node, "SPNameQualifier").map(str::to_owned),
    })
}

/// An AttributeValue whose content is exactly one `saml:NameID` (whitespace around it aside):
/// that NameID. Any other element content, or a comment or processing instruction beside the
/// NameID, is `mixed_content`; text content is `None` (read as text by the caller).
fn name_id_value(doc: &Document<'_>, value: NodeId) -> Result<Option<NameId>, Error> {
    let blank = |t: &str| t.trim_matches([' ', '\t', '\r', '\n']).is_empty();
    let (mut name_id, mut text) = (None, false);
    for child in doc.children_iter(value) {
        match doc.node_kind(child) {
            Some(NodeKind::Element(_)) if is(doc, child, SAML, "NameID") && name_id.is_none() => {
                name_id = Some(child);
            }
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => text |= !blank(t),
            _ => return Err(Error::MixedContent("AttributeValue")),
        }
    }
    match (name_id, text) {
        (None, _) => Ok(None),
        (Some(_), true) => Err(Error::MixedContent("AttributeValue")),
        (Some(node), false) => Ok(Some(NameId {
            value: simple_text(doc, node, "NameID")?,
            format: attr(doc, node, "Format").map(str::to_owned),
            name_qualifier: attr(doc, node, "NameQualifier").map(str::to_owned),
            sp_name_qualifier: attr(doc, node, "SPNameQualifier").map(str::to_owned),
        })),
    }
}

fn read_attributes(doc: &Document<'_>, assertion: NodeId) -> Result<Vec<Attribute>, Error> {
    let mut out: Vec<Attribute> = Vec::new();
    for statement in xml::children_named(doc, assertion, SAML, "AttributeStatement") {
        for node in xml::children_named(doc, statement, SAML, "Attribute") {
            let name = attr(doc, node, "Name")
                .ok_or_else(|| Error::Malformed("Attribute without Name".into()))?;
            let (mut values, mut name_ids) = (Vec::new(), Vec::new());
            for value in xml::children_named(doc, node, SAML, "AttributeValue") {
                match name_id_value(doc, value)? {
                    Some(name_id) => {
                        values.push(name_id.value.clone());
                        name_ids.push(name_id);
                    }
                    None => values.push(simple_text(doc, value, "AttributeValue")?),
                }
            }
            match out.iter_mut().find(|a| a.name == name) {
                Some(existing) => {
                    existing.values.extend(values);
                    existing.name_ids.extend(name_ids);
                }
                None => out.push(Attribute {
                    name: name.to_owned(),
                    name_format: attr(doc, node, "NameFormat").map(str::to_owned),
                    friendly_name: attr(doc, node, "FriendlyName").map(str::to_owned),
                    values,
                    name_ids,
                }),
            }
        }
    }
    Ok(out)
}

/// For `--explain`: a short line about the validity window.
pub(crate) fn describe_window(claims: &VerifiedAssertion) -> String {
    format!("valid until {}", format_instant(claims.not_on_or_after))
}
