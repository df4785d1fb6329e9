import type { Migration } from '../scripts/migrator';

/**
 * Deliveries are durable in PostgreSQL whatever Redis does: every pending delivery has a time it
 * is due (`next_attempt_at`), so one whose job Redis lost (restart without persistence, eviction,
 * failover) is found by the workers' sweeper and enqueued again. `retry_base` is the attempt
 * count when the current run of retries began: a replay starts a new run with the whole schedule,
 * while attempt numbers keep counting from the first call.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE webhook_deliveries ADD COLUMN retry_base integer NOT NULL DEFAULT 0;
    -- A new delivery is due at once; the relay's INSERT leaves the column to this default.
    ALTER TABLE webhook_deliveries ALTER COLUMN next_attempt_at SET DEFAULT now();
    UPDATE webhook_deliveries SET next_attempt_at = created_at WHERE status = 'pending' AND next_attempt_at IS NULL;
    -- The sweeper's and the overdue metric's probe: only pending rows, oldest due first.
    CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DROP INDEX IF EXISTS webhook_deliveries_due_idx;
    ALTER TABLE webhook_deliveries ALTER COLUMN next_attempt_at DROP DEFAULT;
    ALTER TABLE webhook_deliveries DROP COLUMN IF EXISTS retry_base;
  `);
};
