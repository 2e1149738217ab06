//! The dev server's demo IdP: a page where you pick a user, then a signed Response posted to
//! samlgate's ACS. It signs with its own RSA key (kept in the state directory, so restarts
//! keep the certificate samlgate trusts). Development only: it trusts its own form fields and
//! does not check request signatures (the pysaml2 suite in `tests/` does that part for real).
//! Its home page (`/demo-idp/`) lists who signed in where, with a "Sign out everywhere"
//! button that sends the SP a signed LogoutRequest, so that back-channel logout can be
//! watched locally.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use std::sync::Mutex;

use saml::{
    format_instant, new_request_id, OutgoingMessage as _, ReceivedAuthnRequest, RequestSigner,
    XmlSigner,
};
use samlgate_acs::escape_html;
use time::OffsetDateTime;
use uppsala::XmlWriter;

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// A demo user.
pub struct User {
    pub id: &'static str,
    pub email: &'static str,
    pub name: &'static str,
    pub groups: &'static [&'static str],
}

pub const USERS: &[User] = &[
    User {
        id: "alice",
        email: "alice@demo.samlgate.test",
        name: "Alice Admin",
        groups: &["staff", "admins"],
    },
    User {
        id: "bob",
        email: "bob@demo.samlgate.test",
        name: "Bob Builder",
        groups: &["staff"],
    },
];

/// The demo IdP: its entity ID, key and certificate, and who it signed in where.
pub struct DemoIdp {
    pub entity_id: String,
    pub sso_url: String,
    pub certificate_pem: String,
    signer: XmlSigner,
    request_signer: RequestSigner,
    signed_in: Mutex<Vec<SignedIn>>,
}

/// A sign-in the demo IdP answered: for its "Sign out everywhere" button.
#[derive(Clone)]
struct SignedIn {
    email: &'static str,
    sp_entity_id: String,
    slo_url: String,
}

/// At most this many sign-ins are listed.
const MAX_SIGNED_IN: usize = 64;

impl DemoIdp {
    /// Loads the key pair from `state_dir`, or makes one (RSA-2048, self-signed).
    pub fn load_or_create(state_dir: &std::path::Path, base_url: &str) -> Result<Self, String> {
        let key_path = state_dir.join("demo-idp-key.pem");
        let cert_path = state_dir.join("demo-idp-cert.pem");
        if !key_path.exists() || !cert_path.exists() {
            std::fs::create_dir_all(state_dir).map_err(|e| e.to_string())?;
            let pair =
                rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|e| e.to_string())?;
            let mut params =
                rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "samlgate demo IdP");
            // Two years, like a real IdP's signing certificate (the console's rotation page
            // shows it on its timeline).
            let now = OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(730);
            let cert = params.self_signed(&pair).map_err(|e| e.to_string())?;
            std::fs::write(&key_path, pair.serialize_pem()).map_err(|e| e.to_string())?;
            std::fs::write(&cert_path, cert.pem()).map_err(|e| e.to_string())?;
        }
        let key = std::fs::read(&key_path).map_err(|e| e.to_string())?;
        let certificate_pem = std::fs::read_to_string(&cert_path).map_err(|e| e.to_string())?;
        let der = pem::parse(&certificate_pem)
            .map_err(|e| e.to_string())?
            .into_contents();
        Ok(Self {
            entity_id: format!("{base_url}/demo-idp"),
            sso_url: format!("{base_url}/demo-idp/sso"),
            certificate_pem,
            signer: XmlSigner::from_pem(&key, Some(&der)).map_err(|e| e.to_string())?,
            request_signer: RequestSigner::from_pem(&key).map_err(|e| e.to_string())?,
            signed_in: Mutex::default(),
        })
    }

    /// `GET /demo-idp/`: who signed in where, each with "Sign out everywhere".
    pub fn home(&self) -> String {
        let signed_in = self.signed_in.lock().map(|s| s.clone()).unwrap_or_default();
        let rows: String = signed_in
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    r#"<li>{} at <code>{}</code> <form method="post" action="/demo-idp/logout" style="display:inline"><button name="index" value="{i}">Sign out everywhere</button></form></li>"#,
                    escape_html(s.email),
                    escape_html(&s.sp_entity_id)
                )
            })
            .collect();
        let list = if rows.is_empty() {
            "<p>Nobody has signed in through the demo IdP yet.</p>".to_owned()
        } else {
            format!("<ul>{rows}</ul>")
        };
        format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Demo IdP</title></head><body>
