//! The intake layer: AWS Encryption SDK messages to and from one Raw RSA key (RSA-OAEP-SHA256
//! with MGF1-SHA256), on aws-lc-rs. Compiled only with the `esdk` feature: into `provision`
//! (open) and the `samlgate` CLI (seal), never into admin.
//!
//! The message format is the ESDK developer guide's "Message format reference" and "Body AAD
//! reference". Only what intake accepts is implemented: one encrypted data key, the
//! AES-256-GCM suites with HKDF (`esdk_header::ACCEPTED_SUITES`: v1 0x0178 and 0x0378, which
//! CloudFront field-level encryption produces; v2 0x0478 and 0x0578, which commit to their data
//! key), framed or in one block, at most `esdk_header::MAX_MESSAGE_BYTES`. Opening checks, in
//! this order and before any plaintext leaves: the data key's keyring names, the OAEP unwrap,
//! the key commitment (v2), the header authentication tag, every frame's tag in sequence, and
//! the ECDSA P-384 footer over everything before it (0x0378 and 0x0578). Any failure is
//! `intake_decrypt_failed`. The tests check it against the Python ESDK in both directions
//! (`tests/e2e`, `tests/fixtures/esdk_interop.py`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
use aws_lc_rs::hkdf;
use aws_lc_rs::rsa::{
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P384_SHA384_ASN1,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use zeroize::Zeroizing;

use samlgate_domain::ports::MessageDecrypter;
use samlgate_domain::{Result, VaultError};

use crate::esdk_header::{self, Header, Reader};

/// The encryption context key that carries a signed suite's ECDSA public key (compressed
/// point, base64).
const PUBLIC_KEY_CONTEXT: &str = "aws-crypto-public-key";
/// The suite `seal` writes: committing, signed (the ESDK's default).
const SEAL_SUITE: u16 = 0x0578;
/// The frame length `seal` writes (the ESDK's default).
const SEAL_FRAME_LENGTH: u32 = 4096;
const FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_FRAME: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const SINGLE_BLOCK: &[u8] = b"AWSKMSEncryptionClient Single Block";
const FINAL_FRAME_MARK: u32 = 0xFFFF_FFFF;
const KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// What an accepted suite does: its key derivation and whether a signature follows the body.
#[derive(Clone, Copy)]
struct Suite {
    id: u16,
    kdf: hkdf::Algorithm,
    committing: bool,
    signed: bool,
}

impl Suite {
    fn of(id: u16) -> Option<Self> {
        let (kdf, committing, signed) = match id {
            0x0178 => (hkdf::HKDF_SHA256, false, false),
            0x0378 => (hkdf::HKDF_SHA384, false, true),
            0x0478 => (hkdf::HKDF_SHA512, true, false),
            0x0578 => (hkdf::HKDF_SHA512, true, true),
            _ => return None,
        };
        Some(Self {
            id,
            kdf,
            committing,
            signed,
        })
    }

    /// The AES-256-GCM key of the message and, for a committing suite, its commitment key.
    fn derive(&self, data_key: &[u8], message_id: &[u8]) -> Option<(LessSafeKey, [u8; 32])> {
        let suite_id = self.id.to_be_bytes();
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        let mut commitment = [0u8; 32];
        if self.committing {
            let prk = hkdf::Salt::new(self.kdf, message_id).extract(data_key);
            prk.expand(&[&suite_id, b"DERIVEKEY"], Len(KEY_BYTES))
                .ok()?
                .fill(key.as_mut())
                .ok()?;
            prk.expand(&[b"COMMITKEY"], Len(32))
                .ok()?
                .fill(&mut commitment)
                .ok()?;
        } else {
            hkdf::Salt::new(self.kdf, &[])
                .extract(data_key)
                .expand(&[&suite_id, message_id], Len(KEY_BYTES))
                .ok()?
                .fill(key.as_mut())
                .ok()?;
        }
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_ref()).ok()?);
        Some((key, commitment))
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// A frame's IV as the ESDK writes it: the sequence number, big-endian, in the last 4 bytes.
fn frame_iv(sequence: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&sequence.to_be_bytes());
    iv
}

/// The additional data of one frame (or of the single block): message ID, the content string,
/// the sequence number and the content length.
fn body_aad(message_id: &[u8], content: &[u8], sequence: u32, length: usize) -> Vec<u8> {
    let mut aad = Vec::with_capacity(message_id.len() + content.len() + 12);
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(content);
    aad.extend_from_slice(&sequence.to_be_bytes());
    aad.extend_from_slice(&(length as u64).to_be_bytes());
    aad
}

