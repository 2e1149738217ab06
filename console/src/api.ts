// The admin API, from the page's own origin. Errors keep the API's stable code and the
// correlation ID, which the audit log carries too.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly correlationId?: string,
  ) {
    super(message);
  }

  describe(): string {
    const corr = this.correlationId ? ` (correlation ID ${this.correlationId})` : '';
    return `${this.message} [${this.code}]${corr}`;
  }
}

/** One line for an error shown in the page: the API's message, code and correlation ID, or
 * the message of an error the page raised itself. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.describe();
  return e instanceof Error ? e.message : String(e);
}

// A console session (from a setup link) per organisation, for this tab only: sessionStorage
// is not shared with other tabs or kept after the tab closes.
const SESSION_KEY = (org: string) => `samlgate-session:${org}`;

export function sessionFor(org: string): string | null {
  return sessionStorage.getItem(SESSION_KEY(org));
}

export function keepSession(org: string, token: string): void {
  sessionStorage.setItem(SESSION_KEY(org), token);
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  // Every change is JSON, even without a body: the dev server's admin API refuses anything
  // else (a cross-site form or a text/plain fetch could send the rest).
  if (method !== 'GET') headers['content-type'] = 'application/json';
  const org = /^\/console-api\/orgs\/([a-z][a-z0-9-]{0,31})\//.exec(path)?.[1];
  const session = org ? sessionFor(org) : null;
  if (session) headers.authorization = `Bearer ${session}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'the admin API cannot be reached');
  }
  let json: Record<string, unknown> = {};
  try {
    json = (await response.json()) as Record<string, unknown>;
  } catch {
    // An empty or non-JSON answer: the status decides.
  }
  if (!response.ok) {
    throw new ApiError(
      response.status,
      typeof json.error === 'string' ? json.error : `http_${response.status}`,
      typeof json.message === 'string' ? json.message : response.statusText || 'request failed',
      typeof json.correlation_id === 'string' ? json.correlation_id : undefined,
    );
  }
  return json as T;
}

/** An organisation's admin route: through the console API with this tab's session for that
 * organisation (a setup link's), else the admin API itself (operators; the dev server). */
export const orgPath = (org: string, rest = ''): string =>
  sessionFor(org)
    ? `/console-api/orgs/${encodeURIComponent(org)}${rest === '' ? '/' : rest}`
    : `/admin/orgs/${encodeURIComponent(org)}${rest}`;

export interface Org {
  org: string;
  name: string;
  key_arn: string;
  byok: boolean;
  provision_function_arn?: string | null;
  egress_allowlist: string[];
  intake_key_id: string;
  status: string;
  created_at: string;
}

export interface SsoSettings {
  default_idp?: string | null;
  domain_hints?: Record<string, string>;
  session_ttl_secs?: number;
  rotation?: { rotate_after_days: number; publish_next_days: number; retire_after_days: number };
}

export interface IdpSettings {
  clock_skew_secs: number;
  allow_idp_initiated: boolean;
  require_encrypted_assertions: boolean;
  sign_requests: boolean;
  request_binding: string;
  name_id_format: string | null;
  mapping: { subject: string | null; email: string | null; name: string | null; groups: string | null };
  rules: { subject_pattern: string | null; required_group: string | null; authn_context: string[] };
  algorithm_exceptions: string[];
}

export interface Idp {
  idp: string;
  entity_id: string;
  metadata_url?: string | null;
  signing_certificates: string[];
  settings: IdpSettings;
  version: number;
  created_at: string;
  updated_at: string;
  refresh?: {
    /** document: the IdP's own metadata; aggregate: a federation's; mdq: an MDQ service's answer. */
    source?: 'document' | 'aggregate' | 'mdq';
    checked_at?: string | null;
    valid_until?: string | null;
    signing_certificates?: string[];
    pending_certificates?: string[];
  };
}

/** Registered by metadata URL with no metadata signing certificate (new keys wait for approval). */
export function onUnsignedMetadata(idp: Idp): boolean {
  return Boolean(idp.metadata_url) && (idp.refresh?.signing_certificates ?? []).length === 0;
}

export interface CertificateView {
  id: string;
  usage: string;
  state: string;
  not_after: string;
}

export interface IdpView extends Idp {
  sp_entity_id: string;
  acs_url: string;
  slo_url: string;
  sp_metadata_url: string;
  login_url: string;
  sp_certificates: CertificateView[];
  idp_certificates: { fingerprint: string; not_after: string | null }[];
  unsigned_metadata: boolean;
  pending_certificates: { fingerprint: string; not_after: string | null }[];
}

export interface Credential {
  id: string;
  name: string;
  description: string;
  kind: string;
  state: string;
  version: number;
  action: { method: string; url: string; inject: { type: string } };
  created_at: string;
  updated_at: string;
}

export interface IntakeKey {
  kid: string;
  key_namespace: string;
  key_name: string;
  jwk: { kty: string; n: string; e: string; alg: string };
}

export interface AuditEvent {
  at: string;
  correlation_id: string;
  actor: string;
  action: string;
  outcome: string;
  reason?: string | null;
  credential_id?: string | null;
  facts?: Record<string, string>;
  /** An aggregate of anonymous failures: how many in the minute that starts at `at`. */
  count?: number;
}
