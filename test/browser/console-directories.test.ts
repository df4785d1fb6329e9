import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN } from '../support/app';
import { expectAccessible, launchChromium, newPage, type Platform, screenshot, startPlatform } from '../support/browser';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';

describe('operator console › tenants, directories, keys, setup links and extension schemas', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  const suffix = Date.now().toString(36);
  const tenantName = `Contoso ${suffix}`;
  const directoryName = 'Entra ID (Contoso)';
  let scimUrl: string;
  let firstToken: string;

  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  /** A SCIM request as Entra would send it, with the token given. */
  const scim = (path: string, token: string) => fetch(`${scimUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } });

  before(async () => {
    platform = await startPlatform();
    browser = await launchChromium();
    page = await newPage(browser, platform.url);
    await page.goto(`${platform.url}/admin/console/`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Tenants' }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await platform?.close();
  });

  it('a new tenant › opens on its empty directories, and is listed among the tenants', async () => {
    await page.getByLabel('Name').fill(tenantName);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: tenantName }).waitFor();
    await page.getByText('No directories yet').waitFor();
    await expectAccessible(page);

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Tenants' }).click();
    await page.getByRole('link', { name: tenantName }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-tenants');
    await page.getByRole('link', { name: tenantName }).click();
    await page.getByRole('heading', { level: 1, name: tenantName }).waitFor();
  });

  it('a new directory › shows the SCIM URL and the first token once, both copyable, and the token works', async () => {
    await page.getByLabel('Directory name').fill(directoryName);
    await page.getByLabel('Identity provider').selectOption({ label: 'Microsoft Entra ID' });
    await page.getByLabel('Directory name').press('Enter');
    await page.getByRole('heading', { name: `Directory “${directoryName}” created` }).waitFor();
    await page.getByText('it is not shown again').waitFor();

    await page.getByRole('button', { name: 'Copy SCIM Tenant URL' }).click();
    scimUrl = await clipboard();
    assert.equal(scimUrl, `${platform.url}/scim/v1`);
    await page.getByRole('button', { name: 'Copy Secret token' }).click();
    await page.getByRole('button', { name: 'Copied Secret token' }).waitFor();
    firstToken = await clipboard();
    assert.notEqual(firstToken, scimUrl);
    assert.equal((await scim('/Users', firstToken)).status, 200);
    await expectAccessible(page);
    await screenshot(page, 'console-directory-created');

    await page.getByRole('button', { name: 'I have copied the token' }).click();
    assert.equal(await page.getByText(firstToken).count(), 0, 'the token is gone once the operator moves on');
    await page
      .getByRole('row', { name: new RegExp(directoryName.replace(/[()]/g, '\\$&')) })
      .getByText('Microsoft Entra ID')
      .waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-tenant');
  });

  it('the directory page › shows the Tenant URL, the keys and no setup links or schemas yet', async () => {
    await page.getByRole('link', { name: directoryName }).click();
    await page.getByRole('heading', { level: 1, name: directoryName }).waitFor();
    const trail = page.getByRole('navigation', { name: 'Breadcrumbs' });
    await trail.getByRole('link', { name: tenantName }).waitFor();
    assert.deepEqual(await trail.getByRole('link').allTextContents(), ['Tenants', tenantName, directoryName]);
    await page
      .getByRole('row', { name: /Entra ID \(Contoso\) key/ })
      .getByText('Active')
      .waitFor();
    await page.getByText('No setup links yet').waitFor();
    await page.getByText('No extension schemas yet').waitFor();
    await page.getByRole('button', { name: 'Copy SCIM Tenant URL' }).click();
    assert.equal(await clipboard(), scimUrl);
    await expectAccessible(page);
  });

  it('issuing then revoking a key › its token works, then answers 401; the first key still works', async () => {
    await page.getByLabel("New key's name").fill('Rotation key');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Key “Rotation key” issued' }).waitFor();
    await page.getByRole('button', { name: 'Copy Secret token' }).click();
    await page.getByRole('button', { name: 'Copied Secret token' }).waitFor();
    const token = await clipboard();
    assert.equal((await scim('/Users', token)).status, 200);
    await expectAccessible(page);

    await page
      .getByRole('row', { name: /Rotation key/ })
      .getByRole('button', { name: 'Revoke' })
      .click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “Rotation key”?' });
    await dialog.getByText('every provisioning cycle fails with 401').waitFor();
    await expectAccessible(page);
    await dialog.getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByRole('status').filter({ hasText: 'Key “Rotation key” revoked' }).waitFor();
    await page
      .getByRole('row', { name: /Rotation key/ })
      .getByText('Revoked')
      .waitFor();

    const refused = await scim('/Users', token);
    assert.equal(refused.status, 401);
    assert.equal((await scim('/Users', firstToken)).status, 200);
  });

  it("a setup link › shows the URL once, for the customer's IT admin, and lists it as active", async () => {
    await page.getByLabel('Expires after').selectOption({ label: '14 days' });
    await page.getByRole('button', { name: 'Create setup link' }).click();
    await page.getByRole('heading', { name: 'Setup link created' }).waitFor();
    await page.getByText("Send this link to the customer's IT admin").waitFor();
    await page.getByRole('button', { name: 'Copy Setup link' }).click();
    await page.getByRole('button', { name: 'Copied Setup link' }).waitFor();
    const url = await clipboard();
    assert.ok(url.startsWith(`${platform.url}/setup#`), url);
    const links = page.getByRole('table', { name: `Setup links of ${directoryName}` });
    assert.equal(await links.getByText('Active').count(), 1);
    await expectAccessible(page);
  });

  it("the directory's extension schema › refuses what is typed wrong as it is typed, then adds the guide's extension to /Schemas", async () => {
    const editor = page.getByLabel('Schema (JSON)');
    const add = page.getByRole('button', { name: 'Add schema' });
    assert.ok(await add.isDisabled(), 'nothing typed: nothing to add');

    await editor.fill('{\n  "id": "activtrak",\n  "attributes": [\n');
    await page.getByText('Not valid JSON at line 3, column 18').waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    assert.ok(await add.isDisabled());
    await expectAccessible(page);

    await editor.fill('{ "id": "activtrak", "attributes": [{ "name": "tracking", "type": "boolean" }] }');
    const error = page.getByText('"id" must be a URN');
    await error.waitFor();
    const errorId = await error.getAttribute('id');
    assert.ok(errorId && (await editor.getAttribute('aria-describedby'))?.split(' ').includes(errorId), 'the error describes the editor');
    assert.ok(await add.isDisabled());

    await page.getByRole('button', { name: 'Insert example' }).click();
    await page.getByText(/Valid: ActivTrakUser: 2 attributes/).waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'false');
    await add.click();
    await page.getByRole('status').filter({ hasText: 'Schema ActivTrakUser added to this directory' }).waitFor();
    await page.getByRole('cell', { name: ACTIVTRAK }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-directory');

    const schemas = await scim('/Schemas', firstToken);
    assert.equal(schemas.status, 200);
    const body = (await schemas.json()) as { Resources: { id: string; attributes: { name: string }[] }[] };
    const activtrak = body.Resources.find((s) => s.id === ACTIVTRAK);
    assert.deepEqual(
      activtrak?.attributes.map((a) => a.name),
      ['userPrincipalNames', 'tracking'],
    );
  });

  it('the directory page at 390 px › fits the phone, and stays accessible', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.getByRole('heading', { level: 1, name: directoryName }).waitFor();
    await page.getByRole('cell', { name: ACTIVTRAK }).waitFor();
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !e.closest('.table-wrap'))
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    );
    assert.deepEqual(wide, [], 'nothing but a table (which scrolls in its frame) is wider than the phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await expectAccessible(page);
    await screenshot(page, 'console-directory-mobile');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it("platform-wide schemas › the server's refusal is shown; a valid one is added, listed, then deleted after confirmation", async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Extension schemas' }).click();
    await page.getByRole('heading', { level: 1, name: 'Extension schemas' }).waitFor();
    await page.getByText('No extension schemas yet').waitFor();
    await expectAccessible(page);

    // Valid as typed, but the directory above has its own copy: only the server knows, and says where.
    const editor = page.getByLabel('Schema (JSON)');
    await page.getByRole('button', { name: 'Insert example' }).click();
    await page.getByRole('button', { name: 'Add schema' }).click();
    await page.getByRole('alert').filter({ hasText: `is already registered for directory` }).filter({ hasText: directoryName }).waitFor();
    await expectAccessible(page);

    await editor.fill(
      JSON.stringify(
        {
          id: ACME,
          name: 'AcmeUser',
          attributes: [
            { name: 'costCenter', type: 'string' },
            { name: 'badges', type: 'string', multiValued: true },
          ],
        },
        null,
        2,
      ),
    );
    await page.getByRole('button', { name: 'Add schema' }).click();
    await page.getByRole('status').filter({ hasText: 'Schema AcmeUser added to every directory' }).waitFor();
    await page.getByRole('cell', { name: ACME }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-schemas');
    const listed = (await (await scim('/Schemas', firstToken)).json()) as { Resources: { id: string }[] };
    assert.ok(listed.Resources.some((s) => s.id === ACME));

    await page
      .getByRole('row', { name: /AcmeUser/ })
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByRole('dialog', { name: 'Delete AcmeUser?' }).getByRole('button', { name: 'Delete the schema' }).click();
    await page.getByRole('status').filter({ hasText: 'Schema AcmeUser removed from every directory' }).waitFor();
    await page.getByText('No extension schemas yet').waitFor();
    const after = (await (await scim('/Schemas', firstToken)).json()) as { Resources: { id: string }[] };
    assert.ok(!after.Resources.some((s) => s.id === ACME));
  });
});
