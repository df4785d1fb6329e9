/**
 * The PATCH parse step alone (shared/scim/patch/parse.ts), table-driven: a PatchOp body → the
 * operations it parses to, or the ScimError's status and scimType. Every operation is checked
 * before any is applied, so each bad input must fail here, not half-way through apply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PatchOperation } from '../../shared/scim/patch/parse';
import { parsePatchPath, parsePatchRequest } from '../../shared/scim/patch/parse';
import { ACTIVTRAK, directorySchemas, ENTERPRISE, patchBody } from '../support/patch-schemas';

const users = directorySchemas.user;
const groups = directorySchemas.group;

/** What a parsed operation means, without the schema definitions it points at. */
function shape(op: PatchOperation) {
  const p = op.path;
  const out: Record<string, unknown> = { index: op.index, op: op.op };
  if (p) {
    out.path = p.text;
    if (p.target.extension) out.extension = p.target.extension;
    if (p.target.attribute) out.attribute = p.target.attribute.name;
    if (p.target.subAttribute) out.sub = p.target.subAttribute.name;
    if (p.filter) out.filter = p.filter;
    if (p.filteredSub) out.filteredSub = p.filteredSub.name;
    if (p.singleValue) out.singleValue = true;
  }
  if (op.value !== undefined) out.value = op.value;
  return out;
}

const work = { op: 'eq', path: 'type', value: 'work' };

