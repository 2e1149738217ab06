// Console sign-in through samlgate itself: the console is the organisation's public OIDC
// client `samlgate-console` (authorization code + PKCE, RFC 7636). The ID token it receives is
// exchanged at admin (`POST /console-api/orgs/{org}/session`), which verifies it and checks
// the organisation's admin group, for a console session kept in this tab only.

import { api, keepSession, sessionFor } from './api';
import { issuer } from './config';

export const CONSOLE_CLIENT_ID = 'samlgate-console';
const PENDING = 'samlgate-signin';
const ID_TOKEN = (org: string) => `samlgate-id-token:${org}`;

interface Pending {
  org: string;
  state: string;
  nonce: string;
  verifier: string;
}

const redirectUri = (): string => `${location.origin}/console/`;

function random(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(buf);
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Sends the browser to the organisation's authorize endpoint. */
export async function signIn(org: string): Promise<void> {
  const pending: Pending = { org, state: random(16), nonce: random(16), verifier: random(48) };
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(pending.verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CONSOLE_CLIENT_ID,
    redirect_uri: redirectUri(),
    scope: 'openid groups profile email',
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  location.assign(`${issuer(org)}/authorize?${query}`);
}

/** Ends the console session at admin, forgets it in this tab, and ends the samlgate session
 * (RP-initiated logout). */
export async function signOut(org: string): Promise<void> {
  // Ended at admin first; a session that is already over is forgotten all the same.
  await api('DELETE', `/console-api/orgs/${encodeURIComponent(org)}/session`).catch(() => undefined);
  const hint = sessionStorage.getItem(ID_TOKEN(org));
  sessionStorage.removeItem(`samlgate-session:${org}`);
  sessionStorage.removeItem(ID_TOKEN(org));
  if (!hint) {
    location.hash = `#/o/${encodeURIComponent(org)}/overview`;
    location.reload();
    return;
  }
  const query = new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: redirectUri(), client_id: CONSOLE_CLIENT_ID });
  location.assign(`${issuer(org)}/logout?${query}`);
}

export const signedIn = (org: string): boolean => sessionFor(org) !== null;

/** The end of a sign-in (`/console/?code=…&state=…`): redeem the code, check the nonce, make
 * the console session. Returns the organisation, or throws with the reason. */
export async function completeSignIn(): Promise<string | null> {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return null;
  // The code leaves the address bar and the history at once.
  history.replaceState(null, '', '/console/');
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as Pending | null;
  sessionStorage.removeItem(PENDING);
  if (!pending || params.get('state') !== pending.state) throw new Error('this sign-in was not started in this tab');
  if (params.has('error')) throw new Error(`samlgate answered ${params.get('error')}`);
  const token = await fetch(`${issuer(pending.org)}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code') ?? '',
      redirect_uri: redirectUri(),
      client_id: CONSOLE_CLIENT_ID,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = (await token.json()) as { id_token?: string; error?: string };
  if (!token.ok || !tokens.id_token) throw new Error(`the token endpoint answered ${tokens.error ?? token.status}`);
  // admin verifies the signature; the nonce is this client's to check (OIDC Core §3.1.3.7).
  const payload = JSON.parse(atob(tokens.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { nonce?: string };
  if (payload.nonce !== pending.nonce) throw new Error('the ID token is not for this sign-in (nonce)');
  const session = await api<{ session_token: string }>('POST', `/console-api/orgs/${encodeURIComponent(pending.org)}/session`, {
    id_token: tokens.id_token,
  });
  keepSession(pending.org, session.session_token);
  sessionStorage.setItem(ID_TOKEN(pending.org), tokens.id_token);
  return pending.org;
}
