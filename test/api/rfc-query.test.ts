import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { makeTestApp, type TestApp } from '../support/app';
import { ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA } from '../support/factories';

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const SCIM_JSON = /^application\/scim\+json/;

type Scim = ReturnType<typeof scimClient>;
const q = (filter: string) => encodeURIComponent(filter);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('RFC 7644 queries: projection, paging, sorting, filtering', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  const fresh = async (app: TestApp = t) => scimClient(app.app, (await makeDirectory(app.app)).token);

  /** Creates users in order (so meta.created and ids ascend) and returns their bodies. */
  async function createUsers(scim: Scim, bodies: Record<string, unknown>[]) {
    const out = [];
    for (const body of bodies) out.push((await scim.post('/Users', entraUser(body)).expect(201)).body);
    return out;
  }

  async function userNames(scim: Scim, query: string): Promise<string[]> {
    const res = await scim.get(`/Users?${query}`).expect(200);
    return res.body.Resources.map((r: { userName: string }) => r.userName);
  }

  describe('attributes and excludedAttributes (RFC 7644 §3.9)', () => {
    it('GET /Users/{id}?attributes=userName,emails.value › only those, plus id and schemas', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
      const users = await createUsers(scim, [{}, {}]);

      const res = await scim.get('/Users?attributes=name.familyName').expect(200);

      assert.deepEqual(
        res.body.Resources,
        users.map((u) => ({ schemas: u.schemas, id: u.id, name: { familyName: u.name.familyName } })),
      );
    });

    it('GET /Users/{id}?excludedAttributes=emails,name,id,schemas › those go, but id and schemas stay', async () => {
      const scim = await fresh();
      const [user] = await createUsers(scim, [{}]);

      const res = await scim.get(`/Users/${user.id}?excludedAttributes=emails,name,id,schemas`).expect(200);

      const { emails: _e, name: _n, ...expected } = user;
      assert.deepEqual(res.body, expected);
    });

    it('GET /Users/{id}?attributes=schemas › only id and schemas', async () => {
      const scim = await fresh();
      const [user] = await createUsers(scim, [{}]);

      const res = await scim.get(`/Users/${user.id}?attributes=schemas`).expect(200);

      assert.deepEqual(res.body, { schemas: user.schemas, id: user.id });
    });

    it('GET /Groups?excludedAttributes=members › groups without members, other attributes kept', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
      const [user] = await createUsers(scim, [{ [ENTERPRISE]: { department: 'R&D', employeeNumber: '9' } }]);

      const res = await scim.get(`/Users/${user.id}?attributes=${q(`${ENTERPRISE}:department`)}`).expect(200);

      assert.deepEqual(res.body[ENTERPRISE], { department: 'R&D' });
      assert.equal(res.body.userName, undefined);
      assert.equal(res.body.id, user.id);
    });
  });

  describe('paging (RFC 7644 §3.4.2.4)', () => {
    it('GET /Users?startIndex=2&count=2 › 1-based window, totalResults all, itemsPerPage the page size', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
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
      const scim = await fresh();
      await createUsers(scim, [{}, {}, {}]);

      const res = await scim.get('/Users?count=0').expect(200);

      assert.equal(res.body.totalResults, 3);
      assert.equal(res.body.itemsPerPage, 0);
      assert.deepEqual(res.body.Resources ?? [], []);
    });

    it('GET /Users?startIndex past the end › empty page, totalResults still counted', async () => {
      const scim = await fresh();
      await createUsers(scim, [{}, {}]);

      const res = await scim.get('/Users?startIndex=10').expect(200);

      assert.equal(res.body.totalResults, 2);
      assert.equal(res.body.startIndex, 10);
      assert.equal(res.body.itemsPerPage, 0);
    });

    it('GET /Users?startIndex=0 › read as 1 (RFC 7644: values less than 1 are interpreted as 1)', async () => {
      const scim = await fresh();
      const users = await createUsers(scim, [{}, {}]);

      const res = await scim.get('/Users?startIndex=0&count=1').expect(200);

      assert.equal(res.body.startIndex, 1);
      assert.equal(res.body.Resources[0].id, users[0].id);
    });

    it('GET /Users?count above the maximum › capped at the maximum page size', async () => {
      const small = makeTestApp({ maxPageSize: 3 });
      try {
        const scim = await fresh(small);
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
        const scim = await fresh(small);
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
        const scim = await fresh();
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
  });

  describe('sorting (RFC 7644 §3.4.2.3)', () => {
    it('GET /Users?sortBy=userName › ascending by default, descending on request, case-insensitive', async () => {
      const scim = await fresh();
      const tag = randomUUID().slice(0, 8);
      await createUsers(scim, [{ userName: `b-${tag}` }, { userName: `C-${tag}` }, { userName: `a-${tag}` }]);

      const up = await userNames(scim, 'sortBy=userName');
      const down = await userNames(scim, 'sortBy=userName&sortOrder=descending');

      assert.deepEqual(up, [`a-${tag}`, `b-${tag}`, `C-${tag}`]);
      assert.deepEqual(down, [`C-${tag}`, `b-${tag}`, `a-${tag}`]);
    });

    it('GET /Users?sortBy=name.familyName › by family name; users without one last ascending, first descending', async () => {
      const scim = await fresh();
      const [none, z, m] = await createUsers(scim, [{ name: undefined }, { name: { familyName: 'Zeta' } }, { name: { familyName: 'mu' } }]);

      const up = await userNames(scim, 'sortBy=name.familyName&sortOrder=ascending');
      const down = await userNames(scim, 'sortBy=name.familyName&sortOrder=descending');

      assert.deepEqual(up, [m.userName, z.userName, none.userName]);
      // RFC 7644 §3.4.2.3: resources without a value are ordered last ascending and first descending.
      assert.deepEqual(down, [none.userName, z.userName, m.userName]);
    });

    it('GET /Users?sortBy=meta.created › creation order, reversed when descending', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
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

  describe('filters over HTTP (RFC 7644 §3.4.2.2)', () => {
    /** Five users whose attributes make every operator distinguishable. */
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

    it('GET /Users?filter=… › each operator selects exactly the expected users', async () => {
      const scim = await fresh();
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
        const res = await scim.get(`/Users?filter=${q(filter)}&sortBy=userName`);
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
      const scim = await fresh();
      const [created] = await createUsers(scim, [{}]);
      const { body: patched } = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).expect(200);
      await sleep(20);
      const later = await createUsers(scim, [{}, {}]);

      const afterCreate = await userNames(scim, `filter=${q(`meta.lastModified gt "${created.meta.lastModified}"`)}&sortBy=meta.created`);
      const afterPatch = await userNames(scim, `filter=${q(`meta.lastModified gt "${patched.meta.lastModified}"`)}&sortBy=meta.created`);
      const exactly = await userNames(scim, `filter=${q(`meta.lastModified eq "${patched.meta.lastModified}"`)}`);

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
      const scim = await fresh();
      const [first, second, third] = await createUsers(scim, [{}, {}, {}]);

      const names = await userNames(scim, `filter=${q(`meta.created ge "${second.meta.created}"`)}&sortBy=meta.created`);

      assert.ok(!names.includes(first.userName));
      assert.deepEqual(names, [second.userName, third.userName]);
    });

    it('GET /Groups?filter=displayName eq … › finds the group case-insensitively; members[value eq id] finds its groups', async () => {
      const scim = await fresh();
      const [user] = await createUsers(scim, [{}]);
      const displayName = `Sales-${randomUUID()}`;
      const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: user.id }] }).expect(201);
      await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `other-${randomUUID()}` }).expect(201);

      const byName = await scim.get(`/Groups?filter=${q(`displayName eq "${displayName.toLowerCase()}"`)}`).expect(200);
      const byMember = await scim.get(`/Groups?filter=${q(`members[value eq "${user.id}"]`)}&excludedAttributes=members`).expect(200);

      assert.deepEqual(
        byName.body.Resources.map((g: { id: string }) => g.id),
        [group.id],
      );
      assert.deepEqual(
        byMember.body.Resources.map((g: { id: string }) => g.id),
        [group.id],
      );
    });
  });

  describe('POST /.search (RFC 7644 §3.4.3)', () => {
    it('POST /Users/.search › filter, sort, paging and attributes from the body › a ListResponse', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
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

  describe('groups attribute in lists', () => {
    it('GET /Users?filter=… › each listed user carries its own groups only', async () => {
      const scim = await fresh();
      const [inGroup, outside] = await createUsers(scim, [{}, {}]);
      const { body: group } = await scim
        .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: inGroup.id }] })
        .expect(201);

      const res = await scim.get('/Users?sortBy=meta.created').expect(200);

      const [a, b] = res.body.Resources;
      assert.equal(a.id, inGroup.id);
      assert.deepEqual(
        a.groups.map((g: { value: string }) => g.value),
        [group.id],
      );
      assert.equal(b.id, outside.id);
      assert.equal(b.groups, undefined);
    });
  });
});
