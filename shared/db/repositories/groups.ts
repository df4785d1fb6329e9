import { isUuid } from '../../ids';
import { captureTraceContext } from '../../telemetry/context';
import { ScimError } from '../../scim/errors';
import type { Database, Transaction } from '../sequelize';
import { changeMembersBatched } from './member-changes';
import { GROUP_RESOURCE } from '../resource-types';
import { ResourceTable } from './resource-table';
import type { DirectoryScope } from './scope';

// The Group `members` attribute, from the membership table, in id order; [] when there are none.
const GROUP_MEMBERS = `(SELECT coalesce(jsonb_agg(jsonb_build_object('value', u.id, 'display', coalesce(u.display_name, u.user_name)) ORDER BY u.id), '[]'::jsonb)
               FROM group_members gm JOIN scim_users u ON u.directory_id = gm.directory_id AND u.id = gm.user_id
              WHERE gm.directory_id = t.directory_id AND gm.group_id = t.id)`;

/**
 * Groups and their membership. Membership changes are set operations in SQL, so their cost
 * depends on how many members change, never on how many the group has.
 */
export class GroupRepository extends ResourceTable {
  constructor(db: Database, scope: DirectoryScope) {
    super(db, scope, GROUP_RESOURCE, GROUP_MEMBERS);
  }

  /**
   * Adds users (not yet members) and returns the ids actually added. One statement: ids that
   * are not users of this directory are reported instead of inserted, and the caller's
   * transaction is rolled back by the error.
   */
  async addMembers(groupId: string, userIds: readonly string[], t: Transaction): Promise<string[]> {
    if (userIds.length === 0) return [];
    const [row] = await this.db.query<{ added: string[] | null; missing: string | null; missing_is_group: boolean }>(
      `WITH input AS (SELECT DISTINCT m.id FROM unnest($4::uuid[]) AS m(id)),
            known AS (SELECT u.id FROM input JOIN scim_users u ON u.directory_id = $1 AND u.id = input.id),
            added AS (
              INSERT INTO group_members (directory_id, group_id, user_id, tenant_id)
              SELECT $1, $2, known.id, $3 FROM known
              ON CONFLICT DO NOTHING
              RETURNING user_id)
       SELECT (SELECT array_agg(user_id) FROM added) AS added,
              missing.id AS missing,
              EXISTS (SELECT 1 FROM scim_groups g WHERE g.directory_id = $1 AND g.id = missing.id) AS missing_is_group
         FROM (SELECT 1) AS one
         LEFT JOIN LATERAL (SELECT id FROM input WHERE id NOT IN (SELECT id FROM known) LIMIT 1) AS missing ON true`,
      [this.scope.directoryId, groupId, this.scope.tenantId, userIds],
      t,
    );
    if (row.missing) throw notAUser(row.missing, row.missing_is_group);
    return row.added ?? [];
  }

  /**
   * The common Entra PATCH (one member op, nothing else) as ONE statement, shared with the other
   * member changes of this group arriving at the same moment (member-changes.ts): change the
   * membership, write one event per changed member, bump the group's version when anything
   * changed. No explicit transaction, and the group row is locked only from its UPDATE to the
   * commit. Returns the version after the change, or undefined when the group does not exist.
   */
  async changeMembers(groupId: string, kind: 'add' | 'remove', userIds: readonly string[], actor: string): Promise<{ version: number } | undefined> {
    if (!isUuid(groupId)) return undefined;
    const result = await changeMembersBatched(this.database, { scope: this.scope, groupId, kind, userIds, actor, trace: captureTraceContext() });
    if ('notFound' in result) return undefined;
    if ('notAUser' in result) throw notAUser(result.notAUser, result.isGroup);
    return result;
  }

  async removeMembers(groupId: string, userIds: readonly string[], t: Transaction): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db.query<{ user_id: string }>(
      `DELETE FROM group_members WHERE directory_id = $1 AND group_id = $2 AND user_id = ANY($3::uuid[]) RETURNING user_id`,
      [this.scope.directoryId, groupId, userIds],
      t,
    );
    return rows.map((r) => r.user_id);
  }

  async removeAllMembers(groupId: string, t: Transaction): Promise<string[]> {
    const rows = await this.db.query<{ user_id: string }>(
      `DELETE FROM group_members WHERE directory_id = $1 AND group_id = $2 RETURNING user_id`,
      [this.scope.directoryId, groupId],
      t,
    );
    return rows.map((r) => r.user_id);
  }

  /** Makes the membership exactly `userIds`: a set difference in SQL both ways. */
  async replaceMembers(groupId: string, userIds: readonly string[], t: Transaction): Promise<{ added: string[]; removed: string[] }> {
    const removedRows = await this.db.query<{ user_id: string }>(
      `DELETE FROM group_members WHERE directory_id = $1 AND group_id = $2 AND NOT (user_id = ANY($3::uuid[])) RETURNING user_id`,
      [this.scope.directoryId, groupId, userIds],
      t,
    );
    const added = await this.addMembers(groupId, userIds, t);
    return { added, removed: removedRows.map((r) => r.user_id) };
  }
}

/** Members are users of this directory only: Entra is set up to send users, never groups, as members. */
function notAUser(id: string, isGroup: boolean): ScimError {
  return isGroup
    ? new ScimError(400, 'invalidValue', `members: "${id}" is a group; this directory's groups hold users only`)
    : new ScimError(400, 'invalidValue', `members: "${id}" is not a user of this directory`);
}
