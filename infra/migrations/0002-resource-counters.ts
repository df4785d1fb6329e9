import type { Migration } from '../scripts/migrator';

/**
 * Exact per-directory counts of users and groups without counting rows: statement-level
 * triggers add each statement's inserted and deleted rows to one of 16 shards (chosen by the
 * backend), so concurrent writers rarely touch the same counter row. The sum is transactionally
 * exact; `inserted` and `deleted` only grow, so together they also say whether the set of ids
 * changed. No foreign key: a directory's cascade delete fires the delete trigger after the
 * directory row is gone; the directory repository removes its counters itself.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    CREATE TABLE resource_counters (
      directory_id uuid NOT NULL,
      resource_type text NOT NULL CHECK (resource_type IN ('User', 'Group')),
      shard smallint NOT NULL,
      inserted bigint NOT NULL DEFAULT 0,
      deleted bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (directory_id, resource_type, shard)
    );

    CREATE FUNCTION resource_counters_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO resource_counters AS c (directory_id, resource_type, shard, inserted)
      SELECT directory_id, TG_ARGV[0], pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY directory_id ORDER BY directory_id
      ON CONFLICT (directory_id, resource_type, shard) DO UPDATE SET inserted = c.inserted + EXCLUDED.inserted;
      RETURN NULL;
    END $$;

    CREATE FUNCTION resource_counters_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO resource_counters AS c (directory_id, resource_type, shard, deleted)
      SELECT directory_id, TG_ARGV[0], pg_backend_pid() % 16, count(*) FROM old_rows GROUP BY directory_id ORDER BY directory_id
      ON CONFLICT (directory_id, resource_type, shard) DO UPDATE SET deleted = c.deleted + EXCLUDED.deleted;
      RETURN NULL;
    END $$;

    CREATE TRIGGER scim_users_counted_in AFTER INSERT ON scim_users
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resource_counters_inserted('User');
    CREATE TRIGGER scim_users_counted_out AFTER DELETE ON scim_users
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION resource_counters_deleted('User');
    CREATE TRIGGER scim_groups_counted_in AFTER INSERT ON scim_groups
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION resource_counters_inserted('Group');
    CREATE TRIGGER scim_groups_counted_out AFTER DELETE ON scim_groups
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION resource_counters_deleted('Group');

    INSERT INTO resource_counters (directory_id, resource_type, shard, inserted)
    SELECT directory_id, 'User', 0, count(*) FROM scim_users GROUP BY directory_id;
    INSERT INTO resource_counters (directory_id, resource_type, shard, inserted)
    SELECT directory_id, 'Group', 0, count(*) FROM scim_groups GROUP BY directory_id;
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DROP TRIGGER IF EXISTS scim_users_counted_in ON scim_users;
    DROP TRIGGER IF EXISTS scim_users_counted_out ON scim_users;
    DROP TRIGGER IF EXISTS scim_groups_counted_in ON scim_groups;
    DROP TRIGGER IF EXISTS scim_groups_counted_out ON scim_groups;
    DROP FUNCTION IF EXISTS resource_counters_inserted(), resource_counters_deleted();
    DROP TABLE IF EXISTS resource_counters;
  `);
};
