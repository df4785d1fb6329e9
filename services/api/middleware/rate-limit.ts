import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimit } from '../../../shared/db/repositories/tenants';
import { ScimError } from '../../../shared/scim/errors';
import type { Logger } from '../../../shared/telemetry/logger';
import type { DirectoryPrincipal } from '../directory-resolver';
import { sendScim } from './scim-json';
import { recordHttpRequest } from '../../../shared/telemetry/metrics';
import { createRedis, type RedisClient, type RedisTarget } from '../../../shared/queue/redis';

/** Platform default: four times the 25 requests/s a SCIM app must accept from each Entra tenant. */
export const DEFAULT_RATE_LIMIT: RateLimit = Object.freeze({ requestsPerSecond: 100, burst: 200 });

/**
 * A lease is this share of the rate: each process takes its directory's requests from Redis in
 * leases of 1/20 of the rate per second (at least 1, at most 1,000), so a directory costs at most
 * about twenty Redis round trips a second per process, not one per request.
 */
const LEASES_PER_WINDOW = 20;
const leaseSize = (limit: RateLimit): number => Math.min(1_000, Math.max(1, Math.floor(limit.requestsPerSecond / LEASES_PER_WINDOW)));

/** The window in which a directory may spend its burst (the requests above its rate) once. */
const BURST_WINDOW_SECONDS = 10;

/** Over-limit answers are logged as one line per directory per interval, with the count. */
const SUMMARY_INTERVAL_MS = 10_000;

export interface DirectoryRateLimitOptions {
  /**
   * Redis shared by every API process (see limiterRedis), so a directory's limit holds across
   * processes. Default: none, each process counts on its own.
   */
  readonly redis?: RedisClient;
  /** Limit of directories without one of their own. Default DEFAULT_RATE_LIMIT. */
  readonly defaults?: RateLimit;
  /** Prefix of the counters' Redis keys. Default `scim:rl`. */
  readonly keyPrefix?: string;
  readonly logger: Logger;
}

type Limiter = Pick<BurstyRateLimiter, 'consume'>;

/** The per-directory limit as middleware, and its refusal as a synchronous check for the gate. */
export interface DirectoryRateLimit extends RequestHandler {
  /**
   * Answers 429 at once, and returns true, when this process already knows the principal's
   * directory is over its limit for the rest of its window; otherwise does nothing.
   */
  refuseIfBlocked(principal: DirectoryPrincipal, res: ServerResponse): boolean;
  /** Whether this process knows of any directory over its limit now (nothing to refuse otherwise). */
  anyBlocked(): boolean;
}

/**
 * Per-directory request limit, after authentication. Shape: a one-second window of
 * `requestsPerSecond`, and above it a pool of `burst − requestsPerSecond` extra requests that
 * refills every 10 s (rate-limiter-flexible's BurstyRateLimiter). So one second may take up to
 * `burst`, and a directory that keeps sending gets `requestsPerSecond` plus a tenth of the pool.
 *
 * Cost per request: none, mostly. A process takes a lease of points from Redis (one atomic INCR
 * script for 1/20 of the rate, see leaseSize) and spends it in memory until the lease's window
 * ends; a lease is never spent in a later window, so no process admits more than Redis granted.
 * The price of leases: near the end of a window a process may refuse while another still holds
 * unused points (at most one lease per process per window), never the other way round; limits
 * under 40/s take one point at a time, exactly. Once Redis has refused, this process refuses
 * for the rest of the window without asking (see overLimitGate), so a directory far over its
 * limit costs no Redis traffic at all.
 *
 * Redis down or slow: each Redis limiter falls back at once to an in-memory limiter of the same
 * shape in this process (`insuranceLimiter`; `rejectIfRedisNotReady` skips a disconnected
 * client, limiterRedis's timeout bounds a hung one), so SCIM keeps answering; each process then
 * enforces the limit on its own share of the traffic.
 */
