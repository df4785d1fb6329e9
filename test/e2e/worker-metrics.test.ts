import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { METRICS } from '../../shared/telemetry/metrics';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis';
import { logLines, spawnEntry, waitForStatus, type Spawned } from './processes';

/** Worker processes here use a short drain bound so a stuck shutdown shows within the test. */
const DRAIN_TIMEOUT_MS = 3_000;

async function startWorkerProcess(redis: PrivateRedis, database: PrivateDatabase, env: Record<string, string>): Promise<{ worker: Spawned; base: string }> {
  const port = await freePort();
  const worker = spawnEntry('workers/main.ts', {
    ...env,
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    WORKER_METRICS_PORT: String(port),
    WORKER_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
    OTEL_SDK_DISABLED: 'true',
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/readyz`, 200, 30_000, worker);
  return { worker, base };
}

/**
 * A suite's worker process on its own Redis, started in before() and stopped in after(). The
 * accessors read what before() set, so tests call them inside `it`, not at definition time.
 */
function workerOnPrivateRedis(env: Record<string, string> = {}) {
  let redis: PrivateRedis | undefined;
  let database: PrivateDatabase | undefined;
  let started: { worker: Spawned; base: string } | undefined;
  before(async () => {
    [redis, database] = await Promise.all([startPrivateRedis(), createPrivateDatabase('worker_metrics')]);
    started = await startWorkerProcess(redis, database, env);
  });
  after(async () => {
    await started?.worker.kill();
    await Promise.all([redis?.close(), database?.drop()]);
  });
  return {
    worker: () => started!.worker,
    base: () => started!.base,
    redis: () => redis!,
  };
}

/** The nice value of each thread of a process (the 19th field of /proc/<pid>/task/<tid>/stat). */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('worker process › metrics server', () => {
  // Lower than this test process, whatever its own priority: the worker must lower itself.
  const nice = Math.min(19, os.getPriority() + 5);
  const { worker, base } = workerOnPrivateRedis({ WORKER_NICE: String(nice) });

  it('CPU priority › WORKER_NICE › every thread of the process runs at it', { skip: process.platform !== 'linux' }, () => {
    const nices = threadNices(worker().child.pid!);
    assert.ok(nices.length > 1, 'V8 and libuv threads are there too');
    assert.deepEqual(new Set(nices), new Set([nice]));
  });

  it('GET /healthz, /readyz › worker running › 200 ok and ready with both checks', async () => {
    const health = await fetch(`${base()}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${base()}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('GET /metrics › worker running › Prometheus text with the delivery metrics and process metrics', async () => {
    const res = await fetch(`${base()}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, new RegExp(`^# TYPE ${METRICS.deliveries} counter$`, 'm'));
    assert.match(text, new RegExp(`^# TYPE ${METRICS.deliveryLag} histogram$`, 'm'));
    assert.match(text, /^process_resident_memory_bytes \d+/m);
  });

  it('other paths and methods › 404 and 405', async () => {
    assert.equal((await fetch(`${base()}/nope`)).status, 404);
    assert.equal((await fetch(`${base()}/metrics`, { method: 'POST' })).status, 405);
  });

  it('SIGTERM › idle worker › drains and exits 0 well within the bound, metrics port released', async () => {
    const signalledAt = Date.now();
    worker().child.kill('SIGTERM');
    const { code, signal } = await worker().exited(DRAIN_TIMEOUT_MS + 5_000);
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.ok(Date.now() - signalledAt < DRAIN_TIMEOUT_MS, 'no job was running: no need to wait for the deadline');
    assert.deepEqual(
      logLines(worker().output()).filter((l) => l.level === 'error' || l.level === 'fatal'),
      [],
    );
    await assert.rejects(fetch(`${base()}/healthz`), 'the metrics server is closed');
  });
});

describe('worker process › Redis outage', () => {
  const { worker, base, redis } = workerOnPrivateRedis();

  it('GET /readyz › Redis stopped › 503 naming redis, postgres ok, liveness still 200', async () => {
    await redis().stop();
    try {
      const down = await fetch(`${base()}/readyz`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as { checks: Record<string, string> };
      assert.equal(body.checks.postgres, 'ok');
      assert.notEqual(body.checks.redis, 'ok');
      assert.equal((await fetch(`${base()}/healthz`)).status, 200, 'liveness does not depend on Redis');
    } finally {
      await redis().start();
    }
  });

  it('GET /readyz › Redis back › 200 again', async () => {
    await waitForStatus(`${base()}/readyz`, 200, 20_000, worker());
  });

  it('SIGTERM › right after the Redis restart › the process still exits, within the drain bound', async () => {
    // BullMQ's Worker.close() can hang while its connection is in reconnect backoff; the
    // deadline in workers/main.ts must end the process anyway.
    const signalledAt = Date.now();
    worker().child.kill('SIGTERM');
    const { signal } = await worker().exited(DRAIN_TIMEOUT_MS + 5_000);
    assert.equal(signal, null, 'it exited by itself, not killed');
    assert.ok(Date.now() - signalledAt < DRAIN_TIMEOUT_MS + 2_000);
  });
});
