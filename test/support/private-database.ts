/**
 * A migrated database of a suite's own, for suites that spawn worker processes. A worker relays
 * every tenant's events from the outbox it reads: on the shared test database it would take
 * and deliver the events of suites running beside it (without their tracing, to their
 * receivers), so those suites could no longer tell what their own processes did.
 *
 *   const db = await createPrivateDatabase('otel');   // db.url → postgres://…/scim_test_otel_<pid>_<n>
 *   await db.drop();                                    // in after(); safe twice
 */
import { Client } from 'pg';
import { config } from '../../shared/config';
import { migrate } from '../../infra/scripts/migrate';

export interface PrivateDatabase {
  readonly url: string;
  /** Drops the database, closing any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

let created = 0;

export async function createPrivateDatabase(tag: string): Promise<PrivateDatabase> {
  if (!/^[a-z0-9_]+$/.test(tag)) throw new Error(`createPrivateDatabase: tag must be lowercase letters, digits or _, got "${tag}"`);
  const url = new URL(config.DATABASE_URL);
  url.pathname = `${url.pathname}_${tag}_${process.pid}_${++created}`;
  await dropDatabase(url.toString());
  await migrate(url.toString());
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () => (dropping ??= dropDatabase(url.toString())),
  };
}

/** Drops `url`'s database if it exists, closing any connection still open to it. */
export async function dropDatabase(url: string): Promise<void> {
  await onServer(url, (c, name) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Runs `run` on the server's maintenance database, given the name of `url`'s database. */
export async function onServer<T>(url: string, run: (client: Client, name: string) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await run(client, name);
  } finally {
    await client.end();
  }
}
