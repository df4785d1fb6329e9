import { createHmac, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import { ScimError } from '../../../shared/scim/errors';
import { checkReadiness, redisCheck, type DependencyCheck } from '../../../shared/telemetry/health';
import type { Logger } from '../../../shared/telemetry/logger';
import { adminTokenResolver, bearerAuth } from '../middleware/auth';
import type { AuthThrottle } from '../middleware/auth-throttle';
import { declaredLengthLimit } from '../middleware/declared-length';
import { retryAfterSeconds } from '../middleware/rate-limit';

export interface QueuesDashboardOptions {
  /** Every queue to show (one per name in QUEUES); the caller owns and closes them. */
  readonly queues: readonly Queue[];
  /** The operator secret of /admin/v1; without one the dashboard refuses everyone. */
  readonly adminToken?: string;
  /** Where the router is mounted. Default /admin/queues. */
  readonly basePath?: string;
  /** Mark the session cookie Secure (set when PUBLIC_BASE_URL is https). Default true. */
  readonly secureCookie?: boolean;
  /** How long a dashboard session lasts, seconds. Default 8 hours. */
  readonly sessionSeconds?: number;
  /** Where a Redis check that times out is logged. */
  readonly logger: Logger;
  /** How long the dashboard waits for Redis to answer PING before it answers 503, ms. Default 1,000. */
  readonly redisTimeoutMs?: number;
  /** Failed sign-ins and bad bearer tokens count here, as on /admin/v1. Default: none. */
  readonly throttle?: AuthThrottle;
}

const COOKIE = 'scim_queues_session';
/** The sign-in form carries one token. */
const LOGIN_LIMIT_BYTES = 4096;

/**
 * bull-board behind the admin token. Scripts send `Authorization: Bearer $ADMIN_TOKEN` as for
 * /admin/v1. A browser cannot, so GET without credentials shows a small form that POSTs the
 * token once (never in a URL: URLs end up in proxy logs and history) and gets an HttpOnly,
 * SameSite=Strict session cookie scoped to the dashboard's path. The cookie holds an expiry and
 * an HMAC of it keyed by the admin token, not the token: rotating ADMIN_TOKEN ends every session.
 * Read-only: retries and removals would bypass webhook_deliveries; replay goes through /admin/v1.
 */
export function queuesDashboard(options: QueuesDashboardOptions): Router {
  const basePath = options.basePath ?? '/admin/queues';
  const sessionSeconds = options.sessionSeconds ?? 8 * 3600;
  const resolveToken = adminTokenResolver(options.adminToken);
  const bearer = bearerAuth({ realm: 'admin', property: 'operator', resolve: resolveToken, throttle: options.throttle });
  const sign = (expires: number) =>
    createHmac('sha256', options.adminToken ?? '')
      .update(`queues-dashboard:${expires}`)
      .digest('base64url');

  const hasSession = (req: Request): boolean => {
    if (!options.adminToken) return false;
    const value = readCookie(req.headers.cookie, COOKIE);
    const [expires, mac] = value?.split('.') ?? [];
    if (!expires || !mac || !/^\d+$/.test(expires) || Number(expires) * 1000 < Date.now()) return false;
    const expected = Buffer.from(sign(Number(expires)));
    const offered = Buffer.from(mac);
    return offered.length === expected.length && timingSafeEqual(offered, expected);
  };

  const guard: RequestHandler = (req, res, next) => {
    if (hasSession(req)) return next();
    const browser = req.method === 'GET' && !req.headers.authorization && (req.headers.accept ?? '').includes('text/html');
    if (browser) {
      res.status(401).type('html').setHeader('Cache-Control', 'no-store');
      res.send(loginPage(`${basePath}/login`));
      return;
    }
    bearer(req, res, next);
  };

  const router = Router();
  router.use(pageHeaders);
  // SameSite=Strict makes a cross-site form unable to ride on the cookie; the form only
  // trades a token the sender already knows for a session.
  router.post('/login', declaredLengthLimit(LOGIN_LIMIT_BYTES), express.urlencoded({ extended: false, limit: LOGIN_LIMIT_BYTES }), async (req, res) => {
    const tooMany = (ms: number) => {
      res.status(429).type('html').setHeader('Cache-Control', 'no-store');
      res.setHeader('Retry-After', String(retryAfterSeconds(ms)));
      res.send(loginPage(`${basePath}/login`, `Too many failed sign-ins from this address. Try again in ${retryAfterSeconds(ms)} seconds.`));
    };
    // Refused before the token is compared, so a guess made while blocked learns nothing.
    const blocked = options.throttle?.blockedFor(req) ?? 0;
    if (blocked > 0) return tooMany(blocked);
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!token || !(await resolveToken(token))) {
      const wait = token ? ((await options.throttle?.failed(req)) ?? 0) : 0;
      if (wait > 0) return tooMany(wait);
      res.status(401).type('html').setHeader('Cache-Control', 'no-store');
      res.send(loginPage(`${basePath}/login`, 'That is not the admin token.'));
      return;
    }
    const expires = Math.floor(Date.now() / 1000) + sessionSeconds;
    const attributes = [`Path=${basePath}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${sessionSeconds}`];
    if (options.secureCookie ?? true) attributes.push('Secure');
    res.setHeader('Set-Cookie', `${COOKIE}=${expires}.${sign(expires)}; ${attributes.join('; ')}`);
    res.redirect(303, `${basePath}/`);
  });

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: options.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'SCIM queues' } },
  });
  router.use(guard, queueStoreAvailable(options), withoutThirdPartyLinks, serverAdapter.getRouter() as RequestHandler);
  return router;
}

