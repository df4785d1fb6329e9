import { startTracing, stopTracing } from '../shared/telemetry/tracing';
startTracing('scim-worker');

import type { Worker } from 'bullmq';
import { config } from '../shared/config';
import { createDatabase } from '../shared/db/sequelize';
import { createRedis } from '../shared/queue/redis';
import { logger } from '../shared/telemetry/logger';

/**
 * The worker process: connects to PostgreSQL and Redis, runs the queue processors, and on
 * SIGTERM stops taking jobs, lets running ones finish, then closes its connections.
 * Processors (outbox relay, webhook delivery, group reconciliation, audit export) register here.
 */
export async function startWorker() {
  const db = createDatabase({ poolMax: 5 });
  await db.sequelize.authenticate();
  const redis = createRedis(config.REDIS_URL);
  await redis.ping();
  const workers: Worker[] = [];
  logger.info({ processors: workers.length }, 'worker ready');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await Promise.all(workers.map((w) => w.close()));
      redis.disconnect();
      await db.close();
    })());
  return { close };
}

if (require.main === module) {
  startWorker().then(
    ({ close }) => {
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'worker draining');
        close()
          .then(() => stopTracing())
          .then(() => process.exit(0), (err: unknown) => {
            logger.error({ err }, 'worker shutdown failed');
            process.exit(1);
          });
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (err: unknown) => {
      logger.fatal({ err }, 'worker failed to start');
      process.exit(1);
    },
  );
}
