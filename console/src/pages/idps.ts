import { api, describeError, onUnsignedMetadata, orgPath, type AuditEvent, type Idp, type IdpSettings, type IdpView, type SsoSettings } from '../api';
import {
  checkbox,
  date,
  facts,
  field,
  formChecked,
  formValue,
  h,
  input,
  notice,
  select,
  table,
  textarea,
} from '../dom';
import { link, type Route } from '../route';
import { guides } from '../guides';


export async function idps(page: HTMLElement, route: Route): Promise<void> {
  const { idps } = await api<{ idps: Idp[] }>('GET', orgPath(route.org, '/idps'));
  page.append(
    h('h1', {}, 'Identity providers'),
    table(
      'Identity providers of this organisation',
      ['IdP', 'Entity ID', 'Source', 'Signing certificates', 'Updated'],
      idps.map((idp) => [
        h('a', { href: link(route.org, 'idps', idp.idp) }, idp.idp),
        h('code', {}, idp.entity_id),
        idp.metadata_url
          ? `${sourceName(idp)} (${idp.metadata_url}), ${onUnsignedMetadata(idp) ? 'unsigned' : 'signed'}`
          : 'uploaded or manual',
        `${idp.signing_certificates.length}${(idp.refresh?.pending_certificates ?? []).length ? `, ${idp.refresh?.pending_certificates?.length} waiting for approval` : ''}`,
        date(idp.updated_at),
      ]),
    ),
    addForm(route),
    guides(null),
  );
}

/** How the IdP's metadata URL is read. */
function sourceName(idp: Idp): string {
  switch (idp.refresh?.source) {
    case 'aggregate':
      return 'federation aggregate';
    case 'mdq':
      return 'MDQ service';
    default:
      return 'metadata URL';
  }
}

