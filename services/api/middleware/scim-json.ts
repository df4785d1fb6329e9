import { isUtf8 } from 'node:buffer';
import type { ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type RequestHandler } from 'express';
import { ScimError } from '../../../shared/scim/errors';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** application/json, application/scim+json, or any other application/*+json. */
const isJsonType = (header: string | undefined) => {
  const media = header?.split(';')[0].trim().toLowerCase();
  return media === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(media ?? '');
};

/**
 * Writes a SCIM body; Entra's validator expects application/scim+json on every response.
 * Straight to node:http: res.send's content negotiation, freshness check and Buffer copy have
 * nothing to do for a JSON body whose type is fixed (ETags are the resources' own, set here).
 * Node itself drops the body of a HEAD response.
 */
export function sendScim(res: ServerResponse, status: number, body?: unknown, etag?: string): void {
  if (etag) res.setHeader('ETag', etag);
  res.statusCode = status;
  if (body === undefined) {
    res.end();
    return;
  }
  const json = JSON.stringify(body);
  res.setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/**
 * Parses JSON bodies of `application/scim+json` and `application/json` (SCIM accepts both); a body
 * without a Content-Type is read as JSON too. Any other media type on a body gets 415. One
 * middleware, and a request without a body (a GET) passes straight through.
 */
export function scimJson(options: { limit: number }): RequestHandler {
  const parse = express.json({
    limit: options.limit,
    strict: false,
    type: (req) => !req.headers['content-type'] || isJsonType(req.headers['content-type']),
    // Bytes that are not UTF-8 (an encoded surrogate, a stray 0xFF) would be decoded to U+FFFD and
    // stored as such; errors.ts answers this one with 400 invalidValue.
    verify: (_req, _res, raw) => {
      if (!isUtf8(raw)) throw Object.assign(new Error('the request body is not valid UTF-8'), { type: 'entity.verify.failed' });
    },
  });
  const checkBody = (req: Request, next: NextFunction) => (err?: unknown) => next(err ?? bodyProblem(req.body));
  return (req, res, next) => {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    // No framing at all (a GET): nothing to read. `Content-Length: 0` is an empty body, read as {}.
    if (length === undefined && !chunked) return next();
    if ((chunked || Number(length) > 0) && req.headers['content-type'] && !isJsonType(req.headers['content-type'])) {
      next(new ScimError(415, undefined, `Content-Type ${req.headers['content-type']} is not supported; send application/scim+json`));
      return;
    }
    parse(req, res, checkBody(req, next));
  };
}

// String.prototype.isWellFormed (Node 20) is newer than the ES2022 library the project compiles against.
type WellFormed = string & { isWellFormed(): boolean };

const unstorable = (text: string) =>
  text.includes('\u0000') ? 'a NUL character (U+0000)' : (text as WellFormed).isWellFormed() ? undefined : 'a lone UTF-16 surrogate';

/**
 * Deeper than any SCIM message goes (a PatchOp inside /Bulk, holding an extension's multi-valued
 * complex attribute, is about 10 levels), and shallow enough that the recursive code behind
 * (Array.join, structuredClone, deep equality, JSON.stringify of events) cannot overflow.
 */
const MAX_BODY_DEPTH = 32;

/**
 * What makes a parsed body unusable before any route looks at it: nesting past MAX_BODY_DEPTH,
 * or a string (or key) PostgreSQL cannot store. JSON allows "\u0000" and lone UTF-16 surrogates
 * ("\ud800"), but text and jsonb hold neither, so without this check the write fails as a 500
 * (or a text column silently stores U+FFFD). The detail names the top-level key holding the
 * culprit. One pass over every value; iterative, so the walk itself cannot overflow.
 */
function bodyProblem(body: unknown): ScimError | undefined {
  const stack: [value: unknown, top: string, depth: number][] = [[body, '', 0]];
  const culprit = (top: string) => (top ? `"${top}"` : 'the body');
  while (stack.length) {
    const [value, top, depth] = stack.pop()!;
    if (typeof value === 'string') {
      const what = unstorable(value);
      if (what) return new ScimError(400, 'invalidValue', `${culprit(top)} contains ${what}, which cannot be stored`);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_BODY_DEPTH) return new ScimError(400, 'invalidSyntax', `${culprit(top)} is nested deeper than ${MAX_BODY_DEPTH} levels`);
    for (const [key, child] of Object.entries(value)) {
      const at = top || (Array.isArray(value) ? `[${key}]` : key);
      const what = unstorable(key);
      if (what) return new ScimError(400, 'invalidValue', `${culprit(at)} contains ${what}, which cannot be stored`);
      stack.push([child, at, depth + 1]);
    }
  }
  return undefined;
}
