//! SP keys (DESIGN.md §4): per IdP, an RSA-2048 signing key and an RSA-2048 encryption key
//! with self-signed certificates (rcgen; RSA for IdP compatibility); per organisation, a
//! P-256 key that signs ID tokens (ES256, published in the JWKS). Every private key
//! leaves this module only as an envelope under the organisation key with `purpose=sp-key`:
//! admin and rotate generate and seal, and nothing here can open one.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use samlgate_domain::clock::format_instant;
use samlgate_domain::context::{context, Purpose};
use samlgate_domain::envelope::Envelope;
use samlgate_domain::ids::{random_hex, IdpId};
use samlgate_domain::jwk;
use samlgate_domain::org::Org;
use samlgate_domain::ports::GenerateDataKey;
use samlgate_domain::sealing;
use samlgate_domain::sp_key::{KeyState, KeyUse, SpKey, CERT_DAYS};
use samlgate_domain::{Result, VaultError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The private half of `pair` as PKCS#8 PEM, sealed with `{org, purpose: sp-key, id}`.
async fn seal_private_key(
    keys: &dyn GenerateDataKey,
    org: &Org,
    id: &str,
    pair: &rcgen::KeyPair,
) -> Result<Envelope> {
    let private_pem = Zeroizing::new(pair.serialize_pem());
    let ctx = context(&org.org, Purpose::SpKey, id);
    sealing::seal(keys, &org.key_arn, ctx, private_pem.as_bytes()).await
}

/// Generates a SAML key pair for `idp` in `state` and seals its private half.
pub async fn generate_saml_key(
    keys: &dyn GenerateDataKey,
    org: &Org,
    idp: &IdpId,
    usage: KeyUse,
    state: KeyState,
    now: OffsetDateTime,
) -> Result<SpKey> {
    let failed = |what: &'static str| VaultError::Internal(what);
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .map_err(|_| failed("RSA key generation"))?;
    let not_after = now + time::Duration::days(CERT_DAYS);
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
        .map_err(|_| failed("certificate parameters"))?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("samlgate {}/{} {}", org.org, idp, usage.as_str()),
    );
    params.not_before = now - time::Duration::hours(1);
    params.not_after = not_after;
    let certificate = params
        .self_signed(&pair)
        .map_err(|_| failed("certificate signing"))?;
    let id = format!("sk-{}", random_hex(8)?);
    let wrapped_private_key = seal_private_key(keys, org, &id, &pair).await?;
    Ok(SpKey {
        org: org.org.clone(),
        idp: Some(idp.clone()),
        usage,
        id,
        certificate: Some(B64.encode(certificate.der())),
        public_jwk: None,
        wrapped_private_key,
        state,
        not_after: format_instant(not_after),
        created_at: format_instant(now),
        activated_at: None,
        retiring_since: None,
        successor: None,
    })
}

/// Generates one of the organisation's token-signing keys (`Token`: P-256 for ES256;
/// `TokenRsa`: RSA-2048 for RS256) in `state` and seals its private half.
pub async fn generate_token_key(
    keys: &dyn GenerateDataKey,
    org: &Org,
    usage: KeyUse,
    state: KeyState,
    now: OffsetDateTime,
) -> Result<SpKey> {
    let failed = || VaultError::Internal("token key generation");
    let (algorithm, prefix) = match usage {
        KeyUse::Token => (&rcgen::PKCS_ECDSA_P256_SHA256, "tk"),
        KeyUse::TokenRsa => (&rcgen::PKCS_RSA_SHA256, "tr"),
        _ => return Err(failed()),
    };
    let pair = rcgen::KeyPair::generate_for(algorithm).map_err(|_| failed())?;
    let id = format!("{prefix}-{}", random_hex(8)?);
    let jwk = match usage {
        KeyUse::Token => jwk::ec_p256_signing(&id, pair.public_key_raw()),
        _ => jwk::rsa_signing(&id, &rcgen::PublicKeyData::subject_public_key_info(&pair)),
    }
    .ok_or_else(failed)?;
    let wrapped_private_key = seal_private_key(keys, org, &id, &pair).await?;
    Ok(SpKey {
        org: org.org.clone(),
        idp: None,
        usage,
        id,
        certificate: None,
        public_jwk: Some(jwk),
        wrapped_private_key,
        state,
        not_after: format_instant(now + time::Duration::days(CERT_DAYS)),
        created_at: format_instant(now),
        activated_at: None,
        retiring_since: None,
        successor: None,
    })
}