/// Opens `message` with one RSA private key (PKCS#8 PEM) whose Raw RSA keyring names are
/// `key_namespace` and `key_name`. The plaintext is returned only once every check passed.
pub fn open(
    message: &[u8],
    private_key_pem: &[u8],
    key_namespace: &str,
    key_name: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let header = esdk_header::parse(message)?;
    open_parsed(message, &header, private_key_pem, key_namespace, key_name)
        .ok_or(VaultError::IntakeDecryptFailed)
}

fn open_parsed(
    message: &[u8],
    header: &Header,
    private_key_pem: &[u8],
    key_namespace: &str,
    key_name: &str,
) -> Option<Zeroizing<Vec<u8>>> {
    let suite = Suite::of(header.algorithm_suite)?;
    let layout = &header.layout;
    let [edk] = header.encrypted_data_keys.as_slice() else {
        return None;
    };
    if edk.provider_id != key_namespace || edk.provider_info != key_name {
        return None;
    }
    // A signed suite carries its verification key; an unsigned one must not claim one.
    let verification_key = match header.encryption_context.get(PUBLIC_KEY_CONTEXT) {
        Some(encoded) if suite.signed => Some(B64.decode(encoded).ok()?),
        None if !suite.signed => None,
        _ => return None,
    };

    let data_key = unwrap_data_key(private_key_pem, &edk.ciphertext)?;
    let (key, commitment) = suite.derive(&data_key, &layout.message_id)?;
    if let Some(expected) = &layout.commitment {
        aws_lc_rs::constant_time::verify_slices_are_equal(expected, &commitment).ok()?;
    }
    let mut tag = layout.auth_tag;
    key.open_in_place(
        Nonce::assume_unique_for_key(layout.auth_iv),
        Aad::from(message.get(..layout.auth_at)?),
        &mut tag,
    )
    .ok()?;

    let mut r = Reader::new(message, layout.body_at);
    let mut plaintext = Zeroizing::new(Vec::new());
    if layout.framed {
        let frame_length = layout.frame_length as usize;
        let mut expected_sequence = 1u32;
        loop {
            let first = r.u32().ok()?;
            let final_frame = first == FINAL_FRAME_MARK;
            let sequence = if final_frame { r.u32().ok()? } else { first };
            if sequence != expected_sequence {
                return None;
            }
            let iv = r.array::<12>().ok()?;
            let length = if final_frame {
                let length = r.u32().ok()? as usize;
                (length <= frame_length).then_some(length)?
            } else {
                frame_length
            };
            let content = if final_frame { FINAL_FRAME } else { FRAME };
            let aad = body_aad(&layout.message_id, content, sequence, length);
            let sealed = r.take(length.checked_add(TAG_BYTES)?).ok()?;
            open_into(&key, iv, &aad, sealed, &mut plaintext)?;
            if final_frame {
                break;
            }
            expected_sequence = expected_sequence.checked_add(1)?;
        }
    } else {
        let iv = r.array::<12>().ok()?;
        let length = usize::try_from(u64::from_be_bytes(r.array::<8>().ok()?)).ok()?;
        let aad = body_aad(&layout.message_id, SINGLE_BLOCK, 1, length);
        let sealed = r.take(length.checked_add(TAG_BYTES)?).ok()?;
        open_into(&key, iv, &aad, sealed, &mut plaintext)?;
    }

    if let Some(public_key) = verification_key {
        let signed_until = r.at;
        let signature_length = r.u16().ok()? as usize;
        let signature = r.take(signature_length).ok()?;
        UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, public_key)
            .verify(message.get(..signed_until)?, signature)
            .ok()?;
    }
    r.is_at_end().then_some(plaintext)
}

/// RSA-OAEP-SHA256 (MGF1-SHA256) of the 32-byte data key.
fn unwrap_data_key(private_key_pem: &[u8], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let pem = pem::parse(private_key_pem).ok()?;
    if pem.tag() != "PRIVATE KEY" {
        return None;
    }
    let der = Zeroizing::new(pem.into_contents());
    let key = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&der).ok()?).ok()?;
    let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
    let length = key
        .decrypt(&OAEP_SHA256_MGF1SHA256, wrapped, &mut out, None)
        .ok()?
        .len();
    out.truncate(length);
    (length == KEY_BYTES).then_some(out)
}

/// Opens one AES-256-GCM frame (`sealed` is the content and its tag) onto `plaintext`.
fn open_into(
    key: &LessSafeKey,
    iv: [u8; 12],
    aad: &[u8],
    sealed: &[u8],
    plaintext: &mut Vec<u8>,
) -> Option<()> {
    let start = plaintext.len();
    plaintext.extend_from_slice(sealed);
    let opened = key
        .open_in_place(
            Nonce::assume_unique_for_key(iv),
            Aad::from(aad),
            &mut plaintext[start..],
        )
        .ok()?
        .len();
    plaintext.truncate(start + opened);
    Some(())
}

