/**
 * The platform through PgBouncer in transaction mode (DATABASE_POOL_MODE=transaction): a private
 * pgbouncer with two server connections, so the clients below share them, statement by statement.
 * Row-level security must hold as it does on direct sessions (test/db/row-level-security.test.ts):
 * no role or scope outlives its transaction, an unscoped statement sees nothing, a rollback keeps
 * nothing; the isolation walk and a SCIM smoke run through it; the auth-change listener, which
 * needs a session, works over DATABASE_DIRECT_URL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import request from 'supertest';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { newId } from '../../shared/ids';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, type TestDirectory } from '../support/factories';
import { isolationWalk } from '../support/isolation-walk';
import { startPgBouncer, type PrivatePgBouncer } from '../support/pgbouncer';
import { createUser, eventsOf, filterQuery, type Scim, typesFor } from '../support/scim-helpers';

const throughBouncer = (bouncer: PrivatePgBouncer, poolMax = 3): Database => createDatabase({ url: bouncer.url, poolMode: 'transaction', poolMax });

describe('PgBouncer, transaction mode › row-level security', () => {
  let bouncer: PrivatePgBouncer;
  let t: TestApp;
  let db: Database;
  let other: Database;
  let plain: Client;
  let a: TestDirectory;
  let aSibling: TestDirectory;
  let b: TestDirectory;
  before(async () => {
    bouncer = await startPgBouncer({ poolSize: 2 });
    t = makeTestApp();
    // Two processes' pools (six client connections) on PgBouncer's two server connections.
    db = throughBouncer(bouncer);
    other = throughBouncer(bouncer);
    // A plain client through PgBouncer: it sees whatever a server connection was left with.
    plain = new Client({ connectionString: bouncer.url });
    await plain.connect();
    a = await makeDirectory(t.app);
    aSibling = await makeDirectory(t.app, { tenantId: a.tenantId });
    b = await makeDirectory(t.app);
    const scim = (d: TestDirectory): Scim => scimClient(t.app, d.token);
    for (const d of [a, aSibling, b]) for (let i = 0; i < 2; i++) await createUser(scim(d));
  });
  after(async () => {
    await plain?.end();
    await db?.close();
    await other?.close();
    await t?.close();
    await bouncer?.close();
  });

  const refusedByPolicy = (err: { code?: string; parent?: { code?: string } }) => (err.parent?.code ?? err.code) === '42501';
  const directoriesOfUsers = async (rows: Promise<{ directory_id: string }[]>) => [...new Set((await rows).map((r) => r.directory_id))].sort();
  /** What a server connection carries between transactions, as a plain client finds it. */
  const leftover = async () =>
    (
      await plain.query<{ role: string; directories: string; tenants: string; bypass: string }>(
        `SELECT current_user AS role, coalesce(current_setting('scim.directories', true), '') AS directories,
                coalesce(current_setting('scim.tenants', true), '') AS tenants, coalesce(current_setting('scim.bypass', true), '') AS bypass`,
      )
    ).rows[0];
  const CLEAN = { role: 'postgres', directories: '', tenants: '', bypass: '' };

  it('a statement alone › runs as scim_app in its scope, and its server connection is left with neither', async () => {
    const [row] = await db
      .forDirectory(a)
      .query<{ current_user: string; directories: string }>(`SELECT current_user, current_setting('scim.directories') AS directories`);
    assert.deepEqual(row, { current_user: 'scim_app', directories: a.directoryId });
    for (let i = 0; i < 4; i++) assert.deepEqual(await leftover(), CLEAN);
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
      refusedByPolicy,
    );
    assert.equal(await db.forDirectory(a).exec('UPDATE scim_users SET version = version + 1 WHERE directory_id = $1', [b.directoryId]), 0);
  });

  it("a tenant scope › all of that tenant's directories and nothing of another tenant; several directories › exactly those", async () => {
    assert.deepEqual(
      await directoriesOfUsers(db.forTenant(a.tenantId).query('SELECT directory_id FROM scim_users')),
      [a.directoryId, aSibling.directoryId].sort(),
    );
    assert.deepEqual(await directoriesOfUsers(db.forTenant(b.tenantId).query('SELECT directory_id FROM scim_users')), [b.directoryId]);
    assert.deepEqual(await directoriesOfUsers(db.forDirectories([a, b]).query('SELECT directory_id FROM scim_users')), [a.directoryId, b.directoryId].sort());
  });

  it('two clients interleaving on the same server connections › each sees only its own scope, and nothing is left behind', async () => {
    type Seen = { directory_id: string; pid: number }[];
    const read = (sql: Database, d: TestDirectory) =>
      sql.forDirectory(d).query<{ directory_id: string; pid: number }>('SELECT directory_id, pg_backend_pid() AS pid FROM scim_users');
    // A transaction holds its server connection across awaits; the other client's statements
    // meanwhile take the other one, then the one this transaction gave back.
    const inTransaction = (sql: Database, d: TestDirectory) =>
      sql.forDirectory(d).transaction(async (tx) => {
        const first = await sql.forDirectory(d).query<Seen[number]>('SELECT directory_id, pg_backend_pid() AS pid FROM scim_users', [], tx);
        await delay(2);
        const second = await sql.forDirectory(d).query<Seen[number]>('SELECT directory_id, pg_backend_pid() AS pid FROM scim_users', [], tx);
        return [...first, ...second];
      });
    const pids = { a: new Set<number>(), b: new Set<number>() };
    for (let round = 0; round < 30; round++) {
      const [ofA, ofB, ofATx, ofBTx, left] = await Promise.all([read(db, a), read(other, b), inTransaction(db, a), inTransaction(other, b), leftover()]);
      for (const [rows, d, name] of [
        [[...ofA, ...ofATx], a, 'a'],
        [[...ofB, ...ofBTx], b, 'b'],
      ] as const) {
        assert.deepEqual([...new Set(rows.map((r) => r.directory_id))], [d.directoryId], `round ${round}: ${name} saw another scope`);
        for (const r of rows) pids[name].add(r.pid);
      }
      assert.deepEqual(left, CLEAN, `round ${round}: a server connection kept a role or scope`);
    }
    assert.ok(
      [...pids.a].some((pid) => pids.b.has(pid)),
      `the two clients never shared a server connection (a: ${[...pids.a]}, b: ${[...pids.b]}): the test proves nothing`,
    );
  });

  it('an unscoped statement › sees nothing and writes nothing: a model call outside any transaction, or in one no executor opened', async () => {
    const { models } = db.acrossTenants();
    assert.ok((await db.acrossTenants().query('SELECT id FROM directories')).length >= 3);
    assert.equal(await models.Directory.count(), 0);
    assert.deepEqual(await models.ApiKey.findAll({ where: { directoryId: a.directoryId } }), []);
    await assert.rejects(models.AuditExport.create({ id: newId(), tenantId: a.tenantId, fromTime: new Date(0), toTime: new Date() }), refusedByPolicy);
    assert.deepEqual(await models.ApiKey.update({ revokedAt: new Date() }, { where: { directoryId: a.directoryId } }), [0]);
    assert.deepEqual(await db.sequelize.transaction((transaction) => models.ApiKey.findAll({ transaction })), []);
    // The same model calls in an executor's transaction see its scope.
    assert.equal(await db.forTenant(a.tenantId).transaction((transaction) => models.Directory.count({ transaction })), 2);
    assert.deepEqual(await leftover(), CLEAN);
  });

  it("a model call after another executor's statement in the same transaction › runs in the transaction's scope again", async () => {
    const { models } = db.acrossTenants();
    const seen = await db.forDirectory(a).transaction(async (transaction) => {
      await db.acrossTenants().query('SELECT 1', [], transaction);
      return models.ApiKey.findAll({ transaction });
    });
    assert.deepEqual(
      seen.map((k) => [k.id, k.directoryId]),
      [[a.keyId, a.directoryId]],
    );
  });

  it('a transaction rolled back › leaves neither its writes nor its scope behind', async () => {
    const { models } = db.acrossTenants();
    const exportId = newId();
    const versions = () => db.forDirectory(a).query<{ id: string; version: number }>('SELECT id, version FROM scim_users ORDER BY id');
    const before = await versions();
    await assert.rejects(
      db.forTenant(a.tenantId).transaction(async (transaction) => {
        await models.AuditExport.create({ id: exportId, tenantId: a.tenantId, fromTime: new Date(0), toTime: new Date() }, { transaction });
        await db.forDirectory(a).exec('UPDATE scim_users SET version = version + 1', [], transaction);
        assert.ok(await models.AuditExport.findByPk(exportId, { transaction }), 'visible inside its transaction');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await db.acrossTenants().transaction((transaction) => models.AuditExport.findByPk(exportId, { transaction })), null);
    assert.deepEqual(await versions(), before);
    for (let i = 0; i < 4; i++) assert.deepEqual(await leftover(), CLEAN);
  });
});

