import type { TraceCarrier } from '../../telemetry/context';
import { SerialBatcher, type BatchOutcome } from '../serial-batcher';
import type { Database } from '../sequelize';
import { NOW_MS, UUID_V7 } from '../sql';
import { membershipEventData, outboxInsertSelect } from '../outbox';
import type { DirectoryScope } from './scope';

/** One PATCH's single member operation on one group. */
export interface MemberChange {
  readonly scope: DirectoryScope;
  readonly groupId: string;
  readonly kind: 'add' | 'remove';
  readonly userIds: readonly string[];
  /** Who asked, and the trace of the request: both go on each of its events. */
  readonly actor: string;
  readonly trace: TraceCarrier | undefined;
}

/** The group's version after the change, or a member that is not a user of the directory. */
export type MemberChangeResult = { readonly version: number } | { readonly notFound: true } | { readonly notAUser: string; readonly isGroup: boolean };

/**
 * Every change of one batch, as ONE statement: change the membership, write one event per changed
 * member (with the actor and trace of the request that asked for it), bump the group's version
 * once when anything changed. An add naming anything that is not a user of the directory changes
 * nothing and reports every such id.
 */
function changeSql(kind: 'add' | 'remove'): string {
  const change =
    kind === 'add'
      ? `missing AS (SELECT input.id FROM input WHERE NOT EXISTS (SELECT 1 FROM scim_users u WHERE u.directory_id = $1 AND u.id = input.id)),
         changed AS (
           INSERT INTO group_members (directory_id, group_id, user_id, tenant_id)
           SELECT $1, g.id, input.id, $3 FROM g, input WHERE NOT EXISTS (SELECT 1 FROM missing)
           ON CONFLICT DO NOTHING RETURNING user_id)`
      : `missing AS (SELECT NULL::uuid AS id WHERE false),
         changed AS (
           DELETE FROM group_members gm USING g
            WHERE gm.directory_id = $1 AND gm.group_id = g.id AND gm.user_id IN (SELECT id FROM input)
           RETURNING gm.user_id)`;
  return `
    WITH g AS (SELECT id, display_name FROM scim_groups WHERE directory_id = $1 AND id = $2),
         input AS (SELECT DISTINCT ON (m.id) m.id, m.actor, m.trace::jsonb AS trace FROM unnest($4::uuid[], $5::text[], $6::text[]) AS m (id, actor, trace)),
         ${change},
         ev AS (
           ${outboxInsertSelect(`
           SELECT ${UUID_V7}, $3, $1, $7, 'Group', g.id, input.actor, ${membershipEventData('g.id', 'g.display_name')}, input.trace
             FROM changed
             JOIN input ON input.id = changed.user_id
             JOIN scim_users u ON u.directory_id = $1 AND u.id = changed.user_id, g`)}),
         touched AS (
           UPDATE scim_groups SET version = version + 1, updated_at = ${NOW_MS}
            WHERE directory_id = $1 AND id = $2 AND EXISTS (SELECT 1 FROM changed) RETURNING version)
    SELECT EXISTS (SELECT 1 FROM g) AS found,
           (SELECT array_agg(id) FROM missing) AS missing,
           (SELECT array_agg(x.id) FROM scim_groups x JOIN missing ON x.directory_id = $1 AND x.id = missing.id) AS missing_groups,
           coalesce((SELECT version FROM touched), (SELECT version FROM scim_groups WHERE directory_id = $1 AND id = $2)) AS version`;
}

const SQL = { add: changeSql('add'), remove: changeSql('remove') };

async function runBatch(db: Database, changes: readonly MemberChange[]): Promise<BatchOutcome<MemberChangeResult>[]> {
  const { scope, groupId, kind } = changes[0];
  const rows = changes.flatMap((c) => c.userIds.map((id) => ({ id, actor: c.actor, trace: c.trace ? JSON.stringify(c.trace) : null })));
  const [row] = await db
    .forDirectory(scope)
    .query<{ found: boolean; missing: string[] | null; missing_groups: string[] | null; version: number }>(SQL[kind], [
      scope.directoryId,
      groupId,
      scope.tenantId,
      rows.map((r) => r.id),
      rows.map((r) => r.actor),
      rows.map((r) => r.trace),
      kind === 'add' ? 'group.user_added' : 'group.user_removed',
    ]);
  if (!row.found) return changes.map(() => ({ value: { notFound: true } }));
  if (!row.missing) return changes.map(() => ({ value: { version: row.version } }));
  // Nothing was stored. Each request naming a non-user gets its error; the others go again.
  const missing = new Set(row.missing);
  const groups = new Set(row.missing_groups ?? []);
  return changes.map((c) => {
    const bad = c.userIds.find((id) => missing.has(id));
    return bad ? { value: { notAUser: bad, isGroup: groups.has(bad) } } : { retry: true };
  });
}

const batchers = new WeakMap<Database, SerialBatcher<MemberChange, MemberChangeResult>>();

/**
 * Runs `change` together with the other member changes of the same group arriving at the same
 * time in this process (see SerialBatcher): one statement and one version bump per batch, so a
 * burst of member PATCHes to one group does not queue on its row lock one commit at a time.
 */
export function changeMembersBatched(db: Database, change: MemberChange): Promise<MemberChangeResult> {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new SerialBatcher((_key, changes) => runBatch(db, changes), { maxItems: 200, maxWeight: 10_000, weightOf: (c) => c.userIds.length });
    batchers.set(db, batcher);
  }
  return batcher.submit(`${change.scope.directoryId}/${change.groupId}/${change.kind}`, change);
}