/**
 * Headers of every dashboard response (the API-wide ones come from security-headers.ts). The
 * CSP allows only this origin: bull-board's scripts, styles, images and API calls are all served
 * here. Inline styles stay allowed: its page and its React components write <style> elements and
 * style attributes, while scripts, the part an injection would need, are 'self' only.
 */
const pageHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      baseUri: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  // HSTS is the app's, sent only when PUBLIC_BASE_URL is https (security-headers.ts).
  strictTransportSecurity: false,
});

/**
 * bull-board's page links its fonts from Google Fonts: a request to a third party from an
 * operator's browser, and a page that breaks offline. Its stylesheet falls back to the system's
 * sans-serif and monospace fonts, so such links are dropped from the rendered page.
 */
const withoutThirdPartyLinks: RequestHandler = (_req, res, next) => {
  const render = res.render.bind(res) as (view: string, options: object, done: (err: Error | null, html: string) => void) => void;
  res.render = ((view: string, options?: object) =>
    render(view, options ?? {}, (err, html) =>
      err ? next(err) : res.send(html.replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>/gi, '')),
    )) as Response['render'];
  next();
};

/**
 * Without Redis bull-board's calls wait in ioredis's offline queue, and the page hangs for
 * minutes. Each request but a static file first checks that every queue's connection answers
 * PING within `redisTimeoutMs`, and otherwise gets a 503 at once: a page for a browser, a SCIM
 * error for its API calls and scripts.
 */
function queueStoreAvailable(options: QueuesDashboardOptions): RequestHandler {
  const checks: DependencyCheck[] = options.queues.map((queue) => ({
    name: `redis:${queue.name}`,
    // The backend client is ioredis for these queues (createRedis); the cast names what is used.
    check: async () => redisCheck((await queue.backend.client) as unknown as Redis).check(),
  }));
  return async (req, res, next) => {
    if (req.path.startsWith('/static/')) return next();
    const { ready } = await checkReadiness(checks, options.logger, options.redisTimeoutMs ?? 1_000);
    if (ready) return next();
    res.setHeader('Retry-After', '10');
    if ((req.headers.accept ?? '').includes('text/html')) {
      res.status(503).type('html').send(unavailablePage());
      return;
    }
    next(new ScimError(503, undefined, 'the queue store (Redis) is not reachable; SCIM provisioning is unaffected'));
  };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function loginPage(action: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SCIM queues: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1 style="font-size: 1.3rem">SCIM queues</h1>
${error ? `<p role="alert" style="color: #b00020">${error}</p>` : ''}
<form method="post" action="${action}">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required autofocus style="width: 100%"></label>
<p><button type="submit">Open the dashboard</button></p>
</form>
<p style="color: #555; font-size: .9rem">Scripts may instead send <code>Authorization: Bearer $ADMIN_TOKEN</code>.</p>
</body></html>`;
}

function unavailablePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SCIM queues: unavailable</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 34rem; margin: 4rem auto">
<h1 style="font-size: 1.3rem">The queue dashboard is unavailable</h1>
<p>The queue store (Redis) is not reachable.</p>
<p>SCIM provisioning is unaffected: users and groups are written to PostgreSQL, and their events wait there.
Webhook deliveries, exports and reconciliations resume when Redis is back.</p>
<p>Reload this page to try again.</p>
</body></html>`;
}
