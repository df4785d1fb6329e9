/**
 * The tenant-bound repositories (webhook endpoints, deliveries, audit exports, the events feed)
 * and a directory's API keys, used directly (no HTTP): what one tenant or directory writes,
 * another one's repositories, bound the same way, cannot read, change or delete. Each case first
 * shows the owner sees the row, so "sees nothing" never passes on an empty table.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TenantRepositories } from '../../shared/db/repositories';
import type { DirectoryRepositories } from '../../shared/db/repositories/directory';
import { encodeCursor } from '../../shared/db/repositories/events';
import { deliveryIdOf, type DirectoryId, type TenantId } from '../../shared/ids';
import { makeTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { makeDirectory, type TestDirectory } from '../support/factories';
import { newId } from '../../shared/ids';

/** Nothing listens there; deliveries to it are only ever read in these tests. */
const HOOK_URL = 'http://127.0.0.1:9/hook';
/** The feed's first position. */
const START = encodeCursor('0', '0');
const ATTEMPT = { startedAt: new Date(), durationMs: 12, statusCode: 200 };

const directoryRepos = (t: TestApp, d: TestDirectory): DirectoryRepositories =>
  t.repos.forDirectory({ tenantId: d.tenantId as TenantId, directoryId: d.directoryId as DirectoryId });

/**
 * An event and its delivery to `endpointId`, in one statement, as the relay leaves them. A
 * pending one is due only in an hour, so no sweeper of a suite running beside this one claims it.
 */
async function eventWithDelivery(t: TestApp, d: TestDirectory, endpointId: string, status: 'pending' | 'dead' = 'pending') {
  const eventId = newId();
  const deliveryId = deliveryIdOf(endpointId, eventId);
  await t.db.acrossTenants().exec(
    `WITH e AS (
       INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, actor, data)
       VALUES ($1, $2, $3, 'user.created', 'User', gen_random_uuid(), 'api_key:test', '{}') RETURNING id, type)
     INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status, next_attempt_at)
     SELECT $4, $2, $5, e.id, e.type, $6, CASE WHEN $6 = 'pending' THEN now() + interval '1 hour' END FROM e`,
    [eventId, d.tenantId, d.directoryId, deliveryId, endpointId, status],
  );
  return { eventId, deliveryId };
}

/** A user.deleted event of the directory, written through its outbox as a SCIM delete writes it. */
async function appendEvent(t: TestApp, d: TestDirectory): Promise<string> {
  const repos = directoryRepos(t, d);
  const resourceId = randomUUID();
  await repos.transaction((tx) => repos.events('test').append(tx, { type: 'user.deleted', resourceType: 'User', resourceId, data: {} }));
  return resourceId;
}

/** Every NDJSON line of the tenant's audit export over the last and the next hour. */
async function exportLines(tenant: TenantRepositories): Promise<string[]> {
  const rows = tenant.exportRows;
  const range = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000) };
  return rows.snapshot(async (tx) => {
    const lines: string[] = [];
    for await (const batch of rows.lineBatches(tx, range, 100)) lines.push(...batch);
    return lines;
  });
}

