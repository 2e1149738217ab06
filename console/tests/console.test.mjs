// The admin console in a real browser (Debian's Chromium, headless, driven by playwright-core)
// against `samlgate dev` over moto: scripts/dev --browser starts both and runs this file.
//
// The path of the issue: add an IdP from its metadata URL, sign in through it at the demo IdP,
// store a credential whose value is a random canary while every request the browser makes is
// recorded, provision it to a local target, and see the canary arrive there and nowhere in what
// the browser sent. Every page is checked with axe-core (no serious or critical violations),
// every page is reachable from the keyboard, no page logs an error (a CSP violation included),
// and each main page is saved as a screenshot for the README.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.SAMLGATE_URL;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOTS ?? path.resolve('target/console');
const ORG = 'demo';
assert.ok(BASE, 'SAMLGATE_URL is not set: run scripts/dev --browser');

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// A canary in the shapes a leak could take: as typed, and base64 of it (a page that "encoded"
// the value instead of encrypting it would send that).
const CANARY = `canary-${randomBytes(16).toString('hex')}`;
const CANARY_FORMS = [CANARY, Buffer.from(CANARY).toString('base64'), encodeURIComponent(CANARY)];

let browser;
let context;
let page;
let target;
const sent = []; // every request the browser made: { url, method, headers, body }
const pending = [];
const problems = []; // console errors and page errors
// Requests the test makes fail on purpose: the browser logs their status as a console error.
const expectedFailures = new Set();

/** A provisioning target on loopback that records what it receives. */
function startTarget() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}/api/v1/keys` }));
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  target = await startTarget();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  context.on('request', (request) => {
    pending.push(
      request.allHeaders().then((headers) => {
        sent.push({ url: request.url(), method: request.method(), headers, body: request.postDataBuffer()?.toString('latin1') ?? '' });
      }),
    );
  });
  context.on('page', (p) => watch(p));
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  target?.server.close();
});

function watch(p) {
  p.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (m.text().startsWith('Failed to load resource') && expectedFailures.has(m.location().url)) return;
    problems.push(`${p.url()}: ${m.text()} (${m.location().url})`);
  });
  p.on('pageerror', (e) => problems.push(`${p.url()}: ${e.message}`));
}

/** Waits until the console has finished rendering the page its URL names. */
async function rendered(p = page) {
  await p.waitForFunction(() => document.body.dataset.rendered === location.hash);
}

/** A fresh load of a console page (a goto to the same URL and hash would not reload it). */
async function open(hash) {
  await page.goto('about:blank');
  await page.goto(`${BASE}/console/${hash}`);
  await rendered();
  await page.locator('main h1').first().waitFor();
}

/** axe-core on the current page: no serious or critical violations. */
async function accessible(name) {
  // Through the DevTools protocol: the page's CSP refuses inline script tags, as it should.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${name}: accessibility violations ${JSON.stringify(bad)}`);
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

