/**
 * Microsoft's "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft
 * Entra user provisioning service": every item, in the shape Entra sends by default and in the
 * compliant shape it sends when the tenant URL carries `?aadOptscim062020`. A server cannot tell
 * which one a customer configured, so both must work.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestApp, type TestApp } from '../support/app';
import {
  createGroup,
  createUser,
  eventsOf as eventsFromFeed,
  filterQuery,
  freshDirectory,
  getUser,
  groupWithMembers,
  memberIdsOf,
  sorted,
  typesFor,
  type StoredEvent,
} from '../support/scim-helpers';
import { ENTERPRISE, entraUser, GROUP_SCHEMA, patchOp, scimClient, type TestDirectory } from '../support/factories';

const ADSCIM_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
const FLAG = 'aadOptscim062020';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

const fresh = () => freshDirectory(t.app);
const eventsOf = (dir: TestDirectory, until?: (events: StoredEvent[]) => boolean) => eventsFromFeed(t.app, dir, until);

describe('Entra known issues › K1 the endpoint root', () => {
  it('/scim/v1 alias › a user created through /scim/v2 › listed, patched and deleted through /scim/v1 as well', async () => {
    const { dir, scim } = await fresh();
    const v1 = scimClient(t.app, dir.token, '/scim/v1');
    const created = await createUser(scim);

    const found = await v1.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`);
    const patched = await v1.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'via v1' }));
    const stored = await getUser(scim, created.id);
    const deleted = await v1.delete(`/Users/${created.id}`);

    assert.equal(found.status, 200);
    assert.equal(found.body.totalResults, 1);
    assert.equal(patched.status, 200);
    assert.equal(stored.displayName, 'via v1');
    assert.equal(deleted.status, 204);
    await scim.get(`/Users/${created.id}`).expect(404);
  });
});

describe('Entra known issues › K2 extension attribute paths', () => {
  it('PATCH /Users › Add urn:…:enterprise:2.0:User:department (current, colon form) › 200, enterprise department stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:department`, value: 'Retail' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id))[ENTERPRISE].department, 'Retail');
  });

  it('PATCH /Users › Add urn:…:enterprise:2.0:User.department (pre-2018 dot form) › 200, enterprise department stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}.department`, value: 'Retail' }));

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored[ENTERPRISE].department, 'Retail');
    assert.equal(stored[`${ENTERPRISE}.department`], undefined);
  });

  it('PATCH /Users › Add urn:…:enterprise:2.0:User:department lowercase (2020 compliant sample) › 200, enterprise department stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { [ENTERPRISE]: { department: 'Old' } });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'add', path: `${ENTERPRISE}:department`, value: 'Tech Infrastructure' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id))[ENTERPRISE].department, 'Tech Infrastructure');
  });
});

describe('Entra known issues › K3 filtered paths on multi-valued attributes', () => {
  it('PATCH /Users › Replace phoneNumbers[type eq "work"].value › 200, only the work number changes', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      phoneNumbers: [
        { type: 'work', value: '111' },
        { type: 'mobile', value: '222' },
      ],
    });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'phoneNumbers[type eq "work"].value', value: '333' }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).phoneNumbers, [
      { type: 'work', value: '333' },
      { type: 'mobile', value: '222' },
    ]);
  });
});

describe('Entra known issues › K4 group schema URIs', () => {
  for (const [label, schemas] of [
    ['the core URN only', [GROUP_SCHEMA]],
    ["the core URN and the ADSCIM schema (today's tutorial)", [GROUP_SCHEMA, ADSCIM_GROUP]],
    ['the pre-2018 ADSCIM schema only', ['http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group']],
  ] as const) {
    it(`POST /Groups › schemas holding ${label} › 201, group stored`, async () => {
      const { scim } = await fresh();
      const displayName = `group-${randomUUID()}`;

      const res = await scim.post('/Groups', { schemas, externalId: randomUUID(), displayName });

      assert.equal(res.status, 201);
      const stored = (await scim.get(`/Groups/${res.body.id}`).expect(200)).body;
      assert.equal(stored.displayName, displayName);
      assert.deepEqual(stored.schemas, [GROUP_SCHEMA]);
    });
  }
});

describe('Entra known issues › K5a disable and re-enable a user', () => {
  for (const [label, op, value] of [
    ['default: Replace with the string "False"', 'Replace', 'False'],
    ['flag: replace with boolean false', 'replace', false],
    ['custom mapping: Replace with the string "false"', 'Replace', 'false'],
  ] as const) {
    it(`PATCH /Users › ${label} › 200, active stored as boolean false, user.deactivated`, async () => {
      const { dir, scim } = await fresh();
      const created = await createUser(scim);

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'active', value }));

      assert.equal(res.status, 200);
      assert.equal(res.body.active, false);
      assert.equal((await getUser(scim, created.id)).active, false);
      const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.deactivated'));
      assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deactivated']);
    });
  }

  for (const [label, op, value] of [
    ['default: Replace with the string "True"', 'Replace', 'True'],
    ['flag: replace with boolean true', 'replace', true],
  ] as const) {
    it(`PATCH /Users › re-enable, ${label} › 200, active stored as boolean true, user.reactivated`, async () => {
      const { dir, scim } = await fresh();
      const created = await createUser(scim, { active: false });

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'active', value }));

      assert.equal(res.status, 200);
      assert.equal((await getUser(scim, created.id)).active, true);
      const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.reactivated'));
      assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.reactivated']);
    });
  }

  it('POST /Users › active as the string "True" or "False" › 201, stored as booleans', async () => {
    const { scim } = await fresh();

    const on = await createUser(scim, { active: 'True' });
    const off = await createUser(scim, { active: 'False' });

    assert.equal((await getUser(scim, on.id)).active, true);
    assert.equal((await getUser(scim, off.id)).active, false);
  });
});

describe('Entra known issues › K5b add a single-valued attribute', () => {
  for (const op of ['Add', 'add']) {
    it(`PATCH /Users › ${op} nickName "Babs" › 200, nickName stored`, async () => {
      const { scim } = await fresh();
      const created = await createUser(scim);

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'nickName', value: 'Babs' }));

      assert.equal(res.status, 200);
      assert.equal((await getUser(scim, created.id)).nickName, 'Babs');
    });
  }

  it('PATCH /Users › Add nickName when the user already has one › 200, the new value replaces it (RFC 7644 §3.5.2.1)', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { nickName: 'Barb' });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: 'nickName', value: 'Babs' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id)).nickName, 'Babs');
  });
});

describe('Entra known issues › K5c replace several attributes', () => {
  it('PATCH /Users › default form: one Replace per attribute, each with a path › 200, every attribute updated', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'Replace', path: 'displayName', value: 'Pvlo' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
        { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
        { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
        { op: 'Replace', path: 'externalId', value: 'Eqpj' },
        { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: 'Eqpj' },
      ),
    );

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored.displayName, 'Pvlo');
    assert.deepEqual(stored.emails, [{ primary: true, type: 'work', value: 'TestBcwqnm@test.microsoft.com' }]);
    assert.deepEqual(stored.name, { formatted: 'Given Family', givenName: 'Gtfd', familyName: 'Pkqf' });
    assert.equal(stored.externalId, 'Eqpj');
    assert.equal(stored[ENTERPRISE].employeeNumber, 'Eqpj');
  });

  it('PATCH /Users › flag form: a path-less replace whose keys are attribute paths and a URN › 200, each key applied as a path, name merged', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { [ENTERPRISE]: { department: 'Sales' } });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
        {
          op: 'replace',
          value: {
            displayName: 'Bjfe',
            'name.givenName': 'Kkom',
            'name.familyName': 'Unua',
            [`${ENTERPRISE}:employeeNumber`]: 'Aklq',
          },
        },
      ),
    );

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored.displayName, 'Bjfe');
    assert.deepEqual(stored.name, { formatted: 'Given Family', givenName: 'Kkom', familyName: 'Unua' });
    assert.deepEqual(stored[ENTERPRISE], { department: 'Sales', employeeNumber: 'Aklq' });
    assert.deepEqual(stored.emails, [{ primary: true, type: 'work', value: 'TestMhvaes@test.microsoft.com' }]);
    assert.equal(stored['name.givenName'], undefined);
  });

  it('PATCH /Users › a path-less replace whose key is a value path (emails[type eq "work"].value) › 200, the work email updated', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      emails: [
        { type: 'work', value: 'old@contoso.com', primary: true },
        { type: 'home', value: 'home@contoso.com' },
      ],
    });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', value: { 'emails[type eq "work"].value': 'new@contoso.com' } }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).emails, [
      { type: 'work', value: 'new@contoso.com', primary: true },
      { type: 'home', value: 'home@contoso.com' },
    ]);
  });
});

describe('Entra known issues › K5d remove a group member', () => {
  it('PATCH /Groups › default form: Remove members with a value array (no $ref) › 204, only that member removed, group.user_removed', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 3);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: 'members', value: [{ value: ids[0] }] }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids.slice(1)));
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_removed'));
    assert.deepEqual(
      events.filter((e) => e.type === 'group.user_removed').map((e) => e.data.user!.id),
      [ids[0]],
    );
  });

  it('PATCH /Groups › default form: Remove members listing two of three › 204, exactly those two removed, never the whole group', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 3);

    const res = await scim.patch(
      `/Groups/${group.id}`,
      patchOp({
        op: 'Remove',
        path: 'members',
        value: [
          { $ref: null, value: ids[0] },
          { $ref: null, value: ids[2] },
        ],
      }),
    );

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [ids[1]]);
    const events = await eventsOf(dir, (e) => e.filter((x) => x.type === 'group.user_removed').length >= 2);
    assert.deepEqual(sorted(events.filter((e) => e.type === 'group.user_removed').map((e) => e.data.user!.id)), sorted([ids[0], ids[2]]));
  });

  it('PATCH /Groups › flag form: remove members[value eq "<id>"] › 204, only that member removed, group.user_removed', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 3);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'remove', path: `members[value eq "${ids[1]}"]` }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted([ids[0], ids[2]]));
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_removed'));
    assert.deepEqual(
      events.filter((e) => e.type === 'group.user_removed').map((e) => e.data.user!.id),
      [ids[1]],
    );
  });

  it('PATCH /Groups › Remove members listing every member › 204, the group is empty, one group.user_removed per member', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 3);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: 'members', value: ids.map((value) => ({ value })) }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), []);
    const events = await eventsOf(dir, (e) => e.filter((x) => x.type === 'group.user_removed').length >= 3);
    assert.deepEqual(sorted(events.filter((e) => e.type === 'group.user_removed').map((e) => e.data.user!.id)), sorted(ids));
  });

  it('PATCH /Groups › remove members with no value and no filter › 204, every member removed (RFC 7644 §3.5.2.2)', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 3);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'remove', path: 'members' }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), []);
    const events = await eventsOf(dir, (e) => e.filter((x) => x.type === 'group.user_removed').length >= 3);
    assert.deepEqual(sorted(events.filter((e) => e.type === 'group.user_removed').map((e) => e.data.user!.id)), sorted(ids));
    await scim.get(`/Users/${ids[0]}`).expect(200);
  });
});

describe("Entra known issues › K5e the 2020 draft's extra samples", () => {
  it('PATCH /Groups › add members [{ value }] without $ref › 204, member added, group.user_added', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: user.id }] }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_added'));
    assert.deepEqual(
      events.filter((e) => e.type === 'group.user_added').map((e) => [e.data.group!.id, e.data.user!.id]),
      [[group.id, user.id]],
    );
  });

  it('PATCH /Users › value-path replaces of work email value and primary plus a path-less replace of active and userName › 200, all applied', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim, { emails: [{ type: 'work', value: 'old@contoso.com' }] });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'someone@contoso.com' },
        { op: 'replace', path: 'emails[type eq "work"].primary', value: true },
        { op: 'replace', value: { active: false, userName: 'someone' } },
      ),
    );

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.deepEqual(stored.emails, [{ type: 'work', value: 'someone@contoso.com', primary: true }]);
    assert.equal(stored.active, false);
    assert.equal(stored.userName, 'someone');
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).length >= 2);
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deactivated']);
  });

  it('PATCH /Users › a mixed request whose last operation is invalid › 400, and none of the earlier operations is applied', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'someone@contoso.com' },
        { op: 'replace', value: { active: false } },
        { op: 'replace', path: 'active', value: 'maybe' },
      ),
    );

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    const stored = await getUser(scim, created.id);
    assert.deepEqual(stored.emails, created.emails);
    assert.equal(stored.active, true);
    assert.equal(stored.meta.version, created.meta.version);
  });
});

describe('Entra known issues › a value path that matches nothing creates the value', () => {
  for (const op of ['Add', 'Replace']) {
    it(`PATCH /Users › ${op} emails[type eq "work"].value on a user without a work email › 200, a work email is created`, async () => {
      const { scim } = await fresh();
      const created = await createUser(scim, { emails: [{ type: 'home', value: 'home@contoso.com' }] });

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'emails[type eq "work"].value', value: 'work@contoso.com' }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, created.id)).emails, [
        { type: 'home', value: 'home@contoso.com' },
        { type: 'work', value: 'work@contoso.com' },
      ]);
    });

    it(`PATCH /Users › ${op} addresses[type eq "work"].streetAddress on a user without addresses › 200, a work address is created`, async () => {
      const { scim } = await fresh();
      const created = await createUser(scim);

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'addresses[type eq "work"].streetAddress', value: '1 Microsoft Way' }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, created.id)).addresses, [{ type: 'work', streetAddress: '1 Microsoft Way' }]);
    });

    it(`PATCH /Users › ${op} phoneNumbers[type eq "mobile"].value when only a work number exists › 200, a mobile number is added`, async () => {
      const { scim } = await fresh();
      const created = await createUser(scim, { phoneNumbers: [{ type: 'work', value: '111' }] });

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'phoneNumbers[type eq "mobile"].value', value: '222' }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, created.id)).phoneNumbers, [
        { type: 'work', value: '111' },
        { type: 'mobile', value: '222' },
      ]);
    });
  }
});

describe('Entra known issues › manager', () => {
  it('PATCH /Users › Add the enterprise manager as a bare id string › 200, returned as { value }', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim);

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id }));

    assert.equal(res.status, 200);
    assert.deepEqual(res.body[ENTERPRISE].manager, { value: manager.id });
    assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE].manager, { value: manager.id });
  });

  it('PATCH /Users › Replace the manager with { "value": id } › 200, the new manager replaces the old', async () => {
    const { scim } = await fresh();
    const first = await createUser(scim);
    const second = await createUser(scim);
    const report = await createUser(scim, { [ENTERPRISE]: { manager: { value: first.id } } });

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: second.id } }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE].manager, { value: second.id });
  });

  for (const [label, op] of [
    ['Remove with the URN path and no value', { op: 'Remove', path: `${ENTERPRISE}:manager` }],
    ['Replace with an empty string', { op: 'Replace', path: `${ENTERPRISE}:manager`, value: '' }],
    ['Replace with { "value": "" }', { op: 'Replace', path: `${ENTERPRISE}:manager`, value: { value: '' } }],
    ['Replace with null', { op: 'replace', path: `${ENTERPRISE}:manager`, value: null }],
  ] as const) {
    it(`PATCH /Users › clear the manager by ${label} › 200, no manager returned, other enterprise attributes kept`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim, { [ENTERPRISE]: { department: 'Sales', manager: { value: manager.id } } });

      const res = await scim.patch(`/Users/${report.id}`, patchOp(op));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE], { department: 'Sales' });
    });
  }
});

describe('Entra known issues › the aadOptscim062020 flag on the URL', () => {
  it('every verb › with ?aadOptscim062020 in the query string › works exactly as without it', async () => {
    const { scim } = await fresh();
    const body = entraUser();

    const created = await scim.post(`/Users?${FLAG}`, body);
    const found = await scim.get(`/Users?${FLAG}&${filterQuery(`userName eq "${body.userName}"`)}`);
    const patched = await scim.patch(`/Users/${created.body.id}?${FLAG}`, patchOp({ op: 'replace', path: 'active', value: false }));
    const group = await scim.post(`/Groups?${FLAG}`, { schemas: [GROUP_SCHEMA], displayName: 'flagged' });
    const added = await scim.patch(`/Groups/${group.body.id}?${FLAG}`, patchOp({ op: 'add', path: 'members', value: [{ value: created.body.id }] }));
    const fetched = await scim.get(`/Users/${created.body.id}?${FLAG}`);

    assert.deepEqual([created.status, found.status, patched.status, group.status, added.status, fetched.status], [201, 200, 200, 201, 204, 200]);
    assert.equal(found.body.totalResults, 1);
    assert.equal(fetched.body.active, false);
    assert.deepEqual(await memberIdsOf(scim, group.body.id), [created.body.id]);
    await scim.delete(`/Groups/${group.body.id}?${FLAG}`).expect(204);
    await scim.delete(`/Users/${created.body.id}?${FLAG}`).expect(204);
    await scim.get(`/Users/${created.body.id}`).expect(404);
    await scim.get(`/Groups/${group.body.id}`).expect(404);
  });
});

describe('Entra known issues › DELETE without a media type', () => {
  it('DELETE /Groups/{id} › no Content-Type and no body › 204, group gone, its members still exist', async () => {
    const { scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 1);

    const res = await scim.delete(`/Groups/${group.id}`);

    assert.equal(res.status, 204);
    await scim.get(`/Groups/${group.id}`).expect(404);
    await scim.get(`/Users/${ids[0]}`).expect(200);
  });
});

describe('Entra known issues › idempotent re-PATCH', () => {
  it('PATCH /Users › re-sending values that are already stored (default form), twice › 200, same meta.version and ETag, no event', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim, { displayName: 'Shown', [ENTERPRISE]: { employeeNumber: '42' } });
    const unchanged = patchOp(
      { op: 'Replace', path: 'active', value: 'True' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: created.emails[0].value },
      { op: 'Replace', path: 'name.givenName', value: created.name.givenName },
      { op: 'Replace', path: `${ENTERPRISE}:employeeNumber`, value: '42' },
      { op: 'Add', path: 'displayName', value: 'Shown' },
    );

    const first = await scim.patch(`/Users/${created.id}`, unchanged);
    const again = await scim.patch(`/Users/${created.id}`, unchanged);
    // A real change afterwards: once its event shows, any event from the re-PATCHes would too.
    await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'nickName', value: 'marker' })).expect(200);

    for (const res of [first, again]) {
      assert.equal(res.status, 200);
      assert.equal(res.body.meta.version, created.meta.version);
      assert.equal(res.headers.etag, created.meta.version);
    }
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.updated'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.updated']);
  });

  it("PATCH /Users › the flag form's path-less replace of unchanged values › 200 with the same meta.version as before", async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { displayName: 'Bjfe' });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp({ op: 'replace', value: { displayName: 'Bjfe', 'name.givenName': created.name.givenName, active: true } }),
    );

    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, created.meta.version);
    assert.equal((await getUser(scim, created.id)).meta.version, created.meta.version);
  });

  it('PATCH /Groups › re-adding every current member › 204, same version and no group.user_added', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);
    const before = (await scim.get(`/Groups/${group.id}`).expect(200)).body.meta.version;

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: ids.map((value) => ({ $ref: null, value })) }));
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'marker' })).expect(204);

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids));
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.updated'));
    assert.equal(typesFor(events, group.id).filter((x) => x === 'group.user_added').length, 2);
    const afterMarker = (await scim.get(`/Groups/${group.id}`).expect(200)).body.meta.version;
    assert.notEqual(afterMarker, before);
    assert.equal(res.headers.etag, before);
  });
});