function addForm(route: Route): HTMLElement {
  const result = h('div', { class: 'result' });
  const source = (value: string, label: string, checked = false) =>
    h(
      'div',
      { class: 'check' },
      h('input', { type: 'radio', name: 'source', id: `source-${value}`, value, checked }),
      h('label', { for: `source-${value}` }, label),
    );
  const form: HTMLFormElement = h(
    'form',
    { id: 'add-idp', novalidate: false },
    h('h2', {}, 'Add an identity provider'),
    field('IdP ID', input('idp-id', { required: true, pattern: '[a-z][a-z0-9\\-]{0,31}', maxlength: 32, autocomplete: 'off' }), 'A lower-case letter, then up to 31 lower-case letters, digits and dashes; it becomes part of the SP URLs.'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Source'),
      source('url', 'From a metadata URL', true),
      source('xml', 'From a metadata XML file'),
      source('federation', 'From a federation (signed aggregate or MDQ service)'),
      source('manual', 'From manual fields'),
    ),
    h('div', { class: 'source source-url' }, field('Metadata URL', input('metadata-url', { type: 'url' }), 'https only (plain http to loopback in local mode); fetched by samlgate with size and time limits, and refreshed daily.')),
    h('div', { class: 'source source-xml', hidden: true }, field('Metadata file', input('metadata-file', { type: 'file', accept: '.xml,application/samlmetadata+xml,text/xml' }))),
    h(
      'div',
      { class: 'source source-federation', hidden: true },
      field('Federation metadata', select('federation-kind', [['aggregate', 'Aggregate URL (an EntitiesDescriptor of many entities)'], ['mdq', 'MDQ service base URL (Metadata Query Protocol)']])),
      field('URL', input('federation-url', { type: 'url' }), 'The aggregate, or the MDQ service (samlgate asks it for {URL}/entities/{entity ID}). Refreshed daily.'),
      field('IdP entity ID', input('federation-entity-id', { autocomplete: 'off' }), 'Which entity of the federation this IdP is.'),
      field('Federation metadata signing certificate (PEM)', textarea('federation-signer', '', { rows: 6 }), 'The federation publishes it; the aggregate or MDQ answer must be signed with it.'),
    ),
    h(
      'div',
      { class: 'source source-manual', hidden: true },
      field('Entity ID', input('manual-entity-id')),
      field('Single sign-on URL (Redirect)', input('manual-sso-url', { type: 'url' })),
      field('Single logout URL (optional)', input('manual-slo-url', { type: 'url' })),
      field('Signing certificate (PEM)', textarea('manual-certificate', '', { rows: 6 })),
    ),
    h('button', { type: 'submit' }, 'Add identity provider'),
    result,
  );
  form.addEventListener('change', () => {
    const chosen = (form.elements.namedItem('source') as RadioNodeList).value;
    for (const el of form.querySelectorAll<HTMLElement>('.source')) {
      el.hidden = !el.classList.contains(`source-${chosen}`);
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      const chosen = (form.elements.namedItem('source') as RadioNodeList).value;
      const body: Record<string, unknown> = { idp: formValue(form, 'idp-id') };
      try {
        if (chosen === 'url') body.metadata_url = formValue(form, 'metadata-url');
        if (chosen === 'federation') {
          const url = formValue(form, 'federation-url');
          if (formValue(form, 'federation-kind') === 'mdq') body.mdq_url = url;
          else body.metadata_url = url;
          body.entity_id = formValue(form, 'federation-entity-id');
          body.metadata_signing_certificates = [formValue(form, 'federation-signer')];
        }
        if (chosen === 'xml') {
          const file = (form.elements.namedItem('metadata-file') as HTMLInputElement).files?.[0];
          if (!file) throw new Error('choose a metadata file');
          if (file.size > 512 * 1024) throw new Error('the metadata file is larger than 512 KiB');
          body.metadata_xml = await file.text();
        }
        if (chosen === 'manual') {
          body.manual = {
            entity_id: formValue(form, 'manual-entity-id'),
            sso_url: formValue(form, 'manual-sso-url'),
            slo_url: formValue(form, 'manual-slo-url') || undefined,
            certificates: [formValue(form, 'manual-certificate')],
          };
        }
        await api('POST', orgPath(route.org, '/idps'), body);
        location.hash = link(route.org, 'idps', String(body.idp));
      } catch (err) {
        notice(result, 'error', `Not added: ${describeError(err)}`);
      }
    })();
  });
  return form;
}

export async function idpDetail(page: HTMLElement, route: Route, id: string): Promise<void> {
  const [idp, sso, lastUse] = await Promise.all([
    api<IdpView>('GET', orgPath(route.org, `/idps/${encodeURIComponent(id)}`)),
    api<SsoSettings>('GET', orgPath(route.org, '/sso')).catch(() => null),
    api<{ events: AuditEvent[] }>(
      'GET',
      orgPath(route.org, `/audit?action=sso.login&idp=${encodeURIComponent(id)}&fact=exceptions_used&limit=1`),
    ).catch(() => null),
  ]);
  page.append(
    h('h1', {}, `Identity provider ${idp.idp}`),
    facts([
      ['Entity ID', h('code', {}, idp.entity_id)],
      ['Metadata URL', idp.metadata_url ? h('code', {}, idp.metadata_url) : 'none (uploaded or manual)'],
      ['Metadata source', idp.metadata_url ? sourceName(idp) : 'not refreshed'],
      [
        'Metadata signature',
        !idp.metadata_url
          ? 'not refreshed'
          : idp.unsigned_metadata
            ? 'unsigned: new signing certificates in it wait for your approval'
            : 'checked against the configured metadata signing certificate',
      ],
      ['Last metadata check', date(idp.refresh?.checked_at)],
      ['Version', idp.version],
      ['Updated', date(idp.updated_at)],
    ]),
    h('h2', {}, 'Enter these at the identity provider'),
    h('p', {}, 'Or give the IdP the SP metadata URL: it always lists every published certificate.'),
    copyable('SP entity ID (audience)', 'sp-entity-id', idp.sp_entity_id),
    copyable('ACS URL (HTTP-POST)', 'acs-url', idp.acs_url),
    copyable('Single logout URL', 'slo-url', idp.slo_url),
    copyable('SP metadata URL', 'sp-metadata-url', idp.sp_metadata_url),
    exceptionsWarning(idp, lastUse?.events[0] ?? null),
    pendingCertificates(route, idp) ?? '',
    testSignIn(route.org, idp, sso),
    guides(idp),
    settingsForm(route, idp),
  );
}

