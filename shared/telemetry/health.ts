import type { Redis } from 'ioredis';
import type { Database } from '../db/sequelize';
import type { Logger } from './logger';

/** One dependency a process needs to do its work; `check` rejects when it cannot be used. */
export interface DependencyCheck {
  readonly name: string;
  check(): Promise<unknown>;
}

export type CheckResult = 'ok' | 'failed' | 'timeout';

export interface Readiness {
  readonly ready: boolean;
  /** Per dependency; deliberately no error text: /readyz answers without auth (addresses, hosts). */
  readonly checks: Record<string, CheckResult>;
}

/** PostgreSQL answers `SELECT 1` through the process's own pool. */
export function postgresCheck(db: Database): DependencyCheck {
  return { name: 'postgres', check: () => db.acrossTenants().query('SELECT 1') };
}

/**
 * Redis answers PING. A connection that lost Redis fails at once: ioredis would otherwise queue
 * the PING until Redis returns, and each probe would add one more waiting command. A factory is
 * called on the first check.
 */
export function redisCheck(redis: Redis | (() => Redis)): DependencyCheck {
  let connection: Redis | undefined;
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
      return connection.ping();
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
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      try {
        const outcome = await Promise.race([c.check().then(() => 'ok' as const), timeout]);
        if (outcome === 'timeout') logger.warn({ dependency: c.name, timeout_ms: timeoutMs }, 'readiness check timed out');
        return [c.name, outcome];
      } catch (err) {
        logger.warn({ dependency: c.name, err }, 'readiness check failed');
        return [c.name, 'failed'];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const byName = Object.fromEntries(results);
  return { ready: results.every(([, r]) => r === 'ok'), checks: byName };
}
