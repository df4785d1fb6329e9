import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ScimError } from '../../../shared/scim/errors';
import type { Logger } from '../../../shared/telemetry/logger';
import { requestLogger } from './request-log';
import { sendScim } from './scim-json';

/** body-parser's error types, mapped to what a SCIM client should see. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number }): ScimError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new ScimError(400, 'invalidSyntax', 'the request body is not valid JSON');
    case 'entity.too.large':
      return new ScimError(413, undefined, `the request body exceeds the ${err.limit} byte limit (see ServiceProviderConfig)`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ScimError(415, undefined, 'the request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
      return new ScimError(400, 'invalidSyntax', 'the request body was incomplete');
    default:
      return undefined;
  }
}

/**
 * The only error → HTTP mapper. ScimErrors become RFC 7644 §3.12 bodies (4xx logged at info);
 * anything else is a bug: a bland 500, logged at error with its stack.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const scim = err instanceof ScimError ? err : fromBodyParser(err);
    const log = requestLogger(req, logger);
    if (scim) {
      log.info({ status: scim.status, scimType: scim.scimType }, 'request rejected');
      sendScim(res, scim.status, scim.toJSON());
      return;
    }
    log.error({ err }, 'unhandled error');
    if (res.headersSent) return;
    sendScim(res, 500, new ScimError(500, undefined, 'internal error; it has been logged').toJSON());
  };
}

/**
 * 404 for every path no router took. A path outside /scim/v1|v2 (and /admin) is most often a
 * Tenant URL pasted without its base path, so the detail says what the Tenant URL looks like.
 */
export function notFoundHandler(options: { publicBaseUrl: string }): RequestHandler {
  const hint = `; the SCIM base URL (Entra's Tenant URL) ends in /scim/v1, e.g. ${options.publicBaseUrl}/scim/v1`;
  return (req, _res, next) => {
    const versioned = /^\/(scim\/v[12]|admin)(\/|$)/.test(req.path);
    next(new ScimError(404, undefined, `no endpoint ${req.method} ${req.path}${versioned ? '' : hint}`));
  };
}
