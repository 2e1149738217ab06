//! Layer 2 of DESIGN.md §4, as stored: a payload sealed with AES-256-GCM under a fresh data key
//! from the organisation's KMS key ([`crate::sealing`] makes and opens them).

use serde::{Deserialize, Serialize};

use crate::context::EncryptionContext;
use crate::error::{Result, VaultError};

/// The one algorithm an envelope may name.
pub const ALG: &str = "AES-256-GCM";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub v: u8,
    pub alg: String,
    /// The KMS key the data key is wrapped under (pinned on Decrypt).
    pub kms_key: String,
    pub ctx: EncryptionContext,
    /// The wrapped data key (KMS CiphertextBlob), base64.
    pub edk: String,
    pub iv: String,
    /// Ciphertext and GCM tag, base64.
    pub ct: String,
}

impl Envelope {
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|_| VaultError::Internal("serialisation"))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|_| VaultError::EnvelopeInvalid)
    }
}
