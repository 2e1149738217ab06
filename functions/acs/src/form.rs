//! The posted form of the SAML HTTP-POST binding (`application/x-www-form-urlencoded`):
//! the one SAML message field and `RelayState`, each at most once.
//!
//! On the ACS hot path, so the body is read once: fields are split at `&`, names are compared
//! in place (only a name with an escape is decoded first), and only the two wanted values are
//! percent-decoded, copying the runs between escapes whole. Other values are skipped without
//! being decoded. Decoding follows the URL Standard's `application/x-www-form-urlencoded`
//! parser (what `url::form_urlencoded` does): `+` is a space, `%XX` a byte, and a `%` not
//! followed by two hex digits stays as it is; a value that is then not UTF-8 is refused.

/// Why a form was refused (a stable message; never any of the form's content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// The field is there twice.
    Repeated(String),
    /// None of the expected message fields is there.
    Missing(String),
    /// The field's decoded value is not UTF-8.
    NotUtf8(String),
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Repeated(name) => write!(f, "{name} given twice"),
            Self::Missing(names) => write!(f, "{names} is missing"),
            Self::NotUtf8(name) => write!(f, "{name} is not UTF-8 text"),
        }
    }
}

/// What a SAML form carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlForm {
    /// The value of the one field of `names` present.
    pub message: String,
    pub relay_state: Option<String>,
}

/// The SAML message (the one field of `names` present) and RelayState of a posted form.
/// The caller bounds `body`'s size.
pub fn saml_form(body: &[u8], names: &[&str]) -> Result<SamlForm, FormError> {
    let mut message: Option<(&[u8], &str)> = None;
    let mut relay_state: Option<&[u8]> = None;
    for field in fields(body) {
        if field.is_empty() {
            continue;
        }
        let (raw_name, value) = match memchr::memchr(b'=', field) {
            Some(at) => (&field[..at], &field[at + 1..]),
            None => (field, &[][..]),
        };
        // Names are compared as they arrive; one with an escape (`Relay%53tate`) is decoded
        // first, so that no spelling of a wanted field slips past the repeat check.
        let decoded_name;
        let name = if needs_decoding(raw_name) {
            decoded_name = decode(raw_name);
            decoded_name.as_slice()
        } else {
            raw_name
        };
        if name == b"RelayState" {
            if relay_state.replace(value).is_some() {
                return Err(FormError::Repeated("RelayState".into()));
            }
        } else if let Some(wanted) = names.iter().find(|n| n.as_bytes() == name) {
            if message.replace((value, wanted)).is_some() {
                return Err(FormError::Repeated((*wanted).into()));
            }
        }
    }
    let (value, name) = message.ok_or_else(|| FormError::Missing(names.join(" or ")))?;
    let message = text(value, name)?;
    let relay_state = relay_state
        .map(|value| text(value, "RelayState"))
        .transpose()?;
    Ok(SamlForm {
        message,
        relay_state,
    })
}

/// The body split at `&`, as `<[u8]>::split` splits it (empty fields included), but with
/// memchr: the body is one long base64 field, and a byte-by-byte split was most of the
/// decoding's time.
fn fields(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let current = rest?;
        match memchr::memchr(b'&', current) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

fn needs_decoding(bytes: &[u8]) -> bool {
    memchr::memchr2(b'%', b'+', bytes).is_some()
}

fn text(value: &[u8], name: &str) -> Result<String, FormError> {
    String::from_utf8(decode(value)).map_err(|_| FormError::NotUtf8(name.into()))
}

/// `application/x-www-form-urlencoded` byte decoding: runs without `%` or `+` are copied
/// whole.
fn decode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = memchr::memchr2(b'%', b'+', rest) {
        out.extend_from_slice(&rest[..at]);
        if rest[at] == b'+' {
            out.push(b' ');
            rest = &rest[at + 1..];
            continue;
        }
        match (
            rest.get(at + 1).and_then(|h| hex(*h)),
            rest.get(at + 2).and_then(|l| hex(*l)),
        ) {
            (Some(high), Some(low)) => {
                out.push(high << 4 | low);
                rest = &rest[at + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["SAMLResponse"];

    /// What the `url` crate (the URL Standard's parser, not ours) makes of the same form.
    fn reference(body: &[u8]) -> (Option<String>, Option<String>) {
        let mut message = None;
        let mut relay = None;
        for (name, value) in url::form_urlencoded::parse(body) {
            match name.as_ref() {
                "SAMLResponse" => message = Some(value.into_owned()),
                "RelayState" => relay = Some(value.into_owned()),
                _ => {}
            }
        }
        (message, relay)
    }

    #[test]
    fn decodes_like_the_url_crate() {
        let bodies: &[&[u8]] = &[
            b"SAMLResponse=PHNhbWxwOlJlc3BvbnNl%2B%2F%3D%3D&RelayState=abc",
            b"RelayState=a+b%20c&SAMLResponse=x%2",
            b"SAMLResponse=%zz%4&other=%FF&RelayState=",
            b"&&SAMLResponse=%E2%82%AC&",
            b"SAMLResponse",
            b"x=1&SAMLResponse=PD94bWwg%0D%0AdmVy&y",
            b"SAML%52esponse=a&Relay%53tate=b+c",
        ];
        for body in bodies {
            let ours = saml_form(body, NAMES).unwrap();
            let (message, relay) = reference(body);
            assert_eq!(
                Some(ours.message),
                message,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(ours.relay_state, relay, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn fields_split_as_the_standard_library_splits() {
        for body in [
            &b""[..],
            b"&",
            b"&&",
            b"a",
            b"a&",
            b"&a",
            b"a&&b",
            b"SAMLResponse=x&RelayState=y&",
        ] {
            let ours: Vec<&[u8]> = fields(body).collect();
            let std: Vec<&[u8]> = body.split(|b| *b == b'&').collect();
            assert_eq!(ours, std, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn every_escape_of_a_base64_value_round_trips() {
        let value: String = (0u8..=255).map(|b| format!("%{b:02X}")).collect();
        let decoded = decode(value.as_bytes());
        assert_eq!(decoded, (0u8..=255).collect::<Vec<_>>());
    }

    #[test]
    fn repeats_are_refused_even_when_spelled_with_escapes() {
        for body in [
            &b"SAMLResponse=a&SAMLResponse=b"[..],
            b"SAMLResponse=a&RelayState=1&RelayState=2",
            b"SAMLResponse=a&SAML%52esponse=b",
            b"Relay%53tate=0&SAMLResponse=a&RelayState=1",
        ] {
            assert!(
                matches!(saml_form(body, NAMES), Err(FormError::Repeated(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_missing_message_names_what_was_expected() {
        let got = saml_form(b"RelayState=1", &["SAMLRequest", "SAMLResponse"]);
        assert_eq!(
            got.unwrap_err().to_string(),
            "SAMLRequest or SAMLResponse is missing"
        );
    }

    #[test]
    fn a_value_that_is_not_utf8_is_refused_without_echoing_it() {
        let got = saml_form(b"SAMLResponse=%FFsecret", NAMES).unwrap_err();
        assert_eq!(got.to_string(), "SAMLResponse is not UTF-8 text");
    }
}