/** The algorithm exceptions this IdP is allowed, and when a login last needed one. */
function exceptionsWarning(idp: IdpView, last: AuditEvent | null): HTMLElement | string {
  const allowed = idp.settings.algorithm_exceptions ?? [];
  if (allowed.length === 0) return '';
  return h(
    'section',
    { id: 'algorithm-exceptions', 'aria-labelledby': 'algorithm-exceptions-title' },
    h('h2', { id: 'algorithm-exceptions-title' }, 'Weaker algorithms allowed'),
    h(
      'p',
      { class: 'notice warning' },
      `This IdP may use ${allowed.join(', ')}, which samlgate refuses by default. `,
      last
        ? `A sign-in last needed ${last.facts?.exceptions_used ?? 'one'} on ${date(last.at)}.`
        : 'No sign-in in the recent audit log needed one: remove the exceptions once the IdP uses SHA-256 and AES-GCM.',
    ),
  );
}

/** Signing certificates that unsigned metadata added: trusted only once an admin approves. */
function pendingCertificates(route: Route, idp: IdpView): HTMLElement | null {
  if (idp.pending_certificates.length === 0) return null;
  const result = h('div', { class: 'result' });
  const decide = (fingerprint: string, approve: boolean) => {
    const path = `/idps/${encodeURIComponent(idp.idp)}/pending-certificates/${fingerprint}`;
    void api(approve ? 'POST' : 'DELETE', orgPath(route.org, approve ? `${path}/approve` : path))
      .then(() => {
        notice(result, 'ok', approve ? 'Certificate trusted.' : 'Certificate dropped.');
        // The page again, from the API (the router re-renders on hashchange).
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      })
      .catch((err) => notice(result, 'error', `Not done: ${describeError(err)}`));
  };
  return h(
    'section',
    { id: 'pending-certificates' },
    h('h2', {}, 'Signing certificates waiting for approval'),
    h(
      'p',
      {},
      'The IdP\'s metadata is unsigned, so a certificate it adds is not trusted until you approve it. Compare the fingerprint with the one your IdP\'s admin console shows before you approve.',
    ),
    table(
      'Certificates waiting for approval',
      ['SHA-256 fingerprint', 'Valid until', 'Decision'],
      idp.pending_certificates.map((c) => [
        h('code', {}, c.fingerprint),
        date(c.not_after),
        h(
          'span',
          {},
          h('button', { type: 'button', class: 'approve', onclick: () => decide(c.fingerprint, true) }, 'Approve'),
          ' ',
          h('button', { type: 'button', class: 'reject', onclick: () => decide(c.fingerprint, false) }, 'Reject'),
        ),
      ]),
    ),
    result,
  );
}

function copyable(label: string, id: string, value: string): HTMLElement {
  const el = input(id, { readonly: true, value, class: 'copy' });
  el.addEventListener('focus', () => el.select());
  return field(label, el);
}

