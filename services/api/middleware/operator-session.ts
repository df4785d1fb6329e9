import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { ScimError } from '../../../shared/scim/errors';
import { adminTokenResolver, bearerAuth } from './auth';
import type { AuthThrottle } from './auth-throttle';
import { declaredLengthLimit } from './declared-length';
import { retryAfterSeconds, tooManyRequests } from './rate-limit';
import { sendScim } from './scim-json';

export interface OperatorSessionOptions {
  /** The operator secret of /admin/v1; without one nobody signs in. */
  readonly adminToken?: string;
  /** Mark the cookie Secure (set when PUBLIC_BASE_URL is https). Default true. */
  readonly secureCookie?: boolean;
  /** How long a session lasts, seconds. Default 8 hours. */
  readonly sessionSeconds?: number;
  /** Failed sign-ins count here, as rejected bearer tokens do. Default: none. */
  readonly throttle?: AuthThrottle;
  /** Other operator tools the console links to. Default: none. */
  readonly links?: { readonly traces?: string };
}

/** What the console learns of its session: when it ends, and the token its writes must carry. */
export interface OperatorSessionView {
  readonly expiresAt: string;
  readonly csrfToken: string;
  /** Operator tools outside the platform (TRACES_UI_URL), or null. */
  readonly links: { readonly traces: string | null };
}

export interface OperatorSessions {
  /** `/admin/session`: GET (the session's CSRF token), POST (sign in), DELETE (sign out). */
  readonly routes: Router;
  /** True when the request carries a valid session cookie. */
  has(req: Request): boolean;
  /**
   * The operator's authentication for /admin/v1 and the queue dashboard: `Authorization: Bearer
   * $ADMIN_TOKEN` (scripts), or the session cookie (browsers), whose writes must also carry the
   * session's CSRF token in `X-CSRF-Token`.
   */
  readonly authenticate: RequestHandler;
}

export const SESSION_COOKIE = 'scim_operator_session';
/** Every operator page and API lives under it: the console, the queue dashboard, /admin/v1. */
const COOKIE_PATH = '/admin';
export const CSRF_HEADER = 'X-CSRF-Token';
/** The sign-in carries one token. */
const SIGN_IN_LIMIT_BYTES = 4096;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const signIn = z.object({ token: z.string().min(1).max(1024) });

/**
 * Operator sign-in for browsers. The admin token is posted once and traded for an HttpOnly,
 * SameSite=Strict cookie on /admin; the token itself is never stored in the browser nor put in
 * a URL. The cookie holds an expiry and a random nonce with an HMAC of both keyed by the admin
 * token, so there is nothing to store server-side and rotating ADMIN_TOKEN ends every session.
 * SameSite=Strict already keeps cross-site requests from carrying the cookie; writes must also
 * send a CSRF token derived from the same session (another HMAC), which a page of another origin
 * cannot read.
 */
export function operatorSessions(options: OperatorSessionOptions): OperatorSessions {
  const sessionSeconds = options.sessionSeconds ?? 8 * 3600;
  const resolveToken = adminTokenResolver(options.adminToken);
  const bearer = bearerAuth({ realm: 'admin', property: 'operator', resolve: resolveToken, throttle: options.throttle });
  const mac = (purpose: string, session: string) =>
    createHmac('sha256', options.adminToken ?? '')
      .update(`${purpose}:${session}`)
      .digest('base64url');

  /** `expires.nonce` of a valid, unexpired cookie. */
  const sessionOf = (req: Request): string | undefined => {
    if (!options.adminToken) return undefined;
    const [expires, nonce, signature] = readCookie(req.headers.cookie, SESSION_COOKIE)?.split('.') ?? [];
    if (!expires || !nonce || !signature || !/^\d+$/.test(expires) || Number(expires) * 1000 < Date.now()) return undefined;
    const session = `${expires}.${nonce}`;
    return sameString(signature, mac('operator-session', session)) ? session : undefined;
  };
  const viewOf = (session: string): OperatorSessionView => ({
    expiresAt: new Date(Number(session.split('.')[0]) * 1000).toISOString(),
    csrfToken: mac('csrf', session),
    links: { traces: options.links?.traces ?? null },
  });
  const cookie = (value: string, maxAge: number) => {
    const attributes = [`Path=${COOKIE_PATH}`, 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAge}`];
    if (options.secureCookie ?? true) attributes.push('Secure');
    return `${SESSION_COOKIE}=${value}; ${attributes.join('; ')}`;
  };

  const routes = Router();
  routes.get('/session', (req, res) => {
    const session = sessionOf(req);
    if (!session) throw new ScimError(401, undefined, 'not signed in');
    sendScim(res, 200, viewOf(session));
  });
  routes.post('/session', declaredLengthLimit(SIGN_IN_LIMIT_BYTES), express.json({ limit: SIGN_IN_LIMIT_BYTES }), async (req, res, next) => {
    // Refused before the token is compared, so a guess made while blocked learns nothing.
    const blocked = options.throttle?.blockedFor(req) ?? 0;
    if (blocked > 0)
      return next(tooManyRequests(res, blocked, `too many failed sign-ins from this address; try again in ${retryAfterSeconds(blocked)} seconds`));
    const parsed = signIn.safeParse(req.body ?? {});
    if (!parsed.success) throw new ScimError(400, 'invalidValue', 'send the admin token as "token"');
    if (!(await resolveToken(parsed.data.token))) {
      const wait = (await options.throttle?.failed(req)) ?? 0;
      if (wait > 0) return next(tooManyRequests(res, wait, `too many failed sign-ins from this address; try again in ${retryAfterSeconds(wait)} seconds`));
      throw new ScimError(401, undefined, 'that is not the admin token');
    }
    const session = `${Math.floor(Date.now() / 1000) + sessionSeconds}.${randomBytes(12).toString('base64url')}`;
    res.setHeader('Set-Cookie', cookie(`${session}.${mac('operator-session', session)}`, sessionSeconds));
    sendScim(res, 201, viewOf(session));
  });
  routes.delete('/session', (_req, res) => {
    res.setHeader('Set-Cookie', cookie('', 0));
    res.status(204).end();
  });

  const authenticate: RequestHandler = (req, res, next) => {
    const session = !req.headers.authorization && sessionOf(req);
    if (!session) return bearer(req, res, next);
    if (!SAFE_METHODS.has(req.method) && !sameString(req.get(CSRF_HEADER) ?? '', mac('csrf', session))) {
      return next(new ScimError(403, undefined, `a signed-in browser's changes must carry the ${CSRF_HEADER} header of its session; reload the console`));
    }
    (req as Request & { operator: unknown }).operator = { role: 'operator' as const };
    next();
  };

  return { routes, has: (req) => sessionOf(req) !== undefined, authenticate };
}

function sameString(offered: string, expected: string): boolean {
  const a = Buffer.from(offered);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
