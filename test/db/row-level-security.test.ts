/**
 * PostgreSQL's row-level security as the backstop of tenant scoping (migration 0008): every
 * tenant table has it enabled and forced, the application's sessions are subject to it, an
 * unscoped statement reads and writes nothing, and each executor sees exactly its scope.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { newId } from '../../shared/ids';
import { makeTestApp, type TestApp } from '../support/app';
import { makeDirectory, type TestDirectory } from '../support/factories';
import { createUser, type Scim } from '../support/scim-helpers';
import { scimClient } from '../support/factories';

/** Tables that hold no tenant's data: the tenants themselves, migrations, the relay's positions. */
const UNSCOPED_TABLES = ['outbox_positions', 'schema_migrations', 'tenants'];

describe('row-level security › the catalog', () => {
  const owner = new Client({ connectionString: config.DATABASE_URL });
  before(() => owner.connect());
  after(() => owner.end());

  it('every table but the unscoped three › row-level security enabled and forced, with a policy', async () => {
    const { rows } = await owner.query<{ table: string; enabled: boolean; forced: boolean; policies: number }>(
      `SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
              (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
         FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY 1`,
    );
    const unprotected = rows.filter((r) => !(r.enabled && r.forced && r.policies > 0)).map((r) => r.table);
    assert.deepEqual(unprotected, UNSCOPED_TABLES, 'a new table needs a policy in a migration, or a place in this list with the reason');
  });

  it("the application's role › neither superuser nor allowed to bypass row-level security", async () => {
    const { rows } = await owner.query<{ rolsuper: boolean; rolbypassrls: boolean }>(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'scim_app'`);
    assert.deepEqual(rows, [{ rolsuper: false, rolbypassrls: false }]);
  });
});

describe('row-level security › statements', () => {
  let t: TestApp;
  let db: Database;
  let a: TestDirectory;
  let b: TestDirectory;
  let aSibling: TestDirectory;
  before(async () => {
    t = makeTestApp();
    db = createDatabase({ poolMax: 1 });
    a = await makeDirectory(t.app);
    aSibling = await makeDirectory(t.app, { tenantId: a.tenantId });
    b = await makeDirectory(t.app);
    const scim = (d: TestDirectory): Scim => scimClient(t.app, d.token);
    for (const d of [a, aSibling, b]) for (let i = 0; i < 2; i++) await createUser(scim(d));
  });
  after(async () => {
    await db.close();
    await t.close();
  });

  /** PostgreSQL's insufficient_privilege, raised for a row its policy refuses; Sequelize keeps it as the cause. */
  const refusedByPolicy = (err: { parent?: { code?: string } }) => err.parent?.code === '42501';
  const directoriesOfUsers = async (rows: Promise<{ directory_id: string }[]>) => [...new Set((await rows).map((r) => r.directory_id))].sort();

  it('a pooled connection › runs as scim_app', async () => {
    const [row] = await db.acrossTenants().query<{ current_user: string }>('SELECT current_user');
    assert.equal(row.current_user, 'scim_app');
  });

  it('a session as scim_app with no scope › reads no row and cannot write one', async () => {
    const raw = new Client({ connectionString: config.DATABASE_URL });
    await raw.connect();
    try {
      await raw.query('SET ROLE scim_app');
      for (const table of ['scim_users', 'events', 'api_keys', 'directories', 'webhook_deliveries', 'resource_counters']) {
        const { rows } = await raw.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
        assert.equal(rows[0].n, 0, `${table} is readable without a scope`);
      }
      await assert.rejects(
        raw.query(`INSERT INTO scim_users (id, directory_id, tenant_id, data, user_name) VALUES (gen_random_uuid(), $1, $2, '{}', 'x')`, [
          a.directoryId,
          a.tenantId,
        ]),
        (err: { code?: string }) => err.code === '42501',
      );
      assert.equal((await raw.query(`UPDATE scim_users SET version = version + 1`)).rowCount, 0);
      assert.equal((await raw.query(`DELETE FROM api_keys`)).rowCount, 0);
    } finally {
      await raw.end();
    }
  });

  it('a directory scope › a statement without any directory filter sees only that directory, and cannot write into another', async () => {
    assert.deepEqual(await directoriesOfUsers(db.forDirectory(a).query('SELECT directory_id FROM scim_users')), [a.directoryId]);
    await assert.rejects(
      db
        .forDirectory(a)
        .exec(`INSERT INTO scim_users (id, directory_id, tenant_id, data, user_name) VALUES (gen_random_uuid(), $1, $2, '{}', 'x')`, [
          b.directoryId,
          b.tenantId,
        ]),
      (err: { code?: string }) => err.code === '42501',
    );
    assert.equal(await db.forDirectory(a).exec('UPDATE scim_users SET version = version + 1 WHERE directory_id = $1', [b.directoryId]), 0);
  });

  it("a tenant scope › all of that tenant's directories and nothing of another tenant", async () => {
    assert.deepEqual(
      await directoriesOfUsers(db.forTenant(a.tenantId).query('SELECT directory_id FROM scim_users')),
      [a.directoryId, aSibling.directoryId].sort(),
    );
    assert.deepEqual(await directoriesOfUsers(db.forTenant(b.tenantId).query('SELECT directory_id FROM scim_users')), [b.directoryId]);
  });

  it('several directories › exactly those', async () => {
    assert.deepEqual(await directoriesOfUsers(db.forDirectories([a, b]).query('SELECT directory_id FROM scim_users')), [a.directoryId, b.directoryId].sort());
  });

  it('a transaction rolled back after changing scope › the next statement on the same connection runs in its own scope', async () => {
    // One pooled connection: it is given a's scope, then b's inside a transaction that rolls back
    // (which undoes that setting too); a statement of b's must still see b's rows, not a's.
    await db.forDirectory(a).query('SELECT 1');
    await assert.rejects(
      db.forDirectory(b).transaction(async (tx) => {
        await db.forDirectory(b).query('SELECT 1', [], tx);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.deepEqual(await directoriesOfUsers(db.forDirectory(b).query('SELECT directory_id FROM scim_users')), [b.directoryId]);
  });

  it('scope changes on one connection › the setting is prepared once, and a statement failing after it leaves the next one its own scope', async () => {
    const own = createDatabase({ poolMax: 1 });
    try {
      // The connection's first statement: the setting is parsed and runs, the statement fails.
      await assert.rejects(own.forDirectory(a).query('SELECT * FROM no_such_table'), (err: { code?: string }) => err.code === '42P01');
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(await directoriesOfUsers(own.forDirectory(b).query('SELECT directory_id FROM scim_users')), [b.directoryId]);
        assert.deepEqual(await directoriesOfUsers(own.forDirectory(a).query('SELECT directory_id FROM scim_users')), [a.directoryId]);
      }
      const settings = await own.forDirectory(b).query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT set_config(%'`);
      assert.equal(settings.length, 1, 'the scope setting is one prepared statement of the connection');
    } finally {
      await own.close();
    }
  });

  it('a model query outside any transaction › sees nothing and writes nothing', async () => {
    const operator = db.acrossTenants();
    const { models } = operator;
    // The one pooled connection now has the operator's scope: a model call without a transaction must drop it.
    const [{ n }] = await operator.query<{ n: number }>('SELECT count(*)::int AS n FROM directories');
    assert.ok(n >= 3);

    assert.equal(await models.Directory.count(), 0);
    assert.deepEqual(await models.ApiKey.findAll({ where: { directoryId: a.directoryId } }), []);
    await assert.rejects(models.AuditExport.create({ id: newId(), tenantId: a.tenantId, fromTime: new Date(0), toTime: new Date() }), refusedByPolicy);
    assert.deepEqual(await models.ApiKey.update({ revokedAt: new Date() }, { where: { directoryId: a.directoryId } }), [0]);
    assert.equal(await models.ApiKey.destroy({ where: { directoryId: a.directoryId } }), 0);

    // The same calls in an executor's transaction see its scope's rows.
    // This file's directories only: suites running beside it add their own meanwhile.
    const ours = { tenantId: [a.tenantId, b.tenantId] };
    assert.equal(await operator.transaction((transaction) => models.Directory.count({ where: ours, transaction })), 3);
    assert.equal(await db.forTenant(a.tenantId).transaction((transaction) => models.Directory.count({ transaction })), 2);
    const keys = await db.forDirectory(a).transaction((transaction) => models.ApiKey.findAll({ where: { directoryId: a.directoryId }, transaction }));
    assert.deepEqual(
      keys.map((k) => [k.id, k.revokedAt]),
      [[a.keyId, null]],
      'the key the unscoped update tried to revoke',
    );
  });

  it("a model call in a transaction opened by one directory's executor › sees and changes none of another directory's api keys", async () => {
    const { models } = db.acrossTenants();
    const others = [aSibling.directoryId, b.directoryId];
    const seen = await db.forDirectory(a).transaction(async (transaction) => {
      // A statement of another executor in the same transaction puts its own scope on the
      // connection; the model call after it must run in the transaction's again.
      await db.acrossTenants().query('SELECT 1', [], transaction);
      return models.ApiKey.findAll({ transaction });
    });
    assert.deepEqual(
      seen.map((k) => [k.id, k.directoryId]),
      [[a.keyId, a.directoryId]],
    );
    const [revoked] = await db
      .forDirectory(a)
      .transaction((transaction) => models.ApiKey.update({ revokedAt: new Date() }, { where: { directoryId: others }, transaction }));
    assert.equal(revoked, 0);
    for (const d of [aSibling, b]) assert.equal((await t.repos.operator.keys.resolve(d.token))?.directoryId, d.directoryId);
  });

  it('a model call in a transaction no executor opened › sees nothing, whatever scope the connection had', async () => {
    const operator = db.acrossTenants();
    const { models } = operator;
    // The one pooled connection now has the operator's scope, which sees every key.
    assert.ok((await operator.query('SELECT id FROM api_keys')).length >= 3);
    const seen = await db.sequelize.transaction((transaction) => models.ApiKey.findAll({ transaction }));
    assert.deepEqual(seen, []);
  });

  it('a scope that is not an id › refused before any statement', async () => {
    assert.throws(() => db.forDirectory({ directoryId: "x' OR true --" }), /not an id/);
  });
});
