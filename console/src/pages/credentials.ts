// Credentials. The value field is encrypted in this page (AWS Encryption SDK, Raw RSA keyring,
// WebCrypto) to the organisation's intake key before any request is made; the field has no
// `name`, so even a form submitted without this script would not carry it, and it is cleared as
// soon as the ciphertext exists.

import { api, describeError, orgPath, type Credential, type IntakeKey } from '../api';
import { date, field, formValue, h, input, notice, select, setFlash, table, takeFlash, textarea } from '../dom';
import { encryptCredential } from '../encrypt';
import type { Route } from '../route';


const KINDS: [string, string][] = [
  ['api_token', 'API token'],
  ['client_secret', 'Client secret'],
  ['password', 'Password'],
  ['private_key', 'Private key'],
];

const INJECT: [string, string][] = [
  ['bearer', 'Authorization: Bearer <secret>'],
  ['ssws', 'Authorization: SSWS <secret> (Okta)'],
  ['basic', 'HTTP Basic (username below, secret as password)'],
  ['header', 'A header of its own (name below)'],
  ['json_field', 'A field of the JSON body (name below)'],
];

/** A secret field: no `name` (never part of a native form submission), masked by CSS, and a
 * textarea rather than a password input, so that a pasted PEM keeps its line breaks and the
 * browser's password manager does not offer to keep a copy. */
function secretInput(id: string): HTMLTextAreaElement {
  return h('textarea', { id, class: 'secret', rows: 3, autocomplete: 'off', spellcheck: 'false', required: true });
}

/** Encrypts the field's value to the organisation's intake key and clears the field, whatever
 * happens. */
async function sealed(org: string, secretField: HTMLTextAreaElement): Promise<string> {
  try {
    const key = await api<IntakeKey>('GET', orgPath(org, '/intake-key'));
    return await encryptCredential(org, key, secretField.value);
  } finally {
    secretField.value = '';
  }
}

export async function credentials(page: HTMLElement, route: Route): Promise<void> {
  const { credentials } = await api<{ credentials: Credential[] }>('GET', orgPath(route.org, '/credentials'));
  const live = credentials.filter((c) => c.state !== 'deleted');
  const result = h('div', { class: 'result', id: 'credential-result' });
  takeFlash(result);
  page.append(
    h('h1', {}, 'Credentials'),
    h(
      'p',
      {},
      'Values are encrypted in this page to the organisation\u2019s intake key; samlgate stores only ciphertext. Only the organisation\u2019s provisioning function can decrypt them, to perform the one action configured here.',
    ),
    result,
    table(
      'Credentials of this organisation',
      ['Name', 'Description', 'Kind', 'State', 'Version', 'Target', 'Created', 'Updated', 'Actions'],
      live.map((c) => [
        c.name,
        c.description,
        c.kind,
        c.state,
        c.version,
        h('code', {}, `${c.action.method} ${c.action.url}`),
        date(c.created_at),
        date(c.updated_at),
        actions(route, c, result),
      ]),
    ),
    createForm(route),
  );
}

