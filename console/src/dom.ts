// A tiny element builder. Every text goes through textContent and every attribute through
// setAttribute: the console never writes HTML from strings (no innerHTML anywhere), so
// nothing the API returns (an IdP's entity ID, an audit fact) can become markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, ''), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A labelled form field: the label's `for` names the control, so every control has a name. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  const hintId = hint ? `${control.id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
  );
}

export function input(id: string, attrs: Attrs = {}): HTMLInputElement {
  return h('input', { id, name: id, type: 'text', ...attrs });
}

export function select(id: string, options: [string, string][], value?: string): HTMLSelectElement {
  const el = h('select', { id, name: id });
  for (const [v, label] of options) {
    el.append(h('option', { value: v, selected: v === value }, label));
  }
  return el;
}

export function textarea(id: string, value = '', attrs: Attrs = {}): HTMLTextAreaElement {
  const el = h('textarea', { id, name: id, rows: 4, ...attrs });
  el.value = value;
  return el;
}

export function checkbox(id: string, label: string, checked: boolean): HTMLElement {
  return h(
    'div',
    { class: 'check' },
    h('input', { id, name: id, type: 'checkbox', checked }),
    h('label', { for: id }, label),
  );
}

/** A definition list of label → value pairs; values are text or nodes. */
export function facts(rows: [string, Child][]): HTMLDListElement {
  return h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

export function table(caption: string, headers: string[], rows: Child[][]): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, `${caption}: none yet.`);
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
  );
}

/** Announces a message to screen readers and shows it in `where` (an alert for errors). */
export function notice(where: HTMLElement, kind: 'ok' | 'error', text: string): void {
  where.replaceChildren(
    h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text),
  );
}

export function formValue(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name);
  if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement) {
    return el.value.trim();
  }
  return '';
}

export function formChecked(form: HTMLFormElement, name: string): boolean {
  const el = form.elements.namedItem(name);
  return el instanceof HTMLInputElement && el.checked;
}

export function date(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function daysUntil(iso: string, now = Date.now()): number {
  return Math.floor((new Date(iso).getTime() - now) / 86_400_000);
}

// A message for the next render of a page (after an action that re-renders it).
let flash: string | null = null;
export function setFlash(text: string): void {
  flash = text;
}
export function takeFlash(where: HTMLElement): void {
  if (flash) notice(where, 'ok', flash);
  flash = null;
}
