import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../../shared/telemetry/logger';
import { recordHttpRequest } from '../../../shared/telemetry/metrics';
import { routeTemplateOf } from './metrics';

/**
 * An incoming x-request-id is kept when it looks like an id (a proxy's or the caller's
 * correlation id); anything else (too long, spaces, control characters) is replaced, since it
 * lands in every log line and in a response header.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const SCOPE = Symbol('requestLogScope');

/** What the request's log lines carry; the child logger is built from it on first use. */
interface LogScope {
  readonly base: Logger;
  readonly requestId: string;
  directoryId?: string;
  logger?: Logger;
}

type ScopedRequest = Request & { [SCOPE]?: LogScope };

/**
 * Also called once per answered request, from the same 'finish' listener, with the route
 * template; it must only note what it needs and return (app.ts: the setup page's request log).
 */
export type RequestObserver = (req: Request, res: Response, route: string) => void;

/**
 * Observes every request once it is answered: the latency sample by method, route template and
 * status class, and a log line (method, route template, status, duration, directory; 5xx at
 * error, 4xx but 429 at info, the rest at debug). The request id is echoed in `x-request-id`. Never the
 * body, the query string (filters carry user names) or the Authorization header. One 'finish'
 * listener per request; the log line's fields, and the request's child logger, are only built
 * when their level is enabled.
 */
export function requestLog(logger: Logger, observe?: RequestObserver): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    (req as ScopedRequest)[SCOPE] = { base: logger, requestId };
    // 'finish' fires outside the request's async context; restore it so the line carries trace_id.
    const active = context.active();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const route = routeTemplateOf(req);
      recordHttpRequest(req.method, route, res.statusCode, ms / 1000);
      observe?.(req, res, route);
      // 429s come in floods; the limiter that answered them logs one summary per interval.
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 && res.statusCode !== 429 ? 'info' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      const fields = { method: req.method, route, status: res.statusCode, duration_ms: Math.round(ms * 10) / 10 };
      context.with(active, () => requestLogger(req, logger)[level](fields, 'request'));
    });
    next();
  };
}

/** Adds the directory to every later line of this request (after authentication). */
export function logDirectory(req: Request, directoryId: string): void {
  const scope = (req as ScopedRequest)[SCOPE];
  if (scope) {
    scope.directoryId = directoryId;
    scope.logger = undefined;
  }
}

/** The request's child logger (request id, directory once known), or `fallback` outside requestLog. */
export function requestLogger(req: Request, fallback: Logger): Logger {
  const scope = (req as ScopedRequest)[SCOPE];
  if (!scope) return fallback;
  scope.logger ??= scope.base.child({ request_id: scope.requestId, ...(scope.directoryId ? { 'directory.id': scope.directoryId } : {}) });
  return scope.logger;
}
