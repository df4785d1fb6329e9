/**
 * Listing through HTTP: filter, sort, paging, attributes/excludedAttributes and
 * POST /.search, on Users and Groups.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { makeTestApp } from '../support/app';
import { ENTERPRISE, GROUP_SCHEMA, LIST_RESPONSE, patchOp, SEARCH_REQUEST, USER_SCHEMA } from '../support/factories';
import {
  type Scim,
  apiSuite,
  assertScimJson,
  createGroup,
  createUser,
  createUsers,
  filterQuery,
  freshDirectory,
  groupWithMembers,
  SCIM_JSON,
  sentHeader,
  sorted,
  userNames,
} from '../support/scim-helpers';

const { fresh } = apiSuite();

/** Five users whose attributes make every filter operator distinguishable. */
async function seed(scim: Scim) {
  const tag = randomUUID().slice(0, 8);
  const [ann, bob, cat, dan, eve] = await createUsers(scim, [
    {
      userName: `ann.${tag}@alpha.example`,
      title: 'Engineer',
      active: true,
      emails: [{ type: 'work', value: `ann@x.example`, primary: true }],
      [ENTERPRISE]: { department: 'R&D' },
    },
    {
      userName: `bob.${tag}@beta.example`,
      title: 'Manager',
      active: false,
      emails: [{ type: 'home', value: `bob@x.example` }],
      [ENTERPRISE]: { department: 'Sales' },
    },
    { userName: `cat.${tag}@alpha.example`, title: 'Engineer', active: true, emails: [{ type: 'work', value: `cat@y.example` }] },
    {
      userName: `dan.${tag}@gamma.example`,
      active: true,
      emails: [
        { type: 'work', value: `dan@x.example` },
        { type: 'home', value: 'd@h.example' },
      ],
    },
    { userName: `eve.${tag}@beta.example`, title: 'Director', active: false, emails: [] },
  ]);
  return { tag, ann, bob, cat, dan, eve };
}

