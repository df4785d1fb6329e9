/**
 * Property tests of the filter parser and its SQL compiler (shared/scim/filter), through
 * buildListQuery, the entry every list request takes. Run counts, budgets and replaying a
 * failure: see ./arbitraries.ts (FUZZ_SEED, FUZZ_RUNS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { buildListQuery } from '../../shared/provisioning/list-query';
import { ScimError } from '../../shared/scim/errors';
import { DirectorySchemas, type ResourceSchemas } from '../../shared/scim/schema-registry';
import { attr, ENTERPRISE_USER_SCHEMA } from '../../shared/scim/schema-types';
import { edgeNumber, fuzzParameters, hostileString } from './arbitraries';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const schemas = new DirectorySchemas({
  user: [
    {
      schema: {
        id: ACTIVTRAK,
        name: 'ActivTrakUser',
        attributes: [
          attr('userPrincipalNames', 'complex', { multiValued: true, subAttributes: [attr('value', 'string')] }),
          attr('tracking', 'boolean'),
          attr('level', 'integer'),
          attr('score', 'decimal'),
          attr('lastActivity', 'dateTime'),
          attr('homepage', 'reference'),
        ],
      },
      required: false,
    },
  ],
  group: [],
});

const USER_FILTER_PATHS = [
  'userName',
  'displayName',
  'title',
  'active',
  'externalId',
  'id',
  'nickName',
  'userType',
  'meta.created',
  'meta.lastModified',
  'meta.version',
  'meta.resourceType',
  'name.givenName',
  'name.familyName',
  'name',
  'emails',
  'emails.value',
  'emails.type',
  'emails.primary',
  'phoneNumbers.value',
  'addresses.postalCode',
  'addresses.primary',
  'roles.value',
  'groups',
  'groups.value',
  'x509Certificates.value',
  `${ENTERPRISE_USER_SCHEMA}:employeeNumber`,
  `${ENTERPRISE_USER_SCHEMA}:manager.value`,
  `${ENTERPRISE_USER_SCHEMA}:manager`,
  `${ENTERPRISE_USER_SCHEMA}.employeeNumber`,
  `${ACTIVTRAK}:level`,
  `${ACTIVTRAK}:score`,
  `${ACTIVTRAK}:tracking`,
  `${ACTIVTRAK}:lastActivity`,
  `${ACTIVTRAK}:homepage`,
  `${ACTIVTRAK}:userPrincipalNames.value`,
  `${ACTIVTRAK}:userPrincipalNames`,
  'urn:ietf:params:scim:schemas:core:2.0:User:userName',
  'shoeSize',
  'name.nickname',
  'members.value',
];
const GROUP_FILTER_PATHS = [
  'displayName',
  'externalId',
  'id',
  'members',
  'members.value',
  'members.display',
  'members.type',
  'meta.created',
  'meta.version',
  'urn:ietf:params:scim:schemas:core:2.0:Group:displayName',
  'userName',
];
// Multi-valued (or complex) attributes a value path may filter, and the sub-attributes inside.
const USER_VALUE_PATHS = [
  'emails',
  'phoneNumbers',
  'addresses',
  'roles',
  'x509Certificates',
  'name',
  'groups',
  `${ACTIVTRAK}:userPrincipalNames`,
  `${ENTERPRISE_USER_SCHEMA}:manager`,
  'title',
];
const GROUP_VALUE_PATHS = ['members', 'displayName'];
const VALUE_PATH_SUBS = ['value', 'type', 'primary', 'display', 'postalCode', 'givenName', 'nope'];

const mixedCase = (word: string) => fc.mixedCase(fc.constant(word));

/** A filter value as it appears in filter text: a JSON string, a number, true/false/null, or junk. */
const valueText = fc.oneof(
  { weight: 5, arbitrary: hostileString(20).map((s) => JSON.stringify(s)) },
  { weight: 2, arbitrary: edgeNumber.map((n) => String(n)) },
  { weight: 1, arbitrary: fc.constantFrom('1e999', '-1e999', '1.', '.5', '0x10', '00012', '-0') },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'null', 'True', 'NULL') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '"2024-01-01T00:00:00Z"',
      '"2024-02-30"',
      '"2024-02-30T10:00:00Z"',
      '"0000-01-01T00:00:00Z"',
      '"2024-01-01T10:00:00+23:59"',
      '"2024-01-01T24:00:00"',
      '"10000-01-01T00:00:00Z"',
      '"-infinity"',
      '"epoch"',
      '"1e5"',
      '"01a23aa7-768b-71ac-b0bd-3a79826ac3a4"',
      '"not-a-uuid"',
      '"\\ud800"',
      '"\\u0000"',
      '"\\uZZZZ"',
      '"\\',
    ),
  },
);

