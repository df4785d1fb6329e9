import { isUuid } from '../ids';
import { ScimError } from '../scim/errors';
import type { PatchOperation } from '../scim/patch/parse';
import { valuesFromFilter } from '../scim/patch/template';
import { isObject } from '../scim/values';

/** One membership step of a Group PATCH, run as a set operation in SQL. */
export type MemberChange = { readonly kind: 'add' | 'remove' | 'replace'; readonly ids: readonly string[] } | { readonly kind: 'removeAll' };

/**
 * Recognises the member operations Entra and others send, or returns undefined for a
 * non-member operation:
 *   add     members  [{value}]                    (Entra "Add Members")
 *   remove  members[value eq "id"]                (Entra since 2020)
 *   remove  members  [{value}]                    (Entra before 2020; must not empty the group)
 *   remove  members                               (every member)
 *   replace members  [{value}]                    (the whole set)
 */
export function memberChangeOf(op: PatchOperation): MemberChange | undefined {
  const target = op.path?.target;
  if (!target || target.extension || target.attribute?.name !== 'members') return undefined;
  const where = `operation ${op.index}: "${op.path!.text}"`;
  if (target.subAttribute || op.path!.filteredSub) {
    throw new ScimError(400, 'invalidPath', `${where}: members are changed whole; sub-attributes cannot be patched`);
  }
  if (op.path!.filter) {
    const ids = valuesFromFilter(op.path!.filter);
    if (op.op !== 'remove' || !ids) {
      throw new ScimError(400, 'invalidPath', `${where}: member filters are supported for remove with value eq "<id>" only`);
    }
    return { kind: 'remove', ids: ids.filter(isUuid) };
  }
  if (op.op === 'remove' && op.value === undefined) return { kind: 'removeAll' };
  // Removing an id that cannot be a member is a no-op, as removing a non-member is.
  return { kind: op.op, ids: memberIds(op.value, where, op.op !== 'remove') };
}

/** Member ids from `[{ "value": "<id>" }, …]`; each must be a user id (members are users only). */
export function memberIds(value: unknown, where = 'members', strict = true): string[] {
  if (value === null || value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return [
    ...new Set(
      items.flatMap((item, i) => {
        const el = typeof item === 'string' ? { value: item } : item;
        if (!isObject(el) || typeof el.value !== 'string') {
          throw new ScimError(400, 'invalidValue', `${where}[${i}] must be an object with a string "value"`);
        }
        if (typeof el.type === 'string' && el.type.toLowerCase() === 'group') {
          throw new ScimError(400, 'invalidValue', `${where}[${i}] is a group; this directory's groups hold users only`);
        }
        if (!isUuid(el.value)) {
          if (!strict) return [];
          throw new ScimError(400, 'invalidValue', `${where}[${i}].value "${el.value}" is not a user id`);
        }
        return [el.value.toLowerCase()];
      }),
    ),
  ];
}

/** The net membership change of one request: a user added then removed counts as neither. */
export class MembershipDelta {
  private readonly add = new Set<string>();
  private readonly remove = new Set<string>();

  constructor(added: readonly string[] = [], removed: readonly string[] = []) {
    this.added(added);
    this.removed(removed);
  }

  added(ids: readonly string[]): void {
    for (const id of ids) if (!this.remove.delete(id)) this.add.add(id);
  }

  removed(ids: readonly string[]): void {
    for (const id of ids) if (!this.add.delete(id)) this.remove.add(id);
  }

  addedIds = () => [...this.add];
  removedIds = () => [...this.remove];
  isEmpty = () => this.add.size === 0 && this.remove.size === 0;
}
