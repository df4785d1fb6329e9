import { ConnectionError } from 'sequelize';

/** The constraint a statement violated, when it was a unique violation (SQLSTATE 23505). */
export function uniqueViolation(err: unknown): string | undefined {
  const e = err as { code?: string; constraint?: string } | null;
  return e?.code === '23505' ? (e.constraint ?? '') : undefined;
}

// Socket failures on the way to PostgreSQL (node's error codes).
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server that refuses work rather than a statement that is wrong: class 08
 * (connection exception), class 53 (insufficient resources: too_many_connections, disk_full,
 * out_of_memory), 57P01-57P03 (admin or crash shutdown, cannot connect now), and 25006
 * (read_only_sql_transaction: a write reached a standby during a failover).
 */
const refusingState = (code: string) => code.startsWith('08') || code.startsWith('53') || /^57P0[123]$/.test(code) || code === '25006';

// node-postgres reports a lost connection with these messages and no code.
const LOST_CONNECTION = /^Connection terminated|is not queryable/;

/**
 * Whether an error means PostgreSQL is unreachable or refusing work (an outage, a failover, a
 * saturated pool), so the request may be retried later, as opposed to a statement that failed
 * on its own. Sequelize wraps the driver's error (`parent`/`original`), and other code may chain
 * it as `cause`, so the chain is followed a few links deep.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    // Every Sequelize connection error: refused, timed out, acquire timeout, access denied, host not found.
    if (current instanceof ConnectionError) return true;
    const e = current as { code?: unknown; message?: unknown; parent?: unknown; original?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && (SOCKET_CODES.has(e.code) || (/^[0-9A-Z]{5}$/.test(e.code) && refusingState(e.code)))) return true;
    if (typeof e.message === 'string' && LOST_CONNECTION.test(e.message)) return true;
    current = e.parent ?? e.original ?? e.cause;
  }
  return false;
}