/** Filters shaped by SCIM's filter grammar (and Entra's extensions of it), nested a few levels; a few tokens are junk. */
function grammarFilter(paths: readonly string[], valuePaths: readonly string[]): fc.Arbitrary<string> {
  const junk = hostileString(10);
  const pick = (words: readonly string[]) => fc.oneof({ weight: 19, arbitrary: fc.constantFrom(...words) }, { weight: 1, arbitrary: junk });
  const compareOp = fc.oneof(
    { weight: 19, arbitrary: fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le').chain(mixedCase) },
    { weight: 1, arbitrary: fc.constantFrom('like', '=', '') },
  );
  const leafOver = (names: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.tuple(names, compareOp, valueText).map(([p, op, v]) => `${p} ${op} ${v}`) },
      { weight: 1, arbitrary: names.map((p) => `${p} pr`) },
    );
  const subs = pick(VALUE_PATH_SUBS);
  const inner = fc.oneof(
    leafOver(subs),
    fc.tuple(leafOver(subs), fc.constantFrom('and', 'or'), leafOver(subs)).map(([a, op, b]) => `${a} ${op} ${b}`),
  );
  const valuePath = fc.oneof(
    fc.tuple(pick(valuePaths), inner).map(([p, f]) => `${p}[${f}]`),
    fc.tuple(pick(valuePaths), inner, subs, compareOp, valueText).map(([p, f, sub, op, v]) => `${p}[${f}].${sub} ${op} ${v}`),
  );
  return fc.letrec<{ filter: string }>((tie) => ({
    filter: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 4, arbitrary: leafOver(pick(paths)) },
      { weight: 2, arbitrary: valuePath },
      { weight: 2, arbitrary: fc.tuple(tie('filter'), fc.constantFrom('and', 'or', 'AND', 'Or'), tie('filter')).map(([a, op, b]) => `${a} ${op} ${b}`) },
      { weight: 1, arbitrary: tie('filter').map((f) => `(${f})`) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('not ', 'NOT', 'not'), tie('filter')).map(([not, f]) => `${not}(${f})`) },
    ),
  })).filter;
}

/** Compiles like a list request does; anything thrown must be a 400 ScimError. */
function compile(target: ResourceSchemas, filter: string, sortBy?: string) {
  try {
    return buildListQuery(target, { filter, sortBy }, 100).query;
  } catch (err) {
    assert.ok(err instanceof ScimError, `not a ScimError for ${JSON.stringify(filter)}: ${String(err)}`);
    assert.equal(err.status, 400);
    assert.ok(err.scimType, 'a scimType');
    return undefined;
  }
}

