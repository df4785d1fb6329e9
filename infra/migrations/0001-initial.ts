import type { Migration } from '../scripts/migrator';

/**
 * The foundation. Every row carries tenant_id and directory_id, and every index of a
 * directory-owned table leads with directory_id, so data can later be distributed by tenant.
 * SCIM resources keep their filterable core attributes in columns (indexed) and the whole
 * resource as sent in `data` (JSONB).
 */
export const up: Migration = async ({ context: sql }) => {
  await sql(`
    CREATE TABLE tenants (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE directories (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
      name text NOT NULL,
      provider text NOT NULL CHECK (provider IN ('entra', 'okta', 'google', 'onelogin', 'jumpcloud', 'generic')),
      region text NOT NULL,
      -- Bumped whenever an extension schema that applies to this directory changes, so API
      -- processes can cache the directory's schema view and still see changes at once.
      schemas_rev integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX directories_tenant_idx ON directories (tenant_id, created_at);

    CREATE TABLE api_keys (
      id uuid PRIMARY KEY,
      tenant_id uuid NOT NULL,
      directory_id uuid NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
      name text NOT NULL,
      prefix text NOT NULL,
      token_hash bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    -- The lookup a request makes: only a SHA-256 of the token is stored.
    CREATE UNIQUE INDEX api_keys_token_hash_idx ON api_keys (token_hash);
    CREATE INDEX api_keys_directory_idx ON api_keys (directory_id, created_at);

    CREATE TABLE scim_users (
      directory_id uuid NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
      id uuid NOT NULL,
      tenant_id uuid NOT NULL,
      user_name text NOT NULL,
      external_id text,
      display_name text,
      active boolean NOT NULL DEFAULT true,
      data jsonb NOT NULL,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (directory_id, id)
    );
    -- RFC 7643: userName is unique and caseExact=false within the service provider (here: the directory).
    CREATE UNIQUE INDEX scim_users_user_name_idx ON scim_users (directory_id, lower(user_name));
    CREATE UNIQUE INDEX scim_users_external_id_idx ON scim_users (directory_id, external_id) WHERE external_id IS NOT NULL;
    CREATE INDEX scim_users_display_name_idx ON scim_users (directory_id, lower(display_name));
    CREATE INDEX scim_users_created_idx ON scim_users (directory_id, created_at, id);

    CREATE TABLE scim_groups (
      directory_id uuid NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
      id uuid NOT NULL,
      tenant_id uuid NOT NULL,
      display_name text NOT NULL,
      external_id text,
      data jsonb NOT NULL,
      version integer NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (directory_id, id)
    );
    -- Entra's guideline: a group's displayName is unique within the directory.
    CREATE UNIQUE INDEX scim_groups_display_name_idx ON scim_groups (directory_id, lower(display_name));
    CREATE UNIQUE INDEX scim_groups_external_id_idx ON scim_groups (directory_id, external_id) WHERE external_id IS NOT NULL;
    CREATE INDEX scim_groups_created_idx ON scim_groups (directory_id, created_at, id);

    -- Membership is a join table: a 100,000-member group is 100,000 rows, never a JSON array.
    CREATE TABLE group_members (
      directory_id uuid NOT NULL,
      group_id uuid NOT NULL,
      user_id uuid NOT NULL,
      tenant_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (directory_id, group_id, user_id),
      FOREIGN KEY (directory_id, group_id) REFERENCES scim_groups (directory_id, id) ON DELETE CASCADE,
      FOREIGN KEY (directory_id, user_id) REFERENCES scim_users (directory_id, id) ON DELETE CASCADE
    );
    CREATE INDEX group_members_user_idx ON group_members (directory_id, user_id);

    -- The outbox and the audit trail. txid lets a cursor reader wait for transactions that
    -- took a lower sequence number but have not committed yet (see events repository).
    CREATE TABLE events (
      seq bigserial PRIMARY KEY,
      txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      id uuid NOT NULL UNIQUE,
      tenant_id uuid NOT NULL,
      directory_id uuid NOT NULL,
      type text NOT NULL,
      resource_type text NOT NULL,
      resource_id uuid NOT NULL,
      actor text,
      data jsonb NOT NULL,
      occurred_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX events_tenant_cursor_idx ON events (tenant_id, txid, seq);
    CREATE INDEX events_directory_idx ON events (directory_id, occurred_at);

    -- Operator-defined extension schemas (RFC 7643 §7): directory_id NULL means platform-wide.
    CREATE TABLE extension_schemas (
      pk uuid PRIMARY KEY,
      tenant_id uuid,
      directory_id uuid REFERENCES directories (id) ON DELETE CASCADE,
      urn text NOT NULL,
      resource_type text NOT NULL CHECK (resource_type IN ('User', 'Group')),
      required boolean NOT NULL DEFAULT false,
      definition jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX extension_schemas_directory_urn_idx ON extension_schemas (directory_id, lower(urn)) WHERE directory_id IS NOT NULL;
    CREATE UNIQUE INDEX extension_schemas_platform_urn_idx ON extension_schemas (lower(urn)) WHERE directory_id IS NULL;
  `);
};

export const down: Migration = async ({ context: sql }) => {
  await sql(`
    DROP TABLE IF EXISTS extension_schemas, events, group_members, scim_groups, scim_users, api_keys, directories, tenants CASCADE;
  `);
};
