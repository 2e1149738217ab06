//! Public keys as JSON Web Keys (RFC 7517, RFC 7518 §6): the organisations' token keys in
//! their JWKS, and the intake key for clients that encrypt in the browser.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::{json, Value};

/// The JWK of an uncompressed P-256 point (`04 || x || y`) that signs ES256.
pub fn ec_p256_signing(kid: &str, point: &[u8]) -> Option<Value> {
    if point.len() != 65 || point[0] != 4 {
        return None;
    }
    Some(json!({
        "kty": "EC",
        "crv": "P-256",
        "x": B64URL.encode(&point[1..33]),
        "y": B64URL.encode(&point[33..]),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    }))
}

/// The JWK of an RSA public key (SubjectPublicKeyInfo DER) that signs RS256.
pub fn rsa_signing(kid: &str, spki_der: &[u8]) -> Option<Value> {
    let (n, e) = rsa_spki_components(spki_der)?;
    Some(json!({
        "kty": "RSA",
        "n": B64URL.encode(n),
        "e": B64URL.encode(e),
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
    }))
}

/// Reads n and e from an RSA SubjectPublicKeyInfo (RFC 5280 / RFC 8017 A.1.1) with a minimal
/// DER walk: SEQUENCE { SEQUENCE { OID, NULL }, BIT STRING { SEQUENCE { INTEGER, INTEGER } } }.
pub fn rsa_spki_components(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (spki, _) = tlv(der, 0x30)?;
    let (_alg, rest) = tlv(spki, 0x30)?;
    let (bits, _) = tlv(rest, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    if unused != 0 {
        return None;
    }
    let (seq, _) = tlv(key, 0x30)?;
    let (n, rest) = tlv(seq, 0x02)?;
    let (e, _) = tlv(rest, 0x02)?;
    let strip = |v: &[u8]| {
        v.iter()
            .skip_while(|b| **b == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    Some((strip(n), strip(e)))
}

fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rsa_key_reads_back_as_its_modulus_and_exponent() {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let spki = AsDer::<PublicKeyX509Der>::as_der(&key.public_key()).unwrap();
        let jwk = rsa_signing("k1", spki.as_ref()).unwrap();
        assert_eq!(jwk["e"], "AQAB");
        let n = B64URL.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert!(rsa_signing("k1", b"\x30\x03\x02\x01\x00").is_none());
        assert!(ec_p256_signing("k", &[4u8; 64]).is_none());
    }
}
