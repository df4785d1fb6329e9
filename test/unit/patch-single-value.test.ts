/**
 * PATCH through Entra's single-value path, as the ActivTrak guide maps the UPN:
 * `urn:…:activtrak:2.0:User.userPrincipalNames[value eq null].value`. Table-driven over the
 * parse and apply steps: which paths are that form, and what add/replace/remove leave with
 * 0, 1 and several elements; ordinary value filters keep RFC 7644 §3.5.2 semantics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch } from '../../shared/scim/patch/apply';
import { parsePatchPath, parsePatchRequest } from '../../shared/scim/patch/parse';
import { parseExtensionSchema } from '../../shared/scim/schema-definition';
import { DirectorySchemas } from '../../shared/scim/schema-registry';
import { PATCH_OP_SCHEMA } from '../../shared/scim/schema-types';
import type { JsonObject } from '../../shared/scim/values';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const UPN = `${ACTIVTRAK}.userPrincipalNames[value eq null].value`;

const schemas = new DirectorySchemas({
  user: [
    {
      schema: parseExtensionSchema({
        id: ACTIVTRAK,
        name: 'ActivTrakUser',
        attributes: [
          {
            name: 'userPrincipalNames',
            type: 'complex',
            multiValued: true,
            subAttributes: [
              { name: 'value', type: 'string' },
              { name: 'type', type: 'string' },
            ],
          },
          { name: 'tracking', type: 'boolean' },
        ],
      }).schema,
      required: false,
    },
  ],
  group: [],
}).user;

describe("PATCH path › which paths are Entra's single-value form", () => {
  const cases: [string, boolean][] = [
    [UPN, true],
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
    it(`${path} › ${single ? 'single-value' : 'RFC 7644 value filter'}`, () => {
      assert.equal(parsePatchPath(schemas, path).singleValue === true, single);
    });
  }
});

describe('PATCH apply › the single-value path, with 0, 1 and several elements', () => {
  const user = (upns?: JsonObject[]): JsonObject => ({ userName: 'u@x', ...(upns ? { [ACTIVTRAK]: { userPrincipalNames: upns, tracking: true } } : {}) });
  const patch = (data: JsonObject, ...ops: { op: string; value?: unknown }[]) =>
    applyPatch(schemas, data, parsePatchRequest(schemas, { schemas: [PATCH_OP_SCHEMA], Operations: ops.map((o) => ({ ...o, path: UPN })) }, 10));
  const upnsOf = (data: JsonObject) => (data[ACTIVTRAK] as JsonObject | undefined)?.userPrincipalNames;

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
    it(`${situation}`, () => {
      const data = user(before);
      const next = patch(data, ...ops);
      assert.deepEqual(upnsOf(next), expected);
      if (before) assert.equal((next[ACTIVTRAK] as JsonObject).tracking, true, "the extension's other attributes stay");
      assert.deepEqual(upnsOf(data), before, 'the input is not touched');
    });
  }

  it('Remove, the only attribute of the extension › the extension object goes too', () => {
    const next = applyPatch(
      schemas,
      { userName: 'u@x', [ACTIVTRAK]: { userPrincipalNames: [a] } },
      parsePatchRequest(schemas, { Operations: [{ op: 'remove', path: UPN }] }, 10),
    );
    assert.equal(next[ACTIVTRAK], undefined);
  });

  it('Replace with a number › 400 invalidValue', () => {
    assert.throws(
      () => patch(user([a]), { op: 'Replace', value: 7 }),
      (err: { status: number; scimType: string }) => err.status === 400 && err.scimType === 'invalidValue',
    );
  });
});

describe('PATCH apply › ordinary value filters keep RFC 7644 §3.5.2', () => {
  const emails = (data: JsonObject) => data.emails;
  const run = (data: JsonObject, op: Record<string, unknown>) => applyPatch(schemas, data, parsePatchRequest(schemas, { Operations: [op] }, 10));
  const base = {
    userName: 'u@x',
    emails: [
      { type: 'work', value: 'w@x' },
      { type: 'home', value: 'h@x' },
    ],
  };

  const cases: [string, Record<string, unknown>, unknown][] = [
    [
      'replace emails[type eq "work"].value › only the work one changes',
      { op: 'replace', path: 'emails[type eq "work"].value', value: 'w2@x' },
      [
        { type: 'work', value: 'w2@x' },
        { type: 'home', value: 'h@x' },
      ],
    ],
    [
      'add emails[type eq "other"].value, no match › created from the filter',
      { op: 'add', path: 'emails[type eq "other"].value', value: 'o@x' },
      [...base.emails, { type: 'other', value: 'o@x' }],
    ],
    ['remove emails[type eq "home"] › only the home one goes', { op: 'remove', path: 'emails[type eq "home"]' }, [{ type: 'work', value: 'w@x' }]],
    [
      'replace emails[value eq "h@x"].value › only that element',
      { op: 'replace', path: 'emails[value eq "h@x"].value', value: 'h2@x' },
      [
        { type: 'work', value: 'w@x' },
        { type: 'home', value: 'h2@x' },
      ],
    ],
  ];
  for (const [situation, op, expected] of cases) {
    it(situation, () => {
      assert.deepEqual(emails(run(structuredClone(base), op)), expected);
    });
  }
});
