import { Client } from 'pg';
import { createDatabaseIfMissing } from '../../shared/db/admin';

/**
 * Creates the database named in `url` when it does not exist, connecting to the server's
 * `postgres` maintenance database. Returns true when it created one.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`database name "${name}" is not a plain identifier`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await createDatabaseIfMissing(client, name);
  } finally {
    await client.end();
  }
}
