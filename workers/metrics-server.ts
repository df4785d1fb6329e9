import { createServer, type Server } from 'node:http';
import { checkReadiness, type DependencyCheck } from '../shared/telemetry/health';
import type { Logger } from '../shared/telemetry/logger';
import { registry } from '../shared/telemetry/metrics';

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
  const send = (res: import('node:http').ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
    res.end(body);
  };
  const json = (value: unknown) => JSON.stringify(value);

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'application/json', json({ status: 'method not allowed' }));
    }
    const answer = async () => {
      switch (path) {
        case '/metrics':
          return send(res, 200, registry.contentType, await registry.metrics());
        case '/healthz':
          return send(res, 200, 'application/json', json({ status: 'ok' }));
        case '/readyz': {
          if (draining) return send(res, 503, 'application/json', json({ status: 'draining', checks: {} }));
          const readiness = await checkReadiness(options.checks, options.logger);
          return send(
            res,
            readiness.ready ? 200 : 503,
            'application/json',
            json({ status: readiness.ready ? 'ready' : 'unavailable', checks: readiness.checks }),
          );
        }
        default:
          return send(res, 404, 'application/json', json({ status: 'not found' }));
      }
    };
    answer().catch((err: unknown) => {
      options.logger.error({ err }, 'metrics server failed to answer');
      if (!res.headersSent) send(res, 500, 'application/json', json({ status: 'error' }));
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
