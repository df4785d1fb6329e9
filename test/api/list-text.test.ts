/**
 * List pages splice each resource's stored JSON text into the response instead of parsing and
 * serialising it again (renderResourceText). The text must say exactly what the parsed
 * rendering says, for whatever PostgreSQL prints, and a page must show each resource as GET
 * by id shows it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { topLevelKeys } from '../../shared/scim/json-text';
import { DirectorySchemas } from '../../shared/scim/schema-registry';
import { renderResource, renderResourceText, type RenderOptions } from '../../shared/scim/render';
import type { JsonObject } from '../../shared/scim/values';
import { makeTestApp, type TestApp } from '../support/app';
import { ENTERPRISE, patchOp } from '../support/factories';
import { createGroup, createUser, filterQuery, freshDirectory, groupWithMembers } from '../support/scim-helpers';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

const CUSTOM = 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User';
const schemas = new DirectorySchemas({
  user: [{ schema: { id: CUSTOM, name: 'ActivTrak', description: '', attributes: [] }, required: false }],
  group: [],
});
const base = 'https://scim.test.example/scim/v2';
const row = { id: '0190f7a4-8c1e-7b2a-9d3e-5f6a7b8c9d0e', version: 3, createdAt: new Date('2026-01-02T03:04:05.678Z'), updatedAt: new Date('2026-11-23T10:00:00.001Z') };

describe('renderResourceText', () => {
  const cases: [string, 'user' | 'group', JsonObject, Partial<RenderOptions>][] = [
    ['no attributes at all', 'user', {}, {}],
    ['core attributes only', 'user', { userName: 'ada@contoso.example', active: true, name: { givenName: 'Ada', familyName: 'Lovelace' } }, {}],
    ['the enterprise extension', 'user', { userName: 'a', [ENTERPRISE]: { employeeNumber: '7', manager: { value: 'x' } } }, {}],
    ['both extensions, in the directory order', 'user', { [CUSTOM]: { tracking: true }, userName: 'a', [ENTERPRISE]: { department: 'R&D' } }, {}],
    ['quotes, backslashes, braces and non-ASCII in values', 'user', { userName: 'q"u\\o}te{', displayName: 'Zoë 山田 😀', title: '\u2028\t\n' }, {}],
    ['a URN-named value is no extension', 'user', { userName: 'a', nickName: `"${ENTERPRISE}": {}` }, {}],
    ['with groups', 'user', { userName: 'a' }, { groups: [{ value: 'g1', $ref: `${base}/Groups/g1`, display: 'Sales "EU"', type: 'direct' }] }],
    ['with no groups', 'user', { userName: 'a' }, { groups: [] }],
    ['a group with members', 'group', { displayName: 'Sales' }, { members: [{ value: 'u1', $ref: `${base}/Users/u1`, type: 'User', display: 'Ada' }] }],
    ['a group with an empty member list', 'group', { displayName: 'Empty' }, { members: [] }],
    ['stored data holding a name the renderer writes (parsed instead)', 'user', { userName: 'a', groups: [{ value: 'stale' }] }, { groups: [{ value: 'g1', display: 'G' }] }],
  ];
  for (const [name, type, data, options] of cases) {
    it(`${name} › the same JSON, member for member and in the same order`, async () => {
      // The data goes through PostgreSQL, which reorders and respaces jsonb on the way out.
      const [stored] = await t.db.query<{ data: JsonObject; text: string }>('SELECT $1::jsonb AS data, $1::jsonb::text AS text', [JSON.stringify(data)]);
      const rendered = renderResource(schemas[type], { ...row, data: stored.data }, { baseUrl: base, ...options });
      const text = renderResourceText(schemas[type], { ...row, dataText: stored.text }, { baseUrl: base, ...options });
      assert.equal(JSON.stringify(JSON.parse(text)), JSON.stringify(rendered));
      // JSON.parse keeps the last of two equal names, so look at the text itself for repeats.
      const names = topLevelKeys(text)!;
      assert.equal(new Set(names).size, names.length, `a name repeats in ${text}`);
    });
  }
});

describe('GET /Users and /Groups pages', () => {
  it('each user on a page › exactly as GET by id shows it, groups included', async () => {
    const { scim } = await freshDirectory(t.app);
    const { group, users } = await groupWithMembers(scim, 3);
    await createUser(scim, { [ENTERPRISE]: undefined, displayName: 'Zoë "Z" 山田' });
    await scim.patch(`/Users/${users[0].id}`, patchOp({ op: 'replace', path: 'active', value: false })).expect(200);

    const page = (await scim.get('/Users?count=10').expect(200)).body;
    assert.equal(page.totalResults, 4);
    assert.equal(page.Resources.length, 4);
    for (const listed of page.Resources) {
      assert.deepEqual(listed, (await scim.get(`/Users/${listed.id}`).expect(200)).body);
    }
    const member = page.Resources.find((u: { id: string }) => u.id === users[1].id);
    assert.deepEqual(member.groups.map((g: { value: string }) => g.value), [group.id]);
  });

  it('each group on a page › exactly as GET by id shows it, members included', async () => {
    const { scim } = await freshDirectory(t.app);
    await groupWithMembers(scim, 2);
    await createGroup(scim);
    const page = (await scim.get('/Groups').expect(200)).body;
    assert.equal(page.Resources.length, 2);
    for (const listed of page.Resources) {
      assert.deepEqual(listed, (await scim.get(`/Groups/${listed.id}`).expect(200)).body);
    }
  });

  it('a filtered page and a projected page › the same users as the default page shows', async () => {
    const { scim } = await freshDirectory(t.app);
    const user = await createUser(scim);
    const full = (await scim.get(`/Users/${user.id}`).expect(200)).body;
    const filtered = (await scim.get(`/Users?${filterQuery(`userName eq "${user.userName}"`)}`).expect(200)).body;
    assert.deepEqual(filtered.Resources, [full]);
    const projected = (await scim.get(`/Users?${filterQuery(`userName eq "${user.userName}"`)}&attributes=userName`).expect(200)).body;
    assert.deepEqual(projected.Resources, [{ schemas: full.schemas, id: user.id, userName: user.userName }]);
  });
});
