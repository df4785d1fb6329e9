import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, makeDirectory, scimClient } from '../support/factories';

// Two API processes share one database: B caches a key, A revokes it, B must refuse it on
// the very next request (the revocation reaches B as a PostgreSQL notification on commit).
describe('key cache › across API processes', () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = makeTestApp();
    // B answers one revoked key per round, 25 in all: more than the 20 failures a minute the
    // default throttle lets one address make (auth-throttle.test.ts covers that limit).
    b = makeTestApp({ authThrottle: { failures: 100 } });
    await new Promise((r) => setTimeout(r, 300)); // both listeners connected
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('revoke on A › the key was cached on B › B answers 401 on the very next request', async () => {
    for (let round = 0; round < 25; round++) {
      const dir = await makeDirectory(a.app);
      await scimClient(b.app, dir.token).get('/Users?count=1').expect(200);
      await scimClient(b.app, dir.token).get('/Users?count=1').expect(200);
      await asAdmin(request(a.app).delete(`/admin/v1/directories/${dir.directoryId}/keys/${dir.keyId}`)).expect(204);
      await scimClient(b.app, dir.token).get('/Users?count=1').expect(401);
    }
  });

  it('extension schema added on A › B had the directory cached › B serves the new schema at once', async () => {
    const dir = await makeDirectory(a.app);
    const urn = `urn:ietf:params:scim:schemas:extension:cache${Date.now()}:2.0:User`;
    const before = await scimClient(b.app, dir.token).get('/Schemas').expect(200);
    assert.ok(!before.body.Resources.some((s: { id: string }) => s.id === urn));
    await asAdmin(request(a.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
      .send({ id: urn, attributes: [{ name: 'badge', type: 'string' }] })
      .expect(201);
    const afterAdd = await scimClient(b.app, dir.token).get('/Schemas').expect(200);
    assert.ok(afterAdd.body.Resources.some((s: { id: string }) => s.id === urn));
  });
});
