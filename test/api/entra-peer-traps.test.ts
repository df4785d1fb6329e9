/**
 * Traps other SCIM servers fell into with Microsoft Entra's real traffic (their issue trackers,
 * Microsoft Q&A), replayed against ours. Each test names the behaviour; the request bodies are
 * the shapes those reports show Entra (or Microsoft's validator) sending.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
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
import { ENTERPRISE, entraUser, GROUP_SCHEMA, PATCH_OP, patchOp, scimClient, USER_SCHEMA, type TestDirectory } from '../support/factories';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

const fresh = () => freshDirectory(t.app);
const eventsOf = (dir: TestDirectory, until?: (events: StoredEvent[]) => boolean) => eventsFromFeed(t.app, dir, until);

describe('Entra peer traps › operation names and string booleans (P1–P3)', () => {
  for (const op of ['Add', 'ADD', 'aDd']) {
    it(`PATCH /Groups › P1 "${op}" members with "$ref": null (real Entra body) › 204, member added`, async () => {
      const { scim } = await fresh();
      const group = await createGroup(scim);
      const user = await createUser(scim);

      const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op, path: 'members', value: [{ $ref: null, value: user.id }] }));

      assert.equal(res.status, 204);
      assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
    });
  }

  it('PATCH /Users › P1 "REPLACE" and "REMOVE" in capitals › 200, both applied', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { nickName: 'Barb', title: 'Boss' });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'REPLACE', path: 'nickName', value: 'Babs' }, { op: 'REMOVE', path: 'title' }));

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored.nickName, 'Babs');
    assert.equal(stored.title, undefined);
  });

  it('PATCH /Users › P2 Replace emails[type eq "work"].primary with the string "True" › 200, primary stored as boolean true', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { emails: [{ type: 'work', value: 'w@contoso.com' }] });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'emails[type eq "work"].primary', value: 'True' }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).emails, [{ type: 'work', value: 'w@contoso.com', primary: true }]);
  });

  it('PATCH /Users › P2 the mapping target roles[primary eq "True"].value against a boolean primary › 200, that role\'s value replaced', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      roles: [
        { primary: true, type: 'WindowsAzureActiveDirectoryRole', value: 'Admin' },
        { primary: false, type: 'WindowsAzureActiveDirectoryRole', value: 'Reader' },
      ],
    });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'roles[primary eq "True"].value', value: 'Owner' }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).roles, [
      { primary: true, type: 'WindowsAzureActiveDirectoryRole', value: 'Owner' },
      { primary: false, type: 'WindowsAzureActiveDirectoryRole', value: 'Reader' },
    ]);
  });

  it('PATCH /Users › P3 Replace active with "FALSE" in any case › 200, stored false, user.deactivated', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'FALSE' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id)).active, false);
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.deactivated'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deactivated']);
  });

  it('PATCH /Users › P3 Replace active with a string that is no boolean › 400 invalidValue, user stays active', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'no' }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.equal((await getUser(scim, created.id)).active, true);
  });
});

describe('Entra peer traps › group member removal (P4, P5)', () => {
  it('PATCH /Groups › P4 Remove members whose value element has no "value" › 400 invalidValue, and the group is not emptied', async () => {
    const { scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: 'members', value: [{ display: 'someone' }] }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids));
  });

  it('PATCH /Groups › P4 Remove members naming a user who is not a member › 204, membership and version unchanged, no event', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);
    const outsider = await createUser(scim);
    const before = (await scim.get(`/Groups/${group.id}`).expect(200)).body.meta.version;

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: 'members', value: [{ value: outsider.id }] }));
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'marker' })).expect(204);

    assert.equal(res.status, 204);
    assert.equal(res.headers.etag, before);
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids));
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.updated'));
    assert.equal(events.filter((e) => e.type === 'group.user_removed').length, 0);
  });

  for (const [label, id] of [
    ['a user id that is not a member', () => randomUUID()],
    ['a value that is no user id at all', () => '2392066'],
  ] as const) {
    it(`PATCH /Groups › P5 remove members[value eq …] with ${label} › 204 no-op, not 400 noTarget`, async () => {
      const { scim } = await fresh();
      const { group, ids } = await groupWithMembers(scim, 2);

      const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'remove', path: `members[value eq "${id()}"]` }));

      assert.equal(res.status, 204);
      assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids));
    });
  }
});

describe('Entra peer traps › manager (P6–P10)', () => {
  for (const [label, op, path, value] of [
    ['default client: "Add" with the URN path and a bare id string', 'Add', `${ENTERPRISE}:manager`, 'id'],
    ['flagged client: "add" with the URN path and a bare id string', 'add', `${ENTERPRISE}:manager`, 'id'],
    ['RFC form: { "value": id }', 'add', `${ENTERPRISE}:manager`, 'object'],
    ['legacy form: bare "manager" path and [{ $ref, value }]', 'Add', 'manager', 'array'],
    ['Replace with a bare id string', 'Replace', `${ENTERPRISE}:manager`, 'id'],
  ] as const) {
    it(`PATCH /Users › P6 manager set by ${label} › 200, stored and returned as { value: id }`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim);
      const sent = value === 'id' ? manager.id : value === 'object' ? { value: manager.id } : [{ $ref: `../Users/${manager.id}`, value: manager.id }];

      const res = await scim.patch(`/Users/${report.id}`, patchOp({ op, path, value: sent }));

      assert.equal(res.status, 200);
      const stored = await getUser(scim, report.id);
      assert.equal(stored[ENTERPRISE].manager.value, manager.id);
      assert.equal(typeof stored[ENTERPRISE].manager, 'object');
    });
  }

  it('POST /Users › P7 manager as a string inside the enterprise block › 201; GET and list return an object { value }', async () => {
    const { scim } = await fresh();

    const created = await scim.post('/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE],
      userName: 'user@example.com',
      [ENTERPRISE]: { manager: '123456' },
    });
    const listed = await scim.get(`/Users?${filterQuery('userName eq "user@example.com"')}`).expect(200);

    assert.equal(created.status, 201);
    assert.deepEqual(created.body[ENTERPRISE].manager, { value: '123456' });
    assert.deepEqual((await getUser(scim, created.body.id))[ENTERPRISE].manager, { value: '123456' });
    assert.deepEqual(listed.body.Resources[0][ENTERPRISE].manager, { value: '123456' });
  });

  for (const [label, path] of [
    ['bare manager[value eq …]', 'manager'],
    ['URN-prefixed …:manager[value eq …]', `${ENTERPRISE}:manager`],
  ] as const) {
    it(`PATCH /Users › P8 remove ${label} naming the current manager › 200, manager cleared, other enterprise attributes kept`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim, { [ENTERPRISE]: { department: 'Sales', manager: { value: manager.id } } });

      const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'remove', path: `${path}[value eq "${manager.id}"]` }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE], { department: 'Sales' });
    });

    it(`PATCH /Users › P8 remove ${label} naming someone else › 200, the manager is kept`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim, { [ENTERPRISE]: { manager: { value: manager.id } } });

      const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'remove', path: `${path}[value eq "${randomUUID()}"]` }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE].manager, { value: manager.id });
    });
  }

  it('PATCH /Users › P8 a filter on the single-valued manager with add › 400 invalidPath, manager kept', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim, { [ENTERPRISE]: { manager: { value: manager.id } } });

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'add', path: `${ENTERPRISE}:manager[value eq "${manager.id}"].value`, value: 'x' }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidPath');
    assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE].manager, { value: manager.id });
  });

  it('PATCH /Users › P9 Replace the manager with {} › 200, manager cleared', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim, { [ENTERPRISE]: { employeeNumber: '7', manager: { value: manager.id } } });

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Replace', path: `${ENTERPRISE}:manager`, value: {} }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE], { employeeNumber: '7' });
  });

  it('PATCH /Users › P10 the same manager re-sent every cycle › 200, version unchanged and no event after the first', async () => {
    const { dir, scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim);
    const set = patchOp({ op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id });
    const first = await scim.patch(`/Users/${report.id}`, set).expect(200);

    const again = await scim.patch(`/Users/${report.id}`, set);
    await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Replace', path: 'nickName', value: 'marker' })).expect(200);

    assert.equal(again.status, 200);
    assert.equal(again.body.meta.version, first.body.meta.version);
    assert.equal(again.body[ENTERPRISE].manager.value, manager.id);
    const events = await eventsOf(dir, (e) => typesFor(e, report.id).filter((x) => x === 'user.updated').length >= 2);
    assert.deepEqual(typesFor(events, report.id), ['user.created', 'user.updated', 'user.updated']);
  });
});

describe('Entra peer traps › filtered paths with no match (P11–P13)', () => {
  it('PATCH /Users › P11 Add emails[type eq "work"].value on a user with no emails at all › 200, one work email, primary not invented', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { emails: undefined });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp({ op: 'Add', path: 'emails[type eq "work"].value', value: 'godfrey_stiedemann@vonruedenmueller.com' }),
    );

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).emails, [{ type: 'work', value: 'godfrey_stiedemann@vonruedenmueller.com' }]);
  });

  it('PATCH /Users › P12 Replace on a filtered path with no match beside Replace active "False" › 200, both applied', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'phoneNumbers[type eq "work"].value', value: '555-555-5555' },
        { op: 'Replace', path: 'active', value: 'False' },
      ],
    });

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.deepEqual(stored.phoneNumbers, [{ type: 'work', value: '555-555-5555' }]);
    assert.equal(stored.active, false);
  });

  it('PATCH /Users › P13 three adds on sub-attributes of addresses[type eq "work"] › 200, merged into one work address, others untouched', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { addresses: [{ type: 'home', locality: 'Home Town' }] });

    const res = await scim.patch(`/Users/${created.id}`, {
      Operations: [
        { op: 'add', path: 'addresses[type eq "work"].formatted', value: 'USZLTUSJXBYV' },
        { op: 'add', path: 'addresses[type eq "work"].locality', value: 'OSGODHEVDCVD' },
        { op: 'add', path: 'addresses[type eq "work"].region', value: 'YMVMOEMXAYGD' },
      ],
      schemas: [PATCH_OP],
    });

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).addresses, [
      { type: 'home', locality: 'Home Town' },
      { type: 'work', formatted: 'USZLTUSJXBYV', locality: 'OSGODHEVDCVD', region: 'YMVMOEMXAYGD' },
    ]);
  });
});

describe('Entra peer traps › real mixed PATCHes (P14)', () => {
  it('PATCH /Users › P14 email change, work address and enterprise department in one request › 200, all applied', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'AdeleV2@REDACTED.onmicrosoft.com' },
        { op: 'Replace', path: 'addresses[type eq "work"].formatted', value: '18/2111' },
        { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Retail' },
      ],
    });

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.deepEqual(stored.emails, [{ primary: true, type: 'work', value: 'AdeleV2@REDACTED.onmicrosoft.com' }]);
    assert.deepEqual(stored.addresses, [{ type: 'work', formatted: '18/2111' }]);
    assert.equal(stored[ENTERPRISE].department, 'Retail');
  });

  it('PATCH /Users › P14 a rename touching displayName, work email, userName and name parts › 200, all applied', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, {
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'Test 01' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'test01@example.com' },
        { op: 'Replace', path: 'userName', value: 'test01@example.com' },
        { op: 'Replace', path: 'name.familyName', value: 'Tesst 01' },
        { op: 'Replace', path: 'name.formatted', value: 'Test 01' },
      ],
      schemas: [PATCH_OP],
    });

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored.displayName, 'Test 01');
    assert.equal(stored.userName, 'test01@example.com');
    assert.deepEqual(stored.emails, [{ primary: true, type: 'work', value: 'test01@example.com' }]);
    assert.deepEqual(stored.name, { formatted: 'Test 01', familyName: 'Tesst 01', givenName: 'Given' });
  });

  it('PATCH /Users › P14 the validator moving primary from the work email to a new home email › 200, exactly one primary (home)', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { emails: [{ type: 'work', value: 'w@contoso.com', primary: true }] });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'w2@contoso.com' },
        { op: 'add', path: 'emails[type eq "home"].value', value: 'h@contoso.com' },
        { op: 'add', path: 'emails[type eq "other"].value', value: 'o@contoso.com' },
        { op: 'replace', path: 'emails[type eq "work"].display', value: 'Work' },
        { op: 'replace', path: 'emails[type eq "home"].display', value: 'Home' },
        { op: 'replace', path: 'emails[type eq "other"].display', value: 'Other' },
        { op: 'add', path: 'emails[type eq "work"].primary', value: false },
        { op: 'replace', path: 'emails[type eq "home"].primary', value: true },
      ),
    );

    assert.equal(res.status, 200);
    const emails = (await getUser(scim, created.id)).emails as Record<string, unknown>[];
    assert.deepEqual(emails, [
      { type: 'work', value: 'w2@contoso.com', primary: false, display: 'Work' },
      { type: 'home', value: 'h@contoso.com', display: 'Home', primary: true },
      { type: 'other', value: 'o@contoso.com', display: 'Other' },
    ]);
    assert.equal(emails.filter((e) => e.primary === true).length, 1);
  });

  it('PATCH /Users › P14 making the home email primary while the work one still is › 200, the work email loses primary', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      emails: [
        { type: 'work', value: 'w@contoso.com', primary: true },
        { type: 'home', value: 'h@contoso.com' },
      ],
    });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'emails[type eq "home"].primary', value: true }));

    assert.equal(res.status, 200);
    const emails = (await getUser(scim, created.id)).emails as Record<string, unknown>[];
    assert.deepEqual(
      emails.filter((e) => e.primary === true).map((e) => e.type),
      ['home'],
    );
  });
});

describe('Entra peer traps › path-less operations and plain values (P15, P16)', () => {
  it('PATCH /Users › P15 path-less replace with "name.formatted" and "name.familyName" keys › 200, name merged, givenName kept', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', value: { 'name.formatted': 'test test2', 'name.familyName': 'test' } }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).name, { formatted: 'test test2', familyName: 'test', givenName: 'Given' });
  });

  it('PATCH /Users › P15 path-less replace and add whose keys are enterprise URN paths › 200, all three attributes set', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { [ENTERPRISE]: { employeeNumber: '9' } });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'replace', value: { [`${ENTERPRISE}:organization`]: 'organization', [`${ENTERPRISE}:department`]: 'department' } },
        { op: 'add', value: { [`${ENTERPRISE}:division`]: 'division' } },
      ),
    );

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id))[ENTERPRISE], {
      employeeNumber: '9',
      organization: 'organization',
      department: 'department',
      division: 'division',
    });
  });

  it('PATCH /Users › P15 a PatchOp whose schemas names core:2.0:PatchOp › 400 invalidSyntax, nothing changed', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:PatchOp'],
      Operations: [{ op: 'replace', value: { [`${ENTERPRISE}:department`]: 'department' } }],
    });

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidSyntax');
    assert.equal((await getUser(scim, created.id))[ENTERPRISE], undefined);
  });

  it('PATCH /Users › P16 Replace displayName with a plain string that starts with a space › 200, stored exactly', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'displayName', value: ' User X' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id)).displayName, ' User X');
  });

  it('PATCH /Groups › P16 Replace displayName with a plain string › 204, stored exactly', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: ' Group X' }));

    assert.equal(res.status, 204);
    assert.equal((await scim.get(`/Groups/${group.id}`).expect(200)).body.displayName, ' Group X');
  });
});

describe('Entra peer traps › clearing a work email (P17)', () => {
  it('PATCH /Users › P17 Remove emails[type eq "work"].value carrying a value › 200, the work address cleared and the sent value never stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      emails: [
        { type: 'work', value: 'current@example.org', primary: true },
        { type: 'home', value: 'home@example.org' },
      ],
    });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Remove', path: 'emails[type eq "work"].value', value: 'updated@example.org' }));

    assert.equal(res.status, 200);
    const emails = (await getUser(scim, created.id)).emails as Record<string, unknown>[];
    assert.ok(!emails.some((e) => e.value === 'updated@example.org' || e.value === 'current@example.org'));
    assert.deepEqual(
      emails.find((e) => e.type === 'home'),
      { type: 'home', value: 'home@example.org' },
    );
  });
});

describe('Entra peer traps › reaching the SCIM code (P18, P19)', () => {
  it('GET /Users › P18 no User-Agent and no token › 401 SCIM error in application/scim+json with WWW-Authenticate, never HTML', async () => {
    const res = await request(t.app).get('/scim/v2/Users').unset('User-Agent');

    assert.equal(res.status, 401);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    assert.deepEqual(res.body.schemas, [ERROR]);
    assert.equal(res.body.status, '401');
  });

  it('GET /scim/v2/Unknown › P18 an unknown path under the base › SCIM 404 in application/scim+json', async () => {
    const { scim } = await fresh();

    const res = await scim.get('/Unknown');

    assert.equal(res.status, 404);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
    assert.deepEqual(res.body.schemas, [ERROR]);
  });

  it('GET {base} › P18 the bare tenant URL that Test connection might probe › 200 or a SCIM 404, never HTML', async () => {
    const { scim } = await fresh();

    const res = await scim.get('');

    assert.ok([200, 404].includes(res.status), `status ${res.status}`);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
  });

  it('POST /Users › P19 a body sent as application/json (the 2017 samples) › 201, stored', async () => {
    const { dir } = await fresh();
    const body = entraUser();

    const res = await request(t.app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${dir.token}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));

    assert.equal(res.status, 201);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
    const found = await scimClient(t.app, dir.token)
      .get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`)
      .expect(200);
    assert.equal(found.body.totalResults, 1);
  });

  it("PATCH › P19 the validator's expectations › user PATCH answers 200 with the resource, group PATCH 204 without a body", async () => {
    const { scim } = await fresh();
    const user = await createUser(scim);
    const group = await createGroup(scim);

    const u = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'D' }));
    const g = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: user.id }] }));

    assert.equal(u.status, 200);
    assert.match(String(u.headers['content-type']), /^application\/scim\+json/);
    assert.equal(u.body.id, user.id);
    assert.equal(u.body.displayName, 'D');
    assert.equal(g.status, 204);
    assert.equal(g.text, '');
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
  });
});

describe('Entra peer traps › PATCHes that change nothing (P20, P21, P24)', () => {
  it('PATCH /Users › P20 every field re-sent with the value already stored › 200 (not 400), version unchanged', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'Replace', path: 'userName', value: created.userName },
        { op: 'Replace', path: 'name.familyName', value: created.name.familyName },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: created.emails[0].value },
      ),
    );

    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, created.meta.version);
    assert.equal((await getUser(scim, created.id)).meta.version, created.meta.version);
  });

  it('PATCH /Users › P21 the periodic Replace active "True" on an active user › 200, no event, version unchanged', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'True' }));
    await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'nickName', value: 'marker' })).expect(200);

    assert.equal(res.status, 200);
    assert.equal(res.body.active, true);
    assert.equal(res.body.meta.version, created.meta.version);
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.updated'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.updated']);
  });

  it("PATCH /Users › P24 the validator's empty Operations array › 200 no-op, version unchanged", async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [] });

    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, created.meta.version);
    assert.equal((await getUser(scim, created.id)).meta.version, created.meta.version);
  });

  it('PATCH /Groups › P24 an empty Operations array › 204 no-op, members kept', async () => {
    const { scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 1);

    const res = await scim.patch(`/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [] });

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), ids);
  });
});

describe('Entra peer traps › GET and POST agree (P22)', () => {
  it('POST /Users › P22 a userName differing only in case from an existing one › 409 uniqueness, and the filter finds the existing user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { userName: 'Dale.Mohr@romaguera.uk' });

    const res = await scim.post('/Users', entraUser({ userName: 'DALE.MOHR@ROMAGUERA.UK' }));
    const found = await scim.get(`/Users?${filterQuery('userName eq "dale.mohr@romaguera.uk"')}`).expect(200);

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.id);
  });

  it('POST /Users › P22 an externalId another user holds › 409 uniqueness, and the externalId filter finds that user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { externalId: 'dup-external' });

    const res = await scim.post('/Users', entraUser({ externalId: 'dup-external' }));
    const found = await scim.get(`/Users?${filterQuery('externalId eq "dup-external"')}`).expect(200);

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.id);
  });

  it('POST /Users › P22 the userName of a disabled user › 409, and the filter that Entra runs first does find the disabled user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { active: false });

    const found = await scim.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`).expect(200);
    const res = await scim.post('/Users', entraUser({ userName: created.userName }));

    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].active, false);
    assert.equal(res.status, 409);
  });
});

describe('Entra peer traps › excludedAttributes=members (P23)', () => {
  it('GET /Groups › P23 list and by-id reads with excludedAttributes=members on a group with members › no members key anywhere', async () => {
    const { scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);

    const one = await scim.get(`/Groups/${group.id}?excludedAttributes=members`).expect(200);
    const list = await scim.get(`/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${group.displayName}"`)}`).expect(200);
    const full = await scim.get(`/Groups/${group.id}`).expect(200);

    assert.ok(!('members' in one.body));
    assert.equal(list.body.totalResults, 1);
    assert.ok(!('members' in list.body.Resources[0]));
    assert.deepEqual(full.body.members.map((m: { value: string }) => m.value).sort(), sorted(ids));
  });
});

describe('Entra peer traps › reference-code member shapes (P25)', () => {
  it('PATCH /Groups › P25 add members with a bare id string and an "id" beside Operations › 204, member added', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);

    const res = await scim.patch(`/Groups/${group.id}`, {
      id: group.id,
      Operations: [{ op: 'add', path: 'members', value: user.id }],
      schemas: [PATCH_OP],
    });

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
  });

  it('PATCH /Groups › P25 members carrying displayName instead of display › 204, member added', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'add', path: 'members', value: [{ displayName: 'new User', value: user.id }] }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
  });

  it('POST /Groups › P25 members carrying displayName instead of display › 201 with that member', async () => {
    const { scim } = await fresh();
    const user = await createUser(scim);

    const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'with member', members: [{ displayName: 'new User', value: user.id }] });

    assert.equal(res.status, 201);
    assert.deepEqual(await memberIdsOf(scim, res.body.id), [user.id]);
  });
});

describe('Entra peer traps › restarts and deprovisioning (P27, P28)', () => {
  it('PATCH /Groups › P27 a restart re-adds every member plus one new one › 204, only the new member gets group.user_added', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);
    const newcomer = await createUser(scim);

    const res = await scim.patch(
      `/Groups/${group.id}`,
      patchOp({ op: 'Add', path: 'members', value: [...ids, newcomer.id].map((value) => ({ $ref: null, value })) }),
    );

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted([...ids, newcomer.id]));
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_added' && x.data.user!.id === newcomer.id));
    const added = events.filter((e) => e.type === 'group.user_added').map((e) => e.data.user!.id);
    assert.deepEqual(sorted(added), sorted([...ids, newcomer.id]));
  });

  it('P28 soft delete then hard delete › disable ("False"), DELETE, then a new POST of the same userName › 201 with a new id', async () => {
    const { dir, scim } = await fresh();
    const body = entraUser();
    const created = await createUser(scim, body);

    await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })).expect(200);
    const disabled = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    await scim.delete(`/Users/${created.id}`).expect(204);
    const gone = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    const again = await scim.post('/Users', body);

    assert.equal(disabled.body.totalResults, 1);
    assert.equal(disabled.body.Resources[0].active, false);
    assert.equal(gone.body.totalResults, 0);
    assert.equal(again.status, 201);
    assert.notEqual(again.body.id, created.id);
    assert.equal((await getUser(scim, again.body.id)).userName, body.userName);
    const events = await eventsOf(dir, (e) => typesFor(e, again.body.id).includes('user.created'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deactivated', 'user.deleted']);
  });

  it('P28 a deleted member › DELETE /Users of a group member › 204, the group no longer lists it and group.user_removed is recorded', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);

    await scim.delete(`/Users/${ids[0]}`).expect(204);

    assert.deepEqual(await memberIdsOf(scim, group.id), [ids[1]]);
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_removed'));
    assert.deepEqual(
      events.filter((e) => e.type === 'group.user_removed').map((e) => [e.data.group!.id, e.data.user!.id]),
      [[group.id, ids[0]]],
    );
  });
});