describe('repositories › bound to one tenant', () => {
  let t: TestApp;
  let aDir: TestDirectory;
  let a: TenantRepositories;
  let b: TenantRepositories;
  before(async () => {
    t = makeTestApp();
    aDir = await makeDirectory(t.app);
    const bDir = await makeDirectory(t.app);
    a = t.repos.forTenant(aDir.tenantId as TenantId);
    b = t.repos.forTenant(bDir.tenantId as TenantId);
  });
  after(() => t.close());

  const endpointOfA = (events: ('user.created' | 'user.deleted')[] | null = ['user.created']) =>
    a.webhooks.createEndpoint({ url: HOOK_URL, events, description: 'vendor app' });

  it('webhook endpoints › created by one tenant › listed and found there; another tenant sees nothing', async () => {
    const { endpoint } = await endpointOfA();
    assert.ok((await a.webhooks.listEndpoints()).some((e) => e.id === endpoint.id));
    assert.equal((await a.webhooks.getEndpoint(endpoint.id))?.url, HOOK_URL);
    assert.deepEqual(await b.webhooks.listEndpoints(), []);
    assert.equal(await b.webhooks.getEndpoint(endpoint.id), undefined);
  });

  it('webhook endpoints › another tenant updates, rotates, deletes or disables one › nothing of it changes', async () => {
    const { endpoint, secret } = await endpointOfA();
    const { deliveryId } = await eventWithDelivery(t, aDir, endpoint.id);
    const before = await a.webhooks.getEndpoint(endpoint.id);

    assert.equal(await b.webhooks.updateEndpoint(endpoint.id, { url: 'http://127.0.0.1:9/elsewhere', status: 'disabled' }), undefined);
    assert.equal(await b.webhooks.rotateSecret(endpoint.id, 3600), undefined);
    assert.equal(await b.webhooks.noteEndpointFailure(endpoint.id, { failingAfterMs: 0, disableAfterMs: 0 }), undefined);
    assert.equal(await b.webhooks.disableEndpoint(endpoint.id, 'gone'), false);
    assert.equal(await b.webhooks.deleteEndpoint(endpoint.id), false);

    // updatedAt is in the view, so any write to the row shows here.
    assert.deepEqual(await a.webhooks.getEndpoint(endpoint.id), before);
    const target = await a.webhooks.loadDeliveryTarget(deliveryId);
    assert.deepEqual(target?.endpoint.secrets, [secret], 'the secret the owner was given still signs, and alone');
  });

  it('webhook endpoints › another tenant notes a success on a failing one › it stays failing', async () => {
    const { endpoint } = await endpointOfA();
    assert.equal(await a.webhooks.noteEndpointFailure(endpoint.id, { failingAfterMs: 0, disableAfterMs: 3_600_000 }), 'failing');
    const failing = await a.webhooks.getEndpoint(endpoint.id);

    await b.webhooks.noteEndpointSuccess(endpoint.id);
    assert.deepEqual(await a.webhooks.getEndpoint(endpoint.id), failing);

    await a.webhooks.noteEndpointSuccess(endpoint.id);
    assert.equal((await a.webhooks.getEndpoint(endpoint.id))?.status, 'active', 'the same call by the owner does change it');
  });

  it('deliveries › the log, one delivery and its replay reference › another tenant sees nothing', async () => {
    const { endpoint } = await endpointOfA();
    const { deliveryId } = await eventWithDelivery(t, aDir, endpoint.id);

    assert.deepEqual(
      (await a.webhooks.listDeliveries(endpoint.id, { limit: 10 })).deliveries.map((d) => d.id),
      [deliveryId],
    );
    assert.equal((await a.webhooks.getDelivery(endpoint.id, deliveryId))?.id, deliveryId);
    assert.equal((await a.webhooks.deliveryRef(endpoint.id, deliveryId))?.deliveryId, deliveryId);

    assert.deepEqual(await b.webhooks.listDeliveries(endpoint.id, { limit: 10 }), { deliveries: [], next: null, hasMore: false });
    assert.equal(await b.webhooks.getDelivery(endpoint.id, deliveryId), undefined);
    assert.equal(await b.webhooks.deliveryRef(endpoint.id, deliveryId), undefined);
    assert.equal(await b.webhooks.loadDeliveryTarget(deliveryId), undefined);
  });

  it('deliveries › dead letters › another tenant lists none, and restarting them changes nothing', async () => {
    const { endpoint } = await endpointOfA();
    const { deliveryId } = await eventWithDelivery(t, aDir, endpoint.id, 'dead');
    assert.deepEqual(
      (await a.webhooks.deadLetters(endpoint.id, { limit: 10 })).map((r) => r.deliveryId),
      [deliveryId],
    );
    assert.deepEqual(await b.webhooks.deadLetters(endpoint.id, { limit: 10 }), []);

    await b.webhooks.restartDeliveries([deliveryId]);
    assert.equal((await a.webhooks.getDelivery(endpoint.id, deliveryId))?.status, 'dead');
    assert.deepEqual(
      (await a.webhooks.deadLetters(endpoint.id, { limit: 10 })).map((r) => r.deliveryId),
      [deliveryId],
    );
  });

  it('deliveries › another tenant marks one dead or records an attempt › nothing changes', async () => {
    const { endpoint } = await endpointOfA();
    const { deliveryId } = await eventWithDelivery(t, aDir, endpoint.id);
    const before = await a.webhooks.getDelivery(endpoint.id, deliveryId);

    await b.webhooks.markDead(deliveryId, 'endpoint disabled');
    assert.equal(await b.webhooks.recordAttempt(deliveryId, ATTEMPT, { status: 'delivered' }), undefined);
    assert.deepEqual(await a.webhooks.getDelivery(endpoint.id, deliveryId), before);
    assert.equal(before?.status, 'pending');
    assert.deepEqual(before?.attempts, []);

    // The owner's attempt is the first: the other tenant's left no count behind.
    assert.equal(await a.webhooks.recordAttempt(deliveryId, ATTEMPT, { status: 'delivered' }), 1);
  });

  it('deliveries › replay from the events feed › another tenant finds and creates none', async () => {
    const { endpoint } = await endpointOfA(['user.deleted']);
    await appendEvent(t, aDir);
    // The feed stops below the oldest open transaction on the server (another suite's).
    const own = await eventually('the event past the commit fence', async () => {
      const page = await a.webhooks.deliveriesAfter(endpoint.id, { after: START, limit: 10 });
      return page.refs.length > 0 ? page : undefined;
    });

    assert.deepEqual(await b.webhooks.deliveriesAfter(endpoint.id, { after: START, limit: 10 }), { refs: [], next: undefined });
    assert.deepEqual(
      (await a.webhooks.listDeliveries(endpoint.id, { limit: 10 })).deliveries.map((d) => d.id).sort(),
      own.refs.map((r) => r.deliveryId).sort(),
      'only the deliveries the owner created',
    );
  });

  it("test events › another tenant asks for one to this tenant's endpoint › none written; the owner's is its endpoint's webhook.test delivery", async () => {
    const { endpoint } = await endpointOfA(null);

    assert.equal(await b.webhooks.createTestDelivery(endpoint.id, { actor: 'operator', data: {} }), undefined);
    assert.deepEqual((await a.webhooks.listDeliveries(endpoint.id, { limit: 10 })).deliveries, []);

    const ref = await a.webhooks.createTestDelivery(endpoint.id, { actor: 'operator', data: {} });
    assert.deepEqual(
      (await a.webhooks.listDeliveries(endpoint.id, { limit: 10 })).deliveries.map((d) => [d.id, d.eventType]),
      [[ref?.deliveryId, 'webhook.test']],
    );
  });

  it('audit exports › created by one tenant › found and listed there; another tenant sees nothing', async () => {
    const created = await a.exports.create({ from: new Date(Date.now() - 3_600_000), to: new Date() });
    assert.equal((await a.exports.find(created.id))?.status, 'queued');
    assert.ok((await a.exports.list(100)).some((e) => e.id === created.id));
    assert.equal(await b.exports.find(created.id), undefined);
    assert.deepEqual(await b.exports.list(100), []);
  });

  it('audit exports › another tenant marks one running, touches it, marks it done or failed › nothing changes', async () => {
    const created = await a.exports.create({ from: new Date(Date.now() - 3_600_000), to: new Date() });
    assert.equal(await a.exports.markRunning(created.id), 1);
    // Read through the owner's scope: the view hides runs and updated_at, which the heartbeat moves.
    const row = () =>
      t.db
        .forTenant(aDir.tenantId)
        .transaction(async (transaction) =>
          (await t.db.forTenant(aDir.tenantId).models.AuditExport.findByPk(created.id, { transaction }))?.get({ plain: true }),
        );
    const before = await row();
    assert.equal(before?.status, 'running');

    assert.equal(await b.exports.markRunning(created.id), 0);
    await b.exports.touch(created.id);
    await b.exports.markDone(created.id, { storageKey: 'elsewhere.ndjson', eventCount: 1, bytes: 1 });
    await b.exports.markFailed(created.id, 'boom', true);
    assert.deepEqual(await row(), before);

    await a.exports.markDone(created.id, { storageKey: 'own.ndjson', eventCount: 0, bytes: 0 });
    assert.equal((await a.exports.find(created.id))?.status, 'done', 'the same call by the owner does change it');
  });

  it("events feed › one tenant's directory writes › its feed and export show it; another tenant sees nothing", async () => {
    const resourceId = await appendEvent(t, aDir);
    const own = await eventually('the event past the commit fence', async () => {
      const page = await a.events({ after: START, limit: 1000 });
      return page.events.find((e) => e.resourceId === resourceId);
    });
    assert.ok((await exportLines(a)).some((line) => line.includes(resourceId)));

    for (const after of [START, own.cursor]) {
      const other = await b.events({ after, limit: 1000 });
      assert.deepEqual(
        other.events.filter((e) => e.tenantId !== b.tenantId),
        [],
      );
    }
    assert.deepEqual(
      (await exportLines(b)).filter((line) => line.includes(aDir.tenantId)),
      [],
    );
  });
});

