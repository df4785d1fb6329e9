import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { withTimeout } from '../polling-loop';
import type { Logger } from '../telemetry/logger';
import type { Sql, Transaction } from './sequelize';

/** PostgreSQL channel on which every change to what a key resolves to is announced. */
export const AUTH_CHANNEL = 'scim_auth_changed';
/** application_name of every listener's connection: barrier() counts them in pg_stat_activity. */
const LISTENER_NAME = 'scim-auth-listener';
/** Payloads of barrier() traffic; a plain change announces itself with an empty payload. */
const BARRIER = 'barrier:';
const ACK = 'ack:';

/**
 * Announces, inside the caller's transaction, that keys or a directory's schemas changed
 * (revoke, regenerate, directory delete, extension schema change). PostgreSQL delivers it to
 * every listening API process when the transaction commits.
 */
export async function announceAuthChange(db: Sql, t?: Transaction): Promise<void> {
  await db.exec(`SELECT pg_notify('${AUTH_CHANNEL}', '')`, [], t);
}

export interface AuthChangeListenerOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Longest wait between reconnection attempts, in ms. Default 10,000. */
  readonly maxBackoffMs?: number;
}

/**
 * A dedicated connection LISTENing on AUTH_CHANNEL. `healthy` is true only while it is
 * connected and listening: callers must not trust anything cached while it is false, since a
 * change could have been missed. Every change, and every loss of the connection, calls the
 * subscribers. `close()` is safe to call twice.
 */
export class AuthChangeListener {
  private client?: Client;
  private closed = false;
  private backoff = 250;
  private readonly subscribers = new Set<() => void>();
  /** Markers this process awaits, with the acknowledgements still missing. */
  private readonly barriers = new Map<string, { missing: number; done: () => void }>();
  healthy = false;

  constructor(private readonly options: AuthChangeListenerOptions) {}

  onChange(fn: () => void): void {
    this.subscribers.add(fn);
  }

  /** Connects and listens; on failure keeps retrying in the background (never throws). */
  async start(): Promise<void> {
    const client = new Client({ connectionString: this.options.url, application_name: LISTENER_NAME });
    this.client = client;
    client.on('notification', ({ payload = '' }) => {
      if (payload.startsWith(ACK)) {
        this.acknowledged(payload.slice(ACK.length));
        return;
      }
      this.changed();
      // Caches are cleared (synchronously, above) before the acknowledgement leaves.
      if (payload.startsWith(BARRIER)) client.query('SELECT pg_notify($1, $2)', [AUTH_CHANNEL, ACK + payload.slice(BARRIER.length)]).catch(() => undefined);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${AUTH_CHANNEL}`);
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.healthy = true;
    this.backoff = 250;
  }

  /**
   * Waits until every API process has dropped what it cached before the changes committed so
   * far: sends a marker on the channel, and each listener (this one included), having received
   * every earlier notification in commit order and cleared its cache, answers with an
   * acknowledgement. The admin API awaits this before answering a revoke, so "revoked" means
   * refused everywhere on the next request. Listeners are counted in pg_stat_activity by their
   * application_name. Gives up after `timeoutMs`, so a stalled process cannot hang the admin
   * API; without a healthy connection there is nothing to wait with.
   */
  async barrier(timeoutMs = 2_000): Promise<void> {
    const client = this.client;
    if (!client || !this.healthy) return;
    const marker = randomUUID();
    const timedOut = new Error(`auth change barrier: no acknowledgement within ${timeoutMs} ms`);
    try {
      const [{ listeners }] = (
        await client.query<{ listeners: number }>(
          'SELECT count(*)::int AS listeners FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
          [LISTENER_NAME],
        )
      ).rows;
      const acknowledged = new Promise<void>((resolve) => {
        this.barriers.set(marker, { missing: listeners, done: resolve });
      });
      await client.query('SELECT pg_notify($1, $2)', [AUTH_CHANNEL, BARRIER + marker]);
      await withTimeout(acknowledged, timeoutMs, () => timedOut);
    } catch (err) {
      if (err === timedOut) {
        this.options.logger.warn({ missing: this.barriers.get(marker)?.missing }, 'auth change barrier timed out; some API processes did not acknowledge');
      } else {
        this.options.logger.warn({ err }, 'auth change barrier failed; answering without it');
      }
    } finally {
      this.barriers.delete(marker);
    }
  }

  private acknowledged(marker: string): void {
    const waiting = this.barriers.get(marker);
    if (!waiting) return;
    waiting.missing--;
    if (waiting.missing <= 0) waiting.done();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.healthy = false;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private changed(): void {
    for (const fn of this.subscribers) fn();
  }

  private lost(client: Client, err?: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.healthy = false;
    this.changed();
    if (this.closed) return;
    this.options.logger.warn({ err }, 'auth change listener lost its connection; caching off until it is back');
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs ?? 10_000);
    setTimeout(() => {
      if (!this.closed) void this.start();
    }, delay).unref();
  }
}
