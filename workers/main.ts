import { startTracing, stopTracing } from '../shared/telemetry/tracing';
startTracing('scim-worker');

import { config } from '../shared/config';
import { createDatabase } from '../shared/db/sequelize';
import { createRedis } from '../shared/queue/redis';
import { logger } from '../shared/telemetry/logger';
import type { Processor, StartProcessor, WorkerDeps } from './deps';

/** Every queue processor this process runs; each lives in its own file under workers/. */
const PROCESSORS: readonly StartProcessor[] = [];

/**
 * The worker process: connects to PostgreSQL and Redis, starts the processors, and on SIGTERM
 * stops taking jobs, lets running ones finish, then closes its connections. `close()` is safe
 * to call twice.
 */
export async function startWorker(overrides: Partial<WorkerDeps> = {}, processors: readonly StartProcessor[] = PROCESSORS) {
  const db = overrides.db ?? createDatabase({ poolMax: 10 });
  await db.sequelize.authenticate();
  const connections: ReturnType<typeof createRedis>[] = [];
  const redis = overrides.redis ?? (() => {
    const connection = createRedis(config.REDIS_URL);
    connections.push(connection);
    return connection;
  });
  const deps: WorkerDeps = { db, redis, logger, config, queuePrefix: 'scim', ...overrides };
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
  return { close, processors: started };
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
