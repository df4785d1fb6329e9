import { type QueryConfig, type QueryResult, Query } from 'pg';

/**
 * The parts of pg's Query (lib/query.js) this class builds on; @types/pg declares only its
 * public face. The wire messages are pg's own Connection methods.
 */
interface QueryInternals {
  prepare(connection: WireConnection): void;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: WireConnection): void;
  handleError(err: Error, connection: WireConnection): void;
}
interface WireConnection {
  parse(message: { text: string; name?: string }): void;
  bind(message: { statement?: string; values: unknown[] }): void;
  execute(message: Record<string, never>): void;
  /** pg's record of the named statements this connection has prepared, or has sent to be. */
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
}

/** A statement with its values; a `name` makes it a prepared statement of the connection (session mode). */
export interface NamedStatement {
  readonly text: string;
  readonly values: unknown[];
  readonly name?: string;
}

/**
 * Connections on which a named prefix's Parse was sent and an error came before the prefix had
 * run, so whether PostgreSQL kept it is unknown: they send the prefix unnamed from then on.
 */
const uncertain = new WeakSet<WireConnection>();

/**
 * One statement preceded by another, in a single round trip and a single transaction: the
 * prefix's Parse/Bind/Execute go out with the statement's Parse/Bind/Describe/Execute before one
 * Sync. Without an explicit BEGIN, PostgreSQL runs everything up to a Sync as one implicit
 * transaction ("Extended Query" in the protocol chapter of its manual), so a setting the prefix
 * makes with `set_config(…, true)` holds for the statement and ends with it; inside a BEGIN it
 * lasts until COMMIT. If either fails, PostgreSQL skips to the Sync and the error is the
 * statement's. The prefix's rows (it is executed without Describe) are dropped; the result is the
 * statement's alone. A named prefix is parsed once per connection, like a named statement (in
 * session mode every pooled connection changes scope at almost every statement, so the prefix is
 * the most frequent statement of all); through a transaction pooler both go unnamed (PgBouncer
 * before 1.21 cannot follow named prepared statements across server connections).
 */
class PrefixedQuery extends Query {
  private prefixPending = true;
  /** The name the prefix's Parse went out under with this query, if it did. */
  private parsingAs: string | undefined;

  constructor(
    private readonly prefix: NamedStatement,
    statement: QueryConfig,
    callback: (err: Error | undefined, result: QueryResult) => void,
  ) {
    // Extended mode even without values, so the prefix and the statement share one Sync. A named
    // statement stays named (session mode): pg parses it once per connection, as it would alone.
    super({ text: statement.text, values: statement.values, name: statement.name, queryMode: 'extended' } as QueryConfig, callback);
  }

  prepare(connection: WireConnection): void {
    const { text, values } = this.prefix;
    const name = uncertain.has(connection) ? undefined : this.prefix.name;
    if (name === undefined) {
      connection.parse({ text });
    } else if (connection.parsedStatements[name] === undefined && connection.submittedNamedStatements[name] === undefined) {
      connection.parse({ text, name });
      connection.submittedNamedStatements[name] = text;
      this.parsingAs = name;
    }
    connection.bind({ statement: name, values });
    connection.execute({});
    (Query.prototype as unknown as QueryInternals).prepare.call(this, connection);
  }

  handleError(err: Error, connection: WireConnection): void {
    if (this.prefixPending && this.parsingAs !== undefined) {
      delete connection.submittedNamedStatements[this.parsingAs];
      uncertain.add(connection);
    }
    (Query.prototype as unknown as QueryInternals).handleError.call(this, err, connection);
  }

  handleDataRow(message: unknown): void {
    if (!this.prefixPending) (Query.prototype as unknown as QueryInternals).handleDataRow.call(this, message);
  }

  handleCommandComplete(message: unknown, connection: WireConnection): void {
    if (this.prefixPending) {
      this.prefixPending = false;
      if (this.parsingAs !== undefined) {
        connection.parsedStatements[this.parsingAs] = this.prefix.text;
        delete connection.submittedNamedStatements[this.parsingAs];
      }
      return;
    }
    (Query.prototype as unknown as QueryInternals).handleCommandComplete.call(this, message, connection);
  }
}

/** Runs `statement` on `client` right after `prefix`, as described on PrefixedQuery. */
export function queryAfter(client: { query(query: Query): unknown }, prefix: NamedStatement, statement: QueryConfig): Promise<QueryResult> {
  return new Promise((resolve, reject) => {
    client.query(new PrefixedQuery(prefix, statement, (err, result) => (err ? reject(err) : resolve(result))));
  });
}
