/**
 * The PATCH apply step alone (shared/scim/patch/apply.ts), table-driven: (stored resource,
 * operations) → the resource after, or the ScimError's status and scimType. Operations are
 * parsed first (parse.ts) exactly as the API does; the input resource must never change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPatch } from '../../shared/scim/patch/apply';
import { parsePatchRequest } from '../../shared/scim/patch/parse';
import type { JsonObject } from '../../shared/scim/values';
import { ACTIVTRAK, directorySchemas, ENTERPRISE, patchBody } from '../support/patch-schemas';

const schemas = directorySchemas.user;

/** Parses and applies, and checks the stored resource was left alone (all or nothing). */
function patch(data: JsonObject, ...ops: Record<string, unknown>[]): JsonObject {
  const before = structuredClone(data);
  const next = applyPatch(schemas, data, parsePatchRequest(schemas, patchBody(...ops), 100));
  assert.deepEqual(data, before, 'the input is not touched');
  return next;
}

const work = { type: 'work', value: 'w@x', primary: true };
const home = { type: 'home', value: 'h@x' };
const base: JsonObject = {
  userName: 'u@x',
  displayName: 'Shown',
  title: 'Engineer',
  active: true,
  name: { givenName: 'Given', familyName: 'Family' },
  emails: [work, home],
  [ENTERPRISE]: { department: 'Sales', manager: { value: 'm1' } },
};
/** `base` with some top-level keys replaced (undefined removes one). */
const user = (changes: Record<string, unknown> = {}): JsonObject => {
  const out: JsonObject = structuredClone(base);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v as JsonObject[string];
  }
  return out;
};

describe('PATCH apply › add, replace and remove › the resource after', () => {
  const cases: [string, JsonObject, Record<string, unknown>[], JsonObject][] = [
    ['add a simple attribute', user(), [{ op: 'add', path: 'nickName', value: 'Babs' }], user({ nickName: 'Babs' })],
    [
      'add a simple attribute already set › replaced (RFC 7644 §3.5.2.1)',
      user({ nickName: 'Barb' }),
      [{ op: 'Add', path: 'nickName', value: 'Babs' }],
      user({ nickName: 'Babs' }),
    ],
    ['replace a simple attribute', user(), [{ op: 'replace', path: 'displayName', value: 'New' }], user({ displayName: 'New' })],
    ['remove a simple attribute', user(), [{ op: 'remove', path: 'title' }], user({ title: undefined })],
    ['remove an attribute that is not set › nothing', user({ title: undefined }), [{ op: 'remove', path: 'title' }], user({ title: undefined })],
    ['replace with null › cleared (RFC 7643 §2.5)', user(), [{ op: 'replace', path: 'title', value: null }], user({ title: undefined })],
    [
      'replace a sub-attribute › the others stay',
      user(),
      [{ op: 'replace', path: 'name.givenName', value: 'G2' }],
      user({ name: { givenName: 'G2', familyName: 'Family' } }),
    ],
    [
      'add a complex attribute › merged with the sub-attributes it has',
      user(),
      [{ op: 'add', path: 'name', value: { middleName: 'Q' } }],
      user({ name: { givenName: 'Given', familyName: 'Family', middleName: 'Q' } }),
    ],
    [
      'add without a path › each key applied, complex values merged',
      user(),
      [{ op: 'add', value: { title: 'CTO', name: { middleName: 'Q' } } }],
      user({ title: 'CTO', name: { givenName: 'Given', familyName: 'Family', middleName: 'Q' } }),
    ],
    // Entra's compliant mode sends one path-less replace whose keys are themselves paths.
    [
      'replace without a path, keys that are paths › each applied as a path',
      user(),
      [{ op: 'replace', value: { 'name.familyName': 'F2', [`${ENTERPRISE}:employeeNumber`]: '7', 'emails[type eq "work"].value': 'w2@x' } }],
      user({
        name: { givenName: 'Given', familyName: 'F2' },
        emails: [{ ...work, value: 'w2@x' }, home],
        [ENTERPRISE]: { department: 'Sales', manager: { value: 'm1' }, employeeNumber: '7' },
      }),
    ],
    [
      'add to a multi-valued attribute › appended',
      user(),
      [{ op: 'add', path: 'emails', value: [{ type: 'other', value: 'o@x' }] }],
      user({ emails: [work, home, { type: 'other', value: 'o@x' }] }),
    ],
    ['add a value already there (in another case) › not added twice', user(), [{ op: 'add', path: 'emails', value: [{ type: 'home', value: 'H@X' }] }], user()],
    [
      'replace a multi-valued attribute › the whole list',
      user(),
      [{ op: 'replace', path: 'emails', value: [{ value: 'o@x' }] }],
      user({ emails: [{ value: 'o@x' }] }),
    ],
    [
      'add a new primary value › the old primary yields',
      user(),
      [{ op: 'add', path: 'emails', value: [{ type: 'other', value: 'o@x', primary: true }] }],
      user({ emails: [{ ...work, primary: false }, home, { type: 'other', value: 'o@x', primary: true }] }),
    ],
    ['remove listed values of a multi-valued attribute', user(), [{ op: 'remove', path: 'emails', value: [{ value: 'h@x' }] }], user({ emails: [work] })],
    ['remove listed values, none of them there › nothing', user(), [{ op: 'remove', path: 'emails', value: [{ value: 'nobody@x' }] }], user()],
    ['remove a multi-valued attribute without a value › all of it', user(), [{ op: 'remove', path: 'emails' }], user({ emails: undefined })],
    ['remove the enterprise extension by its URN', user(), [{ op: 'remove', path: ENTERPRISE }], user({ [ENTERPRISE]: undefined })],
    [
      'replace on the enterprise URN with an object › each attribute applied',
      user(),
      [{ op: 'replace', path: ENTERPRISE, value: { department: 'R&D', costCenter: '42' } }],
      user({ [ENTERPRISE]: { department: 'R&D', manager: { value: 'm1' }, costCenter: '42' } }),
    ],
    [
      'remove the last attribute of an extension › the extension object goes too',
      user({ [ENTERPRISE]: { department: 'Sales' } }),
      [{ op: 'remove', path: `${ENTERPRISE}:department` }],
      user({ [ENTERPRISE]: undefined }),
    ],
  ];
  for (const [situation, data, ops, expected] of cases) {
    it(`PATCH apply › ${situation}`, () => {
      assert.deepEqual(patch(data, ...ops), expected);
    });
  }
});

