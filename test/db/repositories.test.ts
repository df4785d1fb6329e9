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

describe('repositories › the userName lookup Entra sends before every create', () => {
  it('a connection plans it five times, then reuses one generic plan (a custom plan each time cost twelve times the run)', async () => {
    const t = makeTestApp();
    // One connection, so every lookup below runs on it and its prepared statement.
    const db = createDatabase({ poolMax: 1, poolMin: 1 });
    try {
      const d = await makeDirectory(t.app);
      const repos = new DirectoryRepositories(db, { tenantId: d.tenantId as TenantId, directoryId: d.directoryId as DirectoryId });
      const userId = newId();
      await repos.transaction((tx) => repos.users.insert(userId, { userName: 'Lookup@Contoso.example', active: true }, tx));
      // The plan is chosen on statistics: a directory of some thousands of users, analyzed.
      const owner = new Client({ connectionString: config.DATABASE_URL });
      await owner.connect();
      try {
        await owner.query(
          `INSERT INTO scim_users (directory_id, tenant_id, id, user_name, data)
           SELECT $1, $2, gen_random_uuid(), 'user' || n || '@contoso.example', '{}' FROM generate_series(1, 3000) n`,
          [d.directoryId, d.tenantId],
        );
        await owner.query('ANALYZE scim_users, scim_groups, group_members');
      } finally {
        await owner.end();
      }
      for (let i = 0; i < 8; i++) {
        const { rows } = await repos.users.list({ equals: { attribute: 'userName', value: 'lookup@contoso.example' }, offset: 0, limit: 1 });
        assert.deepEqual(
          rows.map((r) => r.id),
          [userId],
        );
      }
      const [plans] = await db
        .acrossTenants()
        .query<{ generic_plans: string; custom_plans: string }>(
          `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH k AS MATERIALIZED%' AND statement LIKE '%user_name_folded = k.folded%'`,
        );
      assert.ok(plans, 'the lookup is a prepared statement');
      assert.equal(Number(plans.custom_plans), 5);
      assert.equal(Number(plans.generic_plans), 3);
    } finally {
      await db.close();
      await t.close();
    }
  });
});