test('the console works end to end, and the canary never leaves the page in the clear', async (t) => {
  await t.test('overview', async () => {
    await open(`#/o/${ORG}`);
    assert.equal(await page.locator('main h1').textContent(), 'Demo organisation');
    assert.match(await page.locator('main').textContent(), /127\.0\.0\.1/);
    await accessible('overview');
    await shot('overview');
  });

  await t.test('the navigation is usable from the keyboard alone', async () => {
    await open(`#/o/${ORG}`);
    // Tab from the top of a freshly loaded page: the skip link first, then every section link
    // in order.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    // The skip link moves focus to the content and leaves the page where it is.
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
    assert.equal(await page.locator('main h1').textContent(), 'Demo organisation');
    assert.ok(page.url().endsWith(`#/o/${ORG}`), page.url());
    await open(`#/o/${ORG}`);
    await page.keyboard.press('Tab');
    const seen = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      seen.push(await page.evaluate(() => document.activeElement?.textContent));
    }
    assert.deepEqual(seen, ['Overview', 'Identity providers', 'Credentials', 'Key rotation', 'Audit log']);
    // Enter follows the focused link, and focus moves to the new page's content.
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash.endsWith('/audit'));
    await rendered();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  });

  await t.test('add an IdP from its metadata URL', async () => {
    await open(`#/o/${ORG}/idps`);
    await page.getByLabel('IdP ID').fill('demo-metadata');
    await page.getByLabel('Metadata URL', { exact: true }).fill(`${BASE}/demo-idp/metadata`);
    await page.getByRole('button', { name: 'Add identity provider' }).click();
    await page.waitForFunction(() => location.hash.endsWith('/idps/demo-metadata'));
    await rendered();
    await page.getByRole('heading', { name: 'Identity provider demo-metadata' }).waitFor();
    assert.equal(await page.getByLabel('ACS URL (HTTP-POST)').inputValue(), `${BASE}/o/${ORG}/idp/demo-metadata/acs`);
    assert.equal(await page.getByLabel('SP metadata URL').inputValue(), `${BASE}/o/${ORG}/idp/demo-metadata/metadata`);
    assert.match(await page.locator('main').textContent(), new RegExp(`${BASE}/demo-idp/metadata`.replace(/[.]/g, '\\.')));
    await accessible('idp');
    await shot('idp');
    // A refused registration says why and adds nothing.
    expectedFailures.add(`${BASE}/admin/orgs/${ORG}/idps`);
    await open(`#/o/${ORG}/idps`);
    await page.getByLabel('IdP ID').fill('broken');
    await page.getByLabel('Metadata URL', { exact: true }).fill(`${BASE}/no-such-metadata`);
    await page.getByRole('button', { name: 'Add identity provider' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /metadata_fetch_failed|metadata_invalid/);
    expectedFailures.delete(`${BASE}/admin/orgs/${ORG}/idps`);
    await open(`#/o/${ORG}/idps`);
    assert.equal(await page.locator('main table tbody tr').count(), 2);
    await accessible('idps');
    await shot('idps');
  });

  await t.test('an IdP on unsigned metadata shows the certificates waiting for approval, and its algorithm exceptions', async () => {
    // The daily refresh (rotate) is not part of the dev server: the API's answer is given one
    // held certificate here, and the decision the console sends is checked on the wire.
    const idpUrl = `${BASE}/admin/orgs/${ORG}/idps/demo-metadata`;
    const fingerprint = 'ab'.repeat(32);
    const decisions = [];
    await page.route(idpUrl, async (route) => {
      const answer = await (await route.fetch()).json();
      assert.equal(answer.unsigned_metadata, true, 'registered by URL, no metadata signer');
      answer.pending_certificates = [{ fingerprint, not_after: '2030-01-01T00:00:00Z' }];
      answer.settings.algorithm_exceptions = ['rsa-sha1', 'sha1'];
      await route.fulfill({ json: answer });
    });
    await page.route(`${idpUrl}/pending-certificates/**`, async (route) => {
      decisions.push(`${route.request().method()} ${new URL(route.request().url()).pathname}`);
      await route.fulfill({ json: {} });
    });
    try {
      await open(`#/o/${ORG}/idps/demo-metadata`);
      const main = await page.locator('main').textContent();
      assert.match(main, /unsigned: new signing certificates in it wait for your approval/);
      // Its algorithm exceptions are a warning, with the last sign-in that needed one (none).
      assert.match(await page.locator('#algorithm-exceptions').textContent(), /may use rsa-sha1, sha1.*No sign-in in the recent audit log needed one/);
      const section = page.locator('#pending-certificates');
      assert.match(await section.textContent(), new RegExp(fingerprint));
      await accessible('idp-pending-certificates');
      const decided = (method) => page.waitForRequest((r) => r.method() === method && r.url().includes('/pending-certificates/'));
      let sentDecision = decided('POST');
      await section.getByRole('button', { name: 'Approve' }).click();
      await sentDecision;
      await open(`#/o/${ORG}/idps/demo-metadata`);
      sentDecision = decided('DELETE');
      await page.locator('#pending-certificates').getByRole('button', { name: 'Reject' }).click();
      await sentDecision;
      for (let i = 0; i < 100 && decisions.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(decisions, [
        `POST /admin/orgs/${ORG}/idps/demo-metadata/pending-certificates/${fingerprint}/approve`,
        `DELETE /admin/orgs/${ORG}/idps/demo-metadata/pending-certificates/${fingerprint}`,
      ]);
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
    await open(`#/o/${ORG}/idps`);
    assert.match(await page.locator('main table').textContent(), /demo-idp\/metadata\), unsigned/);
  });

  await t.test('edit the attribute mapping and match rules', async () => {
    await open(`#/o/${ORG}/idps/demo-metadata`);
    await page.getByLabel('Email').fill('email');
    await page.getByLabel('Name', { exact: true }).fill('displayName');
    await page.getByLabel('Groups').fill('groups');
    await page.getByLabel('Required group').fill('staff');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved.').waitFor();
    const stored = await page.evaluate(async (org) => (await fetch(`/admin/orgs/${org}/idps/demo-metadata`)).json(), ORG);
    assert.deepEqual(stored.settings.mapping, { subject: null, email: 'email', name: 'displayName', groups: 'groups' });
    assert.equal(stored.settings.rules.required_group, 'staff');
  });

  await t.test('test sign-in through the demo IdP shows the identity and issues nothing', async () => {
    await open(`#/o/${ORG}/idps/demo-metadata`);
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Test sign-in' }).click()]);
    await popup.waitForLoadState();
    assert.equal(new URL(popup.url()).pathname, '/demo-idp/sso');
    await popup.getByRole('button', { name: /Sign in as Alice/ }).click();
    await popup.getByRole('heading', { name: 'Test sign-in succeeded' }).waitFor();
    const rows = async (id) =>
      Object.fromEntries(
        await popup.locator(`#${id} tr`).evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])),
      );
    const claims = await rows('claims');
    assert.equal(claims.idp, 'demo-metadata');
    assert.equal(claims.email, 'alice@demo.samlgate.test');
    assert.ok(claims.sub.startsWith('demo-metadata:'), claims.sub);
    assert.ok(claims.groups.split(', ').includes('staff'));
    const asserted = await rows('assertion');
    assert.equal(asserted['Response signed'] === 'yes' || asserted['Assertion signed'] === 'yes', true);
    assert.ok(Object.keys(asserted).some((k) => k.startsWith('attribute ')), JSON.stringify(asserted));
    // Nothing was issued: the page carries no code or token, and samlgate set no session.
    assert.ok(!new URL(popup.url()).searchParams.has('code'));
    const events = await page.evaluate(async (org) => (await fetch(`/admin/orgs/${org}/audit?action=sso.login`)).json(), ORG);
    const last = events.events[0];
    assert.ok(last, JSON.stringify(events));
    assert.equal(last.facts.test, 'true');
    assert.equal(last.facts.session_id, undefined);
    await popup.close();
  });

  await t.test('a test sign-in that fails shows the admin the reason, what arrived and what was expected', async () => {
    await open(`#/o/${ORG}/idps/demo-metadata`);
    const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', { name: 'Test sign-in' }).click()]);
    await popup.waitForLoadState();
    // A deliberately wrong setting at the IdP: the audience it asserts.
    await popup.evaluate(() => {
      for (const input of document.querySelectorAll('input[name="sp_entity_id"]')) input.value = 'https://wrong.example/sp';
    });
    expectedFailures.add(`${BASE}/o/${ORG}/idp/demo-metadata/acs`);
    await popup.getByRole('button', { name: /Sign in as Alice/ }).click();
    await popup.getByRole('heading', { name: 'Test sign-in failed' }).waitFor();
    assert.equal(await popup.locator('#reason').textContent(), 'audience_mismatch');
    assert.match(await popup.locator('#received').textContent(), /https:\/\/wrong\.example\/sp/);
    const expected = await popup.locator('#expected').textContent();
    assert.ok(expected.includes(`${BASE}/o/${ORG}/idp/demo-metadata/metadata`), expected);
    await popup.screenshot({ path: path.join(SHOTS, 'test-sign-in-failed.png'), fullPage: true });
    await popup.close();
    // The same failure without admin's diagnostic ticket (a forged one here): anyone can start
    // a test sign-in, and they get the generic page, the reason only in the audit log.
    const stranger = await context.newPage();
    await stranger.goto(`${BASE}/o/${ORG}/login?idp=demo-metadata&diagnostics=${'0'.repeat(64)}`);
    await stranger.evaluate(() => {
      for (const input of document.querySelectorAll('input[name="sp_entity_id"]')) input.value = 'https://wrong.example/sp';
    });
    await stranger.getByRole('button', { name: /Sign in as Alice/ }).click();
    await stranger.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
    assert.ok(!(await stranger.content()).includes('audience_mismatch'));
    await stranger.close();
  });

  await t.test('per-vendor guides put this IdP\'s values where the vendor asks for them', async () => {
    await open(`#/o/${ORG}/idps/demo-metadata`);
    const vendors = await page.locator('#guide-vendor option').allTextContents();
    for (const name of ['Okta', 'Microsoft Entra ID', 'Google Workspace', 'AD FS', 'Keycloak', 'Shibboleth IdP', 'PingFederate / PingOne', 'OneLogin', 'JumpCloud', 'Auth0']) {
      assert.ok(vendors.includes(name), `${name} in ${vendors}`);
    }
    await page.getByLabel('IdP product').selectOption({ label: 'AD FS' });
    const guide = page.locator('#guide');
    assert.equal(await guide.getByRole('textbox').first().inputValue(), `${BASE}/o/${ORG}/idp/demo-metadata/metadata`);
    assert.match(await guide.textContent(), /SamlResponseSignature MessageAndAssertion/);
    await page.getByLabel('IdP product').selectOption({ label: 'Keycloak' });
    assert.match(await guide.textContent(), /Include AuthnStatement/);
    const values = await guide.getByRole('textbox').evaluateAll((els) => els.map((e) => e.value));
    assert.ok(values.includes(`${BASE}/o/${ORG}/idp/demo-metadata/acs`), values.join(' '));
    await accessible('IdP guide');
    await page.locator('#guides').screenshot({ path: path.join(SHOTS, 'idp-guide.png') });
  });

  let credentialId;
  await t.test('store a credential: only ciphertext leaves the page', async () => {
    await open(`#/o/${ORG}/credentials`);
    await page.getByLabel('Name', { exact: true }).fill('okta-admin-token');
    await page.getByLabel('Description').fill('Okta API token that uploads SP certificates');
    await page.getByLabel('URL', { exact: true }).fill(target.url);
    await page.getByLabel('The secret goes into').selectOption('ssws');
    await page.getByLabel('JSON body (optional)').fill('{"kty": "RSA", "use": "sig"}');
    await page.getByLabel('Value', { exact: true }).fill(CANARY);
    // Hold the POST until the field has been looked at: it must be empty while its ciphertext
    // is on the way (the page re-renders only after the answer).
    let fieldWhilePosting;
    const credentialsUrl = `${BASE}/admin/orgs/${ORG}/credentials`;
    await page.route(credentialsUrl, async (route) => {
      if (route.request().method() === 'POST') {
        fieldWhilePosting = await page.evaluate(() => document.getElementById('credential-secret')?.value);
      }
      await route.continue();
    });
    const [posted] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url() === credentialsUrl),
      page.getByRole('button', { name: 'Encrypt and store' }).click(),
    ]);
    await page.getByText(/Stored okta-admin-token/).waitFor();
    await page.unroute(credentialsUrl);
    assert.equal(fieldWhilePosting, '', 'the value field is cleared before the ciphertext is sent');
    // What was posted is an ESDK message (version 2, committing suite) to the intake key.
    const body = posted.postDataJSON();
    const message = Buffer.from(body.ciphertext, 'base64');
    assert.equal(message[0], 0x02, 'ESDK message format version 2');
    assert.equal(message.readUInt16BE(1), 0x0578, 'AES-256-GCM, HKDF-SHA512, commitment, ECDSA P-384');
    assert.equal(body.name, 'okta-admin-token');
    // The list shows metadata only.
    const row = page.locator('main table tbody tr', { hasText: 'okta-admin-token' });
    await row.waitFor();
    assert.match(await row.textContent(), /api_token/);
    const list = await page.evaluate(async (org) => (await fetch(`/admin/orgs/${org}/credentials`)).json(), ORG);
    credentialId = list.credentials.find((c) => c.name === 'okta-admin-token').id;
    assert.ok(credentialId);
    await accessible('credentials');
    await shot('credentials');
  });

  await t.test('provision it: the canary arrives at the target', async () => {
    await open(`#/o/${ORG}/credentials`);
    await page.getByRole('button', { name: 'Provision okta-admin-token' }).click();
    await page.getByText(/Provisioned okta-admin-token: the target answered 204/).waitFor();
    assert.equal(target.received.length, 1);
    const got = target.received[0];
    assert.equal(got.headers.authorization, `SSWS ${CANARY}`);
    assert.equal(got.body, '{"kty":"RSA","use":"sig"}');
  });

  await t.test('replace the value, then delete', async () => {
    const second = `${CANARY}-v2`;
    await open(`#/o/${ORG}/credentials`);
    await page.locator('main details summary').first().click();
    await page.getByLabel('New value for okta-admin-token').fill(second);
    await page.getByRole('button', { name: 'Encrypt and replace' }).click();
    await page.getByText('okta-admin-token is now at version 2.').waitFor();
    await page.getByRole('button', { name: 'Provision okta-admin-token' }).click();
    await page.getByText(/Provisioned okta-admin-token/).waitFor();
    assert.equal(target.received.at(-1).headers.authorization, `SSWS ${second}`);
    // Store a throwaway one and delete it from the list.
    await page.getByLabel('Name', { exact: true }).fill('throwaway');
    await page.getByLabel('URL', { exact: true }).fill(target.url);
    await page.getByLabel('Value', { exact: true }).fill(`${CANARY}-throwaway`);
    await page.getByRole('button', { name: 'Encrypt and store' }).click();
    await page.getByText(/Stored throwaway/).waitFor();
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete throwaway' }).click();
    await page.getByText('Deleted throwaway.').waitFor();
    assert.equal(await page.locator('main table tbody tr', { hasText: 'throwaway' }).count(), 0);
  });

  await t.test('key rotation status shows every certificate and token key with its expiry', async () => {
    await open(`#/o/${ORG}/rotation`);
    const rows = page.locator('main table.timeline tbody tr');
    // Two IdPs, each with a signing and an encryption SP key and one IdP certificate, and the
    // organisation's two token keys (ES256, RS256).
    assert.equal(await rows.count(), 8);
    assert.equal(await rows.filter({ hasText: /Token key (ES256|RS256)/ }).count(), 2);
    assert.match(await page.locator('main').textContent(), /New SP key every365 days/);
    await accessible('rotation');
    await shot('rotation');
  });

  await t.test('the audit log filters, and links requests by correlation ID', async () => {
    await open(`#/o/${ORG}/audit`);
    await page.getByLabel('Action starts with').fill('credential.provision');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() => location.hash.includes('action=credential.provision'));
    await rendered();
    const actions = await page.locator('main table tbody tr td:nth-child(2)').allTextContents();
    assert.ok(actions.length >= 2 && actions.every((a) => a.startsWith('credential.provision')), actions.join());
    // One request's correlation ID shows its every step (the KMS decrypts of provisioning).
    await page.locator('main table tbody tr td:nth-child(6) a').first().click();
    await page.waitForFunction(() => location.hash.includes('correlation_id='));
    await rendered();
    // Who asked (admin, as the console's caller), then what provision did.
    const steps = await page.locator('main table tbody tr td:nth-child(2)').allTextContents();
    for (const step of ['credential.provision_request', 'kms.decrypt', 'credential.provision']) {
      assert.ok(steps.includes(step), `${step} not in ${steps.join()}`);
    }
    const actors = await page.locator('main table tbody tr td:nth-child(5)').allTextContents();
    assert.ok(actors.includes('local-dev') && actors.includes('provision'), actors.join());
    await open(`#/o/${ORG}/audit`);
    await page.getByLabel('Outcome').selectOption('error');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() => location.hash.includes('outcome=error'));
    await rendered();
    // The refused IdP registration at least.
    const outcomes = await page.locator('main table tbody tr td:nth-child(3)').allTextContents();
    assert.ok(outcomes.length >= 1 && outcomes.every((o) => o === 'error'), outcomes.join());
    // Junk posted to the ACS is counted, one row a minute per IdP and reason (issue 17 §4).
    const acs = `${BASE}/o/${ORG}/idp/demo-metadata/acs`;
    expectedFailures.add(acs);
    const statuses = await page.evaluate(async (url) => {
      const out = [];
      for (let i = 0; i < 5; i++) {
        const r = await fetch(url, { method: 'POST', body: new URLSearchParams({ SAMLResponse: 'PGp1bms+' }) });
        out.push(r.status);
      }
      return out;
    }, acs);
    assert.deepEqual(statuses, [400, 400, 400, 400, 400]);
    await open(`#/o/${ORG}/audit?reason=unsolicited_not_allowed`);
    const rows = page.locator('main table tbody tr');
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().textContent(), /anonymous failures in this minute: 5/);
    // The window: nothing before 2000.
    await open(`#/o/${ORG}/audit?until=2000-01-01T00:00:00Z`);
    assert.match(await page.locator('main').getByRole('status').first().textContent(), /^0 event/);
    await open(`#/o/${ORG}/audit`);
    await accessible('audit');
    await shot('audit');
  });

  await t.test('the canary never appeared in any request the browser made', async () => {
    await Promise.all(pending);
    assert.ok(sent.length > 30, `only ${sent.length} requests recorded`);
    const credentialPosts = sent.filter((r) => r.url.includes('/credentials') && r.method !== 'GET');
    assert.ok(credentialPosts.length >= 3, 'the credential requests were recorded');
    for (const r of sent) {
      const haystack = [r.url, JSON.stringify(r.headers), r.body].join('\n');
      for (const form of CANARY_FORMS) {
        assert.ok(!haystack.includes(form), `the canary left the page in ${r.method} ${r.url}`);
      }
    }
    // The browser never talked to the target itself (only provisioning did), and the console
    // loads nothing from anywhere but samlgate: no CDN, no fonts, no analytics.
    const origin = new URL(BASE).origin;
    const elsewhere = sent.filter((r) => !r.url.startsWith(`${origin}/`) && !r.url.startsWith('data:'));
    assert.deepEqual(elsewhere.map((r) => r.url), []);
  });

  await t.test('no page logged an error (CSP violations included)', () => {
    assert.deepEqual(problems, []);
  });
});

