import { createServer, type Server } from 'node:http';
import { healthEndpoints, sendHealthJson, type DependencyCheck, type HealthPath } from '../shared/telemetry/health';
import type { Logger } from '../shared/telemetry/logger';

export interface MetricsServerOptions {
  /** Port to listen on; 0 picks a free one (main.ts passes WORKER_METRICS_PORT, where 0 means no server). */
  readonly port: number;
  /** Interface to bind. Default: all, so Prometheus can scrape from another host. */
  readonly host?: string;
  /** What /readyz checks (PostgreSQL, Redis). */
  readonly checks: readonly DependencyCheck[];
  readonly logger: Logger;
}

export interface MetricsServer {
  readonly port: number;
  /** From now on /readyz answers 503 `draining`; /healthz stays 200 until the process exits. */
  draining(): void;
  /** Stops listening; safe to call twice. */
  close(): Promise<void>;
}

/**
 * The worker's only HTTP surface: GET /metrics (this process's registry: delivery counters and
 * lag, process metrics), /healthz (the process runs) and /readyz (PostgreSQL and Redis answer,
 * and it is not draining). No auth and no customer data, as on the API (routes/health.ts).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  let draining = false;
  // The API's answers (shared/telemetry/health.ts); only 404, 405 and 500 are this server's own.
  const endpoints = healthEndpoints({ checks: options.checks, logger: options.logger, draining: () => draining });

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendHealthJson(res, 405, { status: 'method not allowed' });
    }
    if (!Object.hasOwn(endpoints, path)) return sendHealthJson(res, 404, { status: 'not found' });
    endpoints[path as HealthPath](res).catch((err: unknown) => {
      options.logger.error({ err }, 'metrics server failed to answer');
      if (!res.headersSent) sendHealthJson(res, 500, { status: 'error' });
      else res.destroy();
    });
  });
  // A scraper's idle keep-alive socket must not hold shutdown up.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  options.logger.info({ port }, 'worker metrics listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    draining: () => {
      draining = true;
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
