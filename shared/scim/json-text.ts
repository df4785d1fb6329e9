/**
 * The member names of a JSON object's outermost level, read from its text without parsing it:
 * list pages splice each stored resource's JSON text (as PostgreSQL prints jsonb) into the
 * response, and need only know which extension objects and which reserved names it holds.
 * Names are returned as written, escape sequences undecoded. Returns undefined when the text is
 * not a JSON object, so the caller can fall back to parsing.
 */
export function topLevelKeys(json: string): string[] | undefined {
  let i = skipSpace(json, 0);
  if (json.charCodeAt(i) !== OPEN_BRACE) return undefined;
  const keys: string[] = [];
  let depth = 0;
  // At depth 1, the string after `{` or `,` is a name; the one after `:` is a value.
  let expectName = false;
  for (; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(json, i);
      if (end < 0) return undefined;
      if (depth === 1 && expectName) {
        keys.push(json.slice(i + 1, end));
        expectName = false;
      }
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      expectName = c === OPEN_BRACE && depth === 1;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return skipSpace(json, i + 1) === json.length ? keys : undefined;
    } else if (c === COMMA && depth === 1) {
      expectName = true;
    }
  }
  return undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Index of the quote closing the string that opens at `start`, or -1 if it never closes. */
function stringEnd(json: string, start: number): number {
  for (let i = start + 1; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return -1;
}

function skipSpace(json: string, from: number): number {
  let i = from;
  while (i < json.length && (json[i] === ' ' || json[i] === '\n' || json[i] === '\t' || json[i] === '\r')) i++;
  return i;
}
