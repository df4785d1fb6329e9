import type { ResourceTypeName } from '../scim/schema-types';
import type { JsonObject } from '../scim/values';

/**
 * How each SCIM resource type is stored: its table, the attributes kept in columns, its unique
 * indexes and its side of the membership table. The repositories (resource-table.ts and its
 * kin) and the filter compiler (scim-filter/to-sql.ts) both read these, so a column is named in
 * one place besides the migrations; test/unit/resource-types.test.ts checks them against the
 * migrated catalog. Nothing here depends on the repositories.
 */
export interface ResourceDescriptor {
  /** The resource type's name: meta.resourceType, events' resource_type, resource_counters' key. */
  readonly resourceType: ResourceTypeName;
  readonly table: 'scim_users' | 'scim_groups';
  /**
   * SCIM attribute paths kept in columns, which filters and sorting read instead of `data`
   * (meta.resourceType is not stored: it is `resourceType`).
   */
  readonly attributes: Readonly<Record<string, StoredColumn>>;
  /** The columns every write copies from `data`, in the order `extract` returns their values. */
  readonly dataColumns: readonly string[];
  readonly extract: (data: JsonObject) => unknown[];
  /**
   * Unique indexes on one attribute each, in the order writers lock their values (UNIQUE_LOCKS
   * in repositories/resource-table.ts).
   */
  readonly unique: readonly UniqueIndex[];
  readonly membership: MembershipSide;
}

export interface StoredColumn {
  readonly column: string;
  /**
   * The column's type as filters compare it. `etag` is the integer version, which SCIM shows and
   * compares as the ETag `W/"<n>"` and which sorts as the number.
   */
  readonly type: 'uuid' | 'text' | 'boolean' | 'timestamptz' | 'etag';
  readonly notNull: boolean;
  /**
   * A case-insensitive column's lower() as a stored, indexed column (migration 0009): under
   * row-level security only `=` on it (lower() is not leakproof) can use its index.
   */
  readonly folded?: string;
}

export interface UniqueIndex {
  /** The index's name in the migrations; a unique violation naming it is a 409 on `attribute`. */
  readonly index: string;
  readonly attribute: string;
  /** The attribute's column, one of `dataColumns`. */
  readonly column: string;
  /** The stored lower() the index is on, for a case-insensitive attribute. */
  readonly folded?: string;
}

/** One side of group_members: Group.members and User.groups are its rows, not part of `data`. */
export interface MembershipSide {
  readonly table: 'group_members';
  /** The attribute listing the other side: `members` of a group, `groups` of a user. */
  readonly attribute: string;
  /** This resource's id column in the membership table, and the other side's. */
  readonly own: 'group_id' | 'user_id';
  readonly other: 'group_id' | 'user_id';
}

interface DescriptorInput extends Omit<ResourceDescriptor, 'unique'> {
  readonly unique: readonly { readonly index: string; readonly attribute: string }[];
}

// Every resource table has these columns (migration 0001).
const COMMON_ATTRIBUTES: Readonly<Record<string, StoredColumn>> = {
  id: { column: 'id', type: 'uuid', notNull: true },
  externalId: { column: 'external_id', type: 'text', notNull: false },
  'meta.created': { column: 'created_at', type: 'timestamptz', notNull: true },
  'meta.lastModified': { column: 'updated_at', type: 'timestamptz', notNull: true },
  'meta.version': { column: 'version', type: 'etag', notNull: true },
};

const str = (v: unknown) => (typeof v === 'string' ? v : null);

export const USER_RESOURCE: ResourceDescriptor = defineResource({
  resourceType: 'User',
  table: 'scim_users',
  attributes: {
    ...COMMON_ATTRIBUTES,
    userName: { column: 'user_name', type: 'text', notNull: true, folded: 'user_name_folded' },
    displayName: { column: 'display_name', type: 'text', notNull: false, folded: 'display_name_folded' },
    active: { column: 'active', type: 'boolean', notNull: true },
  },
  dataColumns: ['user_name', 'external_id', 'display_name', 'active'],
  // active is true unless stated otherwise (SCIM leaves that default to the service provider).
  extract: (d: JsonObject) => [d.userName, str(d.externalId), str(d.displayName), d.active !== false],
  unique: [
    { index: 'scim_users_user_name_idx', attribute: 'userName' },
    { index: 'scim_users_external_id_idx', attribute: 'externalId' },
  ],
  membership: { table: 'group_members', attribute: 'groups', own: 'user_id', other: 'group_id' },
});

export const GROUP_RESOURCE: ResourceDescriptor = defineResource({
  resourceType: 'Group',
  table: 'scim_groups',
  attributes: {
    ...COMMON_ATTRIBUTES,
    displayName: { column: 'display_name', type: 'text', notNull: true, folded: 'display_name_folded' },
  },
  dataColumns: ['display_name', 'external_id'],
  extract: (d: JsonObject) => [d.displayName, str(d.externalId)],
  unique: [
    { index: 'scim_groups_display_name_idx', attribute: 'displayName' },
    { index: 'scim_groups_external_id_idx', attribute: 'externalId' },
  ],
  membership: { table: 'group_members', attribute: 'members', own: 'group_id', other: 'user_id' },
});

export const RESOURCE_TYPES: Readonly<Record<ResourceTypeName, ResourceDescriptor>> = Object.freeze({ User: USER_RESOURCE, Group: GROUP_RESOURCE });

/**
 * Completes each unique index with its attribute's column and folded column, checks that the
 * writes fill that column, and freezes the whole: a mistake fails when the module loads.
 */
function defineResource(input: DescriptorInput): ResourceDescriptor {
  const unique = input.unique.map(({ index, attribute }) => {
    const stored = input.attributes[attribute];
    if (!stored || !input.dataColumns.includes(stored.column)) {
      throw new TypeError(`${input.resourceType}: unique index ${index} names ${attribute}, which no written column holds`);
    }
    return stored.folded === undefined ? { index, attribute, column: stored.column } : { index, attribute, column: stored.column, folded: stored.folded };
  });
  if (input.extract({}).length !== input.dataColumns.length) throw new TypeError(`${input.resourceType}: extract must return one value per data column`);
  return deepFreeze({ ...input, unique });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
