import { createHash } from 'node:crypto';
import pg, { type ClientBase, type QueryResult } from 'pg';
import { Sequelize, type Transaction } from 'sequelize';
import { config } from '../config';
import { isUuid } from '../ids';
import { defineModels, type Models } from './models';
import { NO_SCOPE, type Scope, scopeOf, sessionScoped, transactionScoped } from './scope-carriers';
import type { NamedStatement } from './prefixed-query';

/** See DatabaseOptions.poolMode. */
export type PoolMode = 'session' | 'transaction';

export interface DatabaseOptions {
  /** Connection string. Default: config.DATABASE_URL. */
  url?: string;
  /** Pool size. Default: config.DB_POOL_MAX. */
  poolMax?: number;
  /** Connections kept open, and opened by `warm()`; at most poolMax. Default: config.DB_POOL_MIN, else poolMax. */
  poolMin?: number;
  /** Longest wait for a new connection to PostgreSQL, in ms. Default: config.DB_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** Longest wait for a pooled connection (including connecting one), in ms. Default: config.DB_ACQUIRE_TIMEOUT_MS. */
  acquireTimeoutMs?: number;
  /**
   * Run as the `scim_app` role, subject to row-level security. Default true; false only for
   * migrations, which create and alter the tables.
   */
  appRole?: boolean;
  /**
   * What `url` reaches. `session`: connections that are sessions of their own (PostgreSQL, or a
   * pooler in session mode); the role is set once per connection and the scope only when it
   * changes. `transaction`: a transaction pooler (PgBouncer, pool_mode = transaction); every
   * statement runs in a transaction that sets role and scope locally, and no statement is named.
   * Default: config.DATABASE_POOL_MODE.
   */
  poolMode?: PoolMode;
}

/**
 * node-postgres, with each client listening for errors from the moment it exists. Sequelize adds
 * its listener only after connect() has resolved, a microtask later, while a backend terminated
 * just as it became ready (a failover, `pg_terminate_backend`) can send its error in the same read
 * as ReadyForQuery: with no listener yet, that error was thrown and ended the process. Such a
 * client is no longer queryable, so Sequelize's setup statement fails on it and it never joins the
 * pool; the acquire that opened it fails like any failed connect.
 */
class ListeningClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}
const driver: typeof pg = Object.create(pg, { Client: { value: ListeningClient } });

