//! Single logout, front channel, HTTP-Redirect binding (SAML Profiles §4.4, Bindings §3.4):
//! build our LogoutRequest and LogoutResponse, and read the IdP's, accepting a message only
//! when its query-string signature verifies with one of the IdP's metadata certificates over
//! the exact octets received (`SAMLRequest|SAMLResponse=…[&RelayState=…]&SigAlg=…`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use time::OffsetDateTime;
use uppsala::XmlWriter;

use crate::clock::{format_instant, parse_instant};
use crate::error::Error;
use crate::xml::{self, SAML, SAMLP};
use crate::Limits;

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Query signature algorithms accepted on incoming messages (no SHA-1).
const SIG_ALGS: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
];

/// Our LogoutRequest (SP-initiated logout).
#[derive(Debug, Clone)]
pub struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl crate::OutgoingMessage for LogoutRequest<'_> {
    fn write(&self, signer: Option<&crate::XmlSigner>) -> String {
        let mut w = XmlWriter::new();
        start_message(
            &mut w,
            "samlp:LogoutRequest",
            self.id,
            self.issue_instant,
            self.destination,
            self.issuer,
            None,
        );
        if let Some(signer) = signer {
            signer.write_template(&mut w, self.id);
        }
        match self.name_id_format {
            Some(format) => w.start_element("saml:NameID", &[("Format", format)]),
            None => w.start_element("saml:NameID", &[]),
        }
        w.text(self.name_id);
        w.end_element("saml:NameID");
        if let Some(index) = self.session_index {
            text(&mut w, "samlp:SessionIndex", index);
        }
        w.end_element("samlp:LogoutRequest");
        w.into_string()
    }
}

/// Our LogoutResponse (to an IdP-initiated logout).
#[derive(Debug, Clone)]
pub struct LogoutResponse<'a> {
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub in_response_to: &'a str,
    pub status: &'a str,
    /// A second-level StatusCode inside the top-level one (Core §3.2.2.2), such as
    /// [`STATUS_PARTIAL_LOGOUT`].
    pub sub_status: Option<&'a str>,
}

/// Core §3.2.2.2: logout could not be propagated to every participant.
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

impl crate::OutgoingMessage for LogoutResponse<'_> {
    fn write(&self, signer: Option<&crate::XmlSigner>) -> String {
        let mut w = XmlWriter::new();
        start_message(
            &mut w,
            "samlp:LogoutResponse",
            self.id,
            self.issue_instant,
            self.destination,
            self.issuer,
            Some(self.in_response_to),
        );
        if let Some(signer) = signer {
            signer.write_template(&mut w, self.id);
        }
        w.start_element("samlp:Status", &[]);
        match self.sub_status {
            Some(sub) => {
                w.start_element("samlp:StatusCode", &[("Value", self.status)]);
                w.empty_element("samlp:StatusCode", &[("Value", sub)]);
                w.end_element("samlp:StatusCode");
            }
            None => w.empty_element("samlp:StatusCode", &[("Value", self.status)]),
        }
        w.end_element("samlp:Status");
        w.end_element("samlp:LogoutResponse");
        w.into_string()
    }
}

/// The root element of a protocol message and its Issuer.
fn start_message(
    w: &mut XmlWriter,
    name: &str,
    id: &str,
    issue_instant: OffsetDateTime,
    destination: &str,
    issuer: &str,
    in_response_to: Option<&str>,
) {
    let instant = format_instant(issue_instant);
    let mut attrs = vec![
        ("xmlns:samlp", SAMLP),
        ("xmlns:saml", SAML),
        ("ID", id),
        ("Version", "2.0"),
        ("IssueInstant", instant.as_str()),
        ("Destination", destination),
    ];
    if let Some(irt) = in_response_to {
        attrs.push(("InResponseTo", irt));
    }
    w.start_element(name, &attrs);
    text(w, "saml:Issuer", issuer);
}

fn text(w: &mut XmlWriter, name: &str, value: &str) {
    w.start_element(name, &[]);
    w.text(value);
    w.end_element(name);
}

