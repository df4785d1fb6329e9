/**
 * The customer's setup page in Chromium, as its two people use it: the operator arranges a
 * tenant, an Entra directory with the seeds' extension schema and a setup link over the admin
 * API; the customer's IT admin opens the link, copies the Tenant URL, generates a token and
 * regenerates it; test code acting as Entra sends Test connection and a provisioning cycle with
 * one failing request, and the page (polling) shows the connection, the counts and the error in
 * plain words. A revoked, unknown or cut-short link gets one clear message.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ADMIN_TOKEN } from '../support/app';
import { expectAccessible, launchChromium, newPage, type Platform, screenshot, startPlatform } from '../support/browser';
import { eventually } from '../support/eventually';
import { ACTIVTRAK, activTrakSchema, ENTERPRISE, entraUser, GROUP_SCHEMA } from '../support/factories';

/** The operator, over HTTP with the admin token. */
async function asOperator(platform: Platform, method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${platform.url}/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path} → ${res.status} ${await res.clone().text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, any>);
}

/** Entra's provisioning service at the Tenant URL, with the Secret Token pasted into it. */
function entra(tenantUrl: string, token: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${tenantUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json', Accept: 'application/scim+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, any> };
  };
}

/** Entra's Test connection: a random GUID looked up as a userName. */
const testConnectionPath = () => `/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`;

const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