/// Encrypts `plaintext` to an intake (or FLE) public key (SPKI PEM): what `samlgate
/// encrypt-credential` does (the browser console uses the ESDK for JavaScript). Writes a v2
/// message of suite 0x0578 (committing, signed with a fresh ECDSA P-384 key) in 4 KiB frames.
pub async fn encrypt(
    public_key_pem: &str,
    key_namespace: &str,
    key_name: &str,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    seal(public_key_pem, key_namespace, key_name, context, plaintext)
        .map_err(|what| VaultError::InvalidRequest(format!("ESDK encrypt failed: {what}")))
}

fn seal(
    public_key_pem: &str,
    key_namespace: &str,
    key_name: &str,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> std::result::Result<Vec<u8>, &'static str> {
    let suite = Suite::of(SEAL_SUITE).ok_or("suite")?;
    if context.contains_key(PUBLIC_KEY_CONTEXT) {
        return Err("the encryption context uses a reserved key");
    }
    let pem = pem::parse(public_key_pem).map_err(|_| "public key is not PEM")?;
    let public = PublicEncryptingKey::from_der(pem.contents())
        .ok()
        .and_then(|key| OaepPublicEncryptingKey::new(key).ok())
        .ok_or("not an RSA public key (SPKI)")?;
    let random = |n: usize| {
        let mut bytes = Zeroizing::new(vec![0u8; n]);
        aws_lc_rs::rand::fill(&mut bytes).map(|()| bytes)
    };
    let data_key = random(KEY_BYTES).map_err(|_| "random")?;
    let message_id = random(32).map_err(|_| "random")?;
    let signer =
        EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING).map_err(|_| "ECDSA key")?;
    let point: EcPublicKeyCompressedBin<'_> =
        signer.public_key().as_be_bytes().map_err(|_| "ECDSA key")?;
    let mut context = context.clone();
    context.insert(PUBLIC_KEY_CONTEXT.into(), B64.encode(point.as_ref()));

    let mut wrapped = vec![0u8; public.ciphertext_size()];
    let wrapped_length = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &data_key, &mut wrapped, None)
        .map_err(|_| "OAEP")?
        .len();
    wrapped.truncate(wrapped_length);

    let mut m = vec![0x02];
    m.extend_from_slice(&suite.id.to_be_bytes());
    m.extend_from_slice(&message_id);
    // The encryption context: its pair count, then its pairs in key order (a BTreeMap's).
    let pairs = u16::try_from(context.len()).map_err(|_| "too many encryption context pairs")?;
    let mut aad = pairs.to_be_bytes().to_vec();
    for (k, v) in &context {
        short(&mut aad, k.as_bytes())?;
        short(&mut aad, v.as_bytes())?;
    }
    short(&mut m, &aad)?;
    m.extend_from_slice(&1u16.to_be_bytes());
    short(&mut m, key_namespace.as_bytes())?;
    short(&mut m, key_name.as_bytes())?;
    short(&mut m, &wrapped)?;
    m.push(0x02);
    m.extend_from_slice(&SEAL_FRAME_LENGTH.to_be_bytes());
    let (key, commitment) = suite.derive(&data_key, &message_id).ok_or("KDF")?;
    m.extend_from_slice(&commitment);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([0u8; 12]),
            Aad::from(&m[..]),
            &mut [],
        )
        .map_err(|_| "AES-GCM")?;
    m.extend_from_slice(tag.as_ref());

    let frame_length = SEAL_FRAME_LENGTH as usize;
    let mut rest = plaintext;
    let mut sequence = 1u32;
    loop {
        let final_frame = rest.len() <= frame_length;
        let (chunk, next) = rest.split_at(rest.len().min(frame_length));
        if final_frame {
            m.extend_from_slice(&FINAL_FRAME_MARK.to_be_bytes());
        }
        m.extend_from_slice(&sequence.to_be_bytes());
        let iv = frame_iv(sequence);
        m.extend_from_slice(&iv);
        if final_frame {
            m.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        }
        let content = if final_frame { FINAL_FRAME } else { FRAME };
        let aad = body_aad(&message_id, content, sequence, chunk.len());
        let mut sealed = chunk.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(&aad),
                &mut sealed,
            )
            .map_err(|_| "AES-GCM")?;
        m.extend_from_slice(&sealed);
        m.extend_from_slice(tag.as_ref());
        if final_frame {
            break;
        }
        rest = next;
        sequence = sequence.checked_add(1).ok_or("too many frames")?;
    }
    let signature = signer
        .sign(&aws_lc_rs::rand::SystemRandom::new(), &m)
        .map_err(|_| "ECDSA")?;
    short(&mut m, signature.as_ref())?;
    if m.len() > esdk_header::MAX_MESSAGE_BYTES {
        return Err("the message would be larger than intake accepts");
    }
    Ok(m)
}

