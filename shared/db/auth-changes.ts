import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Logger } from '../telemetry/logger';
import type { Database, Transaction } from './sequelize';

/** PostgreSQL channel on which every change to what a key resolves to is announced. */
export const AUTH_CHANNEL = 'scim_auth_changed';

/**
 * Announces, inside the caller's transaction, that keys or a directory's schemas changed
 * (revoke, regenerate, directory delete, extension schema change). PostgreSQL delivers it to
 * every listening API process when the transaction commits.
 */
export async function announceAuthChange(db: Database, t?: Transaction): Promise<void> {
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
  private readonly barriers = new Map<string, () => void>();
  healthy = false;

  constructor(private readonly options: AuthChangeListenerOptions) {}

  onChange(fn: () => void): void {
    this.subscribers.add(fn);
  }

  /** Connects and listens; on failure keeps retrying in the background (never throws). */
  async start(): Promise<void> {
    const client = new Client({ connectionString: this.options.url });
    this.client = client;
    client.on('notification', (message) => {
      this.changed();
      if (message.payload) this.barriers.get(message.payload)?.();
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
   * Waits until every change committed before the call has reached this listener: it sends a
   * marker on the channel and waits for it to come back. PostgreSQL hands notifications to every
   * listening session in commit order, so by then the other API processes have been sent the
   * earlier changes too. The admin API awaits this before answering a revoke, so that "revoked"
   * means refused everywhere on the next request. Gives up after `timeoutMs` (a slow listener
   * must not hang the admin API); without a healthy connection there is nothing to wait for.
   */
  async barrier(timeoutMs = 2_000): Promise<void> {
    const client = this.client;
    if (!client || !this.healthy) return;
    const marker = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const back = new Promise<void>((resolve) => {
      this.barriers.set(marker, resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await client.query('SELECT pg_notify($1, $2)', [AUTH_CHANNEL, marker]);
      await back;
    } catch (err) {
      this.options.logger.warn({ err }, 'auth change barrier failed; answering without it');
    } finally {
      clearTimeout(timer);
      this.barriers.delete(marker);
    }
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
