import { type QueryConfig, type QueryResult, Query } from 'pg';

/**
 * The parts of pg's Query (lib/query.js) this class builds on; @types/pg declares only its
 * public face. The wire messages are pg's own Connection methods.
 */
interface QueryInternals {
  prepare(connection: WireConnection): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: WireConnection): void;
}
interface WireConnection {
  parse(message: { text: string }): void;
  bind(message: { values: unknown[] }): void;
  execute(message: Record<string, never>): void;
}

/**
 * One statement preceded by another, in a single round trip and a single transaction: the
 * prefix's Parse/Bind/Execute go out with the statement's Parse/Bind/Describe/Execute before one
 * Sync. Without an explicit BEGIN, PostgreSQL runs everything up to a Sync as one implicit
 * transaction ("Extended Query" in the protocol chapter of its manual), so a setting the prefix
 * makes with `set_config(…, true)` holds for the statement and ends with it; inside a BEGIN it
 * lasts until COMMIT. If either fails, PostgreSQL skips to the Sync and the error is the
 * statement's. The prefix's rows (it is executed without Describe) are dropped; the result is the
 * statement's alone. The prefix runs unnamed; the statement keeps the name it was given, and
 * through a transaction pooler it is given none (PgBouncer before 1.21 cannot follow named
 * prepared statements across server connections).
 */
class PrefixedQuery extends Query {
  private prefixPending = true;

  constructor(
    private readonly prefix: { readonly text: string; readonly values: unknown[] },
    statement: QueryConfig,
    callback: (err: Error | undefined, result: QueryResult) => void,
  ) {
    // Extended mode even without values, so the prefix and the statement share one Sync. A named
    // statement stays named (session mode): pg parses it once per connection, as it would alone.
    super({ text: statement.text, values: statement.values, name: statement.name, queryMode: 'extended' } as QueryConfig, callback);
  }

  prepare(connection: WireConnection): void {
    connection.parse({ text: this.prefix.text });
    connection.bind({ values: this.prefix.values });
    connection.execute({});
    (Query.prototype as unknown as QueryInternals).prepare.call(this, connection);
  }

  handleDataRow(message: unknown): void {
    if (!this.prefixPending) (Query.prototype as unknown as QueryInternals).handleDataRow.call(this, message);
  }

  handleCommandComplete(message: unknown, connection: WireConnection): void {
    if (this.prefixPending) {
      this.prefixPending = false;
      return;
    }
    (Query.prototype as unknown as QueryInternals).handleCommandComplete.call(this, message, connection);
  }
}

/** Runs `statement` on `client` right after `prefix`, as described on PrefixedQuery. */
export function queryAfter(
  client: { query(query: Query): unknown },
  prefix: { readonly text: string; readonly values: unknown[] },
  statement: QueryConfig,
): Promise<QueryResult> {
  return new Promise((resolve, reject) => {
    client.query(new PrefixedQuery(prefix, statement, (err, result) => (err ? reject(err) : resolve(result))));
  });
}
