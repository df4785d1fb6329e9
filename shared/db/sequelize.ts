import { createHash } from 'node:crypto';
import type { ClientBase, QueryConfig, QueryResult } from 'pg';
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
  /** Longest wait for a new connection to PostgreSQL, in ms. Default: config.DB_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Longest wait for a pooled connection (including connecting one), in ms. Default: config.DB_ACQUIRE_TIMEOUT_MS. */
  acquireTimeoutMs?: number;
}

/** One Sequelize instance per process; `close()` is safe to call twice. */
export function createDatabase(options: DatabaseOptions = {}): Database {
  const sequelize = new Sequelize(options.url ?? config.DATABASE_URL, {
    dialect: 'postgres',
    logging: false,
    // Short waits: while PostgreSQL is down or saturated a request fails within seconds (a 503
    // that Entra retries) instead of hanging; node-postgres never gives up connecting by itself.
    pool: { max: options.poolMax ?? config.DB_POOL_MAX, min: 0, idle: 10_000, acquire: options.acquireTimeoutMs ?? config.DB_ACQUIRE_TIMEOUT_MS },
    dialectOptions: { connectionTimeoutMillis: options.connectTimeoutMs ?? config.DB_CONNECT_TIMEOUT_MS },
    define: { underscored: true, timestamps: false },
  });
  let closing: Promise<void> | undefined;
  // Statements go straight to a pg client from Sequelize's own pool (or the transaction's
  // connection): Sequelize keeps pooling, transactions and migrations, while hot-path SQL skips
  // its per-query formatting, which cost as much as the round trip itself in profiles.
  const pool = sequelize.connectionManager as unknown as PooledConnections;
  const statement = preparedStatements();
  const run = async (sql: string, bind: unknown[], transaction?: Transaction): Promise<QueryResult> => {
    const query = statement(sql, bind);
    const held = (transaction as unknown as { connection?: ClientBase } | undefined)?.connection;
    if (held) return held.query(query);
    const connection = await pool.getConnection();
    try {
      return await connection.query(query);
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

/**
 * Names each distinct statement so every pooled connection parses and plans it once and then
 * only binds and executes (PostgreSQL's extended protocol). Statement texts are few: values are
 * always parameters, and filters compile to a handful of shapes. Past `limit` distinct texts
 * (hostile filter variety), new ones run unnamed so no connection accumulates without bound.
 */
function preparedStatements(limit = 500): (sql: string, values: unknown[]) => QueryConfig {
  const names = new Map<string, string>();
  return (text, values) => {
    let name = names.get(text);
    if (!name && names.size < limit) {
      name = `s${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
      names.set(text, name);
    }
    return name ? { name, text, values } : { text, values };
  };
}
