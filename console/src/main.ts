// The console's shell: a hash router (#/o/{org}/{section}[/{item}]), the navigation, and focus
// management so that keyboard and screen-reader users land on each page's heading.

import './style.css';
import { describeError } from './api';
import { h } from './dom';
import { overview } from './pages/overview';
import { idps, idpDetail } from './pages/idps';
import { credentials } from './pages/credentials';
import { rotation } from './pages/rotation';
import { audit } from './pages/audit';
import { setup } from './pages/setup';
import { link, ORG_ID, parse } from './route';
import { completeSignIn, signedIn, signIn, signOut } from './signin';
import { loadConfig } from './config';

const SECTIONS: [string, string][] = [
  ['overview', 'Overview'],
  ['idps', 'Identity providers'],
  ['credentials', 'Credentials'],
  ['rotation', 'Key rotation'],
  ['audit', 'Audit log'],
];

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const orgLabel = document.getElementById('org-label') as HTMLElement;
const accountSlot = document.getElementById('account') as HTMLElement;

function chooseOrg(): void {
  nav.replaceChildren();
  orgLabel.textContent = '';
  accountSlot.replaceChildren();
  const id = h('input', { id: 'org', name: 'org', required: true, pattern: '[a-z][a-z0-9\\-]{0,31}', maxlength: 32, autocomplete: 'off' });
  const form = h(
    'form',
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        const org = id.value.trim();
        if (ORG_ID.test(org)) location.hash = link(org, 'overview');
        else id.setAttribute('aria-invalid', 'true');
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'org' }, 'Organisation ID'), id),
    h('button', { type: 'submit' }, 'Open'),
  );
  main.replaceChildren(h('h1', {}, 'samlgate console'), form);
}

/** Renders the page the hash names; after navigation (not on first load, so that the skip link
 * stays the first stop) focus moves to the new content. */
let generation = 0;

async function render(moveFocus: boolean): Promise<void> {
  // `data-rendered` names the hash whose page is complete (tests and tools wait for it). Only
  // the latest render may finish: an older one that completes late changes nothing.
  const mine = ++generation;
  const current = () => mine === generation;
  const hash = location.hash;
  delete document.body.dataset.rendered;
  const route = parse(hash);
  if (!route) {
    chooseOrg();
    document.body.dataset.rendered = hash;
    return;
  }
  orgLabel.textContent = `Organisation: ${route.org}`;
  accountSlot.replaceChildren(account(route.org));
  nav.replaceChildren(
    h(
      'ul',
      {},
      ...SECTIONS.map(([section, label]) =>
        h(
          'li',
          {},
          h('a', { href: link(route.org, section), 'aria-current': section === route.section ? 'page' : null }, label),
        ),
      ),
    ),
  );
  // Each render fills its own container, which is on the page only while it is the latest.
  const page = h('div', { class: 'page' });
  main.replaceChildren(page);
  main.setAttribute('aria-busy', 'true');
  try {
    switch (route.section) {
      case 'overview':
        await overview(page, route);
        break;
      case 'idps':
        await (route.item ? idpDetail(page, route, route.item) : idps(page, route));
        break;
      case 'credentials':
        await credentials(page, route);
        break;
      case 'rotation':
        await rotation(page, route);
        break;
      case 'audit':
        await audit(page, route);
        break;
      case 'setup':
        await setup(page, route, route.item ?? '');
        break;
      default:
        page.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'There is no such section.'));
    }
  } catch (e) {
    page.append(h('p', { class: 'notice error', role: 'alert' }, `Could not load this page: ${describeError(e)}`));
  }
  if (!current()) return;
  main.removeAttribute('aria-busy');
  const heading = main.querySelector('h1');
  document.title = `${heading?.textContent ?? 'samlgate'} · samlgate console`;
  if (moveFocus) main.focus();
  document.body.dataset.rendered = hash;
}

/** Sign in through the organisation's own IdP, or sign out of this tab's session. */
function account(org: string): HTMLElement {
  return signedIn(org)
    ? h('button', { type: 'button', id: 'sign-out', class: 'link', onclick: () => void signOut(org) }, 'Sign out')
    : h('button', { type: 'button', id: 'sign-in', class: 'link', onclick: () => void signIn(org) }, 'Sign in with your IdP');
}

// Only hashes of the router's own shape (`#/o/…`, or none) are pages; any other fragment is
// an in-page anchor.
window.addEventListener('hashchange', () => {
  if (location.hash === '' || location.hash.startsWith('#/')) void render(true);
});
// The skip link moves focus to the content without touching the URL (the router owns it).
document.querySelector('.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
// The end of a console sign-in comes back as /console/?code=…&state=…
loadConfig()
  .then(completeSignIn)
  .then((org) => {
    if (org) location.hash = link(org, 'overview');
    void render(false);
  })
  .catch((e: unknown) => {
    void render(false).then(() =>
      main.prepend(h('p', { class: 'notice error', role: 'alert', id: 'sign-in-refused' }, `Sign-in failed: ${describeError(e)}`)),
    );
  });
