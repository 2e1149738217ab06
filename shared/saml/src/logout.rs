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
}

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
        w.empty_element("samlp:StatusCode", &[("Value", self.status)]);
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

/// Which message a Redirect-binding query carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Request,
    Response,
}

/// A logout message whose signature verified (query signature or enveloped XML signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMessage {
    pub kind: MessageKind,
    pub xml: String,
    pub relay_state: Option<String>,
}

/// Reads a Redirect-binding query: the signature must verify with one of `certificates`
/// (DER, from the IdP's metadata) over the octets exactly as received; then the message is
/// inflated (bounded) and returned as XML text.
pub fn read_redirect(
    query: &str,
    certificates: &[Vec<u8>],
    limits: &Limits,
) -> Result<SignedMessage, Error> {
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
    let kind = if name == "SAMLRequest" {
        MessageKind::Request
    } else {
        MessageKind::Response
    };
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
    let xml = crate::input::inflate_redirect(&decode_component(raw_message)?, limits)?;
    Ok(SignedMessage {
        kind,
        xml,
        relay_state: relay.map(|(_, r)| decode_component(r)).transpose()?,
    })
}

/// Reads a logout message posted with the HTTP-POST binding (Bindings §3.5): strict parse,
/// unique IDs, the signature profile, and exactly one signature, on the root element, that
/// verifies with one of `certificates` and covers the root.
pub fn read_post(
    encoded: &str,
    relay_state: Option<&str>,
    certificates: &[Vec<u8>],
    limits: &Limits,
) -> Result<SignedMessage, Error> {
    if certificates.is_empty() {
        return Err(Error::NoTrustedKeys);
    }
    let text = crate::input::decode(encoded.as_bytes(), limits)?;
    let doc = xml::parse_strict(&text, limits)?;
    let root = doc
        .document_element()
        .ok_or_else(|| Error::Malformed("empty document".into()))?;
    let kind = if xml::is(&doc, root, SAMLP, "LogoutRequest") {
        MessageKind::Request
    } else if xml::is(&doc, root, SAMLP, "LogoutResponse") {
        MessageKind::Response
    } else {
        return Err(Error::Malformed("not a logout message".into()));
    };
    crate::profile::verify_root_signature(
        &doc,
        root,
        crate::profile::LOGOUT_SIGNABLE,
        certificates,
        "message",
    )?;
    Ok(SignedMessage {
        kind,
        xml: text.into_owned(),
        relay_state: relay_state.map(str::to_owned),
    })
}

fn decode_component(raw: &str) -> Result<String, Error> {
    percent_encoding::percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::Malformed("query component is not UTF-8".into()))
}

/// What an IdP's LogoutRequest asks (after [`read_redirect`] verified it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedLogoutRequest {
    pub id: String,
    pub name_id: String,
    pub session_indexes: Vec<String>,
}

/// What an IdP's LogoutResponse says (after [`read_redirect`] verified it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedLogoutResponse {
    pub in_response_to: String,
    pub status: String,
}

/// Checks every logout message shares: the root element, Issuer and Destination.
fn read_common<'a>(
    doc: &'a uppsala::Document<'a>,
    local: &str,
    issuer: &str,
    destination: &str,
) -> Result<uppsala::NodeId, Error> {
    let root = doc
        .document_element()
        .filter(|r| xml::is(doc, *r, SAMLP, local))
        .ok_or_else(|| Error::Malformed(format!("not a {local}")))?;
    let found = xml::optional_child(doc, root, SAML, "Issuer")?
        .map(|n| doc.text_content_deep(n))
        .unwrap_or_default();
    if found != issuer {
        return Err(Error::IssuerMismatch(found));
    }
    match xml::attr(doc, root, "Destination") {
        Some(d) if d == destination => Ok(root),
        other => Err(Error::DestinationMismatch(other.unwrap_or("").to_owned())),
    }
}

