import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestApp, type TestApp } from '../support/app';
import { entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';

describe('SCIM users › smoke', () => {
  let t: TestApp;
  let dir: TestDirectory;
  before(async () => {
    t = makeTestApp();
    dir = await makeDirectory(t.app);
  });
  after(() => t.close());

  it('POST /Users › a new user › 201 with id, meta and ETag, then GET finds it by userName', async () => {
    const scim = scimClient(t.app, dir.token);
    const body = entraUser();
    const created = await scim.post('/Users', body).expect(201);
    assert.match(created.headers['content-type'], /application\/scim\+json/);
    assert.equal(created.body.userName, body.userName);
    assert.equal(created.headers.etag, created.body.meta.version);
    const found = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${body.userName.toUpperCase()}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.body.id);
  });
});
