/**
 * A statement and its prefix in one round trip (shared/db/prefixed-query.ts), on a real
 * PostgreSQL session. A named prefix is parsed once per connection; when a query fails before its
 * prefix has run, whether PostgreSQL kept the prefix is unknown, and the connection must keep
 * working rather than bind to a statement that may not exist.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { queryAfter } from '../../shared/db/prefixed-query';

describe('a statement after a prefix', () => {
  const client = new Client({ connectionString: config.DATABASE_URL });
  const table = `prefix_probe_${process.pid}`;
  before(async () => {
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${table}`);
  });
  after(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  const prepared = async (name: string) =>
    (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = $1', [name])).rows[0].n;

  it('a named prefix › parsed once, then bound by name; the statement gets only its own rows', async () => {
    const prefix = { name: 'probe_setting', text: "SELECT set_config('probe.value', $1, false)", values: ['one'] };
    for (const value of ['one', 'two', 'three']) {
      const result = await queryAfter(
        client,
        { ...prefix, values: [value] },
        { text: "SELECT current_setting('probe.value') AS value, $1::int AS n", values: [7] },
      );
      assert.deepEqual(result.rows, [{ value, n: 7 }]);
    }
    assert.equal(await prepared('probe_setting'), 1);
  });

  it('a named prefix that failed to parse › the connection sends it unnamed afterwards, and it works once it can', async () => {
    const prefix = { name: 'probe_later', text: `SELECT count(*) FROM ${table}`, values: [] };
    // The prefix's table does not exist yet: its Parse fails, and so does the query.
    await assert.rejects(queryAfter(client, prefix, { text: 'SELECT 1 AS one', values: [] }), (err: { code?: string }) => err.code === '42P01');
    await client.query(`CREATE TABLE ${table} (id int)`);
    // Bound by name, this would fail with "prepared statement does not exist" on this connection forever.
    const result = await queryAfter(client, prefix, { text: 'SELECT 1 AS one', values: [] });
    assert.deepEqual(result.rows, [{ one: 1 }]);
    assert.equal(await prepared('probe_later'), 0);
  });
});
