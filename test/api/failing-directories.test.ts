import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { watchFailingDirectories } from '../../shared/setup/metrics';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, makeDirectory, scimClient, type TestDirectory } from '../support/factories';

describe('GET /admin/v1/failing-directories and scim_directories_failing', () => {
  let t: TestApp;
  let failing: TestDirectory;
  let lookingUp: TestDirectory;
  let quiet: TestDirectory;
  let revoked: TestDirectory;
  let unwatch: () => void;

  before(async () => {
    t = makeTestApp({ recordActivity: true, authThrottle: { failures: 1000 } });
    unwatch = watchFailingDirectories(t.repos.operator);
    [failing, lookingUp, quiet, revoked] = await Promise.all([makeDirectory(t.app), makeDirectory(t.app), makeDirectory(t.app), makeDirectory(t.app)]);
    // 4 good requests and 6 refused ones (409 uniqueness, 400 invalid filter): 60 % failed.
    const scim = scimClient(t.app, failing.token);
    await scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'taken@example.com' }).expect(201);
    for (let i = 0; i < 3; i++) await scim.get('/Users?filter=userName eq "x"').expect(200);
    for (let i = 0; i < 3; i++)
      await scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'taken@example.com' }).expect(409);
    for (let i = 0; i < 3; i++) await scim.get('/Users?filter=userName eq').expect(400);
    // Entra's lookups of users that do not exist yet: 404s, not failures.
    const lookups = scimClient(t.app, lookingUp.token);
    for (let i = 0; i < 12; i++) await lookups.get(`/Users/00000000-0000-4000-8000-00000000000${i % 10}`).expect(404);
    // Failing, but too few requests to say so.
    const few = scimClient(t.app, quiet.token);
    for (let i = 0; i < 5; i++) await few.get('/Users?filter=userName eq').expect(400);
    // Its key revoked while Entra keeps sending: every request a 401, and no directory authenticated.
    await asAdmin(request(t.app).delete(`/admin/v1/directories/${revoked.directoryId}/keys/${revoked.keyId}`)).expect(204);
    const refused = scimClient(t.app, revoked.token);
    for (let i = 0; i < 10; i++) await refused.get('/Users?filter=userName eq "x"').expect(401);
    await t.activity!.flush();
  });
  after(async () => {
    unwatch();
    await t.close();
  });

  it('lists a directory whose requests mostly failed, by name and tenant, with its counts', async () => {
    const res = await asAdmin(request(t.app).get('/admin/v1/failing-directories')).expect(200);
    assert.deepEqual(res.body.window, { minutes: 15, minRequests: 10, minRatio: 0.5 });
    const mine = (res.body.data as { directoryId: string }[]).find((d) => d.directoryId === failing.directoryId) as Record<string, unknown> | undefined;
    assert.ok(mine, 'the failing directory is listed');
    assert.equal(mine.tenantId, failing.tenantId);
    assert.equal(mine.requests, 10);
    assert.equal(mine.failed, 6);
    assert.equal(typeof mine.directoryName, 'string');
    assert.equal(typeof mine.tenantName, 'string');
    assert.ok(Date.parse(String(mine.lastFailureAt)) > Date.now() - 60_000);
  });

  it('lists a directory whose revoked key Entra still sends, every request a 401', async () => {
    const res = await asAdmin(request(t.app).get('/admin/v1/failing-directories')).expect(200);
    const listed = (res.body.data as { directoryId: string; requests: number; failed: number }[]).find((d) => d.directoryId === revoked.directoryId);
    assert.deepEqual(listed && { requests: listed.requests, failed: listed.failed }, { requests: 10, failed: 10 });
  });

  it('leaves out 404 lookups and directories with too few requests to judge', async () => {
    const res = await asAdmin(request(t.app).get('/admin/v1/failing-directories')).expect(200);
    const ids = (res.body.data as { directoryId: string }[]).map((d) => d.directoryId);
    assert.ok(!ids.includes(lookingUp.directoryId), '404s are lookups, not failures');
    assert.ok(!ids.includes(quiet.directoryId), '5 requests say nothing');
  });

  it('/metrics › counts them without naming them', async () => {
    const res = await request(t.app).get('/metrics').expect(200);
    const value = Number(/^scim_directories_failing\{window="15m"\} (\d+)$/m.exec(res.text)?.[1]);
    assert.ok(value >= 1, `scim_directories_failing: ${value}`);
    assert.ok(!res.text.includes(failing.directoryId), 'no directory id in a scrape');
  });

  it('without the admin token › 401', async () => {
    await request(t.app).get('/admin/v1/failing-directories').expect(401);
  });
});
