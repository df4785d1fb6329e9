import type { TraceCarrier } from '../../telemetry/context';
import { Coalescer, togetherOrAlone } from '../coalescer';
import { SerialBatcher, type BatchOutcome } from '../serial-batcher';
import type { Database } from '../sequelize';
import { EVERY_ROW_OF, NOW_MS, UUID_V7 } from '../sql';
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

/** The member changes of one group that run as one batch (SerialBatcher), all of one kind. */
interface GroupBatch {
  readonly key: string;
  readonly changes: readonly MemberChange[];
}

/**
 * The batches of many groups (one kind), as ONE statement: lock the groups in key order, change
 * each group's membership, write one event per changed member (with the actor and trace of the
 * request that asked for it), bump each group's version once when anything of it changed. A
 * group whose batch names anything that is not a user of its directory changes nothing, and
 * every such id is reported; the other groups of the statement go on. One row per group, even
 * one whose batch names no member at all.
 *
 * The groups are locked (FOR NO KEY UPDATE, which member inserts' key checks do not wait on)
 * before anything else, in ascending (directory, id) order, so two statements sharing groups,
 * from two API processes say, take turns instead of waiting on each other in a cycle.
 */
function changeSql(kind: 'add' | 'remove'): string {
  const change =
    kind === 'add'
      ? `missing AS (
           SELECT i.directory_id, i.group_id, i.user_id FROM input i
            WHERE NOT EXISTS (SELECT 1 FROM scim_users u WHERE u.directory_id = i.directory_id AND u.id = i.user_id)),
         changed AS (
           INSERT INTO group_members (directory_id, group_id, user_id, tenant_id)
           SELECT i.directory_id, i.group_id, i.user_id, i.tenant_id
             FROM input i JOIN g ON g.directory_id = i.directory_id AND g.id = i.group_id
            WHERE NOT EXISTS (SELECT 1 FROM missing m WHERE m.directory_id = i.directory_id AND m.group_id = i.group_id)
           ON CONFLICT DO NOTHING RETURNING directory_id, group_id, user_id)`
      : `missing AS (SELECT NULL::uuid AS directory_id, NULL::uuid AS group_id, NULL::uuid AS user_id WHERE false),
         changed AS (
           DELETE FROM group_members gm USING input i, g
            WHERE gm.directory_id = i.directory_id AND gm.group_id = i.group_id AND gm.user_id = i.user_id
              AND g.directory_id = i.directory_id AND g.id = i.group_id
           RETURNING gm.directory_id, gm.group_id, gm.user_id)`;
  return `
    WITH input AS (
           SELECT DISTINCT ON (m.directory_id, m.group_id, m.user_id) m.directory_id, m.tenant_id, m.group_id, m.user_id, m.actor, m.trace::jsonb AS trace
             FROM (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[]) WITH ORDINALITY ${EVERY_ROW_OF('$1::uuid[]')})
                  AS m (directory_id, tenant_id, group_id, user_id, actor, trace, n)
            ORDER BY m.directory_id, m.group_id, m.user_id, m.n),
         g AS MATERIALIZED (
           SELECT s.directory_id, s.id, s.display_name, s.version FROM scim_groups s
            WHERE (s.directory_id, s.id) IN (SELECT * FROM unnest($8::uuid[], $9::uuid[]) ${EVERY_ROW_OF('$8::uuid[]')})
            ORDER BY s.directory_id, s.id FOR NO KEY UPDATE OF s),
         ${change},
         ev AS (
           ${outboxInsertSelect(`
           SELECT ${UUID_V7}, i.tenant_id, i.directory_id, $7, 'Group', g.id, i.actor, ${membershipEventData('g.id', 'g.display_name')}, i.trace
             FROM changed c
             JOIN input i ON i.directory_id = c.directory_id AND i.group_id = c.group_id AND i.user_id = c.user_id
             JOIN g ON g.directory_id = c.directory_id AND g.id = c.group_id
             JOIN scim_users u ON u.directory_id = c.directory_id AND u.id = c.user_id`)}),
         touched AS (
           UPDATE scim_groups s SET version = s.version + 1, updated_at = ${NOW_MS}
             FROM (SELECT DISTINCT directory_id, group_id FROM changed) c
            WHERE s.directory_id = c.directory_id AND s.id = c.group_id
           RETURNING s.directory_id, s.id, s.version)
    SELECT k.directory_id, k.group_id, g.id IS NOT NULL AS found,
           (SELECT array_agg(m.user_id) FROM missing m WHERE m.directory_id = k.directory_id AND m.group_id = k.group_id) AS missing,
           (SELECT array_agg(x.id) FROM missing m JOIN scim_groups x ON x.directory_id = m.directory_id AND x.id = m.user_id
             WHERE m.directory_id = k.directory_id AND m.group_id = k.group_id) AS missing_groups,
           coalesce(t.version, g.version) AS version
      FROM (SELECT * FROM unnest($8::uuid[], $9::uuid[]) ${EVERY_ROW_OF('$8::uuid[]')}) AS k (directory_id, group_id)
      LEFT JOIN g ON g.directory_id = k.directory_id AND g.id = k.group_id
      LEFT JOIN touched t ON t.directory_id = k.directory_id AND t.id = k.group_id`;
}