describe('PATCH apply › value filters › the resource after', () => {
  const cases: [string, JsonObject, Record<string, unknown>[], JsonObject][] = [
    [
      'replace emails[type eq "work"].value › only that element',
      user(),
      [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'w2@x' }],
      user({ emails: [{ ...work, value: 'w2@x' }, home] }),
    ],
    [
      'replace emails[value eq "h@x"].value › only that element',
      user(),
      [{ op: 'replace', path: 'emails[value eq "h@x"].value', value: 'h2@x' }],
      user({ emails: [work, { ...home, value: 'h2@x' }] }),
    ],
    ['remove emails[type eq "home"] › only that element', user(), [{ op: 'remove', path: 'emails[type eq "home"]' }], user({ emails: [work] })],
    ['remove emails[type eq "other"], no match › nothing', user(), [{ op: 'remove', path: 'emails[type eq "other"]' }], user()],
    [
      'replace emails[type eq "home"] with an object › the element replaced',
      user(),
      [{ op: 'replace', path: 'emails[type eq "home"]', value: { type: 'home', value: 'h3@x' } }],
      user({ emails: [work, { type: 'home', value: 'h3@x' }] }),
    ],
    [
      'add emails[type eq "home"] with an object › merged into the element',
      user(),
      [{ op: 'add', path: 'emails[type eq "home"]', value: { display: 'Home' } }],
      user({ emails: [work, { ...home, display: 'Home' }] }),
    ],
    // Entra writes a typed value through a filter path even when no element of that type exists yet.
    [
      'add emails[type eq "other"].value, no match › created from the filter',
      user(),
      [{ op: 'add', path: 'emails[type eq "other"].value', value: 'o@x' }],
      user({ emails: [work, home, { type: 'other', value: 'o@x' }] }),
    ],
    [
      'replace emails[type eq "work"].value on a user without emails › created, primary not invented',
      user({ emails: undefined }),
      [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'w@x' }],
      user({ emails: [{ type: 'work', value: 'w@x' }] }),
    ],
    // Entra re-sends the same Add every cycle.
    [
      'the same creating add twice › one element',
      user({ emails: undefined }),
      [
        { op: 'add', path: 'emails[type eq "work"].value', value: 'w@x' },
        { op: 'add', path: 'emails[type eq "work"].value', value: 'w@x' },
      ],
      user({ emails: [{ type: 'work', value: 'w@x' }] }),
    ],
    // Entra sends one operation per mapped address field.
    [
      'three adds on sub-attributes of addresses[type eq "work"] › one work address',
      user(),
      [
        { op: 'add', path: 'addresses[type eq "work"].formatted', value: 'F' },
        { op: 'add', path: 'addresses[type eq "work"].locality', value: 'L' },
        { op: 'add', path: 'addresses[type eq "work"].region', value: 'R' },
      ],
      user({ addresses: [{ type: 'work', formatted: 'F', locality: 'L', region: 'R' }] }),
    ],
    // Entra sends primary as the string "True", and moves primary this way.
    [
      'replace emails[type eq "home"].primary with "True" › home primary, work yields',
      user(),
      [{ op: 'replace', path: 'emails[type eq "home"].primary', value: 'True' }],
      user({
        emails: [
          { ...work, primary: false },
          { ...home, primary: true },
        ],
      }),
    ],
    // Entra mapping targets compare primary with the string "True".
    [
      'replace roles[primary eq "True"].value against a boolean primary › that role',
      user({
        roles: [
          { primary: true, value: 'Admin' },
          { primary: false, value: 'Reader' },
        ],
      }),
      [{ op: 'Replace', path: 'roles[primary eq "True"].value', value: 'Owner' }],
      user({
        roles: [
          { primary: true, value: 'Owner' },
          { primary: false, value: 'Reader' },
        ],
      }),
    ],
    // Entra clears a work email with Remove on the value path and still sends a value.
    [
      'remove emails[type eq "work"].value carrying a value › the value goes, the rest of the element stays',
      user(),
      [{ op: 'Remove', path: 'emails[type eq "work"].value', value: 'sent@x' }],
      user({ emails: [{ type: 'work', primary: true }, home] }),
    ],
    // Entra clears the manager with a filter naming the old manager; a stale one is no error.
    [
      'remove manager[value eq "m1"] naming the manager › cleared',
      user(),
      [{ op: 'remove', path: 'manager[value eq "m1"]' }],
      user({ [ENTERPRISE]: { department: 'Sales' } }),
    ],
    ['remove manager[value eq "m2"] naming someone else › kept', user(), [{ op: 'remove', path: `${ENTERPRISE}:manager[value eq "m2"]` }], user()],
    // Found by the fuzzer: the element created from the filter had no assigned sub-attribute and
    // was stored as null, and the next `emails.value` PATCH failed with a 500.
    [
      'replace emails[value eq "none@x"].value with "" › matches nothing, adds nothing',
      user(),
      [{ op: 'replace', path: 'emails[value eq "none@x"].value', value: '' }],
      user(),
    ],
  ];
  for (const [situation, data, ops, expected] of cases) {
    it(`PATCH apply › ${situation}`, () => {
      assert.deepEqual(patch(data, ...ops), expected);
    });
  }
});