/** One Sequelize instance per process; `close()` is safe to call twice. */
export function createDatabase(options: DatabaseOptions = {}): Database {
  const appRole = options.appRole ?? true;
  const poolMode = options.poolMode ?? config.DATABASE_POOL_MODE;
  // PgBouncer 1.18 cannot follow named statements from one server connection to the next.
  const statement = preparedStatements(poolMode === 'transaction' ? 0 : undefined);
  const carrier = poolMode === 'transaction' ? transactionScoped({ appRole }) : sessionScoped({ appRole, named: statement });
  // Each open transaction's connection (learnt from its first statement, START TRANSACTION) and
  // the scope of the executor that opened it.
  const transactionConnections = new WeakMap<Transaction, ClientBase>();
  const transactionScopes = new WeakMap<Transaction, Scope>();

  const poolMax = options.poolMax ?? config.DB_POOL_MAX;
  const poolMin = Math.min(poolMax, options.poolMin ?? config.DB_POOL_MIN ?? poolMax);

  const sequelize = new Sequelize(options.url ?? config.DATABASE_URL, {
    dialect: 'postgres',
    dialectModule: driver,
    logging: false,
    // Short waits: while PostgreSQL is down or saturated a request fails within seconds (a 503
    // that Entra retries) instead of hanging; node-postgres never gives up connecting by itself.
    pool: { max: poolMax, min: poolMin, idle: 10_000, acquire: options.acquireTimeoutMs ?? config.DB_ACQUIRE_TIMEOUT_MS },
    dialectOptions: { connectionTimeoutMillis: options.connectTimeoutMs ?? config.DB_CONNECT_TIMEOUT_MS },
    define: { underscored: true, timestamps: false },
    hooks: {
      afterConnect: (connection) => carrier.opened(connection as ClientBase),
      // Every statement Sequelize itself runs (models, transactions) passes here. One in a
      // transaction takes the scope of the executor that opened it; one outside any transaction,
      // or in a transaction no executor opened, runs with no scope at all, so row-level security
      // shows it nothing and lets it write nothing: a model call that forgot its executor fails
      // closed.
      beforeQuery: (queryOptions, query) => {
        const connection = query.connection as ClientBase;
        const t = queryOptions.transaction ?? undefined;
        if (t && !transactionConnections.has(t)) {
          // START TRANSACTION, which reads nothing; the executor records its scope right after.
          transactionConnections.set(t, connection);
          return undefined;
        }
        // COMMIT and ROLLBACK read nothing either.
        if ((queryOptions as { completesTransaction?: boolean }).completesTransaction) return undefined;
        const scope = t && (transactionScopes.get(t) ?? (appRole ? NO_SCOPE : undefined));
        return carrier.beforeSequelize(connection, scope, t);
      },
      afterQuery: (_queryOptions, query) => carrier.afterSequelize(query.connection as ClientBase),
    },
  });
  const models = defineModels(sequelize);
  let closing: Promise<void> | undefined;

  const connectionOf = (t: Transaction): ClientBase => {
    const connection = transactionConnections.get(t);
    if (!connection) throw new Error('database: a transaction that was not opened by this database');
    return connection;
  };
  // Hot-path statements go straight to a pg client from Sequelize's pool (or the transaction's
  // connection): Sequelize keeps pooling, transactions, models and migrations, while these skip
  // its per-query formatting, which cost as much as the round trip itself in profiles.
  const run = async (scope: Scope, sql: string, bind: unknown[], transaction?: Transaction): Promise<QueryResult> => {
    const query = statement(sql, bind);
    if (transaction) return carrier.run(connectionOf(transaction), scope, query, transaction);
    const connection = (await sequelize.connectionManager.getConnection({ type: 'write' })) as ClientBase;
    try {
      return await carrier.run(connection, scope, query);
    } finally {
      sequelize.connectionManager.releaseConnection(connection);
    }
  };
  const executor = (scope: Scope): Sql => ({
    models,
    async query<T extends object>(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<T[]> {
      return (await run(scope, sql, bind, transaction)).rows as T[];
    },
    async exec(sql: string, bind: unknown[] = [], transaction?: Transaction): Promise<number> {
      return (await run(scope, sql, bind, transaction)).rowCount ?? 0;
    },
    async transaction<T>(work: (t: Transaction) => Promise<T>, settings: { readOnly?: boolean } = {}): Promise<T> {
      let connection: ClientBase | undefined;
      try {
        return await sequelize.transaction({ readOnly: settings.readOnly ?? false }, async (t) => {
          transactionScopes.set(t, scope);
          connection = connectionOf(t);
          const pending = carrier.began(connection, scope);
          if (pending) await pending;
          return work(t);
        });
      } catch (err) {
        if (connection) carrier.rolledBack(connection);
        throw err;
      }
    },
  });
  const ids = (values: readonly string[]) => {
    for (const id of values) if (!isUuid(id)) throw new TypeError(`database scope: "${id}" is not an id`);
    return values.join(',');
  };
  return {
    sequelize,
    forDirectory: (scope) => executor(scopeOf(ids([scope.directoryId]), '', false)),
    forDirectories: (scopes) => executor(scopeOf(ids([...new Set(scopes.map((s) => s.directoryId))]), '', false)),
    forTenant: (tenantId) => executor(scopeOf('', ids([tenantId]), false)),
    forTenants: (tenantIds) => executor(scopeOf('', ids([...new Set(tenantIds)]), false)),
    acrossTenants: () => executor(scopeOf('', '', true)),
    async warm() {
      const opened = await Promise.allSettled(Array.from({ length: poolMin }, () => sequelize.connectionManager.getConnection({ type: 'write' })));
      let count = 0;
      for (const o of opened) {
        if (o.status !== 'fulfilled') continue;
        sequelize.connectionManager.releaseConnection(o.value);
        count++;
      }
      return count;
    },
    close() {
      closing ??= sequelize.close();
      return closing;
    },
  };
}

/**
 * Statements bound to one scope: PostgreSQL's row-level policies (migration 0008) let them see
 * and write only the rows of that scope, whatever their SQL says.
 */
export interface Sql {
  /**
   * The admin tables' models. A model call takes the scope of the transaction it is given (one
   * opened by `transaction()` of an executor); outside a transaction it sees and writes nothing.
   */
  readonly models: Models;
  /** Runs parameterised SQL ($1, $2, …) and returns plain rows. */
  query<T extends object>(sql: string, bind?: unknown[], transaction?: Transaction): Promise<T[]>;
  /** Runs a statement whose rows do not matter (INSERT/UPDATE/DELETE without RETURNING). */
  exec(sql: string, bind?: unknown[], transaction?: Transaction): Promise<number>;
  /** A transaction on one connection, in this scope; statements of another executor in it run in their own. */
  transaction<T>(work: (t: Transaction) => Promise<T>, settings?: { readOnly?: boolean }): Promise<T>;
}

export interface Database {
  readonly sequelize: Sequelize;
  /** One directory's rows (and its tenant's nothing else). */
  forDirectory(scope: { readonly directoryId: string }): Sql;
  /** Several directories' rows, for statements that serve concurrent requests of each at once. */
  forDirectories(scopes: readonly { readonly directoryId: string }[]): Sql;
  /** One tenant's rows, in all its directories. */
  forTenant(tenantId: string): Sql;
  /** Several tenants' rows, for statements that serve work of each at once. */
  forTenants(tenantIds: readonly string[]): Sql;
  /**
   * Every tenant's rows: the operator's and the workers' reads and writes across tenants
   * (authentication by key hash, sweeps, the outbox relay, admin listings). Named where used.
   */
  acrossTenants(): Sql;
  /**
   * Opens the connections the pool keeps (poolMin) at once, so the first burst of requests does
   * not wait for them; resolves with how many opened. Never rejects: a PostgreSQL that is down is
   * the readiness probe's to report, and requests then connect as they come.
   */
  warm(): Promise<number>;
  close(): Promise<void>;
}

export type { Transaction };

/**
 * Names each distinct statement so every pooled connection parses and plans it once and then
 * only binds and executes (PostgreSQL's extended protocol). Statement texts are few: values are
 * always parameters, and filters compile to a handful of shapes. Past `limit` distinct texts
 * (hostile filter variety), new ones run unnamed so no connection accumulates without bound.
 */
function preparedStatements(limit = 500): (sql: string, values: unknown[]) => NamedStatement {
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
