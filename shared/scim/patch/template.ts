import type { FilterNode, FilterValue } from '../filter/parser';

/**
 * The equalities of a value filter as an element: `type eq "work" and primary eq true`
 * → `{ type: "work", primary: true }`. Undefined when the filter is anything else, since only
 * equalities say what a new element should hold. `value eq null` (the ActivTrak mapping's
 * `userPrincipalNames[value eq null].value`, see the README) contributes nothing.
 */
export function templateFromFilter(node: FilterNode): Record<string, FilterValue> | undefined {
  const terms = node.op === 'and' ? node.filters : [node];
  const out: Record<string, FilterValue> = {};
  for (const term of terms) {
    if (term.op !== 'eq') return undefined;
    if (term.value !== null) out[term.path] = term.value;
  }
  return out;
}

/**
 * The values a filter selects by `value eq`: `value eq "a"` or `value eq "a" or value eq "b"`.
 * Undefined for any other shape.
 */
export function valuesFromFilter(node: FilterNode): string[] | undefined {
  const terms = node.op === 'or' ? node.filters : [node];
  const out: string[] = [];
  for (const term of terms) {
    if (term.op !== 'eq' || term.path.toLowerCase() !== 'value' || typeof term.value !== 'string') return undefined;
    out.push(term.value);
  }
  return out;
}
