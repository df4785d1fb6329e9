import type { Express, Request } from 'express';

const TEMPLATE = Symbol('routeTemplate');
const ROUTE = Symbol('route');
type Tracked = Request & { [TEMPLATE]?: string; [ROUTE]?: unknown };

/**
 * Remembers each matched route's template ('/scim/v2/Users/:id') the moment Express matches it,
 * through a `route` accessor on the app's request prototype (installed once, so requests keep
 * their shape). Reading req.baseUrl + req.route.path later is wrong for errors: Express restores
 * baseUrl as next(err) leaves each router, so at 'finish' the mount path is gone.
 */
export function trackRouteTemplates(app: Express): void {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    get(this: Tracked) {
      return this[ROUTE];
    },
    set(this: Tracked, value: { path?: unknown } | undefined) {
      this[ROUTE] = value;
      if (value && value.path !== undefined) this[TEMPLATE] = (this.baseUrl ?? '') + String(value.path);
    },
  });
}

/** The route template of a request, or 'unmatched' (404s, static files): never the raw URL. */
export function routeTemplateOf(req: Request): string {
  return (req as Tracked)[TEMPLATE] ?? 'unmatched';
}
