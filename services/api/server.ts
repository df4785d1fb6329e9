import { startTracing, stopTracing } from '../../shared/telemetry/tracing';
startTracing('scim-api');

import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { config } from '../../shared/config';
import { parseDuration } from '../../shared/config-formats';
import { AuthChangeListener } from '../../shared/db/auth-changes';
import { repositoriesFor } from '../../shared/db/repositories';
import { createDatabase } from '../../shared/db/sequelize';
import { watchOutbox } from '../../shared/events/metrics';
import { createExportStorage } from '../../shared/exports';
import { withTimeout } from '../../shared/polling-loop';
import { watchFailingDirectories } from '../../shared/setup/metrics';
import { QUEUES } from '../../shared/queue/catalog';
import { watchOverdue, watchQueues } from '../../shared/queue/metrics';
import { createQueue } from '../../shared/queue/queues';
import { checkRedisServer, createRedis, queuePrefixFor, redisTarget } from '../../shared/queue/redis';
import { logger } from '../../shared/telemetry/logger';
import { createApp } from './app';
import { addAcceptHandles } from './accept-handles';
import { runPrimary } from './cluster';
import { clientErrorHandler } from './middleware/errors';
import { limiterRedis } from './middleware/rate-limit';
import { ScimActivityRecorder } from './scim-activity';

/** How long shutdown lets in-flight requests finish before cutting their connections. */
const DRAIN_TIMEOUT_MS = 10_000;

export interface ApiServerOptions {
  /** Port to listen on; 0 picks a free one. Default config.PORT. */
  readonly port?: number;
  /**
   * Longest a client may take to send a request's headers; then 408 and the connection is
   * closed (slow-header "slowloris" clients hold a socket each). Default 20,000 ms.
   */
  readonly headersTimeoutMs?: number;
  /**
   * Longest a client may take to send a whole request, body included; then 408 and the
   * connection is closed (a slow body holds a socket and a parser). Entra's bodies are a few
   * KiB, and 1 MiB (MAX_PAYLOAD_BYTES) in 30 s is 35 KiB/s. Default 30,000 ms; at least
   * headersTimeoutMs.
   */
  readonly requestTimeoutMs?: number;
  /**
   * How long an idle kept-alive connection stays open. Longer than the load balancer's own idle
   * timeout (AWS ALB and nginx: 60 s), so the balancer, not we, closes idle connections: if we
   * closed first, a request it sent at that moment would fail with a 502. Default
   * config.HTTP_KEEP_ALIVE_TIMEOUT_MS (65,000 ms).
   */
  readonly keepAliveTimeoutMs?: number;
  /** Handles on the listening socket, the server's own included (accept-handles.ts). Default config.HTTP_ACCEPT_HANDLES. */
  readonly acceptHandles?: number;
}

/** The documented defaults of ApiServerOptions' timeouts. */
const SERVER_TIMEOUT_DEFAULTS = Object.freeze({ headersTimeoutMs: 20_000, requestTimeoutMs: 30_000 });

/**
 * A response sent while its request's body is still arriving (an early 401, or a 413 on the
 * declared length) closes the connection. Otherwise Node reads and discards the rest of the body
 * to reuse the socket, so a client could keep streaming into a connection nobody reads. Hooked
 * on the response itself (Express swaps the response's prototype, so a ServerResponse subclass
 * would be bypassed), and only for requests that have a body: GETs pay nothing.
 */
function closeIfAnsweredEarly(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (!req.complete) this.setHeader('Connection', 'close');
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}

