import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { Passport } from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { ScimError } from '../../../shared/scim/errors';
import type { AuthThrottle } from './auth-throttle';
import { tooManyRequests } from './rate-limit';
import { sendScim } from './scim-json';

export interface BearerAuthOptions<T> {
  /** Turns a token into a principal, or undefined when the token is unknown or revoked. */
  readonly resolve: (token: string) => Promise<T | undefined>;
  /** Realm announced in WWW-Authenticate. */
  readonly realm: string;
  /** Where the principal is stored on the request. */
  readonly property: 'directory' | 'operator' | 'setupLink';
  /** The 401's detail when a token was given but resolved to nothing. Default: the token is unknown or revoked. */
  readonly rejectedDetail?: string;
  /** Runs once the principal is known, before the next handler (request-scoped logging, span attributes). */
  readonly onAuthenticated?: (req: Request, principal: T) => void;
  /** Counts rejected tokens per client address and refuses an address that sent too many. Default: none. */
  readonly throttle?: AuthThrottle;
}

const TOO_MANY_FAILURES = 'too many failed authentication attempts from this address';

/**
 * passport-http-bearer behind a SCIM-shaped 401: the bearer scheme's `WWW-Authenticate: Bearer`
 * challenge plus a SCIM error body, so Entra's "Test connection" shows a readable reason.
 */
export function bearerAuth<T>(options: BearerAuthOptions<T>): RequestHandler {
  if (!options.realm) throw new TypeError('bearerAuth: realm is required');
  const passport = new Passport();
  passport.use(
    options.realm,
    new BearerStrategy((token, done) => {
      options.resolve(token).then(
        (principal) => done(null, principal ?? false),
        (err: unknown) => done(err),
      );
    }),
  );
  const { throttle } = options;
  return (req, res, next) => {
    const blocked = throttle?.blockedFor(req) ?? 0;
    if (blocked > 0) {
      next(tooManyRequests(res, blocked, TOO_MANY_FAILURES));
      return;
    }
    // passport-http-bearer also reads the token from `?access_token=` and from an `access_token`
    // body field; keys in URLs end up in proxy logs, so only the Authorization header is accepted.
    if (typeof req.query?.access_token !== 'undefined') {
      next(new ScimError(400, 'invalidSyntax', 'send the token in the Authorization header, not the query string'));
      return;
    }
    passport.authenticate(options.realm, { session: false }, (err: unknown, principal: T | false) => {
      if (err) return next(err);
      if (!principal) {
        const given = /^bearer\s+\S/i.test(req.headers.authorization ?? '');
        const unauthorized = () => {
          res.setHeader('WWW-Authenticate', `Bearer realm="${options.realm}"${given ? ', error="invalid_token"' : ''}`);
          const detail = given ? (options.rejectedDetail ?? 'the bearer token is unknown or revoked') : 'send Authorization: Bearer <token>';
          sendScim(res, 401, new ScimError(401, undefined, detail).toJSON());
        };
        // A request without a token guesses nothing; only rejected tokens count.
        if (!given || !throttle) return unauthorized();
        throttle.failed(req).then((wait) => (wait > 0 ? next(tooManyRequests(res, wait, TOO_MANY_FAILURES)) : unauthorized()), next);
        return;
      }
      (req as unknown as Record<string, unknown>)[options.property] = principal;
      options.onAuthenticated?.(req, principal);
      next();
    })(req, res, next);
  };
}

/** Constant-time check of the operator token: both sides are hashed to equal length first. */
export function adminTokenResolver(adminToken: string | undefined) {
  const expected = adminToken ? createHash('sha256').update(adminToken).digest() : undefined;
  return async (token: string) => {
    if (!expected) return undefined;
    const offered = createHash('sha256').update(token).digest();
    return timingSafeEqual(offered, expected) ? { role: 'operator' as const } : undefined;
  };
}
