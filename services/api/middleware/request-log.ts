import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import type { Logger } from '../../../shared/telemetry/logger';
import { routeTemplateOf } from './metrics';

/**
 * An incoming x-request-id is kept when it looks like an id (a proxy's or the caller's
 * correlation id); anything else (too long, spaces, control characters) is replaced, since it
 * lands in every log line and in a response header.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A child logger per request carrying its request id (echoed in `x-request-id`), and one line
 * per request: method, route template, status, duration, directory; 5xx at error, 4xx at info.
 * Never the body, the query string (filters carry user names) or the Authorization header.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    const log = logger.child({ request_id: requestId });
    (req as { log?: Logger }).log = log;
    // 'finish' fires outside the request's async context; restore it so the line carries trace_id.
    const active = context.active();
    res.on('finish', () => context.with(active, () => {
      const directory = (req as { directory?: { directoryId: string } }).directory;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const fields = {
        method: req.method,
        route: routeTemplateOf(req),
        status: res.statusCode,
        duration_ms: Math.round(ms * 10) / 10,
        ...(directory ? { 'directory.id': directory.directoryId } : {}),
      };
      if (res.statusCode >= 500) log.error(fields, 'request');
      else if (res.statusCode >= 400) log.info(fields, 'request');
      else log.debug(fields, 'request');
    }));
    next();
  };
}
