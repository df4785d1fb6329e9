import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_TOKEN } from '../support/app';
import { expectAccessible, launchChromium, newPage, type Platform, screenshot, startPlatform } from '../support/browser';

describe('operator console › sign-in and tenants', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;

  before(async () => {
    platform = await startPlatform();
    browser = await launchChromium();
    page = await newPage(browser, platform.url);
  });
  after(async () => {
    await browser?.close();
    await platform?.close();
  });

  it('a wrong token › stays on the sign-in with the reason', async () => {
    await page.goto(`${platform.url}/admin/console/`);
    await page.getByLabel('Admin token').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not the admin token' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'console-sign-in');
  });

  it('the admin token › signs in with the keyboard alone and shows the tenants', async () => {
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Tenants' }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'scim_operator_session');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Strict');
    assert.ok(!session?.value.includes(ADMIN_TOKEN));
  });

  it('a tenant named like markup › is created and shown as text, never run', async () => {
    const name = `<img src=x onerror="document.title='pwned'"> Acme ${Date.now()}`;
    await page.getByLabel('Name').fill(name);
    await page.getByRole('button', { name: 'Create tenant' }).click();
    // The new tenant's page opens first; then back to the list by the console's own navigation.
    await page.waitForURL(/\/admin\/console\/tenants\/[0-9a-f-]+$/);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Tenants', exact: true }).click();
    await page.getByRole('link', { name }).waitFor();
    assert.notEqual(await page.title(), 'pwned');
    assert.equal(await page.locator('main img').count(), 0);
    await expectAccessible(page);
  });
});
