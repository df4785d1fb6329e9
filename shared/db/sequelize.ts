import { Sequelize, QueryTypes, type Transaction } from 'sequelize';
import { config } from '../config';

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
  return {
    sequelize,
    /** Runs parameterised SQL ($1, $2, …) and returns plain rows. */
    async query<T extends object>(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<T[]> {
      return sequelize.query<T>(sql, { bind, transaction, type: QueryTypes.SELECT, raw: true });
    },
    /** Runs a statement whose rows do not matter (INSERT/UPDATE/DELETE without RETURNING). */
    async exec(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<number> {
      const [, meta] = await sequelize.query(sql, { bind, transaction, raw: true });
      return (meta as { rowCount?: number } | undefined)?.rowCount ?? 0;
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
