/**
 * How the tables would be spread over a Citus cluster: the one place that says it. The schema
 * keeps to it already (test/db/citus-ready.test.ts reads the catalog): a distributed table's
 * primary key and unique indexes lead with its distribution column, and a foreign key between
 * distributed tables joins their distribution columns, as Citus requires
 * (https://docs.citusdata.com/en/stable/sharding/data_modeling.html). Nothing reads this at run
 * time: moving to Citus is `create_reference_table` / `create_distributed_table(t, column,
 * colocate_with => …)` per entry, in a migration of the deployment that adopts it.
 *
 * - `reference`: small, read by every request or joined by every shard, written rarely; copied to
 *   every node. The tenants and directories (every tenant table references one), and the tables
 *   looked up by a secret's hash before any directory is known (api_keys, setup_links), and the
 *   extension schemas (platform-wide rows have no tenant).
 * - `directory`: the SCIM resources and what is kept per directory, co-located by directory_id
 *   (a SCIM request only ever touches one directory).
 * - `tenant`: the events and everything hanging off them (deliveries, attempts, endpoints,
 *   exports), co-located by tenant_id: the events feed, webhooks and exports are per tenant, and
 *   platform events (webhook endpoints') have no directory.
 * - `local`: the coordinator's own bookkeeping, no tenant's data.
 */
export type Placement = 'reference' | 'local' | { readonly distributedBy: 'tenant_id' | 'directory_id' };

const BY_TENANT = { distributedBy: 'tenant_id' } as const;
const BY_DIRECTORY = { distributedBy: 'directory_id' } as const;

/** Every table of the public schema. A new table gets its place here, or the catalog test fails. */
export const DISTRIBUTION: Readonly<Record<string, Placement>> = {
  tenants: 'reference',
  directories: 'reference',
  api_keys: 'reference',
  setup_links: 'reference',
  extension_schemas: 'reference',
  // One row per relay pipeline; the relay's lock.
  outbox_positions: 'reference',
  schema_migrations: 'local',

  scim_users: BY_DIRECTORY,
  scim_groups: BY_DIRECTORY,
  group_members: BY_DIRECTORY,
  resource_counters: BY_DIRECTORY,
  scim_request_log: BY_DIRECTORY,
  directory_activity: BY_DIRECTORY,
  reconcile_reports: BY_DIRECTORY,
  reconcile_reemits: BY_DIRECTORY,

  events: BY_TENANT,
  webhook_endpoints: BY_TENANT,
  webhook_deliveries: BY_TENANT,
  webhook_attempts: BY_TENANT,
  audit_exports: BY_TENANT,
};
