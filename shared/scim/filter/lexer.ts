import { ScimError } from '../errors';

/**
 * Tokens of a SCIM filter. Keywords (`and`, `eq`, `true`…) are plain words here:
 * whether `pr` is an operator or an attribute name depends on where it stands, so the parser decides.
 */
export type Token =
  | { readonly kind: 'word'; readonly text: string; readonly pos: number }
  | { readonly kind: 'string'; readonly text: string; readonly pos: number; readonly value: string }
  | { readonly kind: 'number'; readonly text: string; readonly pos: number; readonly value: number }
  | { readonly kind: '(' | ')' | '[' | ']' | 'end'; readonly text: string; readonly pos: number };

/** An invalidFilter error pointing at a 0-based offset, reported 1-based for humans. */
export function filterError(pos: number, message: string): ScimError {
  return new ScimError(400, 'invalidFilter', `filter position ${pos + 1}: ${message}`);
}

/** How a token is named in error details: its source text, quoted and shortened. */
export function describeToken(token: Token): string {
  if (token.kind === 'end') return 'the end of the filter';
  const text = token.text.length > 40 ? `${token.text.slice(0, 40)}…` : token.text;
  return JSON.stringify(text);
}

const PUNCTUATION: Record<string, '(' | ')' | '[' | ']'> = { '(': '(', ')': ')', '[': '[', ']': ']' };

// A JSON number; the lexer scans a run of number-ish characters, then checks it here.
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const isLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
// An attribute name is a letter followed by letters, digits, "-" and "_"; `$ref` starts with "$";
// ":" and "." join URN prefixes and sub-attributes into one path word.
const isWordStart = (c: number) => isLetter(c) || c === 36 /* $ */ || c === 95 /* _ */;
const isWordPart = (c: number) => isWordStart(c) || isDigit(c) || c === 45 /* - */ || c === 58 /* : */ || c === 46 /* . */;
const isNumberPart = (c: number) => isDigit(c) || c === 45 || c === 43 /* + */ || c === 46 || c === 101 || c === 69; /* e E */

/** Splits a filter into tokens in one pass; the last token is always `end`. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
    } else if (PUNCTUATION[text[i]]) {
      tokens.push({ kind: PUNCTUATION[text[i]], text: text[i], pos: i });
      i++;
    } else if (c === 34 /* " */) {
      const token = readString(text, i);
      tokens.push(token);
      i += token.text.length;
    } else if (isWordStart(c) || (c === 46 /* . */ && tokens.at(-1)?.kind === ']')) {
      // A "." right after "]" starts a sub-attribute word (".value"), which the parser reads as
      // Entra's `emails[type eq "work"].value eq "x"`.
      let end = i + 1;
      while (end < text.length && isWordPart(text.charCodeAt(end))) end++;
      tokens.push({ kind: 'word', text: text.slice(i, end), pos: i });
      i = end;
    } else if (isDigit(c) || c === 45) {
      let end = i + 1;
      while (end < text.length && isNumberPart(text.charCodeAt(end))) end++;
      const raw = text.slice(i, end);
      if (!JSON_NUMBER.test(raw)) throw filterError(i, `${JSON.stringify(raw)} is not a number`);
      tokens.push({ kind: 'number', text: raw, pos: i, value: Number(raw) });
      i = end;
    } else {
      throw filterError(i, `unexpected character ${JSON.stringify(text[i])}`);
    }
  }
  tokens.push({ kind: 'end', text: '', pos: text.length });
  return tokens;
}

// String.prototype.isWellFormed (Node 20) is newer than the ES2022 library the project compiles against.
type WellFormed = string & { isWellFormed(): boolean };

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** A JSON string literal starting at the opening quote. */
function readString(text: string, start: number): Token {
  let value = '';
  let chunkStart = start + 1;
  let i = chunkStart;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      value += text.slice(chunkStart, i);
      // "\ud800" escapes a lone surrogate, which no stored value holds and PostgreSQL cannot
      // store: a PATCH path filter creating an element would otherwise write it (a 500).
      if (!(value as WellFormed).isWellFormed()) throw filterError(start, 'string holds a lone UTF-16 surrogate');
      return { kind: 'string', text: text.slice(start, i + 1), pos: start, value };
    }
    if (c !== 92 /* \ */) {
      i++;
      continue;
    }
    value += text.slice(chunkStart, i);
    const escaped = text[i + 1];
    if (escaped === 'u') {
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw filterError(i, `"\\u" must be followed by 4 hex digits, found ${JSON.stringify(hex)}`);
      value += String.fromCharCode(parseInt(hex, 16));
      i += 6;
    } else if (escaped !== undefined && SIMPLE_ESCAPES[escaped] !== undefined) {
      value += SIMPLE_ESCAPES[escaped];
      i += 2;
    } else {
      throw filterError(i, `invalid escape ${JSON.stringify(`\\${escaped ?? ''}`)} in a string`);
    }
    chunkStart = i;
  }
  throw filterError(start, 'string is not closed by a double quote');
}
