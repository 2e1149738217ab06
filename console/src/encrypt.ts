// Client-side credential encryption: the AWS Encryption SDK for browsers, a Raw RSA keyring
// over WebCrypto, to the organisation's intake public key. The message can be opened only with
// the intake private key, which is sealed under the organisation's KMS key for its provisioning
// role: neither this page's server nor admin can read it.

import {
  buildClient,
  CommitmentPolicy,
  RawRsaKeyringWebCrypto,
} from '@aws-crypto/client-browser';
import type { IntakeKey } from './api';

// Committing, signed suite (the SDK's default for REQUIRE_ENCRYPT_REQUIRE_DECRYPT).
const { encrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

export async function encryptCredential(
  org: string,
  key: IntakeKey,
  secret: string,
): Promise<string> {
  if (key.jwk.alg !== 'RSA-OAEP-256' || key.jwk.kty !== 'RSA') {
    throw new Error('the intake key is not an RSA-OAEP-256 key');
  }
  const publicKey = await RawRsaKeyringWebCrypto.importPublicKey({
    kty: 'RSA',
    alg: 'RSA-OAEP-256',
    n: key.jwk.n,
    e: key.jwk.e,
    ext: true,
  });
  const keyring = new RawRsaKeyringWebCrypto({
    keyNamespace: key.key_namespace,
    keyName: key.key_name,
    publicKey,
  });
  const plaintext = new TextEncoder().encode(secret);
  try {
    const { result } = await encrypt(keyring, plaintext, {
      encryptionContext: { 'samlgate:org': org },
    });
    return base64(result);
  } finally {
    plaintext.fill(0);
  }
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}
