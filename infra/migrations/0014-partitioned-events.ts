import type { Migration } from '../scripts/migrator';

/**
 * The events table partitioned by time, so retention drops a month's partition instead of
 * deleting rows one by one (no bloat, no vacuum debt), and new events land in a small, hot index.
 *
 * Partitioned by RANGE on `id`, not on a time column: every event id is a UUID v7 (shared/ids.ts
 * newId, shared/db/sql.ts UUID_V7), whose first 48 bits are its time in ms, so a month is the id
 * range [events_id_floor(start), events_id_floor(end)). The primary key (tenant_id, id) already
 * holds the partition key, as PostgreSQL requires of a partitioned table's unique indexes, and the
 * deliveries' foreign key (tenant_id, event_id) keeps pointing at it; a time column would have had
 * to join every key and foreign key. Partitions are monthly (EVENT_PARTITION_UNIT in
 * shared/db/repositories/event-partitions.ts), in UTC, named events_pYYYYMMDD after their start.
 *
 * No DEFAULT partition: an event always has its partition because this migration creates the
 * current month and the next two, and every worker creates the coming months at start and every
 * hour (workers/event-partitions.ts). A default partition would hold rows that block the creation
 * of the partition they belong to, and could never be dropped by retention.
 *
 * The partition functions are SECURITY DEFINER: the application's role (scim_app) may not create
 * or drop tables; these may only create the events' next partitions and drop expired ones. Each
 * takes one advisory lock without waiting (a pass that finds it held leaves the work to the pass
 * holding it: any number of workers, none queued) and has a 1 s lock timeout: creating or
 * detaching a partition locks `events` exclusively, and writers queue behind a waiting lock, so a
 * busy table is tried again next hour rather than stalling every SCIM write. Retention refuses to run
 * without the operator's scope (`scim.bypass`): row-level security is forced, even for the owner,
 * and an unscoped check would see no pending delivery. Each new partition gets the parent's
 * row-level policy, enabled and forced: a statement that names a partition is held to the same
 * scope as one that names `events`.
 *
 * Retention (events_partitions_drop) drops a partition only when it lies wholly before the
 * cut-off, no delivery of its events is pending and no export still queued or running starts
 * before its end. Dropping a table fires no ON DELETE CASCADE, so its deliveries (and their
 * attempts, by cascade) are deleted first, in the same transaction, after locking the partition
 * and those deliveries: a replay cannot make one pending meanwhile.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    CREATE FUNCTION events_id_floor(at timestamptz) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT (lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') || '00000000000000000000')::uuid $$;
    CREATE FUNCTION events_id_time(id uuid) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT to_timestamp(('x' || left(replace(id::text, '-', ''), 12))::bit(48)::bigint / 1000.0) $$;

    -- Creates the partition of [lo, hi) unless it exists, with the parent's row-level policy.
    CREATE FUNCTION events_partition_create(lo timestamptz, hi timestamptz) RETURNS text
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '1s' AS $$
    DECLARE
      part text := 'events_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
      qual text;
      checked text;
    BEGIN
      IF to_regclass(part) IS NOT NULL THEN RETURN NULL; END IF;
      SELECT pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) INTO qual, checked
        FROM pg_policy WHERE polrelid = 'events'::regclass AND polname = 'scoped';
      EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)', part, events_id_floor(lo), events_id_floor(hi));
      EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
      EXECUTE format('CREATE POLICY scoped ON %I USING (%s) WITH CHECK (%s)', part, qual, checked);
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO scim_app', part);
      RETURN part;
    END $$;

    -- The partitions of the current period (unit: month or day, in UTC) and of the next \`ahead\`; returns those it created.
    CREATE FUNCTION events_partitions_ensure(unit text, ahead integer) RETURNS SETOF text
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '1s' AS $$
    DECLARE
      step interval := ('1 ' || unit)::interval;
      start timestamptz := date_trunc(unit, now(), 'UTC');
      made text;
    BEGIN
      -- Another worker's pass is doing this very work: nothing to wait for.
      IF NOT pg_try_advisory_xact_lock(hashtext('scim.events_partitions')) THEN RETURN; END IF;
      FOR k IN 0..ahead LOOP
        made := events_partition_create(start + k * step, start + (k + 1) * step);
        IF made IS NOT NULL THEN RETURN NEXT made; END IF;
      END LOOP;
    END $$;

    -- Drops the partitions wholly before \`before\` that nothing still needs; one row per partition considered.
    CREATE FUNCTION events_partitions_drop(before timestamptz) RETURNS TABLE (partition text, outcome text, deliveries bigint)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '1s' AS $$
    DECLARE
      p record;
    BEGIN
      -- Row-level security is forced, even for the owner: without the operator's scope the checks
      -- below would see no pending delivery and no running export.
      IF NOT scim_scope_bypass() THEN
        RAISE EXCEPTION 'events_partitions_drop needs the operator scope (scim.bypass = on)' USING ERRCODE = 'insufficient_privilege';
      END IF;
      -- Another worker's pass is doing this very work: nothing to wait for.
      IF NOT pg_try_advisory_xact_lock(hashtext('scim.events_partitions')) THEN RETURN; END IF;
      FOR p IN
        SELECT c.relname, b[1]::uuid AS lo, b[2]::uuid AS hi
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
               regexp_match(pg_get_expr(c.relpartbound, c.oid), $re$FROM \\('([^']+)'\\) TO \\('([^']+)'\\)$re$) AS b
         WHERE i.inhparent = 'events'::regclass AND b[2]::uuid <= events_id_floor(before)
         ORDER BY 2
      LOOP
        partition := p.relname;
        deliveries := 0;
        IF EXISTS (SELECT 1 FROM audit_exports WHERE status IN ('queued', 'running') AND from_time < events_id_time(p.hi)) THEN
          outcome := 'export in progress';
          RETURN NEXT;
          CONTINUE;
        END IF;
        EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', p.relname);
        PERFORM 1 FROM webhook_deliveries WHERE event_id >= p.lo AND event_id < p.hi FOR UPDATE;
        IF EXISTS (SELECT 1 FROM webhook_deliveries WHERE event_id >= p.lo AND event_id < p.hi AND status = 'pending') THEN
          outcome := 'deliveries pending';
          RETURN NEXT;
          CONTINUE;
        END IF;
        DELETE FROM webhook_deliveries WHERE event_id >= p.lo AND event_id < p.hi;
        GET DIAGNOSTICS deliveries = ROW_COUNT;
        EXECUTE format('ALTER TABLE events DETACH PARTITION %I', p.relname);
        EXECUTE format('DROP TABLE %I', p.relname);
        outcome := 'dropped';
        RETURN NEXT;
      END LOOP;
    END $$;

    REVOKE ALL ON FUNCTION events_partition_create(timestamptz, timestamptz), events_partitions_ensure(text, integer), events_partitions_drop(timestamptz) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION events_partitions_ensure(text, integer), events_partitions_drop(timestamptz) TO scim_app;

    -- Retention finds a partition's deliveries by event id range; the foreign key's cascade uses it too.
    CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
  `);

  // The conversion: a partitioned table beside the old one, its partitions, the rows moved, the
  // names swapped, then keys, indexes and constraints built once over the moved rows. The old
  // table's row-level security is forced, so the move runs with the operator's bypass, set locally:
  // it ends with this statement list's transaction, and no session setting is left behind.
  await sql(`
    SELECT set_config('scim.bypass', 'on', true);
    ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_fk;
    ALTER TABLE events RENAME TO events_unpartitioned;
    CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (id);
    ALTER SEQUENCE events_seq_seq OWNED BY events.seq;
    ALTER TABLE events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    DO $$
    DECLARE
      qual text;
      checked text;
      m timestamptz;
    BEGIN
      SELECT pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) INTO qual, checked
        FROM pg_policy WHERE polrelid = 'events_unpartitioned'::regclass AND polname = 'scoped';
      EXECUTE format('CREATE POLICY scoped ON events USING (%s) WITH CHECK (%s)', qual, checked);
      FOR m IN
        SELECT DISTINCT date_trunc('month', events_id_time(id), 'UTC') FROM events_unpartitioned
        UNION
        SELECT generate_series(date_trunc('month', now(), 'UTC'), date_trunc('month', now(), 'UTC') + interval '2 months', interval '1 month')
      LOOP
        PERFORM events_partition_create(m, m + interval '1 month');
      END LOOP;
    END $$;
    GRANT SELECT, INSERT, UPDATE, DELETE ON events TO scim_app;
    INSERT INTO events SELECT * FROM events_unpartitioned;
    DROP TABLE events_unpartitioned;

    ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (tenant_id, id);
    CREATE INDEX events_tenant_cursor_idx ON events (tenant_id, txid, seq);
    CREATE INDEX events_directory_idx ON events (directory_id, occurred_at);
    CREATE INDEX events_relay_idx ON events (txid, seq);
    CREATE INDEX events_tenant_time_idx ON events (tenant_id, occurred_at, seq);
    CREATE INDEX events_endpoint_idx ON events (tenant_id, endpoint_id) WHERE endpoint_id IS NOT NULL;
    ALTER TABLE events
      ADD CONSTRAINT events_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
      ADD CONSTRAINT events_addressed_check CHECK ((type = 'webhook.test') = (endpoint_id IS NOT NULL));
    ALTER TABLE webhook_deliveries
      ADD CONSTRAINT webhook_deliveries_event_fk FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE;
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    SELECT set_config('scim.bypass', 'on', true);
    ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_fk;
    ALTER TABLE events RENAME TO events_partitioned;
    CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS);
    ALTER SEQUENCE events_seq_seq OWNED BY events.seq;
    INSERT INTO events SELECT * FROM events_partitioned;
    DROP TABLE events_partitioned;
    ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (tenant_id, id);
    CREATE INDEX events_tenant_cursor_idx ON events (tenant_id, txid, seq);
    CREATE INDEX events_directory_idx ON events (directory_id, occurred_at);
    CREATE INDEX events_relay_idx ON events (txid, seq);
    CREATE INDEX events_tenant_time_idx ON events (tenant_id, occurred_at, seq);
    CREATE INDEX events_endpoint_idx ON events (tenant_id, endpoint_id) WHERE endpoint_id IS NOT NULL;
    ALTER TABLE events
      ADD CONSTRAINT events_endpoint_fk FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE NOT VALID,
      ADD CONSTRAINT events_addressed_check CHECK ((type = 'webhook.test') = (endpoint_id IS NOT NULL)) NOT VALID;
    ALTER TABLE events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    CREATE POLICY scoped ON events
      USING ((SELECT scim_scope_bypass()) OR directory_id = ANY ((SELECT scim_scope_directories())::uuid[]) OR tenant_id = ANY ((SELECT scim_scope_tenants())::uuid[]))
      WITH CHECK ((SELECT scim_scope_bypass()) OR directory_id = ANY ((SELECT scim_scope_directories())::uuid[]) OR tenant_id = ANY ((SELECT scim_scope_tenants())::uuid[]));
    GRANT SELECT, INSERT, UPDATE, DELETE ON events TO scim_app;
    ALTER TABLE webhook_deliveries
      ADD CONSTRAINT webhook_deliveries_event_fk FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE;
    DROP INDEX IF EXISTS webhook_deliveries_event_idx;
    DROP FUNCTION IF EXISTS events_partitions_drop(timestamptz), events_partitions_ensure(text, integer), events_partition_create(timestamptz, timestamptz);
    DROP FUNCTION IF EXISTS events_id_time(uuid), events_id_floor(timestamptz);
  `);
};