<h1>samlgate demo IdP</h1><p>"Sign out everywhere" sends samlgate a signed LogoutRequest for that user: samlgate ends the user's sessions and tells every OIDC client of them by back-channel logout (the demo app lists what it received on <a href="/">its page</a>).</p>{list}</body></html>"#
        )
    }

    /// `POST /demo-idp/logout` (`index`): a signed LogoutRequest (HTTP-Redirect binding, no
    /// SessionIndex: every session of the user) to the SP's SLO URL.
    pub fn logout(&self, index: usize, now: OffsetDateTime) -> Result<String, String> {
        let signed_in = self
            .signed_in
            .lock()
            .map_err(|_| "lock poisoned".to_owned())?
            .get(index)
            .cloned()
            .ok_or("no such sign-in")?;
        let id = new_request_id().map_err(|e| e.to_string())?;
        let xml = saml::LogoutRequest {
            id: &id,
            issue_instant: now,
            destination: &signed_in.slo_url,
            issuer: &self.entity_id,
            name_id: signed_in.email,
            name_id_format: Some(EMAIL_FORMAT),
            session_index: None,
        }
        .to_xml();
        saml::logout_redirect_url(&signed_in.slo_url, &xml, None, false, &self.request_signer)
            .map_err(|e| e.to_string())
    }

    /// `GET /demo-idp/sso?SAMLRequest=…&RelayState=…`: the user picker.
    pub fn picker(&self, query: &str, base_url: &str) -> Result<String, String> {
        let (mut request, mut relay_state) = (None, None);
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "SAMLRequest" => request = Some(value.into_owned()),
                "RelayState" => relay_state = Some(value.into_owned()),
                _ => {}
            }
        }
        let request = request.ok_or("no SAMLRequest")?;
        let parsed = ReceivedAuthnRequest::from_redirect(&request, &saml::Limits::default())
            .map_err(|e| e.to_string())?;
        if !parsed.acs_url.starts_with(&format!("{base_url}/")) {
            return Err("the demo IdP only answers this dev server's ACS URLs".into());
        }
        let hidden = |name: &str, value: &str| {
            format!(
                r#"<input type="hidden" name="{name}" value="{}">"#,
                escape_html(value)
            )
        };
        let buttons: String = USERS
            .iter()
            .map(|u| {
                format!(
                    r#"<p><button name="user" value="{}">Sign in as {} &lt;{}&gt; ({})</button></p>"#,
                    u.id,
                    escape_html(u.name),
                    escape_html(u.email),
                    u.groups.join(", ")
                )
            })
            .collect();
        Ok(format!(
            r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Demo IdP</title></head><body>
<h1>samlgate demo IdP</h1>
<p>samlgate sent a signed AuthnRequest <code>{}</code> from <code>{}</code>. Pick a user; the IdP signs a Response and posts it to <code>{}</code>.</p>
<form method="post" action="/demo-idp/sso">{}{}{}{}{buttons}</form></body></html>"#,
            escape_html(&parsed.id),
            escape_html(&parsed.issuer),
            escape_html(&parsed.acs_url),
            hidden("request_id", &parsed.id),
            hidden("sp_entity_id", &parsed.issuer),
            hidden("acs_url", &parsed.acs_url),
            hidden("relay_state", relay_state.as_deref().unwrap_or("")),
        ))
    }

    /// `GET /demo-idp/metadata`: the IdP's metadata (entity ID, signing certificate, SSO
    /// endpoint), so that the demo IdP can also be registered by metadata URL.
    pub fn metadata(&self) -> Result<String, String> {
        let der = pem::parse(&self.certificate_pem)
            .map_err(|e| e.to_string())?
            .into_contents();
        let mut w = XmlWriter::new();
        w.start_element(
            "md:EntityDescriptor",
            &[
                ("xmlns:md", MD),
                ("xmlns:ds", DS),
                ("entityID", self.entity_id.as_str()),
            ],
        );
        w.start_element(
            "md:IDPSSODescriptor",
            &[
                ("protocolSupportEnumeration", SAMLP),
                ("WantAuthnRequestsSigned", "false"),
            ],
        );
        w.start_element("md:KeyDescriptor", &[("use", "signing")]);
        w.start_element("ds:KeyInfo", &[]);
        w.start_element("ds:X509Data", &[]);
        text_element(&mut w, "ds:X509Certificate", &B64.encode(der));
        w.end_element("ds:X509Data");
        w.end_element("ds:KeyInfo");
        w.end_element("md:KeyDescriptor");
        text_element(&mut w, "md:NameIDFormat", EMAIL_FORMAT);
        w.empty_element(
            "md:SingleSignOnService",
            &[("Binding", REDIRECT), ("Location", self.sso_url.as_str())],
        );
        w.end_element("md:IDPSSODescriptor");
        w.end_element("md:EntityDescriptor");
        Ok(w.into_string())
    }

    /// A signed Response (the assertion carries the signature) for `user`, base64.
    pub fn response(
        &self,
        user: &User,
        request_id: &str,
        sp_entity_id: &str,
        acs_url: &str,
        now: OffsetDateTime,
    ) -> Result<String, String> {
        let fresh = || new_request_id().map_err(|e| e.to_string());
        let (response_id, assertion_id, session_index) = (fresh()?, fresh()?, fresh()?);
        // samlgate's SLO URL sits beside its ACS URL (/o/{org}/idp/{idp}/acs → …/slo).
        if let (Some(base), Ok(mut signed_in)) =
            (acs_url.strip_suffix("/acs"), self.signed_in.lock())
        {
            if signed_in.len() >= MAX_SIGNED_IN {
                signed_in.remove(0);
            }
            signed_in.push(SignedIn {
                email: user.email,
                sp_entity_id: sp_entity_id.to_owned(),
                slo_url: format!("{base}/slo"),
            });
        }
        let instant = format_instant(now);
        let not_before = format_instant(now - time::Duration::minutes(1));
        let not_on_or_after = format_instant(now + time::Duration::minutes(5));
        let mut w = XmlWriter::new();
        w.start_element(
            "samlp:Response",
            &[
                ("xmlns:samlp", SAMLP),
                ("xmlns:saml", SAML),
                ("ID", response_id.as_str()),
                ("Version", "2.0"),
                ("IssueInstant", instant.as_str()),
                ("Destination", acs_url),
                ("InResponseTo", request_id),
            ],
        );
        text_element(&mut w, "saml:Issuer", &self.entity_id);
        w.start_element("samlp:Status", &[]);
        w.empty_element("samlp:StatusCode", &[("Value", SUCCESS)]);
        w.end_element("samlp:Status");
        w.start_element(
            "saml:Assertion",
            &[
                ("ID", assertion_id.as_str()),
                ("Version", "2.0"),
                ("IssueInstant", instant.as_str()),
            ],
        );
        text_element(&mut w, "saml:Issuer", &self.entity_id);
        self.signer.write_template(&mut w, &assertion_id);
        w.start_element("saml:Subject", &[]);
        w.start_element("saml:NameID", &[("Format", EMAIL_FORMAT)]);
        w.text(user.email);
        w.end_element("saml:NameID");
        w.start_element("saml:SubjectConfirmation", &[("Method", BEARER)]);
        w.empty_element(
            "saml:SubjectConfirmationData",
            &[
                ("InResponseTo", request_id),
                ("Recipient", acs_url),
                ("NotOnOrAfter", not_on_or_after.as_str()),
            ],
        );
        w.end_element("saml:SubjectConfirmation");
        w.end_element("saml:Subject");
        w.start_element(
            "saml:Conditions",
            &[
                ("NotBefore", not_before.as_str()),
                ("NotOnOrAfter", not_on_or_after.as_str()),
            ],
        );
        w.start_element("saml:AudienceRestriction", &[]);
        text_element(&mut w, "saml:Audience", sp_entity_id);
        w.end_element("saml:AudienceRestriction");
        w.end_element("saml:Conditions");
        w.start_element(
            "saml:AuthnStatement",
            &[
                ("AuthnInstant", instant.as_str()),
                ("SessionIndex", session_index.as_str()),
            ],
        );
        w.start_element("saml:AuthnContext", &[]);
        text_element(&mut w, "saml:AuthnContextClassRef", PASSWORD);
        w.end_element("saml:AuthnContext");
        w.end_element("saml:AuthnStatement");
        w.start_element("saml:AttributeStatement", &[]);
        attribute(&mut w, "email", &[user.email]);
        attribute(&mut w, "displayName", &[user.name]);
        attribute(&mut w, "groups", user.groups);
        w.end_element("saml:AttributeStatement");
        w.end_element("saml:Assertion");
        w.end_element("samlp:Response");
        let signed = self
            .signer
            .sign(w.into_string())
            .map_err(|e| e.to_string())?;
        Ok(B64.encode(signed))
    }
}

fn text_element(w: &mut XmlWriter, name: &str, text: &str) {
    w.start_element(name, &[]);
    w.text(text);
    w.end_element(name);
}

fn attribute(w: &mut XmlWriter, name: &str, values: &[&str]) {
    w.start_element("saml:Attribute", &[("Name", name)]);
    for value in values {
        text_element(w, "saml:AttributeValue", value);
    }
    w.end_element("saml:Attribute");
}
