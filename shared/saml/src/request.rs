//! Building an AuthnRequest and sending it with the HTTP-Redirect binding (SAML Bindings
//! §3.4), signed with the query-string signature of §3.4.4.1. The XML is written with
//! uppsala's streaming `XmlWriter` (every attribute and text escaped), never by concatenation.

use std::io::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::OffsetDateTime;
use uppsala::XmlWriter;

use crate::clock::format_instant;
use crate::error::ConfigError;
use crate::sign::{RequestSigner, RSA_SHA256};
use crate::xml::{HTTP_POST, SAML, SAMLP};

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What an AuthnRequest says. Every value comes from configuration, never from the request
/// that triggered the login.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// From [`new_request_id`]; stored server-side to check `InResponseTo` later.
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    /// The IdP's SingleSignOnService location (Core §3.2.1: Destination).
    pub destination: &'a str,
    /// Where the IdP must post the Response (Core §3.4.1: AssertionConsumerServiceURL).
    pub acs_url: &'a str,
    /// This SP's entity ID (the Issuer).
    pub sp_entity_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub force_authn: bool,
}

/// A fresh request ID: `_` and 32 hex digits (an xs:ID must not start with a digit).
pub fn new_request_id() -> Result<String, ConfigError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ConfigError::SpKey("random generator failed".into()))?;
    Ok(format!(
        "_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

impl crate::OutgoingMessage for AuthnRequest<'_> {
    fn write(&self, signer: Option<&crate::XmlSigner>) -> String {
        let instant = format_instant(self.issue_instant);
        let mut attrs = vec![
            ("xmlns:samlp", SAMLP),
            ("xmlns:saml", SAML),
            ("ID", self.id),
            ("Version", "2.0"),
            ("IssueInstant", instant.as_str()),
            ("Destination", self.destination),
            ("AssertionConsumerServiceURL", self.acs_url),
            ("ProtocolBinding", HTTP_POST),
        ];
        if self.force_authn {
            attrs.push(("ForceAuthn", "true"));
        }
        let mut w = XmlWriter::new();
        w.start_element("samlp:AuthnRequest", &attrs);
        w.start_element("saml:Issuer", &[]);
        w.text(self.sp_entity_id);
        w.end_element("saml:Issuer");
        if let Some(signer) = signer {
            signer.write_template(&mut w, self.id);
        }
        if let Some(format) = self.name_id_format {
            w.empty_element(
                "samlp:NameIDPolicy",
                &[("Format", format), ("AllowCreate", "true")],
            );
        }
        w.end_element("samlp:AuthnRequest");
        w.into_string()
    }
}

/// The HTTP-Redirect URL for `xml` (Bindings §3.4.4.1): `SAMLRequest` is the raw-DEFLATEd,
/// base64, percent-encoded message; with a signer, `SigAlg` and `Signature` sign the exact
/// octets `SAMLRequest=…&RelayState=…&SigAlg=…` in that order.
pub fn redirect_url(
    sso_url: &str,
    xml: &str,
    relay_state: Option<&str>,
    signer: Option<&RequestSigner>,
) -> Result<String, ConfigError> {
    redirect_message_url(sso_url, "SAMLRequest", xml, relay_state, signer)
}

/// [`redirect_url`] for any message: `parameter` is `SAMLRequest` or `SAMLResponse`.
pub(crate) fn redirect_message_url(
    sso_url: &str,
    parameter: &str,
    xml: &str,
    relay_state: Option<&str>,
    signer: Option<&RequestSigner>,
) -> Result<String, ConfigError> {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| ConfigError::SpKey(format!("deflate: {e}")))?;
    let deflated = deflater
        .finish()
        .map_err(|e| ConfigError::SpKey(format!("deflate: {e}")))?;
    let mut query = format!(
        "{parameter}={}",
        utf8_percent_encode(&B64.encode(deflated), QUERY)
    );
    if let Some(relay_state) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&utf8_percent_encode(relay_state, QUERY).to_string());
    }
    if let Some(signer) = signer {
        query.push_str("&SigAlg=");
        query.push_str(&utf8_percent_encode(RSA_SHA256, QUERY).to_string());
        let signature = signer.sign(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&utf8_percent_encode(&B64.encode(signature), QUERY).to_string());
    }
    let separator = if sso_url.contains('?') { '&' } else { '?' };
    Ok(format!("{sso_url}{separator}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutgoingMessage as _;

    #[test]
    fn request_ids_are_fresh_xs_ids() {
        let a = new_request_id().unwrap();
        assert_eq!(a.len(), 33);
        assert!(a.starts_with('_'));
        assert_ne!(a, new_request_id().unwrap());
    }

    #[test]
    fn values_are_escaped_not_concatenated() {
        let xml = AuthnRequest {
            id: "_1",
            issue_instant: time::macros::datetime!(2026-01-01 0:00 UTC),
            destination: "https://idp.example.com/sso?a=1&b=\"2\"",
            acs_url: "https://sp.example.com/acs",
            sp_entity_id: "<evil/>",
            name_id_format: None,
            force_authn: false,
        }
        .to_xml();
        assert!(xml.contains("a=1&amp;b=&quot;2&quot;"), "{xml}");
        assert!(xml.contains("&lt;evil/&gt;"), "{xml}");
        assert!(crate::xml::parse_strict(&xml, &crate::Limits::default()).is_ok());
    }
}

/// What a received AuthnRequest asks for (the dev server's demo IdP reads ours with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAuthnRequest {
    pub id: String,
    pub issuer: String,
    pub acs_url: String,
}

impl ReceivedAuthnRequest {
    /// Reads `SAMLRequest` as sent with the HTTP-Redirect binding (base64 of raw DEFLATE),
    /// with the same strict parser and limits as Responses; inflation is bounded.
    pub fn from_redirect(saml_request: &str, limits: &crate::Limits) -> Result<Self, crate::Error> {
        let malformed = |m: &str| crate::Error::Malformed(m.to_owned());
        if saml_request.len() > limits.max_bytes {
            return Err(crate::Error::TooLarge {
                size: saml_request.len(),
                limit: limits.max_bytes,
            });
        }
        let xml = crate::input::inflate_redirect(saml_request, limits)?;
        let doc = crate::xml::parse_strict(&xml, limits)?;
        let root = doc
            .document_element()
            .filter(|r| crate::xml::is(&doc, *r, SAMLP, "AuthnRequest"))
            .ok_or_else(|| malformed("not an AuthnRequest"))?;
        let attr = |name| crate::xml::attr(&doc, root, name).map(str::to_owned);
        let issuer = crate::xml::optional_child(&doc, root, SAML, "Issuer")?
            .map(|n| doc.text_content_deep(n))
            .ok_or_else(|| malformed("AuthnRequest has no Issuer"))?;
        Ok(Self {
            id: attr("ID").ok_or_else(|| malformed("AuthnRequest has no ID"))?,
            issuer,
            acs_url: attr("AssertionConsumerServiceURL")
                .ok_or_else(|| malformed("AuthnRequest has no AssertionConsumerServiceURL"))?,
        })
    }
}
