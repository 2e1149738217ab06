//! This SP's metadata for one organisation and IdP (SAML Metadata §2.4.4 SPSSODescriptor),
//! written with uppsala's streaming `XmlWriter`. Every non-retired certificate is published,
//! so an IdP that caches metadata already knows the next key when rotation switches to it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use uppsala::XmlWriter;

use crate::xml::{DSIG, HTTP_POST, HTTP_REDIRECT, MD, SAMLP};

#[derive(Debug, Clone)]
pub struct SpMetadata<'a> {
    pub entity_id: &'a str,
    /// The AssertionConsumerService (HTTP-POST), from configuration.
    pub acs_url: &'a str,
    /// The SingleLogoutService (HTTP-Redirect and HTTP-POST), if logout is offered.
    pub slo_url: Option<&'a str>,
    /// DER certificates whose keys sign AuthnRequests and LogoutRequests.
    pub signing_certificates: &'a [Vec<u8>],
    /// DER certificates IdPs may encrypt assertions to.
    pub encryption_certificates: &'a [Vec<u8>],
    pub name_id_formats: &'a [&'a str],
    pub authn_requests_signed: bool,
    pub want_assertions_signed: bool,
}

impl SpMetadata<'_> {
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.write_declaration();
        w.start_element(
            "md:EntityDescriptor",
            &[
                ("xmlns:md", MD),
                ("xmlns:ds", DSIG),
                ("entityID", self.entity_id),
            ],
        );
        w.start_element(
            "md:SPSSODescriptor",
            &[
                ("AuthnRequestsSigned", bool_text(self.authn_requests_signed)),
                (
                    "WantAssertionsSigned",
                    bool_text(self.want_assertions_signed),
                ),
                ("protocolSupportEnumeration", SAMLP),
            ],
        );
        for (usage, certificates) in [
            ("signing", self.signing_certificates),
            ("encryption", self.encryption_certificates),
        ] {
            for der in certificates {
                w.start_element("md:KeyDescriptor", &[("use", usage)]);
                w.start_element("ds:KeyInfo", &[]);
                w.start_element("ds:X509Data", &[]);
                w.start_element("ds:X509Certificate", &[]);
                w.text(&B64.encode(der));
                w.end_element("ds:X509Certificate");
                w.end_element("ds:X509Data");
                w.end_element("ds:KeyInfo");
                w.end_element("md:KeyDescriptor");
            }
        }
        // Metadata §2.4.2 orders SingleLogoutService before NameIDFormat, and §2.4.4 puts
        // AssertionConsumerService last.
        if let Some(slo) = self.slo_url {
            for binding in [HTTP_REDIRECT, HTTP_POST] {
                w.empty_element(
                    "md:SingleLogoutService",
                    &[("Binding", binding), ("Location", slo)],
                );
            }
        }
        for format in self.name_id_formats {
            w.start_element("md:NameIDFormat", &[]);
            w.text(format);
            w.end_element("md:NameIDFormat");
        }
        w.empty_element(
            "md:AssertionConsumerService",
            &[
                ("Binding", HTTP_POST),
                ("Location", self.acs_url),
                ("index", "0"),
                ("isDefault", "true"),
            ],
        );
        w.end_element("md:SPSSODescriptor");
        w.end_element("md:EntityDescriptor");
        w.into_string()
    }
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}