describe('PATCH parse › valid requests › the operations they mean', () => {
  const cases: [string, unknown, Record<string, unknown>[], typeof users?][] = [
    [
      'add a simple attribute',
      patchBody({ op: 'add', path: 'nickName', value: 'Babs' }),
      [{ index: 1, op: 'add', path: 'nickName', attribute: 'nickName', value: 'Babs' }],
    ],
    // Entra sent "Add"/"Replace"/"Remove" before its 2020 compliance fix; some clients send capitals.
    [
      '"Replace" capitalised',
      patchBody({ op: 'Replace', path: 'title', value: 'x' }),
      [{ index: 1, op: 'replace', path: 'title', attribute: 'title', value: 'x' }],
    ],
    ['"REMOVE" in capitals, no value', patchBody({ op: 'REMOVE', path: 'title' }), [{ index: 1, op: 'remove', path: 'title', attribute: 'title' }]],
    [
      'keys "Op", "Path", "Value" capitalised',
      patchBody({ Op: 'add', Path: 'title', Value: 'x' }),
      [{ index: 1, op: 'add', path: 'title', attribute: 'title', value: 'x' }],
    ],
    [
      '"operations" in lower case',
      { operations: [{ op: 'add', path: 'title', value: 'x' }] },
      [{ index: 1, op: 'add', path: 'title', attribute: 'title', value: 'x' }],
    ],
    ['no "schemas" at all', { Operations: [{ op: 'remove', path: 'title' }] }, [{ index: 1, op: 'remove', path: 'title', attribute: 'title' }]],
    // Microsoft's SCIM validator sends an empty array; nothing to apply is a no-op.
    ['an empty Operations array', patchBody(), []],
    [
      'a sub-attribute path',
      patchBody({ op: 'replace', path: 'name.givenName', value: 'G' }),
      [{ index: 1, op: 'replace', path: 'name.givenName', attribute: 'name', sub: 'givenName', value: 'G' }],
    ],
    [
      'an extension attribute, colon form',
      patchBody({ op: 'add', path: `${ENTERPRISE}:department`, value: 'R' }),
      [{ index: 1, op: 'add', path: `${ENTERPRISE}:department`, extension: ENTERPRISE, attribute: 'department', value: 'R' }],
    ],
    // Entra wrote extension paths with a dot before 2018.
    [
      'an extension attribute, dot form',
      patchBody({ op: 'add', path: `${ENTERPRISE}.department`, value: 'R' }),
      [{ index: 1, op: 'add', path: `${ENTERPRISE}.department`, extension: ENTERPRISE, attribute: 'department', value: 'R' }],
    ],
    // Entra's older clients send the bare "manager" path for the enterprise manager.
    [
      'the bare "manager" path',
      patchBody({ op: 'Add', path: 'manager', value: [{ $ref: null, value: 'm1' }] }),
      [{ index: 1, op: 'add', path: 'manager', extension: ENTERPRISE, attribute: 'manager', value: [{ $ref: null, value: 'm1' }] }],
    ],
    [
      'the whole extension object',
      patchBody({ op: 'replace', path: ENTERPRISE, value: { department: 'R' } }),
      [{ index: 1, op: 'replace', path: ENTERPRISE, extension: ENTERPRISE, value: { department: 'R' } }],
    ],
    [
      'a value filter with a sub-attribute',
      patchBody({ op: 'replace', path: 'emails[type eq "work"].value', value: 'w@x' }),
      [{ index: 1, op: 'replace', path: 'emails[type eq "work"].value', attribute: 'emails', filter: work, filteredSub: 'value', value: 'w@x' }],
    ],
    [
      'a value filter, brackets inside the quoted value',
      patchBody({ op: 'remove', path: 'emails[value eq "a]b@x"]' }),
      [{ index: 1, op: 'remove', path: 'emails[value eq "a]b@x"]', attribute: 'emails', filter: { op: 'eq', path: 'value', value: 'a]b@x' } }],
    ],
    [
      'remove members[value eq "…"] on a group',
      patchBody({ op: 'remove', path: 'members[value eq "u1"]' }),
      [{ index: 1, op: 'remove', path: 'members[value eq "u1"]', attribute: 'members', filter: { op: 'eq', path: 'value', value: 'u1' } }],
      groups,
    ],
    // Entra removes members with a value array, not a filter, by default.
    [
      'Remove members with a value array',
      patchBody({ op: 'Remove', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] }),
      [{ index: 1, op: 'remove', path: 'members', attribute: 'members', value: [{ value: 'u1' }, { value: 'u2' }] }],
      groups,
    ],
    // Entra clears the manager with a filter naming the old one: allowed on a single-valued attribute for remove only.
    [
      'remove a filter on the single-valued manager',
      patchBody({ op: 'remove', path: `${ENTERPRISE}:manager[value eq "m1"]` }),
      [
        {
          index: 1,
          op: 'remove',
          path: `${ENTERPRISE}:manager[value eq "m1"]`,
          extension: ENTERPRISE,
          attribute: 'manager',
          filter: { op: 'eq', path: 'value', value: 'm1' },
        },
      ],
    ],
    // Entra's compliant mode sends one path-less replace whose keys are themselves paths.
    [
      'a path-less replace whose keys are paths › one operation per key, all with the same index',
      patchBody(
        { op: 'add', path: 'title', value: 'T' },
        { op: 'replace', value: { displayName: 'D', 'name.givenName': 'G', [`${ENTERPRISE}:employeeNumber`]: '7', 'emails[type eq "work"].value': 'w@x' } },
      ),
      [
        { index: 1, op: 'add', path: 'title', attribute: 'title', value: 'T' },
        { index: 2, op: 'replace', path: 'displayName', attribute: 'displayName', value: 'D' },
        { index: 2, op: 'replace', path: 'name.givenName', attribute: 'name', sub: 'givenName', value: 'G' },
        { index: 2, op: 'replace', path: `${ENTERPRISE}:employeeNumber`, extension: ENTERPRISE, attribute: 'employeeNumber', value: '7' },
        { index: 2, op: 'replace', path: 'emails[type eq "work"].value', attribute: 'emails', filter: work, filteredSub: 'value', value: 'w@x' },
      ],
    ],
    // Entra sends booleans as strings; parse keeps the value, apply coerces it.
    [
      'a boolean as the string "False"',
      patchBody({ op: 'Replace', path: 'active', value: 'False' }),
      [{ index: 1, op: 'replace', path: 'active', attribute: 'active', value: 'False' }],
    ],
    [
      'replace with null (clears, RFC 7643 §2.5)',
      patchBody({ op: 'replace', path: 'nickName', value: null }),
      [{ index: 1, op: 'replace', path: 'nickName', attribute: 'nickName', value: null }],
    ],
  ];
  for (const [situation, body, expected, schemas = users] of cases) {
    it(`PATCH parse › ${situation} › ${expected.length} operation(s)`, () => {
      assert.deepEqual(parsePatchRequest(schemas, body, 10).map(shape), expected);
    });
  }
});