/** Starts the API; resolves once it listens. Returned `close()` drains and is safe to call twice. */
export async function startApi(options: ApiServerOptions = {}) {
  const headersTimeout = options.headersTimeoutMs ?? SERVER_TIMEOUT_DEFAULTS.headersTimeoutMs;
  const requestTimeout = options.requestTimeoutMs ?? SERVER_TIMEOUT_DEFAULTS.requestTimeoutMs;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  if (!(headersTimeout > 0 && requestTimeout >= headersTimeout)) {
    throw new RangeError(`startApi: headersTimeoutMs (${headersTimeout}) must be positive and at most requestTimeoutMs (${requestTimeout})`);
  }
  const db = createDatabase();
  // Opened while the rest starts, and awaited before listening: a new process (a rollout, the
  // autoscaler adding one under load) takes its first burst on open connections.
  const warming = db.warm();
  const repos = repositoriesFor(db, config);
  const { sweeps } = repos.operator;
  const authChanges = new AuthChangeListener({ url: config.DATABASE_DIRECT_URL, logger });
  await authChanges.start();
  // Producers only (no blocking commands), so the queues share one connection. The prefix is the
  // workers' default (WorkerDeps.queuePrefix): `scim`, or `{scim}` on a Redis Cluster.
  const redisAt = redisTarget(config);
  const prefix = queuePrefixFor(redisAt);
  const queueRedis = createRedis(redisAt);
  void checkRedisServer(queueRedis, logger);
  const queues = {
    auditExport: createQueue(QUEUES.auditExport, { connection: queueRedis, prefix, logger }),
    groupReconcile: createQueue(QUEUES.groupReconcile, { connection: queueRedis, prefix, logger }),
    // Webhook replays (routes/admin/webhooks.ts) produce here; every queue is also on /admin/queues and /metrics.
    webhookDelivery: createQueue(QUEUES.webhookDelivery, { connection: queueRedis, prefix, logger }),
  };
  // Queue depth and outbox backlog are read on scrape by the API, which stays up when every
  // worker is down: exactly when a growing backlog must be visible.
  // Overdue rows are counted through the same sweeps the workers' sweeper re-drives them with.
  const unwatch = [
    watchQueues(Object.values(queues)),
    watchOutbox(repos.operator),
    watchFailingDirectories(repos.operator),
    watchOverdue({
      deliveries: sweeps.deliveries,
      jobs: [
        [QUEUES.auditExport, sweeps.auditExports],
        [QUEUES.groupReconcile, sweeps.groupReconciles],
      ],
      overdueAfterMs: parseDuration(config.JOB_OVERDUE_AFTER),
    }),
  ];
  // Its own connection: limiter commands fail fast instead of waiting through a Redis restart.
  const limitsRedis = limiterRedis(redisAt, { logger });
  // Answered SCIM requests for the setup page, written once a second off the request path.
  const activity = new ScimActivityRecorder({ writer: repos.operator.scimActivity, logger });
  const app = createApp({
    repos,
    authChanges,
    logger,
    adminToken: config.ADMIN_TOKEN,
    publicBaseUrl: config.publicBaseUrl,
    tracesUiUrl: config.TRACES_UI_URL,
    region: config.REGION,
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    maxPageSize: config.MAX_PAGE_SIZE,
    maxBulkOperations: config.MAX_BULK_OPERATIONS,
    queues,
    redis: queueRedis,
    exportStorage: createExportStorage(config),
    rateLimits: { redis: limitsRedis, defaults: { requestsPerSecond: config.RATE_LIMIT_RPS, burst: config.RATE_LIMIT_BURST } },
    authThrottle: { redis: limitsRedis, failures: config.AUTH_FAILURES_PER_MINUTE },
    trustProxy: config.TRUST_PROXY,
    activity,
  });
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  let onIdle: (() => void) | undefined;
  const server: Server = createServer(
    {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout,
      // Node checks both timeouts on this interval (default 30 s, which could double them).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeout / 4)),
    },
    (req, res) => {
      // A request that arrives on a kept-alive socket while draining is still answered, with
      // `Connection: close`, which tells the client to open its next request elsewhere.
      if (draining) res.setHeader('Connection', 'close');
      closeIfAnsweredEarly(req, res);
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
    },
  );
  await warming;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.PORT, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('clientError', clientErrorHandler);
  const acceptHandles = await addAcceptHandles(server, options.acceptHandles ?? config.HTTP_ACCEPT_HANDLES, logger);
  if (!config.ADMIN_TOKEN) logger.warn('ADMIN_TOKEN is not set: the admin API refuses every request');
  logger.info({ port: (server.address() as { port: number }).port, accept_handles: acceptHandles.count }, 'api listening');

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
      const stopped = Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), acceptHandles.close()]);
      server.closeIdleConnections();
      try {
        await withTimeout(Promise.all([idle, stopped]), DRAIN_TIMEOUT_MS, () => new Error(`requests still running after ${DRAIN_TIMEOUT_MS} ms`));
      } catch {
        logger.warn({ in_flight: inFlight.size, timeout_ms: DRAIN_TIMEOUT_MS }, 'requests still running at the drain deadline; closing their connections');
        server.closeAllConnections();
        await stopped;
      }
      for (const stop of unwatch) stop();
      // After the last request, before the pool closes: what was gathered is written.
      await activity.close();
      await authChanges.close();
      await Promise.all(Object.values(queues).map((q) => q.close()));
      queueRedis.disconnect();
      limitsRedis.disconnect();
      await db.close();
    })());
  return { server, close };
}

/** One API process: listens on PORT until SIGTERM or SIGINT, then drains and exits. */
function runProcess(): void {
  startApi().then(
    ({ close }) => {
      let stopping = false;
      const shutdown = (signal: string) => {
        // A second signal (a terminal's Ctrl+C reaches a cluster's primary and its processes
        // alike, and the primary passes it on) must not cut the drain short.
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'api shutting down');
        close()
          .then(() => stopTracing())
          .then(
            () => process.exit(0),
            (err: unknown) => {
              logger.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
      };
      process.on('SIGTERM', shutdown);
      process.on('SIGINT', shutdown);
    },
    (err: unknown) => {
      logger.fatal({ err }, 'api failed to start');
      process.exit(1);
    },
  );
}

if (require.main === module) {
  if (cluster.isPrimary && config.WEB_CONCURRENCY > 1) runPrimary(config.WEB_CONCURRENCY, logger);
  else runProcess();
}
