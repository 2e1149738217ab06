//! A structural reading of an AWS Encryption SDK message header (the message format in the
//! ESDK developer guide, "Message format reference": v1 and v2 headers), used by admin to check
//! a credential ciphertext **without decrypting it**: the right shape, an accepted algorithm
//! suite, and exactly one encrypted data key for a key this organisation accepts.
//!
//! It trusts nothing it reads: the header is authenticated only when provision opens the
//! message (`crate::esdk`, which reads the same header through [`parse`] and the [`Layout`] it
//! records).

use std::collections::BTreeMap;

use samlgate_domain::{Result, VaultError};

/// Largest accepted message: a credential is a token or a key, never a file.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Accepted algorithm suites: AES-256-GCM with HKDF key derivation only.
/// 0x0178 and 0x0378 are the non-committing v1 suites that CloudFront field-level encryption and
/// older ESDKs produce; 0x0478 and 0x0578 are the committing v2 suites. Suites without key
/// derivation (0x0014/0x0046/0x0078) and the AES-128/192 suites are refused.
pub const ACCEPTED_SUITES: &[u16] = &[0x0178, 0x0378, 0x0478, 0x0578];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Key provider ID (a Raw RSA keyring's key namespace).
    pub provider_id: String,
    /// Key provider info (a Raw RSA keyring's key name).
    pub provider_info: String,
    /// The wrapped data key (RSA-OAEP ciphertext for a Raw RSA keyring).
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub algorithm_suite: u16,
    pub encryption_context: BTreeMap<String, String>,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Where the rest of the message is, for the decrypter.
    pub layout: Layout,
}

/// The header fields that only decryption needs, and where the header ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// 16 bytes (v1) or 32 bytes (v2).
    pub message_id: Vec<u8>,
    /// Content type 0x02 (framed) or 0x01 (one block, no frames).
    pub framed: bool,
    /// The length of every frame but the final one (0 when not framed).
    pub frame_length: u32,
    /// The commitment key (v2's algorithm suite data).
    pub commitment: Option<[u8; 32]>,
    /// The header authentication's IV (v1 carries it; v2's is all zeros).
    pub auth_iv: [u8; 12],
    pub auth_tag: [u8; 16],
    /// The header body (what the header authentication covers) is `message[..auth_at]`.
    pub auth_at: usize,
    /// The body starts at `message[body_at]`.
    pub body_at: usize,
}

/// Reads big-endian fields from `bytes`, refusing (never panicking on) a short read.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], at: usize) -> Self {
        Self { bytes, at }
    }
    #[cfg(feature = "esdk")]
    pub(crate) fn is_at_end(&self) -> bool {
        self.at == self.bytes.len()
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| VaultError::CiphertextMalformed("truncated header"))
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(VaultError::CiphertextMalformed("truncated header"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn short_bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    fn short_utf8(&mut self) -> Result<String> {
        String::from_utf8(self.short_bytes()?.to_vec())
            .map_err(|_| VaultError::CiphertextMalformed("header string is not UTF-8"))
    }
}

/// Reads the header of `message` (raw bytes, not base64).
pub fn parse(message: &[u8]) -> Result<Header> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(VaultError::CiphertextTooLarge(MAX_MESSAGE_BYTES));
    }
    let mut r = Reader::new(message, 0);
    let version = r.u8()?;
    match version {
        0x01 => {
            if r.u8()? != 0x80 {
                return Err(VaultError::CiphertextMalformed("unknown message type"));
            }
        }
        0x02 => {}
        _ => return Err(VaultError::CiphertextMalformed("unknown message version")),
    }
    let algorithm_suite = r.u16()?;
    let committing = matches!(algorithm_suite, 0x0478 | 0x0578);
    if !ACCEPTED_SUITES.contains(&algorithm_suite) {
        return Err(VaultError::CiphertextAlgorithm(algorithm_suite));
    }
    if committing != (version == 0x02) {
        return Err(VaultError::CiphertextMalformed(
            "algorithm suite does not match message version",
        ));
    }
    let message_id = r.take(if version == 0x01 { 16 } else { 32 })?.to_vec();

    let aad = r.short_bytes()?;
    let encryption_context = parse_context(aad)?;

    let edk_count = r.u16()?;
    if edk_count == 0 {
        return Err(VaultError::CiphertextMalformed("no encrypted data key"));
    }
    let mut encrypted_data_keys = Vec::new();
    for _ in 0..edk_count {
        let provider_id = r.short_utf8()?;
        let provider_info = r.short_utf8()?;
        let ciphertext = r.short_bytes()?.to_vec();
        if ciphertext.is_empty() {
            return Err(VaultError::CiphertextMalformed("empty encrypted data key"));
        }
        encrypted_data_keys.push(EncryptedDataKey {
            provider_id,
            provider_info,
            ciphertext,
        });
    }
    let content_type = r.u8()?;
    if !matches!(content_type, 0x01 | 0x02) {
        return Err(VaultError::CiphertextMalformed("unknown content type"));
    }
    let framed = content_type == 0x02;
    let mut auth_iv = [0u8; 12];
    let frame_length;
    let mut commitment = None;
    if version == 0x01 {
        if r.u32()? != 0 {
            return Err(VaultError::CiphertextMalformed(
                "reserved bytes are not zero",
            ));
        }
        if r.u8()? != 12 {
            return Err(VaultError::CiphertextMalformed("IV length is not 12"));
        }
        frame_length = r.u32()?;
    } else {
        frame_length = r.u32()?;
        commitment = Some(r.array()?); // algorithm suite data
    }
    if framed == (frame_length == 0) {
        return Err(VaultError::CiphertextMalformed(
            "frame length does not match the content type",
        ));
    }
    let auth_at = r.at;
    if version == 0x01 {
        auth_iv = r.array()?;
    }
    let auth_tag = r.array()?;
    if r.at == message.len() {
        return Err(VaultError::CiphertextMalformed("no message body"));
    }
    Ok(Header {
        version,
        algorithm_suite,
        encryption_context,
        encrypted_data_keys,
        layout: Layout {
            message_id,
            framed,
            frame_length,
            commitment,
            auth_iv,
            auth_tag,
            auth_at,
            body_at: r.at,
        },
    })
}