/// Appends `bytes` after its length (two bytes, big-endian).
fn short(out: &mut Vec<u8>, bytes: &[u8]) -> std::result::Result<(), &'static str> {
    let length = u16::try_from(bytes.len()).map_err(|_| "a field is longer than 65,535 bytes")?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// The ESDK layer of provision: [`open`] behind the port.
#[derive(Debug, Default, Clone, Copy)]
pub struct EsdkDecrypter;

#[async_trait]
impl MessageDecrypter for EsdkDecrypter {
    async fn decrypt(
        &self,
        message: &[u8],
        private_key_pem: &[u8],
        key_namespace: &str,
        key_name: &str,
    ) -> Result<Zeroizing<Vec<u8>>> {
        open(message, private_key_pem, key_namespace, key_name)
    }
}

#[cfg(test)]
mod tests {
    //! Our sealing against our opening, and what opening refuses. That the format is the
    //! ESDK's is checked against the Python ESDK in both directions (tests/e2e, esdk_interop).
    use super::*;
    use crate::intake_key::new_rsa_key_pair;

    const NS: &str = "samlgate-intake";
    const NAME: &str = "acme/k-1";

    fn sealed(public: &str, plaintext: &[u8]) -> Vec<u8> {
        let context = BTreeMap::from([("org".to_owned(), "acme".to_owned())]);
        seal(public, NS, NAME, &context, plaintext).unwrap()
    }

    #[test]
    fn opens_what_it_seals_on_both_sides_of_every_frame_boundary() {
        let (private, public) = new_rsa_key_pair().unwrap();
        for size in [0, 1, 4095, 4096, 4097, 8192, 12_000] {
            let plaintext: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let message = sealed(&public, &plaintext);
            let header = esdk_header::parse(&message).unwrap();
            assert_eq!(header.algorithm_suite, 0x0578);
            assert_eq!(header.encryption_context["org"], "acme");
            let opened = open(&message, private.as_bytes(), NS, NAME).unwrap();
            assert_eq!(opened.as_slice(), plaintext.as_slice(), "{size} bytes");
        }
    }

    #[test]
    fn no_byte_of_a_message_can_change_and_still_open() {
        let (private, public) = new_rsa_key_pair().unwrap();
        let message = sealed(&public, b"canary-credential-value");
        for at in 0..message.len() {
            let mut changed = message.clone();
            changed[at] ^= 0x01;
            assert!(
                open(&changed, private.as_bytes(), NS, NAME).is_err(),
                "a change at byte {at} of {} opened",
                message.len()
            );
        }
        for cut in [message.len() - 1, message.len() - 60] {
            assert!(open(&message[..cut], private.as_bytes(), NS, NAME).is_err());
        }
        let mut longer = message.clone();
        longer.push(0);
        assert!(open(&longer, private.as_bytes(), NS, NAME).is_err());
    }

    #[test]
    fn refuses_another_key_and_other_keyring_names() {
        let (private, public) = new_rsa_key_pair().unwrap();
        let (other, _) = new_rsa_key_pair().unwrap();
        let message = sealed(&public, b"secret");
        let refused = |pem: &str, ns: &str, name: &str| {
            matches!(
                open(&message, pem.as_bytes(), ns, name),
                Err(VaultError::IntakeDecryptFailed)
            )
        };
        assert!(refused(&other, NS, NAME));
        assert!(refused(&private, "samlgate-fle", NAME));
        assert!(refused(&private, NS, "acme/k-2"));
        assert!(
            refused(&public, NS, NAME),
            "a public key is not a private key"
        );
        assert!(open(&message, private.as_bytes(), NS, NAME).is_ok());
    }

    #[test]
    fn a_signed_suite_needs_its_key_and_an_unsigned_suite_may_not_claim_one() {
        let (private, public) = new_rsa_key_pair().unwrap();
        let message = sealed(&public, b"secret");
        let mut header = esdk_header::parse(&message).unwrap();
        header.encryption_context.remove(PUBLIC_KEY_CONTEXT);
        assert!(open_parsed(&message, &header, private.as_bytes(), NS, NAME).is_none());
        let mut header = esdk_header::parse(&message).unwrap();
        header.algorithm_suite = 0x0478;
        assert!(open_parsed(&message, &header, private.as_bytes(), NS, NAME).is_none());
    }

    #[test]
    fn refuses_a_reserved_context_key_and_oversize_plaintext() {
        let (_, public) = new_rsa_key_pair().unwrap();
        let context = BTreeMap::from([(PUBLIC_KEY_CONTEXT.to_owned(), "x".to_owned())]);
        assert!(seal(&public, NS, NAME, &context, b"s").is_err());
        let big = vec![0u8; esdk_header::MAX_MESSAGE_BYTES];
        assert!(seal(&public, NS, NAME, &BTreeMap::new(), &big).is_err());
    }
}