/// How long after its IssueInstant a LogoutRequest is accepted at all (with the clock skew on
/// top), whatever its `NotOnOrAfter` says: a request without one would otherwise be valid
/// forever. Its ID is remembered (the replay store) until then.
pub const MAX_LOGOUT_REQUEST_AGE: time::Duration = time::Duration::minutes(5);

/// What a logout message from the IdP must say about itself: its Issuer (the IdP's entity
/// ID), its Destination (our SLO URL from configuration) and, for a LogoutRequest, an
/// IssueInstant neither in the future nor older than [`MAX_LOGOUT_REQUEST_AGE`] and a
/// `NotOnOrAfter` that has not passed (Core §3.7.1), all with the IdP's clock skew.
#[derive(Debug, Clone, Copy)]
pub struct LogoutExpected<'a> {
    pub issuer: &'a str,
    pub destination: &'a str,
    pub now: OffsetDateTime,
    pub clock_skew: std::time::Duration,
}

/// A LogoutRequest whose signature verified and whose Issuer, Destination and validity were
/// checked. Only [`read_redirect`] and [`read_post`] build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutRequest {
    id: String,
    name_id: String,
    session_indexes: Vec<String>,
    valid_until: OffsetDateTime,
}

impl VerifiedLogoutRequest {
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Until when this request could be accepted (the earlier of its `NotOnOrAfter` and
    /// IssueInstant + [`MAX_LOGOUT_REQUEST_AGE`], plus the skew): how long its ID must be
    /// remembered to refuse a replay.
    pub fn valid_until(&self) -> OffsetDateTime {
        self.valid_until
    }
    pub fn name_id(&self) -> &str {
        &self.name_id
    }
    /// The sessions to end; empty means every session of the NameID (Core §3.7.1).
    pub fn session_indexes(&self) -> &[String] {
        &self.session_indexes
    }
}

/// A LogoutResponse whose signature verified and whose Issuer and Destination were checked.
/// Only [`read_redirect`] and [`read_post`] build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogoutResponse {
    in_response_to: String,
    status: String,
}

impl VerifiedLogoutResponse {
    /// The ID of our LogoutRequest this answers (from signed content).
    pub fn in_response_to(&self) -> &str {
        &self.in_response_to
    }
    /// The top-level StatusCode value.
    pub fn status(&self) -> &str {
        &self.status
    }
}

/// Which verified message arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutMessage {
    Request(VerifiedLogoutRequest),
    Response(VerifiedLogoutResponse),
}

/// A verified logout message and the RelayState that came with it (covered by the query
/// signature on the Redirect binding; not signed on the POST binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogout {
    message: LogoutMessage,
    relay_state: Option<String>,
}

impl VerifiedLogout {
    pub fn message(&self) -> &LogoutMessage {
        &self.message
    }
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }
}

