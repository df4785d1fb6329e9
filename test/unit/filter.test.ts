import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ScimError } from '../../shared/scim/errors';
import { DirectorySchemas } from '../../shared/scim/schema-registry';
import { attr, ENTERPRISE_USER_SCHEMA } from '../../shared/scim/schema-types';
import { matchesFilter, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parseFilter, parseValuePathFilter } from '../../shared/scim/filter/parser';
import { compileFilter, compileSortKey, SqlParams, type SqlTarget } from '../../shared/db/scim-filter/to-sql';

const ACTIVTRAK = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const EMP = `${ENTERPRISE_USER_SCHEMA}:employeeNumber`;

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
          attr('lastActivity', 'dateTime'),
        ],
      },
      required: false,
    },
  ],
  group: [],
});
const users: SqlTarget = { schemas: schemas.user, alias: 'r' };
const groups: SqlTarget = { schemas: schemas.group, alias: 'g' };

function assertInvalidFilter(fn: () => unknown, scimType = 'invalidFilter'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ScimError, `expected a ScimError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.equal(err.scimType, scimType);
    return true;
  });
}

const cmp = (op: string, path: string, value: unknown) => ({ op, path, value });

describe('filter parser', () => {
  const cases: [situation: string, input: string, ast: unknown][] = [
    ['a comparison', 'userName eq "bjensen"', cmp('eq', 'userName', 'bjensen')],
    ['a mixed-case operator (Entra)', 'userName Eq "x"', cmp('eq', 'userName', 'x')],
    ['an upper-case operator (Okta)', 'userName EQ "x"', cmp('eq', 'userName', 'x')],
    ['presence', 'title pr', { op: 'pr', path: 'title' }],
    [
      'every comparison operator',
      'a ne 1 and b co "c" and d sw "e" and f ew "g" and h gt 1 and i ge 1 and j lt 1 and k le 1',
      {
        op: 'and',
        filters: [
          cmp('ne', 'a', 1),
          cmp('co', 'b', 'c'),
          cmp('sw', 'd', 'e'),
          cmp('ew', 'f', 'g'),
          cmp('gt', 'h', 1),
          cmp('ge', 'i', 1),
          cmp('lt', 'j', 1),
          cmp('le', 'k', 1),
        ],
      },
    ],
    ['or then and', 'a eq 1 or b eq 2 and c eq 3', { op: 'or', filters: [cmp('eq', 'a', 1), { op: 'and', filters: [cmp('eq', 'b', 2), cmp('eq', 'c', 3)] }] }],
    ['and then or', 'a eq 1 and b eq 2 OR c eq 3', { op: 'or', filters: [{ op: 'and', filters: [cmp('eq', 'a', 1), cmp('eq', 'b', 2)] }, cmp('eq', 'c', 3)] }],
    [
      'parentheses',
      '(a eq 1 or b eq 2) and c eq 3',
      { op: 'and', filters: [{ op: 'or', filters: [cmp('eq', 'a', 1), cmp('eq', 'b', 2)] }, cmp('eq', 'c', 3)] },
    ],
    ['not with a space', 'not (a pr)', { op: 'not', filter: { op: 'pr', path: 'a' } }],
    ['NOT without a space', 'NOT(a pr)', { op: 'not', filter: { op: 'pr', path: 'a' } }],
    [
      'a value path',
      'emails[type eq "work" and primary eq true]',
      {
        op: 'valuePath',
        path: 'emails',
        filter: { op: 'and', filters: [cmp('eq', 'type', 'work'), cmp('eq', 'primary', true)] },
      },
    ],
    // Entra filters users this way, outside SCIM's filter grammar.
    [
      'a value path then a sub-attribute comparison',
      'emails[type eq "work"].value eq "x"',
      {
        op: 'valuePath',
        path: 'emails',
        filter: { op: 'and', filters: [cmp('eq', 'type', 'work'), cmp('eq', 'value', 'x')] },
      },
    ],
    ['a members value path', 'members[value eq "id"]', { op: 'valuePath', path: 'members', filter: cmp('eq', 'value', 'id') }],
    ['a sub-attribute', 'emails.value eq "x"', cmp('eq', 'emails.value', 'x')],
    ['a URN-prefixed attribute', `${EMP} eq "1"`, cmp('eq', EMP, '1')],
    ['the Entra dot form', `${ACTIVTRAK}.tracking eq true`, cmp('eq', `${ACTIVTRAK}.tracking`, true)],
    ['$ref', 'members.$ref eq "x"', cmp('eq', 'members.$ref', 'x')],
    ['JSON string escapes', String.raw`displayName eq "a\"b\\c\u00e9\/\n"`, cmp('eq', 'displayName', 'a"b\\cé/\n')],
    ['keywords inside a string', 'displayName eq "Sales and Marketing) or ("', cmp('eq', 'displayName', 'Sales and Marketing) or (')],
    ['a negative exponent number', 'x eq -1.5e3', cmp('eq', 'x', -1500)],
    ['zero', 'x eq 0', cmp('eq', 'x', 0)],
    ['null', 'x eq null', cmp('eq', 'x', null)],
    ['a capitalised False', 'x eq False', cmp('eq', 'x', false)],
    ['tabs and extra spaces', '  userName \t eq   "x"  ', cmp('eq', 'userName', 'x')],
    [`${MAX_FILTER_DEPTH} nested parentheses`, `${'('.repeat(MAX_FILTER_DEPTH)}a pr${')'.repeat(MAX_FILTER_DEPTH)}`, { op: 'pr', path: 'a' }],
  ];
  for (const [situation, input, ast] of cases) {
    it(`filter parser › ${situation} › parses to the expected AST`, () => {
      assert.deepEqual(parseFilter(input), ast);
    });
  }

  const invalid: [situation: string, input: string][] = [
    ['an empty filter', ''],
    ['a blank filter', '   '],
    ['an unknown operator', 'userName foo "x"'],
    ['a missing value', 'userName eq'],
    ['an unquoted value', 'userName eq bob'],
    ['an unclosed string', 'userName eq "bob'],
    ['an unknown escape', String.raw`userName eq "a\x"`],
    ['a short \\u escape', String.raw`userName eq "\u12"`],
    ['a leading-zero number', 'x eq 01'],
    ['a trailing-dot number', 'x eq 1.'],
    ['an unexpected character', 'userName = "x"'],
    ['an unclosed parenthesis', '(userName eq "x"'],
    ['an extra closing parenthesis', 'userName eq "x")'],
    ['a dangling and', 'userName eq "x" and'],
    ['a leading and', 'and userName eq "x"'],
    ['two expressions without and/or', 'userName eq "x" title pr'],
    ['not without parentheses', 'not userName eq "x"'],
    ['an unclosed value path', 'emails[type eq "work"'],
    ['a value path followed by a sub-attribute without an operator', 'emails[type eq "work"].value'],
    ['nested value paths', 'emails[type[value eq "x"]]'],
    ['empty brackets', 'emails[]'],
    ['a value where a path belongs', '"x" eq "x"'],
    [`${MAX_FILTER_DEPTH + 1} nested parentheses`, `${'('.repeat(MAX_FILTER_DEPTH + 1)}a pr${')'.repeat(MAX_FILTER_DEPTH + 1)}`],
    ['deeply nested nots', `${'not ('.repeat(600)}a pr${')'.repeat(600)}`],
    [`a filter over ${MAX_FILTER_LENGTH} characters`, `displayName eq "${'x'.repeat(MAX_FILTER_LENGTH)}"`],
  ];
  for (const [situation, input] of invalid) {
    it(`filter parser › ${situation} › throws invalidFilter`, () => {
      assertInvalidFilter(() => parseFilter(input));
    });
  }

  it('filter parser › an error › names the position and the culprit', () => {
    assert.throws(
      () => parseFilter('userName foo "x"'),
      (err: ScimError) => /position 10\b.*"userName".*"foo"/.test(err.detail),
    );
  });

  it('filter parser › a value path filter from a PATCH path › parses without brackets', () => {
    assert.deepEqual(parseValuePathFilter('value eq null'), cmp('eq', 'value', null));
  });

  it('filter parser › a bracket inside a PATCH value filter › throws invalidFilter', () => {
    assertInvalidFilter(() => parseValuePathFilter('emails[type eq "work"]'));
  });
});

describe('matchesFilter', () => {
  const work = { type: 'work', value: 'Ann@Example.com', primary: true };
  const cases: [filter: string, element: Record<string, unknown>, expected: boolean][] = [
    ['type eq "Work"', work, true],
    ['type eq "home"', work, false],
    ['TYPE eq "work"', work, true],
    ['primary eq true', work, true],
    ['primary eq "True"', work, true],
    ['primary eq false', { primary: 'False' }, true],
    ['primary ne true', work, false],
    ['value co "@example."', work, true],
    ['value sw "ann"', work, true],
    ['value ew ".COM"', work, true],
    ['value gt "a"', work, true],
    ['display pr', work, false],
    ['value pr', work, true],
    ['value pr', { value: '' }, false],
    ['value eq null', work, false],
    ['value eq null', { value: null }, true],
    ['value eq null', {}, true],
    ['value ne null', work, true],
    ['not (type eq "work")', work, false],
    ['type eq "work" and primary eq false', work, false],
    ['type eq "home" or primary eq true', work, true],
    ['count gt 2', { count: 10 }, true],
    ['count gt 2', { count: 1 }, false],
    ['name.givenName eq "ann"', { name: { givenName: 'Ann' } }, true],
    ['emails.value eq "ann@example.com"', { emails: [work] }, true],
    ['emails eq "ann@example.com"', { emails: [work] }, true],
    ['emails[type eq "work" and primary eq true]', { emails: [{ type: 'home' }, work] }, true],
    ['emails[type eq "other"]', { emails: [work] }, false],
    [`${EMP} eq "42"`, { [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '42' } }, true],
    [`${ACTIVTRAK}.tracking eq true`, { [ACTIVTRAK]: { tracking: 'True' } }, true],
  ];
  for (const [filter, element, expected] of cases) {
    it(`matchesFilter › ${filter} on ${JSON.stringify(element)} › ${expected ? 'matches' : 'does not match'}`, () => {
      assert.equal(matchesFilter(parseFilter(filter), element), expected);
    });
  }
});

describe('compileFilter', () => {
  const uuid = '0f8fad5b-d9cb-469f-a165-70867728950e';
  const emails = `jsonb_array_elements(CASE jsonb_typeof(r.data->'emails') WHEN 'array' THEN r.data->'emails' ELSE '[]'::jsonb END) AS e(v)`;
  const cases: [filter: string, target: SqlTarget, sql: string, params: unknown[]][] = [
    ['userName eq "bjensen"', users, 'r.user_name_folded = lower($2)', ['bjensen']],
    ['externalId eq "A"', users, 'r.external_id = $2', ['A']],
    ['id eq "not-a-uuid"', users, 'FALSE', []],
    ['id ne "not-a-uuid"', users, 'TRUE', []],
    [`id eq "${uuid.toUpperCase()}"`, users, 'r.id = $2::uuid', [uuid.toUpperCase()]],
    ['active eq "True"', users, 'r.active = $2', [true]],
    ['userName co "50%_off\\\\"', users, 'r.user_name ILIKE $2', ['%50\\%\\_off\\\\%']],
    ['title pr', users, `r.data->'title' NOT IN ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb)`, []],
    ['not (displayName pr)', users, `NOT COALESCE(r.display_name <> '', false)`, []],
    ['userName pr', users, 'TRUE', []],
    [
      'emails[type eq "work" and value co "@x"]',
      users,
      `EXISTS (SELECT 1 FROM ${emails} WHERE (lower(e.v->>'type') = lower($2) AND e.v->>'value' ILIKE $3))`,
      ['work', '%@x%'],
    ],
    ['emails eq "a@x"', users, `EXISTS (SELECT 1 FROM ${emails} WHERE lower(e.v->>'value') = lower($2))`, ['a@x']],
    ['name.givenName sw "b"', users, `r.data->'name'->>'givenName' ILIKE $2`, ['b%']],
    [`${ACTIVTRAK}.tracking eq true`, users, `lower(r.data->'${ACTIVTRAK}'->>'tracking') = $2`, ['true']],
    [
      `${ACTIVTRAK}:level gt 2`,
      users,
      `(CASE jsonb_typeof(r.data->'${ACTIVTRAK}'->'level') WHEN 'number' THEN (r.data->'${ACTIVTRAK}'->'level')::numeric END) > $2::numeric`,
      [2],
    ],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', users, 'r.updated_at > $2::timestamptz', ['2011-05-13T04:42:34Z']],
    ['meta[created gt "2024-01-01T00:00:00Z"]', users, 'r.created_at > $2::timestamptz', ['2024-01-01T00:00:00Z']],
    ['meta.version eq "W/\\"3\\""', users, `('W/"' || r.version || '"') = $2`, ['W/"3"']],
    ['meta.resourceType eq "User"', users, `'User' = $2`, ['User']],
    [
      `members[value eq "${uuid}"]`,
      groups,
      `EXISTS (SELECT 1 FROM group_members gm WHERE gm.directory_id = g.directory_id AND gm.group_id = g.id AND gm.user_id = $2::uuid)`,
      [uuid],
    ],
    ['members.value eq "nope"', groups, `EXISTS (SELECT 1 FROM group_members gm WHERE gm.directory_id = g.directory_id AND gm.group_id = g.id AND FALSE)`, []],
    ['displayName eq "Sales"', groups, 'g.display_name_folded = lower($2)', ['Sales']],
  ];
  for (const [filter, target, sql, params] of cases) {
    it(`compileFilter › ${filter} › compiles to ${sql.length > 60 ? `${sql.slice(0, 60)}…` : sql}`, () => {
      const sqlParams = new SqlParams(1);
      assert.equal(compileFilter(parseFilter(filter), target, sqlParams), sql);
      assert.deepEqual(sqlParams.values, params);
    });
  }

  it('compileFilter › a value that looks like SQL › only ever reaches a bind parameter', () => {
    const params = new SqlParams();
    const sql = compileFilter(parseFilter(`userName eq "x'); DROP TABLE scim_users; --"`), users, params);
    assert.equal(sql, 'r.user_name_folded = lower($1)');
    assert.deepEqual(params.values, [`x'); DROP TABLE scim_users; --`]);
  });

  const invalid: [situation: string, filter: string, target: SqlTarget][] = [
    ['an unknown attribute', 'foo eq "x"', users],
    ['an unknown sub-attribute', 'name.foo eq "x"', users],
    ['an unknown schema URN', 'urn:example:unknown:2.0:User:foo eq "x"', users],
    ['a whole extension', `${ENTERPRISE_USER_SCHEMA} pr`, users],
    ['gt on a boolean', 'active gt true', users],
    ['a non-boolean value for a boolean', 'active eq "yes"', users],
    ['a non-date value for a dateTime', 'meta.created gt "yesterday"', users],
    ['an impossible date', 'meta.created gt "2024-02-30T00:00:00Z"', users],
    ['co on a dateTime', 'meta.created co "2024"', users],
    ['a non-number value for an integer', `${ACTIVTRAK}:level gt "many"`, users],
    ['co on an integer', `${ACTIVTRAK}:level co 1`, users],
    ['gt null', 'title gt null', users],
    ['a complex attribute without a value sub-attribute', 'name eq "x"', users],
    ['an unknown sub-attribute in brackets', 'emails[foo eq "x"]', users],
    ['brackets on a simple attribute', 'userName[value eq "x"]', users],
    ['meta.location, which is not stored', 'meta.location eq "x"', users],
    ['members.display', 'members.display eq "x"', groups],
    ['members[type …]', 'members[type eq "User"]', groups],
    ['a User attribute on Groups', 'userName eq "x"', groups],
  ];
  for (const [situation, filter, target] of invalid) {
    it(`compileFilter › ${situation} › throws invalidFilter`, () => {
      assertInvalidFilter(() => compileFilter(parseFilter(filter), target, new SqlParams()));
    });
  }
});