fn parse_context(aad: &[u8]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    if aad.is_empty() {
        return Ok(map);
    }
    let mut r = Reader::new(aad, 0);
    let pairs = r.u16()?;
    for _ in 0..pairs {
        let k = r.short_utf8()?;
        let v = r.short_utf8()?;
        if map.insert(k, v).is_some() {
            return Err(VaultError::CiphertextMalformed(
                "duplicate encryption context key",
            ));
        }
    }
    if r.at != aad.len() {
        return Err(VaultError::CiphertextMalformed(
            "encryption context length mismatch",
        ));
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_message(suite: u16, edks: &[(&str, &str)]) -> Vec<u8> {
        let mut m = vec![0x02];
        m.extend(suite.to_be_bytes());
        m.extend([7u8; 32]);
        // AAD: one pair
        let mut aad = vec![0, 1];
        for s in ["org", "acme"] {
            aad.extend((s.len() as u16).to_be_bytes());
            aad.extend(s.as_bytes());
        }
        m.extend((aad.len() as u16).to_be_bytes());
        m.extend(aad);
        m.extend((edks.len() as u16).to_be_bytes());
        for (id, info) in edks {
            for s in [id.as_bytes(), info.as_bytes(), &[1, 2, 3][..]] {
                m.extend((s.len() as u16).to_be_bytes());
                m.extend(s);
            }
        }
        m.push(0x02);
        m.extend(4096u32.to_be_bytes());
        m.extend([0u8; 48]);
        m.extend([9u8; 10]); // body
        m
    }

    #[test]
    fn reads_a_v2_header() {
        let h = parse(&v2_message(0x0478, &[("samlgate-intake", "acme/k1")])).unwrap();
        assert_eq!(h.version, 2);
        assert_eq!(h.encryption_context["org"], "acme");
        assert_eq!(h.encrypted_data_keys[0].provider_info, "acme/k1");
    }

    #[test]
    fn refuses_suites_without_kdf_and_mismatched_versions() {
        assert!(matches!(
            parse(&v2_message(0x0078, &[("a", "b")])),
            Err(VaultError::CiphertextAlgorithm(0x0078))
        ));
        assert!(matches!(
            parse(&v2_message(0x0178, &[("a", "b")])),
            Err(VaultError::CiphertextMalformed(_))
        ));
    }

    #[test]
    fn every_truncation_is_malformed_not_a_panic() {
        let m = v2_message(0x0478, &[("samlgate-intake", "acme/k1")]);
        // Every cut inside the header (up to and including "no body at all") is refused.
        for n in 0..=(m.len() - 10) {
            assert!(parse(&m[..n]).is_err(), "prefix of {n} bytes accepted");
        }
    }

    #[test]
    fn refuses_oversize_and_empty_key_lists() {
        assert!(matches!(
            parse(&vec![2u8; MAX_MESSAGE_BYTES + 1]),
            Err(VaultError::CiphertextTooLarge(_))
        ));
        assert!(parse(&v2_message(0x0478, &[])).is_err());
    }
}