// A browser-based (public) OIDC client runs on its own origin: Chromium's CORS enforcement,
// not ours, decides what its scripts may read. A blank page served from another port stands in
// for the client's origin.
async function setupLink(scopes) {
  const answer = await fetch(`${BASE}/admin/orgs/${ORG}/setup-links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scopes, ttl_secs: 600 }),
  });
  assert.equal(answer.status, 201);
  return answer.json();
}

// The customer's IT admin: an operator's setup link opens the console once, with a session for
// the link's organisation and scopes, kept in that tab only.
test('a setup link opens the console once, for its organisation and scopes only', async () => {
  const created = await setupLink(['sso']);
  assert.ok(created.url.startsWith(`${BASE}/console/#/o/${ORG}/setup/sl-`), created.url);
  const secret = created.url.split('.').pop();
  const ctx = await browser.newContext();
  try {
    const seen = [];
    ctx.on('request', (r) => seen.push(r));
    const p = await ctx.newPage();
    await p.goto(created.url);
    await p.waitForFunction(() => location.hash === '#/o/demo/idps' && document.body.dataset.rendered === location.hash);
    assert.ok(!(await p.evaluate(() => location.href)).includes(secret), 'the link left the address bar');
    await p.getByRole('link', { name: 'demo', exact: true }).first().waitFor();
    // Everything went through the console API with the session, nothing to the admin API.
    const paths = seen.map((r) => new URL(r.url()).pathname);
    assert.ok(!paths.some((path) => path.startsWith('/admin/')), paths.join(' '));
    const idpCalls = seen.filter((r) => new URL(r.url()).pathname === '/console-api/orgs/demo/idps');
    assert.ok(idpCalls.length > 0, paths.join(' '));
    for (const call of idpCalls) assert.match((await call.allHeaders()).authorization ?? '', /^Bearer [0-9a-f]{64}$/);
    // The session reaches neither another scope nor another organisation.
    const statuses = await p.evaluate(async () => {
      const token = sessionStorage.getItem('samlgate-session:demo');
      const get = async (url) => (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status;
      return { credentials: await get('/console-api/orgs/demo/credentials'), other: await get('/console-api/orgs/other/idps') };
    });
    assert.deepEqual(statuses, { credentials: 403, other: 401 });
    // Once only: a second opening says so.
    const again = await ctx.newPage();
    await again.goto(created.url);
    await again.locator('#setup-refused').waitFor();
    assert.equal(await again.locator('#setup-refused').getAttribute('data-code'), 'setup_link_used');
    assert.equal(await again.locator('main h1').textContent(), 'This setup link has already been used.');
    // A revoked link.
    const revoked = await setupLink(['sso', 'credentials']);
    const gone = await fetch(`${BASE}/admin/orgs/${ORG}/setup-links/${revoked.id}`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal((await gone.json()).state, 'revoked');
    const third = await ctx.newPage();
    await third.goto(revoked.url);
    await third.locator('#setup-refused').waitFor();
    assert.equal(await third.locator('#setup-refused').getAttribute('data-code'), 'setup_link_revoked');
    await third.screenshot({ path: path.join(SHOTS, 'setup-link-revoked.png'), fullPage: true });
  } finally {
    await ctx.close();
  }
});

// Issue 14's "done": from a setup link to a working, tested IdP connection and a stored,
// provisioned credential, every call through the console API with the link's session.
test('a customer\'s IT admin goes from a setup link to a tested IdP and a provisioned credential', async () => {
  const created = await setupLink(['sso', 'credentials']);
  const ctx = await browser.newContext();
  const canary = `canary-${randomBytes(16).toString('hex')}`;
  try {
    const seen = [];
    ctx.on('request', (r) => seen.push(r));
    const p = await ctx.newPage();
    const done = () => p.waitForFunction(() => document.body.dataset.rendered === location.hash);
    await p.goto(created.url);
    await p.waitForFunction(() => location.hash === '#/o/demo/idps' && document.body.dataset.rendered === location.hash);
    // The IdP wizard: the demo IdP by its metadata URL.
    await p.getByLabel('IdP ID').fill('customer-idp');
    await p.getByLabel('Metadata URL', { exact: true }).fill(`${BASE}/demo-idp/metadata`);
    await p.getByRole('button', { name: 'Add identity provider' }).click();
    await p.waitForFunction(() => location.hash.endsWith('/idps/customer-idp'));
    await done();
    // A test sign-in through it works.
    const [popup] = await Promise.all([ctx.waitForEvent('page'), p.getByRole('button', { name: 'Test sign-in' }).click()]);
    await popup.waitForLoadState();
    await popup.getByRole('button', { name: /Sign in as Alice/ }).click();
    await popup.getByRole('heading', { name: 'Test sign-in succeeded' }).waitFor();
    await popup.close();
    // A credential, encrypted in the page, then provisioned to the target.
    await p.goto(`${BASE}/console/#/o/demo/credentials`);
    await done();
    await p.getByLabel('Name', { exact: true }).fill('customer-token');
    await p.getByLabel('URL', { exact: true }).fill(target.url);
    await p.getByLabel('The secret goes into').selectOption('ssws');
    await p.getByLabel('Value', { exact: true }).fill(canary);
    await p.getByRole('button', { name: 'Encrypt and store' }).click();
    await p.getByText(/Stored customer-token/).waitFor();
    const before = target.received.length;
    await p.getByRole('button', { name: 'Provision customer-token' }).click();
    await p.getByText(/Provisioned customer-token: the target answered 204/).waitFor();
    assert.equal(target.received.length, before + 1);
    assert.equal(target.received.at(-1).headers.authorization, `SSWS ${canary}`);
    // Every call went through the console API with the session; none to the admin API; the
    // canary left the page only encrypted.
    const paths = seen.map((r) => new URL(r.url()));
    assert.ok(!paths.some((u) => u.origin === BASE && u.pathname.startsWith('/admin/')), paths.map((u) => u.pathname).join(' '));
    for (const r of seen.filter((r) => new URL(r.url()).pathname.startsWith('/console-api/orgs/demo/') && !r.url().endsWith('/setup/exchange'))) {
      assert.match((await r.allHeaders()).authorization ?? '', /^Bearer [0-9a-f]{64}$/, r.url());
    }
    for (const r of seen) {
      const body = r.postDataBuffer()?.toString('latin1') ?? '';
      assert.ok(!r.url().includes(canary) && !body.includes(canary), `the canary in ${r.url()}`);
    }
    // The audit log names the session as the actor of the IdP and the credential.
    const audit = await (await fetch(`${BASE}/admin/orgs/${ORG}/audit?action=idp.register&limit=1`)).json();
    assert.equal(audit.events[0]?.actor, `setup:${created.id}`);
  } finally {
    await ctx.close();
  }
});

// Once the organisation's IdP works, its admins sign in to the console through samlgate: the
// console is the public OIDC client samlgate-console (code + PKCE), and admin turns the ID token
// of a member of the organisation's admin_group (the dev server sets "admins") into a session.
test('an organisation admin signs in to the console through samlgate; others cannot', async () => {
  const ctx = await browser.newContext();
  try {
    const p = await ctx.newPage();
    const signInAs = async (user) => {
      await p.goto(`${BASE}/console/#/o/${ORG}/overview`);
      await p.waitForFunction(() => document.body.dataset.rendered === location.hash);
      await p.getByRole('button', { name: 'Sign in with your IdP' }).click();
      await p.waitForURL(/\/demo-idp\/sso/);
      await p.getByRole('button', { name: new RegExp(`Sign in as ${user}`) }).click();
    };
    // Bob is staff, not admins: refused at admin, no session.
    await signInAs('Bob');
    await p.locator('#sign-in-refused').waitFor();
    assert.match(await p.locator('#sign-in-refused').textContent(), /not_an_org_admin/);
    assert.equal(await p.evaluate(() => sessionStorage.getItem('samlgate-session:demo')), null);
    // Alice is in admins.
    const seen = [];
    ctx.on('request', (r) => seen.push(r));
    await signInAs('Alice');
    await p.waitForFunction(() => location.hash === '#/o/demo/overview' && document.body.dataset.rendered === location.hash);
    assert.equal(new URL(p.url()).search, '', 'the code left the address bar');
    await p.getByRole('button', { name: 'Sign out' }).waitFor();
    const calls = seen.filter((r) => new URL(r.url()).pathname.startsWith('/console-api/orgs/demo/idps'));
    assert.ok(calls.length > 0, seen.map((r) => r.url()).join(' '));
    for (const call of calls) assert.match((await call.allHeaders()).authorization ?? '', /^Bearer [0-9a-f]{64}$/);
    // The session is the organisation's only.
    const other = await p.evaluate(async () => {
      const token = sessionStorage.getItem('samlgate-session:demo');
      return (await fetch('/console-api/orgs/other/idps', { headers: { authorization: `Bearer ${token}` } })).status;
    });
    assert.equal(other, 401);
    // Sign out: the tab forgets the session, samlgate ends its own (RP-initiated logout), and
    // the browser comes back to the console.
    const token = await p.evaluate(() => sessionStorage.getItem('samlgate-session:demo'));
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.waitForURL(`${BASE}/console/`);
    assert.equal(await p.evaluate(() => sessionStorage.getItem('samlgate-session:demo')), null);
    // Ended at admin too: the token no longer opens anything.
    const after = await fetch(`${BASE}/console-api/orgs/demo/idps`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(after.status, 401);
    const audit = await (await fetch(`${BASE}/admin/orgs/${ORG}/audit?action=console.sign_in`)).json();
    const outcomes = audit.events.map((e) => e.reason ?? 'ok');
    assert.ok(outcomes.includes('ok') && outcomes.includes('not_an_org_admin'), JSON.stringify(outcomes));
    const signedOut = await (await fetch(`${BASE}/admin/orgs/${ORG}/audit?action=console.sign_out`)).json();
    assert.equal(signedOut.events[0]?.actor, 'oidc:demo:alice@demo.samlgate.test');
  } finally {
    await ctx.close();
  }
});

test('a client page of another origin reads discovery, JWKS, token and userinfo answers, never admin', async () => {
  const server = http.createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><title>client</title>'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const other = await browser.newContext();
  try {
    const client = await other.newPage();
    const origin = `http://127.0.0.1:${server.address().port}`;
    await client.goto(`${origin}/`);
    const results = await client.evaluate(async (base) => {
      const read = async (url, init) => {
        try {
          const r = await fetch(url, init);
          return { status: r.status, body: await r.text(), challenge: r.headers.get('www-authenticate') };
        } catch (e) {
          return { blocked: String(e) };
        }
      };
      return {
        discovery: await read(`${base}/o/demo/.well-known/openid-configuration`),
        jwks: await read(`${base}/o/demo/.well-known/jwks.json`),
        token: await read(`${base}/o/demo/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=authorization_code&code=nope&redirect_uri=x&client_id=nobody',
        }),
        // A Bearer header: the browser sends a preflight first.
        userinfo: await read(`${base}/o/demo/userinfo`, { headers: { authorization: 'Bearer nope' } }),
        admin: await read(`${base}/admin/orgs/demo`),
        // What any page can send without a preflight: a text/plain "simple" request.
        forged: await read(`${base}/admin/orgs/demo/clients`, {
          method: 'POST',
          mode: 'no-cors',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ name: 'forged by another origin', redirect_uris: ['https://evil.example/cb'] }),
        }),
      };
    }, BASE);
    assert.equal(results.discovery.status, 200, JSON.stringify(results.discovery));
    assert.equal(JSON.parse(results.discovery.body).issuer, `${BASE}/o/demo`);
    assert.equal(results.jwks.status, 200, JSON.stringify(results.jwks));
    assert.ok(JSON.parse(results.jwks.body).keys.length >= 2);
    assert.equal(results.token.status, 401, JSON.stringify(results.token));
    assert.equal(JSON.parse(results.token.body).error, 'invalid_client');
    assert.equal(results.userinfo.status, 401, JSON.stringify(results.userinfo));
    assert.match(results.userinfo.challenge, /^Bearer/);
    assert.ok(results.admin.blocked, `admin must not be readable from another origin: ${JSON.stringify(results.admin)}`);
    // The dev server's admin API has no authorizer: the forged request reached it and was
    // refused (loopback Origin and application/json only), so no client was registered.
    const clients = await (await fetch(`${BASE}/admin/orgs/demo/clients`)).json();
    assert.ok(!clients.clients.some((c) => c.name === 'forged by another origin'), JSON.stringify(clients));
    const direct = await fetch(`${BASE}/admin/orgs/demo/clients`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://127.0.0.1:1' },
      body: '{}',
    });
    assert.equal(direct.status, 403);
    assert.equal((await direct.json()).error, 'forbidden');
  } finally {
    await other.close();
    server.close();
  }
});