/// Reads a Redirect-binding query (Bindings §3.4.4.1): the signature must verify with one of
/// `certificates` (DER, from the IdP's metadata) over the octets exactly as received; then the
/// message is inflated (bounded), parsed and checked against `expected`.
pub fn read_redirect(
    query: &str,
    certificates: &[Vec<u8>],
    expected: &LogoutExpected<'_>,
    limits: &Limits,
) -> Result<VerifiedLogout, Error> {
    if query.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: query.len(),
            limit: limits.max_bytes,
        });
    }
    let (mut message, mut relay, mut sig_alg, mut signature) = (None, None, None, None);
    for pair in query.split('&') {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "SAMLRequest" | "SAMLResponse" => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace((name, raw)).is_some() {
            return Err(Error::Malformed(format!("{name} appears twice")));
        }
    }
    let (name, raw_message) = message.ok_or_else(|| Error::Malformed("no SAML message".into()))?;
    let (_, raw_sig_alg) =
        sig_alg.ok_or_else(|| Error::SignatureInvalid("the message is not signed".into()))?;
    let (_, raw_signature) =
        signature.ok_or_else(|| Error::SignatureInvalid("the message is not signed".into()))?;
    let alg = decode_component(raw_sig_alg)?;
    if !SIG_ALGS.contains(&alg.as_str()) {
        return Err(Error::AlgorithmForbidden(alg));
    }
    let mut signed = format!("{name}={raw_message}");
    if let Some((_, raw_relay)) = relay {
        signed.push_str("&RelayState=");
        signed.push_str(raw_relay);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(raw_sig_alg);
    let signature_bytes = B64
        .decode(decode_component(raw_signature)?.replace([' ', '\n', '\r'], ""))
        .map_err(|_| Error::Malformed("Signature is not base64".into()))?;
    if certificates.is_empty() {
        return Err(Error::NoTrustedKeys);
    }
    if !crate::xmlsec::verify_raw(certificates, &alg, signed.as_bytes(), &signature_bytes)? {
        return Err(Error::SignatureInvalid(
            "the query signature does not verify with any metadata certificate".into(),
        ));
    }
    let xml_text = crate::input::inflate_redirect(&decode_component(raw_message)?, limits)?;
    let doc = xml::parse_strict(&xml_text, limits)?;
    let root = doc
        .document_element()
        .ok_or_else(|| Error::Malformed("empty document".into()))?;
    // The parameter name is not signed content's word on what the message is: the root is.
    let wanted = if name == "SAMLRequest" {
        "LogoutRequest"
    } else {
        "LogoutResponse"
    };
    if !xml::is(&doc, root, SAMLP, wanted) {
        return Err(Error::Malformed(format!("not a {wanted}")));
    }
    Ok(VerifiedLogout {
        message: read_message(&doc, root, expected)?,
        relay_state: relay.map(|(_, r)| decode_component(r)).transpose()?,
    })
}

/// Reads a logout message posted with the HTTP-POST binding (Bindings §3.5): strict parse,
/// unique IDs, the signature profile, and exactly one signature, on the root element, that
/// verifies with one of `certificates` and covers the root; then the message is checked
/// against `expected`, from the same parsed document.
pub fn read_post(
    encoded: &str,
    relay_state: Option<&str>,
    certificates: &[Vec<u8>],
    expected: &LogoutExpected<'_>,
    limits: &Limits,
) -> Result<VerifiedLogout, Error> {
    if certificates.is_empty() {
        return Err(Error::NoTrustedKeys);
    }
    let text = crate::input::decode(encoded.as_bytes(), limits)?;
    let doc = xml::parse_strict(&text, limits)?;
    let root = doc
        .document_element()
        .ok_or_else(|| Error::Malformed("empty document".into()))?;
    if !xml::is(&doc, root, SAMLP, "LogoutRequest") && !xml::is(&doc, root, SAMLP, "LogoutResponse")
    {
        return Err(Error::Malformed("not a logout message".into()));
    }
    crate::profile::verify_root_signature(
        &doc,
        root,
        crate::profile::LOGOUT_SIGNABLE,
        certificates,
        "message",
    )?;
    Ok(VerifiedLogout {
        message: read_message(&doc, root, expected)?,
        relay_state: relay_state.map(str::to_owned),
    })
}

fn decode_component(raw: &str) -> Result<String, Error> {
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::Malformed("query component is not UTF-8".into()))
}

/// The checks every logout message shares (Issuer, Destination), then the request's or the
/// response's own fields, from the verified root.
fn read_message(
    doc: &uppsala::Document<'_>,
    root: uppsala::NodeId,
    expected: &LogoutExpected<'_>,
) -> Result<LogoutMessage, Error> {
    let found = xml::optional_child(doc, root, SAML, "Issuer")?
        .map(|n| doc.text_content_deep(n))
        .unwrap_or_default();
    if found != expected.issuer {
        return Err(Error::IssuerMismatch(found));
    }
    match xml::attr(doc, root, "Destination") {
        Some(d) if d == expected.destination => {}
        other => return Err(Error::DestinationMismatch(other.unwrap_or("").to_owned())),
    }
    if xml::is(doc, root, SAMLP, "LogoutRequest") {
        read_request(doc, root, expected).map(LogoutMessage::Request)
    } else {
        read_response(doc, root).map(LogoutMessage::Response)
    }
}

