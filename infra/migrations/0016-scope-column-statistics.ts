import type { Migration } from '../scripts/migrator';

/**
 * The columns that name a customer's container (tenant, directory, webhook endpoint) keep at most
 * one most common value: statistics target 1 instead of the default 100.
 *
 * With the default, ANALYZE lists every directory of an installation with fewer than 100 of them,
 * and the planner estimates a directory absent from that list (one created since: a new customer
 * running Entra's initial cycle, the busiest directory there is) at one row. A probe by primary key
 * then costs the same as a walk over the directory's whole range of any index led by directory_id,
 * and the planner took the walk: a member `Add` read every user of the directory (3 ms a PATCH at
 * 2,000 users, the largest statement of the tenants-at-once bench). With target 1 the list holds at
 * most the largest value, the distinct count is still taken from the whole sample, and any other
 * directory is estimated at the average size, so key probes win. Autovacuum's analyze does not fix
 * this in time: it runs when a tenth of the table has changed, long after a new customer's cycle.
 *
 * Partitions of `events` created later copy the parent's per-column targets
 * (events_partition_create, first made in 0014).
 */
const COLUMNS: Readonly<Record<string, readonly string[]>> = {
  api_keys: ['tenant_id', 'directory_id'],
  audit_exports: ['tenant_id'],
  directories: ['tenant_id'],
  directory_activity: ['tenant_id', 'directory_id'],
  events: ['tenant_id', 'directory_id', 'endpoint_id'],
  extension_schemas: ['tenant_id', 'directory_id'],
  group_members: ['tenant_id', 'directory_id'],
  reconcile_reemits: ['directory_id'],
  reconcile_reports: ['tenant_id', 'directory_id'],
  resource_counters: ['directory_id'],
  scim_groups: ['tenant_id', 'directory_id'],
  scim_request_log: ['tenant_id', 'directory_id'],
  scim_users: ['tenant_id', 'directory_id'],
  setup_links: ['tenant_id', 'directory_id'],
  webhook_attempts: ['tenant_id'],
  webhook_deliveries: ['tenant_id', 'endpoint_id'],
  webhook_endpoints: ['tenant_id'],
};

const PARTITION_CREATE = (copyTargets: boolean) => `
  CREATE OR REPLACE FUNCTION events_partition_create(lo timestamptz, hi timestamptz) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '1s' AS $$
  DECLARE
    part text := 'events_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
    qual text;
    checked text;
    col record;
  BEGIN
    IF to_regclass(part) IS NOT NULL THEN RETURN NULL; END IF;
    SELECT pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) INTO qual, checked
      FROM pg_policy WHERE polrelid = 'events'::regclass AND polname = 'scoped';
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)', part, events_id_floor(lo), events_id_floor(hi));
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
    EXECUTE format('CREATE POLICY scoped ON %I USING (%s) WITH CHECK (%s)', part, qual, checked);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO scim_app', part);
    ${
      copyTargets
        ? `FOR col IN SELECT attname, attstattarget FROM pg_attribute
                   WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped AND attstattarget >= 0 LOOP
      EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STATISTICS %s', part, col.attname, col.attstattarget);
    END LOOP;`
        : ''
    }
    RETURN part;
  END $$;
  REVOKE ALL ON FUNCTION events_partition_create(timestamptz, timestamptz) FROM PUBLIC;`;

const setTargets = (target: number) =>
  Object.entries(COLUMNS)
    .map(([table, columns]) => `ALTER TABLE ${table} ${columns.map((c) => `ALTER COLUMN ${c} SET STATISTICS ${target}`).join(', ')};`)
    .join('\n');

export const up: Migration = async ({ context: sql }) => {
  // SET STATISTICS on `events` reaches its existing partitions; the function, the ones to come.
  await sql(`${setTargets(1)}\n${PARTITION_CREATE(true)}`);
  // Statistics already gathered for these columns stay until they are analyzed again (ANALYZE
  // samples the heap itself: row-level security does not apply to it).
  await sql(
    Object.entries(COLUMNS)
      .map(([table, columns]) => `ANALYZE ${table} (${columns.join(', ')});`)
      .join('\n'),
  );
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`${setTargets(-1)}\n${PARTITION_CREATE(false)}`);
};
