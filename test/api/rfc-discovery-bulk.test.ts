import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Response } from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA } from '../support/factories';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const SCIM_JSON = /^application\/scim\+json/;

function assertScimError(res: Response, status: number, scimType?: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.match(res.headers['content-type'] ?? '', SCIM_JSON);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
  assert.equal(res.body.status, String(status));
  assert.equal(res.body.scimType, scimType);
}

const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => ({ schemas: [BULK_REQUEST], Operations, ...extra });

describe('RFC 7644 discovery and bulk', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp({ maxBulkOperations: 5, maxPageSize: 200 });
  });
  after(() => t.close());

  const fresh = async () => scimClient(t.app, (await makeDirectory(t.app)).token);

  describe('discovery (RFC 7644 §4, RFC 7643 §5–7)', () => {
    it('GET /ServiceProviderConfig › every RFC 7643 §5 feature is described, with the configured limits', async () => {
      const scim = await fresh();

      const res = await scim.get('/ServiceProviderConfig').expect(200);

      assert.match(res.headers['content-type'], SCIM_JSON);
      const spc = res.body;
      assert.deepEqual(spc.schemas, [SPC_SCHEMA]);
      assert.equal(spc.patch.supported, true);
      assert.deepEqual(spc.bulk, { supported: true, maxOperations: 5, maxPayloadSize: 1_048_576 });
      assert.deepEqual(spc.filter, { supported: true, maxResults: 200 });
      assert.equal(typeof spc.changePassword.supported, 'boolean');
      assert.equal(spc.sort.supported, true);
      assert.equal(spc.etag.supported, true);
      assert.ok(spc.authenticationSchemes.length >= 1);
      for (const scheme of spc.authenticationSchemes) {
        for (const key of ['type', 'name', 'description']) assert.equal(typeof scheme[key], 'string', key);
      }
      assert.equal(spc.authenticationSchemes[0].type, 'oauthbearertoken');
    });

    it('GET /ResourceTypes › a ListResponse of User and Group with endpoints, schemas and the enterprise extension', async () => {
      const scim = await fresh();

      const res = await scim.get('/ResourceTypes').expect(200);

      assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
      assert.equal(res.body.totalResults, 2);
      const byId = Object.fromEntries(res.body.Resources.map((r: { id: string }) => [r.id, r]));
      assert.deepEqual(byId.User.schemas, [RESOURCE_TYPE_SCHEMA]);
      assert.equal(byId.User.name, 'User');
      assert.equal(byId.User.endpoint, '/Users');
      assert.equal(byId.User.schema, USER_SCHEMA);
      assert.deepEqual(byId.User.schemaExtensions, [{ schema: ENTERPRISE, required: false }]);
      assert.equal(byId.User.meta.resourceType, 'ResourceType');
      assert.ok(byId.User.meta.location.endsWith('/ResourceTypes/User'));
      assert.equal(byId.Group.endpoint, '/Groups');
      assert.equal(byId.Group.schema, GROUP_SCHEMA);
    });

    it('GET /ResourceTypes/User › the same resource as in the list; an unknown type › 404', async () => {
      const scim = await fresh();
      const list = await scim.get('/ResourceTypes').expect(200);

      const one = await scim.get('/ResourceTypes/User').expect(200);

      assert.deepEqual(
        one.body,
        list.body.Resources.find((r: { id: string }) => r.id === 'User'),
      );
      assertScimError(await scim.get('/ResourceTypes/Printer'), 404);
    });

    it('GET /Schemas › user, group and enterprise schemas, each attribute with its RFC 7643 §7 characteristics', async () => {
      const scim = await fresh();

      const res = await scim.get('/Schemas').expect(200);

      assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
      const ids = res.body.Resources.map((s: { id: string }) => s.id);
      for (const urn of [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]) assert.ok(ids.includes(urn), urn);
      for (const schema of res.body.Resources) {
        assert.deepEqual(schema.schemas, [SCHEMA_SCHEMA]);
        assert.equal(typeof schema.name, 'string');
        assert.equal(schema.meta.resourceType, 'Schema');
        assert.ok(schema.meta.location.endsWith(`/Schemas/${schema.id}`));
        for (const a of schema.attributes) {
          assert.equal(typeof a.name, 'string');
          assert.equal(typeof a.type, 'string');
          for (const flag of ['multiValued', 'required', 'caseExact']) assert.equal(typeof a[flag], 'boolean', `${a.name}.${flag}`);
          for (const key of ['mutability', 'returned', 'uniqueness']) assert.equal(typeof a[key], 'string', `${a.name}.${key}`);
          if (a.type === 'complex') assert.ok(a.subAttributes.length > 0, `${a.name} has subAttributes`);
        }
      }
      const user = res.body.Resources.find((s: { id: string }) => s.id === USER_SCHEMA);
      const userName = user.attributes.find((a: { name: string }) => a.name === 'userName');
      assert.equal(userName.required, true);
      assert.equal(userName.uniqueness, 'server');
      const password = user.attributes.find((a: { name: string }) => a.name === 'password');
      assert.equal(password.returned, 'never');
      assert.equal(password.mutability, 'writeOnly');
    });

    it('GET /Schemas/{urn} › the schema as listed; an unknown URN › 404', async () => {
      const scim = await fresh();
      const list = await scim.get('/Schemas').expect(200);

      const one = await scim.get(`/Schemas/${ENTERPRISE}`).expect(200);

      assert.deepEqual(
        one.body,
        list.body.Resources.find((s: { id: string }) => s.id === ENTERPRISE),
      );
      assertScimError(await scim.get('/Schemas/urn:ietf:params:scim:schemas:extension:nobody:2.0:User'), 404);
    });

    for (const path of ['/ServiceProviderConfig', '/ResourceTypes', '/Schemas', `/Schemas/${USER_SCHEMA}`]) {
      it(`GET ${path.replace(USER_SCHEMA, '{urn}')}?filter=… › 403 SCIM error (RFC 7644 §4: filters are not applied here)`, async () => {
        const scim = await fresh();

        const res = await scim.get(`${path}?filter=${encodeURIComponent('id eq "User"')}`);

        assertScimError(res, 403);
      });
    }

    it('GET /Schemas?startIndex=2&count=1&sortBy=name › paging and sorting ignored, the full list', async () => {
      const scim = await fresh();
      const plain = await scim.get('/Schemas').expect(200);

      const res = await scim.get('/Schemas?startIndex=2&count=1&sortBy=name&sortOrder=descending').expect(200);

      assert.deepEqual(res.body, plain.body);
    });

    it('a directory extension schema › on /Schemas and /ResourceTypes, stored on users and filterable', async () => {
      const dir = await makeDirectory(t.app);
      const scim = scimClient(t.app, dir.token);
      const urn = `urn:ietf:params:scim:schemas:extension:rfc${randomUUID().slice(0, 8)}:2.0:User`;
      await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
        .send({
          id: urn,
          name: 'Tracking',
          attributes: [
            { name: 'tracking', type: 'boolean' },
            { name: 'level', type: 'integer' },
          ],
        })
        .expect(201);

      const schema = await scim.get(`/Schemas/${urn}`).expect(200);
      const type = await scim.get('/ResourceTypes/User').expect(200);
      const { body: tracked } = await scim.post('/Users', entraUser({ schemas: [USER_SCHEMA, urn], [urn]: { tracking: true, level: 3 } })).expect(201);
      await scim.post('/Users', entraUser({ schemas: [USER_SCHEMA, urn], [urn]: { tracking: false, level: 1 } })).expect(201);
      const found = await scim.get(`/Users?filter=${encodeURIComponent(`${urn}:tracking eq true and ${urn}:level ge 2`)}`).expect(200);

      assert.equal(schema.body.id, urn);
      assert.deepEqual(type.body.schemaExtensions.map((e: { schema: string }) => e.schema).sort(), [ENTERPRISE, urn].sort());
      assert.deepEqual(tracked[urn], { tracking: true, level: 3 });
      assert.ok(tracked.schemas.includes(urn));
      assert.deepEqual(
        found.body.Resources.map((u: { id: string }) => u.id),
        [tracked.id],
      );
    });

    it('GET /scim/v1/ServiceProviderConfig › the same API under the v1 alias, locations under /scim/v1', async () => {
      const dir = await makeDirectory(t.app);
      const v1 = scimClient(t.app, dir.token, '/scim/v1');

      const res = await v1.get('/ServiceProviderConfig').expect(200);
      const { body: user } = await v1.post('/Users', entraUser()).expect(201);

      assert.deepEqual(res.body.schemas, [SPC_SCHEMA]);
      assert.match(user.meta.location, /\/scim\/v1\/Users\//);
    });
  });

  describe('POST /Bulk (RFC 7644 §3.7)', () => {
    it('POST /Bulk › a user by bulkId, then a group naming "bulkId:…" as member, then a PATCH by bulkId › all applied', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
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
      const scim = await fresh();
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
      const scim = await fresh();
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
      const scim = await fresh();

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
      const scim = await fresh();
      const ops = Array.from({ length: 6 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: entraUser() }));

      const res = await scim.post('/Bulk', bulk(ops));

      assertScimError(res, 413);
      const users = await scim.get('/Users').expect(200);
      assert.equal(users.body.totalResults, 0);
    });
  });
});