export function directoryRateLimit(options: DirectoryRateLimitOptions): DirectoryRateLimit {
  const defaults = options.defaults ?? DEFAULT_RATE_LIMIT;
  checkLimit(defaults);
  const prefix = options.keyPrefix ?? 'scim:rl';
  const counter = (name: string, points: number, duration: number) => {
    const shape = { keyPrefix: `${prefix}:${name}`, points, duration };
    if (!options.redis) return new RateLimiterMemory(shape);
    return new RateLimiterRedis({
      ...shape,
      storeClient: options.redis,
      rejectIfRedisNotReady: true,
      inMemoryBlockOnConsumed: points,
      insuranceLimiter: new RateLimiterMemory(shape),
    });
  };
  // One limiter per distinct limit (operators set few). The Redis keys do not depend on the
  // limit, so a changed limit applies to the counts already made in the current window.
  const limiters = new Map<string, Limiter>();
  const limiterFor = (limit: RateLimit): Limiter => {
    const id = `${limit.requestsPerSecond}/${limit.burst}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      const base = counter('s', limit.requestsPerSecond, 1);
      limiter =
        limit.burst > limit.requestsPerSecond ? new BurstyRateLimiter(base, counter('b', limit.burst - limit.requestsPerSecond, BURST_WINDOW_SECONDS)) : base;
      if (limiters.size >= 1_000) limiters.clear();
      limiters.set(id, limiter);
    }
    return limiter;
  };

  const refusals = refusalSummary(options.logger);
  // When Redis last refused each (directory, limit): until then every request of it is refused
  // here, without asking Redis (what it would answer until the window ends). A limit changed
  // meanwhile has another key, so it applies at once.
  const blockedUntil = new Map<string, number>();
  let lastBlockEnds = 0;
  const blockKey = (directoryId: string, limit: RateLimit) => `${directoryId}/${limit.requestsPerSecond}/${limit.burst}`;
  const refuse = (res: ServerResponse, directoryId: string, limit: RateLimit, ms: number) => {
    res.setHeader('Retry-After', String(retryAfterSeconds(ms)));
    sendScim(res, 429, overLimitBody(limit));
    refusals.count(directoryId, limit);
  };
  const refuseIfBlocked = (principal: DirectoryPrincipal, res: ServerResponse): boolean => {
    const limit = principal.rateLimit ?? defaults;
    const key = blockKey(principal.directoryId, limit);
    const until = blockedUntil.get(key);
    if (until === undefined) return false;
    const ms = until - Date.now();
    if (ms <= 0) {
      blockedUntil.delete(key);
      return false;
    }
    refuse(res, principal.directoryId, limit, ms);
    return true;
  };
  // Points this process has taken from Redis and not yet used, per (directory, limit), valid
  // until the window they were taken in ends; one lease request in flight per key at a time.
  const leases = new Map<string, { left: number; until: number }>();
  const fetching = new Map<string, Promise<void>>();
  const fetchLease = (key: string, directoryId: string, limit: RateLimit): Promise<void> => {
    let pending = fetching.get(key);
    if (!pending) {
      const points = leaseSize(limit);
      pending = limiterFor(limit)
        .consume(directoryId, points)
        .then((granted) => {
          if (leases.size >= 10_000) leases.clear();
          leases.set(key, { left: points, until: Date.now() + granted.msBeforeNext });
        })
        .finally(() => fetching.delete(key));
      fetching.set(key, pending);
    }
    return pending;
  };
  const middleware: RequestHandler = (req, res, next) => {
    const principal = (req as Request & { directory: DirectoryPrincipal }).directory;
    if (refuseIfBlocked(principal, res)) return;
    const limit = principal.rateLimit ?? defaults;
    const key = blockKey(principal.directoryId, limit);
    const lease = leases.get(key);
    if (lease !== undefined && lease.left > 0 && lease.until > Date.now()) {
      lease.left--;
      return next();
    }
    fetchLease(key, principal.directoryId, limit).then(
      // Taken by this request or by one beside it: either way, try the lease again.
      () => middleware(req, res, next),
      (rejection: unknown) => {
        if (rejection instanceof RateLimiterRes) {
          // Answered here, not thrown to the error handler: a directory far over its limit sends
          // hundreds of these a second, and each must cost its neighbours as little as possible
          // (no Error and stack, no per-request log line; one summary per interval instead).
          if (blockedUntil.size >= 10_000) blockedUntil.clear();
          blockedUntil.set(key, Date.now() + rejection.msBeforeNext);
          lastBlockEnds = Math.max(lastBlockEnds, Date.now() + rejection.msBeforeNext);
          refuse(res, principal.directoryId, limit, rejection.msBeforeNext);
          return;
        }
        // Neither Redis nor the in-memory fallback answered: SCIM does not depend on the limiter.
        options.logger.warn({ err: rejection, 'directory.id': principal.directoryId }, 'rate limiter failed; request let through');
        next();
      },
    );
  };
  return Object.assign(middleware, { refuseIfBlocked, anyBlocked: () => Date.now() < lastBlockEnds });
}

/**
 * Refuses a request of a directory known to be over its limit before Express sees it: app.ts
 * puts it in front of the Express app, so the hundreds a second a noisy directory sends cost
 * their neighbours next to nothing (no Express request and response objects, no query parsing,
 * no routing, no log line; measured: see BENCHMARKS.md, noisy neighbour). Only a key already in
 * this process's cache is recognised (`cached`, no PostgreSQL); anything else goes the usual
 * way, through authentication and the limit. Returns whether it answered.
 */
export function overLimitGate(options: {
  cached(token: string): DirectoryPrincipal | undefined;
  limit: DirectoryRateLimit;
  /** The headers every response carries (security-headers.ts). */
  headers(res: ServerResponse): void;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const header = req.headers.authorization;
    // Most of the time no directory is over its limit: then not even the key is looked at.
    if (header === undefined || !options.limit.anyBlocked() || !req.url?.startsWith('/scim/')) return false;
    const token = BEARER.exec(header)?.[1];
    const principal = token === undefined ? undefined : options.cached(token);
    if (principal === undefined) return false;
    options.headers(res);
    if (!options.limit.refuseIfBlocked(principal, res)) return false;
    recordHttpRequest(req.method ?? 'GET', OVER_LIMIT_ROUTE, 429, 0);
    return true;
  };
}

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The route label of requests the gate refused (they are never routed). */
export const OVER_LIMIT_ROUTE = 'over_rate_limit';

/** The 429 body of one limit, rendered once. */
const overLimitBodies = new Map<string, object>();
function overLimitBody(limit: RateLimit): object {
  const id = `${limit.requestsPerSecond}/${limit.burst}`;
  let body = overLimitBodies.get(id);
  if (!body) {
    body = new ScimError(
      429,
      undefined,
      `this directory is over its limit of ${limit.requestsPerSecond} requests per second (bursts of ${limit.burst})`,
    ).toJSON();
    if (overLimitBodies.size >= 1_000) overLimitBodies.clear();
    overLimitBodies.set(id, body);
  }
  return body;
}

/**
 * One info line per directory and interval while it is over its limit: the first refusal at
 * once, then how many were refused since. A per-request line would let one directory flood the
 * log at its whole offered rate.
 */
function refusalSummary(logger: Logger, intervalMs = SUMMARY_INTERVAL_MS) {
  const open = new Map<string, { since: number; refused: number }>();
  return {
    count(directoryId: string, limit: RateLimit): void {
      const now = Date.now();
      const entry = open.get(directoryId);
      if (entry && now - entry.since < intervalMs) {
        entry.refused++;
        return;
      }
      logger.info(
        { 'directory.id': directoryId, refused: (entry?.refused ?? 0) + 1, requestsPerSecond: limit.requestsPerSecond, burst: limit.burst },
        'directory over its rate limit: requests answered 429',
      );
      if (open.size >= 10_000) open.clear();
      open.set(directoryId, { since: now, refused: 0 });
    },
  };
}

/** A 429 with `Retry-After` in whole seconds (the header has no fractions), at least 1; the caller passes it to next(). */
export function tooManyRequests(res: ServerResponse, msBeforeNext: number, detail: string): ScimError {
  res.setHeader('Retry-After', String(retryAfterSeconds(msBeforeNext)));
  return new ScimError(429, undefined, detail);
}

export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

function checkLimit(limit: RateLimit): void {
  if (!Number.isInteger(limit.requestsPerSecond) || limit.requestsPerSecond < 1)
    throw new TypeError('directoryRateLimit: requestsPerSecond must be a positive integer');
  if (!Number.isInteger(limit.burst) || limit.burst < limit.requestsPerSecond)
    throw new TypeError('directoryRateLimit: burst must be an integer of at least requestsPerSecond');
}

export interface LimiterRedisOptions {
  readonly logger: Logger;
  /** Longest a limiter command may take before the in-memory fallback answers, in ms. Default 100. */
  readonly timeoutMs?: number;
}

/**
 * The limiters' own Redis connection (a server's or a cluster's, from createRedis). Unlike the
 * queues' (which wait through a restart), its commands fail fast: not queued while disconnected,
 * never retried, and timed out after `timeoutMs`, because a limiter that waits would hold every
 * SCIM request with it. Each counter is one key, so a cluster needs no hash tag here.
 */
export function limiterRedis(target: RedisTarget, options: LimiterRedisOptions): RedisClient {
  const redis = createRedis(target, { commandTimeoutMs: options.timeoutMs ?? 100, logErrors: false });
  // One warning per outage, not one per reconnection attempt (a cluster's nodes report theirs apart).
  let up = true;
  const down = (err: Error) => {
    if (!up) return;
    up = false;
    options.logger.warn({ err }, 'rate limiter Redis unreachable; limits are counted per process until it is back');
  };
  redis.on('error', down);
  redis.on('node error', down);
  redis.on('ready', () => {
    if (up) return;
    up = true;
    options.logger.info('rate limiter Redis reachable again');
  });
  return redis;
}
