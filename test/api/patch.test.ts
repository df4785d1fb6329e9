/**
 * PATCH of Users and Groups through HTTP: paths, value filters, path-less
 * operations, the shapes Entra sends, PATCHes that change nothing, and all-or-nothing failures.
 * The parse and apply steps alone are table-tested in test/unit/patch-parse and patch-apply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { ENTERPRISE, entraUser, GROUP_SCHEMA, PATCH_OP, patchOp, USER_SCHEMA } from '../support/factories';
import {
  apiSuite,
  assertScimError,
  assertScimJson,
  createGroup,
  createUser,
  filterQuery,
  getUser,
  groupWithMembers,
  memberIdsOf,
  sorted,
  typesFor,
} from '../support/scim-helpers';

const { fresh, eventsOf } = apiSuite();

describe('Users › simple attributes', () => {
  it('PATCH /Users › add, replace and remove simple attributes › each takes effect', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer', displayName: 'Old' })).expect(201);

    const res = await scim
      .patch(
        `/Users/${user.id}`,
        patchOp({ op: 'add', path: 'nickName', value: 'Bobby' }, { op: 'replace', path: 'displayName', value: 'New' }, { op: 'remove', path: 'title' }),
      )
      .expect(200);

    assert.equal(res.body.nickName, 'Bobby');
    assert.equal(res.body.displayName, 'New');
    assert.equal(res.body.title, undefined);
    assert.deepEqual((await scim.get(`/Users/${user.id}`)).body, res.body);
  });

  it('PATCH /Users › replace name.givenName › only givenName changes, familyName stays', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'name.givenName', value: 'Robert' })).expect(200);

    assert.deepEqual(res.body.name, { ...user.name, givenName: 'Robert' });
  });

  // Entra sent "Add" before its 2020 compliance fix and sends "add" since.
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

  // Some Entra tenants and peer clients send op names in capitals.
  it('PATCH /Users › "REPLACE" and "REMOVE" in capitals › 200, both applied', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { nickName: 'Barb', title: 'Boss' });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'REPLACE', path: 'nickName', value: 'Babs' }, { op: 'REMOVE', path: 'title' }));

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored.nickName, 'Babs');
    assert.equal(stored.title, undefined);
  });

  // Entra sends display names as typed, leading spaces included.
  it('PATCH /Users › Replace displayName with a plain string that starts with a space › 200, stored exactly', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'displayName', value: ' User X' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id)).displayName, ' User X');
  });

  it('PATCH /Users › Replace userName › 200, id and externalId kept, found by the new userName', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    const newName = '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com';

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'userName', value: newName }));

    assert.equal(res.status, 200);
    assert.equal(res.body.userName, newName);
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${newName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.id);
    assert.equal(found.body.Resources[0].externalId, created.externalId);
  });

  // Microsoft's SCIM validator clears attributes with "" and with null.
  it('PATCH /Users › Replace title with "" then with null › 200 each, title no longer returned with a value', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { title: 'Engineer', nickName: 'Babs' });

    const empty = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'title', value: '' }));
    const afterEmpty = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    const nulled = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'nickName', value: null }));
    const afterNull = (await scim.get(`/Users/${created.id}`).expect(200)).body;

    assert.equal(empty.status, 200);
    assert.ok(afterEmpty.title === undefined || afterEmpty.title === '', `title is ${JSON.stringify(afterEmpty.title)}`);
    assert.equal(nulled.status, 200);
    assert.equal(afterNull.nickName, undefined);
    assert.equal(afterNull.userName, created.userName);
  });
});

describe('Users › active', () => {
  // Entra sends active as the string "False" unless the tenant opted into booleans (then boolean false).
  for (const [label, op, value] of [
    ['Entra default: Replace with the string "False"', 'Replace', 'False'],
    ['compliant mode: replace with boolean false', 'replace', false],
    ['custom mapping: Replace with the string "false"', 'Replace', 'false'],
    ['Replace with the string "FALSE" in capitals', 'Replace', 'FALSE'],
    ['Replace with boolean false', 'Replace', false],
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
    ['Entra default: Replace with the string "True"', 'Replace', 'True'],
    ['compliant mode: replace with boolean true', 'replace', true],
    ['Replace with boolean true', 'Replace', true],
  ] as const) {
    it(`PATCH /Users › re-enable, ${label} › 200, active stored as boolean true, user.reactivated`, async () => {
      const { dir, scim } = await fresh();
      const created = await createUser(scim, { active: false });

      const res = await scim.patch(`/Users/${created.id}`, patchOp({ op, path: 'active', value }));

      assert.equal(res.status, 200);
      assert.equal(res.body.active, true);
      assert.equal((await getUser(scim, created.id)).active, true);
      const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.reactivated'));
      assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.reactivated']);
    });
  }

  it('PATCH /Users › Replace active with a string that is no boolean › 400 invalidValue, user stays active', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'no' }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.equal((await getUser(scim, created.id)).active, true);
  });
});

describe('Users › multi-valued attributes and value filters', () => {
  it('PATCH /Users › add to emails › the new email is appended, the old one kept', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const home = { type: 'home', value: `home-${randomUUID()}@example.org` };

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'add', path: 'emails', value: [home] })).expect(200);

    assert.deepEqual(res.body.emails, [...user.emails, home]);
  });

  it('PATCH /Users › replace emails › the whole list is replaced', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const only = [{ type: 'other', value: `o-${randomUUID()}@example.org`, primary: true }];

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'emails', value: only })).expect(200);

    assert.deepEqual(res.body.emails, only);
  });

  it('PATCH /Users › remove emails[type eq "home"] › only the home email goes', async () => {
    const { scim } = await fresh();
    const work = { type: 'work', value: `w-${randomUUID()}@example.org`, primary: true };
    const home = { type: 'home', value: `h-${randomUUID()}@example.org` };
    const { body: user } = await scim.post('/Users', entraUser({ emails: [work, home] })).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'remove', path: 'emails[type eq "home"]' })).expect(200);

    assert.deepEqual(res.body.emails, [work]);
  });

  it('PATCH /Users › replace emails[type eq "work"].value › only that element\'s value changes', async () => {
    const { scim } = await fresh();
    const work = { type: 'work', value: `w-${randomUUID()}@example.org`, primary: true };
    const home = { type: 'home', value: `h-${randomUUID()}@example.org` };
    const { body: user } = await scim.post('/Users', entraUser({ emails: [work, home] })).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'emails[type eq "work"].value', value: 'new@example.org' })).expect(200);

    assert.deepEqual(res.body.emails, [{ ...work, value: 'new@example.org' }, home]);
  });

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

  // Entra writes a typed value through a filter path even when no element of that type exists yet.
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

  it('PATCH /Users › Add emails[type eq "work"].value on a user with no emails at all › 200, one work email, primary not invented', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { emails: undefined });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp({ op: 'Add', path: 'emails[type eq "work"].value', value: 'godfrey_stiedemann@vonruedenmueller.com' }),
    );

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).emails, [{ type: 'work', value: 'godfrey_stiedemann@vonruedenmueller.com' }]);
  });

  // Entra sends this pair when a user without a work phone is disabled.
  it('PATCH /Users › Replace on a filtered path with no match beside Replace active "False" › 200, both applied', async () => {
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

  // Entra sends one operation per mapped address field.
  it('PATCH /Users › three adds on sub-attributes of addresses[type eq "work"] › 200, merged into one work address, others untouched', async () => {
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

  // Entra sends primary as the string "True".
  it('PATCH /Users › Replace emails[type eq "work"].primary with the string "True" › 200, primary stored as boolean true', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { emails: [{ type: 'work', value: 'w@contoso.com' }] });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'emails[type eq "work"].primary', value: 'True' }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).emails, [{ type: 'work', value: 'w@contoso.com', primary: true }]);
  });

  // Entra mapping targets compare primary with the string "True".
  it('PATCH /Users › the mapping target roles[primary eq "True"].value against a boolean primary › 200, that role\'s value replaced', async () => {
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

  // Microsoft's SCIM validator moves primary this way.
  it('PATCH /Users › the validator moving primary from the work email to a new home email › 200, exactly one primary (home)', async () => {
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

  it('PATCH /Users › making the home email primary while the work one still is › 200, the work email loses primary', async () => {
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

  // Entra clears a work email with Remove on the value path and still sends a value.
  it('PATCH /Users › Remove emails[type eq "work"].value carrying a value › 200, the work address cleared and the sent value never stored', async () => {
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

  it('PATCH /Users › Replace emails[type eq "work"].value and name.familyName together › 200, only those values change', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      emails: [
        { primary: true, type: 'work', value: 'old@testuser.com' },
        { type: 'home', value: 'home@testuser.com' },
      ],
    });

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ),
    );

    assert.equal(res.status, 200);
    assertScimJson(res);
    assert.equal(res.body.id, created.id);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    for (const view of [res.body, stored]) {
      assert.deepEqual(view.emails, [
        { primary: true, type: 'work', value: 'updatedEmail@microsoft.com' },
        { type: 'home', value: 'home@testuser.com' },
      ]);
      // Stored as sent: the server does not recompute name.formatted.
      assert.deepEqual(view.name, { formatted: 'Given Family', familyName: 'updatedFamilyName', givenName: 'Given' });
      assert.equal(view.externalId, created.externalId);
    }
  });

  // Entra mapping targets may capitalise sub-attribute names.
  it('PATCH /Users › mapping targets with capitalised sub-attributes (addresses[…].Formatted, emails[…].Value) › 200, stored under the canonical names', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'Add', path: 'addresses[type eq "other"].Formatted', value: '1 Main St, Springfield' },
        { op: 'Add', path: 'emails[type eq "other"].Value', value: 'proxy@contoso.com' },
      ),
    );

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.deepEqual(stored.addresses, [{ type: 'other', formatted: '1 Main St, Springfield' }]);
    assert.deepEqual(
      stored.emails.find((e: { type: string }) => e.type === 'other'),
      { type: 'other', value: 'proxy@contoso.com' },
    );
  });
});

describe('Users › path-less operations', () => {
  it('PATCH /Users › add without path, value an object › each key is applied', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'add', value: { title: 'CTO', name: { middleName: 'Q' } } })).expect(200);

    assert.equal(res.body.title, 'CTO');
    assert.deepEqual(res.body.name, { ...user.name, middleName: 'Q' });
  });

  // Entra's compliant mode (aadOptscim062020) sends one path-less replace whose keys are themselves paths.
  it('PATCH /Users › a path-less replace whose keys are attribute paths and a URN › 200, each key applied as a path, name merged', async () => {
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

  it('PATCH /Users › path-less replace with "name.formatted" and "name.familyName" keys › 200, name merged, givenName kept', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', value: { 'name.formatted': 'test test2', 'name.familyName': 'test' } }));

    assert.equal(res.status, 200);
    assert.deepEqual((await getUser(scim, created.id)).name, { formatted: 'test test2', familyName: 'test', givenName: 'Given' });
  });

  it('PATCH /Users › path-less replace and add whose keys are enterprise URN paths › 200, all three attributes set', async () => {
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
});

describe('Users › several operations in one request', () => {
  // Entra's default mode sends one Replace per changed attribute.
  it('PATCH /Users › one Replace per attribute, each with a path › 200, every attribute updated', async () => {
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

  // A real Entra request, replayed.
  it('PATCH /Users › email change, work address and enterprise department in one request › 200, all applied', async () => {
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

  // Entra sends a rename as one request touching every attribute mapped from the name.
  it('PATCH /Users › a rename touching displayName, work email, userName and name parts › 200, all applied', async () => {
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
});

describe('Users › enterprise extension and manager', () => {
  it('PATCH /Users › Add urn:…:enterprise:2.0:User:department (colon form) › 200, enterprise department stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:department`, value: 'Retail' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id))[ENTERPRISE].department, 'Retail');
  });

  // Entra wrote extension paths with a dot before 2018.
  it('PATCH /Users › Add urn:…:enterprise:2.0:User.department (dot form) › 200, enterprise department stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}.department`, value: 'Retail' }));

    assert.equal(res.status, 200);
    const stored = await getUser(scim, created.id);
    assert.equal(stored[ENTERPRISE].department, 'Retail');
    assert.equal(stored[`${ENTERPRISE}.department`], undefined);
  });

  it('PATCH /Users › Add urn:…:enterprise:2.0:User:department with lowercase op over an existing department › 200, enterprise department stored', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { [ENTERPRISE]: { department: 'Old' } });

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'add', path: `${ENTERPRISE}:department`, value: 'Tech Infrastructure' }));

    assert.equal(res.status, 200);
    assert.equal((await getUser(scim, created.id))[ENTERPRISE].department, 'Tech Infrastructure');
  });

  it('PATCH /Users › enterprise extension attributes › replaced, added and removed by full path', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser({ [ENTERPRISE]: { department: 'R&D', employeeNumber: '7' } })).expect(201);
    const { body: boss } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim
      .patch(
        `/Users/${user.id}`,
        patchOp(
          { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Sales' },
          { op: 'add', path: `${ENTERPRISE}:manager`, value: { value: boss.id } },
          { op: 'remove', path: `${ENTERPRISE}:employeeNumber` },
        ),
      )
      .expect(200);

    assert.equal(res.body[ENTERPRISE].department, 'Sales');
    assert.equal(res.body[ENTERPRISE].manager.value, boss.id);
    assert.equal(res.body[ENTERPRISE].employeeNumber, undefined);
  });

  it('PATCH /Users › removing the last extension attribute › the extension leaves "schemas"', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser({ [ENTERPRISE]: { department: 'R&D' } })).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'remove', path: `${ENTERPRISE}:department` })).expect(200);

    assert.equal(res.body[ENTERPRISE], undefined);
    assert.deepEqual(res.body.schemas, [USER_SCHEMA]);
  });

  // Entra sets the manager with a bare id string in either op case; older clients use the bare "manager" path and a [{ $ref, value }] array.
  for (const [label, op, path, value] of [
    ['compliant mode: "add" with the URN path and a bare id string', 'add', `${ENTERPRISE}:manager`, 'id'],
    ['RFC form: { "value": id }', 'add', `${ENTERPRISE}:manager`, 'object'],
    ['legacy form: bare "manager" path and [{ $ref, value }]', 'Add', 'manager', 'array'],
    ['Replace with a bare id string', 'Replace', `${ENTERPRISE}:manager`, 'id'],
  ] as const) {
    it(`PATCH /Users › manager set by ${label} › 200, stored and returned as { value: id }`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim);
      const sent = value === 'id' ? manager.id : value === 'object' ? { value: manager.id } : [{ $ref: `../Users/${manager.id}`, value: manager.id }];

      const res = await scim.patch(`/Users/${report.id}`, patchOp({ op, path, value: sent }));

      assert.equal(res.status, 200);
      const stored = await getUser(scim, report.id);
      assert.equal(stored[ENTERPRISE].manager.value, manager.id);
      assert.equal(typeof stored[ENTERPRISE].manager, 'object');
      assert.ok(stored.schemas.includes(ENTERPRISE));
    });
  }

  it('PATCH /Users › Entra default: "Add" the enterprise manager as a bare id string › 200, returned and stored as { value }', async () => {
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

  // Entra clears the manager in any of these shapes.
  for (const [label, op] of [
    ['Remove with the URN path and no value', { op: 'Remove', path: `${ENTERPRISE}:manager` }],
    ['Replace with an empty string', { op: 'Replace', path: `${ENTERPRISE}:manager`, value: '' }],
    ['Replace with { "value": "" }', { op: 'Replace', path: `${ENTERPRISE}:manager`, value: { value: '' } }],
    ['Replace with null', { op: 'replace', path: `${ENTERPRISE}:manager`, value: null }],
    ['Replace with {}', { op: 'Replace', path: `${ENTERPRISE}:manager`, value: {} }],
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

  // Entra clears the manager with a value filter naming the old manager.
  for (const [label, path] of [
    ['bare manager[value eq …]', 'manager'],
    ['URN-prefixed …:manager[value eq …]', `${ENTERPRISE}:manager`],
  ] as const) {
    it(`PATCH /Users › remove ${label} naming the current manager › 200, manager cleared, other enterprise attributes kept`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim, { [ENTERPRISE]: { department: 'Sales', manager: { value: manager.id } } });

      const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'remove', path: `${path}[value eq "${manager.id}"]` }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE], { department: 'Sales' });
    });

    it(`PATCH /Users › remove ${label} naming someone else › 200, the manager is kept`, async () => {
      const { scim } = await fresh();
      const manager = await createUser(scim);
      const report = await createUser(scim, { [ENTERPRISE]: { manager: { value: manager.id } } });

      const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'remove', path: `${path}[value eq "${randomUUID()}"]` }));

      assert.equal(res.status, 200);
      assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE].manager, { value: manager.id });
    });
  }

  it('PATCH /Users › a filter on the single-valued manager with add › 400 invalidPath, manager kept', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim, { [ENTERPRISE]: { manager: { value: manager.id } } });

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'add', path: `${ENTERPRISE}:manager[value eq "${manager.id}"].value`, value: 'x' }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidPath');
    assert.deepEqual((await getUser(scim, report.id))[ENTERPRISE].manager, { value: manager.id });
  });

  // Entra may set a manager it has not provisioned yet, and compares the id on its next cycle.
  it('PATCH /Users › a manager id this server has not seen yet › 200, stored for Entra to compare next cycle', async () => {
    const { scim } = await fresh();
    const report = await createUser(scim);
    const unknownManager = randomUUID();

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:manager`, value: unknownManager }));

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${report.id}`).expect(200)).body;
    assert.deepEqual(stored[ENTERPRISE].manager, { value: unknownManager });
  });
});

describe('Users › roles', () => {
  // Entra sends an app role as stringified JSON.
  it('PATCH /Users › SingleAppRoleAssignment update whose roles[].value is stringified JSON › 200, kept as an opaque string', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    const value = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}';

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: 'roles', value: [{ value }] }));

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.deepEqual(stored.roles, [{ value }]);
  });

  it('PATCH /Users › AppRoleAssignmentsComplex update (Add roles with stringified values) › 200, existing roles kept and new ones appended', async () => {
    const { scim } = await fresh();
    const existing = [{ primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'Reader', value: 'Reader' }];
    const created = await createUser(scim, { roles: existing });
    const added = [
      { value: '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"Admin","displayName":"Admin"}' },
      { value: '{"id":"06b07648-ecfe-599f-9d2f-6325724a46ee","value":"User","displayName":"User"}' },
    ];

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: 'roles', value: added }));

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.deepEqual(stored.roles, [...existing, ...added]);
  });

  it('PATCH /Users › AssertiveAppRoleAssignmentsComplex (lowercase replace of roles) › 200, exactly the listed roles remain', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, entraUser({ roles: [{ primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'Old', value: 'Old' }] }));
    const roles = [
      { primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'User', value: 'User' },
      { primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'Test', value: 'Test' },
    ];

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'roles', value: roles }));

    assert.equal(res.status, 200);
    assert.deepEqual((await scim.get(`/Users/${created.id}`).expect(200)).body.roles, roles);
  });
});

describe('Users › PATCHes that change nothing', () => {
  it('PATCH /Users › a change to nothing (same value) › 200 and the version is kept', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer' })).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'Engineer' })).expect(200);

    assert.equal(res.body.meta.version, user.meta.version);
    assert.equal(res.headers.etag, user.meta.version);
  });

  // Entra re-sends values it believes changed, even when the server already has them.
  it('PATCH /Users › re-sending values that are already stored, twice › 200, same meta.version and ETag, no event', async () => {
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

  it('PATCH /Users › a path-less replace of unchanged values › 200 with the same meta.version as before', async () => {
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

  it('PATCH /Users › every field re-sent with the value already stored › 200 (not 400), version unchanged', async () => {
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

  // Entra re-sends Replace active "True" on every cycle.
  it('PATCH /Users › the periodic Replace active "True" on an active user › 200, no event, version unchanged', async () => {
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

  // Entra re-sends the same manager on every cycle.
  it('PATCH /Users › the same manager re-sent every cycle › 200, version unchanged and no event after the first', async () => {
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

  // Microsoft's SCIM validator sends an empty Operations array.
  it("PATCH /Users › the validator's empty Operations array › 200 no-op, version unchanged", async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [] });

    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, created.meta.version);
    assert.equal((await getUser(scim, created.id)).meta.version, created.meta.version);
  });
});

describe('Users › errors and all-or-nothing', () => {
  it('PATCH /Users › a mixed request (simple, value-path and path-less operations) whose last operation is invalid › 400 and nothing applied (same version and values)', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer' })).expect(201);

    const res = await scim.patch(
      `/Users/${user.id}`,
      patchOp(
        { op: 'replace', path: 'title', value: 'Manager' },
        { op: 'add', path: 'nickName', value: 'Bobby' },
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'someone@contoso.com' },
        { op: 'replace', value: { active: false } },
        { op: 'replace', path: 'active', value: 'maybe' },
      ),
    );

    assertScimError(res, 400, 'invalidValue');
    const after = await scim.get(`/Users/${user.id}`).expect(200);
    assert.deepEqual(after.body, user);
    assert.equal(after.headers.etag, user.meta.version);
  });

  // Some clients misspell the PatchOp message URN as a core schema.
  it('PATCH /Users › a PatchOp whose schemas names core:2.0:PatchOp › 400 invalidSyntax, nothing changed', async () => {
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

  it('PATCH /Users/{id} › replacing externalId with one in use › 409 uniqueness, user unchanged', async () => {
    const { scim } = await fresh();
    const { body: first } = await scim.post('/Users', entraUser()).expect(201);
    const { body: second } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.patch(`/Users/${second.id}`, patchOp({ op: 'replace', path: 'externalId', value: first.externalId }));

    assertScimError(res, 409, 'uniqueness');
    assert.deepEqual((await scim.get(`/Users/${second.id}`)).body, second);
  });

  it("PATCH /Users › a rename onto another user's userName › 409 uniqueness and nothing changes", async () => {
    const { scim } = await fresh();
    const first = await createUser(scim);
    const second = await createUser(scim);

    const res = await scim.patch(`/Users/${second.id}`, patchOp({ op: 'Replace', path: 'userName', value: first.userName }));

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    const stored = (await scim.get(`/Users/${second.id}`).expect(200)).body;
    assert.equal(stored.userName, second.userName);
  });
});

describe('Groups › adding members', () => {
  // Entra sends "$ref": null on every member, and op names in any case.
  for (const op of ['Add', 'ADD', 'aDd']) {
    it(`PATCH /Groups › "${op}" members with "$ref": null › 204, member added`, async () => {
      const { scim } = await fresh();
      const group = await createGroup(scim);
      const user = await createUser(scim);

      const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op, path: 'members', value: [{ $ref: null, value: user.id }] }));

      assert.equal(res.status, 204);
      assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
    });
  }

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

  it('PATCH /Groups › Add members with "$ref": null for three users › 204, all three members, one group.user_added each', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const users = [await createUser(scim), await createUser(scim), await createUser(scim)];

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: users.map((u) => ({ $ref: null, value: u.id })) }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), users.map((u) => u.id).sort());
    const events = await eventsOf(dir, (e) => e.filter((x) => x.type === 'group.user_added').length >= 3);
    const added = events.filter((e) => e.type === 'group.user_added');
    assert.deepEqual(added.map((e) => e.data.user!.id).sort(), users.map((u) => u.id).sort());
    assert.ok(added.every((e) => e.data.group!.id === group.id));
  });

  it('PATCH /Groups › Add a member who is already a member › 204, no duplicate and no second group.user_added', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);
    const add = patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: user.id }] });
    await scim.patch(`/Groups/${group.id}`, add).expect(204);

    const res = await scim.patch(`/Groups/${group.id}`, add);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'marker' })).expect(204);

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.updated'));
    assert.deepEqual(typesFor(events, group.id), ['group.created', 'group.user_added', 'group.updated']);
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

  // After a restart Entra re-adds every member it knows.
  it('PATCH /Groups › a restart re-adds every member plus one new one › 204, only the new member gets group.user_added', async () => {
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

  // Microsoft's reference code sends a bare id and an "id" beside Operations.
  it('PATCH /Groups › add members with a bare id string and an "id" beside Operations › 204, member added', async () => {
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

  it('PATCH /Groups › members carrying displayName instead of display › 204, member added', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'add', path: 'members', value: [{ displayName: 'new User', value: user.id }] }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
  });

  it('PATCH /Groups › Add a group as a member (nested group) › 400 invalidValue, membership unchanged', async () => {
    const { scim } = await fresh();
    const parent = await createGroup(scim);
    const child = await createGroup(scim);

    const res = await scim.patch(`/Groups/${parent.id}`, patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: child.id }] }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.deepEqual(await memberIdsOf(scim, parent.id), []);
  });
});

describe('Groups › removing members', () => {
  // Entra removes members with a value array by default.
  it('PATCH /Groups › Remove members with a value array (no $ref) › 204, only that member removed, group.user_removed', async () => {
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

  it('PATCH /Groups › Remove members listing two of three › 204, exactly those two removed, never the whole group', async () => {
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

  // Entra's compliant mode removes a member with a value filter.
  it('PATCH /Groups › remove members[value eq "<id>"] › 204, only that member removed, group.user_removed', async () => {
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

  // A server that ignored the missing "value" emptied the whole group.
  it('PATCH /Groups › Remove members whose value element has no "value" › 400 invalidValue, and the group is not emptied', async () => {
    const { scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: 'members', value: [{ display: 'someone' }] }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids));
  });

  it('PATCH /Groups › Remove members naming a user who is not a member › 204, membership and version unchanged, no event', async () => {
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

  // Entra removes members it believes are there; a stale one is no error.
  for (const [label, id] of [
    ['a user id that is not a member', () => randomUUID()],
    ['a value that is no user id at all', () => '2392066'],
  ] as const) {
    it(`PATCH /Groups › remove members[value eq …] with ${label} › 204 no-op, not 400 noTarget`, async () => {
      const { scim } = await fresh();
      const { group, ids } = await groupWithMembers(scim, 2);

      const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'remove', path: `members[value eq "${id()}"]` }));

      assert.equal(res.status, 204);
      assert.deepEqual(await memberIdsOf(scim, group.id), sorted(ids));
    });
  }
});

describe('Groups › other attributes and several operations', () => {
  // Entra sends display names as typed, leading spaces included.
  it('PATCH /Groups › Replace displayName with a plain string starting with a space › 204 without a body, stored exactly, group.updated', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const newName = ' Group X 1879db59-3bdf-4490-ad68-ab880a269474';

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: newName }));

    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal((await scim.get(`/Groups/${group.id}`).expect(200)).body.displayName, newName);
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.updated'));
    assert.deepEqual(typesFor(events, group.id), ['group.created', 'group.updated']);
  });

  it('PATCH /Groups › add members, remove one by filter, rename › membership and name follow', async () => {
    const { scim } = await fresh();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await scim.post('/Users', entraUser()).expect(201)).body.id as string);
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);
    const renamed = `renamed-${randomUUID()}`;

    const res = await scim.patch(
      `/Groups/${group.id}`,
      patchOp(
        { op: 'add', path: 'members', value: ids.map((value) => ({ value })) },
        { op: 'remove', path: `members[value eq "${ids[0]}"]` },
        { op: 'replace', path: 'displayName', value: renamed },
      ),
    );

    assert.ok(res.status === 204 || res.status === 200, `PATCH answered ${res.status}`);
    const read = await scim.get(`/Groups/${group.id}`).expect(200);
    assert.equal(read.body.displayName, renamed);
    assert.deepEqual(read.body.members.map((m: { value: string }) => m.value).sort(), [ids[1], ids[2]].sort());
    assert.equal(res.headers.etag, read.body.meta.version);
  });

  it('PATCH /Groups › three operations, the third adds a user that does not exist › 400 and nothing applied', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

    const res = await scim.patch(
      `/Groups/${group.id}`,
      patchOp(
        { op: 'replace', path: 'displayName', value: `renamed-${randomUUID()}` },
        { op: 'add', path: 'members', value: [{ value: user.id }] },
        { op: 'add', path: 'members', value: [{ value: randomUUID() }] },
      ),
    );

    assertScimError(res, 400, 'invalidValue');
    const after = await scim.get(`/Groups/${group.id}`).expect(200);
    assert.deepEqual(after.body, group);
  });

  it('PATCH /Groups › ?attributes=members › 200 with the members instead of 204', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

    const res = await scim.patch(`/Groups/${group.id}?attributes=members`, patchOp({ op: 'add', path: 'members', value: [{ value: user.id }] })).expect(200);

    assert.deepEqual(
      res.body.members.map((m: { value: string }) => m.value),
      [user.id],
    );
    assert.equal(res.body.id, group.id);
  });

  // Microsoft's SCIM validator sends an empty Operations array.
  it('PATCH /Groups › an empty Operations array › 204 no-op, members kept', async () => {
    const { scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 1);

    const res = await scim.patch(`/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [] });

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), ids);
  });
});

describe('responses', () => {
  // Microsoft's SCIM validator expects these statuses.
  it('PATCH › a user and a group › user PATCH answers 200 with the resource, group PATCH 204 without a body', async () => {
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
