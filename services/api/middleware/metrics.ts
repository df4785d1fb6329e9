import type { Request, RequestHandler } from 'express';
import { recordHttpRequest } from '../../../shared/telemetry/metrics';

const TEMPLATE = Symbol('routeTemplate');
type Tracked = Request & { [TEMPLATE]?: string };

/**
 * Remembers the matched route's template ('/scim/v2/Users/:id') the moment Express matches it.
 * Reading req.baseUrl + req.route.path later is wrong for errors: Express restores baseUrl as
 * next(err) leaves each router, so at 'finish' the mount path is gone. Must run before routing.
 */
export const trackRouteTemplate: RequestHandler = (req, _res, next) => {
  let route: unknown = (req as { route?: unknown }).route;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      if (value && value.path !== undefined) (req as Tracked)[TEMPLATE] = (req.baseUrl ?? '') + String(value.path);
    },
  });
  next();
};

/** The route template of a request, or 'unmatched' (404s, static files): never the raw URL. */
export function routeTemplateOf(req: Request): string {
  return (req as Tracked)[TEMPLATE] ?? 'unmatched';
}

/** Counts each answered request and its latency by method, route template and status class. */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const started = process.hrtime.bigint();
  res.once('finish', () => {
    recordHttpRequest(req.method, routeTemplateOf(req), res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
  });
  next();
};
