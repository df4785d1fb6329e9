import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeTestApp, PUBLIC_BASE_URL, type TestApp } from '../support/app';
import { makeDirectory, scimClient } from '../support/factories';

describe('GET /docs › the documentationUri ServiceProviderConfig advertises', () => {
  let t: TestApp;
  before(() => {
    // Limits unlike the defaults, so the page is seen to come from the same data.
    t = makeTestApp({ maxPageSize: 250, maxBulkOperations: 40 });
  });
  after(() => t.close());

  it('the advertised URL › without a key › 200 HTML telling the same limits, the tenant URL and the admin API', async () => {
    const dir = await makeDirectory(t.app);
    const spc = (await scimClient(t.app, dir.token, '/scim/v1').get('/ServiceProviderConfig').expect(200)).body;
    const uri = new URL(spc.documentationUri);
    assert.equal(uri.origin, new URL(PUBLIC_BASE_URL).origin);

    const res = await request(t.app).get(uri.pathname);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html; charset=utf-8/);
    assert.match(res.text, /^<!doctype html>/);
    assert.ok(res.text.includes(`at most ${spc.filter.maxResults} results`));
    assert.ok(res.text.includes(`${spc.bulk.maxOperations} operations`));
    assert.ok(res.text.includes(`<code>${PUBLIC_BASE_URL}/scim/v1</code>`));
    assert.ok(res.text.includes(`<code>${PUBLIC_BASE_URL}/admin/v1</code>`));
    assert.ok(!/<script|<link|src=/i.test(res.text), 'no scripts or outside assets');
  });
});
