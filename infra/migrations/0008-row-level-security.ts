import type { Migration } from '../scripts/migrator';

/**
 * PostgreSQL itself refuses another tenant's rows: the backstop under the bound repositories.
 *
 * The application's sessions run as `scim_app` (shared/db/sequelize.ts sets the role on every
 * pooled connection), a role without superuser or BYPASSRLS, so every policy below applies to
 * it; FORCE applies them to the tables' owner too. What a session may see is its scope, three
 * settings each statement's executor puts on the connection before the statement runs:
 * - `scim.directories`: the directories of a directory-bound executor (comma-separated ids);
 * - `scim.tenants`: the tenant of a tenant-bound executor;
 * - `scim.bypass` = `on`: the operator's explicit, named reads and writes across tenants.
 * Unset (a connection nobody scoped) they match nothing: an unscoped query reads no row and
 * writes none. Each setting is read once per statement (the scalar subqueries become InitPlans),
 * so a policy costs a comparison per row, and `= ANY(...)` can use the tables' indexes.
 */
/** Directory rows read through indexes led by directory_id (see DIRECTORY_ROWS below). */
const DIRECTORY_ONLY = ['scim_users', 'scim_groups', 'group_members'];
const TENANT_AND_DIRECTORY = ['events', 'api_keys', 'reconcile_reports'];
const TENANT_ONLY = ['directories', 'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'audit_exports'];

const BYPASS = '(SELECT scim_scope_bypass())';
const IN_DIRECTORY = 'directory_id = ANY ((SELECT scim_scope_directories())::uuid[])';
const IN_TENANT = 'tenant_id = ANY ((SELECT scim_scope_tenants())::uuid[])';

/**
 * A tenant's scope reaches the resource tables through its directories, so their policy reads
 * directory_id alone: a page that skips a thousand ids then stays an index-only scan of the
 * primary key. With `tenant_id` in the policy every skipped row was fetched from the table to be
 * checked, which made deep pages far dearer (BENCHMARKS.md has the figures). The subquery is only
 * run, once, for a tenant's scope; a directory's scope is decided by the first comparison.
 */
const IN_TENANT_DIRECTORIES = 'directory_id IN (SELECT d.id FROM directories d WHERE d.tenant_id = ANY ((SELECT scim_scope_tenants())::uuid[]))';

const POLICIES: Record<string, string> = {
  ...Object.fromEntries(DIRECTORY_ONLY.map((t) => [t, `${BYPASS} OR ${IN_DIRECTORY} OR ${IN_TENANT_DIRECTORIES}`])),
  ...Object.fromEntries(TENANT_AND_DIRECTORY.map((t) => [t, `${BYPASS} OR ${IN_DIRECTORY} OR ${IN_TENANT}`])),
  ...Object.fromEntries(TENANT_ONLY.map((t) => [t, `${BYPASS} OR ${IN_TENANT}`])),
  // Per-directory counters, kept by triggers on the resource tables.
  resource_counters: `${BYPASS} OR ${IN_DIRECTORY}`,
  // A reconciliation's progress rows belong to its report, which the policy above scopes.
  reconcile_reemits: `${BYPASS} OR EXISTS (SELECT 1 FROM reconcile_reports r WHERE r.id = report_id)`,
};

export const up: Migration = async ({ context: sql }) => {
  // Roles belong to the cluster, not the database: another database of the same cluster (a
  // second environment, a test run beside this one) may have made it first.
  await sql(`
    DO $$ BEGIN
      CREATE ROLE scim_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$;
  `);
  await sql(`
    DO $$ BEGIN
      GRANT scim_app TO CURRENT_USER;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$;
    GRANT USAGE ON SCHEMA public TO scim_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO scim_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO scim_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO scim_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO scim_app;

    CREATE FUNCTION scim_scope_directories() RETURNS uuid[] LANGUAGE sql STABLE PARALLEL SAFE
      AS $$ SELECT string_to_array(nullif(current_setting('scim.directories', true), ''), ',')::uuid[] $$;
    CREATE FUNCTION scim_scope_tenants() RETURNS uuid[] LANGUAGE sql STABLE PARALLEL SAFE
      AS $$ SELECT string_to_array(nullif(current_setting('scim.tenants', true), ''), ',')::uuid[] $$;
    CREATE FUNCTION scim_scope_bypass() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
      AS $$ SELECT coalesce(current_setting('scim.bypass', true), '') = 'on' $$;
  `);
  for (const [table, condition] of Object.entries(POLICIES)) {
    await sql(`
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY scoped ON ${table} USING (${condition}) WITH CHECK (${condition});
    `);
  }
  // Platform-wide extension schemas (no tenant) are read by every directory; written only by the operator.
  await sql(`
    ALTER TABLE extension_schemas ENABLE ROW LEVEL SECURITY;
    ALTER TABLE extension_schemas FORCE ROW LEVEL SECURITY;
    CREATE POLICY scoped ON extension_schemas USING (${BYPASS} OR ${IN_DIRECTORY} OR ${IN_TENANT}) WITH CHECK (${BYPASS} OR ${IN_DIRECTORY} OR ${IN_TENANT});
    CREATE POLICY platform_wide ON extension_schemas FOR SELECT USING (tenant_id IS NULL);
  `);
};

export const down: Migration = async ({ context: sql }) => {
  for (const table of [...Object.keys(POLICIES), 'extension_schemas']) {
    await sql(`
      DROP POLICY IF EXISTS scoped ON ${table};
      DROP POLICY IF EXISTS platform_wide ON ${table};
      ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY;
      ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY;
    `);
  }
  await sql(`
    DROP FUNCTION IF EXISTS scim_scope_directories();
    DROP FUNCTION IF EXISTS scim_scope_tenants();
    DROP FUNCTION IF EXISTS scim_scope_bypass();
  `);
};
