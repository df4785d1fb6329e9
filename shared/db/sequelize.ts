import type { ClientBase, QueryResult } from 'pg';
import { Sequelize, type Transaction } from 'sequelize';
import { config } from '../config';

interface PooledConnections {
  getConnection(): Promise<ClientBase>;
  releaseConnection(connection: ClientBase): void;
}

export interface DatabaseOptions {
  /** Connection string. Default: config.DATABASE_URL. */
  url?: string;
  /** Pool size. Default: config.DB_POOL_MAX. */
  poolMax?: number;
}

/** One Sequelize instance per process; `close()` is safe to call twice. */
export function createDatabase(options: DatabaseOptions = {}): Database {
  const sequelize = new Sequelize(options.url ?? config.DATABASE_URL, {
    dialect: 'postgres',
    logging: false,
    pool: { max: options.poolMax ?? config.DB_POOL_MAX, min: 0, idle: 10_000, acquire: 30_000 },
    define: { underscored: true, timestamps: false },
  });
  let closing: Promise<void> | undefined;
  // Statements go straight to a pg client from Sequelize's own pool (or the transaction's
  // connection): Sequelize keeps pooling, transactions and migrations, while hot-path SQL skips
  // its per-query formatting, which cost as much as the round trip itself in profiles.
  const pool = sequelize.connectionManager as unknown as PooledConnections;
  const run = async (sql: string, bind: unknown[], transaction?: Transaction): Promise<QueryResult> => {
    const held = (transaction as unknown as { connection?: ClientBase } | undefined)?.connection;
    if (held) return held.query(sql, bind);
    const connection = await pool.getConnection();
    try {
      return await connection.query(sql, bind);
    } finally {
      pool.releaseConnection(connection);
    }
  };
  return {
    sequelize,
    /** Runs parameterised SQL ($1, $2, …) and returns plain rows. */
    async query<T extends object>(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<T[]> {
      return (await run(sql, bind, transaction)).rows as T[];
    },
    /** Runs a statement whose rows do not matter (INSERT/UPDATE/DELETE without RETURNING). */
    async exec(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<number> {
      return (await run(sql, bind, transaction)).rowCount ?? 0;
    },
    transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
      return sequelize.transaction(work);
    },
    close() {
      closing ??= sequelize.close();
      return closing;
    },
  };
}

export interface Database {
  readonly sequelize: Sequelize;
  query<T extends object>(sql: string, bind?: unknown[], transaction?: Transaction): Promise<T[]>;
  exec(sql: string, bind?: unknown[], transaction?: Transaction): Promise<number>;
  transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type { Transaction };
