import type { Migration } from '../scripts/migrator';

/**
 * Events addressed to one webhook endpoint: `webhook.test`, which an operator sends to check an
 * endpoint (POST /admin/v1/tenants/{tenantId}/webhooks/{webhookId}/test).
 *
 * A test event is an events row because a delivery references its event (webhook_deliveries.event_id,
 * migration 0003): the worker reads the body, time and trace from it, and so do the sweeper, the
 * delivery log and replay. So a test takes the one delivery path (one job contract, signing,
 * attempts, dead letters) and events keep their one writer (shared/db/outbox.ts).
 *
 * `endpoint_id` says whom the event is for, in the schema rather than by a list of types each
 * reader must know: the outbox relay does not fan an addressed event out (its writer stores its
 * one delivery in the same statement), and the events feed, audit exports and replay by cursor
 * leave it out, as it records no change of the tenant's. It goes with its endpoint (CASCADE). The
 * CHECK ties the two together: a webhook.test is never written for every endpoint, and a change's
 * event is never hidden from the feed and the audit log by being addressed.
 *
 * The constraints are NOT VALID: the column is new, so no existing row can break them, and
 * validating would only scan the events table. New rows are checked.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE events ADD COLUMN endpoint_id uuid;
    ALTER TABLE events ADD CONSTRAINT events_endpoint_fk
      FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE NOT VALID;
    ALTER TABLE events ADD CONSTRAINT events_addressed_check
      CHECK ((type = 'webhook.test') = (endpoint_id IS NOT NULL)) NOT VALID;
    -- Deleting an endpoint finds its test events here, not by a scan of every event.
    CREATE INDEX events_endpoint_idx ON events (endpoint_id) WHERE endpoint_id IS NOT NULL;
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DELETE FROM events WHERE endpoint_id IS NOT NULL;
    DROP INDEX IF EXISTS events_endpoint_idx;
    ALTER TABLE events DROP COLUMN IF EXISTS endpoint_id;
  `);
};
