import { startTracing, stopTracing } from '../../shared/telemetry/tracing';
startTracing('scim-api');

import type { Server } from 'node:http';
import { config } from '../../shared/config';
import { AuthChangeListener } from '../../shared/db/auth-changes';
import { createDatabase } from '../../shared/db/sequelize';
import { logger } from '../../shared/telemetry/logger';
import { createApp } from './app';

/** Starts the API; resolves once it listens. Returned `close()` drains and is safe to call twice. */
export async function startApi(overrides: { port?: number } = {}) {
  const db = createDatabase();
  const authChanges = new AuthChangeListener({ url: config.DATABASE_URL, logger });
  await authChanges.start();
  const app = createApp({
    db,
    authChanges,
    logger,
    adminToken: config.ADMIN_TOKEN,
    publicBaseUrl: config.publicBaseUrl,
    region: config.REGION,
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    maxPageSize: config.MAX_PAGE_SIZE,
    maxBulkOperations: config.MAX_BULK_OPERATIONS,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(overrides.port ?? config.PORT, () => resolve(s));
  });
  server.keepAliveTimeout = 65_000;
  if (!config.ADMIN_TOKEN) logger.warn('ADMIN_TOKEN is not set: the admin API refuses every request');
  logger.info({ port: (server.address() as { port: number }).port }, 'api listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await authChanges.close();
      await db.close();
    })());
  return { server, close };
}

if (require.main === module) {
  startApi().then(
    ({ close }) => {
      const shutdown = (signal: string) => {
        logger.info({ signal }, 'api shutting down');
        close()
          .then(() => stopTracing())
          .then(() => process.exit(0), (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          });
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (err: unknown) => {
      logger.fatal({ err }, 'api failed to start');
      process.exit(1);
    },
  );
}
