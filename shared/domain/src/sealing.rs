//! Sealing and opening envelopes (DESIGN.md §4). The encryption context is both KMS's (the
//! data key only unwraps with it) and GCM's AAD (the payload only opens with it), and it is
//! checked against what the caller expects before KMS is asked at all.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
#[cfg(feature = "decrypt")]
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::envelope::{Envelope, ALG};
use crate::error::{Result, VaultError};
#[cfg(feature = "decrypt")]
use crate::ports::DecryptDataKey;
use crate::ports::{DataKey, GenerateDataKey};

fn aad(ctx: &EncryptionContext) -> Result<Vec<u8>> {
    serde_json::to_vec(ctx).map_err(|_| VaultError::Internal("serialisation"))
}

/// Seals `payload` under a new data key. Needs only `GenerateDataKey` (admin's capability).
pub async fn seal(
    keys: &dyn GenerateDataKey,
    kms_key: &str,
    ctx: EncryptionContext,
    payload: &[u8],
) -> Result<Envelope> {
    let DataKey { plaintext, wrapped } = keys.generate_data_key(kms_key, &ctx).await?;
    let key = gcm_key(&plaintext)?;
    let mut iv = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut iv).map_err(|_| VaultError::Internal("random generator"))?;
    let mut buf = payload.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(iv),
        Aad::from(aad(&ctx)?),
        &mut buf,
    )
    .map_err(|_| VaultError::Internal("AES-GCM"))?;
    Ok(Envelope {
        v: 1,
        alg: ALG.to_owned(),
        kms_key: kms_key.to_owned(),
        ctx,
        edk: B64.encode(wrapped),
        iv: B64.encode(iv),
        ct: B64.encode(buf),
    })
}

/// Opens an envelope that must carry exactly `expected` as its context and be wrapped under
/// `kms_key`. Needs `Decrypt`: compiled only with the `decrypt` feature, which acs (SP keys)
/// and provision (credentials) enable and admin, metadata and rotate never do.
#[cfg(feature = "decrypt")]
pub async fn open(
    keys: &dyn DecryptDataKey,
    kms_key: &str,
    expected: &EncryptionContext,
    envelope: &Envelope,
) -> Result<Zeroizing<Vec<u8>>> {
    // A ciphertext moved from another organisation or credential stops here, before KMS.
    if envelope.v != 1 || envelope.alg != ALG {
        return Err(VaultError::EnvelopeInvalid);
    }
    if &envelope.ctx != expected || envelope.kms_key != kms_key {
        return Err(VaultError::EnvelopeMismatch);
    }
    let edk = B64
        .decode(&envelope.edk)
        .map_err(|_| VaultError::EnvelopeInvalid)?;
    let iv: [u8; NONCE_LEN] = B64
        .decode(&envelope.iv)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(VaultError::EnvelopeInvalid)?;
    let ct = B64
        .decode(&envelope.ct)
        .map_err(|_| VaultError::EnvelopeInvalid)?;
    let data_key = keys.decrypt_data_key(kms_key, &edk, expected).await?;
    let key = gcm_key(&data_key)?;
    let mut buf = Zeroizing::new(ct);
    let len = key
        .open_in_place(
            Nonce::assume_unique_for_key(iv),
            Aad::from(aad(expected)?),
            &mut buf,
        )
        .map_err(|_| VaultError::EnvelopeInvalid)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn gcm_key(bytes: &[u8]) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| VaultError::EnvelopeInvalid)
}
