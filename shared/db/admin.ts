import type { ClientBase } from 'pg';
import type { Database, Transaction } from './sequelize';

/**
 * Creates database `name` unless it exists, over `client`, a connection to the server's
 * maintenance database. `name` must already be checked to be a plain identifier: CREATE DATABASE
 * takes no parameters. Returns true when it created one.
 */
export async function createDatabaseIfMissing(client: ClientBase, name: string): Promise<boolean> {
  const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (found.rowCount) return false;
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } catch (err) {
    // Two processes racing to create it: the loser sees duplicate_database (42P04).
    if ((err as { code?: string }).code !== '42P04') throw err;
    return false;
  }
  return true;
}

/**
 * Takes the migrations' advisory lock for the caller's transaction: one migrator at a time across
 * processes (several API pods may boot together).
 */
export async function lockMigrations(db: Database, t: Transaction): Promise<void> {
  await db.sequelize.query('SELECT pg_advisory_xact_lock(7643)', { transaction: t });
}