describe('fuzz › filter parser and SQL compiler', { timeout: 60_000 }, () => {
  it('arbitrary text as a filter › a compiled query or a 400 ScimError, never another exception', (t) => {
    const params = fuzzParameters<[string]>(3_000, 3_000);
    t.diagnostic(`seed ${params.seed}`);
    fc.assert(
      fc.property(fc.oneof(hostileString(80), fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 })), (text) => {
        compile(schemas.user, text);
        compile(schemas.group, text);
      }),
      params,
    );
  });

  it('arbitrary text as sortBy › a sort key or a 400 ScimError', (t) => {
    const params = fuzzParameters<[string]>(1_000, 2_000);
    t.diagnostic(`seed ${params.seed}`);
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...USER_FILTER_PATHS), hostileString(30)), (sortBy) => {
        compile(schemas.user, '', sortBy);
      }),
      params,
    );
  });

  describe('compiled SQL of grammar-shaped filters runs on PostgreSQL', () => {
    // Copies of the real tables (same columns, types and defaults) in a schema of this test, with
    // rows whose JSON holds the shapes a careless client could have stored.
    const schema = `fuzz_filter_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const client = new Client({ connectionString: config.DATABASE_URL });
    const directoryId = randomUUID();
    const tenantId = randomUUID();

    before(async () => {
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(`SET search_path TO ${schema}, public`);
      for (const table of ['scim_users', 'scim_groups', 'group_members']) {
        await client.query(`CREATE TABLE ${schema}.${table} (LIKE public.${table} INCLUDING DEFAULTS)`);
      }
      const users: object[] = [
        {
          name: { givenName: 'Ada', familyName: 'Lovelace' },
          title: 'Countess',
          emails: [{ value: 'ada@example.org', type: 'work', primary: true }],
          [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '1', manager: { value: randomUUID() } },
          [ACTIVTRAK]: { level: 3, score: 1.5, tracking: true, lastActivity: '2024-05-01T10:00:00Z', userPrincipalNames: [{ value: 'a@corp' }] },
        },
        {
          emails: { value: 'scalar' },
          phoneNumbers: 'x',
          addresses: [{ postalCode: 12345, primary: 'True' }],
          [ACTIVTRAK]: { level: '7', score: 'NaN', tracking: 'False', lastActivity: '2024-02-30T10:00:00Z', userPrincipalNames: 'scalar' },
        },
        {
          emails: [null, 1, 'x', [], { value: null }],
          name: 'scalar',
          roles: [{ value: true }],
          [ENTERPRISE_USER_SCHEMA]: 'scalar',
          [ACTIVTRAK]: { level: 1e308, score: -1e308, lastActivity: '0000-01-01T00:00:00+23:59', homepage: 42 },
        },
        {
          title: '\u00e9\u{1F680}\ufffd',
          emails: [{ value: '%_\\' }],
          [ACTIVTRAK]: { level: null, score: null, tracking: null, lastActivity: null, userPrincipalNames: [{ value: { nested: true } }] },
        },
      ];
      for (const [i, data] of users.entries()) {
        await client.query(
          `INSERT INTO ${schema}.scim_users (directory_id, id, tenant_id, user_name, external_id, display_name, active, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [directoryId, randomUUID(), tenantId, `user${i}`, i % 2 ? null : `ext${i}`, i % 2 ? null : `User ${i}`, i % 2 === 0, JSON.stringify(data)],
        );
      }
      for (const data of [{}, { members: 'scalar' }, { externalId: 5 }]) {
        await client.query(`INSERT INTO ${schema}.scim_groups (directory_id, id, tenant_id, display_name, data) VALUES ($1, $2, $3, $4, $5)`, [
          directoryId,
          randomUUID(),
          tenantId,
          `g-${randomUUID()}`,
          JSON.stringify(data),
        ]);
      }
    });

    after(async () => {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    });

    const run = async (table: 'scim_users' | 'scim_groups', query: NonNullable<ReturnType<typeof compile>>) => {
      const where = query.where ?? 'TRUE';
      const order = query.orderBy ? `ORDER BY ${query.orderBy}` : '';
      await client.query(`SELECT r.id FROM ${schema}.${table} r WHERE r.directory_id = $1 AND (${where}) ${order} LIMIT 5`, [
        directoryId,
        ...(query.params ?? []),
      ]);
    };

    it('stored dateTimes PostgreSQL cannot read (Feb 30, year 0, offset +23:59) › a filter and a sort on them run; those rows count as absent', async () => {
      const query = compile(schemas.user, `${ACTIVTRAK}:lastActivity gt "2000-01-01T00:00:00Z"`, `${ACTIVTRAK}:lastActivity`)!;

      const { rows } = await client.query<{ user_name: string }>(
        `SELECT r.user_name FROM ${schema}.scim_users r WHERE r.directory_id = $1 AND (${query.where}) ORDER BY ${query.orderBy}`,
        [directoryId, ...(query.params ?? [])],
      );

      assert.deepEqual(
        rows.map((r) => r.user_name),
        ['user0'],
      );
    });

    for (const [name, target, paths, valuePaths, table] of [
      ['users', schemas.user, USER_FILTER_PATHS, USER_VALUE_PATHS, 'scim_users'],
      ['groups', schemas.group, GROUP_FILTER_PATHS, GROUP_VALUE_PATHS, 'scim_groups'],
    ] as const) {
      it(`${name} › a valid filter compiles to SQL PostgreSQL runs without error; an invalid one is a 400`, async (t) => {
        const params = fuzzParameters<[string, string | undefined]>(800, 5_000);
        t.diagnostic(`seed ${params.seed}`);
        await fc.assert(
          fc.asyncProperty(grammarFilter(paths, valuePaths), fc.option(fc.constantFrom(...paths), { nil: undefined }), async (filter, sortBy) => {
            const query = compile(target, filter, sortBy);
            if (!query) return;
            try {
              await run(table, query);
            } catch (err) {
              assert.fail(`PostgreSQL refused the SQL compiled from ${JSON.stringify(filter)}: ${(err as Error).message}`);
            }
          }),
          params,
        );
      });
    }
  });
});
