import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis';
import { logLines, spawnEntry, waitForStatus, type Spawned } from './processes';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The settings check runs beside the start: its line may follow "worker ready" by a moment. */
async function eventually<T>(read: () => T[], timeoutMs = 5_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = read();
    if (found.length > 0 || Date.now() > deadline) return found;
    await sleep(50);
  }
}

describe('worker process › Redis at start and down', () => {
  let redis: PrivateRedis;
  let database: PrivateDatabase;
  let worker: Spawned;
  before(async () => {
    [redis, database] = await Promise.all([startPrivateRedis(), createPrivateDatabase('redis_checks')]);
    const port = await freePort();
    worker = spawnEntry('workers/main.ts', { DATABASE_URL: database.url, REDIS_URL: redis.url, WORKER_METRICS_PORT: String(port), OTEL_SDK_DISABLED: 'true' });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 30_000, worker);
  });
  after(async () => {
    await worker.kill();
    await Promise.all([redis.close(), database.drop()]);
  });

  it('worker › started on a Redis without persistence › one warning saying so; the job sweeper among its processors', async () => {
    const lines = logLines(worker.output());
    const ready = lines.find((l) => l.msg === 'worker ready');
    assert.ok((ready?.processors as string[] | undefined)?.includes('job-sweeper'));
    const warnings = await eventually(() => logLines(worker.output()).filter((l) => Array.isArray(l.problems)));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, 'warn');
    assert.equal((warnings[0].problems as string[]).length, 1, 'persistence only: a fresh Redis does not evict');
  });

  it('api › started on a Redis without persistence › one warning saying so', async () => {
    const port = await freePort();
    const api = spawnEntry('services/api/server.ts', { PORT: String(port), DATABASE_URL: database.url, REDIS_URL: redis.url, OTEL_SDK_DISABLED: 'true' });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 30_000, api);
      const warnings = await eventually(() => logLines(api.output()).filter((l) => Array.isArray(l.problems)));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0].level, 'warn');
    } finally {
      await api.kill();
    }
  });

  it('worker › Redis killed for 4 s › only JSON lines, no raw ioredis text; each connection logs its errors once per interval', async () => {
    const from = worker.output().length;
    await redis.stop();
    await sleep(4000);
    const output = worker.output().slice(from);
    await redis.start();

    assert.doesNotMatch(output, /\[ioredis\]/, 'no "[ioredis] Unhandled error event" text');
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, 'the outage is logged');
    assert.equal(lines.length, logLines(output).length, 'every line is JSON');
    // About a dozen listeners (each connection, queue and BullMQ worker) write one line each within
    // the 10 s interval; unthrottled, every reconnect attempt of every connection would add one.
    const errors = logLines(output).filter((l) => /connection error|worker error/.test(String(l.msg)));
    assert.ok(errors.length > 0);
    assert.ok(errors.every((l) => l.level === 'warn'));
    assert.ok(errors.length <= 20, `${errors.length} error lines in 4 s`);
  });
});
