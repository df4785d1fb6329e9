import type { RequestHandler } from 'express';
import { ScimError } from '../../../shared/scim/errors';

/**
 * 413 at once for a request whose declared Content-Length is over `limit`, before a byte of its
 * body is read. body-parser answers the same 413 only after reading off the whole declared body
 * (to keep the connection reusable), so a client declaring gigabytes would hold the socket until
 * the request timeout; answered here, the connection is closed instead (server.ts). A chunked
 * body has no declared length and is still cut by body-parser's limit and the request timeout.
 */
export function declaredLengthLimit(limit: number): RequestHandler {
  if (!(limit > 0)) throw new RangeError(`declaredLengthLimit: limit must be positive, got ${limit}`);
  return (req, _res, next) => {
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > limit) {
      next(new ScimError(413, undefined, `the request body exceeds the ${limit} byte limit (see ServiceProviderConfig)`));
      return;
    }
    next();
  };
}
