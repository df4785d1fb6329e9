import type { Migration } from '../scripts/migrator';

/**
 * Delivery of events to the vendor's app: webhook endpoints per tenant, one delivery row per
 * (endpoint, event) with its attempts, the relay's position in the outbox, audit exports, and
 * the trace context each event was written under (so the worker continues the request's trace).
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    ALTER TABLE events ADD COLUMN trace_context jsonb;
    -- Platform events about webhook endpoints belong to a tenant but to no directory.
    ALTER TABLE events ALTER COLUMN directory_id DROP NOT NULL;
    -- The relay reads every tenant's events in commit order.
    CREATE INDEX events_relay_idx ON events (txid, seq);

    CREATE TABLE webhook_endpoints (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      url text NOT NULL,
      description text,
      -- NULL: every event type.
      event_types text[],
      -- AES-256-GCM of the whsec_ secret under WEBHOOK_ENCRYPTION_KEY; never stored plain.
      secret_ciphertext bytea NOT NULL,
      -- During a rotation both secrets sign, until previous_secret_expires_at.
      previous_secret_ciphertext bytea,
      previous_secret_expires_at timestamptz,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failing', 'disabled')),
      status_reason text,
      failing_since timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id, created_at);

    CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL,
      endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
      event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      event_type text NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz,
      last_status integer,
      last_error text,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (endpoint_id, event_id)
    );
    CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (tenant_id, endpoint_id, status, created_at);

    CREATE TABLE webhook_attempts (
      id bigserial PRIMARY KEY,
      delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
      tenant_id uuid NOT NULL,
      attempt integer NOT NULL,
      started_at timestamptz NOT NULL,
      duration_ms integer,
      status_code integer,
      error text,
      response_excerpt text
    );
    CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempt);

    -- Where each outbox relay has got to; the row lock is what lets only one relay run at a time.
    CREATE TABLE outbox_positions (
      name text PRIMARY KEY,
      txid xid8 NOT NULL DEFAULT '0',
      seq bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO outbox_positions (name) VALUES ('webhooks');

    CREATE TABLE audit_exports (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      from_time timestamptz NOT NULL,
      to_time timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
      storage_key text,
      event_count bigint,
      bytes bigint,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    );
    CREATE INDEX audit_exports_tenant_idx ON audit_exports (tenant_id, created_at);
    CREATE INDEX events_tenant_time_idx ON events (tenant_id, occurred_at, seq);
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DROP TABLE IF EXISTS audit_exports, outbox_positions, webhook_attempts, webhook_deliveries, webhook_endpoints;
    DROP INDEX IF EXISTS events_relay_idx, events_tenant_time_idx;
    ALTER TABLE events DROP COLUMN IF EXISTS trace_context;
  `);
};
