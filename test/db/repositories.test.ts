/**
 * The directory-bound repositories, used directly (no HTTP): what one directory writes, another
 * directory's repositories, bound the same way, cannot read, change or delete.
 */
import { eventually } from '../support/eventually';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DirectoryRepositories } from '../../shared/db/repositories/directory';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { createDatabase } from '../../shared/db/sequelize';
import type { DirectoryScope } from '../../shared/db/repositories/scope';
import { newId, type DirectoryId, type TenantId } from '../../shared/ids';
import { makeTestApp, type TestApp } from '../support/app';
import { makeDirectory } from '../support/factories';

describe('repositories › bound to one directory', () => {
  let t: TestApp;
  let a: DirectoryRepositories;
  let b: DirectoryRepositories;
  let userId: string;
  let groupId: string;
  before(async () => {
    t = makeTestApp();
    const scopeOf = async (): Promise<DirectoryScope> => {
      const d = await makeDirectory(t.app);
      return { tenantId: d.tenantId as TenantId, directoryId: d.directoryId as DirectoryId };
    };
    a = new DirectoryRepositories(t.db, await scopeOf());
    b = new DirectoryRepositories(t.db, await scopeOf());
    userId = newId();
    groupId = newId();
    await a.transaction(async (tx) => {
      await a.users.insert(userId, { userName: 'same@contoso.example', active: true }, tx);
      await a.groups.insert(groupId, { displayName: 'Sales' }, tx);
      await a.groups.addMembers(groupId, [userId], tx);
      await a.events('test').append(tx, { type: 'user.created', resourceType: 'User', resourceId: userId, data: {} });
    });
  });
  after(() => t.close());

  it('users › written in one directory › found there; another directory sees nothing', async () => {
    assert.equal((await a.users.find(userId))?.id, userId);
    assert.equal(await b.users.find(userId), undefined);
    assert.equal((await b.users.list({ offset: 0, limit: 100 })).rows.length, 0);
    await b.transaction(async (tx) => {
      assert.equal(await b.users.delete(userId, tx), undefined);
    });
    assert.equal((await a.users.find(userId))?.id, userId, 'still there after the other directory tried to delete it');
  });

  it('groups and membership › another directory sees nothing and cannot add its users', async () => {
    assert.equal((await a.groups.find(groupId, undefined, { withRelated: true }))?.id, groupId);
    assert.equal(await b.groups.find(groupId), undefined);
    const otherGroup = newId();
    await assert.rejects(
      b.transaction(async (tx) => {
        await b.groups.insert(otherGroup, { displayName: 'Sales' }, tx);
        await b.groups.addMembers(otherGroup, [userId], tx);
      }),
      (err: { status?: number }) => err.status === 400,
      'a user of another directory is no user here',
    );
    assert.deepEqual(await b.transaction((tx) => b.groups.removeMembers(groupId, [userId], tx)), []);
  });

  it('unique values › the same userName in another directory › free there', async () => {
    const taken = await b.transaction((tx) => b.users.insert(newId(), { userName: 'same@contoso.example', active: true }, tx));
    assert.equal(taken.data.userName, 'same@contoso.example');
  });

  it("events › the tenant's feed › only its own directory's events; another tenant sees nothing", async () => {
    // The feed shows an event once no older transaction (another suite's) is still open: wait for it.
    await eventually('the user event in its tenant feed', async () => {
      const own = await t.repos.forTenant(a.scope.tenantId).events({ limit: 100 });
      return own.events.some((e) => e.resourceId === userId) || undefined;
    });
    const other = await t.repos.forTenant(b.scope.tenantId).events({ limit: 100 });
    assert.ok(!other.events.some((e) => e.resourceId === userId));
  });

  it('reconcile reports › another directory sees nothing', async () => {
    const report = await a.reconcileReports.create([groupId]);
    assert.equal((await a.reconcileReports.find(report.id))?.id, report.id);
    assert.deepEqual([...(await a.reconcileReports.existingGroupIds([groupId]))], [groupId]);
    assert.equal(await b.reconcileReports.find(report.id), undefined);
    assert.deepEqual([...(await b.reconcileReports.existingGroupIds([groupId]))], []);
  });
});

