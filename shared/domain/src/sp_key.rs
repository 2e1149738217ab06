//! SP keys and token keys (DESIGN.md §4): per IdP, an RSA signing key and an RSA encryption
//! key with self-signed certificates; per organisation, a P-256 key that signs tokens. Every
//! private key is stored only as an envelope under the organisation key with
//! `purpose=sp-key`. Keys rotate on the organisation's calendar ([`RotationPolicy`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::envelope::Envelope;
use crate::error::{Result, VaultError};
use crate::ids::{IdpId, OrgId};

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUse {
    /// Signs AuthnRequests and logout messages (published `use="signing"`).
    Signing,
    /// Decrypts EncryptedAssertions (published `use="encryption"`).
    Encryption,
    /// Signs ID tokens with ES256 (published in the organisation's JWKS).
    Token,
    /// Signs ID tokens with RS256 for clients that registered it (OIDC Core §15.1).
    TokenRsa,
}

impl KeyUse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::Encryption => "encryption",
            Self::Token => "token",
            Self::TokenRsa => "token_rsa",
        }
    }

    /// Whether this key signs tokens (and so has a JWK, not a certificate).
    pub fn is_token(self) -> bool {
        matches!(self, Self::Token | Self::TokenRsa)
    }
}

/// Rotation states (DESIGN.md §4; the IdP lifecycle's rotation moves keys along them): `next` is
/// published but not used, `active` signs (and decrypts), `retiring` is still published and
/// still decrypts, `retired` is neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Next,
    Active,
    Retiring,
    Retired,
}

/// `ORG#{org}` / `SPKEY#{idp or -}#{use}#{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpKey {
    pub org: OrgId,
    /// `None` for the organisation's token key.
    pub idp: Option<IdpId>,
    pub usage: KeyUse,
    pub id: String,
    /// Base64 DER certificate (signing and encryption keys).
    pub certificate: Option<String>,
    /// The public JWK (token keys).
    pub public_jwk: Option<Value>,
    /// PKCS#8 PEM, sealed with `{org, purpose: sp-key, id}`.
    pub wrapped_private_key: Envelope,
    pub state: KeyState,
    pub not_after: String,
    pub created_at: String,
    /// When the key became `active` (absent on keys created active: then `created_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
    /// When the key became `retiring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_since: Option<String>,
    /// The `next` key published to replace this one, set in the same transaction that adds
    /// it: two rotation runs cannot both publish one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successor: Option<String>,
}

impl SpKey {
    /// The certificate as DER.
    pub fn certificate_der(&self) -> Option<Vec<u8>> {
        self.certificate.as_ref().and_then(|c| B64.decode(c).ok())
    }

    /// Published (metadata, JWKS): everything but retired keys.
    pub fn published(&self) -> bool {
        self.state != KeyState::Retired
    }

    /// The certificate's end of validity.
    pub fn not_after(&self) -> Option<OffsetDateTime> {
        saml::parse_instant(&self.not_after)
    }

    /// When the key became active.
    pub fn activated(&self) -> Option<OffsetDateTime> {
        saml::parse_instant(self.activated_at.as_deref().unwrap_or(&self.created_at))
    }
}

/// Lifetime of a generated SP certificate (rotation replaces keys long before: see
/// [`RotationPolicy::validate`]).
pub const CERT_DAYS: i64 = 3 * 365;

/// An organisation's rotation calendar (in its SSO settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationPolicy {
    /// How long a key is active before its successor takes over. Default 365.
    pub rotate_after_days: u32,
    /// How long the successor is published (state `next`) before it becomes active: at least
    /// 30, so an IdP that re-reads our metadata monthly has it first; default 30.
    pub publish_next_days: u32,
    /// How long the previous key stays published and decrypting. Default 30.
    pub retire_after_days: u32,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            rotate_after_days: 365,
            publish_next_days: 30,
            retire_after_days: 30,
        }
    }
}

/// Days of certificate validity a key must have left when it is retired: the expiry alarm's
/// threshold, so that following the calendar never raises it.
const EXPIRY_MARGIN_DAYS: i64 = 30;

impl RotationPolicy {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(VaultError::InvalidRequest(format!("rotation: {m}")));
        if !(30..=180).contains(&self.publish_next_days) {
            return bad("publish_next_days must be between 30 and 180");
        }
        if !(7..=180).contains(&self.retire_after_days) {
            return bad("retire_after_days must be between 7 and 180");
        }
        if self.rotate_after_days < 30 {
            return bad("rotate_after_days must be at least 30");
        }
        // A key lives publish_next + rotate_after + retire_after days from creation; its
        // certificate must outlast that by the expiry alarm's margin.
        let life = i64::from(self.publish_next_days)
            + i64::from(self.rotate_after_days)
            + i64::from(self.retire_after_days);
        if life + EXPIRY_MARGIN_DAYS > CERT_DAYS {
            return bad(&format!(
                "publish_next_days + rotate_after_days + retire_after_days must be at most {}",
                CERT_DAYS - EXPIRY_MARGIN_DAYS
            ));
        }
        Ok(())
    }

    /// `n` days, for the calendar's arithmetic.
    pub fn days(n: u32) -> Duration {
        Duration::days(i64::from(n))
    }
}
