/**
 * Creates that arrive together share one statement, whatever directories they come from
 * (shared/db/repositories/resource-inserts.ts). Batched or not, each request must get exactly
 * its own outcome: its own row, a 409 when its value is taken, its own error when it fails, and
 * its own event in its own directory.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { outboxRow } from '../../shared/db/outbox';
import { UserRepository } from '../../shared/db/repositories/users';
import type { DirectoryScope } from '../../shared/db/repositories/scope';
import { newId } from '../../shared/ids';
import { ScimError } from '../../shared/scim/errors';
import { makeTestApp, type TestApp } from '../support/app';
import { makeDirectory, scimClient, USER_SCHEMA } from '../support/factories';
import { filterQuery, freshDirectory } from '../support/scim-helpers';
import { countStatements } from '../support/statements';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

const MARKER = 'INSERT INTO scim_users';
const scopeOf = (dir: { tenantId: string; directoryId: string }) => ({ tenantId: dir.tenantId, directoryId: dir.directoryId }) as DirectoryScope;
const userData = (userName: string) => ({ schemas: [USER_SCHEMA], userName, externalId: `ext-${userName}`, displayName: userName, active: true });

/** A create as UserService makes it: the user and its user.created event in one statement. */
function create(scope: DirectoryScope, userName: string) {
  const id = newId();
  const data = userData(userName);
  const event = outboxRow({
    tenantId: scope.tenantId,
    directoryId: scope.directoryId,
    type: 'user.created',
    resourceType: 'User',
    resourceId: id,
    actor: 'test:create-batching',
    data: { resource: { id, userName } },
  });
  return { id, promise: new UserRepository(t.db, scope).insert(id, data, undefined, { event }) };
}

async function eventsOf(resourceIds: readonly string[]) {
  return t.db
    .acrossTenants()
    .query<{ resource_id: string; tenant_id: string; directory_id: string; type: string }>(
      `SELECT resource_id, tenant_id, directory_id, type FROM events WHERE resource_id = ANY ($1::uuid[])`,
      [resourceIds],
    );
}

