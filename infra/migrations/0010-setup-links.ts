import type { Migration } from '../scripts/migrator';

/**
 * Setup links and the customer's live status.
 *
 * - `setup_links`: a link the operator hands a customer's IT admin, scoped to one directory. Only
 *   a SHA-256 of its secret is stored (the secret carries 256 random bits, like an API key's);
 *   it stops working when it expires (7 days unless the operator says otherwise) or is revoked.
 * - `api_keys.setup_link_id`: which link issued a key, so the setup page can regenerate the token
 *   it issued (revoking that one) without touching the keys the operator issued. At most one such
 *   key of a directory is live at a time.
 * - `scim_request_log`: the last SCIM requests of each directory as the setup page lists them:
 *   time, method, route template, status, scimType and the schema attribute an error named. Never
 *   a query string, a body or a value: those hold personal data. The API trims it to the newest
 *   rows of each directory in the statement that appends to it.
 * - `directory_activity`: when a directory's last request, last change and Entra's last "Test
 *   connection" arrived.
 *
 * Every table gets row-level security like api_keys (migration 0008).
 */
const SCOPED =
  '(SELECT scim_scope_bypass()) OR directory_id = ANY ((SELECT scim_scope_directories())::uuid[]) OR tenant_id = ANY ((SELECT scim_scope_tenants())::uuid[])';
const TABLES = ['setup_links', 'scim_request_log', 'directory_activity'];

export const up: Migration = async ({ context: sql }) => {
  await sql(`
    CREATE TABLE setup_links (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL,
      directory_id uuid NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
      secret_hash bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days',
      revoked_at timestamptz,
      last_opened_at timestamptz,
      CONSTRAINT setup_links_expiry_check CHECK (expires_at > created_at)
    );
    CREATE UNIQUE INDEX setup_links_secret_hash_idx ON setup_links (secret_hash);
    CREATE INDEX setup_links_directory_idx ON setup_links (directory_id, created_at);

    ALTER TABLE api_keys ADD COLUMN setup_link_id uuid REFERENCES setup_links (id) ON DELETE SET NULL;
    CREATE UNIQUE INDEX api_keys_live_setup_token_idx ON api_keys (directory_id) WHERE setup_link_id IS NOT NULL AND revoked_at IS NULL;

    CREATE TABLE scim_request_log (
      directory_id uuid NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
      id bigint GENERATED ALWAYS AS IDENTITY,
      tenant_id uuid NOT NULL,
      at timestamptz NOT NULL,
      method text NOT NULL,
      route text NOT NULL,
      status smallint NOT NULL,
      scim_type text,
      attribute text,
      test_connection boolean NOT NULL DEFAULT false,
      PRIMARY KEY (directory_id, id)
    );

    CREATE TABLE directory_activity (
      directory_id uuid PRIMARY KEY REFERENCES directories (id) ON DELETE CASCADE,
      tenant_id uuid NOT NULL,
      last_request_at timestamptz,
      last_change_at timestamptz,
      test_connection_at timestamptz
    );
  `);
  for (const table of TABLES) {
    await sql(`
      ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
      CREATE POLICY scoped ON ${table} USING (${SCOPED}) WITH CHECK (${SCOPED});
    `);
  }
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DROP TABLE IF EXISTS directory_activity, scim_request_log;
    DROP INDEX IF EXISTS api_keys_live_setup_token_idx;
    ALTER TABLE api_keys DROP COLUMN IF EXISTS setup_link_id;
    DROP TABLE IF EXISTS setup_links;
  `);
};
