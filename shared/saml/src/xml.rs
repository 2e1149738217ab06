//! Step 1 (second half): the strict parse, and the few DOM helpers every later step uses.
//!
//! Everything here reads the `uppsala` DOM that bergshamra verifies, so the nodes we check
//! are the nodes whose bytes were digested.

use crate::error::Error;
use crate::Limits;
use uppsala::{Document, NodeId, NodeKind};

pub(crate) const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub(crate) const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub(crate) const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
/// RSA-OAEP key transport, the two URIs samlgate accepts (`crate::encrypted`).
pub(crate) const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub(crate) const RSA_OAEP11: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// The hash an OAEP DigestMethod or MGF URI names (`…#sha256`, `…xmlenc11#mgf1sha256` →
/// `sha256`).
pub(crate) fn oaep_hash_name(uri: &str) -> Option<&str> {
    uri.rsplit(['#', '-'])
        .next()
        .map(|h| h.trim_start_matches("mgf1"))
}
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// Parse untrusted XML: DOCTYPE forbidden (so no entity can be declared, expanded or
/// fetched), element depth bounded. Never call an `uppsala`/bergshamra entry point that
/// parses untrusted text with DTDs allowed; this is the only parser of untrusted input.
pub(crate) fn parse_strict<'a>(xml: &'a str, limits: &Limits) -> Result<Document<'a>, Error> {
    // Checked on the raw text before the parser sees it: a DOCTYPE anywhere (even inside a
    // CDATA section or comment) is refused. Legitimate SAML never carries one.
    if has_doctype(xml.as_bytes()) {
        return Err(Error::DoctypeForbidden);
    }
    uppsala::Parser::new()
        .with_forbid_dtd(true)
        .with_forbid_entities(true)
        .with_max_entity_expansion(0)
        .with_max_depth(limits.max_depth)
        .parse(xml)
        .map_err(|e| {
            let msg = e.to_string();
            if msg.contains("maximum depth") || msg.contains("depth limit") {
                Error::TooDeep {
                    limit: limits.max_depth,
                }
            } else {
                Error::Malformed(format!("XML: {}", first_line(&msg)))
            }
        })
}

/// Whether `<!doctype` (any case) occurs in `xml`: each `<!` (SIMD search; only comments,
/// CDATA sections and declarations have one) is looked at, not every byte.
fn has_doctype(xml: &[u8]) -> bool {
    memchr::memmem::find_iter(xml, b"<!").any(|at| {
        xml.get(at + 2..at + 9)
            .is_some_and(|word| word.eq_ignore_ascii_case(b"doctype"))
    })
}

pub(crate) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// True when `node` is the element `{ns}local`.
pub(crate) fn is(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> bool {
    doc.element(node)
        .is_some_and(|e| e.name.matches(Some(ns), local))
}

/// The element children of `node`, in document order.
pub(crate) fn child_elements<'d>(
    doc: &'d Document<'_>,
    node: NodeId,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(node)
        .filter(move |c| doc.element(*c).is_some())
}

/// The element children `{ns}local` of `node`.
pub(crate) fn children_named(
    doc: &Document<'_>,
    node: NodeId,
    ns: &str,
    local: &str,
) -> Vec<NodeId> {
    child_elements(doc, node)
        .filter(|c| is(doc, *c, ns, local))
        .collect()
}

/// At most one child `{ns}local`; more than one is malformed (schema: maxOccurs=1).
pub(crate) fn optional_child(
    doc: &Document<'_>,
    node: NodeId,
    ns: &str,
    local: &str,
) -> Result<Option<NodeId>, Error> {
    let found = children_named(doc, node, ns, local);
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(Error::Malformed(format!("more than one {local} element"))),
    }
}

/// Exactly one child `{ns}local`.
pub(crate) fn required_child(
    doc: &Document<'_>,
    node: NodeId,
    ns: &str,
    local: &str,
) -> Result<NodeId, Error> {
    optional_child(doc, node, ns, local)?
        .ok_or_else(|| Error::Malformed(format!("missing {local} element")))
}

/// An unqualified attribute (SAML and XML-DSig attributes are never namespaced; a
/// namespaced attribute with the same local name is a different attribute).
pub(crate) fn attr<'d>(doc: &'d Document<'_>, node: NodeId, name: &str) -> Option<&'d str> {
    doc.element(node)?
        .attributes
        .iter()
        .find(|a| {
            a.name.namespace_uri.is_none() && a.name.prefix.is_none() && a.name.local_name == name
        })
        .map(|a| a.value.as_ref())
}

/// The whole text of a simple-valued element (NameID, AttributeValue, Issuer, Audience…).
///
/// Comment and processing-instruction injection (e.g. `alice@example.com<!---->.evil.com`)
/// splits text nodes so that naive readers return a prefix of the value while the
/// signature still covers the whole. We refuse such values outright rather than guess
/// (`mixed_content`); child elements are refused for the same reason. Leading and trailing
/// XML whitespace is dropped (pretty-printed IdP output); inner text is kept exactly.
pub(crate) fn simple_text(
    doc: &Document<'_>,
    node: NodeId,
    what: &'static str,
) -> Result<String, Error> {
    let mut text = String::new();
    for child in doc.children_iter(node) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => text.push_str(t),
            _ => return Err(Error::MixedContent(what)),
        }
    }
    Ok(text
        .trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<String, &'static str> {
        parse_strict(xml, &Limits::default())
            .map(|doc| doc.text_content_deep(doc.root()))
            .map_err(|e| e.code())
    }

    #[test]
    fn predefined_and_character_references_are_expanded() {
        assert_eq!(parse("<a>x&amp;y&#65;&lt;</a>"), Ok("x&yA<".to_owned()));
    }

    #[test]
    fn any_doctype_is_refused() {
        assert_eq!(parse("<!DOCTYPE a><a/>"), Err("doctype_forbidden"));
        assert_eq!(
            parse("<!doctype a [<!ENTITY e \"x\">]><a>&e;</a>"),
            Err("doctype_forbidden")
        );
        // Even where it would be inert text: fail closed.
        assert_eq!(
            parse("<a><![CDATA[<!DOCTYPE]]></a>"),
            Err("doctype_forbidden")
        );
    }

    #[test]
    fn undeclared_entities_are_malformed() {
        assert_eq!(parse("<a>&xxe;</a>"), Err("malformed"));
    }

    #[test]
    fn nesting_beyond_the_limit_is_too_deep() {
        let limits = Limits::default();
        let depth = limits.max_depth as usize + 1;
        let xml = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        assert_eq!(parse(&xml), Err("too_deep"));
        let ok = "<a>".repeat(depth - 2) + &"</a>".repeat(depth - 2);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn comments_inside_a_value_are_mixed_content() {
        let xml = "<a>alice@example.com<!---->.evil.com</a>";
        let doc = parse_strict(xml, &Limits::default()).map_err(|e| e.code());
        let doc = doc.as_ref().map_err(|c| *c);
        let root = doc.ok().and_then(|d| d.document_element());
        let got = match (doc, root) {
            (Ok(doc), Some(root)) => simple_text(doc, root, "NameID").map_err(|e| e.code()),
            _ => Err("unparsed"),
        };
        assert_eq!(got, Err("mixed_content"));
    }
}