/**
 * A directory of some thousands of users and 500 groups of 40, analyzed (plans are chosen on statistics), with its
 * repositories on a pool of ONE connection, so every statement below runs on it and its
 * prepared statements. Returns them and how that connection planned the statement `like` names.
 */
async function analyzedDirectory(t: TestApp) {
  const db = createDatabase({ poolMax: 1, poolMin: 1 });
  const d = await makeDirectory(t.app);
  const repos = new DirectoryRepositories(db, { tenantId: d.tenantId as TenantId, directoryId: d.directoryId as DirectoryId });
  const owner = new Client({ connectionString: config.DATABASE_URL });
  await owner.connect();
  try {
    await owner.query(
      `INSERT INTO scim_users (directory_id, tenant_id, id, user_name, data)
       SELECT $1, $2, gen_random_uuid(), 'user' || n || '@contoso.example', '{}' FROM generate_series(1, 3000) n`,
      [d.directoryId, d.tenantId],
    );
    await owner.query(
      `INSERT INTO scim_groups (directory_id, tenant_id, id, display_name, data)
       SELECT $1, $2, gen_random_uuid(), 'group ' || n, '{}' FROM generate_series(1, 500) n`,
      [d.directoryId, d.tenantId],
    );
    await owner.query(
      `INSERT INTO group_members (directory_id, tenant_id, group_id, user_id)
       SELECT g.directory_id, g.tenant_id, g.id, u.id FROM scim_groups g JOIN LATERAL (SELECT id FROM scim_users WHERE directory_id = g.directory_id LIMIT 40) u ON true WHERE g.directory_id = $1`,
      [d.directoryId],
    );
    await owner.query('ANALYZE scim_users, scim_groups, group_members');
  } finally {
    await owner.end();
  }
  const plansOf = async (...like: string[]) => {
    const [plans] = await db
      .acrossTenants()
      .query<{ generic_plans: string; custom_plans: string }>(
        `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE ${like.map((_, i) => `statement LIKE $${i + 1}`).join(' AND ')}`,
        like,
      );
    assert.ok(plans, 'a prepared statement');
    return { custom: Number(plans.custom_plans), generic: Number(plans.generic_plans) };
  };
  return { db, repos, plansOf };
}

describe('repositories › the statements of every Entra request: a connection plans each five times, then reuses one generic plan', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  it('the userName lookup Entra sends before every create (a custom plan each time cost twelve times the run)', async () => {
    const { db, repos, plansOf } = await analyzedDirectory(t);
    try {
      const userId = newId();
      await repos.transaction((tx) => repos.users.insert(userId, { userName: 'Lookup@Contoso.example', active: true }, tx));
      for (let i = 0; i < 8; i++) {
        const { rows } = await repos.users.list({ equals: { attribute: 'userName', value: 'lookup@contoso.example' }, offset: 0, limit: 1 });
        assert.deepEqual(
          rows.map((r) => r.id),
          [userId],
        );
      }
      assert.deepEqual(await plansOf('WITH k AS MATERIALIZED%', '%user_name_folded = k.folded%'), { custom: 5, generic: 3 });
    } finally {
      await db.close();
    }
  });

  it("a PATCH's one-member Add (a custom plan each time cost three times the run)", async () => {
    const { db, repos, plansOf } = await analyzedDirectory(t);
    try {
      const groupId = newId();
      await repos.transaction((tx) => repos.groups.insert(groupId, { displayName: 'Planned once' }, tx));
      const users = Array.from({ length: 8 }, () => newId());
      for (const [i, id] of users.entries())
        await repos.transaction((tx) => repos.users.insert(id, { userName: `member-${i}@contoso.example`, active: true }, tx));
      for (const id of users) assert.ok('version' in ((await repos.groups.changeMembers(groupId, 'add', [id], 'test:plans')) ?? {}));
      assert.deepEqual(await plansOf('%INSERT INTO group_members%', '%DISTINCT ON (m.directory_id, m.group_id, m.user_id)%'), { custom: 5, generic: 3 });
    } finally {
      await db.close();
    }
  });
});
