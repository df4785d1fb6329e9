import type { Migration } from '../scripts/migrator';

/**
 * Exports and reconciliations are durable in PostgreSQL whatever Redis does, like deliveries
 * (0005): `updated_at` is when a row was last queued, started, retried or re-driven, so a row
 * still `queued` or `running` long after it is found by the workers' sweeper, which makes sure
 * it has a job again. The partial indexes keep that probe (and the overdue metric) on the few
 * unfinished rows. `runs` counts an export's starts (reconcile reports have counted theirs since
 * 0004), so a row that kills its worker every time is failed after a bound, not re-driven forever.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE audit_exports ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(), ADD COLUMN runs integer NOT NULL DEFAULT 0;
    UPDATE audit_exports SET updated_at = coalesce(completed_at, created_at);
    CREATE INDEX audit_exports_unfinished_idx ON audit_exports (updated_at) WHERE status IN ('queued', 'running');

    ALTER TABLE reconcile_reports ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
    UPDATE reconcile_reports SET updated_at = coalesce(completed_at, created_at);
    CREATE INDEX reconcile_reports_unfinished_idx ON reconcile_reports (updated_at) WHERE status IN ('queued', 'running');
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DROP INDEX IF EXISTS reconcile_reports_unfinished_idx, audit_exports_unfinished_idx;
    ALTER TABLE reconcile_reports DROP COLUMN IF EXISTS updated_at;
    ALTER TABLE audit_exports DROP COLUMN IF EXISTS updated_at, DROP COLUMN IF EXISTS runs;
  `);
};
