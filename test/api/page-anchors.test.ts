/**
 * Deep pages seek from an anchor (every n-th id) instead of skipping from an end of the primary
 * key (shared/db/repositories/page-anchors.ts). Anchors are only used while the directory's set
 * of ids is the one they were taken from, so every page must hold exactly the ids a plain
 * `ORDER BY id OFFSET … LIMIT …` gives, before and after users come and go, in each directory.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pageAnchorsOf, type PageAnchors } from '../../shared/db/repositories/page-anchors';
import { makeTestApp, type TestApp } from '../support/app';
import { createUser, freshDirectory, type Scim } from '../support/scim-helpers';

let t: TestApp;
let anchors: PageAnchors;
before(() => {
  t = makeTestApp();
  // Small spacing, so a directory of a few hundred users has anchors; rebuilt whenever asked.
  anchors = pageAnchorsOf(t.db, { minSpacing: 10, minIntervalMs: 0 });
});
after(() => t.close());

/** A directory holding `n` users with random ids, written in one statement as the bench does. */
async function directoryOf(n: number): Promise<{ scim: Scim; directoryId: string }> {
  const { dir, scim } = await freshDirectory(t.app);
  await t.db.acrossTenants().exec(
    `INSERT INTO scim_users (directory_id, id, tenant_id, user_name, data, created_at, updated_at)
     SELECT $1::uuid, gen_random_uuid(), $2::uuid, u, jsonb_build_object('userName', u), now(), now()
       FROM generate_series(1, $3) AS i, LATERAL (SELECT 'user' || i || '@' || $1::text AS u) AS x`,
    [dir.directoryId, dir.tenantId, n],
  );
  return { scim, directoryId: dir.directoryId };
}

const idsInOrder = async (directoryId: string) =>
  (await t.db.acrossTenants().query<{ id: string }>('SELECT id FROM scim_users WHERE directory_id = $1 ORDER BY id', [directoryId])).map((r) => r.id);

/** Pages through the directory from many starts; each page must be the plain OFFSET's ids. */
async function assertEveryPage(scim: Scim, expected: string[]) {
  for (let start = 1; start <= expected.length + 1; start += 13) {
    for (const count of [7, 100]) {
      const res = await scim.get(`/Users?startIndex=${start}&count=${count}&attributes=id`).expect(200);
      const window = `startIndex=${start}&count=${count}`;
      assert.equal(res.body.totalResults, expected.length, window);
      assert.deepEqual(res.body.Resources?.map((r: { id: string }) => r.id) ?? [], expected.slice(start - 1, start - 1 + count), window);
    }
  }
}

describe('deep pages from anchors', () => {
  it('300 users › every page is the plain OFFSET page, and far pages are served from anchors', async () => {
    const { scim, directoryId } = await directoryOf(300);
    const { anchoredPages, builds } = { ...anchors.stats };

    await assertEveryPage(scim, await idsInOrder(directoryId));

    assert.ok(anchors.stats.builds > builds, 'a far page should have taken anchors');
    assert.ok(anchors.stats.anchoredPages > anchoredPages, 'later far pages should have used them');
  });

  it('a user deleted and another created after the anchors were taken › pages stay exact, anchors are retaken', async () => {
    const { scim, directoryId } = await directoryOf(300);
    await assertEveryPage(scim, await idsInOrder(directoryId));
    const before = await idsInOrder(directoryId);
    await scim.delete(`/Users/${before[150]}`).expect(204);
    await createUser(scim);
    const { builds } = { ...anchors.stats };

    await assertEveryPage(scim, await idsInOrder(directoryId));

    assert.ok(anchors.stats.builds > builds, 'the changed directory should have been anchored afresh');
  });

  it('a build PostgreSQL refuses › the caller is not failed, and no anchors are kept', async () => {
    const { builds } = { ...anchors.stats };
    await anchors.refresh('scim_users', 'User', 'not-a-directory-id', 5_000);
    assert.equal(anchors.stats.builds, builds);
    assert.equal(anchors.nearest('scim_users', 'not-a-directory-id', 4_000), undefined);
  });

  it("two directories, ids interleaved › each page holds only its own directory's users", async () => {
    const a = await directoryOf(250);
    const b = await directoryOf(250);
    await assertEveryPage(a.scim, await idsInOrder(a.directoryId));

    await assertEveryPage(b.scim, await idsInOrder(b.directoryId));
    await assertEveryPage(a.scim, await idsInOrder(a.directoryId));
  });
});
