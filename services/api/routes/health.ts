import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Database } from '../../../shared/db/sequelize';
import { checkReadiness, postgresCheck, redisCheck } from '../../../shared/telemetry/health';
import type { Logger } from '../../../shared/telemetry/logger';
import { registry } from '../../../shared/telemetry/metrics';

export interface HealthRoutesOptions {
  readonly db: Database;
  /** The API's Redis connection (the queues'); without one /readyz checks PostgreSQL only. */
  readonly redis?: Redis;
  readonly logger: Logger;
}

/**
 * Operational endpoints (GET /healthz, /readyz, /metrics), without auth: orchestrators and
 * Prometheus rarely send bearer tokens. None of them returns customer data: /metrics carries
 * counts by route template, method, status class, queue and state only; /readyz names a failed
 * dependency, never its address. Plain handlers, not a router: a router mounted at / would add
 * a span to every request's trace.
 */
export function healthRoutes(options: HealthRoutesOptions): Record<'/healthz' | '/readyz' | '/metrics', RequestHandler> {
  const checks = [postgresCheck(options.db), ...(options.redis ? [redisCheck(options.redis)] : [])];

  // Liveness: the process answers; no dependency is consulted, so a database outage does not
  // get every API process restarted.
  const healthz: RequestHandler = (_req, res) => {
    res.json({ status: 'ok' });
  };

  // Readiness: PostgreSQL and Redis both answer quickly; 503 names the one that did not.
  const readyz: RequestHandler = async (_req, res) => {
    const readiness = await checkReadiness(checks, options.logger);
    res.status(readiness.ready ? 200 : 503).json({ status: readiness.ready ? 'ready' : 'unavailable', checks: readiness.checks });
  };

  const metrics: RequestHandler = async (_req, res) => {
    const body = await registry.metrics();
    res.setHeader('Content-Type', registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.send(body);
  };
  return { '/healthz': healthz, '/readyz': readyz, '/metrics': metrics };
}
