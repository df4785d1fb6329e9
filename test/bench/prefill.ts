import type { Client } from 'pg';

export interface Prefilled {
  readonly tenantId: string;
  readonly directoryId: string;
  readonly userNames: string[];
  /** Group id by member count. */
  readonly groups: Record<number, string>;
}

/**
 * Fills one directory with `users` users in one statement (generate_series), shaped like what
 * Entra sends, and creates groups of the given sizes from its first users.
 */
export async function prefillDirectory(
  pg: Client,
  ids: { tenantId: string; directoryId: string },
  label: string,
  users: number,
  groupSizes: readonly number[],
): Promise<Prefilled> {
  await pg.query(
    `INSERT INTO scim_users (directory_id, id, tenant_id, user_name, external_id, display_name, active, data, created_at, updated_at)
     SELECT $1, gen_random_uuid(), $2, un, 'ext-' || $3 || '-' || n, 'User ' || n, true,
            jsonb_build_object(
              'userName', un, 'externalId', 'ext-' || $3 || '-' || n, 'active', true, 'displayName', 'User ' || n,
              'name', jsonb_build_object('givenName', 'Given' || n, 'familyName', 'Family' || n, 'formatted', 'Given' || n || ' Family' || n),
              'emails', jsonb_build_array(jsonb_build_object('type', 'work', 'primary', true, 'value', un)),
              'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', jsonb_build_object('employeeNumber', n::text, 'department', 'Dept ' || (n % 50))),
            now() - (($4 - n) || ' seconds')::interval, now()
       FROM generate_series(1, $4) AS n, LATERAL (SELECT 'user' || n || '@' || $3 || '.example' AS un) AS x`,
    [ids.directoryId, ids.tenantId, label, users],
  );
  const groups: Record<number, string> = {};
  for (const size of groupSizes) {
    const { rows } = await pg.query<{ id: string }>(
      `INSERT INTO scim_groups (directory_id, id, tenant_id, display_name, data)
       VALUES ($1, gen_random_uuid(), $2, $3, jsonb_build_object('displayName', $3::text)) RETURNING id`,
      [ids.directoryId, ids.tenantId, `Group of ${size}`],
    );
    groups[size] = rows[0].id;
    await pg.query(
      `INSERT INTO group_members (directory_id, group_id, user_id, tenant_id)
       SELECT $1, $2, id, $3 FROM scim_users WHERE directory_id = $1 ORDER BY created_at LIMIT $4`,
      [ids.directoryId, rows[0].id, ids.tenantId, size],
    );
  }
  const userNames = Array.from({ length: users }, (_, i) => `user${i + 1}@${label}.example`);
  return { ...ids, userNames, groups };
}
