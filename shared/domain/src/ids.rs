//! Identifiers, and the two helpers every context uses to make or hash them.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VaultError};

/// An organisation's identifier: `[a-z][a-z0-9-]{0,31}`. It appears in key policies, secret
/// names, encryption contexts and URLs, so it is kept to characters that are safe in all four.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

/// An IdP's identifier within its organisation, with the organisation ID's rules
/// (`[a-z][a-z0-9-]{0,31}`): it appears in URLs, entity IDs and encryption contexts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdpId(String);

/// `[a-z][a-z0-9-]{0,31}`.
fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A slug identifier: parsed from outside text, shown and stored as itself.
macro_rules! string_id {
    ($ty:ident, $what:literal) => {
        impl $ty {
            pub fn parse(text: &str) -> Result<Self> {
                if is_slug(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(VaultError::InvalidRequest(
                        concat!($what, " must match [a-z][a-z0-9-]{0,31}").into(),
                    ))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = VaultError;
            fn try_from(value: String) -> Result<Self> {
                Self::parse(&value)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(OrgId, "organisation id");
string_id!(IdpId, "idp id");

/// A credential's identifier, `c-` and 24 lowercase hex digits, made by the vault.
pub fn new_credential_id() -> Result<String> {
    Ok(format!("c-{}", random_hex(12)?))
}

/// Checks an identifier that arrived from outside (path parameter, event field).
pub fn parse_credential_id(text: &str) -> Result<&str> {
    let ok = text.len() == 26
        && text.starts_with("c-")
        && text[2..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if ok {
        Ok(text)
    } else {
        Err(VaultError::InvalidRequest("malformed credential id".into()))
    }
}

/// `bytes` random bytes as lowercase hex (identifiers, RelayStates, correlation IDs).
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| VaultError::Internal("random generator"))?;
    Ok(hex(&buf))
}

/// SHA-256 as lowercase hex (metadata digests; bounded table keys for values from messages).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Lower-case hex of `bytes` (digests in identifiers and fingerprints).
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_slugs() {
        for good in ["acme", "a", "acme-2", &"a".repeat(32)] {
            assert!(
                OrgId::parse(good).is_ok() && IdpId::parse(good).is_ok(),
                "{good}"
            );
        }
        for bad in ["", "Acme", "2acme", "acme_x", "acme.x", &"a".repeat(33)] {
            assert!(
                OrgId::parse(bad).is_err() && IdpId::parse(bad).is_err(),
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<OrgId>("\"Bad!\"").is_err());
        assert!(parse_credential_id(&new_credential_id().unwrap()).is_ok());
        assert!(parse_credential_id("c-xyz").is_err());
    }
}
