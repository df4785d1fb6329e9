import type { Database, Transaction } from '../sequelize';
import { NOW_MS } from '../sql';
import { USER_RESOURCE } from '../resource-types';
import { ResourceTable } from './resource-table';
import type { DirectoryScope } from './scope';

// The read-only User `groups` attribute (the groups it is a member of), from the membership
// table; null when there are none. Unordered: an ORDER BY inside the aggregate sets up a sort for
// every user of a page, a large share of this subquery's cost, and the service orders them instead.
const USER_GROUPS = `(SELECT json_agg(json_build_object('value', g.id, 'display', g.display_name))
               FROM group_members gm JOIN scim_groups g ON g.directory_id = gm.directory_id AND g.id = gm.group_id
              WHERE gm.directory_id = t.directory_id AND gm.user_id = t.id)`;

export class UserRepository extends ResourceTable {
  constructor(db: Database, scope: DirectoryScope) {
    super(db, scope, USER_RESOURCE, USER_GROUPS);
  }

  /**
   * Drops the user's memberships, bumps those groups' versions, and returns the groups it
   * left (for group.user_removed events).
   */
  async leaveAllGroups(userId: string, t: Transaction): Promise<{ id: string; displayName: string }[]> {
    return this.db.query(
      `WITH gone AS (
         DELETE FROM group_members WHERE directory_id = $1 AND user_id = $2 RETURNING group_id
       )
       UPDATE scim_groups g SET version = g.version + 1, updated_at = ${NOW_MS}
         FROM gone WHERE g.directory_id = $1 AND g.id = gone.group_id
       RETURNING g.id, g.display_name AS "displayName"`,
      [this.scope.directoryId, userId],
      t,
    );
  }
}
