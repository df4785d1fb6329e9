/**
 * Two vendors' Entra setups as their customers follow them (the README's "Connecting Microsoft
 * Entra ID"), step by step, through the admin API and the SCIM API at the Tenant URL the operator
 * hands out (`…/scim/v1`):
 *   ActivTrak: "+ Add Instance" with an API key name, a key shown once and regenerable,
 *       the vendor extension (userPrincipalNames[value eq null].value, tracking), the enterprise
 *       employeeNumber, groups without externalId whose members are users only.
 *   Hellotracks: the key as Entra's Secret Token, "Test connection", create users,
 *       update their attributes, deactivate them (logical delete, the user stays).
 * Every step also checks the events it writes to the tenant's feed.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { StoredEvent } from '../../shared/db/repositories/events';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA } from '../support/factories';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

// The ActivTrak custom attribute mapping targets as customers enter them in Entra, verbatim (note
// the "." after the URN in the first two).
const UPN_TARGET = `${ACTIVTRAK}.userPrincipalNames[value eq null].value`;
const TRACKING_TARGET = `${ACTIVTRAK}.tracking`;
const TRACKING_COLON = `${ACTIVTRAK}:tracking`;
const EMPLOYEE_TARGET = `${ENTERPRISE}:employeeNumber`;

/** The ActivTrak extension as a SCIM Schema resource. */
const activTrakSchema = () => ({
  schemas: [SCHEMA_SCHEMA],
  id: ACTIVTRAK,
  name: 'ActivTrakUser',
  description: 'ActivTrak user extension',
  attributes: [
    {
      name: 'userPrincipalNames',
      type: 'complex',
      multiValued: true,
      required: false,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'none',
      subAttributes: [
        {
          name: 'value',
          type: 'string',
          multiValued: false,
          required: false,
          caseExact: false,
          mutability: 'readWrite',
          returned: 'default',
          uniqueness: 'none',
        },
      ],
    },
    { name: 'tracking', type: 'boolean', multiValued: false, required: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none' },
  ],
});

const uniqueSuffix = () => randomUUID().replace(/-/g, '').slice(0, 12);

interface Instance {
  readonly tenantId: string;
  readonly directoryId: string;
  readonly keyId: string;
  readonly token: string;
  readonly scimUrl: string;
  /** Path part of scimUrl, e.g. /scim/v1: where Entra sends its requests. */
  readonly base: string;
  readonly body: Record<string, any>;
}

/** The vendor's "+ Add Instance" step: a tenant, a directory, and a key with the name the operator typed. */
async function addInstance(t: TestApp, keyName = `Entra ID via SCIM ${uniqueSuffix()}`): Promise<Instance> {
  const tenant = await asAdmin(request(t.app).post('/admin/v1/tenants')).send({ name: `Customer ${uniqueSuffix()}` });
  assert.equal(tenant.status, 201);
  const dir = await asAdmin(request(t.app).post(`/admin/v1/tenants/${tenant.body.id}/directories`)).send({
    name: `Entra ID via SCIM ${uniqueSuffix()}`,
    provider: 'entra',
    keyName,
  });
  assert.equal(dir.status, 201);
  return {
    tenantId: tenant.body.id,
    directoryId: dir.body.id,
    keyId: dir.body.key.id,
    token: dir.body.key.token,
    scimUrl: dir.body.scimUrl,
    base: new URL(dir.body.scimUrl).pathname,
    body: dir.body,
  };
}

const client = (t: TestApp, inst: Pick<Instance, 'token' | 'base'>, token = inst.token) => scimClient(t.app, token, inst.base);

/** An event of the feed as the admin API returns it, its `data` read freely. */
type FeedEvent = Omit<StoredEvent, 'data'> & { data: any };

async function feedPage(t: TestApp, tenantId: string, query: Record<string, string | number>) {
  const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${tenantId}/events`)).query(query);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { data: FeedEvent[]; next: string | null; hasMore: boolean };
}

/**
 * The tenant's whole feed. The feed holds back events while an older transaction anywhere on
 * the PostgreSQL server is still open (see listTenantEvents; other suites share the server), so
 * wait until `atLeast` are visible. Callers then compare the whole feed exactly.
 */
async function tenantEvents(t: TestApp, tenantId: string, atLeast: number): Promise<FeedEvent[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { data } = await feedPage(t, tenantId, { limit: 1000 });
    if (data.length >= atLeast || Date.now() > deadline) return data;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const typesOf = (events: FeedEvent[]) => events.map((e) => e.type);

async function getUser(t: TestApp, inst: Instance, id: string) {
  const res = await client(t, inst).get(`/Users/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

describe('Seed guides (ActivTrak 000, Hellotracks 003)', () => {
  let t: TestApp;
  let registration: request.Response;

  before(async () => {
    t = makeTestApp();
    // The operator registers the vendor's extension once, platform-wide, before any customer connects.
    registration = await asAdmin(request(t.app).post('/admin/v1/schemas')).send(activTrakSchema());
  });
  after(() => t.close());

  describe('admin › + Add Instance and its API key', () => {
    it('POST /admin/v1/tenants/{id}/directories › with an API key name › 201 with a /scim/v1 Tenant URL and a working key', async () => {
      const keyName = `ActivTrak key ${uniqueSuffix()}`;

      const inst = await addInstance(t, keyName);

      assert.match(inst.scimUrl, /^https?:\/\/[^/]+\/scim\/v1$/);
      assert.equal(inst.base, '/scim/v1');
      assert.equal(inst.body.tenantId, inst.tenantId);
      assert.equal(inst.body.provider, 'entra');
      assert.equal(typeof inst.token, 'string');
      assert.ok(inst.token.length >= 40, 'a bearer secret with enough entropy');
      assert.equal(inst.body.key.name, keyName);
      const ok = await client(t, inst).get('/Users');
      assert.equal(ok.status, 200);
      assert.match(ok.headers['content-type'], /application\/scim\+json/);
    });

    it('GET keys and the directory › after creation › the token is never shown again', async () => {
      const inst = await addInstance(t);

      const keys = await asAdmin(request(t.app).get(`/admin/v1/directories/${inst.directoryId}/keys`));
      const directory = await asAdmin(request(t.app).get(`/admin/v1/directories/${inst.directoryId}`));
      const directories = await asAdmin(request(t.app).get(`/admin/v1/tenants/${inst.tenantId}/directories`));

      assert.equal(keys.status, 200);
      assert.deepEqual(
        keys.body.data.map((k: { id: string }) => k.id),
        [inst.keyId],
      );
      assert.equal(keys.body.data[0].token, undefined);
      assert.equal(keys.body.data[0].revokedAt, null);
      for (const [what, res] of [
        ['keys', keys],
        ['directory', directory],
        ['directories', directories],
      ] as const) {
        assert.equal(res.status, 200);
        assert.ok(!res.text.includes(inst.token), `${what} must not reveal the token`);
        // Nor the secret part of it: the visible prefix is a few characters only.
        assert.ok(!res.text.includes(inst.token.slice(-20)), `${what} must not reveal the token's secret part`);
      }
    });

    it('POST keys/{keyId}/regenerate › a lost key › new token works at once, the old one gets 401 Bearer with a SCIM error', async () => {
      const inst = await addInstance(t, 'Lost key');
      assert.equal((await client(t, inst).get('/Users')).status, 200);

      const regen = await asAdmin(request(t.app).post(`/admin/v1/directories/${inst.directoryId}/keys/${inst.keyId}/regenerate`)).send({});

      assert.equal(regen.status, 201, JSON.stringify(regen.body));
      assert.equal(typeof regen.body.token, 'string');
      assert.notEqual(regen.body.token, inst.token);
      assert.equal(regen.body.name, 'Lost key');
      assert.equal((await client(t, inst, regen.body.token).get('/Users')).status, 200);
      const old = await client(t, inst).get('/Users');
      assert.equal(old.status, 401);
      assert.match(old.headers['www-authenticate'] ?? '', /^Bearer\b/);
      assert.match(old.headers['content-type'], /application\/scim\+json/);
      assert.deepEqual(old.body.schemas, [ERROR_SCHEMA]);
      assert.equal(old.body.status, '401');
      const keys = await asAdmin(request(t.app).get(`/admin/v1/directories/${inst.directoryId}/keys`));
      const byId = new Map(keys.body.data.map((k: { id: string }) => [k.id, k]));
      assert.notEqual((byId.get(inst.keyId) as { revokedAt: string | null }).revokedAt, null);
      assert.equal((byId.get(regen.body.id) as { revokedAt: string | null }).revokedAt, null);
      assert.ok(!keys.text.includes(regen.body.token));
    });

    it('POST keys/{keyId}/regenerate › a key that does not exist › 404 and the live key keeps working', async () => {
      const inst = await addInstance(t);

      const res = await asAdmin(request(t.app).post(`/admin/v1/directories/${inst.directoryId}/keys/${randomUUID()}/regenerate`)).send({});

      assert.equal(res.status, 404);
      assert.equal((await client(t, inst).get('/Users')).status, 200);
    });

    it('POST keys then DELETE the old one › rotation › both keys work meanwhile and the revoked one fails on the very next request', async () => {
      const inst = await addInstance(t);

      const second = await asAdmin(request(t.app).post(`/admin/v1/directories/${inst.directoryId}/keys`)).send({ name: 'rotation' });
      assert.equal(second.status, 201);
      assert.equal(typeof second.body.token, 'string');
      assert.equal((await client(t, inst).get('/Users')).status, 200);
      assert.equal((await client(t, inst, second.body.token).get('/Users')).status, 200);
      const revoked = await asAdmin(request(t.app).delete(`/admin/v1/directories/${inst.directoryId}/keys/${inst.keyId}`));

      assert.equal(revoked.status, 204);
      const next = await client(t, inst).get('/Users');
      assert.equal(next.status, 401);
      assert.match(next.headers['www-authenticate'] ?? '', /^Bearer\b/);
      assert.deepEqual(next.body.schemas, [ERROR_SCHEMA]);
      assert.equal((await client(t, inst, second.body.token).get('/Users')).status, 200);
    });

    it('SCIM request › a token that was never issued › 401 with WWW-Authenticate Bearer (Entra\'s "Test connection" fails)', async () => {
      const inst = await addInstance(t);

      const res = await client(t, inst, `${inst.token.slice(0, -4)}AAAA`).get(`/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`);

      assert.equal(res.status, 401);
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer\b/);
      assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
    });
  });

  describe('admin › the ActivTrak extension schema', () => {
    it('POST /admin/v1/schemas › the ActivTrak extension › 201 with the RFC 7643 schema as registered', async () => {
      // Tolerates one case only: the same platform-wide schema already registered (409 uniqueness)
      // by another test file sharing the database; then the stored one must be this very schema.
      let stored: Record<string, any> = registration.body;
      if (registration.status === 409) {
        assert.equal(registration.body.scimType, 'uniqueness');
        const list = await asAdmin(request(t.app).get('/admin/v1/schemas'));
        stored = list.body.data.find((s: { id: string }) => s.id === ACTIVTRAK);
      } else {
        assert.equal(registration.status, 201, JSON.stringify(registration.body));
      }

      assert.equal(stored.id, ACTIVTRAK);
      assert.equal(stored.resourceType, 'User');
      assert.equal(stored.scope, 'platform');
      const upn = stored.attributes.find((a: { name: string }) => a.name === 'userPrincipalNames');
      const tracking = stored.attributes.find((a: { name: string }) => a.name === 'tracking');
      assert.equal(upn.type, 'complex');
      assert.equal(upn.multiValued, true);
      assert.deepEqual(
        upn.subAttributes.map((s: { name: string; type: string }) => [s.name, s.type]),
        [['value', 'string']],
      );
      assert.equal(tracking.type, 'boolean');
      assert.equal(tracking.multiValued, false);
    });

    it('POST /admin/v1/schemas › the same URN again › 409 uniqueness', async () => {
      const res = await asAdmin(request(t.app).post('/admin/v1/schemas')).send(activTrakSchema());

      assert.equal(res.status, 409);
      assert.equal(res.body.scimType, 'uniqueness');
    });

    it("GET /Schemas and /ResourceTypes › a new instance › list the platform extension and User's schemaExtensions", async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);

      const schemas = await scim.get('/Schemas');
      const one = await scim.get(`/Schemas/${ACTIVTRAK}`);
      const types = await scim.get('/ResourceTypes');
      const userType = await scim.get('/ResourceTypes/User');

      assert.equal(schemas.status, 200);
      const listed = schemas.body.Resources.find((s: { id: string }) => s.id === ACTIVTRAK);
      assert.ok(listed, '/Schemas lists the ActivTrak extension');
      assert.deepEqual(listed.schemas, [SCHEMA_SCHEMA]);
      assert.deepEqual(listed.attributes.map((a: { name: string }) => a.name).sort(), ['tracking', 'userPrincipalNames']);
      assert.equal(one.status, 200);
      assert.equal(one.body.id, ACTIVTRAK);
      assert.match(one.body.meta.location, /\/scim\/v1\/Schemas\//);
      const user = types.body.Resources.find((r: { id: string }) => r.id === 'User');
      for (const rt of [user, userType.body]) {
        assert.deepEqual(
          rt.schemaExtensions.find((e: { schema: string }) => e.schema === ACTIVTRAK),
          { schema: ACTIVTRAK, required: false },
        );
        assert.ok(rt.schemaExtensions.some((e: { schema: string }) => e.schema === ENTERPRISE));
      }
    });

    it('POST /admin/v1/directories/{id}/schemas › a per-directory extension › shows on that directory only and lives in its resources', async () => {
      const inst = await addInstance(t);
      const other = await addInstance(t);
      const urn = `urn:ietf:params:scim:schemas:extension:seeds${uniqueSuffix()}:2.0:User`;

      const created = await asAdmin(request(t.app).post(`/admin/v1/directories/${inst.directoryId}/schemas`)).send({
        schemas: [SCHEMA_SCHEMA],
        id: urn,
        name: 'SiteUser',
        attributes: [
          { name: 'siteCode', type: 'string', multiValued: false, required: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none' },
        ],
      });

      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.id, urn);
      assert.equal(created.body.scope, 'directory');
      const own = client(t, inst);
      const foreign = client(t, other);
      assert.ok((await own.get('/Schemas')).body.Resources.some((s: { id: string }) => s.id === urn));
      assert.ok(!(await foreign.get('/Schemas')).body.Resources.some((s: { id: string }) => s.id === urn));
      assert.equal((await own.get(`/Schemas/${urn}`)).status, 200);
      assert.equal((await foreign.get(`/Schemas/${urn}`)).status, 404);
      const ownUser = (await own.get('/ResourceTypes/User')).body;
      const foreignUser = (await foreign.get('/ResourceTypes/User')).body;
      assert.ok(ownUser.schemaExtensions.some((e: { schema: string }) => e.schema === urn));
      assert.ok(
        ownUser.schemaExtensions.some((e: { schema: string }) => e.schema === ACTIVTRAK),
        'platform extensions stay',
      );
      assert.ok(!foreignUser.schemaExtensions.some((e: { schema: string }) => e.schema === urn));
      const user = await own.post('/Users', entraUser({ schemas: [USER_SCHEMA, urn], [urn]: { siteCode: 'LIS-1' } }));
      assert.equal(user.status, 201, JSON.stringify(user.body));
      assert.ok(user.body.schemas.includes(urn));
      assert.deepEqual((await getUser(t, inst, user.body.id))[urn], { siteCode: 'LIS-1' });
      const elsewhere = await foreign.post('/Users', entraUser({ [urn]: { siteCode: 'LIS-1' } }));
      assert.equal(elsewhere.status, 400);
      assert.deepEqual(elsewhere.body.schemas, [ERROR_SCHEMA]);
    });
  });

  describe('SCIM › Test connection (Hellotracks 003, step 4)', () => {
    it('GET /Users?filter=userName eq "<random guid>" › no User-Agent › 200 empty ListResponse', async () => {
      const inst = await addInstance(t);

      const res = await client(t, inst).get(`/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`);

      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.headers['content-type'], /application\/scim\+json/);
      assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
      assert.equal(res.body.totalResults, 0);
      assert.deepEqual(res.body.Resources ?? [], []);
    });
  });

  describe('SCIM › Entra writes the ActivTrak mapping targets', () => {
    it('POST /Users › extension objects with tracking true › 201, and GET has them under their URNs', async () => {
      const inst = await addInstance(t);
      const upn = `upn-${uniqueSuffix()}@contoso.example`;

      const created = await client(t, inst).post(
        '/Users',
        entraUser({
          schemas: [USER_SCHEMA, ENTERPRISE, ACTIVTRAK],
          [ENTERPRISE]: { employeeNumber: '701984' },
          [ACTIVTRAK]: { userPrincipalNames: [{ value: upn }], tracking: true },
        }),
      );

      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.ok(created.body.schemas.includes(ACTIVTRAK));
      assert.ok(created.body.schemas.includes(ENTERPRISE));
      const got = await getUser(t, inst, created.body.id);
      assert.deepEqual(got[ACTIVTRAK], { userPrincipalNames: [{ value: upn }], tracking: true });
      assert.equal(got[ENTERPRISE].employeeNumber, '701984');
      assert.equal(got.userPrincipalNames, undefined, 'extension attributes never leak to the top level');
      assert.equal(got.tracking, undefined);
    });

    for (const [sent, stored] of [
      ['True', true],
      ['False', false],
    ] as const) {
      it(`POST /Users › tracking sent as the string "${sent}" › stored and returned as the boolean ${stored}`, async () => {
        const inst = await addInstance(t);

        const created = await client(t, inst).post(
          '/Users',
          entraUser({ schemas: [USER_SCHEMA, ACTIVTRAK], [ACTIVTRAK]: { userPrincipalNames: [{ value: `u-${uniqueSuffix()}@c.example` }], tracking: sent } }),
        );

        assert.equal(created.status, 201, JSON.stringify(created.body));
        const got = await getUser(t, inst, created.body.id);
        assert.equal(got[ACTIVTRAK].tracking, stored);
      });
    }

    it('PUT /Users/{id} › new extension values with tracking "False" › 200 and GET returns exactly them', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const body = entraUser({
        schemas: [USER_SCHEMA, ENTERPRISE, ACTIVTRAK],
        [ENTERPRISE]: { employeeNumber: '1' },
        [ACTIVTRAK]: { userPrincipalNames: [{ value: 'old@contoso.example' }], tracking: true },
      });
      const created = await scim.post('/Users', body);
      assert.equal(created.status, 201);

      const replaced = await scim.put(`/Users/${created.body.id}`, {
        ...body,
        [ENTERPRISE]: { employeeNumber: '2' },
        [ACTIVTRAK]: { userPrincipalNames: [{ value: 'new@contoso.example' }], tracking: 'False' },
      });

      assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
      const got = await getUser(t, inst, created.body.id);
      assert.deepEqual(got[ACTIVTRAK], { userPrincipalNames: [{ value: 'new@contoso.example' }], tracking: false });
      assert.equal(got[ENTERPRISE].employeeNumber, '2');
    });

    it('PATCH /Users/{id} › each mapping target as a path › values land under the extension URNs', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const created = await scim.post('/Users', entraUser());
      assert.equal(created.status, 201);
      const upn = `upn-${uniqueSuffix()}@contoso.example`;

      const patched = await scim.patch(
        `/Users/${created.body.id}`,
        patchOp(
          { op: 'Add', path: UPN_TARGET, value: upn },
          { op: 'Add', path: TRACKING_TARGET, value: 'True' },
          { op: 'Add', path: EMPLOYEE_TARGET, value: '4711' },
        ),
      );

      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const got = await getUser(t, inst, created.body.id);
      assert.deepEqual(got[ACTIVTRAK], { userPrincipalNames: [{ value: upn }], tracking: true });
      assert.equal(got[ENTERPRISE].employeeNumber, '4711');
      assert.ok(got.schemas.includes(ACTIVTRAK));
      const events = await tenantEvents(t, inst.tenantId, 2);
      assert.deepEqual(typesOf(events), ['user.created', 'user.updated']);
      assert.deepEqual([...events[1].data.changedAttributes].sort(), [`${ACTIVTRAK}:tracking`, `${ACTIVTRAK}:userPrincipalNames`, EMPLOYEE_TARGET].sort());
    });

    it("PATCH /Users/{id} › employeeNumber through the dot form of ActivTrak's API reference › stored under the enterprise URN", async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const created = await scim.post('/Users', entraUser());
      assert.equal(created.status, 201);

      const patched = await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}.employeeNumber`, value: 'E-77' }));

      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal((await getUser(t, inst, created.body.id))[ENTERPRISE].employeeNumber, 'E-77');
      const found = await scim.get(`/Users?filter=${encodeURIComponent(`${EMPLOYEE_TARGET} eq "E-77"`)}`);
      assert.deepEqual(
        found.body.Resources.map((r: { id: string }) => r.id),
        [created.body.id],
      );
    });

    it('PATCH /Users/{id} › tracking replaced through the colon form with "False" › the boolean false', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const created = await scim.post('/Users', entraUser({ [ACTIVTRAK]: { userPrincipalNames: [{ value: 'a@contoso.example' }], tracking: true } }));
      assert.equal(created.status, 201);

      const patched = await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Replace', path: TRACKING_COLON, value: 'False' }));

      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const got = await getUser(t, inst, created.body.id);
      assert.equal(got[ACTIVTRAK].tracking, false);
      assert.deepEqual(got[ACTIVTRAK].userPrincipalNames, [{ value: 'a@contoso.example' }]);
    });

    it('PATCH /Users/{id} › no path, the mapping targets as keys of value › values land under the extension URNs', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const created = await scim.post('/Users', entraUser());
      assert.equal(created.status, 201);
      const upn = `upn-${uniqueSuffix()}@contoso.example`;

      const patched = await scim.patch(
        `/Users/${created.body.id}`,
        patchOp({ op: 'Add', value: { [UPN_TARGET]: upn, [TRACKING_TARGET]: 'True', [EMPLOYEE_TARGET]: '815' } }),
      );

      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const got = await getUser(t, inst, created.body.id);
      assert.deepEqual(got[ACTIVTRAK], { userPrincipalNames: [{ value: upn }], tracking: true });
      assert.equal(got[ENTERPRISE].employeeNumber, '815');

      const colon = await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Replace', value: { [TRACKING_COLON]: 'False' } }));

      assert.equal(colon.status, 200, JSON.stringify(colon.body));
      assert.equal((await getUser(t, inst, created.body.id))[ACTIVTRAK].tracking, false);

      // Entra re-sends unchanged values on its next cycle: nothing changes, no event, same ETag.
      const resent = await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Replace', value: { [TRACKING_COLON]: 'False', [EMPLOYEE_TARGET]: '815' } }));
      assert.equal(resent.status, 200);
      assert.equal(resent.body.meta.version, colon.body.meta.version);
      assert.deepEqual(typesOf(await tenantEvents(t, inst.tenantId, 3)), ['user.created', 'user.updated', 'user.updated']);
    });

    it('PATCH /Users/{id} › Replace of the UPN through the filtered path › the one UPN becomes the new one', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const created = await scim.post('/Users', entraUser({ [ACTIVTRAK]: { userPrincipalNames: [{ value: 'before@contoso.example' }] } }));
      assert.equal(created.status, 201);

      const patched = await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Replace', path: UPN_TARGET, value: 'after@contoso.example' }));

      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const upns: { value?: string }[] = (await getUser(t, inst, created.body.id))[ACTIVTRAK].userPrincipalNames;
      assert.deepEqual(upns, [{ value: 'after@contoso.example' }]);
    });

    // The ActivTrak mapping writes one UPN into a list through `[value eq null].value`: after any
    // sequence of writes the list holds the current UPN only, and each change's event carries the one before.
    type Step = { patch: Record<string, unknown> } | { put: string[] };
    const UPN_KEY = `${ACTIVTRAK}:userPrincipalNames`;
    const list = (...upns: string[]) => upns.map((value) => ({ value }));
    const upnCases: [string, string[], [Step, string[] | undefined][]][] = [
      [
        'created with a UPN, then Add, Replace, Replace (each UPN change)',
        ['a@c.example'],
        [
          [{ patch: { op: 'Add', path: UPN_TARGET, value: 'b@c.example' } }, ['b@c.example']],
          [{ patch: { op: 'Replace', path: UPN_TARGET, value: 'c@c.example' } }, ['c@c.example']],
          [{ patch: { op: 'Replace', path: UPN_TARGET, value: 'd@c.example' } }, ['d@c.example']],
        ],
      ],
      [
        'created without one, then Add and Replace',
        [],
        [
          [{ patch: { op: 'Add', path: UPN_TARGET, value: 'a@c.example' } }, ['a@c.example']],
          [{ patch: { op: 'Replace', path: UPN_TARGET, value: 'b@c.example' } }, ['b@c.example']],
        ],
      ],
      [
        'created with two, then Replace',
        ['a@c.example', 'b@c.example'],
        [[{ patch: { op: 'Replace', path: UPN_TARGET, value: 'c@c.example' } }, ['c@c.example']]],
      ],
      [
        'PUT with two, then Add',
        ['a@c.example'],
        [
          [{ put: ['x@c.example', 'y@c.example'] }, ['x@c.example', 'y@c.example']],
          [{ patch: { op: 'Add', path: UPN_TARGET, value: 'z@c.example' } }, ['z@c.example']],
        ],
      ],
      [
        'path-less Replace with the mapping as a key, then Remove',
        ['a@c.example'],
        [
          [{ patch: { op: 'Replace', value: { [UPN_TARGET]: 'b@c.example' } } }, ['b@c.example']],
          [{ patch: { op: 'Remove', path: UPN_TARGET } }, undefined],
        ],
      ],
    ];
    for (const [situation, initial, steps] of upnCases) {
      it(`PATCH /Users/{id} › the UPN mapping, ${situation} › the current UPN only; each event's previousAttributes has the one before`, async () => {
        const inst = await addInstance(t);
        const scim = client(t, inst);
        const body = entraUser(initial.length ? { [ACTIVTRAK]: { userPrincipalNames: list(...initial) } } : {});
        const created = await scim.post('/Users', body);
        assert.equal(created.status, 201, JSON.stringify(created.body));
        let previous: unknown = initial.length ? list(...initial) : null;

        for (const [i, [step, expected]] of steps.entries()) {
          const res =
            'put' in step
              ? await scim.put(`/Users/${created.body.id}`, { ...body, [ACTIVTRAK]: { userPrincipalNames: list(...step.put) } })
              : await scim.patch(`/Users/${created.body.id}`, patchOp(step.patch));

          assert.equal(res.status, 200, JSON.stringify(res.body));
          const upns = (await getUser(t, inst, created.body.id))[ACTIVTRAK]?.userPrincipalNames;
          assert.deepEqual(upns, expected ? list(...expected) : undefined, `step ${i + 1}`);
          const events = await tenantEvents(t, inst.tenantId, i + 2);
          assert.equal(events.length, i + 2, `step ${i + 1} writes one event`);
          const last = events[i + 1];
          assert.equal(last.type, 'user.updated');
          assert.deepEqual(last.data.changedAttributes, [UPN_KEY]);
          assert.deepEqual(last.data.previousAttributes, { [UPN_KEY]: previous });
          previous = expected ? list(...expected) : null;
        }
      });
    }

    it("PATCH /Users/{id} › the same UPN through the mapping again (Entra's next cycle) › unchanged, no event, same ETag", async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const created = await scim.post('/Users', entraUser({ [ACTIVTRAK]: { userPrincipalNames: list('a@c.example') } }));
      assert.equal(created.status, 201);

      for (const op of ['Add', 'Replace']) {
        const res = await scim.patch(`/Users/${created.body.id}`, patchOp({ op, path: UPN_TARGET, value: 'a@c.example' }));
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.meta.version, created.body.meta.version);
      }
      assert.deepEqual((await getUser(t, inst, created.body.id))[ACTIVTRAK].userPrincipalNames, list('a@c.example'));
      assert.deepEqual(typesOf(await tenantEvents(t, inst.tenantId, 1)), ['user.created']);
    });

    it('GET /Users?filter=urn:…:activtrak:2.0:User:tracking eq true › trackers and non-trackers › finds the trackers only', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const make = async (tracking: unknown) => {
        const res = await scim.post('/Users', entraUser({ [ACTIVTRAK]: { userPrincipalNames: [{ value: `u-${uniqueSuffix()}@c.example` }], tracking } }));
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body.id as string;
      };
      const trackerA = await make(true);
      const trackerB = await make('True');
      await make(false);
      await make('False');
      const viaPatch = (await scim.post('/Users', entraUser())).body.id as string;
      assert.equal((await scim.patch(`/Users/${viaPatch}`, patchOp({ op: 'Add', path: TRACKING_TARGET, value: 'True' }))).status, 200);
      const filter = `${ACTIVTRAK}:tracking eq true`;

      const listed = await scim.get(`/Users?filter=${encodeURIComponent(filter)}`);
      const searched = await scim.post('/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter });

      for (const res of [listed, searched]) {
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.totalResults, 3);
        assert.deepEqual(res.body.Resources.map((r: { id: string }) => r.id).sort(), [trackerA, trackerB, viaPatch].sort());
        for (const r of res.body.Resources) assert.equal(r[ACTIVTRAK].tracking, true);
      }
    });
  });

  describe('SCIM › user lifecycle (Hellotracks 003)', () => {
    it('create, update, deactivate, reactivate, delete › as Entra sends them › each state is readable and each step writes its event', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const body = entraUser({ displayName: 'Ana Lima', title: 'Driver' });

      const created = await scim.post('/Users', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id as string;
      assert.equal(created.headers.location, created.body.meta.location);
      assert.deepEqual(typesOf(await tenantEvents(t, inst.tenantId, 1)), ['user.created']);

      // Update user attributes: Entra's PATCH for a changed profile.
      const updated = await scim.patch(
        `/Users/${id}`,
        patchOp(
          { op: 'Replace', path: 'displayName', value: 'Ana Lima-Souza' },
          { op: 'Replace', path: 'name.familyName', value: 'Lima-Souza' },
          { op: 'Replace', path: 'title', value: 'Dispatcher' },
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ana.souza@contoso.example' },
        ),
      );
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      let got = await getUser(t, inst, id);
      assert.equal(got.displayName, 'Ana Lima-Souza');
      assert.equal(got.name.familyName, 'Lima-Souza');
      assert.equal(got.name.givenName, 'Given');
      assert.equal(got.title, 'Dispatcher');
      assert.deepEqual(got.emails, [{ primary: true, type: 'work', value: 'ana.souza@contoso.example' }]);
      assert.notEqual(got.meta.version, created.body.meta.version);
      assert.deepEqual(typesOf(await tenantEvents(t, inst.tenantId, 2)), ['user.created', 'user.updated']);

      // Unassignment: Entra deactivates with the string "False" (logical delete).
      const deactivated = await scim.patch(`/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }));
      assert.equal(deactivated.status, 200, JSON.stringify(deactivated.body));
      got = await getUser(t, inst, id);
      assert.equal(got.active, false);
      assert.equal(got.userName, body.userName);
      const inactive = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${body.userName}" and active eq false`)}`);
      assert.deepEqual(
        inactive.body.Resources.map((r: { id: string }) => r.id),
        [id],
      );
      assert.deepEqual(typesOf(await tenantEvents(t, inst.tenantId, 3)), ['user.created', 'user.updated', 'user.deactivated']);

      // The same deactivation again changes nothing and writes nothing.
      const again = await scim.patch(`/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: false }));
      assert.equal(again.status, 200);
      assert.equal(again.body.meta.version, got.meta.version);

      const reactivated = await scim.patch(`/Users/${id}`, patchOp({ op: 'Replace', value: { active: 'True' } }));
      assert.equal(reactivated.status, 200, JSON.stringify(reactivated.body));
      assert.equal((await getUser(t, inst, id)).active, true);

      const deleted = await scim.delete(`/Users/${id}`);
      assert.equal(deleted.status, 204);
      const gone = await scim.get(`/Users/${id}`);
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.body.schemas, [ERROR_SCHEMA]);
      assert.equal((await scim.delete(`/Users/${id}`)).status, 404);

      const events = await tenantEvents(t, inst.tenantId, 5);
      assert.deepEqual(typesOf(events), ['user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted']);
      for (const e of events) {
        assert.equal(e.resourceId, id);
        assert.equal(e.directoryId, inst.directoryId);
        assert.equal(e.tenantId, inst.tenantId);
      }
    });

    it('PATCH active false › the user is in a group › user still exists and stays a member (deactivation is not deletion)', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const user = (await scim.post('/Users', entraUser())).body;
      const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Drivers ${uniqueSuffix()}`, members: [{ value: user.id }] });
      assert.equal(group.status, 201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'active', value: false }));

      assert.equal(res.status, 200);
      const members = (await scim.get(`/Groups/${group.body.id}`)).body.members;
      assert.deepEqual(
        members.map((m: { value: string }) => m.value),
        [user.id],
      );
      const events = await tenantEvents(t, inst.tenantId, 4);
      assert.deepEqual(typesOf(events), ['user.created', 'group.created', 'group.user_added', 'user.deactivated']);
    });
  });

  describe('SCIM › groups (ActivTrak 000)', () => {
    it('group lifecycle › created without externalId, members added and removed, renamed, deleted › state and events per step', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const u1 = (await scim.post('/Users', entraUser())).body.id as string;
      const u2 = (await scim.post('/Users', entraUser())).body.id as string;
      const name = `Sales ${uniqueSuffix()}`;

      // externalId is not mapped (customers remove it from the group mapping), and Entra creates groups empty.
      const created = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: name, members: [] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const gid = created.body.id as string;
      assert.equal(created.body.externalId, undefined);
      assert.equal((await scim.get(`/Groups/${gid}`)).body.externalId, undefined);

      const added = await scim.patch(`/Groups/${gid}`, patchOp({ op: 'Add', path: 'members', value: [{ value: u1 }, { value: u2 }] }));
      assert.equal(added.status, 204, JSON.stringify(added.body));
      let group = (await scim.get(`/Groups/${gid}`)).body;
      assert.deepEqual(group.members.map((m: { value: string }) => m.value).sort(), [u1, u2].sort());
      for (const m of group.members) assert.equal(m.type, 'User');
      const u1Groups = (await getUser(t, inst, u1)).groups;
      assert.deepEqual(
        u1Groups.map((g: { value: string }) => g.value),
        [gid],
      );

      const removed = await scim.patch(`/Groups/${gid}`, patchOp({ op: 'Remove', path: `members[value eq "${u1}"]` }));
      assert.equal(removed.status, 204);
      group = (await scim.get(`/Groups/${gid}`)).body;
      assert.deepEqual(
        group.members.map((m: { value: string }) => m.value),
        [u2],
      );

      const renamed = await scim.patch(`/Groups/${gid}`, patchOp({ op: 'Replace', path: 'displayName', value: `${name} EMEA` }));
      assert.equal(renamed.status, 204);
      assert.equal((await scim.get(`/Groups/${gid}`)).body.displayName, `${name} EMEA`);

      assert.equal((await scim.delete(`/Groups/${gid}`)).status, 204);
      assert.equal((await scim.get(`/Groups/${gid}`)).status, 404);
      assert.equal((await scim.get(`/Users/${u2}`)).status, 200, 'deleting a group keeps its users');

      const events = (await tenantEvents(t, inst.tenantId, 8)).filter((e) => e.resourceType === 'Group');
      assert.deepEqual(typesOf(events), ['group.created', 'group.user_added', 'group.user_added', 'group.user_removed', 'group.updated', 'group.deleted']);
      assert.deepEqual(
        events
          .filter((e) => e.type === 'group.user_added')
          .map((e) => e.data.user.id)
          .sort(),
        [u1, u2].sort(),
      );
      assert.equal(events.find((e) => e.type === 'group.user_removed')!.data.user.id, u1);
      for (const e of events) assert.equal(e.resourceId, gid);
    });

    it('PATCH /Groups/{id} › a group added as a member › 400 invalidValue, and nothing changes', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const user = (await scim.post('/Users', entraUser())).body.id as string;
      const inner = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Inner ${uniqueSuffix()}` })).body.id as string;
      const outer = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Outer ${uniqueSuffix()}`, members: [{ value: user }] });
      assert.equal(outer.status, 201);
      const before = (await scim.get(`/Groups/${outer.body.id}`)).body;

      const byId = await scim.patch(`/Groups/${outer.body.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: inner }] }));
      const byType = await scim.patch(`/Groups/${outer.body.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: inner, type: 'Group' }] }));
      const mixed = await scim.patch(`/Groups/${outer.body.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: user }, { value: inner }] }));

      for (const res of [byId, byType, mixed]) {
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.scimType, 'invalidValue');
        assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
      }
      assert.deepEqual((await scim.get(`/Groups/${outer.body.id}`)).body, before);
      const events = await tenantEvents(t, inst.tenantId, 4);
      assert.deepEqual(typesOf(events), ['user.created', 'group.created', 'group.created', 'group.user_added']);
    });

    it('POST /Groups › a group among the members › 400 invalidValue and no group is created', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const inner = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Inner ${uniqueSuffix()}` })).body.id as string;
      const name = `Nested ${uniqueSuffix()}`;

      const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: name, members: [{ value: inner }] });

      assert.equal(res.status, 400);
      assert.equal(res.body.scimType, 'invalidValue');
      const found = await scim.get(`/Groups?filter=${encodeURIComponent(`displayName eq "${name}"`)}`);
      assert.equal(found.body.totalResults, 0);
    });

    it('DELETE /Users/{id} › a group member › group.user_removed then user.deleted, and the group no longer lists it', async () => {
      const inst = await addInstance(t);
      const scim = client(t, inst);
      const user = (await scim.post('/Users', entraUser())).body.id as string;
      const group = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Team ${uniqueSuffix()}`, members: [{ value: user }] })).body
        .id as string;

      assert.equal((await scim.delete(`/Users/${user}`)).status, 204);

      assert.equal((await scim.get(`/Groups/${group}`)).body.members?.length ?? 0, 0);
      const events = await tenantEvents(t, inst.tenantId, 5);
      assert.deepEqual(typesOf(events), ['user.created', 'group.created', 'group.user_added', 'group.user_removed', 'user.deleted']);
    });
  });

  describe('admin › the tenant events feed', () => {
    it('GET /admin/v1/tenants/{id}/events › following next with a small limit › every event once, in feed order', async () => {
      const inst = await addInstance(t);
      const second = await makeDirectory(t.app, { tenantId: inst.tenantId });
      const scim = client(t, inst);
      const scim2 = scimClient(t.app, second.token, '/scim/v1');
      const u1 = (await scim.post('/Users', entraUser())).body.id as string;
      const u2 = (await scim2.post('/Users', entraUser())).body.id as string;
      await scim.patch(`/Users/${u1}`, patchOp({ op: 'replace', path: 'active', value: 'False' }));
      await scim.patch(`/Users/${u1}`, patchOp({ op: 'replace', path: 'active', value: 'True' }));
      const g = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Feed ${uniqueSuffix()}`, members: [{ value: u1 }] })).body.id as string;
      await scim.patch(`/Groups/${g}`, patchOp({ op: 'remove', path: 'members' }));
      await scim.delete(`/Groups/${g}`);
      await scim2.patch(`/Users/${u2}`, patchOp({ op: 'replace', path: 'title', value: 'Lead' }));
      await scim2.delete(`/Users/${u2}`);
      const all = await tenantEvents(t, inst.tenantId, 10);
      assert.equal(all.length, 10);

      const paged: FeedEvent[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await feedPage(t, inst.tenantId, { limit: 3, ...(after ? { after } : {}) });
        if (page.data.length === 0) {
          assert.equal(page.hasMore, false);
          assert.equal(page.next, after, 'an empty page keeps the cursor where it was');
          break;
        }
        assert.ok(page.data.length <= 3);
        assert.equal(page.next, page.data.at(-1)!.cursor);
        paged.push(...page.data);
        after = page.next!;
      }

      assert.deepEqual(
        paged.map((e) => e.id),
        all.map((e) => e.id),
      );
      assert.equal(new Set(paged.map((e) => e.id)).size, paged.length, 'no repeats');
      // Each request committed before the next was sent, so commit order is request order.
      assert.deepEqual(typesOf(all), [
        'user.created',
        'user.created',
        'user.deactivated',
        'user.reactivated',
        'group.created',
        'group.user_added',
        'group.user_removed',
        'group.deleted',
        'user.updated',
        'user.deleted',
      ]);
      assert.deepEqual(new Set(all.map((e) => e.directoryId)), new Set([inst.directoryId, second.directoryId]));
    });

    it('GET /admin/v1/tenants/{id}/events › an "after" that is not a cursor › 400 invalidValue', async () => {
      const inst = await addInstance(t);

      const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${inst.tenantId}/events`)).query({ after: 'not-a-cursor' });

      assert.equal(res.status, 400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  });
});
