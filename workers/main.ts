import { startTracing, stopTracing } from '../shared/telemetry/tracing';
startTracing('scim-worker');

import { readdirSync } from 'node:fs';
import os from 'node:os';

import { config } from '../shared/config';
import { createDatabase } from '../shared/db/sequelize';
import { checkQueuePrefix } from '../shared/queue/queues';
import { checkRedisServer, createRedis, queuePrefixFor, type RedisClient, redisTarget } from '../shared/queue/redis';
import { repositoriesFor } from '../shared/db/repositories';
import type { Database } from '../shared/db/sequelize';
import { redisCheck } from '../shared/telemetry/health';
import { logger } from '../shared/telemetry/logger';
import { startAuditExport } from './audit-export';
import { startJobSweeper } from './job-sweeper';
import { startEventPartitions } from './event-partitions';
import type { Processor, StartProcessor, WorkerDeps } from './deps';
import { startGroupReconcile } from './group-reconcile';
import { startOutboxRelay } from './outbox-relay';
import { startWebhookDelivery } from './webhook-delivery';
import { startMetricsServer } from './metrics-server';

/** Every queue processor this process runs; each lives in its own file under workers/. */
const PROCESSORS: readonly StartProcessor[] = [
  startAuditExport,
  startGroupReconcile,
  startOutboxRelay,
  startWebhookDelivery,
  startJobSweeper,
  startEventPartitions,
];

/**
 * The worker process: connects to PostgreSQL and Redis, starts the processors, and on SIGTERM
 * stops taking jobs, lets running ones finish, then closes its connections. `close()` is safe
 * to call twice.
 */
export async function startWorker(overrides: Partial<WorkerDeps> & { readonly db?: Database } = {}, processors: readonly StartProcessor[] = PROCESSORS) {
  const db = overrides.db ?? createDatabase({ poolMax: 10 });
  await db.sequelize.authenticate();
  // Only a pool of its own: a database given by the caller is the caller's to open.
  if (!overrides.db) await db.warm();
  const connections: RedisClient[] = [];
  const redisAt = redisTarget(config);
  const redis =
    overrides.redis ??
    (() => {
      const connection = createRedis(redisAt);
      connections.push(connection);
      return connection;
    });
  const { db: _given, ...given } = overrides;
  const settings = overrides.config ?? config;
  const deps: WorkerDeps = { repos: repositoriesFor(db, settings), redis, logger, config: settings, queuePrefix: queuePrefixFor(redisAt), ...given };
  const first = deps.redis();
  // The processors' BullMQ Workers take this prefix: refused here, at start, if a cluster needs a hash tag.
  checkQueuePrefix(first, deps.queuePrefix);
  void checkRedisServer(first, deps.logger);
  const started: Processor[] = [];
  for (const start of processors) started.push(await start(deps));
  logger.info({ processors: started.map((p) => p.name) }, 'worker ready');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all(started.map((p) => p.close()));
      for (const c of connections) c.disconnect();
      if (!overrides.db) await db.close();
    })());
  // What the worker's /readyz checks; the Redis connection is opened on the first probe.
  const checks = [deps.repos.operator.health, redisCheck(deps.redis)];
  return { close, processors: started, checks };
}

/**
 * Lowers this process's CPU priority to `nice` (WORKER_NICE), never raises it. Linux keeps a nice
 * value per thread, so every thread the process has so far is lowered too (V8's and libuv's
 * helpers); threads started later inherit it from the thread that starts them.
 */
function yieldCpu(nice: number): void {
  if (nice <= os.getPriority()) return;
  let threads: string[] = [];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    // Not Linux: the process's priority is all there is.
  }
  try {
    os.setPriority(nice);
    for (const tid of threads) if (os.getPriority(Number(tid)) < nice) os.setPriority(Number(tid), nice);
  } catch (err) {
    logger.warn({ err, nice }, 'could not lower the worker CPU priority (WORKER_NICE)');
  }
}

if (require.main === module) {
  yieldCpu(config.WORKER_NICE);
  startWorker()
    .then(async ({ close, checks }) => {
      const port = config.WORKER_METRICS_PORT;
      const metrics = port > 0 ? await startMetricsServer({ port, checks, logger }) : undefined;
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'worker draining');
        // /readyz turns 503 at once; /metrics and /healthz answer until the jobs are finished.
        metrics?.draining();
        // Bounded: BullMQ's Worker.close() can wait forever when called while its connection is
        // reconnecting (Redis just restarted). Jobs not finished by then are retried as stalled.
        const deadline = setTimeout(() => {
          logger.error({ timeout_ms: config.WORKER_DRAIN_TIMEOUT_MS }, 'worker did not drain in time; exiting');
          process.exit(1);
        }, config.WORKER_DRAIN_TIMEOUT_MS);
        deadline.unref();
        close()
          .then(() => metrics?.close())
          .then(() => stopTracing())
          .then(
            () => process.exit(0),
            (err: unknown) => {
              logger.error({ err }, 'worker shutdown failed');
              process.exit(1);
            },
          );
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    })
    .catch((err: unknown) => {
      logger.fatal({ err }, 'worker failed to start');
      process.exit(1);
    });
}