describe('compileSortKey', () => {
  const cases: [path: string, target: SqlTarget, sql: string][] = [
    ['userName', users, 'r.user_name_folded'],
    ['externalId', users, 'r.external_id'],
    ['meta.created', users, 'r.created_at'],
    ['meta.version', users, 'r.version'],
    ['name.familyName', users, `lower(r.data->'name'->>'familyName')`],
    [
      'emails',
      users,
      `(SELECT lower(e.v->>'value') FROM jsonb_array_elements(CASE jsonb_typeof(r.data->'emails') WHEN 'array' THEN r.data->'emails' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n) ORDER BY COALESCE(lower(e.v->>'primary') = 'true', false) DESC, e.n LIMIT 1)`,
    ],
    ['displayName', groups, 'g.display_name_folded'],
  ];
  for (const [path, target, sql] of cases) {
    it(`compileSortKey › ${path} › orders by ${sql.length > 60 ? `${sql.slice(0, 60)}…` : sql}`, () => {
      assert.equal(compileSortKey(path, target), sql);
    });
  }

  for (const [path, target] of [
    ['foo', users],
    ['members', groups],
    ['name', users],
  ] as const) {
    it(`compileSortKey › ${path} › throws invalidPath`, () => {
      assertInvalidFilter(() => compileSortKey(path, target), 'invalidPath');
    });
  }
});

