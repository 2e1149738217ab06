//! KMS encryption contexts (DESIGN.md §4): `{org, purpose, id}`. The key policy conditions on
//! `org` and `purpose`, and CloudTrail records the context of every Decrypt.

use std::collections::BTreeMap;

use crate::ids::OrgId;

/// Why a data key exists. The key policy lets each role use only some purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A stored credential (layer 2 over the ESDK message). Decrypt: provision only.
    Credential,
    /// The organisation's intake private key. Decrypt: provision only.
    Intake,
    /// SP signing/decryption keys. Decrypt: acs only.
    SpKey,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credential => "credential",
            Self::Intake => "intake",
            Self::SpKey => "sp-key",
        }
    }
}

/// A sorted map, so that the envelope's AAD (its JSON form) is deterministic.
pub type EncryptionContext = BTreeMap<String, String>;

pub fn context(org: &OrgId, purpose: Purpose, id: &str) -> EncryptionContext {
    BTreeMap::from([
        ("org".to_owned(), org.as_str().to_owned()),
        ("purpose".to_owned(), purpose.as_str().to_owned()),
        ("id".to_owned(), id.to_owned()),
    ])
}
