// The audit log, newest first, with filters and a time window that live in the URL (so a
// filtered view can be shared), correlation IDs that filter to one request, and "Older events"
// paging back by time (the API's `next_until`), however many items a flood of junk wrote.

import { api, orgPath, type AuditEvent } from '../api';
import { date, field, formValue, h, input, select, table } from '../dom';
import { link, type Route } from '../route';

const FILTERS = ['action', 'outcome', 'reason', 'correlation_id', 'from', 'until'] as const;

export async function audit(page: HTMLElement, route: Route): Promise<void> {
  const query = new URLSearchParams();
  for (const f of FILTERS) {
    const v = route.params.get(f);
    if (v) query.set(f, v);
  }
  query.set('limit', '200');
  const { events, scanned_all, next_until } = await api<{
    events: AuditEvent[];
    scanned_all: boolean;
    next_until?: string | null;
  }>(
    'GET',
    orgPath(route.org, `/audit?${query}`),
  );
  const form: HTMLFormElement = h(
    'form',
    { id: 'audit-filter', class: 'filters', role: 'search' },
    field('Action starts with', input('action', { value: route.params.get('action') ?? '' }), 'For example credential. or sso.'),
    field('Outcome', select('outcome', [['', 'any'], ['ok', 'ok'], ['error', 'error']], route.params.get('outcome') ?? '')),
    field('Reason code', input('reason', { value: route.params.get('reason') ?? '' })),
    field('Correlation ID', input('correlation_id', { value: route.params.get('correlation_id') ?? '' })),
    field('From', input('from', { value: route.params.get('from') ?? '', placeholder: '2026-01-01T00:00:00Z' }), 'Events at or after this instant (UTC, RFC 3339).'),
    field('Until', input('until', { value: route.params.get('until') ?? '', placeholder: '2026-01-02T00:00:00Z' }), 'Events before this instant.'),
    h('button', { type: 'submit' }, 'Filter'),
    h('a', { href: link(route.org, 'audit') }, 'Clear filters'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params: Record<string, string> = {};
    for (const f of FILTERS) {
      const v = formValue(form, f);
      if (v) params[f] = v;
    }
    location.hash = link(route.org, 'audit', undefined, params);
  });
  const older: Record<string, string> = {};
  for (const f of FILTERS) {
    const v = route.params.get(f);
    if (v) older[f] = v;
  }
  if (next_until) older.until = next_until;
  page.append(
    h('h1', {}, 'Audit log'),
    form,
    h('p', { role: 'status' }, `${events.length} event(s)${scanned_all ? '' : ' (the most recent in this window)'}.`),
    table(
      'Audit events, newest first',
      ['Time', 'Action', 'Outcome', 'Reason', 'Actor', 'Correlation ID', 'Details'],
      events.map((e) => [
        date(e.at),
        e.action,
        h('span', { class: `outcome outcome-${e.outcome}` }, e.outcome),
        e.reason ?? '',
        e.actor,
        h('a', { href: link(route.org, 'audit', undefined, { correlation_id: e.correlation_id }), title: 'Only this request' }, h('code', {}, e.correlation_id)),
        details(e),
      ]),
    ),
    next_until ? h('p', {}, h('a', { href: link(route.org, 'audit', undefined, older), id: 'older-events' }, 'Older events')) : '',
  );
}

function details(e: AuditEvent): HTMLElement | string {
  const entries = Object.entries(e.facts ?? {});
  if (e.count !== undefined) entries.unshift(['anonymous failures in this minute', String(e.count)]);
  if (e.credential_id) entries.unshift(['credential', e.credential_id]);
  if (entries.length === 0) return '';
  return h('ul', { class: 'facts-inline' }, ...entries.map(([k, v]) => h('li', {}, `${k}: `, h('code', {}, v))));
}
