import type { ServerResponse } from 'node:http';
import type { Cluster, Redis } from 'ioredis';
import { withTimeout } from '../polling-loop';
import type { Logger } from './logger';
import { metricsText, registry } from './metrics';

/** One dependency a process needs to do its work; `check` rejects when it cannot be used. */
export interface DependencyCheck {
  readonly name: string;
  check(): Promise<unknown>;
  /**
   * Whether the process is unready without it. Default true. A dependency the process can serve
   * without (the API's Redis: SCIM needs only PostgreSQL) is reported, and makes it `degraded`.
   */
  readonly required?: boolean;
}

export type CheckResult = 'ok' | 'failed' | 'timeout';

export interface Readiness {
  readonly ready: boolean;
  /** Ready, but a dependency it can do without failed. */
  readonly degraded: boolean;
  /** Per dependency; deliberately no error text: /readyz answers without auth (addresses, hosts). */
  readonly checks: Record<string, CheckResult>;
}

/**
 * Redis answers PING; a Redis Cluster answers CLUSTER INFO with `cluster_state:ok` (every slot
 * served: a queue whose slot has no master cannot be used). A connection that lost Redis fails
 * at once: ioredis would otherwise queue the command until Redis returns, and each probe would
 * add one more waiting command. A factory is called on the first check.
 */
export function redisCheck(redis: Redis | Cluster | (() => Redis | Cluster)): DependencyCheck {
  let connection: Redis | Cluster | undefined;
  return {
    name: 'redis',
    check: async () => {
      connection ??= typeof redis === 'function' ? redis() : redis;
      // A connection still making its first connect is waited for (the caller's timeout bounds it).
      if (connection.status === 'connecting' || connection.status === 'connect') {
        const pending = connection;
        await new Promise((resolve) => pending.once('ready', resolve));
      }
      if (connection.status !== 'ready') throw new Error(`redis connection is ${connection.status}`);
      if (!connection.isCluster) return connection.ping();
      const info = await (connection as Cluster).cluster('INFO');
      if (!/^cluster_state:ok\b/m.test(info)) throw new Error('redis cluster state is not ok');
      return info;
    },
  };
}

/**
 * Runs every check at once, each bounded by `timeoutMs` (default 1,000): a load balancer's probe
 * must get an answer quickly, and a dependency slower than that is as good as down for it.
 */
export async function checkReadiness(checks: readonly DependencyCheck[], logger: Logger, timeoutMs = 1_000): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, CheckResult]> => {
      const timedOut = new Error(`${c.name} did not answer within ${timeoutMs} ms`);
      try {
        await withTimeout(c.check(), timeoutMs, () => timedOut);
        return [c.name, 'ok'];
      } catch (err) {
        if (err === timedOut) {
          logger.warn({ dependency: c.name, timeout_ms: timeoutMs }, 'readiness check timed out');
          return [c.name, 'timeout'];
        }
        logger.warn({ dependency: c.name, err }, 'readiness check failed');
        return [c.name, 'failed'];
      }
    }),
  );
  const byName = Object.fromEntries(results);
  const failed = checks.filter((c) => byName[c.name] !== 'ok');
  return { ready: failed.every((c) => c.required === false), degraded: failed.length > 0, checks: byName };
}

/** Writes one whole answer. No answer here may be cached: a probe or a scrape must see the process as it is now. */
function sendHealthAnswer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

/** A JSON answer, typed as both processes send it. */
export const sendHealthJson = (res: ServerResponse, status: number, value: unknown): void =>
  sendHealthAnswer(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

export type HealthPath = '/healthz' | '/readyz' | '/metrics';

export interface HealthEndpointsOptions {
  /** What /readyz checks (PostgreSQL, Redis). */
  readonly checks: readonly DependencyCheck[];
  readonly logger: Logger;
  /** True once the process is shutting down: /readyz then answers 503 `draining` without checking. Default: never. */
  readonly draining?: () => boolean;
}

/**
 * GET /healthz, /readyz and /metrics, defined once: the API mounts them on Express
 * (routes/health.ts) and the worker on its node:http server (workers/metrics-server.ts), so both
 * answer with the same status codes, bodies and content types. Each writes its whole answer to
 * a plain node response.
 */
export function healthEndpoints(options: HealthEndpointsOptions): Record<HealthPath, (res: ServerResponse) => Promise<void>> {
  return {
    // Liveness: the process answers; no dependency is consulted, so a database outage does not
    // get every process restarted.
    '/healthz': async (res) => sendHealthJson(res, 200, { status: 'ok' }),
    // Readiness: every check answers quickly; 503 names the one that did not.
    '/readyz': async (res) => {
      if (options.draining?.()) return sendHealthJson(res, 503, { status: 'draining', checks: {} });
      const readiness = await checkReadiness(options.checks, options.logger);
      const status = !readiness.ready ? 'unavailable' : readiness.degraded ? 'degraded' : 'ready';
      sendHealthJson(res, readiness.ready ? 200 : 503, { status, checks: readiness.checks });
    },
    // In a cluster a partial answer would read to Prometheus as counters reset: all or a 503.
    '/metrics': async (res) => {
      let text: string;
      try {
        text = await metricsText();
      } catch (err) {
        options.logger.warn({ err: (err as Error).message }, 'metrics of the other API processes did not arrive');
        return sendHealthAnswer(res, 503, 'text/plain; charset=utf-8', 'metrics unavailable\n');
      }
      sendHealthAnswer(res, 200, registry.contentType, text);
    },
  };
}
