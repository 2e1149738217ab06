// Key rotation status: every published SP certificate, every IdP signing certificate and the
// organisation's token keys, on one timeline of days left. The table carries the facts; the
// bars repeat them for the eye (aria-hidden).

import { api, orgPath, type Idp, type IdpView, type SsoSettings } from '../api';
import { date, daysUntil, facts, h } from '../dom';
import { link, type Route } from '../route';

interface Row {
  idp: string;
  what: string;
  state: string;
  notAfter: string;
  days: number;
}

const WARN_DAYS = 30;

interface TokenKey {
  id: string;
  alg: string;
  state: string;
  created_at: string;
  activated_at: string | null;
  not_after: string;
}

export async function rotation(page: HTMLElement, route: Route): Promise<void> {
  const [{ idps }, sso, tokens] = await Promise.all([
    api<{ idps: Idp[] }>('GET', orgPath(route.org, '/idps')),
    api<SsoSettings>('GET', orgPath(route.org, '/sso')).catch(() => null),
    api<{ token_keys: TokenKey[] }>('GET', orgPath(route.org, '/token-keys')).catch(() => ({ token_keys: [] })),
  ]);
  const views = await Promise.all(
    idps.map((i) => api<IdpView>('GET', orgPath(route.org, `/idps/${encodeURIComponent(i.idp)}`))),
  );
  const rows: Row[] = views.flatMap((v) => [
    ...v.sp_certificates.map((c) => ({
      idp: v.idp,
      what: `SP ${c.usage} key ${c.id.slice(0, 12)}`,
      state: c.state,
      notAfter: c.not_after,
      days: daysUntil(c.not_after),
    })),
    ...(v.idp_certificates ?? []).flatMap((c) =>
      c.not_after
        ? [
            {
              idp: v.idp,
              what: `IdP signing certificate ${c.fingerprint.slice(0, 16)}`,
              state: 'trusted',
              notAfter: c.not_after,
              days: daysUntil(c.not_after),
            },
          ]
        : [],
    ),
  ]);
  // The organisation's ID-token keys: in the JWKS from `next` until retired.
  rows.push(
    ...tokens.token_keys
      .filter((k) => k.state !== 'retired')
      .map((k) => ({
        idp: '(all)',
        what: `Token key ${k.alg} ${k.id.slice(0, 12)}`,
        state: k.state,
        notAfter: k.not_after,
        days: daysUntil(k.not_after),
      })),
  );
  rows.sort((a, b) => a.days - b.days);
  const policy = sso?.rotation;
  // The bars span three years, an SP certificate's whole life; longer-lived ones fill the bar.
  const horizon = 1095;
  page.append(h('h1', {}, 'Key rotation'));
  if (policy) {
    page.append(
      facts([
        ['New SP key every', `${policy.rotate_after_days} days`],
        ['Published before use', `${policy.publish_next_days} days`],
        ['Old key kept after handover', `${policy.retire_after_days} days`],
      ]),
    );
  }
  page.append(
    h('p', {}, `Certificates that end within ${WARN_DAYS} days are marked; the rotate function also alarms on them.`),
    rows.length === 0
      ? h('p', { class: 'empty' }, 'No certificates yet: add an identity provider.')
      : h(
          'table',
          { class: 'timeline' },
          h('caption', {}, 'Certificates by days left'),
          h(
            'thead',
            {},
            h('tr', {}, ...['IdP', 'Certificate', 'State', 'Ends', 'Days left', 'Timeline (3 years)'].map((x) => h('th', { scope: 'col' }, x))),
          ),
          h(
            'tbody',
            {},
            ...rows.map((r) =>
              h(
                'tr',
                { class: r.days < WARN_DAYS ? 'warn' : null },
                h('td', {}, h('a', { href: link(route.org, 'idps', r.idp) }, r.idp)),
                h('td', {}, r.what),
                h('td', {}, h('span', { class: `state state-${r.state}` }, r.state)),
                h('td', {}, date(r.notAfter)),
                h('td', {}, r.days < WARN_DAYS ? `${r.days} (ends soon)` : String(r.days)),
                h(
                  'td',
                  { 'aria-hidden': 'true' },
                  h('div', { class: 'bar' }, bar(r.days / horizon)),
                ),
              ),
            ),
          ),
        ),
  );
}

/** The bar's width through the CSSOM: the page's CSP allows no inline style attributes. */
function bar(fraction: number): HTMLElement {
  const fill = h('div', { class: 'fill' });
  fill.style.width = `${(Math.max(0, Math.min(1, fraction)) * 100).toFixed(1)}%`;
  return fill;
}