const SQL = { add: changeSql('add'), remove: changeSql('remove') };

interface GroupRow {
  readonly directory_id: string;
  readonly group_id: string;
  readonly found: boolean;
  readonly missing: string[] | null;
  readonly missing_groups: string[] | null;
  readonly version: number;
}

/** Each batch's outcomes from its group's row (see SerialBatcher: a value, or `retry`). */
function outcomesOf(row: GroupRow | undefined, changes: readonly MemberChange[]): BatchOutcome<MemberChangeResult>[] {
  if (!row?.found) return changes.map(() => ({ value: { notFound: true } }));
  if (!row.missing) return changes.map(() => ({ value: { version: row.version } }));
  // Nothing of this group was stored. Each request naming a non-user gets its error; the others go again.
  const missing = new Set(row.missing);
  const groups = new Set(row.missing_groups ?? []);
  return changes.map((c) => {
    const bad = c.userIds.find((id) => missing.has(id));
    return bad ? { value: { notAUser: bad, isGroup: groups.has(bad) } } : { retry: true };
  });
}

async function runGroups(db: Database, kind: 'add' | 'remove', batches: readonly GroupBatch[]): Promise<BatchOutcome<MemberChangeResult>[][]> {
  // One trace text per request, however many members it names.
  const rows = batches.flatMap(({ changes }) =>
    changes.flatMap((c) => {
      const trace = c.trace ? JSON.stringify(c.trace) : null;
      return c.userIds.map((id) => ({ c, id, trace }));
    }),
  );
  const stored = await db
    .forDirectories(batches.map((b) => b.changes[0].scope))
    .query<GroupRow>(SQL[kind], [
      rows.map((r) => r.c.scope.directoryId),
      rows.map((r) => r.c.scope.tenantId),
      rows.map((r) => r.c.groupId),
      rows.map((r) => r.id),
      rows.map((r) => r.c.actor),
      rows.map((r) => r.trace),
      kind === 'add' ? 'group.user_added' : 'group.user_removed',
      batches.map((b) => b.changes[0].scope.directoryId),
      batches.map((b) => b.changes[0].groupId),
    ]);
  const byGroup = new Map(stored.map((r) => [`${r.directory_id}/${r.group_id}`, r]));
  return batches.map(({ changes }) => outcomesOf(byGroup.get(`${changes[0].scope.directoryId}/${changes[0].groupId}`), changes));
}

type Outcomes = BatchOutcome<MemberChangeResult>[] | { readonly error: unknown };

const batchers = new WeakMap<Database, SerialBatcher<MemberChange, MemberChangeResult>>();

/** Most member ids in one statement, whether one group's batch or many groups' together. */
const MAX_MEMBERS_A_STATEMENT = 10_000;
const weightOf = (changes: readonly MemberChange[]) => changes.reduce((n, c) => n + c.userIds.length, 0);

/** One per database handle (per process in practice): each group's batches, and the statements they share. */
function batcherOf(db: Database): SerialBatcher<MemberChange, MemberChangeResult> {
  let batcher = batchers.get(db);
  if (!batcher) {
    // A statement carries at most MAX_MEMBERS_A_STATEMENT member ids, as one group's batch does.
    const coalescer = (kind: 'add' | 'remove') =>
      new Coalescer<GroupBatch, Outcomes>(
        (items) => togetherOrAlone(items, (some) => runGroups(db, kind, some)),
        (i) => i.key,
        200,
        { of: (i) => weightOf(i.changes), max: MAX_MEMBERS_A_STATEMENT },
      );
    const groups = { add: coalescer('add'), remove: coalescer('remove') };
    batcher = new SerialBatcher<MemberChange, MemberChangeResult>(
      async (key, changes) => {
        const outcomes = await groups[changes[0].kind].submit({ key, changes });
        if ('error' in outcomes) throw outcomes.error;
        return outcomes;
      },
      { maxItems: 200, maxWeight: MAX_MEMBERS_A_STATEMENT, weightOf: (c) => c.userIds.length },
    );
    batchers.set(db, batcher);
  }
  return batcher;
}

/**
 * Runs `change` together with the other member changes arriving at the same time in this
 * process. Those of one group go as one batch (SerialBatcher: one version bump per batch, so a
 * burst of member PATCHes to one group does not queue on its row lock one commit at a time);
 * the batches of different groups ready in the same event-loop turn share one statement
 * (Coalescer), whatever directories they come from.
 */
export function changeMembersBatched(db: Database, change: MemberChange): Promise<MemberChangeResult> {
  return batcherOf(db).submit(`${change.scope.directoryId}/${change.groupId}/${change.kind}`, change);
}
