import type { RequestHandler } from 'express';
import type { Logger } from '../../../shared/telemetry/logger';

/**
 * One line per request: method, route, status, duration, directory. Never the body, the query
 * string (filters carry user names) or the Authorization header.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const log = logger.child({});
    (req as { log?: Logger }).log = log;
    res.on('finish', () => {
      const directory = (req as { directory?: { directoryId: string } }).directory;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const fields = {
        method: req.method,
        route: (req.baseUrl ?? '') + (req.route?.path ?? ''),
        status: res.statusCode,
        duration_ms: Math.round(ms * 10) / 10,
        ...(directory ? { 'directory.id': directory.directoryId } : {}),
      };
      if (res.statusCode >= 500) log.error(fields, 'request');
      else log.debug(fields, 'request');
    });
    next();
  };
}