describe('filter', () => {
  // Entra's Test connection probes with a random GUID and no User-Agent.
  it('GET /Users › filter userName eq a random GUID, no User-Agent › 200 empty ListResponse', async () => {
    const { scim } = await fresh();
    await createUser(scim);

    const res = await scim.get(`/Users?${filterQuery(`userName eq "${randomUUID()}"`)}`);

    assert.equal(res.status, 200);
    assert.equal(sentHeader(res, 'user-agent'), undefined);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
    assert.equal(res.body.startIndex, 1);
  });

  it('GET /Users?filter=userName eq › one match, in another case › ListResponse with that single user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    await createUser(scim);

    const res = await scim.get(`/Users?${filterQuery(`userName eq "${String(created.userName).toUpperCase()}"`)}`);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources.length, 1);
    assert.equal(res.body.Resources[0].id, created.id);
    assert.equal(res.body.Resources[0].userName, created.userName);
    assert.equal(res.body.startIndex, 1);
    assert.equal(res.body.itemsPerPage, 1);
  });

  // Entra encodes spaces as "+" and leaves the quotes raw.
  it('GET /Users?filter=userName eq › the "+"-encoded form with raw quotes and %40 › finds the user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { userName: 'dale.mohr@romaguera.uk' });

    const res = await scim.get('/Users?filter=userName+eq+"dale.mohr%40romaguera.uk"');

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, created.id);
  });

  it('GET /Users?filter=userName eq › a value with a space that matches nobody › 200 empty ListResponse', async () => {
    const { scim } = await fresh();
    await createUser(scim);

    const res = await scim.get(`/Users?${filterQuery('userName eq "non-existent user"')}`);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
  });

  it('GET /Users?filter=externalId eq › Entra\'s "+"-encoded quoted form › the one user with that externalId', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { externalId: 'johnwong' });
    await createUser(scim);

    const res = await scim.get('/Users?filter=externalId+eq+%22johnwong%22');

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, created.id);
    assert.equal(res.body.Resources[0].externalId, 'johnwong');
  });

  it('GET /Users?filter=externalId eq › an unquoted value › 400 invalidFilter (RFC 7644 needs a quoted string)', async () => {
    const { scim } = await fresh();
    await createUser(scim, { externalId: 'jyoung' });

    const res = await scim.get(`/Users?${filterQuery('externalId eq jyoung')}`);

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidFilter');
  });

  it('GET /Users?filter=emails[type eq "work"].value eq › matching on the work email › the user with that work email', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, {
      emails: [
        { type: 'work', value: 'user@contoso.com', primary: true },
        { type: 'home', value: 'home@contoso.com' },
      ],
    });
    await createUser(scim, { emails: [{ type: 'home', value: 'user@contoso.com' }] });

    const res = await scim.get(`/Users?${filterQuery('emails[type eq "work"].value eq "user@contoso.com"')}`);

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, created.id);
  });

  // Entra checks a reference this way before it updates a manager.
  it('GET /Users?filter=id eq … and manager eq …&attributes=id › the user when that is its manager, none otherwise › the user, projected to id', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim);
    await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id })).expect(200);
    const other = await createUser(scim);

    const hit = await scim.get(`/Users?${filterQuery(`id eq "${report.id}" and manager eq "${manager.id}"`)}&attributes=id`);
    const miss = await scim.get(`/Users?${filterQuery(`id eq "${report.id}" and manager eq "${other.id}"`)}&attributes=id`);

    assert.equal(hit.status, 200);
    assert.equal(hit.body.totalResults, 1);
    assert.equal(hit.body.Resources[0].id, report.id);
    assert.equal(hit.body.Resources[0].userName, undefined);
    assert.equal(hit.body.Resources[0][ENTERPRISE], undefined);
    assert.equal(miss.status, 200);
    assert.equal(miss.body.totalResults, 0);
  });

  it('GET /Users?filter=… › each operator selects exactly the expected users', async () => {
    const { scim } = await fresh();
    const { tag, ann, bob, cat, dan, eve } = await seed(scim);
    const cases: [string, { userName: string }[]][] = [
      [`userName eq "ANN.${tag}@ALPHA.EXAMPLE"`, [ann]],
      [`title ne "Engineer"`, [bob, eve]],
      [`userName co "alpha"`, [ann, cat]],
      [`userName sw "bob."`, [bob]],
      [`userName ew "@beta.example"`, [bob, eve]],
      [`userName gt "cat.${tag}"`, [cat, dan, eve]],
      [`userName ge "cat.${tag}@alpha.example"`, [cat, dan, eve]],
      [`userName lt "bob.${tag}"`, [ann]],
      [`userName le "bob.${tag}@beta.example"`, [ann, bob]],
      [`title pr`, [ann, bob, cat, eve]],
      [`title eq "Engineer" and active eq true`, [ann, cat]],
      [`title eq "Manager" or title eq "Director"`, [bob, eve]],
      [`not (title eq "Engineer")`, [bob, dan, eve]],
      [`(title eq "Engineer" or title eq "Manager") and userName co "alpha"`, [ann, cat]],
      [`emails[type eq "work" and value co "@x"]`, [ann, dan]],
      [`emails.value ew "@y.example"`, [cat]],
      [`${ENTERPRISE}:department eq "sales"`, [bob]],
      [`active eq false`, [bob, eve]],
    ];

    for (const [filter, expected] of cases) {
      const res = await scim.get(`/Users?filter=${encodeURIComponent(filter)}&sortBy=userName`);
      assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(
        res.body.Resources.map((r: { userName: string }) => r.userName),
        expected.map((u) => u.userName),
        filter,
      );
      assert.equal(res.body.totalResults, expected.length, filter);
    }
  });

  it('GET /Users?filter=meta.lastModified gt "<a user\'s lastModified>" › only users changed later, not that user', async () => {
    const { scim } = await fresh();
    const [created] = await createUsers(scim, [{}]);
    const { body: patched } = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).expect(200);
    await delay(20);
    const later = await createUsers(scim, [{}, {}]);

    const afterCreate = await userNames(scim, `filter=${encodeURIComponent(`meta.lastModified gt "${created.meta.lastModified}"`)}&sortBy=meta.created`);
    const afterPatch = await userNames(scim, `filter=${encodeURIComponent(`meta.lastModified gt "${patched.meta.lastModified}"`)}&sortBy=meta.created`);
    const exactly = await userNames(scim, `filter=${encodeURIComponent(`meta.lastModified eq "${patched.meta.lastModified}"`)}`);

    assert.deepEqual(
      afterCreate,
      [created, ...later].map((u) => u.userName),
    );
    assert.deepEqual(
      afterPatch,
      later.map((u) => u.userName),
    );
    assert.deepEqual(exactly, [created.userName]);
  });

  it('GET /Users?filter=meta.created ge "<a user\'s created>" › that user and the later ones', async () => {
    const { scim } = await fresh();
    const [first, second, third] = await createUsers(scim, [{}, {}, {}]);

    const names = await userNames(scim, `filter=${encodeURIComponent(`meta.created ge "${second.meta.created}"`)}&sortBy=meta.created`);

    assert.ok(!names.includes(first.userName));
    assert.deepEqual(names, [second.userName, third.userName]);
  });

  it('GET /Groups?filter=displayName eq … › finds the group case-insensitively; members[value eq id] finds its groups', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{}]);
    const displayName = `Sales-${randomUUID()}`;
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: user.id }] }).expect(201);
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `other-${randomUUID()}` }).expect(201);

    const byName = await scim.get(`/Groups?filter=${encodeURIComponent(`displayName eq "${displayName.toLowerCase()}"`)}`).expect(200);
    const byMember = await scim.get(`/Groups?filter=${encodeURIComponent(`members[value eq "${user.id}"]`)}&excludedAttributes=members`).expect(200);

    assert.deepEqual(
      byName.body.Resources.map((g: { id: string }) => g.id),
      [group.id],
    );
    assert.deepEqual(
      byMember.body.Resources.map((g: { id: string }) => g.id),
      [group.id],
    );
  });

  // Entra's Test connection probes groups this way.
  it('GET /Groups › a random displayName with excludedAttributes=members › 200 empty ListResponse', async () => {
    const { scim } = await fresh();
    await createGroup(scim);

    const res = await scim.get(`/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${randomUUID()}"`)}`);

    assert.equal(res.status, 200);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
  });

  it('GET /Groups?filter=displayName eq › quotes, backslashes and & in the name › 200 with that group', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim, 'R&D "core" \\ team');

    const res = await scim.get(`/Groups?${filterQuery('displayName eq "R&D \\"core\\" \\\\ team"')}`);

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, group.id);
  });

  // Entra checks membership this way before it adds or removes a member.
  it('GET /Groups?filter=id eq … and members eq … › a member and an outsider › one group when a member, none otherwise', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);
    const member = await createUser(scim);
    const outsider = await createUser(scim);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: member.id }] })).expect(204);

    const hit = await scim.get(`/Groups?${filterQuery(`id eq "${group.id}" and members eq "${member.id}"`)}&attributes=id`);
    const miss = await scim.get(`/Groups?${filterQuery(`id eq "${group.id}" and members eq "${outsider.id}"`)}&attributes=id`);

    assert.equal(hit.status, 200);
    assert.equal(hit.body.totalResults, 1);
    assert.equal(hit.body.Resources[0].id, group.id);
    assert.equal(miss.status, 200);
    assert.equal(miss.body.totalResults, 0);
  });
});

describe('sort', () => {
  it('GET /Users?sortBy=userName › ascending by default, descending on request, case-insensitive', async () => {
    const { scim } = await fresh();
    const tag = randomUUID().slice(0, 8);
    await createUsers(scim, [{ userName: `b-${tag}` }, { userName: `C-${tag}` }, { userName: `a-${tag}` }]);

    const up = await userNames(scim, 'sortBy=userName');
    const down = await userNames(scim, 'sortBy=userName&sortOrder=descending');

    assert.deepEqual(up, [`a-${tag}`, `b-${tag}`, `C-${tag}`]);
    assert.deepEqual(down, [`C-${tag}`, `b-${tag}`, `a-${tag}`]);
  });

  it('GET /Users?sortBy=name.familyName › by family name; users without one last ascending, first descending', async () => {
    const { scim } = await fresh();
    const [none, z, m] = await createUsers(scim, [{ name: undefined }, { name: { familyName: 'Zeta' } }, { name: { familyName: 'mu' } }]);

    const up = await userNames(scim, 'sortBy=name.familyName&sortOrder=ascending');
    const down = await userNames(scim, 'sortBy=name.familyName&sortOrder=descending');

    assert.deepEqual(up, [m.userName, z.userName, none.userName]);
    // Resources without a value are ordered last ascending and first descending.
    assert.deepEqual(down, [none.userName, z.userName, m.userName]);
  });

  it('GET /Users?sortBy=meta.created › creation order, reversed when descending', async () => {
    const { scim } = await fresh();
    const users = await createUsers(scim, [{}, {}, {}]);

    const up = await userNames(scim, 'sortBy=meta.created');
    const down = await userNames(scim, 'sortBy=meta.created&sortOrder=descending');

    assert.deepEqual(
      up,
      users.map((u) => u.userName),
    );
    assert.deepEqual(down, users.map((u) => u.userName).reverse());
  });

  it('GET /Users?sortBy=emails › by the primary email value', async () => {
    const { scim } = await fresh();
    const [b, a, c] = await createUsers(scim, [
      { emails: [{ value: 'zz@x.example' }, { value: 'bb@x.example', primary: true }] },
      { emails: [{ value: 'aa@x.example', primary: true }] },
      { emails: [{ value: 'cc@x.example', primary: true }, { value: 'a0@x.example' }] },
    ]);

    const up = await userNames(scim, 'sortBy=emails');
    const down = await userNames(scim, 'sortBy=emails&sortOrder=descending');

    assert.deepEqual(up, [a.userName, b.userName, c.userName]);
    assert.deepEqual(down, [c.userName, b.userName, a.userName]);
  });
});

describe('paging', () => {
  it('GET /Users?startIndex=2&count=2 › 1-based window, totalResults all, itemsPerPage the page size', async () => {
    const { scim } = await fresh();
    const users = await createUsers(scim, [{}, {}, {}, {}, {}]);

    const res = await scim.get('/Users?startIndex=2&count=2').expect(200);

    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 5);
    assert.equal(res.body.startIndex, 2);
    assert.equal(res.body.itemsPerPage, 2);
    assert.deepEqual(
      res.body.Resources.map((r: { id: string }) => r.id),
      users.slice(1, 3).map((u) => u.id),
    );
  });

  it('GET /Users?startIndex&count › every window of 7 users, scanned from either end › the right ids in id order', async () => {
    const { scim } = await fresh();
    const users = await createUsers(scim, [{}, {}, {}, {}, {}, {}, {}, {}]);
    await scim.delete(`/Users/${users[3].id}`).expect(204);
    const ids = users
      .filter((_, i) => i !== 3)
      .map((u) => u.id as string)
      .sort();

    for (let start = 1; start <= 9; start++) {
      for (let count = 1; count <= 8; count++) {
        const res = await scim.get(`/Users?startIndex=${start}&count=${count}`).expect(200);
        const window = `startIndex=${start}&count=${count}`;
        assert.equal(res.body.totalResults, 7, window);
        assert.deepEqual(res.body.Resources?.map((r: { id: string }) => r.id) ?? [], ids.slice(start - 1, start - 1 + count), window);
        assert.equal(res.body.itemsPerPage, Math.max(0, Math.min(count, 7 - start + 1)), window);
      }
    }
    const descending = await scim.get('/Users?sortOrder=descending&startIndex=2&count=3').expect(200);
    assert.deepEqual(
      descending.body.Resources.map((r: { id: string }) => r.id),
      [...ids].reverse().slice(1, 4),
    );
  });

  it('GET /Users?count=0 › totalResults only, no resources', async () => {
    const { scim } = await fresh();
    await createUsers(scim, [{}, {}, {}]);

    const res = await scim.get('/Users?count=0').expect(200);

    assert.equal(res.body.totalResults, 3);
    assert.equal(res.body.itemsPerPage, 0);
    assert.deepEqual(res.body.Resources ?? [], []);
  });

  it('GET /Users?startIndex past the end › empty page, totalResults still counted', async () => {
    const { scim } = await fresh();
    await createUsers(scim, [{}, {}]);

    const res = await scim.get('/Users?startIndex=10').expect(200);

    assert.equal(res.body.totalResults, 2);
    assert.equal(res.body.startIndex, 10);
    assert.equal(res.body.itemsPerPage, 0);
  });

  it('GET /Users?startIndex=0 › read as 1 (RFC 7644: values less than 1 are interpreted as 1)', async () => {
    const { scim } = await fresh();
    const users = await createUsers(scim, [{}, {}]);

    const res = await scim.get('/Users?startIndex=0&count=1').expect(200);

    assert.equal(res.body.startIndex, 1);
    assert.equal(res.body.Resources[0].id, users[0].id);
  });

  it('GET /Users?count above the maximum › capped at the maximum page size', async () => {
    const small = makeTestApp({ maxPageSize: 3 });
    try {
      const { scim } = await freshDirectory(small.app);
      await createUsers(scim, [{}, {}, {}, {}, {}]);

      const res = await scim.get('/Users?count=50').expect(200);
      const unbounded = await scim.get('/Users').expect(200);

      assert.equal(res.body.totalResults, 5);
      assert.equal(res.body.itemsPerPage, 3);
      assert.equal(res.body.Resources.length, 3);
      assert.equal(unbounded.body.itemsPerPage, 3);
    } finally {
      await small.close();
    }
  });

  it('GET /Users?count and startIndex of eleven digits › count capped, startIndex past the end, no error', async () => {
    const small = makeTestApp({ maxPageSize: 2 });
    try {
      const { scim } = await freshDirectory(small.app);
      await createUsers(scim, [{}, {}, {}]);

      const big = await scim.get('/Users?count=99999999999').expect(200);
      const far = await scim.get('/Users?startIndex=99999999999').expect(200);

      assert.equal(big.body.itemsPerPage, 2);
      assert.equal(big.body.totalResults, 3);
      assert.equal(far.body.itemsPerPage, 0);
      assert.equal(far.body.totalResults, 3);
    } finally {
      await small.close();
    }
  });

  for (const sort of ['', '&sortBy=name.familyName', '&sortBy=meta.created&sortOrder=descending']) {
    it(`GET /Users walking every page${sort ? ` (${sort.slice(1)})` : ''} › each user exactly once, no gaps`, async () => {
      const { scim } = await fresh();
      // Many share a familyName, so ties must be broken the same way on every page.
      const users = await createUsers(
        scim,
        Array.from({ length: 11 }, (_, i) => ({ name: { givenName: `G${i}`, familyName: i % 2 ? 'Same' : 'Other' } })),
      );

      const seen: string[] = [];
      for (let start = 1; start <= 11; start += 3) {
        const res = await scim.get(`/Users?startIndex=${start}&count=3${sort}`).expect(200);
        assert.equal(res.body.totalResults, 11);
        assert.equal(res.body.itemsPerPage, res.body.Resources.length);
        seen.push(...res.body.Resources.map((r: { id: string }) => r.id));
      }

      assert.equal(seen.length, 11);
      assert.deepEqual([...seen].sort(), users.map((u) => u.id).sort());
    });
  }

  it('GET /Users?startIndex&count › paging over 11 users in pages of 5 › startIndex echoed and every user seen once', async () => {
    const { scim } = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) ids.push((await createUser(scim)).id);

    const seen: string[] = [];
    for (let page = 0; page < 3; page++) {
      const res = await scim.get(`/Users?startIndex=${page * 5 + 1}&count=5`).expect(200);
      assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
      assert.equal(res.body.startIndex, page * 5 + 1);
      assert.equal(res.body.totalResults, 11);
      assert.equal(res.body.itemsPerPage, page < 2 ? 5 : 1);
      seen.push(...res.body.Resources.map((r: { id: string }) => r.id));
    }

    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  it('GET /Groups?startIndex&count › paging over groups › startIndex echoed and every group seen once', async () => {
    const { scim } = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await createGroup(scim)).id);

    const first = await scim.get('/Groups?startIndex=1&count=5&excludedAttributes=members').expect(200);
    const second = await scim.get('/Groups?startIndex=6&count=5&excludedAttributes=members').expect(200);

    assert.equal(first.body.startIndex, 1);
    assert.equal(second.body.startIndex, 6);
    assert.equal(first.body.totalResults, 7);
    const seen = [...first.body.Resources, ...second.body.Resources].map((r: { id: string }) => r.id);
    assert.deepEqual(seen.sort(), ids.sort());
  });
});

describe('attributes and excludedAttributes', () => {
  it('GET /Users/{id}?attributes=userName,emails.value › only those, plus id and schemas', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{ title: 'CTO' }]);

    const res = await scim.get(`/Users/${user.id}?attributes=userName,emails.value`).expect(200);

    assert.deepEqual(res.body, {
      schemas: user.schemas,
      id: user.id,
      userName: user.userName,
      emails: user.emails.map((e: { value: string }) => ({ value: e.value })),
    });
  });

  it('GET /Users?attributes=name.familyName › every listed user carries id, schemas and only that', async () => {
    const { scim } = await fresh();
    const users = await createUsers(scim, [{}, {}]);

    const res = await scim.get('/Users?attributes=name.familyName').expect(200);

    assert.deepEqual(
      res.body.Resources,
      users.map((u) => ({ schemas: u.schemas, id: u.id, name: { familyName: u.name.familyName } })),
    );
  });

  it('GET /Users/{id}?excludedAttributes=emails,name,id,schemas › those go, but id and schemas stay', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{}]);

    const res = await scim.get(`/Users/${user.id}?excludedAttributes=emails,name,id,schemas`).expect(200);

    const { emails: _e, name: _n, ...expected } = user;
    assert.deepEqual(res.body, expected);
  });

  it('GET /Users/{id}?attributes=schemas › only id and schemas', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{}]);

    const res = await scim.get(`/Users/${user.id}?attributes=schemas`).expect(200);

    assert.deepEqual(res.body, { schemas: user.schemas, id: user.id });
  });

  it('GET /Groups?excludedAttributes=members › groups without members, other attributes kept', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{}]);
    const displayName = `g-${randomUUID()}`;
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: user.id }] }).expect(201);

    const list = await scim.get('/Groups?excludedAttributes=members').expect(200);
    const one = await scim.get(`/Groups/${group.id}?excludedAttributes=members`).expect(200);

    const { members: _m, ...expected } = group;
    assert.deepEqual(list.body.Resources, [expected]);
    assert.deepEqual(one.body, expected);
  });

  it('GET /Users/{id}?attributes=urn:…:enterprise:2.0:User:department › that extension attribute only', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{ [ENTERPRISE]: { department: 'R&D', employeeNumber: '9' } }]);

    const res = await scim.get(`/Users/${user.id}?attributes=${encodeURIComponent(`${ENTERPRISE}:department`)}`).expect(200);

    assert.deepEqual(res.body[ENTERPRISE], { department: 'R&D' });
    assert.equal(res.body.userName, undefined);
    assert.equal(res.body.id, user.id);
  });

  // Entra reads groups with excludedAttributes=members; a server that ignored it sent every member.
  it('GET /Groups › list and by-id reads with excludedAttributes=members on a group with members › no members key anywhere', async () => {
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

  it('GET /Groups?excludedAttributes=members&filter=displayName eq › one of two groups › the one group, without members', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim, 'displayName');
    await createGroup(scim, 'another');
    const user = await createUser(scim);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: user.id }] })).expect(204);

    const res = await scim.get(`/Groups?excludedAttributes=members&${filterQuery('displayName eq "displayName"')}`);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, group.id);
    assert.equal(res.body.Resources[0].externalId, group.externalId);
    assert.ok(!('members' in res.body.Resources[0]));
  });
});

describe('POST /.search', () => {
  it('POST /Users/.search › filter, sort, paging and attributes from the body › a ListResponse', async () => {
    const { scim } = await fresh();
    const tag = randomUUID().slice(0, 8);
    const [, b, c] = await createUsers(scim, [{ userName: `a-${tag}` }, { userName: `b-${tag}` }, { userName: `c-${tag}` }]);

    const res = await scim
      .post('/Users/.search', {
        schemas: [SEARCH_REQUEST],
        filter: `userName sw "a-" or userName sw "b-" or userName sw "c-"`,
        sortBy: 'userName',
        sortOrder: 'descending',
        startIndex: 1,
        count: 2,
        attributes: ['userName'],
      })
      .expect(200);

    assert.match(res.headers['content-type'], SCIM_JSON);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 3);
    assert.equal(res.body.itemsPerPage, 2);
    assert.deepEqual(res.body.Resources, [
      { schemas: [USER_SCHEMA], id: c.id, userName: c.userName },
      { schemas: [USER_SCHEMA], id: b.id, userName: b.userName },
    ]);
  });

  it('POST /Groups/.search › excludedAttributes in the body › groups without members', async () => {
    const { scim } = await fresh();
    const [user] = await createUsers(scim, [{}]);
    const { body: group } = await scim
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: user.id }] })
      .expect(201);

    const res = await scim.post('/Groups/.search', { schemas: [SEARCH_REQUEST], excludedAttributes: ['members'] }).expect(200);

    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, group.id);
    assert.equal(res.body.Resources[0].members, undefined);
  });
});
