import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { ADMIN_TOKEN } from '../support/app';
import { expectAccessible, launchChromium, newPage, type Platform, screenshot, startPlatform } from '../support/browser';
import { type Receiver, type ReceivedRequest, startReceiver } from '../support/receiver';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** The admin API over HTTP, as an operator's script would call it. */
async function adminCall<T>(platform: Platform, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${platform.url}/admin/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as T;
}

/** A SCIM create with the directory's key, as Entra sends it. */
async function scimCreate(platform: Platform, token: string, resource: 'Users' | 'Groups', body: unknown): Promise<void> {
  const res = await fetch(`${platform.url}/scim/v2/${resource}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
}

/** The body of a signed request, checked as a receiver checks it: Standard Webhooks, with the secret from the page. */
function verified(secret: string, req: ReceivedRequest): { id: string; type: string; data: Record<string, unknown> } {
  const headers = {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(req.body, headers) as { id: string; type: string; data: Record<string, unknown> };
}

const deliveryRow = (page: Page, eventType: string): Locator => page.getByRole('row').filter({ has: page.getByText(eventType, { exact: true }) });

describe('operator console › webhooks, events and exports', () => {
  let platform: Platform;
  let receiver: Receiver;
  let browser: Browser;
  let page: Page;
  let tenantId: string;
  let scimToken: string;
  let secret: string;
  const tenantName = `<b>Webhooks</b> & Co ${Date.now()}`;
  const userName = `ada.${Date.now()}@example.com`;

  before(async () => {
    platform = await startPlatform();
    receiver = await startReceiver();
    browser = await launchChromium();
    page = await newPage(browser, platform.url);
    const tenant = await adminCall<{ id: string }>(platform, '/tenants', { name: tenantName });
    tenantId = tenant.id;
    const directory = await adminCall<{ key: { token: string } }>(platform, `/tenants/${tenantId}/directories`, {
      name: 'Entra production',
      provider: 'entra',
    });
    scimToken = directory.key.token;
    await page.goto(`${platform.url}/admin/console/tenants/${tenantId}/webhooks`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await platform?.close();
  });

  it('a tenant without webhooks › says how to add one, its name as text', async () => {
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    await page.getByText('No webhooks yet').waitFor();
    await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: tenantName }).waitFor();
    assert.equal(await page.locator('main b').count(), 0, 'the tenant name is not markup');
    await expectAccessible(page);
  });

  it('adding an endpoint › shows its whsec_ secret once, with how to verify signatures', async () => {
    await page.getByLabel('Endpoint URL').fill(receiver.url);
    await page.getByLabel('Description').fill('<i>Acme app</i> provisioning');
    await page.getByLabel('Only the types I choose').check();
    await page.getByRole('checkbox', { name: 'user.created' }).check();
    await page.getByRole('checkbox', { name: 'user.deleted' }).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByRole('heading', { name: 'Webhook added' }).waitFor();
    await page.getByRole('button', { name: 'Copy signing secret' }).click();
    secret = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(secret, /^whsec_[A-Za-z0-9+/=]+$/);
    await page.getByText('it is not shown again').waitFor();
    await page.getByText('webhook-signature', { exact: true }).waitFor();
    const listed = page.getByRole('row').filter({ hasText: receiver.url });
    await listed.getByText('user.created, user.deleted').waitFor();
    await listed.getByText('active', { exact: true }).waitFor();
    assert.equal(await page.locator('main i').count(), 0, 'the description is not markup');
    await expectAccessible(page);
    await screenshot(page, 'console-webhook-created');

    // Away and back: the secret is gone, the endpoint listed.
    await page.getByRole('navigation', { name: 'Tenant' }).getByRole('link', { name: 'Events' }).click();
    await page.getByRole('navigation', { name: 'Tenant' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('link', { name: receiver.url }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, 'the secret is shown once');
    await expectAccessible(page);
    await screenshot(page, 'console-webhooks');
  });

  it('the endpoint page › shows its settings and an empty delivery log', async () => {
    await page.getByRole('link', { name: receiver.url }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhook endpoint' }).waitFor();
    await page.getByRole('definition').filter({ hasText: 'user.created, user.deleted' }).waitFor();
    await page.getByText('No deliveries yet').waitFor();
    await expectAccessible(page);
  });

  it('Send test event › the receiver gets a webhook.test signed with the secret from the page', async () => {
    await page.getByRole('button', { name: 'Send test event' }).click();
    await page.getByRole('status').filter({ hasText: 'Test event queued' }).waitFor();
    const [test] = await receiver.waitFor(1);
    const body = verified(secret, test);
    assert.equal(body.type, 'webhook.test');
    // The log refreshes itself until the test is delivered.
    await deliveryRow(page, 'webhook.test').getByText('delivered', { exact: true }).waitFor({ timeout: 15_000 });
  });

  it('a receiver answering 500 › the user.created delivery dies after its retries, every attempt in the log', async () => {
    receiver.respond(() => ({ status: 500, body: 'receiver is down' }));
    const before = receiver.requests.length;
    await scimCreate(platform, scimToken, 'Users', { schemas: [USER_SCHEMA], userName, active: true });
    // Not subscribed: no delivery, but an event in the feed.
    await scimCreate(platform, scimToken, 'Groups', { schemas: [GROUP_SCHEMA], displayName: 'Engineering' });
    await receiver.waitFor(before + 3);
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = deliveryRow(page, 'user.created');
    await row.getByText('dead', { exact: true }).waitFor({ timeout: 15_000 });
    await row.getByText('HTTP 500').waitFor();
    await row.getByRole('button', { name: /^Attempts of the user\.created delivery/ }).click();
    const attempts = page.getByRole('table', { name: /Attempts of event/ });
    await attempts.waitFor();
    // One try and the schedule's two retries, never more (test/worker/delivery-attempts.test.ts).
    const attemptCount = Number(await row.getByRole('cell').nth(2).textContent());
    assert.equal(attemptCount, 3);
    assert.equal(await attempts.getByRole('row').count(), 1 + attemptCount, 'a header and a row per attempt');
    await attempts.getByText('receiver is down').first().waitFor();
    assert.equal(receiver.requests.filter((r) => r.body.includes('group.created')).length, 0, 'an unsubscribed type is not sent');
    await expectAccessible(page);
    await screenshot(page, 'console-webhook-deliveries');
  });

  it('Replay all dead › once the receiver is fixed, it gets the event and the log shows it delivered', async () => {
    receiver.respond(() => ({ status: 200 }));
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Replay all dead' }).click();
    await page.getByRole('dialog', { name: 'Replay every dead delivery?' }).getByRole('button', { name: 'Replay them' }).click();
    await page.getByRole('status').filter({ hasText: '1 dead delivery queued again.' }).waitFor();
    const requests = await receiver.waitFor(before + 1);
    const body = verified(secret, requests[before]);
    assert.equal(body.type, 'user.created');
    assert.equal((body.data.resource as { userName?: string }).userName, userName);
    await deliveryRow(page, 'user.created').getByText('delivered', { exact: true }).waitFor({ timeout: 15_000 });
    await expectAccessible(page);
  });

  it('Rotate secret, then Replay one › the delivery comes signed by the new secret (and the old one, until the overlap ends)', async () => {
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog', { name: 'Rotate the signing secret?' }).getByRole('button', { name: 'Rotate it' }).click();
    await page.getByText('The new signing secret.').waitFor();
    await page.getByText('each delivery carries a signature by the previous secret too').waitFor();
    await page.getByRole('button', { name: 'Copy signing secret' }).click();
    const rotated = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(rotated, /^whsec_/);
    assert.notEqual(rotated, secret);
    await expectAccessible(page);

    const before = receiver.requests.length;
    await page.getByRole('button', { name: /^Replay the user\.created delivery/ }).click();
    await page.getByRole('status').filter({ hasText: 'The user.created delivery is queued again.' }).waitFor();
    const requests = await receiver.waitFor(before + 1);
    assert.equal(verified(rotated, requests[before]).type, 'user.created');
    assert.equal(verified(secret, requests[before]).type, 'user.created');
  });

  it('Disable, then Enable › the status says so each time', async () => {
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog', { name: 'Disable this endpoint?' }).getByRole('button', { name: 'Disable it' }).click();
    await page.getByRole('status').filter({ hasText: 'Endpoint disabled' }).waitFor();
    await page.getByRole('definition').getByText('disabled', { exact: true }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Send test event' }).isDisabled());
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('status').filter({ hasText: 'Endpoint enabled' }).waitFor();
    await page.getByRole('definition').getByText('active', { exact: true }).waitFor();
  });

  it('the endpoint page at 390 px › fits a phone and stays accessible', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('heading', { level: 1, name: 'Webhook endpoint' }).waitFor();
    await screenshot(page, 'console-webhook-mobile');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await expectAccessible(page);
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('the events page › filters on the server by type and directory, kept in the URL; Back, a shared link and Clear', async () => {
    // A second directory of the tenant, with a user of its own.
    const acquired = await adminCall<{ id: string; key: { token: string } }>(platform, `/tenants/${tenantId}/directories`, {
      name: 'Entra (acquired)',
      provider: 'entra',
    });
    const otherUser = `grace.${Date.now()}@example.com`;
    await scimCreate(platform, acquired.key.token, 'Users', { schemas: [USER_SCHEMA], userName: otherUser, active: true });
    const eventsUrl = `${platform.url}/admin/console/tenants/${tenantId}/events`;
    await page.goto(eventsUrl);
    await page.getByRole('heading', { level: 1, name: 'Events' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'group.created' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'Entra (acquired)' }).waitFor({ timeout: 10_000 });

    // By type: the server's answer, and the URL says so.
    await page.getByLabel('Type').selectOption('user.created');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('2 events match type user.created.').waitFor();
    assert.equal(new URL(page.url()).search, '?type=user.created');
    assert.equal(await page.getByRole('row').filter({ hasText: 'group.created' }).count(), 0);

    // And by directory, from the keyboard: Enter in the form applies it.
    await page.getByLabel('Directory').selectOption({ label: 'Entra production' });
    await page.getByLabel('Resource id').focus();
    await page.keyboard.press('Enter');
    await page.getByText('1 event matches type user.created, directory Entra production.').waitFor();
    assert.equal(new URL(page.url()).searchParams.get('directoryId') !== null, true);
    assert.equal(await page.getByRole('row').filter({ hasText: 'Entra (acquired)' }).count(), 0);
    const row = page.getByRole('row').filter({ hasText: 'user.created' });
    await row.getByText('Entra production').waitFor();
    await row.getByRole('button', { name: /^Data of user\.created/ }).click();
    await page.locator('pre').filter({ hasText: userName }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-events');

    // Back: the type alone again, in the form too.
    await page.goBack();
    await page.getByText('2 events match type user.created.').waitFor();
    assert.equal(await page.getByLabel('Directory').inputValue(), '');
    assert.equal(await page.getByLabel('Type').inputValue(), 'user.created');

    // A resource id that is no id is refused before it is sent.
    await page.getByLabel('Resource id').fill('ada');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('A user or group id is a UUID').waitFor();
    await page.getByLabel('Resource id').fill('');

    // A shared link matching nothing: says so, and Clear shows every event.
    await page.goto(`${eventsUrl}?type=group.created&directoryId=${acquired.id}`);
    await page.getByText('No events match these filters (type group.created, directory Entra (acquired)).').waitFor();
    assert.equal(await page.getByLabel('Directory').inputValue(), acquired.id);
    await expectAccessible(page);
    await screenshot(page, 'console-events-no-match');
    await page.getByRole('button', { name: 'Clear the filters' }).click();
    await page.getByRole('row').filter({ hasText: 'group.created' }).waitFor();
    assert.equal(new URL(page.url()).search, '');
    assert.equal(await page.getByLabel('Type').inputValue(), '');
  });

  it('an audit export › runs to done and its download link answers 200 with the session cookie', async () => {
    await page.getByRole('navigation', { name: 'Tenant' }).getByRole('link', { name: 'Audit exports' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit exports' }).waitFor();
    await page.getByText('No exports yet').waitFor();
    await page.getByRole('button', { name: 'Start export' }).click();
    await page.getByRole('status').filter({ hasText: 'Export started' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'done' });
    await row.getByText('done', { exact: true }).waitFor({ timeout: 15_000 });
    const link = row.getByRole('link', { name: /^Download/ });
    const href = await link.getAttribute('href');
    assert.match(href ?? '', new RegExp(`^/admin/v1/tenants/${tenantId}/exports/[0-9a-f-]+/download$`));
    const answer = await page.evaluate(async (url) => {
      const res = await fetch(url);
      return { status: res.status, type: res.headers.get('content-type') };
    }, href!);
    assert.deepEqual(answer, { status: 200, type: 'application/gzip' });
    // Two events of the first directory, one of the acquired directory's (the events step).
    await row.getByRole('cell', { name: '3', exact: true }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-exports');
  });
});
