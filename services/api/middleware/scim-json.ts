import express, { type RequestHandler, type Response } from 'express';
import { ScimError } from '../../../shared/scim/errors';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** application/json, application/scim+json, or any other application/*+json. */
const isJsonType = (header: string | undefined) => {
  const media = header?.split(';')[0].trim().toLowerCase();
  return media === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(media ?? '');
};

/** Writes a SCIM body; Entra's validator expects application/scim+json on every response. */
export function sendScim(res: Response, status: number, body?: unknown, etag?: string): void {
  if (etag) res.setHeader('ETag', etag);
  if (body === undefined) {
    res.status(status).end();
    return;
  }
  res.status(status).type(SCIM_CONTENT_TYPE).send(JSON.stringify(body));
}

/**
 * Parses JSON bodies of `application/scim+json` and `application/json` (RFC 7644 §3.1); a body
 * without a Content-Type is read as JSON too. Any other media type on a body gets 415.
 */
export function scimJson(options: { limit: number }): RequestHandler[] {
  const parse = express.json({
    limit: options.limit,
    strict: false,
    type: (req) => !req.headers['content-type'] || isJsonType(req.headers['content-type']),
  });
  const rejectOtherTypes: RequestHandler = (req, _res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && req.headers['content-type'] && !isJsonType(req.headers['content-type'])) {
      next(new ScimError(415, undefined, `Content-Type ${req.headers['content-type']} is not supported; send application/scim+json`));
      return;
    }
    next();
  };
  return [rejectOtherTypes, parse];
}