describe('repositories › API keys bound to one directory', () => {
  let t: TestApp;
  let a: DirectoryRepositories;
  let others: { name: string; repos: DirectoryRepositories }[];
  before(async () => {
    t = makeTestApp();
    const aDir = await makeDirectory(t.app);
    a = directoryRepos(t, aDir);
    // Keys are scoped by directory, not tenant: a sibling directory must see no more than a stranger.
    others = [
      { name: 'a sibling directory of the same tenant', repos: directoryRepos(t, await makeDirectory(t.app, { tenantId: aDir.tenantId })) },
      { name: 'a directory of another tenant', repos: directoryRepos(t, await makeDirectory(t.app)) },
    ];
  });
  after(() => t.close());

  const resolvedDirectory = async (token: string) => (await t.repos.operator.keys.resolve(token))?.directoryId;
  const keyIds = async (repos: DirectoryRepositories) => (await repos.apiKeys.list()).map((k) => k.id);

  it('issue › listed by its directory and resolves to it; another directory neither lists, revokes nor regenerates it', async () => {
    const key = await a.apiKeys.issue('rotation', 'us');
    assert.ok((await keyIds(a)).includes(key.id));
    assert.equal(await resolvedDirectory(key.token), a.scope.directoryId);

    for (const other of others) {
      const own = await keyIds(other.repos);
      assert.equal(own.length, 1, `${other.name} lists only its first key`);
      assert.ok(!own.includes(key.id), `${other.name} lists the key`);
      assert.equal(await other.repos.apiKeys.revoke(key.id), undefined, `${other.name} revoked the key`);
      assert.equal(await other.repos.apiKeys.regenerate(key.id, 'us'), undefined, `${other.name} regenerated the key`);
      assert.deepEqual(await keyIds(other.repos), own, `${other.name} gained a key`);
    }

    assert.equal(await resolvedDirectory(key.token), a.scope.directoryId, 'the key still resolves');
    const [kept] = (await a.apiKeys.list()).filter((k) => k.id === key.id);
    assert.equal(kept.revokedAt, null);
  });

  it('revoke › by its directory › the token no longer resolves', async () => {
    const key = await a.apiKeys.issue('to revoke', 'us');
    assert.equal(await resolvedDirectory(key.token), a.scope.directoryId);
    assert.ok((await a.apiKeys.revoke(key.id))?.revokedAt);
    assert.equal(await resolvedDirectory(key.token), undefined);
    assert.ok((await a.apiKeys.list()).find((k) => k.id === key.id)?.revokedAt, 'listed as revoked');
  });

  it('regenerate › by its directory › a new token under the same name resolves; the old one does not', async () => {
    const old = await a.apiKeys.issue('to regenerate', 'us');
    const fresh = await a.apiKeys.regenerate(old.id, 'us');
    assert.ok(fresh);
    assert.notEqual(fresh.id, old.id);
    assert.notEqual(fresh.token, old.token);
    assert.equal(fresh.name, old.name);
    assert.equal(await resolvedDirectory(fresh.token), a.scope.directoryId);
    assert.equal(await resolvedDirectory(old.token), undefined);
  });
});
