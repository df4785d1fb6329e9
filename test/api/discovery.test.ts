/** Discovery through HTTP: /ServiceProviderConfig, /ResourceTypes, /Schemas. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { asAdmin, ENTERPRISE, entraUser, GROUP_SCHEMA, LIST_RESPONSE, makeDirectory, scimClient, USER_SCHEMA } from '../support/factories';
import { apiSuite, assertScimError, assertScimJson, SCIM_JSON } from '../support/scim-helpers';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

const api = apiSuite({ maxBulkOperations: 5, maxPageSize: 200 });
const { fresh } = api;

describe('discovery', () => {
  it('GET /ServiceProviderConfig › every RFC 7643 §5 feature is described, with the configured limits', async () => {
    const { scim } = await fresh();

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
    const { scim } = await fresh();

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
    const { scim } = await fresh();
    const list = await scim.get('/ResourceTypes').expect(200);

    const one = await scim.get('/ResourceTypes/User').expect(200);

    assert.deepEqual(
      one.body,
      list.body.Resources.find((r: { id: string }) => r.id === 'User'),
    );
    assertScimError(await scim.get('/ResourceTypes/Printer'), 404);
  });

  it('GET /Schemas › user, group and enterprise schemas, each attribute with its RFC 7643 §7 characteristics in camelCase, no nulls', async () => {
    const { scim } = await fresh();

    const res = await scim.get('/Schemas').expect(200);

    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, res.body.Resources.length);
    const ids = res.body.Resources.map((s: { id: string }) => s.id);
    for (const urn of [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]) assert.ok(ids.includes(urn), urn);
    // Entra expects every characteristic of an attribute to hold a value, and chokes on nulls.
    assert.doesNotMatch(JSON.stringify(res.body), /:null[,}\]]/);
    const walk = (attrs: Record<string, unknown>[]) => {
      for (const a of attrs) {
        assert.ok(['readOnly', 'readWrite', 'immutable', 'writeOnly'].includes(a.mutability as string), `${a.name} mutability ${a.mutability}`);
        assert.ok(['always', 'never', 'default', 'request'].includes(a.returned as string), `${a.name} returned ${a.returned}`);
        assert.ok(['none', 'server', 'global'].includes(a.uniqueness as string), `${a.name} uniqueness ${a.uniqueness}`);
        if (Array.isArray(a.subAttributes)) walk(a.subAttributes as Record<string, unknown>[]);
      }
    };
    for (const s of res.body.Resources) walk(s.attributes);
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
    const group = res.body.Resources.find((s: { id: string }) => s.id === GROUP_SCHEMA);
    assert.ok(group.attributes.some((a: { name: string }) => a.name === 'displayName'));
    assert.ok(group.attributes.some((a: { name: string }) => a.name === 'members'));
    const user = res.body.Resources.find((s: { id: string }) => s.id === USER_SCHEMA);
    const userName = user.attributes.find((a: { name: string }) => a.name === 'userName');
    assert.equal(userName.required, true);
    assert.equal(userName.uniqueness, 'server');
    const password = user.attributes.find((a: { name: string }) => a.name === 'password');
    assert.equal(password.returned, 'never');
    assert.equal(password.mutability, 'writeOnly');
  });

  it('GET /Schemas/{urn} › the schema as listed; an unknown URN › 404', async () => {
    const { scim } = await fresh();
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
      const { scim } = await fresh();

      const res = await scim.get(`${path}?filter=${encodeURIComponent('id eq "User"')}`);

      assertScimError(res, 403);
    });
  }

  it('GET /Schemas?startIndex=2&count=1&sortBy=name › paging and sorting ignored, the full list', async () => {
    const { scim } = await fresh();
    const plain = await scim.get('/Schemas').expect(200);

    const res = await scim.get('/Schemas?startIndex=2&count=1&sortBy=name&sortOrder=descending').expect(200);

    assert.deepEqual(res.body, plain.body);
  });

  it('a directory extension schema › on /Schemas and /ResourceTypes, stored on users and filterable', async () => {
    const dir = await makeDirectory(api.app);
    const scim = scimClient(api.app, dir.token);
    const urn = `urn:ietf:params:scim:schemas:extension:rfc${randomUUID().slice(0, 8)}:2.0:User`;
    await asAdmin(request(api.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
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
});
