//! The intake layer with the real AWS Encryption SDK (`aws-esdk`, Raw RSA keyring,
//! RSA-OAEP-SHA256 with MGF1-SHA256). Compiled only with the `esdk` feature: into `provision`
//! (decrypt) and the `samlgate` CLI (encrypt), never into admin.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_esdk::client as esdk_client;
use aws_esdk::material_providers::client as mpl_client;
use aws_esdk::material_providers::types::keyring::KeyringRef;
use aws_esdk::material_providers::types::material_providers_config::MaterialProvidersConfig;
use aws_esdk::material_providers::types::{EsdkCommitmentPolicy, PaddingScheme};
use aws_esdk::types::aws_encryption_sdk_config::AwsEncryptionSdkConfig;
use zeroize::Zeroizing;

use samlgate_domain::ports::MessageDecrypter;
use samlgate_domain::{Result, VaultError};

/// The half of an RSA key pair a keyring is made from (PEM).
enum RsaKey<'a> {
    Public(&'a [u8]),
    Private(&'a [u8]),
}

/// An ESDK client with a commitment policy and, if given, a bound on encrypted data keys.
fn client(policy: EsdkCommitmentPolicy, max_data_keys: Option<i64>) -> Option<esdk_client::Client> {
    let config = AwsEncryptionSdkConfig::builder()
        .commitment_policy(policy)
        .set_max_encrypted_data_keys(max_data_keys)
        .build()
        .ok()?;
    esdk_client::Client::from_conf(config).ok()
}

/// A Raw RSA keyring (OAEP-SHA256, MGF1-SHA256) over one half of a key pair.
async fn raw_rsa_keyring(
    key_namespace: &str,
    key_name: &str,
    key: RsaKey<'_>,
) -> Option<KeyringRef> {
    let mpl =
        mpl_client::Client::from_conf(MaterialProvidersConfig::builder().build().ok()?).ok()?;
    let builder = mpl
        .create_raw_rsa_keyring()
        .key_name(key_name)
        .key_namespace(key_namespace)
        .padding_scheme(PaddingScheme::OaepSha256Mgf1);
    // The ESDK copies the key into its own buffers, which we cannot zeroize; ours are.
    let builder = match key {
        RsaKey::Public(pem) => builder.public_key(pem.to_vec()),
        RsaKey::Private(pem) => builder.private_key(pem.to_vec()),
    };
    builder.send().await.ok()
}

/// Encrypts `plaintext` to an intake (or FLE) public key: what `samlgate encrypt-credential`
/// and the browser console do. Produces a committing (v2) message.
pub async fn encrypt(
    public_key_pem: &str,
    key_namespace: &str,
    key_name: &str,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let fail = |what: &str| VaultError::InvalidRequest(format!("ESDK encrypt failed: {what}"));
    let client = client(EsdkCommitmentPolicy::RequireEncryptRequireDecrypt, None)
        .ok_or_else(|| fail("client"))?;
    let keyring = raw_rsa_keyring(
        key_namespace,
        key_name,
        RsaKey::Public(public_key_pem.as_bytes()),
    )
    .await
    .ok_or_else(|| fail("public key"))?;
    let out = client
        .encrypt()
        .plaintext(plaintext.to_vec())
        .keyring(keyring)
        .encryption_context(context.clone().into_iter().collect::<HashMap<_, _>>())
        .send()
        .await
        .map_err(|_| fail("encrypt"))?;
    out.ciphertext
        .map(|b| b.into_inner())
        .ok_or_else(|| fail("no ciphertext"))
}

/// Decrypts one message with one RSA private key. Accepts v1 (non-committing) messages too,
/// because CloudFront field-level encryption produces them; admin already refused every other
/// algorithm suite, and the ESDK refuses a message with more than one encrypted data key.
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
        let fail = || VaultError::IntakeDecryptFailed;
        let client =
            client(EsdkCommitmentPolicy::RequireEncryptAllowDecrypt, Some(1)).ok_or_else(fail)?;
        let keyring = raw_rsa_keyring(key_namespace, key_name, RsaKey::Private(private_key_pem))
            .await
            .ok_or_else(fail)?;
        let out = client
            .decrypt()
            .ciphertext(message.to_vec())
            .keyring(keyring)
            .send()
            .await
            .map_err(|_| fail())?;
        out.plaintext
            .map(|b| Zeroizing::new(b.into_inner()))
            .ok_or_else(fail)
    }
}
