/**
 * The schema can be distributed by Citus as planned in shared/db/distribution.ts: every table has
 * a place in the plan, a distributed table's distribution column is NOT NULL and leads its primary
 * key and every unique index, and a foreign key between distributed tables joins their
 * distribution columns (co-location); reference tables reference no distributed table. Citus's
 * rules: https://docs.citusdata.com/en/stable/develop/migration_mt_schema.html
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { DISTRIBUTION, type Placement } from '../../shared/db/distribution';

const distributedBy = (p: Placement | undefined) => (typeof p === 'object' ? p.distributedBy : undefined);

/** What keeps `schema`'s tables from being distributed as `plan` says, one line per problem. */
async function citusViolations(db: Client, schema: string, plan: Readonly<Record<string, Placement>>): Promise<string[]> {
  const problems: string[] = [];
  const { rows: tables } = await db.query<{ table: string }>(
    `SELECT relname AS table FROM pg_class
      WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1`,
    [schema],
  );
  const present = new Set(tables.map((t) => t.table));
  for (const { table } of tables) if (!(table in plan)) problems.push(`${table}: not in the distribution plan`);
  for (const table of Object.keys(plan)) if (!present.has(table)) problems.push(`${table}: in the plan but not in the schema`);

  const { rows: columns } = await db.query<{ table: string; column: string; not_null: boolean }>(
    `SELECT c.relname AS table, a.attname AS column, a.attnotnull AS not_null
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  for (const { table } of tables) {
    const column = distributedBy(plan[table]);
    if (!column) continue;
    const col = columns.find((c) => c.table === table && c.column === column);
    if (!col) problems.push(`${table}: no column ${column}`);
    else if (!col.not_null) problems.push(`${table}: ${column} is nullable`);
  }

  // Unique indexes, primary keys and UNIQUE constraints alike; a partition's are its parent's.
  const { rows: uniques } = await db.query<{ table: string; index: string; columns: (string | null)[] }>(
    `SELECT c.relname AS table, i.relname AS index,
            array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k (attnum, n)
                    LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                   WHERE k.n <= x.indnkeyatts ORDER BY k.n) AS columns
       FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indisunique AND c.relnamespace = $1::regnamespace AND NOT c.relispartition
      ORDER BY 1, 2`,
    [schema],
  );
  for (const u of uniques) {
    const column = distributedBy(plan[u.table]);
    if (column && u.columns[0] !== column) problems.push(`${u.table}: unique index ${u.index} (${u.columns.join(', ')}) is not led by ${column}`);
  }

  const { rows: fks } = await db.query<{ from: string; to: string; name: string; from_columns: string[]; to_columns: string[] }>(
    `SELECT f.relname AS from, t.relname AS to, k.conname AS name,
            array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS x (attnum, n)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.attnum ORDER BY x.n) AS from_columns,
            array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS x (attnum, n)
                    JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.attnum ORDER BY x.n) AS to_columns
       FROM pg_constraint k JOIN pg_class f ON f.oid = k.conrelid JOIN pg_class t ON t.oid = k.confrelid
      WHERE k.contype = 'f' AND k.conparentid = 0 AND k.connamespace = $1::regnamespace AND NOT f.relispartition
      ORDER BY 1, 3`,
    [schema],
  );
  for (const fk of fks) {
    const from = plan[fk.from];
    const to = plan[fk.to];
    if (to === 'reference' && from !== 'local') continue;
    if (from === 'reference' || from === 'local' || to === 'local') {
      problems.push(`${fk.from}: foreign key ${fk.name} from a ${String(from)} table to a ${distributedBy(to) ? 'distributed' : String(to)} table`);
      continue;
    }
    const fromColumn = distributedBy(from);
    const toColumn = distributedBy(to);
    const at = fk.from_columns.indexOf(fromColumn ?? '');
    if (fromColumn !== toColumn || at < 0 || fk.to_columns[at] !== toColumn) {
      problems.push(
        `${fk.from}: foreign key ${fk.name} (${fk.from_columns.join(', ')}) → ${fk.to} (${fk.to_columns.join(', ')}) does not join the distribution columns`,
      );
    }
  }
  return problems;
}

describe('citus-ready › the catalog', () => {
  const owner = new Client({ connectionString: config.DATABASE_URL });
  const plant = `citus_plant_${process.pid}`;
  before(async () => {
    await owner.connect();
    await owner.query(`DROP SCHEMA IF EXISTS ${plant} CASCADE; CREATE SCHEMA ${plant}`);
  });
  after(async () => {
    await owner.query(`DROP SCHEMA IF EXISTS ${plant} CASCADE`);
    await owner.end();
  });

  it('the migrated schema › every table placed, every key led by its distribution column, every foreign key co-located', async () => {
    assert.deepEqual(await citusViolations(owner, 'public', DISTRIBUTION), []);
  });

  it('a planted schema that breaks each rule › each break reported', async () => {
    await owner.query(`
      CREATE TABLE ${plant}.tenants (id uuid PRIMARY KEY);
      CREATE TABLE ${plant}.unlisted (id uuid PRIMARY KEY);
      CREATE TABLE ${plant}.feed (tenant_id uuid NOT NULL REFERENCES ${plant}.tenants (id), id uuid PRIMARY KEY);
      CREATE TABLE ${plant}.sends (
        tenant_id uuid, id uuid, feed_id uuid REFERENCES ${plant}.feed (id),
        UNIQUE (id, tenant_id));
      CREATE TABLE ${plant}.lookups (id uuid PRIMARY KEY, feed_id uuid REFERENCES ${plant}.feed (id));
    `);
    const plan: Record<string, Placement> = {
      tenants: 'reference',
      feed: { distributedBy: 'tenant_id' },
      sends: { distributedBy: 'tenant_id' },
      lookups: 'reference',
      gone: 'reference',
    };
    assert.deepEqual((await citusViolations(owner, plant, plan)).sort(), [
      'feed: unique index feed_pkey (id) is not led by tenant_id',
      'gone: in the plan but not in the schema',
      'lookups: foreign key lookups_feed_id_fkey from a reference table to a distributed table',
      'sends: foreign key sends_feed_id_fkey (feed_id) → feed (id) does not join the distribution columns',
      'sends: tenant_id is nullable',
      'sends: unique index sends_id_tenant_id_key (id, tenant_id) is not led by tenant_id',
      'unlisted: not in the distribution plan',
    ]);
  });
});
