import { parse as parseQueryString } from 'node:querystring';
import type { Express, Request } from 'express';

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
