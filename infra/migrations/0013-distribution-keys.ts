import type { Migration } from '../scripts/migrator';

/**
 * Every key of a tenant-owned table is led by the column Citus would distribute it by, so the
 * tables can be distributed without another migration (the plan: shared/db/distribution.ts;
 * test/db/citus-ready.test.ts holds the catalog to it). Citus requires that a distributed table's
 * PRIMARY KEY and UNIQUE constraints include its distribution column, and that a foreign key
 * between distributed tables joins the distribution columns (co-location):
 * https://docs.citusdata.com/en/stable/develop/migration_mt_schema.html
 *
 * - Tenant-distributed (tenant_id): events, webhook_endpoints, webhook_deliveries,
 *   webhook_attempts, audit_exports. Their keys were their id alone.
 * - Directory-distributed (directory_id): reconcile_reports (key was its id) and its
 *   reconcile_reemits, which gains directory_id (copied from its report) to reference it.
 *
 * Semantics are kept: ids are UUIDs (v7, v5 for deliveries) or sequence values, unique on their
 * own, so a key widened by the owner column refuses no row the old one accepted that the
 * application could write; every statement already names the owner with the id (test/db's
 * EXPLAIN checks keep the hot ones on these indexes). events.seq stays a sequence (the cursor
 * order), indexed by the cursor and relay indexes; nothing looks an event up by seq alone.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;
    ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_id_fkey, DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;
    ALTER TABLE events DROP CONSTRAINT events_endpoint_fk;
    ALTER TABLE reconcile_reemits DROP CONSTRAINT reconcile_reemits_report_id_fkey;

    ALTER TABLE events DROP CONSTRAINT events_pkey, DROP CONSTRAINT events_id_key, ADD CONSTRAINT events_pkey PRIMARY KEY (tenant_id, id);
    ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (tenant_id, id);
    ALTER TABLE webhook_deliveries
      DROP CONSTRAINT webhook_deliveries_pkey, ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, id),
      DROP CONSTRAINT webhook_deliveries_endpoint_id_event_id_key,
      ADD CONSTRAINT webhook_deliveries_endpoint_event_key UNIQUE (tenant_id, endpoint_id, event_id);
    ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey, ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (tenant_id, id);
    DROP INDEX webhook_attempts_delivery_idx;
    CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (tenant_id, delivery_id, attempt);
    ALTER TABLE audit_exports DROP CONSTRAINT audit_exports_pkey, ADD CONSTRAINT audit_exports_pkey PRIMARY KEY (tenant_id, id);

    ALTER TABLE reconcile_reports DROP CONSTRAINT reconcile_reports_pkey, ADD CONSTRAINT reconcile_reports_pkey PRIMARY KEY (directory_id, id);
    ALTER TABLE reconcile_reemits ADD COLUMN directory_id uuid;
    UPDATE reconcile_reemits m SET directory_id = r.directory_id FROM reconcile_reports r WHERE r.id = m.report_id;
    ALTER TABLE reconcile_reemits ALTER COLUMN directory_id SET NOT NULL,
      DROP CONSTRAINT reconcile_reemits_pkey, ADD CONSTRAINT reconcile_reemits_pkey PRIMARY KEY (directory_id, report_id, group_id);

    ALTER TABLE webhook_deliveries
      ADD CONSTRAINT webhook_deliveries_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
      ADD CONSTRAINT webhook_deliveries_event_fk FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE;
    ALTER TABLE webhook_attempts
      ADD CONSTRAINT webhook_attempts_delivery_fk FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE;
    -- NOT VALID as in 0011: only test events have an endpoint, and their endpoints exist.
    ALTER TABLE events
      ADD CONSTRAINT events_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE NOT VALID;
    DROP INDEX events_endpoint_idx;
    CREATE INDEX events_endpoint_idx ON events (tenant_id, endpoint_id) WHERE endpoint_id IS NOT NULL;
    ALTER TABLE reconcile_reemits
      ADD CONSTRAINT reconcile_reemits_report_fk FOREIGN KEY (directory_id, report_id) REFERENCES reconcile_reports (directory_id, id) ON DELETE CASCADE;
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE reconcile_reemits DROP CONSTRAINT reconcile_reemits_report_fk;
    ALTER TABLE events DROP CONSTRAINT events_endpoint_fk;
    ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_fk;
    ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_fk, DROP CONSTRAINT webhook_deliveries_event_fk;

    ALTER TABLE reconcile_reemits DROP CONSTRAINT reconcile_reemits_pkey, ADD CONSTRAINT reconcile_reemits_pkey PRIMARY KEY (report_id, group_id), DROP COLUMN directory_id;
    ALTER TABLE reconcile_reports DROP CONSTRAINT reconcile_reports_pkey, ADD CONSTRAINT reconcile_reports_pkey PRIMARY KEY (id);
    ALTER TABLE audit_exports DROP CONSTRAINT audit_exports_pkey, ADD CONSTRAINT audit_exports_pkey PRIMARY KEY (id);
    DROP INDEX webhook_attempts_delivery_idx;
    CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt);
    ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey, ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (id);
    ALTER TABLE webhook_deliveries
      DROP CONSTRAINT webhook_deliveries_endpoint_event_key, ADD CONSTRAINT webhook_deliveries_endpoint_id_event_id_key UNIQUE (endpoint_id, event_id),
      DROP CONSTRAINT webhook_deliveries_pkey, ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);
    ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);
    ALTER TABLE events DROP CONSTRAINT events_pkey, ADD CONSTRAINT events_id_key UNIQUE (id), ADD CONSTRAINT events_pkey PRIMARY KEY (seq);
    DROP INDEX events_endpoint_idx;
    CREATE INDEX events_endpoint_idx ON events (endpoint_id) WHERE endpoint_id IS NOT NULL;

    ALTER TABLE reconcile_reemits ADD CONSTRAINT reconcile_reemits_report_id_fkey FOREIGN KEY (report_id) REFERENCES reconcile_reports (id) ON DELETE CASCADE;
    ALTER TABLE events ADD CONSTRAINT events_endpoint_fk FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE NOT VALID;
    ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE;
    ALTER TABLE webhook_deliveries
      ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE;
  `);
};
