import type { Migration } from '../scripts/migrator';

/**
 * The SCIM request log becomes a fixed ring of rows per directory, overwritten in place.
 *
 * Until now every answered request was a new row, and the statement appending a batch deleted
 * each directory's rows past the newest 50: at Entra's pace (25 requests/s a directory) a row in
 * and a row out per request, and their index entries, for a list the setup page shows 20 of. At 30
 * directories that statement took about 40 ms a second (BENCHMARKS.md, session 16), and without
 * vacuum the deleted rows piled up under its index walks.
 *
 * Now a directory's requests are numbered (`seq`, counted in `directory_activity.requests_logged`)
 * and request n is stored in slot n mod 50, replacing what was there. The key (directory_id, slot)
 * is the table's only index, so an overwrite changes no indexed column and, with half of each page
 * left free (fillfactor 50), stays on its page (a HOT update): nothing is deleted, nothing waits
 * for vacuum, and the table never holds more than 50 rows a directory. Measured on the bench's
 * data (30 directories × 25 requests a batch): 8.5–9.6 ms a batch against 16.5–16.8 before, and
 * all but 26 of 60,000 overwrites HOT. The index on `at` goes: the failing-directories report now starts from the
 * directories that logged a request recently (`directory_activity.last_logged_at`, which 401s of a
 * revoked key move too) and reads their rings by key.
 *
 * Existing rows: the newest 50 of each directory are kept and numbered in the order they were
 * written.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    SELECT set_config('scim.bypass', 'on', true);
    ALTER TABLE directory_activity ADD COLUMN requests_logged bigint NOT NULL DEFAULT 0, ADD COLUMN last_logged_at timestamptz;
    ALTER TABLE scim_request_log ADD COLUMN seq bigint, ADD COLUMN slot smallint;
    WITH numbered AS (
      SELECT directory_id, id, row_number() OVER (PARTITION BY directory_id ORDER BY id DESC) AS newest FROM scim_request_log)
    DELETE FROM scim_request_log l USING numbered n WHERE l.directory_id = n.directory_id AND l.id = n.id AND n.newest > 50;
    WITH numbered AS (
      SELECT directory_id, id, row_number() OVER (PARTITION BY directory_id ORDER BY id) - 1 AS seq FROM scim_request_log)
    UPDATE scim_request_log l SET seq = n.seq, slot = n.seq % 50 FROM numbered n WHERE l.directory_id = n.directory_id AND l.id = n.id;
    INSERT INTO directory_activity AS a (directory_id, tenant_id, requests_logged, last_logged_at)
    SELECT directory_id, min(tenant_id::text)::uuid, max(seq) + 1, max(at) FROM scim_request_log GROUP BY directory_id
    ON CONFLICT (directory_id) DO UPDATE SET requests_logged = EXCLUDED.requests_logged, last_logged_at = EXCLUDED.last_logged_at;
    ALTER TABLE scim_request_log
      ALTER COLUMN seq SET NOT NULL,
      ALTER COLUMN slot SET NOT NULL,
      DROP CONSTRAINT scim_request_log_pkey,
      DROP COLUMN id,
      ADD PRIMARY KEY (directory_id, slot);
    DROP INDEX IF EXISTS scim_request_log_at_idx;
    -- Room on each page for the new version of its rows: an overwrite can then stay on the page.
    ALTER TABLE scim_request_log SET (fillfactor = 50);
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    SELECT set_config('scim.bypass', 'on', true);
    ALTER TABLE scim_request_log DROP CONSTRAINT scim_request_log_pkey, ADD COLUMN id bigint;
    UPDATE scim_request_log l SET id = n.id
      FROM (SELECT directory_id, slot, row_number() OVER (ORDER BY directory_id, seq) AS id FROM scim_request_log) n
     WHERE l.directory_id = n.directory_id AND l.slot = n.slot;
    ALTER TABLE scim_request_log ALTER COLUMN id SET NOT NULL, ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
    SELECT setval(pg_get_serial_sequence('scim_request_log', 'id'), coalesce(max(id), 0) + 1, false) FROM scim_request_log;
    ALTER TABLE scim_request_log ADD PRIMARY KEY (directory_id, id), DROP COLUMN slot, DROP COLUMN seq;
    CREATE INDEX scim_request_log_at_idx ON scim_request_log (at);
    ALTER TABLE scim_request_log RESET (fillfactor);
    ALTER TABLE directory_activity DROP COLUMN requests_logged, DROP COLUMN last_logged_at;
  `);
};