describe('setup page › the IT admin connects Entra', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let directoryId: string;
  let link: { id: string; url: string };
  let tenantUrl: string;
  let firstToken: string;
  const tenantName = `<b>Contoso</b> & Sons ${Date.now()}`;
  const directoryName = 'Contoso Entra (HQ)';
  const live = () => page.getByRole('region', { name: 'Live status' });

  before(async () => {
    platform = await startPlatform();
    browser = await launchChromium();
    page = await newPage(browser, platform.url);
    const tenant = await asOperator(platform, 'POST', '/tenants', { name: tenantName });
    const directory = await asOperator(platform, 'POST', `/tenants/${tenant.id}/directories`, { name: directoryName, provider: 'entra' });
    directoryId = directory.id;
    await asOperator(platform, 'POST', `/directories/${directoryId}/schemas`, activTrakSchema());
    link = (await asOperator(platform, 'POST', `/directories/${directoryId}/setup-links`, {})) as typeof link;
  });
  after(async () => {
    await browser?.close();
    await platform?.close();
  });

  it('opening the link › names the tenant and directory as text, lists the Entra steps and the mappings; Copy puts the Tenant URL on the clipboard', async () => {
    await page.goto(link.url);

    await page.getByRole('heading', { level: 1, name: 'Connect Microsoft Entra ID' }).waitFor();
    await page.getByText(tenantName, { exact: true }).waitFor();
    assert.equal(await page.locator('main b').count(), 0, 'the tenant name stays text');
    await page.getByText(directoryName, { exact: true }).waitFor();
    const steps = page.getByRole('region', { name: 'Steps in Microsoft Entra ID' });
    await steps.getByText('Select Enterprise applications, then + New application.').waitFor();
    await steps.getByText('Set Provisioning Mode to Automatic.').waitFor();

    await page.getByRole('button', { name: 'Copy Tenant URL' }).click();
    await page.getByRole('button', { name: 'Copied Tenant URL' }).waitFor();
    tenantUrl = await clipboard(page);
    assert.equal(tenantUrl, `${platform.url}/scim/v1`);

    const mappings = page.getByRole('table', { name: 'User attributes to add in Entra' });
    const rows = mappings.getByRole('row');
    await rows.nth(3).waitFor();
    assert.equal(await rows.count(), 4, 'a header row and the guide’s three lines');
    for (const [target, type] of [
      [`${ACTIVTRAK}.userPrincipalNames[value eq null].value`, 'String'],
      [`${ACTIVTRAK}.tracking`, 'Boolean'],
      [`${ENTERPRISE}:employeeNumber`, 'String'],
    ]) {
      const row = rows.filter({ hasText: target });
      assert.equal(await row.count(), 1, target);
      assert.equal(await row.getByRole('cell').nth(1).textContent(), type);
    }
    await page.getByText('Leave externalId out of the group mappings', { exact: false }).waitFor();
    await live().getByText('Waiting for Test connection').waitFor();
    await live().getByText('No requests yet.', { exact: false }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'setup-page-start');
  });

  it('Generate secret token › shown once with the warning and copied; a reload shows only its prefix', async () => {
    await page.getByRole('button', { name: 'Generate secret token' }).click();

    await page.getByText('Copy the token now: it is not shown again.').waitFor();
    await page.getByRole('button', { name: 'Copy Secret Token' }).click();
    await page.getByRole('button', { name: 'Copied Secret Token' }).waitFor();
    firstToken = await clipboard(page);
    assert.match(firstToken, /^scim_[a-z]+_[A-Za-z0-9_-]{20,}$/);
    const shown = await page.getByText(firstToken, { exact: true }).count();
    assert.equal(shown, 1, 'the token is on the page once, in its copy box');
    await page.getByRole('button', { name: 'Regenerate secret token' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'setup-page-token');

    const reload = await newPage(browser, platform.url);
    await reload.goto(link.url);
    await reload
      .getByText(`${firstToken.slice(0, 14)}…`, { exact: true })
      .first()
      .waitFor();
    assert.equal(await reload.getByText(firstToken, { exact: true }).count(), 0, 'not shown again after a reload');
    await reload.context().close();
  });

  it('Entra sends Test connection and a cycle with one failing request › the page shows the connection, 1 user, 1 group and the 409 explained', async () => {
    const send = entra(tenantUrl, firstToken);
    const probe = await send('GET', testConnectionPath());
    assert.equal(probe.status, 200);
    assert.equal(probe.body.totalResults, 0);
    const user = entraUser();
    assert.equal((await send('POST', '/Users', user)).status, 201);
    assert.equal((await send('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: `Sales ${Date.now()}`, members: [] })).status, 201);
    const duplicate = await send('POST', '/Users', entraUser({ userName: user.userName }));
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.scimType, 'uniqueness');

    await live().getByText('✓ Test connection received').waitFor();
    await figure(live(), 'Users', '1');
    await figure(live(), 'Groups', '1');
    const failed = live().getByRole('row').filter({ hasText: 'POST /scim/v1/Users' }).filter({ hasText: '409 Conflict' });
    await failed.getByText('Two users in Entra map to the same userName', { exact: false }).waitFor();
    await failed.getByText('make the source attribute of userName', { exact: false }).waitFor();
    await live().getByRole('row').filter({ hasText: 'Test connection' }).filter({ hasText: '200 OK' }).waitFor();
    assert.equal(await live().getByRole('row').filter({ hasText: '201 Created' }).count(), 2);
    await page.getByRole('region', { name: 'Steps in Microsoft Entra ID' }).getByText('✓ Test connection received').waitFor();
    await expectAccessible(page);
    await screenshot(page, 'setup-page-status');

    await page.setViewportSize({ width: 390, height: 844 });
    await expectAccessible(page);
    await screenshot(page, 'setup-page-mobile');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('Regenerate › opens on Cancel, Escape cancels; after confirming, the old token is refused with 401, the new one works, and the page explains the 401', async () => {
    const dialog = page.getByRole('dialog', { name: 'Regenerate the secret token?' });
    await page.getByRole('button', { name: 'Regenerate secret token' }).focus();
    await page.keyboard.press('Enter');
    await dialog.getByText('Entra is refused until you paste the new token', { exact: false }).waitFor();
    await expectAccessible(page);
    // Destructive: the dialog opens on Cancel, so a second Enter cancels instead of regenerating.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await entra(tenantUrl, firstToken)('GET', '/Users?count=1')).status, 200, 'cancelled: the token still works');

    await page.getByRole('button', { name: 'Regenerate secret token' }).click();
    await dialog.getByRole('button', { name: 'Regenerate token' }).click();

    await page.getByText(`The previous token (${firstToken.slice(0, 14)}…) no longer works.`, { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Copy Secret Token' }).click();
    const secondToken = await waitForClipboardChange(page, firstToken);
    assert.match(secondToken, /^scim_/);

    const old = await entra(tenantUrl, firstToken)('GET', '/Users?count=1');
    assert.equal(old.status, 401);
    const fresh = await entra(tenantUrl, secondToken)('GET', '/Users?count=1');
    assert.equal(fresh.status, 200);
    await live().getByRole('row').filter({ hasText: '401 Unauthorized' }).getByText('The Secret Token Entra sent was revoked or is wrong.').waitFor();
    await expectAccessible(page);
  });

  it('polling › every 3 s while visible; nothing while the tab is hidden; at once when shown again', async () => {
    const polled = await newPage(browser, platform.url);
    await polled.clock.install();
    // Counts the page's status calls where they start, in the page, so a count read after the clock moved is exact.
    await polled.addInitScript(() => {
      const w = window as unknown as { statusCalls: number; statusDone: number };
      w.statusCalls = 0;
      w.statusDone = 0;
      const original = window.fetch.bind(window);
      window.fetch = (input, init) => {
        if (!String(input).includes('/setup/v1/status')) return original(input, init);
        w.statusCalls++;
        return original(input, init).finally(() => w.statusDone++);
      };
    });
    const counts = () =>
      polled.evaluate(() => {
        const w = window as unknown as { statusCalls: number; statusDone: number };
        return { statusCalls: w.statusCalls, statusDone: w.statusDone };
      });
    const settled = () =>
      eventually('no status call in flight', async () => {
        const c = await counts();
        return c.statusCalls === c.statusDone ? c.statusCalls : undefined;
      });
    await polled.goto(link.url);
    await polled.getByRole('region', { name: 'Live status' }).getByRole('group', { name: 'Users' }).waitFor();
    const first = await settled();

    await polled.clock.runFor(3_000);
    await eventually('the next poll', async () => ((await counts()).statusCalls > first ? true : undefined));
    await setVisibility(polled, 'hidden');
    const hidden = await settled();
    await polled.clock.runFor(60_000);
    assert.equal((await counts()).statusCalls, hidden, 'no call while hidden');
    await setVisibility(polled, 'visible');
    assert.equal((await counts()).statusCalls, hidden + 1, 'one call at once when shown');
    await polled.context().close();
  });

  it('the operator revokes the link while it is open › the page replaces itself with the message to ask for a new link', async () => {
    await asOperator(platform, 'DELETE', `/directories/${directoryId}/setup-links/${link.id}`);

    await page.getByRole('heading', { level: 1, name: 'This setup link no longer works' }).waitFor();
    await page.getByText('ask for a new one', { exact: false }).first().waitFor();
    assert.equal(await page.getByRole('button', { name: /secret token/i }).count(), 0, 'no setup controls left');
    await expectAccessible(page);
  });

  it('an unknown link, and one without its secret › each gets a full-page message, no broken page', async () => {
    const other = await newPage(browser, platform.url);
    await other.goto(`${platform.url}/setup#setup_${'x'.repeat(43)}`);
    await other.getByRole('heading', { level: 1, name: 'This setup link no longer works' }).waitFor();
    await other.getByText('This setup link is unknown, expired or revoked; ask for a new one.').waitFor();
    await expectAccessible(other);
    await screenshot(other, 'setup-page-link-refused');

    const bare = await newPage(browser, platform.url);
    await bare.goto(`${platform.url}/setup`);
    await bare.getByRole('heading', { level: 1, name: 'This setup link is incomplete' }).waitFor();
    await expectAccessible(bare);
    await other.context().close();
    await bare.context().close();
  });
});

/** What a browser does when its tab is hidden or shown again (headless chromium never hides a page by itself). */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  // A string, not a function: tsx would name the getter with a helper the page does not have.
  await page.evaluate(
    `Object.defineProperty(document, 'visibilityState', { configurable: true, get() { return ${JSON.stringify(state)}; } });
     document.dispatchEvent(new Event('visibilitychange'));`,
  );
}

/** Waits until the figure labelled `label` shows `value` (the page polls every few seconds). */
async function figure(region: Locator, label: string, value: string): Promise<void> {
  await region.getByRole('group', { name: label }).getByText(value, { exact: true }).waitFor();
}

/** The clipboard once a Copy wrote something other than `before`. */
async function waitForClipboardChange(page: Page, before: string): Promise<string> {
  const handle = await page.waitForFunction((old) => navigator.clipboard.readText().then((text) => (text && text !== old ? text : false)), before);
  return (await handle.jsonValue()) as string;
}
