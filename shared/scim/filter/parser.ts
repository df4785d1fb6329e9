import { describeToken, filterError, tokenize, type Token } from './lexer';

/** The comparison operators of a SCIM filter. */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
/** A comparison's value: false, null, true, a number or a string. */
export type FilterValue = string | number | boolean | null;

export interface ComparisonNode {
  readonly op: CompareOp;
  /** As written: `userName`, `name.givenName`, `urn:…:User:employeeNumber`, or a sub-attribute inside brackets. */
  readonly path: string;
  readonly value: FilterValue;
}
export interface PresentNode {
  readonly op: 'pr';
  readonly path: string;
}
/** Two or more operands; `a and b and c` is one node. */
export interface LogicalNode {
  readonly op: 'and' | 'or';
  readonly filters: readonly FilterNode[];
}
export interface NotNode {
  readonly op: 'not';
  readonly filter: FilterNode;
}
/** `emails[type eq "work"]`: `filter`'s paths name sub-attributes of `path`. */
export interface ValuePathNode {
  readonly op: 'valuePath';
  readonly path: string;
  readonly filter: FilterNode;
}
export type FilterNode = ComparisonNode | PresentNode | LogicalNode | NotNode | ValuePathNode;

/** Longer filters are refused before tokenising (invalidFilter). */
export const MAX_FILTER_LENGTH = 4096;
/** Parentheses, `not (` and `[` nest at most this deep, so hostile input cannot exhaust the stack. */
export const MAX_FILTER_DEPTH = 32;

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const LITERALS = new Map<string, FilterValue>([
  ['true', true],
  ['false', false],
  ['null', null],
]);

/**
 * Parses a `filter` query parameter or SearchRequest filter. Throws ScimError 400 invalidFilter
 * naming the position and the culprit.
 *
 * Decisions beyond SCIM's filter grammar: operators, `and`/`or`/`not` and the literals
 * true/false/null are case-insensitive (Entra and Okta send `Eq`); any whitespace separates
 * tokens; a value path followed by `.subAttr op value` (Entra's `emails[type eq "work"].value eq "x"`,
 * which the grammar lacks) means the sub-attribute comparison joins the bracket filter; value
 * paths do not nest.
 */
export function parseFilter(text: string): FilterNode {
  return parseText(text, false);
}

/**
 * Parses the inside of a value path's brackets, e.g. `type eq "work"` from the PATCH path
 * `emails[type eq "work"].value`: the same grammar minus nested value paths.
 * Its paths name sub-attributes; evaluate the result with matchesFilter.
 */
export function parseValuePathFilter(text: string): FilterNode {
  return parseText(text, true);
}

function parseText(text: string, inBrackets: boolean): FilterNode {
  if (text.length > MAX_FILTER_LENGTH) {
    throw filterError(MAX_FILTER_LENGTH, `filter is ${text.length} characters long; the limit is ${MAX_FILTER_LENGTH}`);
  }
  if (text.trim() === '') throw filterError(0, 'filter is empty');
  return new Parser(tokenize(text), inBrackets).parseAll();
}