describe('creates batched across requests', () => {
  it('30 creates in one turn from three directories of two tenants › one statement; each gets its own row and its own event', async () => {
    const first = await freshDirectory(t.app);
    const sibling = await makeDirectory(t.app, { tenantId: first.dir.tenantId });
    const dirs = [first, { dir: sibling, scim: scimClient(t.app, sibling.token) }, await freshDirectory(t.app)];
    const scopes = dirs.map((d) => scopeOf(d.dir));
    const wanted = Array.from({ length: 30 }, (_, i) => ({ scope: scopes[i % 3], userName: `batched-${i}-${randomUUID()}@contoso.example` }));
    let made: (ReturnType<typeof create> & (typeof wanted)[number])[] = [];
    let rows: { id: string; data: Record<string, unknown> }[] = [];
    const statements = await countStatements(t.db, MARKER, async () => {
      made = wanted.map((w) => ({ ...w, ...create(w.scope, w.userName) }));
      rows = await Promise.all(made.map((m) => m.promise));
    });
    assert.equal(statements, 1, 'the 30 creates of one turn share one statement');
    made.forEach((m, i) => {
      assert.equal(rows[i].id, m.id, 'each create gets its own row back');
      assert.equal(rows[i].data.userName, m.userName);
    });
    const events = await eventsOf(made.map((m) => m.id));
    assert.equal(events.length, 30, 'one event per create');
    for (const e of events) {
      const m = made.find((x) => x.id === e.resource_id)!;
      assert.deepEqual(
        [e.type, e.directory_id, e.tenant_id],
        ['user.created', m.scope.directoryId, m.scope.tenantId],
        'in the directory and tenant of its own create',
      );
    }
    for (const [i, d] of dirs.entries()) {
      const list = (await d.scim.get(`/Users?count=100`).expect(200)).body as { totalResults: number; Resources: { id: string }[] };
      assert.equal(list.totalResults, 10, 'each directory counts its own ten');
      assert.deepEqual(
        list.Resources.map((r) => r.id).sort(),
        made
          .filter((m) => m.scope === scopes[i])
          .map((m) => m.id)
          .sort(),
        'and lists only them',
      );
    }
  });

  it('one userName twice in a turn (two cases), and once more in another directory › the first stored, the second 409 uniqueness; the others unaffected', async () => {
    const [a, b] = await Promise.all([freshDirectory(t.app), freshDirectory(t.app)]);
    const name = `twice-${randomUUID()}@contoso.example`;
    const calls = [
      create(scopeOf(a.dir), name),
      create(scopeOf(a.dir), name.toUpperCase()),
      create(scopeOf(b.dir), name),
      create(scopeOf(a.dir), `other-${name}`),
    ];
    const outcomes = await Promise.allSettled(calls.map((c) => c.promise));
    assert.equal(outcomes[0].status, 'fulfilled');
    assert.equal(outcomes[1].status, 'rejected');
    const error = (outcomes[1] as PromiseRejectedResult).reason as ScimError;
    assert.ok(error instanceof ScimError, String(error));
    assert.deepEqual([error.status, error.scimType], [409, 'uniqueness']);
    assert.equal(outcomes[2].status, 'fulfilled', 'the same userName in another directory is its own');
    assert.equal(outcomes[3].status, 'fulfilled');
    const events = await eventsOf(calls.map((c) => c.id));
    assert.deepEqual(events.map((e) => e.resource_id).sort(), [calls[0].id, calls[2].id, calls[3].id].sort(), 'no event for the refused create');
  });

  it('a batch one create of which fails (its directory does not exist) › that create alone fails; the others are stored', async () => {
    const { dir, scim } = await freshDirectory(t.app);
    const gone = { tenantId: dir.tenantId, directoryId: randomUUID() } as DirectoryScope;
    const names = Array.from({ length: 5 }, (_, i) => `survivor-${i}-${randomUUID()}@contoso.example`);
    const good = names.map((n) => create(scopeOf(dir), n));
    const bad = create(gone, `orphan-${randomUUID()}@contoso.example`);
    const [badOutcome, ...goodOutcomes] = await Promise.allSettled([bad.promise, ...good.map((g) => g.promise)]);
    assert.equal(badOutcome.status, 'rejected');
    assert.match(String((badOutcome as PromiseRejectedResult).reason), /foreign key/);
    assert.deepEqual(
      goodOutcomes.map((o) => o.status),
      names.map(() => 'fulfilled'),
    );
    const found = (await scim.get(`/Users?${filterQuery(`userName eq "${names[3]}"`)}`).expect(200)).body as { totalResults: number };
    assert.equal(found.totalResults, 1);
    assert.equal((await eventsOf([bad.id])).length, 0, 'the failed create wrote no event');
  });

  it('40 POST /Users at once through two directories › every one 201 with its own user; each directory lists its 20', async () => {
    const [a, b] = await Promise.all([freshDirectory(t.app), freshDirectory(t.app)]);
    const names = Array.from({ length: 40 }, (_, i) => `post-${i}-${randomUUID()}@contoso.example`);
    const answers = await Promise.all(names.map((userName, i) => (i % 2 ? b : a).scim.post('/Users', userData(userName)).expect(201)));
    assert.deepEqual(
      answers.map((answer) => answer.body.userName),
      names,
    );
    for (const [k, d] of [a, b].entries()) {
      const list = (await d.scim.get('/Users?count=100').expect(200)).body as { totalResults: number; Resources: { userName: string }[] };
      assert.deepEqual(list.Resources.map((r) => r.userName).sort(), names.filter((_, i) => i % 2 === k).sort());
    }
    const events = await eventsOf(answers.map((x) => x.body.id as string));
    assert.equal(events.length, 40);
  });
});