isolationWalk('PgBouncer, transaction mode › isolation between tenants and directories', async () => {
  const bouncer = await startPgBouncer({ poolSize: 2 });
  const app = makeTestApp({ db: throughBouncer(bouncer, 5) });
  return {
    ...app,
    close: async () => {
      await app.close();
      await bouncer.close();
    },
  };
});

describe('PgBouncer, transaction mode › the API through it', () => {
  let bouncer: PrivatePgBouncer;
  let t: TestApp;
  before(async () => {
    bouncer = await startPgBouncer({ poolSize: 2 });
    // The app's statements through PgBouncer; its auth-change listener on DATABASE_DIRECT_URL.
    t = makeTestApp({ db: throughBouncer(bouncer, 5) });
    await delay(300); // the listener connected: keys are cached only while it listens
  });
  after(async () => {
    await t?.close();
    await bouncer?.close();
  });

  it('users and groups › created, read, filtered and patched, with their events in the feed', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const user = await createUser(scim);
    const second = await createUser(scim);
    const read = await scim.get(`/Users/${user.id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.userName, user.userName);
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${user.userName}"`)}`);
    assert.equal(found.status, 200);
    assert.deepEqual(
      found.body.Resources.map((r: { id: string }) => r.id),
      [user.id],
    );
    const patched = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'active', value: false }));
    assert.equal(patched.status, 200);
    assert.equal(patched.body.active, false);

    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `Bouncers ${randomUUID()}`, members: [{ value: user.id }] });
    assert.equal(group.status, 201);
    const added = await scim.patch(`/Groups/${group.body.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: second.id }] }));
    assert.equal(added.status, 204);
    const members = await scim.get(`/Groups/${group.body.id}`);
    assert.deepEqual(members.body.members.map((m: { value: string }) => m.value).sort(), [user.id, second.id].sort());

    const events = await eventsOf(t.app, dir, (e) => typesFor(e, group.body.id).includes('group.user_added'));
    assert.deepEqual(typesFor(events, user.id), ['user.created', 'user.deactivated']);
    assert.deepEqual(typesFor(events, group.body.id), ['group.created', 'group.user_added', 'group.user_added']);
  });

  it('a revoked key › refused on the very next request (the listener on the direct URL heard the change)', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    assert.equal((await scim.get('/Users?count=1')).status, 200);
    assert.equal((await scim.get('/Users?count=1')).status, 200);
    assert.equal((await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/keys/${dir.keyId}`))).status, 204);
    const refused = await scim.get('/Users?count=1');
    assert.equal(refused.status, 401);
  });
});