/// Core §3.7.1: not expired, a NameID, its ID and SessionIndexes.
fn read_request(
    doc: &uppsala::Document<'_>,
    root: uppsala::NodeId,
    expected: &LogoutExpected<'_>,
) -> Result<VerifiedLogoutRequest, Error> {
    let issued = xml::attr(doc, root, "IssueInstant")
        .and_then(parse_instant)
        .ok_or_else(|| Error::Malformed("LogoutRequest has no IssueInstant".into()))?;
    if issued > expected.now + expected.clock_skew {
        return Err(Error::NotYetValid("LogoutRequest"));
    }
    let mut limit = issued + MAX_LOGOUT_REQUEST_AGE;
    if let Some(not_on_or_after) = xml::attr(doc, root, "NotOnOrAfter") {
        let not_on_or_after = parse_instant(not_on_or_after)
            .ok_or_else(|| Error::Malformed("NotOnOrAfter is not a time".into()))?;
        limit = limit.min(not_on_or_after);
    }
    if expected.now - expected.clock_skew >= limit {
        return Err(Error::Expired("LogoutRequest"));
    }
    let name_id = xml::optional_child(doc, root, SAML, "NameID")?
        .map(|n| doc.text_content_deep(n))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Malformed("LogoutRequest has no NameID".into()))?;
    Ok(VerifiedLogoutRequest {
        id: xml::attr(doc, root, "ID")
            .ok_or_else(|| Error::Malformed("LogoutRequest has no ID".into()))?
            .to_owned(),
        name_id,
        session_indexes: xml::children_named(doc, root, SAMLP, "SessionIndex")
            .into_iter()
            .map(|n| doc.text_content_deep(n))
            .collect(),
        valid_until: limit + expected.clock_skew,
    })
}

/// Core §3.7.2 / §3.2.2: InResponseTo and the top-level StatusCode.
fn read_response(
    doc: &uppsala::Document<'_>,
    root: uppsala::NodeId,
) -> Result<VerifiedLogoutResponse, Error> {
    let status = xml::optional_child(doc, root, SAMLP, "Status")?
        .and_then(|s| {
            xml::optional_child(doc, s, SAMLP, "StatusCode")
                .ok()
                .flatten()
        })
        .and_then(|c| xml::attr(doc, c, "Value"))
        .ok_or_else(|| Error::Malformed("LogoutResponse has no StatusCode".into()))?
        .to_owned();
    Ok(VerifiedLogoutResponse {
        in_response_to: xml::attr(doc, root, "InResponseTo")
            .ok_or_else(|| Error::InResponseToMismatch("absent".into()))?
            .to_owned(),
        status,
    })
}