describe("PATCH apply › Entra's value shapes › the resource after", () => {
  const manager = (m: unknown) => user({ [ENTERPRISE]: { department: 'Sales', ...(m === undefined ? {} : { manager: m }) } });
  const cases: [string, JsonObject, Record<string, unknown>[], JsonObject][] = [
    // Entra sends active as the string "True" or "False" unless the tenant opted into booleans.
    ['Replace active "False"', user(), [{ op: 'Replace', path: 'active', value: 'False' }], user({ active: false })],
    ['Replace active "FALSE"', user(), [{ op: 'Replace', path: 'active', value: 'FALSE' }], user({ active: false })],
    ['Replace active "True" on an inactive user', user({ active: false }), [{ op: 'Replace', path: 'active', value: 'True' }], user()],
    // Entra sets the manager with a bare id, and clears it with "", { value: "" }, {} or null.
    [
      'Add the manager as a bare id string › { value }',
      manager(undefined),
      [{ op: 'Add', path: `${ENTERPRISE}:manager`, value: 'm2' }],
      manager({ value: 'm2' }),
    ],
    [
      'Replace the manager with { value }',
      manager({ value: 'm1' }),
      [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: { value: 'm2' } }],
      manager({ value: 'm2' }),
    ],
    ['Replace the manager with "" › cleared', manager({ value: 'm1' }), [{ op: 'Replace', path: `${ENTERPRISE}:manager`, value: '' }], manager(undefined)],
    [
      'Replace the manager with { value: "" } › cleared',
      manager({ value: 'm1' }),
      [{ op: 'Replace', path: `${ENTERPRISE}:manager`, value: { value: '' } }],
      manager(undefined),
    ],
    ['Replace the manager with {} › cleared', manager({ value: 'm1' }), [{ op: 'Replace', path: `${ENTERPRISE}:manager`, value: {} }], manager(undefined)],
    ['Replace the manager with null › cleared', manager({ value: 'm1' }), [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: null }], manager(undefined)],
    // Entra's single values may arrive wrapped in a one-element array.
    ['Replace title with a one-element array', user(), [{ op: 'Replace', path: 'title', value: ['CTO'] }], user({ title: 'CTO' })],
    // Entra re-sends values it believes changed: nothing changes, so the API keeps the version.
    [
      'every value re-sent as stored › the same resource',
      user(),
      [
        { op: 'Replace', path: 'active', value: 'True' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'w@x' },
        { op: 'Replace', path: 'name.givenName', value: 'Given' },
        { op: 'Add', path: 'displayName', value: 'Shown' },
        { op: 'Add', path: `${ENTERPRISE}:manager`, value: 'm1' },
      ],
      user(),
    ],
  ];
  for (const [situation, data, ops, expected] of cases) {
    it(`PATCH apply › ${situation}`, () => {
      assert.deepEqual(patch(data, ...ops), expected);
    });
  }
});

