import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isDatabaseUnavailable } from '../../../shared/db/errors';
import { ScimError } from '../../../shared/scim/errors';
import type { Logger } from '../../../shared/telemetry/logger';
import { requestLogger } from './request-log';
import { SCIM_CONTENT_TYPE, sendScim } from './scim-json';

/** body-parser's error types, mapped to what a SCIM client should see. */
function fromBodyParser(err: { type?: string; status?: number; limit?: number; code?: string; expose?: boolean }): ScimError | undefined {
  // A Content-Encoding (gzip, deflate, br) whose data does not decompress: zlib's error, exposed as a 400.
  if (err.expose && err.status === 400 && err.code?.startsWith('Z_')) {
    return new ScimError(400, 'invalidSyntax', 'the request body does not decompress as its Content-Encoding says');
  }
  switch (err.type) {
    case 'entity.parse.failed':
      return new ScimError(400, 'invalidSyntax', 'the request body is not valid JSON');
    case 'entity.too.large':
      return new ScimError(413, undefined, `the request body exceeds the ${err.limit} byte limit (see ServiceProviderConfig)`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ScimError(415, undefined, 'the request body must be UTF-8 JSON');
    case 'entity.verify.failed':
      return new ScimError(400, 'invalidValue', 'the request body is not valid UTF-8');
    case 'request.aborted':
    case 'request.size.invalid':
      return new ScimError(400, 'invalidSyntax', 'the request body was incomplete');
    default:
      return undefined;
  }
}

export interface ErrorHandlerOptions {
  /** Seconds a client is asked to wait (`Retry-After`) when the database is unavailable. Default 5. */
  readonly retryAfterSeconds?: number;
  /** At most one "database unavailable" log line per this many ms. Default 10,000. */
  readonly outageLogIntervalMs?: number;
}

/**
 * The only error → HTTP mapper. ScimErrors become SCIM error bodies (4xx logged at info).
 * PostgreSQL being unreachable or refusing work is a 503 with Retry-After, so Entra retries the
 * request instead of counting it as failed; it is logged once per interval, not per request.
 * Anything else is a bug: a bland 500, logged at error with its stack.
 */
export function errorHandler(logger: Logger, options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  const outage = outageReporter(logger, options.outageLogIntervalMs ?? 10_000);
  return (err, req, res, _next) => {
    const scim = err instanceof ScimError ? err : fromBodyParser(err);
    const log = requestLogger(req, logger);
    if (scim) {
      log.info({ status: scim.status, scimType: scim.scimType }, 'request rejected');
      answered.set(res, scim);
      sendScim(res, scim.status, scim.toJSON());
      return;
    }
    if (isDatabaseUnavailable(err)) {
      outage.refused(err);
      if (res.headersSent) return;
      res.setHeader('Retry-After', retryAfter);
      sendScim(res, 503, new ScimError(503, undefined, 'the database is unavailable; retry later').toJSON());
      return;
    }
    log.error({ err }, 'unhandled error');
    if (res.headersSent) return;
    sendScim(res, 500, new ScimError(500, undefined, 'internal error; it has been logged').toJSON());
  };
}

/** The SCIM error each response was answered with; only error answers are noted. */
const answered = new WeakMap<ServerResponse, ScimError>();

/** The SCIM error `res` was answered with, if errorHandler answered it (the setup page's request log reads its scimType). */
export function answeredError(res: ServerResponse): ScimError | undefined {
  return answered.get(res);
}

/**
 * Counts requests refused because the database is unavailable and logs at most one line per
 * interval: the first refusal at once (with the driver's reason, never a stack), then the count
 * refused since the previous line. An outage at Entra's request rate would otherwise drown the
 * logs in identical stack traces.
 */
export function outageReporter(logger: Logger, intervalMs: number, now: () => number = Date.now) {
  let refused = 0;
  let loggedAt = -Infinity;
  return {
    refused(err: unknown): void {
      refused++;
      const at = now();
      if (at - loggedAt < intervalMs) return;
      logger.error({ refused, 'db.error': reasonOf(err) }, 'database unavailable: requests answered 503');
      loggedAt = at;
      refused = 0;
    },
  };
}

/** The innermost code or message of a driver error chain, e.g. "ECONNREFUSED" or "57P01". */
function reasonOf(err: unknown): string {
  let reason = 'unknown';
  let current = err;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; message?: unknown; parent?: unknown; original?: unknown; cause?: unknown };
    if (typeof e.code === 'string') reason = e.code;
    else if (typeof e.message === 'string' && e.message) reason = e.message.slice(0, 200);
    current = e.parent ?? e.original ?? e.cause;
  }
  return reason;
}

/**
 * 404 for every path no router took. A path outside /scim/v1|v2 (and /admin, /setup) is most often a
 * Tenant URL pasted without its base path, so the detail says what the Tenant URL looks like.
 */
export function notFoundHandler(options: { publicBaseUrl: string }): RequestHandler {
  const hint = `; the SCIM base URL (Entra's Tenant URL) ends in /scim/v1, e.g. ${options.publicBaseUrl}/scim/v1`;
  return (req, _res, next) => {
    const versioned = /^\/(scim\/v[12]|admin|setup)(\/|$)/.test(req.path);
    next(new ScimError(404, undefined, `no endpoint ${req.method} ${req.path}${versioned ? '' : hint}`));
  };
}

/**
 * node:http's `clientError`: a request its parser refuses (raw bytes past ASCII or a space in the
 * request line, a broken chunk, a body shorter than its Content-Length) never reaches Express,
 * and node's own answer is a bare status line. This one carries the SCIM error body every other
 * refusal has. The connection is closed: what follows on it cannot be framed.
 */
export function clientErrorHandler(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  // node's own handler checks the same: a response already under way (a 401 answered before the
  // body was read) cannot be followed by another on this connection.
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (err.code === 'ECONNRESET' || !socket.writable || answering) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const detail = status === 400 ? `the request is not valid HTTP/1.1 (${err.code ?? 'unparsable'})` : STATUS_CODES[status]!;
  const body = JSON.stringify(new ScimError(status, status === 400 ? 'invalidSyntax' : undefined, detail).toJSON());
  // A HEAD's answer never has a body; a client would read one as the next response.
  const head = err.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${SCIM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
  );
}