describe('compiled filters on PostgreSQL', () => {
  const schema = `filter_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const client = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  const dirA = randomUUID();
  const dirB = randomUUID();
  const tenant = randomUUID();
  const id = { bjensen: randomUUID(), jsmith: randomUUID(), adoe: randomUUID(), obrien: randomUUID(), other: randomUUID() };
  const group = { sales: randomUUID(), engineering: randomUUID(), empty: randomUUID() };

  before(async () => {
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    // The compiled SQL names group_members unqualified, as it would in production.
    await client.query(`SET search_path TO ${schema}`);
    await client.query(`
      CREATE TABLE scim_users (
        directory_id uuid NOT NULL, id uuid NOT NULL, tenant_id uuid NOT NULL, user_name text NOT NULL,
        external_id text, display_name text, active boolean NOT NULL DEFAULT true, data jsonb NOT NULL,
        version integer NOT NULL DEFAULT 1, created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (directory_id, id),
        user_name_folded text GENERATED ALWAYS AS (lower(user_name)) STORED,
        display_name_folded text GENERATED ALWAYS AS (lower(display_name)) STORED);
      CREATE TABLE scim_groups (
        directory_id uuid NOT NULL, id uuid NOT NULL, tenant_id uuid NOT NULL, display_name text NOT NULL,
        external_id text, data jsonb NOT NULL, version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (directory_id, id), display_name_folded text GENERATED ALWAYS AS (lower(display_name)) STORED);
      CREATE TABLE group_members (
        directory_id uuid NOT NULL, group_id uuid NOT NULL, user_id uuid NOT NULL, tenant_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (directory_id, group_id, user_id));
    `);
    const insertUser = (
      dir: string,
      userId: string,
      userName: string,
      row: { externalId?: string; displayName?: string; active?: boolean; version?: number; created: string },
      data: object,
    ) =>
      client.query(
        `INSERT INTO scim_users (directory_id, id, tenant_id, user_name, external_id, display_name, active, data, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
        [
          dir,
          userId,
          tenant,
          userName,
          row.externalId ?? null,
          row.displayName ?? null,
          row.active ?? true,
          JSON.stringify(data),
          row.version ?? 1,
          row.created,
        ],
      );
    await insertUser(
      dirA,
      id.bjensen,
      'bjensen',
      { externalId: 'ext-1', displayName: 'Babs Jensen', version: 3, created: '2024-01-01T00:00:00Z' },
      {
        name: { givenName: 'Barbara', familyName: 'Jensen' },
        title: 'Tour Guide',
        emails: [
          { value: 'bjensen@example.com', type: 'work', primary: true },
          { value: 'babs@home.org', type: 'home' },
        ],
        [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '701984' },
        [ACTIVTRAK]: { userPrincipalNames: [{ value: 'bjensen@corp.example' }], tracking: true, level: 3, lastActivity: '2024-05-01T10:00:00Z' },
      },
    );
    await insertUser(
      dirA,
      id.jsmith,
      'jsmith',
      { externalId: 'EXT-2', active: false, created: '2024-03-01T00:00:00Z' },
      {
        name: { givenName: 'John', familyName: 'Smith' },
        title: '',
        emails: [{ value: 'JSmith@Example.com', type: 'work' }],
        [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '42' },
        [ACTIVTRAK]: { userPrincipalNames: [], tracking: 'False' },
      },
    );
    await insertUser(
      dirA,
      id.adoe,
      'adoe',
      { displayName: 'Alice Doe', created: '2024-06-01T00:00:00Z' },
      {
        emails: [{ value: 'a_doe%x@example.org', type: 'home', primary: 'True' }],
        [ACTIVTRAK]: { userPrincipalNames: [{ value: 'adoe@corp.example' }, { value: null }], tracking: false, level: 10, lastActivity: 'not a date' },
      },
    );
    // Shapes a careless client could have stored: a scalar where an array belongs, a string level.
    await insertUser(
      dirA,
      id.obrien,
      "o'brien",
      { created: '2023-06-01T00:00:00Z' },
      {
        phoneNumbers: { value: 'x' },
        [ACTIVTRAK]: { userPrincipalNames: 'scalar', level: '7' },
      },
    );
    await insertUser(dirB, id.other, 'bjensen', { created: '2024-01-01T00:00:00Z' }, { title: 'Tour Guide' });

    for (const [groupId, displayName] of [
      [group.sales, 'Sales and Marketing'],
      [group.engineering, 'Engineering'],
      [group.empty, 'Empty'],
    ]) {
      await client.query('INSERT INTO scim_groups (directory_id, id, tenant_id, display_name, data) VALUES ($1, $2, $3, $4, $5)', [
        dirA,
        groupId,
        tenant,
        displayName,
        '{}',
      ]);
    }
    for (const [groupId, userId] of [
      [group.sales, id.bjensen],
      [group.sales, id.jsmith],
      [group.engineering, id.adoe],
    ]) {
      await client.query('INSERT INTO group_members (directory_id, group_id, user_id, tenant_id) VALUES ($1, $2, $3, $4)', [dirA, groupId, userId, tenant]);
    }
  });

  after(async () => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  async function userNames(filter: string): Promise<string[]> {
    const params = new SqlParams(1);
    const where = compileFilter(parseFilter(filter), users, params);
    const sql = `SELECT r.user_name FROM ${schema}.scim_users r WHERE r.directory_id = $1 AND (${where}) ORDER BY r.user_name`;
    const { rows } = await client.query<{ user_name: string }>(sql, [dirA, ...params.values]);
    return rows.map((row) => row.user_name);
  }

  const all = ['adoe', 'bjensen', 'jsmith', "o'brien"];
  const userCases: [filter: () => string, expected: string[]][] = [
    [() => 'userName eq "BJENSEN"', ['bjensen']],
    [() => 'userName sw "j"', ['jsmith']],
    [() => `userName co "'"`, ["o'brien"]],
    [() => 'displayName co "DOE"', ['adoe']],
    [() => 'emails.value co "example.com"', ['bjensen', 'jsmith']],
    [() => 'emails co "EXAMPLE.COM"', ['bjensen', 'jsmith']],
    [() => 'emails.value co "%"', ['adoe']],
    [() => 'emails[type eq "work" and value ew ".com"]', ['bjensen', 'jsmith']],
    [() => 'emails[type eq "home"]', ['adoe', 'bjensen']],
    [() => 'emails[primary eq true]', ['adoe', 'bjensen']],
    [() => 'emails pr', ['adoe', 'bjensen', 'jsmith']],
    [() => 'not (emails pr)', ["o'brien"]],
    [() => 'phoneNumbers.value eq "x"', []],
    [() => 'title pr', ['bjensen']],
    [() => 'title eq null', ['adoe', 'jsmith', "o'brien"]],
    [() => 'title ne "Tour Guide"', ['jsmith']],
    [() => 'not (title eq "Tour Guide")', ['adoe', 'jsmith', "o'brien"]],
    [() => 'name.givenName sw "bar"', ['bjensen']],
    [() => 'name[givenName eq "john" and familyName eq "SMITH"]', ['jsmith']],
    [() => 'active eq true', ['adoe', 'bjensen', "o'brien"]],
    [() => 'active eq "False"', ['jsmith']],
    [() => `${EMP} eq "701984"`, ['bjensen']],
    [() => `${EMP} gt "5"`, ['bjensen']],
    [() => `${ACTIVTRAK}.tracking eq true`, ['bjensen']],
    [() => `${ACTIVTRAK}.tracking eq false`, ['adoe', 'jsmith']],
    [() => `${ACTIVTRAK}:userPrincipalNames[value eq "ADOE@corp.example"]`, ['adoe']],
    [() => `${ACTIVTRAK}:userPrincipalNames.value eq null`, ['jsmith', "o'brien"]],
    [() => `${ACTIVTRAK}:level ge 3`, ['adoe', 'bjensen']],
    [() => `${ACTIVTRAK}:lastActivity gt "2024-01-01T00:00:00Z"`, ['bjensen']],
    [() => 'meta.created ge "2024-03-01T00:00:00Z"', ['adoe', 'jsmith']],
    [() => 'meta.lastModified lt "2030-01-01T00:00:00+02:00"', all],
    [() => `id eq "${id.adoe}"`, ['adoe']],
    [() => 'id eq "nope"', []],
    [() => 'id ne "nope"', all],
    [() => 'externalId eq "ext-2"', []],
    [() => 'externalId eq "EXT-2"', ['jsmith']],
    [() => 'meta.version eq "W/\\"3\\""', ['bjensen']],
    [() => 'meta.resourceType eq "User"', all],
    [() => 'userName eq "bjensen" or (active eq false and not (emails[type eq "home"]))', ['bjensen', 'jsmith']],
    [() => `groups.value eq "${group.sales}"`, ['bjensen', 'jsmith']],
    [() => 'groups pr', ['adoe', 'bjensen', 'jsmith']],
  ];
  for (const [filter, expected] of userCases) {
    it(`compiled filters on PostgreSQL › ${filter().replace(/[0-9a-f-]{36}/, '<id>')} › selects ${expected.join(', ') || 'nothing'}`, async () => {
      assert.deepEqual(await userNames(filter()), expected);
    });
  }

  async function groupNames(filter: string): Promise<string[]> {
    const params = new SqlParams(1);
    const where = compileFilter(parseFilter(filter), groups, params);
    const sql = `SELECT g.display_name FROM ${schema}.scim_groups g WHERE g.directory_id = $1 AND (${where}) ORDER BY g.display_name`;
    const { rows } = await client.query<{ display_name: string }>(sql, [dirA, ...params.values]);
    return rows.map((row) => row.display_name);
  }

  const groupCases: [filter: () => string, expected: string[]][] = [
    [() => `members[value eq "${id.bjensen}"]`, ['Sales and Marketing']],
    [() => `members.value eq "${id.adoe.toUpperCase()}"`, ['Engineering']],
    [() => `members[value eq "${id.adoe}" or value eq "${id.jsmith}"]`, ['Engineering', 'Sales and Marketing']],
    [() => 'members[value eq "not-a-uuid"]', []],
    [() => 'members pr', ['Engineering', 'Sales and Marketing']],
    [() => 'not (members pr)', ['Empty']],
    [() => 'displayName sw "sales"', ['Sales and Marketing']],
    [() => 'displayName eq "ENGINEERING"', ['Engineering']],
  ];
  for (const [filter, expected] of groupCases) {
    it(`compiled filters on PostgreSQL › groups ${filter().replace(/[0-9a-fA-F-]{36}/g, '<id>')} › selects ${expected.join(', ') || 'nothing'}`, async () => {
      assert.deepEqual(await groupNames(filter()), expected);
    });
  }

  const sortCases: [sortBy: string, expected: string[]][] = [
    ['emails', ['adoe', 'bjensen', 'jsmith', "o'brien"]],
    ['name.familyName', ['bjensen', 'jsmith', 'adoe', "o'brien"]],
    [`${ACTIVTRAK}:level`, ['bjensen', 'adoe', 'jsmith', "o'brien"]],
    ['meta.created', ["o'brien", 'bjensen', 'jsmith', 'adoe']],
  ];
  for (const [sortBy, expected] of sortCases) {
    it(`compiled filters on PostgreSQL › sortBy ${sortBy} › orders ${expected.join(', ')}`, async () => {
      const sql = `SELECT r.user_name FROM ${schema}.scim_users r WHERE r.directory_id = $1 ORDER BY ${compileSortKey(sortBy, users)} ASC, r.user_name`;
      const { rows } = await client.query<{ user_name: string }>(sql, [dirA]);
      assert.deepEqual(
        rows.map((row) => row.user_name),
        expected,
      );
    });
  }
});
