//! Step 1 (first half): size limits and transport decoding.
//!
//! `SAMLResponse` arrives base64-encoded (HTTP-POST binding, SAML Bindings §3.5.4), often
//! wrapped at 64 or 76 columns with CRLF; captured responses are often raw XML. Both are
//! accepted. Size is checked before any decoding and again after it.

use crate::error::Error;
use crate::Limits;
use base64::Engine;
use std::borrow::Cow;

const UTF8_BOM: &str = "\u{feff}";

/// Turn the received bytes into XML text, or reject them.
pub(crate) fn decode<'a>(input: &'a [u8], limits: &Limits) -> Result<Cow<'a, str>, Error> {
    let limit = limits.max_bytes;
    if input.len() > limit {
        return Err(Error::TooLarge {
            size: input.len(),
            limit,
        });
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| Error::Malformed("input is neither UTF-8 XML nor base64".into()))?;
    let text = text.strip_prefix(UTF8_BOM).unwrap_or(text);
    if looks_like_xml(text) {
        return Ok(Cow::Borrowed(text));
    }
    let compact = without_whitespace(text.as_bytes());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| Error::Malformed("input is neither XML nor valid base64".into()))?;
    if decoded.len() > limit {
        return Err(Error::TooLarge {
            size: decoded.len(),
            limit,
        });
    }
    let xml = String::from_utf8(decoded)
        .map_err(|_| Error::Malformed("decoded base64 is not UTF-8 text".into()))?;
    let xml = match xml.strip_prefix(UTF8_BOM) {
        Some(rest) => rest.to_owned(),
        None => xml,
    };
    if !looks_like_xml(&xml) {
        return Err(Error::Malformed("decoded base64 is not XML".into()));
    }
    Ok(Cow::Owned(xml))
}

/// The base64 text without the spaces, tabs and line breaks it is wrapped with. Borrowed when
/// there are none; otherwise the runs between them are copied whole (memchr finds the breaks),
/// which is most of a post's decoding time when done byte by byte.
fn without_whitespace(text: &[u8]) -> Cow<'_, [u8]> {
    // Tabs are rare in a post: a plain byte filter then.
    if memchr::memchr(b'\t', text).is_some() {
        return Cow::Owned(
            text.iter()
                .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .copied()
                .collect(),
        );
    }
    let mut breaks = memchr::memchr3_iter(b' ', b'\r', b'\n', text).peekable();
    if breaks.peek().is_none() {
        return Cow::Borrowed(text);
    }
    let mut compact = Vec::with_capacity(text.len());
    let mut start = 0;
    for at in breaks {
        compact.extend_from_slice(&text[start..at]);
        start = at + 1;
    }
    compact.extend_from_slice(&text[start..]);
    Cow::Owned(compact)
}

fn looks_like_xml(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\r', '\n'])
        .starts_with('<')
}

/// A Redirect-binding message (Bindings §3.4.4.1): base64 of raw DEFLATE, inflated to at most
/// `limits.max_bytes` of UTF-8 (a deflate bomb stops at the limit).
pub(crate) fn inflate_redirect(encoded: &str, limits: &Limits) -> Result<String, Error> {
    use std::io::Read as _;
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| Error::Malformed("the SAML message is not base64".into()))?;
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .take(limits.max_bytes as u64 + 1)
        .read_to_string(&mut xml)
        .map_err(|_| Error::Malformed("the SAML message is not DEFLATE-compressed UTF-8".into()))?;
    if xml.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            size: xml.len(),
            limit: limits.max_bytes,
        });
    }
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_stripped_as_a_byte_filter_strips_it() {
        for text in [
            &b""[..],
            b"QUJD",
            b"QU\r\nJD",
            b" QUJD ",
            b"Q\tU J\nD\r",
            b"\r\n\r\n",
            b"QUJD\r\nREVG\r\nR0hJ",
        ] {
            let filtered: Vec<u8> = text
                .iter()
                .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .copied()
                .collect();
            assert_eq!(&*without_whitespace(text), &filtered[..]);
        }
    }

    fn limits(max_bytes: usize) -> Limits {
        Limits {
            max_bytes,
            ..Limits::default()
        }
    }

    #[test]
    fn raw_xml_is_borrowed() {
        let got = decode(b"  <a/>", &Limits::default());
        assert!(matches!(got, Ok(Cow::Borrowed("  <a/>"))));
    }

    #[test]
    fn wrapped_base64_with_crlf_is_decoded() {
        let got = decode(b"PGE+PGI+\r\nPC9iPjwvYT4=\r\n", &Limits::default());
        assert_eq!(got.as_deref(), Ok("<a><b></b></a>"));
    }

    #[test]
    fn oversize_is_rejected_before_decoding() {
        let got = decode(&[b'A'; 101], &limits(100));
        assert_eq!(
            got,
            Err(Error::TooLarge {
                size: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn base64_of_non_xml_is_malformed() {
        let got = decode(b"aGVsbG8=", &Limits::default());
        assert_eq!(got.map_err(|e| e.code()), Err("malformed"));
    }

    #[test]
    fn binary_garbage_is_malformed() {
        let got = decode(&[0xff, 0xfe, 0x00, 0x3c], &Limits::default());
        assert_eq!(got.map_err(|e| e.code()), Err("malformed"));
    }
}
