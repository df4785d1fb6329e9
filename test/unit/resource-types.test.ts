/**
 * The resource descriptors against the migrated catalog: every column the filter compiler and
 * the writes name exists with the type and nullability the descriptor claims, each folded column
 * is the stored lower() of its column, each unique index exists on the column writers lock, the
 * counters' triggers count under the descriptor's resource type, and the membership table points
 * at the table. So a migration and the descriptor cannot drift apart unnoticed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { GROUP_RESOURCE, RESOURCE_TYPES, type ResourceDescriptor, type StoredColumn, USER_RESOURCE } from '../../shared/db/resource-types';

interface Column {
  readonly type: string;
  readonly nullable: boolean;
  readonly generated: string | null;
}

/** What the checks read from PostgreSQL, by table. */
interface Catalog {
  readonly columns: ReadonlyMap<string, ReadonlyMap<string, Column>>;
  /** Index name → its definition (pg_indexes.indexdef). */
  readonly indexes: ReadonlyMap<string, string>;
  readonly triggers: ReadonlyMap<string, readonly string[]>;
  readonly foreignKeys: ReadonlyMap<string, readonly string[]>;
}

const PG_TYPES: Record<StoredColumn['type'], string> = {
  uuid: 'uuid',
  text: 'text',
  boolean: 'boolean',
  timestamptz: 'timestamp with time zone',
  etag: 'integer',
};

async function readCatalog(client: Client): Promise<Catalog> {
  const tables = [...new Set(Object.values(RESOURCE_TYPES).flatMap((d) => [d.table, d.membership.table]))];
  const columns = await client.query<{ table: string; column: string; type: string; nullable: string; generated: string | null }>(
    `SELECT table_name AS table, column_name AS column, data_type AS type, is_nullable AS nullable, generation_expression AS generated
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [tables],
  );
  const indexes = await client.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY($1)`,
    [tables],
  );
  const triggers = await client.query<{ table: string; def: string }>(
    `SELECT c.relname AS table, pg_get_triggerdef(t.oid) AS def FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`,
    [tables],
  );
  const foreignKeys = await client.query<{ table: string; def: string }>(
    `SELECT c.relname AS table, pg_get_constraintdef(k.oid) AS def FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
      WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)`,
    [tables],
  );
  const byTable = new Map<string, Map<string, Column>>();
  for (const c of columns.rows) {
    if (!byTable.has(c.table)) byTable.set(c.table, new Map());
    byTable.get(c.table)!.set(c.column, { type: c.type, nullable: c.nullable === 'YES', generated: c.generated });
  }
  const grouped = (rows: { table: string; def: string }[]) => {
    const map = new Map<string, string[]>();
    for (const r of rows) map.set(r.table, [...(map.get(r.table) ?? []), r.def]);
    return map;
  };
  return {
    columns: byTable,
    indexes: new Map(indexes.rows.map((i) => [i.name, i.def])),
    triggers: grouped(triggers.rows),
    foreignKeys: grouped(foreignKeys.rows),
  };
}

