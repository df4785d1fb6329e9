import type { RequestHandler } from 'express';
import type { RedisClient } from '../../../shared/queue/redis';
import { type DependencyCheck, healthEndpoints, redisCheck, type HealthPath } from '../../../shared/telemetry/health';
import type { Logger } from '../../../shared/telemetry/logger';

export interface HealthRoutesOptions {
  /** The PostgreSQL check (the data layer's). */
  readonly postgres: DependencyCheck;
  /** The API's Redis connection (the queues'); without one /readyz checks PostgreSQL only. */
  readonly redis?: RedisClient;
  readonly logger: Logger;
}

/**
 * Operational endpoints (GET /healthz, /readyz, /metrics), without auth: orchestrators and
 * Prometheus rarely send bearer tokens. None of them returns customer data: /metrics carries
 * counts by route template, method, status class, queue and state only; /readyz names a failed
 * dependency, never its address. The answers are shared/telemetry/health.ts's, the worker's too.
 * Plain handlers, not a router: a router mounted at / would add a span to every request's trace.
 */
export function healthRoutes(options: HealthRoutesOptions): Record<HealthPath, RequestHandler> {
  const endpoints = healthEndpoints({
    // Redis is reported but not required: SCIM reads and writes need only PostgreSQL (events wait
    // in the outbox), so a Redis outage must not take every API process out of its load balancer.
    checks: [options.postgres, ...(options.redis ? [{ ...redisCheck(options.redis), required: false }] : [])],
    logger: options.logger,
  });
  return {
    '/healthz': (_req, res) => endpoints['/healthz'](res),
    '/readyz': (_req, res) => endpoints['/readyz'](res),
    '/metrics': (_req, res) => endpoints['/metrics'](res),
  };
}
