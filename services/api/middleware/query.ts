import { parse as parseQueryString } from 'node:querystring';
import type { Express, Request, RequestHandler } from 'express';
import { ScimError } from '../../../shared/scim/errors';

const QUERY = Symbol('query');
type Memo = Request & { [QUERY]?: Request['query'] };

/**
 * `req.query`, parsed once per request. Express 5 re-parses the query string on every read of
 * `req.query`, and a SCIM list reads it four times (auth's token check, passport-http-bearer's,
 * the list parameters, the projection). node:querystring, like Express's 'simple' parser: SCIM
 * parameters are flat strings, and qs's nesting (a[b]=c) is both unneeded and slower.
 */
export function parseQueryOnce(app: Express): void {
  Object.defineProperty(app.request, 'query', {
    configurable: true,
    enumerable: true,
    get(this: Memo) {
      if (this[QUERY] === undefined) {
        const url = this.originalUrl ?? this.url ?? '';
        const at = url.indexOf('?');
        this[QUERY] = (at < 0 ? {} : parseQueryString(url.slice(at + 1))) as Request['query'];
      }
      return this[QUERY];
    },
  });
}

/**
 * Rejects a request URL that cannot mean anything: a malformed percent-escape (`%`, `%zz`) or
 * one that is not UTF-8 (`%E2%82`, an encoded lone surrogate `%ED%A0%80`) in the path or the
 * query, and a `.` or `..` path segment, which a URL client resolves away before sending.
 * Otherwise Express fails to decode a route parameter (a 500), and node:querystring silently
 * turns a bad escape into U+FFFD, so a filter would look for a value nobody sent. A URL without
 * `%` or `/.` costs two substring searches; one with them (Entra's filtered lookups) one native
 * decode of the path and one of the query more.
 */
export const rejectMalformedUrl: RequestHandler = (req, _res, next) => {
  const url = req.url;
  if (!url.includes('%') && !url.includes('/.')) return next();
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  const decoded = decodeOrUndefined(path);
  if (decoded === undefined) return next(new ScimError(400, 'invalidValue', `the URL path has a malformed percent-escape (${badEscapeIn(path)})`));
  if (/(^|\/)\.\.?(\/|$)/.test(decoded)) return next(new ScimError(400, 'invalidValue', `the URL path "${clip(decoded)}" holds a "." or ".." segment`));
  if (at >= 0 && decodeOrUndefined(url.slice(at + 1)) === undefined) return next(malformedParameter(url.slice(at + 1)));
  next();
};

function decodeOrUndefined(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Names the query parameter holding the bad escape; one in `filter` is an invalidFilter. */
function malformedParameter(query: string): ScimError {
  for (const pair of query.split('&')) {
    if (decodeOrUndefined(pair) !== undefined) continue;
    const eq = pair.indexOf('=');
    const name = decodeOrUndefined(eq < 0 ? pair : pair.slice(0, eq));
    const where = name === undefined ? 'a query parameter name' : `query parameter "${clip(name)}"`;
    return new ScimError(400, name === 'filter' ? 'invalidFilter' : 'invalidValue', `${where} has a malformed percent-escape (${badEscapeIn(pair)})`);
  }
  return new ScimError(400, 'invalidValue', 'the query string has a malformed percent-escape');
}

/** The first run of escapes that does not decode, e.g. `%E2%82` or `%zz`. */
function badEscapeIn(text: string): string {
  for (const [run] of text.matchAll(/(?:%[0-9A-Fa-f]{2})+|%.{0,2}/gs)) {
    if (decodeOrUndefined(run) === undefined) return JSON.stringify(clip(run));
  }
  return '"%"';
}

const clip = (text: string) => (text.length > 100 ? `${text.slice(0, 100)}…` : text);