function actions(route: Route, c: Credential, result: HTMLElement): HTMLElement {
  const path = orgPath(route.org, `/credentials/${encodeURIComponent(c.id)}`);
  const provision = h('button', { type: 'button', 'data-action': 'provision', 'aria-label': `Provision ${c.name}` }, 'Provision');
  provision.addEventListener('click', () => {
    provision.disabled = true;
    void api<{ outcome?: { status: number; elapsed_ms: number }; correlation_id?: string }>('POST', `${path}/provision`)
      .then((r) =>
        notice(result, 'ok', `Provisioned ${c.name}: the target answered ${r.outcome?.status} in ${r.outcome?.elapsed_ms} ms (correlation ID ${r.correlation_id}).`),
      )
      .catch((e) => notice(result, 'error', `Provisioning ${c.name} failed: ${describeError(e)}`))
      .finally(() => (provision.disabled = false));
  });
  const remove = h('button', { type: 'button', 'data-action': 'delete', 'aria-label': `Delete ${c.name}` }, 'Delete');
  remove.addEventListener('click', () => {
    if (!window.confirm(`Delete the credential ${c.name}? Its secret is scheduled for deletion.`)) return;
    void api('DELETE', path)
      .then(() => {
        setFlash(`Deleted ${c.name}.`);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      })
      .catch((e) => notice(result, 'error', `Not deleted: ${describeError(e)}`));
  });
  const secret = secretInput(`update-${c.id}`);
  const update: HTMLFormElement = h(
    'form',
    { class: 'inline' },
    h('label', { for: secret.id }, `New value for ${c.name}`),
    secret,
    h('button', { type: 'submit' }, 'Encrypt and replace'),
  );
  update.addEventListener('submit', (e) => {
    e.preventDefault();
    void sealed(route.org, secret)
      .then((ciphertext) => api<Credential>('PUT', path, { ciphertext }))
      .then((r) => notice(result, 'ok', `${c.name} is now at version ${r.version}.`))
      .catch((err) => notice(result, 'error', `Not replaced: ${describeError(err)}`));
  });
  return h('div', { class: 'actions' }, provision, remove, h('details', {}, h('summary', {}, 'Replace value'), update));
}

function createForm(route: Route): HTMLElement {
  const secret = secretInput('credential-secret');
  const local = h('div', { class: 'result' });
  const form: HTMLFormElement = h(
    'form',
    { id: 'create-credential' },
    h('h2', {}, 'Add a credential'),
    field('Name', input('credential-name', { required: true, maxlength: 128, autocomplete: 'off' })),
    field('Description', input('credential-description', { maxlength: 512, autocomplete: 'off' })),
    field('Kind', select('credential-kind', KINDS, 'api_token')),
    h(
      'fieldset',
      {},
      h('legend', {}, 'What provisioning does with it'),
      field('Method', select('action-method', [['POST', 'POST'], ['PUT', 'PUT'], ['PATCH', 'PATCH'], ['GET', 'GET']], 'POST')),
      field('URL', input('action-url', { type: 'url', required: true }), 'An https URL on a host in the organisation\u2019s egress allowlist.'),
      field('The secret goes into', select('action-inject', INJECT, 'bearer')),
      field('Username, header name or JSON field', input('action-inject-name', { autocomplete: 'off' }), 'For HTTP Basic, a header of its own, or a JSON field.'),
      field('JSON body (optional)', textarea('action-body', '', { rows: 3 })),
    ),
    field('Value', secret, 'Encrypted in this page before it is sent; never stored or shown again.'),
    h('button', { type: 'submit' }, 'Encrypt and store'),
    local,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      try {
        const type = formValue(form, 'action-inject');
        const named = formValue(form, 'action-inject-name');
        const inject: Record<string, string> = { type };
        if (type === 'basic') inject.username = named;
        if (type === 'header') inject.name = named;
        if (type === 'json_field') inject.field = named;
        const bodyText = formValue(form, 'action-body');
        let body: unknown = undefined;
        if (bodyText) {
          try {
            body = JSON.parse(bodyText);
          } catch {
            throw new Error('the JSON body is not valid JSON');
          }
        }
        const ciphertext = await sealed(route.org, secret);
        const created = await api<Credential>('POST', orgPath(route.org, '/credentials'), {
          name: formValue(form, 'credential-name'),
          description: formValue(form, 'credential-description'),
          kind: formValue(form, 'credential-kind'),
          action: { method: formValue(form, 'action-method'), url: formValue(form, 'action-url'), inject, body },
          ciphertext,
        });
        form.reset();
        setFlash(`Stored ${created.name} (version ${created.version}); only ciphertext left this page.`);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (err) {
        secret.value = '';
        notice(local, 'error', `Not stored: ${describeError(err)}`);
      }
    })();
  });
  return form;
}
