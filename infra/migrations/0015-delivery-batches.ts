import type { Migration } from '../scripts/migrator';

/**
 * The relay's batch job a delivery's first attempt was given to (shared/queue/catalog.ts,
 * JOBS.webhookBatch); null for a delivery that has its own job from the start (the test event,
 * a replay's new rows). Read only with the row itself: no index.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql('ALTER TABLE webhook_deliveries ADD COLUMN batch_id uuid');
};

export const down: Migration = async ({ context: sql }) => {
  await sql('ALTER TABLE webhook_deliveries DROP COLUMN IF EXISTS batch_id');
};