impl ReceivedLogoutRequest {
    /// Parses a verified LogoutRequest: from `issuer`, to `destination` (our SLO URL from
    /// configuration), not expired.
    pub fn parse(
        xml_text: &str,
        issuer: &str,
        destination: &str,
        now: OffsetDateTime,
        skew: std::time::Duration,
        limits: &Limits,
    ) -> Result<Self, Error> {
        let doc = xml::parse_strict(xml_text, limits)?;
        let root = read_common(&doc, "LogoutRequest", issuer, destination)?;
        if let Some(limit) = xml::attr(&doc, root, "NotOnOrAfter") {
            let limit = parse_instant(limit)
                .ok_or_else(|| Error::Malformed("NotOnOrAfter is not a time".into()))?;
            if now - skew >= limit {
                return Err(Error::Expired("LogoutRequest"));
            }
        }
        let name_id = xml::optional_child(&doc, root, SAML, "NameID")?
            .map(|n| doc.text_content_deep(n))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::Malformed("LogoutRequest has no NameID".into()))?;
        Ok(Self {
            id: xml::attr(&doc, root, "ID")
                .ok_or_else(|| Error::Malformed("LogoutRequest has no ID".into()))?
                .to_owned(),
            name_id,
            session_indexes: xml::children_named(&doc, root, SAMLP, "SessionIndex")
                .into_iter()
                .map(|n| doc.text_content_deep(n))
                .collect(),
        })
    }
}

impl ReceivedLogoutResponse {
    /// Parses a verified LogoutResponse: from `issuer`, to `destination`.
    pub fn parse(
        xml_text: &str,
        issuer: &str,
        destination: &str,
        limits: &Limits,
    ) -> Result<Self, Error> {
        let doc = xml::parse_strict(xml_text, limits)?;
        let root = read_common(&doc, "LogoutResponse", issuer, destination)?;
        let status = xml::optional_child(&doc, root, SAMLP, "Status")?
            .and_then(|s| {
                xml::optional_child(&doc, s, SAMLP, "StatusCode")
                    .ok()
                    .flatten()
            })
            .and_then(|c| xml::attr(&doc, c, "Value"))
            .ok_or_else(|| Error::Malformed("LogoutResponse has no StatusCode".into()))?
            .to_owned();
        Ok(Self {
            in_response_to: xml::attr(&doc, root, "InResponseTo")
                .ok_or_else(|| Error::InResponseToMismatch("absent".into()))?
                .to_owned(),
            status,
        })
    }
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

    fn request_url() -> String {
        let signer = crate::RequestSigner::from_pem(&fixture("keys/idp-rsa.key")).unwrap();
        let xml = LogoutRequest {
            id: "_lr1",
            issue_instant: time::macros::datetime!(2026-01-01 0:00 UTC),
            destination: "https://sp.example.com/o/acme/idp/okta/slo",
            issuer: "https://idp.example.com/saml",
            name_id: "alice@example.com",
            name_id_format: None,
            session_index: Some("_s1"),
        }
        .to_xml();
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
    fn a_signed_redirect_message_reads_back_and_any_change_breaks_it() {
        let url = request_url();
        let query = url.split_once('?').unwrap().1;
        let limits = Limits::default();
        let message = read_redirect(query, &[cert("keys/idp-rsa.crt")], &limits).unwrap();
        assert_eq!(message.kind, MessageKind::Request);
        assert_eq!(message.relay_state.as_deref(), Some("r s"));
        let parsed = ReceivedLogoutRequest::parse(
            &message.xml,
            "https://idp.example.com/saml",
            "https://sp.example.com/o/acme/idp/okta/slo",
            time::macros::datetime!(2026-01-01 0:00 UTC),
            std::time::Duration::from_secs(180),
            &limits,
        )
        .unwrap();
        assert_eq!(parsed.name_id, "alice@example.com");
        assert_eq!(parsed.session_indexes, vec!["_s1".to_owned()]);

        let tampered = query.replace("RelayState=r%20s", "RelayState=r%20t");
        assert!(matches!(
            read_redirect(&tampered, &[cert("keys/idp-rsa.crt")], &limits),
            Err(Error::SignatureInvalid(_))
        ));
        assert!(matches!(
            read_redirect(query, &[cert("keys/attacker.crt")], &limits),
            Err(Error::SignatureInvalid(_))
        ));
        let unsigned = query.split("&SigAlg=").next().unwrap();
        assert!(matches!(
            read_redirect(unsigned, &[cert("keys/idp-rsa.crt")], &limits),
            Err(Error::SignatureInvalid(_))
        ));
        let sha1 = query.replace("xmldsig-more%23rsa-sha256", "xmldsig%23rsa-sha1");
        assert!(matches!(
            read_redirect(&sha1, &[cert("keys/idp-rsa.crt")], &limits),
            Err(Error::AlgorithmForbidden(_))
        ));
    }
}
