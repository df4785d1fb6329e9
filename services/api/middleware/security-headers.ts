import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export interface SecurityHeadersOptions {
  /** Send Strict-Transport-Security (set when PUBLIC_BASE_URL is https). Default false. */
  readonly hsts?: boolean;
}

/** One year, subdomains included: the service is only ever reached over TLS once it is https. */
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * The headers every response carries, set first so errors (401, 404, 413, 429, 503) carry them
 * too. `Cache-Control: no-store`: SCIM and admin answers hold personal data and keys, and no
 * proxy or browser cache may keep them; the dashboard's static files set their own. `nosniff`:
 * a JSON body is never run as a script. By hand, not helmet: this runs on every SCIM request,
 * and helmet's default set is a chain of a dozen small middlewares for headers (CSP, COOP, …)
 * that mean nothing to a JSON API; HTML pages get helmet (pageHeaders below).
 * A function of the response, not a middleware: app.ts sets them first in Express and in the
 * over-limit gate in front of it.
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): (res: ServerResponse) => void {
  const headers: [string, string][] = [
    ['Cache-Control', 'no-store'],
    ['X-Content-Type-Options', 'nosniff'],
  ];
  if (options.hsts) headers.push(['Strict-Transport-Security', HSTS]);
  return (res) => {
    for (const [name, value] of headers) res.setHeader(name, value);
  };
}

/** Content-Security-Policy directives, as helmet names them. */
export type PageDirectives = Record<string, string[]>;

/**
 * The headers of an HTML page (the console, the setup page, the queue dashboard), on top of the
 * API-wide ones: a Content-Security-Policy made of `directives` (nothing else is allowed: no
 * defaults are merged in), no framing (`frame-ancestors 'none'` and `X-Frame-Options: DENY`),
 * no Referer, and no plugins. HSTS stays the app's (securityHeaders), sent only when
 * PUBLIC_BASE_URL is https.
 */
export function pageHeaders(directives: PageDirectives): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { ...directives, objectSrc: ["'none'"], frameAncestors: ["'none'"] } },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
}