describe('PATCH parse › invalid requests › 400 with the scimType', () => {
  const cases: [string, unknown, string, number?][] = [
    ['a body that is not an object', 'add title', 'invalidSyntax'],
    [
      'schemas naming core:2.0:PatchOp instead of the message URN',
      { schemas: ['urn:ietf:params:scim:schemas:core:2.0:PatchOp'], Operations: [] },
      'invalidSyntax',
    ],
    ['Operations not an array', { Operations: { op: 'add' } }, 'invalidSyntax'],
    ['no Operations at all', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'] }, 'invalidSyntax'],
    [
      'more operations than allowed',
      patchBody({ op: 'remove', path: 'title' }, { op: 'remove', path: 'nickName' }, { op: 'remove', path: 'locale' }),
      'tooMany',
      2,
    ],
    ['an operation that is not an object', patchBody('remove title'), 'invalidSyntax'],
    ['an unknown op', patchBody({ op: 'merge', path: 'title', value: 'x' }), 'invalidSyntax'],
    ['a path that is not a string', patchBody({ op: 'add', path: 42, value: 'x' }), 'invalidSyntax'],
    ['an empty path', patchBody({ op: 'add', path: ' ', value: 'x' }), 'invalidSyntax'],
    ['remove without a path (RFC 7644 §3.5.2.2)', patchBody({ op: 'remove' }), 'noTarget'],
    ['add without a path and a string value', patchBody({ op: 'add', value: 'x' }), 'invalidValue'],
    ['replace with a path and no value', patchBody({ op: 'replace', path: 'title' }), 'invalidValue'],
    ['an unknown attribute', patchBody({ op: 'add', path: 'nickname2', value: 'x' }), 'invalidPath'],
    ['an unknown sub-attribute', patchBody({ op: 'add', path: 'name.nickName', value: 'x' }), 'invalidPath'],
    [
      'a schema the directory does not have',
      patchBody({ op: 'add', path: 'urn:ietf:params:scim:schemas:extension:nobody:2.0:User:x', value: 'x' }),
      'invalidPath',
    ],
    ['a path-less add whose key is unknown', patchBody({ op: 'add', value: { nickname2: 'x' } }), 'invalidPath'],
    ['an unclosed value filter', patchBody({ op: 'add', path: 'emails[type eq "work"', value: 'x' }), 'invalidPath'],
    ['a value filter on a simple attribute', patchBody({ op: 'remove', path: 'userName[value eq "x"]' }), 'invalidPath'],
    ['a value filter that does not parse', patchBody({ op: 'remove', path: 'emails[type zz "work"]' }), 'invalidPath'],
    ['text after the filter without a dot', patchBody({ op: 'replace', path: 'emails[type eq "work"]value', value: 'x' }), 'invalidPath'],
    ['an unknown sub-attribute after the filter', patchBody({ op: 'replace', path: 'emails[type eq "work"].nosuch', value: 'x' }), 'invalidPath'],
    [
      'add through a filter on the single-valued manager',
      patchBody({ op: 'add', path: `${ENTERPRISE}:manager[value eq "m1"].value`, value: 'x' }),
      'invalidPath',
    ],
    ['a bad second operation after a good first', patchBody({ op: 'add', path: 'title', value: 'x' }, { op: 'remove' }), 'noTarget'],
  ];
  for (const [situation, body, scimType, max = 10] of cases) {
    it(`PATCH parse › ${situation} › 400 ${scimType}`, () => {
      assert.throws(
        () => parsePatchRequest(users, body, max),
        (err: { status: number; scimType: string }) => err.status === 400 && err.scimType === scimType,
      );
    });
  }

  it('PATCH parse › a failing operation › the detail names its position', () => {
    assert.throws(
      () => parsePatchRequest(users, patchBody({ op: 'add', path: 'title', value: 'x' }, { op: 'add', path: 'emails[type eq "work"', value: 'x' }), 10),
      (err: { detail: string }) => err.detail.startsWith('operation 2:'),
    );
  });
});

// Entra writes one source value into a multi-valued attribute with `attr[sub eq null].sub`
// (the ActivTrak mapping writes the UPN that way); parse marks that form, apply gives it its meaning.
describe("PATCH parse › which paths are Entra's single-value form", () => {
  const upns = `${ACTIVTRAK}.userPrincipalNames`;
  const cases: [string, boolean][] = [
    [`${upns}[value eq null].value`, true],
    [`${ACTIVTRAK}:userPrincipalNames[value eq null].value`, true],
    [`${ACTIVTRAK}:userPrincipalNames[VALUE eq null].Value`, true],
    [`${ACTIVTRAK}:userPrincipalNames[value eq "a@x"].value`, false],
    [`${ACTIVTRAK}:userPrincipalNames[type eq null].value`, false],
    [`${ACTIVTRAK}:userPrincipalNames[value eq null]`, false],
    [`${ACTIVTRAK}:userPrincipalNames[value ne null].value`, false],
    [`${ACTIVTRAK}:userPrincipalNames[value eq null and type eq "work"].value`, false],
    ['emails[type eq "work"].value', false],
    ['emails[value eq null].value', true],
  ];
  for (const [path, single] of cases) {
    it(`PATCH parse › ${path} › ${single ? 'single-value' : 'RFC 7644 value filter'}`, () => {
      assert.equal(parsePatchPath(users, path).singleValue === true, single);
    });
  }
});
