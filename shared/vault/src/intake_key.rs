//! The organisation's intake key pair: RSA-3072, for client-side encryption of
//! credentials with the AWS Encryption SDK (Raw RSA keyring, OAEP-SHA256). The public key is
//! served as PEM and JWK; the private key leaves this module only as an envelope under the
//! organisation key with `purpose=intake`.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde::Serialize;
use zeroize::Zeroizing;

use samlgate_domain::context::{context, Purpose};
use samlgate_domain::ids::{random_hex, OrgId};
use samlgate_domain::org::IntakeKey;
use samlgate_domain::ports::GenerateDataKey;
use samlgate_domain::sealing;
use samlgate_domain::{Result, VaultError};

/// ESDK key namespace of every intake key. The key name is `{org}/{kid}`.
pub const KEY_NAMESPACE: &str = "samlgate-intake";

/// A fresh RSA-3072 key pair as (PKCS#8 private key PEM, SubjectPublicKeyInfo PEM): the intake
/// key's shape, and the shape of a CloudFront FLE key pair.
pub fn new_rsa_key_pair() -> Result<(Zeroizing<String>, String)> {
    let failed = || VaultError::Internal("RSA key generation");
    let private = PrivateDecryptingKey::generate(KeySize::Rsa3072).map_err(|_| failed())?;
    let pkcs8 = Zeroizing::new(
        AsDer::<Pkcs8V1Der>::as_der(&private)
            .map_err(|_| failed())?
            .as_ref()
            .to_vec(),
    );
    let spki = AsDer::<PublicKeyX509Der>::as_der(&private.public_key()).map_err(|_| failed())?;
    let public_key_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()));
    let private_pem = Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.to_vec())));
    Ok((private_pem, public_key_pem))
}

/// Generates a key pair and wraps its private half under the organisation key.
pub async fn generate(
    keys: &dyn GenerateDataKey,
    org: &OrgId,
    org_key_arn: &str,
    created_at: &str,
) -> Result<IntakeKey> {
    let (private_pem, public_key_pem) = new_rsa_key_pair()?;

    let kid = format!("k-{}", random_hex(8)?);
    let ctx = context(org, Purpose::Intake, &kid);
    let wrapped_private_key = sealing::seal(keys, org_key_arn, ctx, private_pem.as_bytes()).await?;
    Ok(IntakeKey {
        org: org.clone(),
        key_namespace: KEY_NAMESPACE.to_owned(),
        key_name: format!("{org}/{kid}"),
        kid,
        public_key_pem,
        wrapped_private_key,
        created_at: created_at.to_owned(),
    })
}

/// What clients get to encrypt to this key: `GET /admin/orgs/{org}/intake-key` and
/// `samlgate org intake-key` print exactly this.
#[derive(Debug, Serialize)]
pub struct PublicIntakeKey {
    pub kid: String,
    pub key_namespace: String,
    pub key_name: String,
    pub public_key_pem: String,
    pub jwk: Jwk,
    pub padding: &'static str,
}

pub fn public_view(intake: &IntakeKey) -> Result<PublicIntakeKey> {
    Ok(PublicIntakeKey {
        kid: intake.kid.clone(),
        key_namespace: intake.key_namespace.clone(),
        key_name: intake.key_name.clone(),
        public_key_pem: intake.public_key_pem.clone(),
        jwk: jwk(intake)?,
        padding: "RSA-OAEP-SHA256-MGF1-SHA256",
    })
}

/// RFC 7517 JWK of the public key (`use=enc`, `alg=RSA-OAEP-256`).
#[derive(Debug, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub kid: String,
    pub n: String,
    pub e: String,
    /// Not JWK: the ESDK key namespace and key name a client must use.
    #[serde(rename = "x-esdk-key-namespace")]
    pub key_namespace: String,
    #[serde(rename = "x-esdk-key-name")]
    pub key_name: String,
}

pub fn jwk(intake: &IntakeKey) -> Result<Jwk> {
    let bad = || VaultError::InvalidRequest("stored intake public key is unreadable".into());
    let spki = pem::parse(&intake.public_key_pem).map_err(|_| bad())?;
    let (n, e) = samlgate_domain::jwk::rsa_spki_components(spki.contents()).ok_or_else(bad)?;
    Ok(Jwk {
        kty: "RSA",
        use_: "enc",
        alg: "RSA-OAEP-256",
        kid: intake.kid.clone(),
        n: B64URL.encode(n),
        e: B64URL.encode(e),
        key_namespace: intake.key_namespace.clone(),
        key_name: intake.key_name.clone(),
    })
}