/** Recursive descent, one method per precedence level: or < and < not/grouping/attrExp. */
class Parser {
  private i = 0;
  private depth = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private inBrackets: boolean,
  ) {}

  parseAll(): FilterNode {
    const node = this.parseOr();
    this.expectClose('end', 'the end of the filter');
    return node;
  }

  private parseOr(): FilterNode {
    return this.parseLogical('or', () => this.parseAnd());
  }

  // "and" binds tighter than "or".
  private parseAnd(): FilterNode {
    return this.parseLogical('and', () => this.parseUnary());
  }

  private parseLogical(op: 'and' | 'or', operand: () => FilterNode): FilterNode {
    const filters = [operand()];
    while (this.isWord(this.peek(), op)) {
      this.i++;
      filters.push(operand());
    }
    return filters.length === 1 ? filters[0] : { op, filters };
  }

  private parseUnary(): FilterNode {
    const token = this.peek();
    if (token.kind === '(') {
      return this.nested(() => {
        this.i++;
        const inner = this.parseOr();
        this.expectClose(')', '")"');
        return inner;
      });
    }
    if (this.isWord(token, 'not') && this.tokens[this.i + 1].kind === '(') {
      return this.nested(() => {
        this.i += 2;
        const filter = this.parseOr();
        this.expectClose(')', '")"');
        return { op: 'not', filter };
      });
    }
    if (token.kind !== 'word' || this.isWord(token, 'and') || this.isWord(token, 'or')) {
      throw filterError(token.pos, `expected an attribute path, "not (" or "(", found ${describeToken(token)}`);
    }
    this.i++;
    return this.peek().kind === '[' ? this.parseValuePath(token) : this.parseAttrExp(token);
  }

  private parseValuePath(path: Token): ValuePathNode {
    const open = this.peek();
    if (this.inBrackets) throw filterError(open.pos, `value paths cannot nest: "[" after ${describeToken(path)} inside brackets`);
    const filter = this.nested(() => {
      this.i++;
      this.inBrackets = true;
      const inner = this.parseOr();
      this.inBrackets = false;
      this.expectClose(']', '"]"');
      return inner;
    });
    const next = this.peek();
    if (next.kind === 'word' && next.text.startsWith('.')) {
      // `emails[type eq "work"].value eq "x"` is not in SCIM's filter grammar, but Entra queries
      // users that way; it means `emails[type eq "work" and value eq "x"]`.
      this.i++;
      const sub = this.parseAttrExp({ ...next, text: next.text.slice(1) });
      return { op: 'valuePath', path: path.text, filter: { op: 'and', filters: [filter, sub] } };
    }
    return { op: 'valuePath', path: path.text, filter };
  }

  private parseAttrExp(path: Token): ComparisonNode | PresentNode {
    const operator = this.peek();
    const op = operator.kind === 'word' ? operator.text.toLowerCase() : '';
    if (op === 'pr') {
      this.i++;
      return { op: 'pr', path: path.text };
    }
    if (!COMPARE_OPS.has(op)) {
      throw filterError(operator.pos, `expected a comparison operator or "pr" after ${describeToken(path)}, found ${describeToken(operator)}`);
    }
    this.i++;
    return { op: op as CompareOp, path: path.text, value: this.parseValue(operator) };
  }

  private parseValue(operator: Token): FilterValue {
    const token = this.peek();
    this.i++;
    if (token.kind === 'string' || token.kind === 'number') return token.value;
    const literal = token.kind === 'word' ? token.text.toLowerCase() : '';
    if (LITERALS.has(literal)) return LITERALS.get(literal) as FilterValue;
    throw filterError(
      token.pos,
      `expected a value (a "string", a number, true, false or null) after ${describeToken(operator)}, found ${describeToken(token)}`,
    );
  }

  private nested<T>(parse: () => T): T {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw filterError(this.peek().pos, `filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
    }
    const result = parse();
    this.depth--;
    return result;
  }

  private expectClose(kind: Token['kind'], what: string): void {
    const token = this.peek();
    if (token.kind !== kind) {
      throw filterError(token.pos, `expected "and", "or" or ${what}, found ${describeToken(token)}`);
    }
    this.i++;
  }

  private peek(): Token {
    return this.tokens[this.i];
  }

  private isWord(token: Token, keyword: string): boolean {
    return token.kind === 'word' && token.text.length === keyword.length && token.text.toLowerCase() === keyword;
  }
}

/**
 * Evaluates a filter against ONE JSON object in memory, e.g. a PATCH value path's bracket filter
 * against each element of `emails`. Deliberately simpler than SQL compilation (no schema):
 * attribute names and strings compare case-insensitively, booleans also match "True"/"False"
 * (Entra sends string booleans), `eq null` matches a missing, null or empty attribute (Entra's
 * `userPrincipalNames[value eq null]`), and a multi-valued attribute matches if any element does.
 */
export function matchesFilter(node: FilterNode, element: Record<string, unknown>): boolean {
  switch (node.op) {
    case 'and':
      return node.filters.every((f) => matchesFilter(f, element));
    case 'or':
      return node.filters.some((f) => matchesFilter(f, element));
    case 'not':
      return !matchesFilter(node.filter, element);
    case 'valuePath':
      return asList(lookup(element, node.path)).some((item) => isRecord(item) && matchesFilter(node.filter, item));
    case 'pr':
      return isPresent(lookup(element, node.path));
    default:
      return matchesComparison(node, lookup(element, node.path));
  }
}

function matchesComparison(node: ComparisonNode, actual: unknown): boolean {
  // Treating `eq null` as "not present" keeps it in step with the SQL compiler.
  if (node.value === null) {
    if (node.op === 'eq') return !isPresent(actual);
    if (node.op === 'ne') return isPresent(actual);
    return false;
  }
  // `emails eq "x"` on a complex attribute compares its `value` sub-attribute, as SCIM defines it.
  const candidates = asList(actual).map((item) => (isRecord(item) ? lookup(item, 'value') : item));
  return candidates.some((candidate) => compareScalar(node.op, candidate, node.value as string | number | boolean));
}

function compareScalar(op: CompareOp, actual: unknown, expected: string | number | boolean): boolean {
  if (actual === null || actual === undefined || typeof actual === 'object') return false;
  if (typeof actual === 'boolean' || typeof expected === 'boolean') {
    const a = asBoolean(actual);
    const b = asBoolean(expected);
    if (a === undefined || b === undefined) return false;
    return op === 'eq' ? a === b : op === 'ne' ? a !== b : false;
  }
  if (typeof actual === 'number' && typeof expected === 'number' && op !== 'co' && op !== 'sw' && op !== 'ew') {
    return ordered(op, actual, expected);
  }
  const a = String(actual).toLowerCase();
  const b = String(expected).toLowerCase();
  if (op === 'co') return a.includes(b);
  if (op === 'sw') return a.startsWith(b);
  if (op === 'ew') return a.endsWith(b);
  return ordered(op, a, b);
}

function ordered<T extends string | number>(op: CompareOp, a: T, b: T): boolean {
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    default:
      return false;
  }
}

function asBoolean(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const lower = v.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

/** `pr` (present): a non-empty value, or a non-empty node for complex and multi-valued attributes. */
function isPresent(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return false;
  if (Array.isArray(v)) return v.some(isPresent);
  if (isRecord(v)) return Object.values(v).some(isPresent);
  return true;
}

/**
 * Finds `path` in `obj` case-insensitively (attribute names are), descending through `.` and `:`,
 * so `name.givenName` and `urn:…:2.0:User:employeeNumber` both work; the longest key wins.
 */
function lookup(obj: Record<string, unknown>, path: string): unknown {
  const lower = path.toLowerCase();
  let bestKey: string | undefined;
  for (const key of Object.keys(obj)) {
    const k = key.toLowerCase();
    const matches = lower === k || (lower.startsWith(k) && (lower[k.length] === '.' || lower[k.length] === ':'));
    if (matches && (bestKey === undefined || key.length > bestKey.length)) bestKey = key;
  }
  if (bestKey === undefined) return undefined;
  const value = obj[bestKey];
  if (bestKey.length === path.length) return value;
  const rest = path.slice(bestKey.length + 1);
  // A sub-attribute of a multi-valued attribute (`emails.value`) reads every element's.
  if (Array.isArray(value)) return value.flatMap((item) => (isRecord(item) ? asList(lookup(item, rest)) : []));
  return isRecord(value) ? lookup(value, rest) : undefined;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