/** Every way `d` disagrees with the catalog, one line each; empty when they agree. */
function drift(d: ResourceDescriptor, catalog: Catalog): string[] {
  const problems: string[] = [];
  const columns = catalog.columns.get(d.table);
  if (!columns) return [`table ${d.table} does not exist`];
  const column = (name: string, table: string = d.table) => {
    const found = catalog.columns.get(table)?.get(name);
    if (!found) problems.push(`${table}.${name} does not exist`);
    return found;
  };

  for (const [path, stored] of Object.entries(d.attributes)) {
    const c = column(stored.column);
    if (c && c.type !== PG_TYPES[stored.type]) problems.push(`${path}: ${d.table}.${stored.column} is ${c.type}, not ${PG_TYPES[stored.type]}`);
    if (c && c.nullable === stored.notNull) problems.push(`${path}: ${d.table}.${stored.column} is ${c.nullable ? 'nullable' : 'NOT NULL'}`);
    if (stored.folded !== undefined) {
      const f = column(stored.folded);
      if (f && f.generated !== `lower(${stored.column})`) problems.push(`${path}: ${d.table}.${stored.folded} is not the stored lower(${stored.column})`);
    }
  }
  for (const name of d.dataColumns) column(name);

  for (const u of d.unique) {
    const def = catalog.indexes.get(u.index);
    const on = `ON ${d.table} USING btree (directory_id, ${u.folded ?? u.column})`;
    if (!def) problems.push(`unique index ${u.index} does not exist`);
    else if (!def.startsWith('CREATE UNIQUE INDEX') || !def.replace(/ ON \w+\./, ' ON ').includes(on)) problems.push(`${u.index} is not unique ${on}: ${def}`);
  }

  const triggers = catalog.triggers.get(d.table) ?? [];
  for (const counter of ['resource_counters_inserted', 'resource_counters_deleted']) {
    if (!triggers.some((t) => t.includes(`${counter}('${d.resourceType}')`))) problems.push(`no trigger on ${d.table} calls ${counter}('${d.resourceType}')`);
  }

  const { table, own, other } = d.membership;
  column(own, table);
  column(other, table);
  const reference = `FOREIGN KEY (directory_id, ${own}) REFERENCES ${d.table}(directory_id, id)`;
  if (!(catalog.foreignKeys.get(table) ?? []).some((k) => k.startsWith(reference))) problems.push(`${table} has no ${reference}`);
  return problems;
}

describe('resource descriptors › the migrated catalog', () => {
  const client = new Client({ connectionString: config.DATABASE_URL });
  let catalog: Catalog;
  before(async () => {
    await client.connect();
    catalog = await readCatalog(client);
  });
  after(() => client.end());

  for (const d of Object.values(RESOURCE_TYPES)) {
    it(`${d.resourceType} › columns, folded columns, unique indexes, counters and membership › agree with ${d.table}`, () => {
      assert.deepEqual(drift(d, catalog), []);
    });
  }

  it('a descriptor naming a column, index and type the migrations lack › every mismatch is reported', () => {
    // Guards the test above against passing because the checks read nothing.
    const wrong: ResourceDescriptor = {
      ...USER_RESOURCE,
      resourceType: 'Group',
      attributes: {
        ...USER_RESOURCE.attributes,
        nickName: { column: 'nick_name', type: 'text', notNull: false },
        active: { column: 'active', type: 'text', notNull: true },
      },
      unique: [{ index: 'scim_users_display_name_idx', attribute: 'displayName', column: 'display_name', folded: 'display_name_folded' }],
      membership: { ...USER_RESOURCE.membership, own: 'group_id' },
    };
    const problems = drift(wrong, catalog);
    for (const expected of [
      'scim_users.nick_name does not exist',
      'active: scim_users.active is boolean',
      'scim_users_display_name_idx is not unique',
      "resource_counters_inserted('Group')",
      'group_members has no FOREIGN KEY (directory_id, group_id) REFERENCES scim_users',
    ]) {
      assert.ok(
        problems.some((p) => p.includes(expected)),
        `"${expected}" not among: ${problems.join('; ')}`,
      );
    }
  });
});

describe('resource descriptors › shape', () => {
  it('the membership sides › each names the column the other calls its own', () => {
    assert.equal(USER_RESOURCE.membership.table, GROUP_RESOURCE.membership.table);
    assert.deepEqual([USER_RESOURCE.membership.own, USER_RESOURCE.membership.other], [GROUP_RESOURCE.membership.other, GROUP_RESOURCE.membership.own]);
  });

  it('a descriptor › is frozen through its attributes and unique indexes', () => {
    for (const d of [USER_RESOURCE, GROUP_RESOURCE]) {
      assert.ok(Object.isFrozen(d) && Object.isFrozen(d.attributes) && Object.isFrozen(d.unique) && Object.isFrozen(d.membership));
      assert.ok(Object.values(d.attributes).every(Object.isFrozen) && d.unique.every(Object.isFrozen));
      assert.throws(() => {
        (d.attributes as Record<string, StoredColumn>).nickName = { column: 'nick_name', type: 'text', notNull: false };
      }, TypeError);
    }
  });
});
