import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { config } from '../../shared/config';
import { type WebhookDeliveryJob, QUEUES, KEEP_COMPLETED_SECONDS } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Short lock and stall check so a dead worker's job is noticed within about two seconds. */
const LOCK_MS = 1000;
const STALLED_INTERVAL_MS = 500;

/**
 * A worker in another process that takes one job, says so on stdout, and then hangs: it is
 * SIGKILLed mid-job, so it never completes, fails or releases the job's lock.
 */
const HANGING_WORKER = `
  const { Worker } = require('bullmq');
  const url = new URL(process.env.REDIS_URL);
  new Worker(process.env.QUEUE_NAME, async (job) => {
    process.stdout.write(JSON.stringify({ took: job.id }) + '\\n');
    await new Promise(() => {});
  }, {
    connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
    prefix: process.env.QUEUE_PREFIX,
    lockDuration: Number(process.env.LOCK_MS),
    stalledInterval: Number(process.env.STALLED_INTERVAL_MS),
  });
`;

function spawnHangingWorker(prefix: string): { child: ChildProcess; took: Promise<string> } {
  const child = spawn(process.execPath, ['-e', HANGING_WORKER], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: {
      ...process.env,
      REDIS_URL: config.REDIS_URL,
      QUEUE_NAME: QUEUES.webhookDelivery,
      QUEUE_PREFIX: prefix,
      LOCK_MS: String(LOCK_MS),
      STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const took = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child worker did not take the job within 15 s')), 15_000);
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { took: string }).took);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the child worker exited early (${code ?? signal})`));
    });
  });
  took.catch(() => undefined);
  return { child, took };
}

describe('BullMQ worker › killed mid-job', () => {
  let redis: Redis;
  before(() => {
    redis = createRedis(config.REDIS_URL);
  });
  after(() => redis.disconnect());

  it('stalled job › its worker process is SIGKILLed › another worker takes it after the lock expires and completes it exactly once', async () => {
    const prefix = `test-stalled-${process.pid}-${Date.now().toString(36)}`;
    const queue = createQueue(QUEUES.webhookDelivery, { connection: redis, prefix });
    const survivors: Worker<WebhookDeliveryJob>[] = [];
    const connections: Redis[] = [];
    const { child, took } = spawnHangingWorker(prefix);
    try {
      const deliveryId = randomUUID();
      await queue.add('deliver', { deliveryId, tenantId: randomUUID() }, { jobId: deliveryId });

      assert.equal(await took, deliveryId, 'the child worker took our job');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      assert.equal(await queue.getJobState(deliveryId), 'active', 'the dead worker still holds the job');

      // Two surviving workers race for the stalled job; only one may run it.
      const runs: string[] = [];
      const stalled: string[] = [];
      for (const name of ['a', 'b']) {
        const connection = createRedis(config.REDIS_URL);
        connections.push(connection);
        const worker = new Worker<WebhookDeliveryJob>(
          QUEUES.webhookDelivery,
          async (job) => {
            runs.push(`${name}:${job.id}`);
            return 'delivered';
          },
          { connection, prefix, lockDuration: LOCK_MS, stalledInterval: STALLED_INTERVAL_MS, maxStalledCount: 1 },
        );
        worker.on('stalled', (jobId) => stalled.push(jobId));
        worker.on('error', () => undefined);
        survivors.push(worker);
      }

      const deadline = Date.now() + 20_000;
      let state = await queue.getJobState(deliveryId);
      while (state !== 'completed' && state !== 'failed') {
        assert.ok(Date.now() < deadline, `the stalled job finished within 20 s (still ${state})`);
        await sleep(50);
        state = await queue.getJobState(deliveryId);
      }
      assert.equal(state, 'completed');
      // Give a late duplicate every chance to show up: several more stall-check rounds.
      await sleep(4 * STALLED_INTERVAL_MS);

      assert.deepEqual(
        runs.map((r) => r.split(':')[1]),
        [deliveryId],
        'run exactly once by the survivors',
      );
      assert.ok(stalled.includes(deliveryId), 'a survivor noticed the stalled job');
      const job = await queue.getJob(deliveryId);
      assert.ok(job);
      assert.equal(job.returnvalue, 'delivered');
      assert.equal(job.stalledCounter, 1);
      assert.equal('deliveryId' in job.data && job.data.deliveryId, deliveryId);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(survivors.map((w) => w.close()));
      for (const c of connections) c.disconnect();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('createQueue', () => {
  let redis: Redis;
  before(() => {
    redis = createRedis(config.REDIS_URL);
  });
  after(() => redis.disconnect());

  it('createQueue › a completed job added again with its jobId › not run a second time, kept for a day', async () => {
    const prefix = `test-queue-${process.pid}-${Date.now().toString(36)}`;
    const queue = createQueue(QUEUES.webhookDelivery, { connection: redis, prefix });
    const connection = createRedis(config.REDIS_URL);
    const runs: string[] = [];
    const worker = new Worker<WebhookDeliveryJob>(
      QUEUES.webhookDelivery,
      async (job) => {
        runs.push(job.id!);
      },
      { connection, prefix },
    );
    try {
      const deliveryId = randomUUID();
      const data = { deliveryId, tenantId: randomUUID() };
      const job = await queue.add('deliver', data, { jobId: deliveryId });
      assert.deepEqual(job.opts.removeOnComplete, { age: KEEP_COMPLETED_SECONDS, count: 100_000 });
      const deadline = Date.now() + 10_000;
      while ((await queue.getJobState(deliveryId)) !== 'completed') {
        assert.ok(Date.now() < deadline, 'the job completed within 10 s');
        await sleep(20);
      }

      // What the relay does after a failed commit: the same jobId again.
      await queue.addBulk([{ name: 'deliver', data, opts: { jobId: deliveryId } }]);
      await sleep(300);

      assert.deepEqual(runs, [deliveryId]);
      assert.equal(await queue.getJobState(deliveryId), 'completed');
    } finally {
      await worker.close();
      connection.disconnect();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('createQueue › close() twice on a shared connection › both resolve and the connection stays open for its owner', async () => {
    const queue = createQueue(QUEUES.webhookDelivery, { connection: redis, prefix: `test-queue-${process.pid}-close` });
    await queue.waitUntilReady();

    await Promise.all([queue.close(), queue.close()]);
    await queue.close();

    assert.equal(await redis.ping(), 'PONG');
  });
});