describe('PATCH apply › errors › 400 with the scimType', () => {
  const badge = (v?: string): JsonObject => user(v === undefined ? {} : { [ACTIVTRAK]: { badgeId: v } });
  const cases: [string, JsonObject, Record<string, unknown>[], string][] = [
    ['replace id (read-only)', user(), [{ op: 'replace', path: 'id', value: 'x' }], 'mutability'],
    ['replace meta (read-only)', user(), [{ op: 'replace', path: 'meta', value: {} }], 'mutability'],
    ['add groups (read-only)', user(), [{ op: 'add', path: 'groups', value: [{ value: 'g1' }] }], 'mutability'],
    ['change an immutable attribute once set', badge('b1'), [{ op: 'replace', path: `${ACTIVTRAK}:badgeId`, value: 'b2' }], 'mutability'],
    ['replace active with a string that is no boolean', user(), [{ op: 'replace', path: 'active', value: 'maybe' }], 'invalidValue'],
    ['replace emails with a bare string', user(), [{ op: 'replace', path: 'emails', value: 'a@x' }], 'invalidValue'],
    ['remove userName (required)', user(), [{ op: 'remove', path: 'userName' }], 'invalidValue'],
    ['replace on the enterprise URN with a string', user(), [{ op: 'replace', path: ENTERPRISE, value: 'Sales' }], 'invalidValue'],
    ['replace on the enterprise URN with an unknown attribute', user(), [{ op: 'replace', path: ENTERPRISE, value: { nosuch: 'x' } }], 'invalidPath'],
    [
      'add through a filter that matches nothing and is not an equality',
      user(),
      [{ op: 'add', path: 'emails[value co "zz"].display', value: 'x' }],
      'noTarget',
    ],
    [
      'a valid change, then an invalid one › nothing applied',
      user(),
      [
        { op: 'replace', path: 'title', value: 'CTO' },
        { op: 'replace', path: 'active', value: 'maybe' },
      ],
      'invalidValue',
    ],
  ];
  for (const [situation, data, ops, scimType] of cases) {
    it(`PATCH apply › ${situation} › 400 ${scimType}`, () => {
      const before = structuredClone(data);
      assert.throws(
        () => applyPatch(schemas, data, parsePatchRequest(schemas, patchBody(...ops), 100)),
        (err: { status: number; scimType: string }) => err.status === 400 && err.scimType === scimType,
      );
      assert.deepEqual(data, before, 'the input is not touched');
    });
  }

  it('PATCH apply › add a second work email to a user that has one › 400 invalidValue', () => {
    assert.throws(
      () => patch(user(), { op: 'add', path: 'emails', value: [{ type: 'work', value: 'w2@x' }] }),
      (err: { status: number; scimType: string }) => err.status === 400 && err.scimType === 'invalidValue',
    );
  });

  it('PATCH apply › an immutable attribute set for the first time, or to the value it holds › applied', () => {
    assert.deepEqual(patch(badge(), { op: 'add', path: `${ACTIVTRAK}:badgeId`, value: 'b1' }), badge('b1'));
    assert.deepEqual(patch(badge('b1'), { op: 'replace', path: `${ACTIVTRAK}:badgeId`, value: 'b1' }), badge('b1'));
  });
});