/// A Redirect-binding URL for a message we send (the same encoding and query signature as
/// AuthnRequests); `response` chooses `SAMLResponse` over `SAMLRequest`.
pub fn logout_redirect_url(
    slo_url: &str,
    xml_text: &str,
    relay_state: Option<&str>,
    response: bool,
    signer: &crate::RequestSigner,
) -> Result<String, crate::ConfigError> {
    let parameter = if response {
        "SAMLResponse"
    } else {
        "SAMLRequest"
    };
    crate::request::redirect_message_url(slo_url, parameter, xml_text, relay_state, Some(signer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutgoingMessage as _;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/").to_owned() + path)
            .unwrap()
    }

    fn cert(path: &str) -> Vec<u8> {
        pem::parse(fixture(path)).unwrap().into_contents()
    }

    /// The IdP's LogoutRequest for `name_id`, issued at midnight to acme's SLO URL.
    fn logout_request_xml(id: &str, name_id: &str, session_index: Option<&str>) -> String {
        LogoutRequest {
            id,
            issue_instant: time::macros::datetime!(2026-01-01 0:00 UTC),
            destination: "https://sp.example.com/o/acme/idp/okta/slo",
            issuer: "https://idp.example.com/saml",
            name_id,
            name_id_format: None,
            session_index,
        }
        .to_xml()
    }

    fn request_url() -> String {
        let signer = crate::RequestSigner::from_pem(&fixture("keys/idp-rsa.key")).unwrap();
        let xml = logout_request_xml("_lr1", "alice@example.com", Some("_s1"));
        logout_redirect_url(
            "https://sp.example.com/slo",
            &xml,
            Some("r s"),
            false,
            &signer,
        )
        .unwrap()
    }

    #[test]
    fn a_logout_request_is_accepted_only_near_its_issue_instant() {
        // Issued at 00:00 without NotOnOrAfter: at most MAX_LOGOUT_REQUEST_AGE (5 min) old,
        // plus the 3 min skew; never from the future beyond the skew.
        let url = request_url();
        let query = url.split_once('?').unwrap().1;
        let limits = Limits::default();
        let at = |now: OffsetDateTime| {
            read_redirect(
                query,
                &[cert("keys/idp-rsa.crt")],
                &LogoutExpected {
                    issuer: "https://idp.example.com/saml",
                    destination: "https://sp.example.com/o/acme/idp/okta/slo",
                    now,
                    clock_skew: std::time::Duration::from_secs(180),
                },
                &limits,
            )
        };
        let read = at(time::macros::datetime!(2026-01-01 0:07:59 UTC)).unwrap();
        let LogoutMessage::Request(request) = read.message() else {
            panic!("not a request");
        };
        assert_eq!(
            request.valid_until(),
            time::macros::datetime!(2026-01-01 0:08 UTC)
        );
        assert!(matches!(
            at(time::macros::datetime!(2026-01-01 0:08 UTC)),
            Err(Error::Expired("LogoutRequest"))
        ));
        assert!(at(time::macros::datetime!(2025-12-31 23:57 UTC)).is_ok());
        assert!(matches!(
            at(time::macros::datetime!(2025-12-31 23:56:59 UTC)),
            Err(Error::NotYetValid("LogoutRequest"))
        ));
    }

    #[test]
    fn a_partial_logout_nests_its_status_code() {
        let xml = LogoutResponse {
            id: "_r1",
            issue_instant: time::macros::datetime!(2026-01-01 0:00 UTC),
            destination: "https://idp.example.com/slo",
            issuer: "https://sp.example.com/sp",
            in_response_to: "_lr1",
            status: STATUS_SUCCESS,
            sub_status: Some(STATUS_PARTIAL_LOGOUT),
        }
        .to_xml();
        assert!(xml.contains(&format!(
            r#"<samlp:StatusCode Value="{STATUS_SUCCESS}"><samlp:StatusCode Value="{STATUS_PARTIAL_LOGOUT}"/></samlp:StatusCode>"#
        )), "{xml}");
    }

    #[test]
    fn a_signed_redirect_message_reads_back_and_any_change_breaks_it() {
        let url = request_url();
        let query = url.split_once('?').unwrap().1;
        let limits = Limits::default();
        let expected = LogoutExpected {
            issuer: "https://idp.example.com/saml",
            destination: "https://sp.example.com/o/acme/idp/okta/slo",
            now: time::macros::datetime!(2026-01-01 0:00 UTC),
            clock_skew: std::time::Duration::from_secs(180),
        };
        let read = |query: &str, crt: &str| read_redirect(query, &[cert(crt)], &expected, &limits);
        let message = read(query, "keys/idp-rsa.crt").unwrap();
        assert_eq!(message.relay_state(), Some("r s"));
        let LogoutMessage::Request(parsed) = message.message() else {
            panic!("not a request: {message:?}");
        };
        assert_eq!(parsed.name_id(), "alice@example.com");
        assert_eq!(parsed.session_indexes(), ["_s1".to_owned()]);

        let tampered = query.replace("RelayState=r%20s", "RelayState=r%20t");
        assert!(matches!(
            read(&tampered, "keys/idp-rsa.crt"),
            Err(Error::SignatureInvalid(_))
        ));
        assert!(matches!(
            read(query, "keys/attacker.crt"),
            Err(Error::SignatureInvalid(_))
        ));
        let unsigned = query.split("&SigAlg=").next().unwrap();
        assert!(matches!(
            read(unsigned, "keys/idp-rsa.crt"),
            Err(Error::SignatureInvalid(_))
        ));
        let sha1 = query.replace("xmldsig-more%23rsa-sha256", "xmldsig%23rsa-sha1");
        assert!(matches!(
            read(&sha1, "keys/idp-rsa.crt"),
            Err(Error::AlgorithmForbidden(_))
        ));
        let elsewhere = LogoutExpected {
            destination: "https://sp.example.com/o/other/idp/okta/slo",
            ..expected
        };
        assert!(matches!(
            read_redirect(query, &[cert("keys/idp-rsa.crt")], &elsewhere, &limits),
            Err(Error::DestinationMismatch(_))
        ));
    }

    fn expected_at_midnight() -> LogoutExpected<'static> {
        LogoutExpected {
            issuer: "https://idp.example.com/saml",
            destination: "https://sp.example.com/o/acme/idp/okta/slo",
            now: time::macros::datetime!(2026-01-01 0:00 UTC),
            clock_skew: std::time::Duration::from_secs(180),
        }
    }

    /// Advisory regression (issue 17 §6): parameter names are compared as sent. A decoder that
    /// percent-decodes names finds a second `SAMLRequest` the signature does not cover; here
    /// `%53AMLRequest` is not the message, so it is neither read nor a substitute for one.
    #[test]
    fn percent_encoded_parameter_names_are_not_the_saml_message() {
        let url = request_url();
        let query = url.split_once('?').unwrap().1;
        let limits = Limits::default();
        let expected = expected_at_midnight();
        let read =
            |query: &str| read_redirect(query, &[cert("keys/idp-rsa.crt")], &expected, &limits);
        // The signed message under an encoded name: there is no SAMLRequest at all.
        let renamed = query.replacen("SAMLRequest=", "%53AMLRequest=", 1);
        assert!(
            matches!(read(&renamed), Err(Error::Malformed(_))),
            "{:?}",
            read(&renamed)
        );
        // A second, unsigned message under an encoded name beside the signed one: only the
        // signed one is read.
        let evil = {
            let xml = logout_request_xml("_evil", "ceo@example.com", None);
            let signed_url =
                crate::request::redirect_message_url("https://x/", "SAMLRequest", &xml, None, None)
                    .unwrap();
            signed_url
                .split_once("SAMLRequest=")
                .unwrap()
                .1
                .split('&')
                .next()
                .unwrap()
                .to_owned()
        };
        for polluted in [
            format!("%53AMLRequest={evil}&{query}"),
            format!("{query}&%53AMLRequest={evil}"),
            format!("{query}&SAML%52equest={evil}"),
        ] {
            let read = read(&polluted).unwrap();
            let LogoutMessage::Request(request) = read.message() else {
                panic!("not a request");
            };
            assert_eq!(request.name_id(), "alice@example.com", "{polluted}");
        }
        // The real name twice is refused outright.
        let twice = format!("{query}&SAMLRequest={evil}");
        assert!(matches!(read(&twice), Err(Error::Malformed(_))));
        // An encoded SigAlg is no SigAlg: the message counts as unsigned.
        let encoded_alg = query.replacen("&SigAlg=", "&Sig%41lg=", 1);
        assert!(matches!(
            read(&encoded_alg),
            Err(Error::SignatureInvalid(_))
        ));
    }

    fn logout_fixture(name: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(fixture(&format!("logout/{name}.xml")))
    }

    /// Advisory regression (issue 17 §6): a LogoutRequest over the POST binding whose only
    /// signature (libxmlsec1's, valid) is on an Assertion inside `Extensions` is unsigned: the
    /// signature must be the root's own. The same request signed on its root reads.
    #[test]
    fn a_post_logout_request_signed_only_inside_extensions_is_refused() {
        let limits = Limits::default();
        let expected = expected_at_midnight();
        let read = |name: &str| {
            read_post(
                &logout_fixture(name),
                Some("r"),
                &[cert("keys/idp-rsa.crt")],
                &expected,
                &limits,
            )
        };
        let signed = read("logout_request_signed").unwrap();
        let LogoutMessage::Request(request) = signed.message() else {
            panic!("not a request");
        };
        assert_eq!(request.name_id(), "alice@example.com");
        let refused = read("logout_request_signed_extension_only");
        assert!(
            matches!(
                refused,
                Err(Error::SignatureMissing | Error::SignatureProfile(_))
            ),
            "{refused:?}"
        );
    }
}
