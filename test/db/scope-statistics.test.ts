/**
 * The columns naming a customer's container keep at most one most common value (migration 0016),
 * so a directory ANALYZE has not seen yet is planned at the average size instead of one row, and
 * a probe by primary key is not turned into a walk over the directory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { type PrivateDatabase, createPrivateDatabase } from '../support/private-database';

const SCOPE_COLUMNS = ['tenant_id', 'directory_id', 'endpoint_id'];

/** The node types and index names of a JSON plan, depth first, with each index scan's condition. */
function scans(plan: Record<string, unknown>): string[] {
  const own = plan['Index Name'] ? [`${plan['Node Type']} ${plan['Index Name']}: ${plan['Index Cond'] ?? ''}`] : [];
  const children = (plan.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [...own, ...children.flatMap(scans)];
}

describe('scope-statistics', () => {
  let db: PrivateDatabase;
  const owner = () => new Client({ connectionString: db.url });
  let c: Client;
  before(async () => {
    db = await createPrivateDatabase('scope_stats');
    c = owner();
    await c.connect();
    // Row-level security is forced even for the owner: the fixtures are written as the operator.
    await c.query("SET scim.bypass = 'on'");
  });
  after(async () => {
    await c?.end();
    await db?.drop();
  });

  it('the catalog › every tenant, directory and endpoint column of every table and partition has statistics target 1', async () => {
    const { rows } = await c.query<{ at: string; target: number }>(
      `SELECT c.relname || '.' || a.attname AS at, a.attstattarget AS target
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          AND a.attname = ANY ($1) AND NOT a.attisdropped
        ORDER BY 1`,
      [SCOPE_COLUMNS],
    );
    assert.ok(
      rows.some((r) => r.at.startsWith('events_p')),
      'an events partition is checked',
    );
    assert.deepEqual(
      rows.filter((r) => r.target !== 1),
      [],
    );
  });

  it('a partition created later › takes the parent’s targets', async () => {
    const { rows } = await c.query<{ made: string }>("SELECT events_partition_create('2099-01-01T00:00:00Z', '2099-02-01T00:00:00Z') AS made");
    assert.equal(rows[0]?.made, 'events_p20990101');
    const { rows: targets } = await c.query<{ attname: string; attstattarget: number }>(
      `SELECT attname, attstattarget FROM pg_attribute
        WHERE attrelid = 'events_p20990101'::regclass AND attname = ANY ($1) ORDER BY 1`,
      [SCOPE_COLUMNS],
    );
    assert.deepEqual(
      targets.map((t) => [t.attname, t.attstattarget]),
      [
        ['directory_id', 1],
        ['endpoint_id', 1],
        ['tenant_id', 1],
      ],
    );
  });

  it('a directory created after ANALYZE › a member check probes the primary key, not the directory’s range', async () => {
    const tenant = '01900000-0000-7000-8000-000000000001';
    const dirs = ['01900000-0000-7000-8000-0000000000d1', '01900000-0000-7000-8000-0000000000d2', '01900000-0000-7000-8000-0000000000d3'];
    await c.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'stats']);
    const fill = async (directory: string, users: number) => {
      await c.query("INSERT INTO directories (id, tenant_id, name, provider, region) VALUES ($1, $2, $3, 'entra', 'eu')", [
        directory,
        tenant,
        `directory ${directory}`,
      ]);
      await c.query(
        `INSERT INTO scim_users (directory_id, tenant_id, id, user_name, display_name, data)
         SELECT $1, $2, gen_random_uuid(), 'u' || n || '@' || $4, 'User ' || n, '{}' FROM generate_series(1, $3) AS n`,
        [directory, tenant, users, directory.slice(-2)],
      );
    };
    await fill(dirs[0] as string, 500);
    await fill(dirs[1] as string, 500);
    await c.query('ANALYZE scim_users');
    // The new customer's directory, unseen by ANALYZE, filling up as Entra's initial cycle does.
    await fill(dirs[2] as string, 500);
    const { rows } = await c.query<{ 'QUERY PLAN': [{ Plan: Record<string, unknown> }] }>(
      `EXPLAIN (FORMAT JSON)
       SELECT m.id FROM unnest($1::uuid[]) AS m (id)
        WHERE NOT EXISTS (SELECT 1 FROM scim_users u WHERE u.directory_id = $2 AND u.id = m.id)`,
      [['01900000-0000-7000-8000-00000000aaaa'], dirs[2]],
    );
    const plan = rows[0]?.['QUERY PLAN'][0].Plan as Record<string, unknown>;
    const found = scans(plan);
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0] as string, /scim_users_pkey: .*directory_id = .*AND .*id = m\.id/);
  });
});
