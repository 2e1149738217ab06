// openid-client (panva, OpenID Certified) as the relying party of the dev server's demo
// organisation, the demo IdP as the IdP: discovery, the code flow with PKCE for a confidential
// (client_secret_basic) and a public client, the ID token validated by the library (signature
// from the discovered JWKS: enableNonRepudiationChecks; iss, aud, exp, nonce, state), userinfo.
// Run by scripts/dev --smoke with SAMLGATE_URL set to the dev server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';

const BASE = process.env.SAMLGATE_URL;
assert.ok(BASE, 'SAMLGATE_URL is not set (scripts/dev --smoke sets it)');
const ISSUER = `${BASE}/o/demo`;
// Nothing listens here: the "browser" below reads the redirect instead of following it.
const REDIRECT = `${BASE}/rp/openid-client/callback`;

async function register(method, extra = {}) {
  const answer = await fetch(`${BASE}/admin/orgs/demo/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: `openid-client ${method}`, redirect_uris: [REDIRECT], token_endpoint_auth_method: method, ...extra }),
  });
  assert.equal(answer.status, 201, await answer.clone().text());
  return answer.json();
}

function hiddenFields(page) {
  const action = /<form method="post" action="([^"]*)"/.exec(page)[1].replaceAll('&amp;', '&');
  const fields = new URLSearchParams();
  for (const [, name, value] of page.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g)) {
    fields.append(name, value.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'));
  }
  return { action: new URL(action, BASE), fields };
}

// A browser that signs in as `user` at the demo IdP: authorize → IdP → ACS (with the binding
// cookie authorize set) → the redirect to the client, which it returns instead of following.
async function browserSignIn(authorizationUrl, user = 'alice') {
  let answer = await fetch(authorizationUrl, { redirect: 'manual' });
  assert.equal(answer.status, 302, await answer.text());
  const cookie = answer.headers.get('set-cookie').split(';')[0];
  assert.match(cookie, /^samlgate-login=[0-9a-f]{32}$/);
  answer = await fetch(answer.headers.get('location'));
  assert.equal(answer.status, 200);
  const picker = hiddenFields(await answer.text());
  picker.fields.set('user', user);
  answer = await fetch(picker.action, { method: 'POST', body: picker.fields });
  const acs = hiddenFields(await answer.text());
  answer = await fetch(acs.action, { method: 'POST', body: acs.fields, headers: { cookie }, redirect: 'manual' });
  assert.equal(answer.status, 302, await answer.text());
  return new URL(answer.headers.get('location'));
}

async function signIn(config, scope = 'openid email profile groups') {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await browserSignIn(url);
  assert.equal(callback.searchParams.get('state'), state, 'state comes back unchanged');
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, callback, verifier };
}

const options = { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] };

test('discovery names the organisation as issuer and only what samlgate does', async () => {
  const { client_id, client_secret } = await register('client_secret_basic');
  const config = await client.discovery(new URL(ISSUER), client_id, undefined, client.ClientSecretBasic(client_secret), options);
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, ISSUER);
  assert.equal(meta.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.ok(!meta.grant_types_supported.includes('refresh_token'));
  assert.ok(meta.id_token_signing_alg_values_supported.includes('ES256'));
  assert.ok(meta.id_token_signing_alg_values_supported.includes('RS256'));
});

const SIGNED_OUT = `${BASE}/rp/openid-client/signed-out`;

test('a confidential client (client_secret_basic): code + PKCE, ID token validated by the library, userinfo, RP-initiated logout', async () => {
  const { client_id, client_secret } = await register('client_secret_basic', { post_logout_redirect_uris: [SIGNED_OUT] });
  const config = await client.discovery(new URL(ISSUER), client_id, undefined, client.ClientSecretBasic(client_secret), options);
  const { tokens, callback, verifier } = await signIn(config);
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, client_id);
  assert.equal(claims.sub, 'demo:alice@demo.samlgate.test');
  assert.equal(claims.email, 'alice@demo.samlgate.test');
  assert.ok(Array.isArray(claims.groups) && claims.groups.includes('admins'));
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.email, 'alice@demo.samlgate.test');

  // RP-initiated logout: the library builds the end-session URL from discovery; samlgate
  // ends the session (the demo IdP has no logout endpoint) and returns with the state.
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: SIGNED_OUT,
    state: logoutState,
  });
  assert.equal(endSession.origin + endSession.pathname, `${ISSUER}/logout`);
  const loggedOut = await fetch(endSession, { redirect: 'manual' });
  assert.equal(loggedOut.status, 302, await loggedOut.text());
  const back = new URL(loggedOut.headers.get('location'));
  assert.equal(back.origin + back.pathname, SIGNED_OUT);
  assert.equal(back.searchParams.get('state'), logoutState);
  const unregistered = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${BASE}/elsewhere` });
  const refused = await fetch(unregistered, { redirect: 'manual' });
  assert.equal(refused.status, 400, 'an unregistered post-logout URI gets a page');
  assert.equal(refused.headers.get('location'), null);

  // The code a second time: invalid_grant, and the access token it issued stops working.
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: callback.searchParams.get('state') }),
    (e) => e.error === 'invalid_grant',
  );
  await assert.rejects(
    client.fetchUserInfo(config, tokens.access_token, claims.sub),
    (e) => e instanceof client.WWWAuthenticateChallengeError && e.status === 401 && e.cause[0].scheme === 'bearer' && e.cause[0].parameters.error === 'invalid_token',
  );
});

test('a public client (none): PKCE only; openid alone releases no email, profile or groups', async () => {
  const { client_id, client_secret } = await register('none');
  assert.equal(client_secret, undefined, 'a public client has no secret');
  const config = await client.discovery(new URL(ISSUER), client_id, undefined, client.None(), options);
  const { tokens } = await signIn(config, 'openid');
  const claims = tokens.claims();
  assert.equal(claims.aud, client_id);
  for (const claim of ['email', 'email_verified', 'name', 'groups']) {
    assert.equal(claims[claim], undefined, `${claim} without its scope`);
  }
});

test('a client that registered RS256 gets RS256 ID tokens the library validates', async () => {
  const { client_id, client_secret } = await register('client_secret_post', { id_token_signed_response_alg: 'RS256' });
  const config = await client.discovery(
    new URL(ISSUER),
    client_id,
    { id_token_signed_response_alg: 'RS256' },
    client.ClientSecretPost(client_secret),
    options,
  );
  const { tokens } = await signIn(config, 'openid');
  const header = JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'RS256');
  assert.equal(tokens.claims().aud, client_id);
});

test('a wrong client secret is 401 invalid_client with a Basic challenge', async () => {
  const { client_id } = await register('client_secret_basic');
  const config = await client.discovery(new URL(ISSUER), client_id, undefined, client.ClientSecretBasic('not-the-secret'), options);
  let error;
  await assert.rejects(signIn(config), (e) => {
    error = e;
    return e instanceof client.WWWAuthenticateChallengeError;
  });
  assert.equal(error.status, 401);
  assert.equal(error.cause[0].scheme, 'basic');
  assert.equal((await error.response.json()).error, 'invalid_client');
});

test('a wrong PKCE verifier is invalid_grant', async () => {
  const { client_id, client_secret } = await register('client_secret_basic');
  const config = await client.discovery(new URL(ISSUER), client_id, undefined, client.ClientSecretBasic(client_secret), options);
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    state,
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const callback = await browserSignIn(url);
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: state }),
    (e) => e.error === 'invalid_grant',
  );
});
