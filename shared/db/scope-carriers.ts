import type { ClientBase, QueryConfig, QueryResult } from 'pg';
import type { Transaction } from 'sequelize';
import { type NamedStatement, queryAfter } from './prefixed-query';

/** The role statements run as: subject to the row-level policies of migration 0008. */
const APP_ROLE = 'scim_app';

/**
 * What a statement may see, set on its connection before it runs (see migration 0008): some
 * directories, one tenant, or, explicitly, every tenant.
 */
export type Scope = { readonly directories: string; readonly tenants: string; readonly bypass: boolean; readonly key: string };

export const scopeOf = (directories: string, tenants: string, bypass: boolean): Scope => ({
  directories,
  tenants,
  bypass,
  key: `${directories}|${tenants}|${bypass}`,
});
export const NO_SCOPE = scopeOf('', '', false);

/**
 * How each statement gets its scope and role: one carrier per database, chosen by its pool mode.
 * The executors and the Sequelize hooks of sequelize.ts call it for every statement they run.
 */
export interface ScopeCarrier {
  /** A connection was just opened. */
  opened(connection: ClientBase): Promise<void>;
  /** An executor's statement in `scope`: in `t`, or alone on a connection held for it. */
  run(connection: ClientBase, scope: Scope, query: QueryConfig, t?: Transaction): Promise<QueryResult>;
  /** An executor opened `t` for `scope`; awaited before its work runs. */
  began(connection: ClientBase, scope: Scope): Promise<void> | undefined;
  /** A transaction an executor opened on `connection` rolled back. */
  rolledBack(connection: ClientBase): void;
  /** Before a statement Sequelize runs: in `t` (scope: the one of the executor that opened it, if any), or in no transaction. */
  beforeSequelize(connection: ClientBase, scope: Scope | undefined, t: Transaction | undefined): Promise<void> | undefined;
  /** After that statement, whether it succeeded or not. */
  afterSequelize(connection: ClientBase): Promise<void> | undefined;
}

const SET_SCOPE = "SELECT set_config('scim.directories', $1, false), set_config('scim.tenants', $2, false), set_config('scim.bypass', $3, false)";

/**
 * Connections that are sessions of their own (PostgreSQL itself, or a pooler in session mode):
 * each runs as scim_app from the moment it opens, and carries its holder's scope from statement
 * to statement. An executor's statement whose scope differs from the connection's last one
 * carries the new scope in the same round trip (queryAfter: the setting and the statement before
 * one Sync), so a process serving many directories, whose pooled connections change scope at
 * almost every statement, pays no round trip for it; one serving a single busy directory sends
 * nothing at all. A model statement gets its scope in a round trip of its own (the hook cannot
 * share Sequelize's); one outside any transaction gets no scope, so it sees nothing.
 */
export function sessionScoped(options: { appRole: boolean; named: (sql: string, values: unknown[]) => NamedStatement }): ScopeCarrier {
  const scopes = new WeakMap<ClientBase, string>();
  // Named: prepared once per connection, whether it goes alone or as a statement's prefix.
  const settingOf = (scope: Scope) => options.named(SET_SCOPE, [scope.directories, scope.tenants, scope.bypass ? 'on' : '']);
  const setScope = async (connection: ClientBase, scope: Scope): Promise<void> => {
    scopes.delete(connection);
    await connection.query(settingOf(scope));
    scopes.set(connection, scope.key);
  };
  // Synchronous when the connection already has the scope: no promise on the hot path.
  const ensureScope = (connection: ClientBase, scope: Scope): Promise<void> | undefined =>
    scopes.get(connection) === scope.key ? undefined : setScope(connection, scope);
  return {
    async opened(connection) {
      if (options.appRole) await connection.query(`SET ROLE ${APP_ROLE}`);
    },
    run(connection, scope, query) {
      if (scopes.get(connection) === scope.key) return connection.query(query);
      // Noted as queued: pg runs a connection's statements in the order they were made. If the
      // pair fails, the setting is undone with its (implicit or explicit) transaction.
      scopes.set(connection, scope.key);
      return queryAfter(connection, settingOf(scope), query).catch((err: unknown) => {
        scopes.delete(connection);
        throw err;
      });
    },
    // The transaction's first statement carries the scope (run), so BEGIN is all it costs.
    began: () => undefined,
    // A rollback undoes the settings made in the transaction too: what this process believes
    // the connection's scope is may be wrong now, so its next holder sets it afresh.
    rolledBack: (connection) => scopes.delete(connection),
    beforeSequelize(connection, scope) {
      const given = scope ?? (options.appRole ? NO_SCOPE : undefined);
      return given && ensureScope(connection, given);
    },
    afterSequelize: () => undefined,
  };
}

const SET_LOCAL_SCOPE =
  "SELECT set_config('role', $4, true), set_config('scim.directories', $1, true), set_config('scim.tenants', $2, true), set_config('scim.bypass', $3, true)";

/**
 * Connections through a transaction pooler (PgBouncer, pool_mode = transaction): consecutive
 * transactions of one client connection may run on different server connections, which other
 * clients use in between. So nothing is left on a session: every statement runs in a transaction
 * that takes the role and the scope LOCALLY (`set_config(…, true)`, as SET LOCAL), and they end
 * with it, committed or not.
 * - A statement alone runs in an implicit transaction together with its prefix, in one round
 *   trip (PrefixedQuery): the same round trips as session mode, plus PostgreSQL's running of the
 *   tiny prefix and the loss of named prepared statements.
 * - In a transaction, the first statement carries the prefix the same way, and so does each one
 *   whose scope differs from the last one given in that transaction. A model statement Sequelize
 *   runs gives it in a round trip of its own (the hook cannot share Sequelize's).
 * - A model statement outside any transaction runs between `BEGIN; SET LOCAL ROLE scim_app` and a
 *   ROLLBACK, with no scope: it sees nothing and keeps nothing, as in session mode.
 */
export function transactionScoped(options: { appRole: boolean }): ScopeCarrier {
  // The scope each open transaction was last given, as queued: pg sends a connection's queries
  // in the order they were made, so this is what the next statement queued will run in.
  const given = new WeakMap<Transaction, string>();
  const wrapped = new WeakSet<ClientBase>();
  const role = options.appRole ? APP_ROLE : 'none';
  const localScope = (scope: Scope) => ({ text: SET_LOCAL_SCOPE, values: [scope.directories, scope.tenants, scope.bypass ? 'on' : '', role] });
  return {
    opened: async () => undefined,
    run(connection, scope, query, t) {
      if (t && given.get(t) === scope.key) return connection.query(query);
      if (t) given.set(t, scope.key);
      return queryAfter(connection, localScope(scope), query);
    },
    began: () => undefined,
    rolledBack: () => undefined,
    beforeSequelize(connection, scope, t) {
      if (t) {
        if (!scope || given.get(t) === scope.key) return undefined;
        given.set(t, scope.key);
        const { text, values } = localScope(scope);
        return connection.query(text, values).then(() => undefined);
      }
      if (!options.appRole) return undefined;
      wrapped.add(connection);
      return connection.query(`BEGIN; SET LOCAL ROLE ${APP_ROLE}`).then(() => undefined);
    },
    afterSequelize(connection) {
      if (!wrapped.delete(connection)) return undefined;
      return connection.query('ROLLBACK').then(() => undefined);
    },
  };
}