function testSignIn(org: string, idp: IdpView, sso: SsoSettings | null): HTMLElement {
  if (!sso) {
    return h('section', {}, h('h2', {}, 'Test sign-in'), h('p', {}, 'Save the organisation\'s SSO settings to test a sign-in.'));
  }
  const go = h('button', { type: 'button', id: 'test-sign-in' }, 'Test sign-in');
  const note = h('p', { class: 'result', role: 'status' });
  go.addEventListener('click', () => {
    // A diagnostic ticket (5 minutes) lets this browser see why a failed test sign-in failed.
    void api<{ url: string }>('POST', orgPath(org, `/idps/${encodeURIComponent(idp.idp)}/test-sign-in`))
      .then(({ url }) => {
        note.textContent = '';
        window.open(url, '_blank', 'noopener');
      })
      .catch((e) => {
        note.textContent = `Could not start a test sign-in: ${describeError(e)}`;
      });
  });
  return h(
    'section',
    {},
    h('h2', {}, 'Test sign-in'),
    h(
      'p',
      {},
      'Opens a sign-in through this IdP in a new tab and shows the identity an application would receive, and what the IdP asserted; if it fails, the reason, what arrived and what samlgate expected. Nothing is issued: no session, no code, no token.',
    ),
    go,
    note,
  );
}

function settingsForm(route: Route, idp: IdpView): HTMLElement {
  const s = idp.settings;
  const result = h('div', { class: 'result' });
  const form: HTMLFormElement = h(
    'form',
    { id: 'idp-settings' },
    h('h2', {}, 'Settings'),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Attribute mapping (SAML attribute name → identity)'),
      field('Subject', input('map-subject', { value: s.mapping.subject ?? '' }), 'Empty: the NameID.'),
      field('Email', input('map-email', { value: s.mapping.email ?? '' })),
      field('Name', input('map-name', { value: s.mapping.name ?? '' })),
      field('Groups', input('map-groups', { value: s.mapping.groups ?? '' })),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Match rules (a sign-in that fails one is refused)'),
      field('Subject pattern', input('rule-subject', { value: s.rules.subject_pattern ?? '' }), 'A regular expression the subject must match.'),
      field('Required group', input('rule-group', { value: s.rules.required_group ?? '' })),
      field('Authentication context classes', textarea('rule-authn', s.rules.authn_context.join('\n'), { rows: 3 }), 'One AuthnContextClassRef per line; empty accepts any.'),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Protocol'),
      checkbox('allow-idp-initiated', 'Allow IdP-initiated sign-in', s.allow_idp_initiated),
      checkbox('require-encrypted', 'Require encrypted assertions', s.require_encrypted_assertions),
      checkbox('sign-requests', 'Sign AuthnRequests', s.sign_requests),
      field('Request binding', select('request-binding', [['redirect', 'HTTP-Redirect'], ['post', 'HTTP-POST']], s.request_binding)),
      field('Clock skew (seconds)', input('clock-skew', { type: 'number', min: 0, max: 600, value: s.clock_skew_secs })),
      field('NameID format', input('name-id-format', { value: s.name_id_format ?? '' }), 'Empty: the IdP chooses.'),
    ),
    h('button', { type: 'submit' }, 'Save settings'),
    result,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const opt = (name: string) => formValue(form, name) || null;
    const settings: IdpSettings = {
      ...s,
      clock_skew_secs: Number(formValue(form, 'clock-skew')),
      allow_idp_initiated: formChecked(form, 'allow-idp-initiated'),
      require_encrypted_assertions: formChecked(form, 'require-encrypted'),
      sign_requests: formChecked(form, 'sign-requests'),
      request_binding: formValue(form, 'request-binding'),
      name_id_format: opt('name-id-format'),
      mapping: { subject: opt('map-subject'), email: opt('map-email'), name: opt('map-name'), groups: opt('map-groups') },
      rules: {
        subject_pattern: opt('rule-subject'),
        required_group: opt('rule-group'),
        authn_context: formValue(form, 'rule-authn').split('\n').map((x) => x.trim()).filter(Boolean),
      },
    };
    void api('PUT', orgPath(route.org, `/idps/${encodeURIComponent(idp.idp)}/settings`), settings)
      .then(() => notice(result, 'ok', 'Settings saved.'))
      .catch((err) => notice(result, 'error', `Not saved: ${describeError(err)}`));
  });
  return form;
}
