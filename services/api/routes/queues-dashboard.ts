import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../../shared/queue/redis';
import { Router, type RequestHandler, type Response } from 'express';
import { pageHeaders } from '../middleware/security-headers';
import { ScimError } from '../../../shared/scim/errors';
import { checkReadiness, redisCheck, type DependencyCheck } from '../../../shared/telemetry/health';
import type { Logger } from '../../../shared/telemetry/logger';
import type { OperatorSessions } from '../middleware/operator-session';

export interface QueuesDashboardOptions {
  /** Every queue to show (one per name in QUEUES); the caller owns and closes them. */
  readonly queues: readonly Queue[];
  /** The operator's sign-in, shared with the console and /admin/v1. */
  readonly sessions: OperatorSessions;
  /** Where the router is mounted. Default /admin/queues. */
  readonly basePath?: string;
  /** Where a Redis check that times out is logged. */
  readonly logger: Logger;
  /** How long the dashboard waits for Redis to answer PING before it answers 503, ms. Default 1,000. */
  readonly redisTimeoutMs?: number;
}

/**
 * bull-board behind the operator's sign-in. Scripts send `Authorization: Bearer $ADMIN_TOKEN` as
 * for /admin/v1; a browser without a session is sent to the console's sign-in, which returns it
 * here with the session cookie (middleware/operator-session.ts).
 * Read-only: retries and removals would bypass webhook_deliveries; replay goes through /admin/v1.
 */
export function queuesDashboard(options: QueuesDashboardOptions): Router {
  const basePath = options.basePath ?? '/admin/queues';
  const guard: RequestHandler = (req, res, next) => {
    const browser = req.method === 'GET' && !req.headers.authorization && (req.headers.accept ?? '').includes('text/html');
    if (browser && !options.sessions.has(req)) {
      res.redirect(303, `/admin/console/?next=${encodeURIComponent(`${basePath}/`)}`);
      return;
    }
    options.sessions.authenticate(req, res, next);
  };

  const router = Router();
  router.use(dashboardPage);
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
const dashboardPage = pageHeaders({
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
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
    check: async () => redisCheck((await queue.backend.client) as unknown as RedisClient).check(),
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
