/**
 * `userName eq "…"` (and externalId, and a group's displayName) is answered from a unique index,
 * batched with the lookups of the same event-loop turn, whatever directory they come from
 * (shared/db/repositories/unique-lookups.ts). Batched or not, each request must see exactly what
 * the plain filter would show it, and never a row of another directory.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupRepository } from '../../shared/db/repositories/groups';
import { UserRepository } from '../../shared/db/repositories/users';
import type { DirectoryScope } from '../../shared/db/repositories/scope';
import { makeTestApp, type TestApp } from '../support/app';
import { countStatements } from '../support/statements';
import { GROUP_SCHEMA, patchOp } from '../support/factories';
import { createUser, filterQuery, freshDirectory, type Scim } from '../support/scim-helpers';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

const scopeOf = (dir: { tenantId: string; directoryId: string }) => ({ tenantId: dir.tenantId, directoryId: dir.directoryId }) as DirectoryScope;
const page = (filterEquals: { attribute: string; value: string }, extra: Record<string, unknown> = {}) => ({
  where: 'unused',
  equals: filterEquals,
  offset: 0,
  limit: 100,
  ...extra,
});

async function twoDirectoriesWithTheSameNames(n: number) {
  const a = await freshDirectory(t.app);
  const b = await freshDirectory(t.app);
  const names = Array.from({ length: n }, (_, i) => `shared-${i}-${a.dir.directoryId}@contoso.example`);
  const create = (scim: Scim, name: string) => createUser(scim, { userName: name, externalId: `ext-${name}` });
  const usersA = await Promise.all(names.map((name) => create(a.scim, name)));
  const usersB = await Promise.all(names.map((name) => create(b.scim, name)));
  return { a, b, names, usersA, usersB };
}

describe('unique lookups batched across requests', () => {
  it('30 lookups in one turn from two directories holding the same userNames › one statement; each gets its own directory’s user', async () => {
    const { a, b, names, usersA, usersB } = await twoDirectoriesWithTheSameNames(15);
    const repoA = new UserRepository(t.db, scopeOf(a.dir));
    const repoB = new UserRepository(t.db, scopeOf(b.dir));
    let results: { total: number; rows: { id: string }[] }[] = [];
    const statements = await countStatements(t.db, 'WITH ORDINALITY AS u', async () => {
      results = await Promise.all(
        names.flatMap((name) => [
          repoA.list(page({ attribute: 'userName', value: name.toUpperCase() })),
          repoB.list(page({ attribute: 'userName', value: name })),
        ]),
      );
    });
    assert.equal(statements, 1, 'the 30 lookups of one turn share one statement');
    names.forEach((_, i) => {
      assert.deepEqual(
        results[2 * i].rows.map((r) => r.id),
        [usersA[i].id],
        'A sees its own user (userName is case-insensitive)',
      );
      assert.deepEqual(
        results[2 * i + 1].rows.map((r) => r.id),
        [usersB[i].id],
        'B sees its own user, never A’s',
      );
      assert.equal(results[2 * i].total, 1);
    });
  });

  it('lookups that find nothing, or find only in the other directory › total 0 and no row', async () => {
    const { a, b, names } = await twoDirectoriesWithTheSameNames(2);
    const onlyInB = `only-b-${b.dir.directoryId}@contoso.example`;
    await createUser(b.scim, { userName: onlyInB });
    const repoA = new UserRepository(t.db, scopeOf(a.dir));
    const [missing, otherDirectory, found] = await Promise.all([
      repoA.list(page({ attribute: 'userName', value: 'nobody@contoso.example' })),
      repoA.list(page({ attribute: 'userName', value: onlyInB })),
      repoA.list(page({ attribute: 'userName', value: names[0] })),
    ]);
    assert.deepEqual(missing, { total: 0, rows: [] });
    assert.deepEqual(otherDirectory, { total: 0, rows: [] }, 'a user of another directory is not even counted');
    assert.equal(found.total, 1);
  });

  it('externalId is compared exactly, as its caseExact says › the right case finds, another case does not', async () => {
    const { a, names, usersA } = await twoDirectoriesWithTheSameNames(1);
    const repoA = new UserRepository(t.db, scopeOf(a.dir));
    const [exact, otherCase] = await Promise.all([
      repoA.list(page({ attribute: 'externalId', value: `ext-${names[0]}` })),
      repoA.list(page({ attribute: 'externalId', value: `EXT-${names[0]}` })),
    ]);
    assert.deepEqual(
      exact.rows.map((r) => r.id),
      [usersA[0].id],
    );
    assert.equal(otherCase.total, 0);
  });

  it('a group by displayName › case-insensitive, members fetched with it when asked', async () => {
    const { a, usersA } = await twoDirectoriesWithTheSameNames(2);
    const displayName = `Sales ${a.dir.directoryId}`;
    const group = (await a.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: usersA.map((u) => ({ value: u.id })) }).expect(201)).body;
    const repo = new GroupRepository(t.db, scopeOf(a.dir));
    const [withMembers, without] = await Promise.all([
      repo.list(page({ attribute: 'displayName', value: displayName.toLowerCase() }, { withRelated: true })),
      repo.list(page({ attribute: 'displayName', value: displayName.toUpperCase() })),
    ]);
    assert.deepEqual(
      withMembers.rows.map((r) => r.id),
      [group.id],
    );
    assert.deepEqual(((withMembers.rows[0].related ?? []) as { value: string }[]).map((m) => m.value).sort(), usersA.map((u) => u.id).sort());
    assert.deepEqual(
      without.rows.map((r) => r.id),
      [group.id],
    );
    assert.equal(without.rows[0].related, undefined);
  });
});

describe('GET /Users?filter=userName eq, through the app, many at once', () => {
  it('40 concurrent requests from two directories with the same userNames › each answer holds its own directory’s user, ListResponse as usual', async () => {
    const { a, b, names, usersA, usersB } = await twoDirectoriesWithTheSameNames(20);
    const answers = await Promise.all(
      names.flatMap((name) => [
        a.scim.get(`/Users?${filterQuery(`userName eq "${name}"`)}`).expect(200),
        b.scim.get(`/Users?${filterQuery(`USERNAME eq "${name.toUpperCase()}"`)}`).expect(200),
      ]),
    );
    names.forEach((_, i) => {
      for (const [answer, own] of [
        [answers[2 * i], usersA[i]],
        [answers[2 * i + 1], usersB[i]],
      ] as const) {
        assert.equal(answer.body.totalResults, 1);
        assert.equal(answer.body.itemsPerPage, 1);
        assert.equal(answer.body.startIndex, 1);
        assert.equal(answer.body.Resources[0].id, own.id);
        assert.equal(answer.body.Resources[0].meta.location, own.meta.location);
      }
    });
  });

  it('the same lookup with startIndex=2, count=0 or a sortBy › answered by the general query, same totals', async () => {
    const { a, names, usersA } = await twoDirectoriesWithTheSameNames(1);
    const q = filterQuery(`userName eq "${names[0]}"`);
    const second = await a.scim.get(`/Users?${q}&startIndex=2`).expect(200);
    assert.equal(second.body.totalResults, 1);
    assert.deepEqual(second.body.Resources, []);
    const none = await a.scim.get(`/Users?${q}&count=0`).expect(200);
    assert.equal(none.body.totalResults, 1);
    assert.deepEqual(none.body.Resources, []);
    const sortedBy = await a.scim.get(`/Users?${q}&sortBy=userName`).expect(200);
    assert.equal(sortedBy.body.Resources[0].id, usersA[0].id);
  });

  it('attributes and excludedAttributes apply to a looked-up user, and its groups come along', async () => {
    const { a, names, usersA } = await twoDirectoriesWithTheSameNames(1);
    const group = (await a.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${a.dir.directoryId}` }).expect(201)).body;
    await a.scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: usersA[0].id }] })).expect(204);
    const q = filterQuery(`userName eq "${names[0]}"`);
    const full = await a.scim.get(`/Users?${q}`).expect(200);
    assert.deepEqual(
      full.body.Resources[0].groups.map((g: { value: string }) => g.value),
      [group.id],
    );
    const narrow = await a.scim.get(`/Users?${q}&attributes=userName`).expect(200);
    assert.deepEqual(Object.keys(narrow.body.Resources[0]).sort(), ['id', 'schemas', 'userName']);
    const trimmed = await a.scim.get(`/Users?${q}&excludedAttributes=groups,emails`).expect(200);
    assert.equal(trimmed.body.Resources[0].groups, undefined);
    assert.equal(trimmed.body.Resources[0].emails, undefined);
    assert.equal(trimmed.body.Resources[0].userName, names[0]);
  });
});
