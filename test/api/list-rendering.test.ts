/**
 * Lists in the default projection are assembled from the stored JSON text (renderResourceJson)
 * instead of being parsed and serialised again. Whatever the user holds, a list must show it
 * exactly as GET /Users/{id} does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, ENTERPRISE, entraUser, patchOp } from '../support/factories';
import { createGroup, filterQuery, freshDirectory } from '../support/scim-helpers';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

describe('list pages in the default projection', () => {
  it('users with extensions, groups, unicode and few attributes › each list entry equals GET of the user, extension URNs in schemas', async () => {
    const { dir, scim } = await freshDirectory(t.app);
    const custom = `urn:ietf:params:scim:schemas:extension:render${Date.now()}:2.0:User`;
    await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
      .send({ id: custom, attributes: [{ name: 'badge', type: 'string' }, { name: 'tracking', type: 'boolean' }] })
      .expect(201);
    const bodies = [
      entraUser({ [ENTERPRISE]: { employeeNumber: '42', department: 'Ops', manager: { value: 'boss' } }, schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE] }),
      entraUser({ [custom]: { badge: 'B-7', tracking: true }, schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', custom], displayName: 'Zoë "Quote" \\ Łukasz 日本 \u2028' }),
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `bare-${Date.now()}@contoso.example` },
    ];
    const users = [];
    for (const body of bodies) users.push((await scim.post('/Users', body).expect(201)).body as { id: string; userName: string });
    const group = await createGroup(scim);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: users[0].id }] })).expect(204);

    const listed = (await scim.get('/Users?count=100').expect(200)).body as { Resources: { id: string }[]; totalResults: number };
    assert.equal(listed.totalResults, 3);
    for (const user of users) {
      const single = (await scim.get(`/Users/${user.id}`).expect(200)).body;
      assert.deepEqual(listed.Resources.find((r) => r.id === user.id), single);
      const filtered = (await scim.get(`/Users?${filterQuery(`userName eq "${user.userName}"`)}`).expect(200)).body;
      assert.deepEqual(filtered.Resources, [single]);
    }
    const first = listed.Resources.find((r) => r.id === users[0].id) as Record<string, any>;
    assert.deepEqual(first.schemas, ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE]);
    assert.equal(first.groups[0].value, group.id);
    const second = listed.Resources.find((r) => r.id === users[1].id) as Record<string, any>;
    assert.deepEqual(second.schemas, ['urn:ietf:params:scim:schemas:core:2.0:User', custom]);
    assert.equal(second.displayName, 'Zoë "Quote" \\ Łukasz 日本 \u2028');
    assert.match(second.meta.created, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('the same page with attributes= or excludedAttributes= › same values, projected', async () => {
    const { scim } = await freshDirectory(t.app);
    const user = (await scim.post('/Users', entraUser()).expect(201)).body as { id: string; userName: string };
    const all = (await scim.get('/Users').expect(200)).body.Resources[0];
    const some = (await scim.get('/Users?attributes=userName').expect(200)).body.Resources[0];
    assert.deepEqual(some, { schemas: all.schemas, id: user.id, userName: user.userName });
    const without = (await scim.get('/Users?excludedAttributes=emails').expect(200)).body.Resources[0];
    const { emails: _omitted, ...rest } = all;
    assert.deepEqual(without, rest);
  });
});
