/** POST /Bulk through HTTP: bulkId references, per-operation errors, failOnErrors, the operation limit. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { ERROR_SCHEMA, entraUser, GROUP_SCHEMA, patchOp, USER_SCHEMA } from '../support/factories';
import { apiSuite, assertScimError, SCIM_JSON } from '../support/scim-helpers';

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => ({ schemas: [BULK_REQUEST], Operations, ...extra });

const { fresh } = apiSuite({ maxBulkOperations: 5 });

describe('POST /Bulk', () => {
  it('POST /Bulk › a user by bulkId, then a group naming "bulkId:…" as member, then a PATCH by bulkId › all applied', async () => {
    const { scim } = await fresh();
    const user = entraUser();
    const displayName = `g-${randomUUID()}`;

    const res = await scim
      .post(
        '/Bulk',
        bulk([
          { method: 'POST', path: '/Users', bulkId: 'u1', data: user },
          { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP_SCHEMA], displayName, members: [{ value: 'bulkId:u1' }] } },
          { method: 'PATCH', path: '/Users/bulkId:u1', data: patchOp({ op: 'replace', path: 'title', value: 'CTO' }) },
        ]),
      )
      .expect(200);

    assert.match(res.headers['content-type'], SCIM_JSON);
    assert.deepEqual(res.body.schemas, [BULK_RESPONSE]);
    const [u, g, p] = res.body.Operations;
    assert.deepEqual([u.status, g.status, p.status], ['201', '201', '200']);
    assert.equal(u.bulkId, 'u1');
    assert.equal(u.method, 'POST');
    assert.match(u.location, /\/Users\/[0-9a-f-]{36}$/);
    assert.equal(typeof u.version, 'string');
    const userId = u.location.split('/').pop();
    const group = await scim.get(`/Groups/${g.location.split('/').pop()}`).expect(200);
    assert.equal(group.body.displayName, displayName);
    assert.deepEqual(
      group.body.members.map((m: { value: string }) => m.value),
      [userId],
    );
    const stored = await scim.get(`/Users/${userId}`).expect(200);
    assert.equal(stored.body.title, 'CTO');
    assert.equal(stored.body.userName, user.userName);
  });

  it('POST /Bulk › PUT, PATCH and DELETE of existing resources › 200, 200/204 and 204, each applied', async () => {
    const { scim } = await fresh();
    const { body: a } = await scim.post('/Users', entraUser()).expect(201);
    const { body: b } = await scim.post('/Users', entraUser()).expect(201);
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

    const res = await scim
      .post(
        '/Bulk',
        bulk([
          { method: 'PUT', path: `/Users/${a.id}`, version: a.meta.version, data: { schemas: [USER_SCHEMA], userName: a.userName, title: 'Put' } },
          { method: 'PATCH', path: `/Groups/${group.id}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: a.id }] }) },
          { method: 'DELETE', path: `/Users/${b.id}` },
        ]),
      )
      .expect(200);

    const statuses = res.body.Operations.map((o: { status: string }) => o.status);
    assert.equal(statuses[0], '200');
    assert.ok(['200', '204'].includes(statuses[1]), statuses[1]);
    assert.equal(statuses[2], '204');
    const put = await scim.get(`/Users/${a.id}`).expect(200);
    assert.equal(put.body.title, 'Put');
    assert.equal(put.body.emails, undefined);
    const g = await scim.get(`/Groups/${group.id}`).expect(200);
    assert.deepEqual(
      g.body.members.map((m: { value: string }) => m.value),
      [a.id],
    );
    assertScimError(await scim.get(`/Users/${b.id}`), 404);
  });

  it('POST /Bulk › one operation fails › its own status and SCIM error, the others still applied', async () => {
    const { scim } = await fresh();
    const { body: taken } = await scim.post('/Users', entraUser()).expect(201);
    const ok = entraUser();

    const res = await scim
      .post(
        '/Bulk',
        bulk([
          { method: 'POST', path: '/Users', bulkId: 'dup', data: entraUser({ userName: taken.userName }) },
          { method: 'PATCH', path: `/Users/${taken.id}`, version: 'W/"999"', data: patchOp({ op: 'replace', path: 'title', value: 'x' }) },
          { method: 'POST', path: '/Users', bulkId: 'ok', data: ok },
        ]),
      )
      .expect(200);

    const [dup, stale, created] = res.body.Operations;
    assert.equal(dup.status, '409');
    assert.deepEqual(dup.response.schemas, [ERROR_SCHEMA]);
    assert.equal(dup.response.scimType, 'uniqueness');
    assert.equal(dup.response.status, '409');
    assert.equal(stale.status, '412');
    assert.equal(created.status, '201');
    const list = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${ok.userName}"`)}`).expect(200);
    assert.equal(list.body.totalResults, 1);
    assert.equal((await scim.get(`/Users/${taken.id}`)).body.title, undefined);
  });

  it('POST /Bulk › failOnErrors 1 › stops after the first error; later operations are not run', async () => {
    const { scim } = await fresh();
    const later = entraUser();

    const res = await scim
      .post(
        '/Bulk',
        bulk(
          [
            { method: 'POST', path: '/Users', bulkId: 'bad', data: { schemas: [USER_SCHEMA], displayName: 'no userName' } },
            { method: 'POST', path: '/Users', bulkId: 'later', data: later },
          ],
          { failOnErrors: 1 },
        ),
      )
      .expect(200);

    assert.equal(res.body.Operations.length, 1);
    assert.equal(res.body.Operations[0].status, '400');
    assert.equal(res.body.Operations[0].response.scimType, 'invalidValue');
    const list = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${later.userName}"`)}`).expect(200);
    assert.equal(list.body.totalResults, 0);
  });

  it('POST /Bulk › a reference to a bulkId never created › that operation fails, with a SCIM error', async () => {
    const { scim } = await fresh();

    const res = await scim
      .post(
        '/Bulk',
        bulk([
          {
            method: 'POST',
            path: '/Groups',
            bulkId: 'g',
            data: { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: 'bulkId:nobody' }] },
          },
        ]),
      )
      .expect(200);

    const [op] = res.body.Operations;
    assert.ok(Number(op.status) >= 400, op.status);
    assert.deepEqual(op.response.schemas, [ERROR_SCHEMA]);
    const groups = await scim.get('/Groups').expect(200);
    assert.equal(groups.body.totalResults, 0);
  });

  it('POST /Bulk › more operations than maxOperations › 413 SCIM error, nothing created', async () => {
    const { scim } = await fresh();
    const ops = Array.from({ length: 6 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: entraUser() }));

    const res = await scim.post('/Bulk', bulk(ops));

    assertScimError(res, 413);
    const users = await scim.get('/Users').expect(200);
    assert.equal(users.body.totalResults, 0);
  });
});