/**
 * Entra's single-value path, as the ActivTrak mapping writes the UPN:
 * `urn:…:activtrak:2.0:User.userPrincipalNames[value eq null].value` means "the single value of
 * this list", with 0, 1 and several elements; ordinary value filters keep their ordinary meaning.
 */
describe('PATCH apply › the single-value path, with 0, 1 and several elements', () => {
  const UPN = `${ACTIVTRAK}.userPrincipalNames[value eq null].value`;
  const withUpns = (upns?: JsonObject[]): JsonObject => ({ userName: 'u@x', ...(upns ? { [ACTIVTRAK]: { userPrincipalNames: upns, tracking: true } } : {}) });
  const upnsOf = (data: JsonObject) => (data[ACTIVTRAK] as JsonObject | undefined)?.userPrincipalNames;
  const onUpn = (...ops: { op: string; value?: unknown }[]) => ops.map((o) => ({ ...o, path: UPN }));

  const a = { value: 'a@x' };
  const b = { value: 'b@x' };
  const cases: [string, JsonObject[] | undefined, { op: string; value?: unknown }[], unknown][] = [
    ['Add, no element', undefined, [{ op: 'Add', value: 'n@x' }], [{ value: 'n@x' }]],
    ['Replace, no element', undefined, [{ op: 'Replace', value: 'n@x' }], [{ value: 'n@x' }]],
    ['Add, one element', [a], [{ op: 'Add', value: 'n@x' }], [{ value: 'n@x' }]],
    ['Replace, one element', [a], [{ op: 'Replace', value: 'n@x' }], [{ value: 'n@x' }]],
    [
      'Replace, one element with other sub-attributes › they stay',
      [{ value: 'a@x', type: 'work' }],
      [{ op: 'Replace', value: 'n@x' }],
      [{ value: 'n@x', type: 'work' }],
    ],
    ['Add, several elements › one left', [a, b], [{ op: 'Add', value: 'n@x' }], [{ value: 'n@x' }]],
    ['Replace, several elements › one left', [a, b], [{ op: 'Replace', value: 'n@x' }], [{ value: 'n@x' }]],
    [
      'Replace, several, one of them the new value in another case › that one, new spelling',
      [
        { value: 'a@x', type: 'old' },
        { value: 'B@X', type: 'kept' },
      ],
      [{ op: 'Replace', value: 'b@x' }],
      [{ value: 'b@x', type: 'kept' }],
    ],
    ['Replace with the value it holds › unchanged', [a], [{ op: 'Replace', value: 'a@x' }], [a]],
    [
      'Add then Replace then Add (a UPN changing twice) › the last only',
      [a],
      [
        { op: 'Add', value: 'b@x' },
        { op: 'Replace', value: 'c@x' },
        { op: 'Add', value: 'd@x' },
      ],
      [{ value: 'd@x' }],
    ],
    ['Replace with null › cleared', [a, b], [{ op: 'Replace', value: null }], undefined],
    ['Remove, one element › cleared', [a], [{ op: 'Remove' }], undefined],
    ['Remove, several elements › cleared', [a, b], [{ op: 'Remove' }], undefined],
    ['Remove, no element › nothing', undefined, [{ op: 'Remove' }], undefined],
  ];
  for (const [situation, before, ops, expected] of cases) {
    it(`PATCH apply › single-value path › ${situation}`, () => {
      const next = patch(withUpns(before), ...onUpn(...ops));
      assert.deepEqual(upnsOf(next), expected);
      if (before) assert.equal((next[ACTIVTRAK] as JsonObject).tracking, true, "the extension's other attributes stay");
    });
  }

  it('PATCH apply › single-value path › Remove, the only attribute of the extension › the extension object goes too', () => {
    const next = patch({ userName: 'u@x', [ACTIVTRAK]: { userPrincipalNames: [a] } }, ...onUpn({ op: 'remove' }));
    assert.equal(next[ACTIVTRAK], undefined);
  });

  it('PATCH apply › single-value path › Replace with a number › 400 invalidValue', () => {
    assert.throws(
      () => patch(withUpns([a]), ...onUpn({ op: 'Replace', value: 7 })),
      (err: { status: number; scimType: string }) => err.status === 400 && err.scimType === 'invalidValue',
    );
  });
});
