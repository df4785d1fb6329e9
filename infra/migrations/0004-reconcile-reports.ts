import type { Migration } from '../scripts/migrator';

/**
 * Directory reconciliation runs (one row per requested run; the id is the BullMQ job id) with
 * the report of what each changed, and per re-emitted group a progress marker. The marker is
 * written in the same transaction as each batch of re-emitted events, so a job that runs twice
 * (redelivery, a stalled job retried, an operator's retry) continues after the last committed
 * batch and never emits a member twice for the same request.
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    CREATE TABLE reconcile_reports (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      directory_id uuid NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
      reemit_group_ids uuid[] NOT NULL DEFAULT '{}',
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
      runs integer NOT NULL DEFAULT 0,
      report jsonb,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    );
    CREATE INDEX reconcile_reports_directory_idx ON reconcile_reports (directory_id, created_at);

    CREATE TABLE reconcile_reemits (
      report_id uuid NOT NULL REFERENCES reconcile_reports (id) ON DELETE CASCADE,
      group_id uuid NOT NULL,
      -- Members are re-emitted in user id order; this is the last one committed.
      last_user_id uuid,
      emitted bigint NOT NULL DEFAULT 0,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'missing')),
      PRIMARY KEY (report_id, group_id)
    );
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`DROP TABLE IF EXISTS reconcile_reemits, reconcile_reports;`);
};
