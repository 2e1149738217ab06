import { api, orgPath, type Credential, type Idp, type Org, type SsoSettings } from '../api';
import { date, facts, h } from '../dom';
import { link, type Route } from '../route';

export async function overview(page: HTMLElement, route: Route): Promise<void> {
  const [org, sso, idps, creds] = await Promise.all([
    api<Org>('GET', orgPath(route.org)),
    api<SsoSettings>('GET', orgPath(route.org, '/sso')).catch(() => null),
    api<{ idps: Idp[] }>('GET', orgPath(route.org, '/idps')),
    // A setup link's session may hold the sso scope only.
    api<{ credentials: Credential[] }>('GET', orgPath(route.org, '/credentials')).catch(() => ({ credentials: [] })),
  ]);
  const live = creds.credentials.filter((c) => c.state !== 'deleted');
  page.append(
    h('h1', {}, org.name),
    facts([
      ['Organisation ID', h('code', {}, org.org)],
      ['Status', org.status],
      ['Key', h('code', {}, org.key_arn)],
      ['Key ownership', org.byok ? 'customer key (BYOK grant)' : 'samlgate-managed key'],
      ['Provisioning egress allowlist', org.egress_allowlist.length ? org.egress_allowlist.join(', ') : 'none'],
      ['Created', date(org.created_at)],
    ]),
    h('h2', {}, 'Single sign-on'),
    sso
      ? facts([
          ['Default IdP', sso.default_idp ?? '—'],
          [
            'Email domains (verified for their IdP)',
            Object.keys(sso.domain_hints ?? {}).length
              ? h('ul', {}, ...Object.entries(sso.domain_hints ?? {}).map(([d, i]) => h('li', {}, h('code', {}, d), ' → ', h('code', {}, i))))
              : 'none',
          ],
          ['Session lifetime', sso.session_ttl_secs ? `${Math.round(sso.session_ttl_secs / 60)} min` : '—'],
        ])
      : h('p', {}, 'No SSO settings yet.'),
    h(
      'ul',
      { class: 'summary' },
      h('li', {}, h('a', { href: link(route.org, 'idps') }, `${idps.idps.length} identity provider(s)`)),
      h('li', {}, h('a', { href: link(route.org, 'credentials') }, `${live.length} credential(s)`)),
      h('li', {}, h('a', { href: link(route.org, 'rotation') }, 'Key rotation status')),
      h('li', {}, h('a', { href: link(route.org, 'audit') }, 'Audit log')),
    ),
  );
}
