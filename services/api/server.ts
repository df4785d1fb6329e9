import { startTracing, stopTracing } from '../../shared/telemetry/tracing';
startTracing('scim-api');

import { createServer, type Server, type ServerResponse } from 'node:http';
import { config } from '../../shared/config';
import { AuthChangeListener } from '../../shared/db/auth-changes';
import { createDatabase } from '../../shared/db/sequelize';
import { createExportStorage } from '../../shared/exports';
import { QUEUES } from '../../shared/queue/names';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { logger } from '../../shared/telemetry/logger';
import { watchOutbox, watchQueues } from '../../shared/telemetry/metrics';
import { createApp } from './app';
import { clientErrorHandler } from './middleware/errors';

/** How long shutdown lets in-flight requests finish before cutting their connections. */
const DRAIN_TIMEOUT_MS = 10_000;

/** Starts the API; resolves once it listens. Returned `close()` drains and is safe to call twice. */
export async function startApi(overrides: { port?: number } = {}) {
  const db = createDatabase();
  const authChanges = new AuthChangeListener({ url: config.DATABASE_URL, logger });
  await authChanges.start();
  // Producers only (no blocking commands), so the queues share one connection. The prefix is the
  // workers' default (WorkerDeps.queuePrefix).
  const queueRedis = createRedis(config.REDIS_URL);
  const queues = {
    auditExport: createQueue(QUEUES.auditExport, { connection: queueRedis, prefix: 'scim', logger }),
    groupReconcile: createQueue(QUEUES.groupReconcile, { connection: queueRedis, prefix: 'scim', logger }),
    // Webhook replays (routes/admin/webhooks.ts) produce here; every queue is also on /admin/queues and /metrics.
    webhookDelivery: createQueue(QUEUES.webhookDelivery, { connection: queueRedis, prefix: 'scim', logger }),
  };
  // Queue depth and outbox backlog are read on scrape by the API, which stays up when every
  // worker is down: exactly when a growing backlog must be visible.
  const unwatch = [watchQueues(Object.values(queues)), watchOutbox(db)];
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
    queues,
    redis: queueRedis,
    exportStorage: createExportStorage(config),
  });
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  let onIdle: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    // A request that arrives on a kept-alive socket while draining is still answered, with
    // `Connection: close` so the client opens its next request elsewhere (RFC 9112 §9.6).
    if (draining) res.setHeader('Connection', 'close');
    inFlight.add(res);
    const done = () => {
      inFlight.delete(res);
      // Its socket is idle now; while draining nothing else may arrive on it.
      if (draining) server.closeIdleConnections();
      if (inFlight.size === 0) onIdle?.();
    };
    res.once('close', () => {
      if (res.writableEnded) return done();
      // The client went away before the answer: the handler is still at work (a /Bulk, a
      // transaction) and keeps counting until it ends its response, so shutdown does not close
      // the pool under it.
      const end = res.end;
      res.end = function (this: ServerResponse, ...args: Parameters<ServerResponse['end']>) {
        done();
        return end.apply(this, args);
      } as ServerResponse['end'];
    });
    app(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(overrides.port ?? config.PORT, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.on('clientError', clientErrorHandler);
  if (!config.ADMIN_TOKEN) logger.warn('ADMIN_TOKEN is not set: the admin API refuses every request');
  logger.info({ port: (server.address() as { port: number }).port }, 'api listening');

  // Shutdown: stop accepting, let in-flight requests finish (bounded), and only then close what
  // they use, so none of them meets a closed pool.
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      // Responses still being computed tell their clients too (a kept-alive socket would
      // otherwise hold the server open until the drain deadline).
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      const idle = new Promise<void>((resolve) => {
        onIdle = resolve;
        if (inFlight.size === 0) resolve();
      });
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), DRAIN_TIMEOUT_MS);
      });
      if (await Promise.race([Promise.all([idle, stopped]).then(() => false), timedOut])) {
        logger.warn({ in_flight: inFlight.size, timeout_ms: DRAIN_TIMEOUT_MS }, 'requests still running at the drain deadline; closing their connections');
        server.closeAllConnections();
        await stopped;
      }
      clearTimeout(timer);
      for (const stop of unwatch) stop();
      await authChanges.close();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      queueRedis.disconnect();
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
