// The setup link's landing: #/o/{org}/setup/{id}.{secret}. The token is exchanged once for a
// console session kept in this tab only; the link then leaves the address bar and the
// history (location.replace), and the IdP wizard opens. A link that is over gets a page that
// says why and who can help.

import { api, ApiError, keepSession } from '../api';
import { h } from '../dom';
import { link, type Route } from '../route';

interface Started {
  org: string;
  session_token: string;
  scopes: string[];
  expires_at: string;
}

const OVER: Record<string, string> = {
  setup_link_expired: 'This setup link has expired.',
  setup_link_used: 'This setup link has already been used.',
  setup_link_revoked: 'This setup link was revoked.',
  setup_link_invalid: 'This setup link is not valid.',
};

export async function setup(page: HTMLElement, route: Route, token: string): Promise<void> {
  let started: Started;
  try {
    started = await api<Started>('POST', `/console-api/orgs/${encodeURIComponent(route.org)}/setup/exchange`, { token });
  } catch (e) {
    const code = e instanceof ApiError ? e.code : '';
    page.append(
      h('h1', {}, OVER[code] ?? 'This setup link cannot be used'),
      h(
        'p',
        { id: 'setup-refused', 'data-code': code },
        'A setup link works once and for a limited time. Ask the person who sent it to you for a new one.',
      ),
    );
    if (e instanceof ApiError && e.correlationId) page.append(h('p', {}, 'Reference: ', h('code', {}, e.correlationId)));
    return;
  }
  keepSession(route.org, started.session_token);
  const next = started.scopes.includes('sso') ? link(route.org, 'idps') : link(route.org, 'credentials');
  location.replace(next);
}
