import type { Request } from 'express';
import ipaddr from 'ipaddr.js';
import type { RedisClient } from '../../../shared/queue/redis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface AuthThrottleOptions {
  /** Redis shared by every API process (see limiterRedis). Default: none, each process counts on its own. */
  readonly redis?: RedisClient;
  /** Failed authentications an address may make per `windowSeconds`. Default 20. */
  readonly failures?: number;
  /** Default 60. */
  readonly windowSeconds?: number;
  /** How long an address that went over is refused, in seconds. Default 60. */
  readonly blockSeconds?: number;
  /** Prefix of the counters' Redis keys. Default `scim:authfail`. */
  readonly keyPrefix?: string;
}

export interface AuthThrottle {
  /** How long, in ms, this request's address is still refused; 0 when it may try. In memory: no I/O. */
  blockedFor(req: Request): number;
  /** Counts one failed authentication; resolves to how long the address is now refused, in ms (0: not yet). */
  failed(req: Request): Promise<number>;
}

/**
 * Failed authentications per client address (bad SCIM keys, bad admin tokens, failed dashboard
 * sign-ins), so nobody can try tokens or admin passwords at speed. Only failures are counted;
 * a blocked address is refused before its token is looked at, so a guess made while blocked
 * learns nothing. The block is learnt from Redis on a failure and then kept in this process's
 * memory, so successful requests cost nothing; another process learns it on the address's next
 * failure there (at most one more guess per process per block).
 */
export function authThrottle(options: AuthThrottleOptions = {}): AuthThrottle {
  const shape = {
    keyPrefix: options.keyPrefix ?? 'scim:authfail',
    points: options.failures ?? 20,
    duration: options.windowSeconds ?? 60,
    blockDuration: options.blockSeconds ?? 60,
  };
  if (!Number.isInteger(shape.points) || shape.points < 1) throw new TypeError('authThrottle: failures must be a positive integer');
  const limiter: RateLimiterAbstract = options.redis
    ? new RateLimiterRedis({ ...shape, storeClient: options.redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(shape) })
    : new RateLimiterMemory(shape);
  const blockedUntil = new Map<string, number>();

  return {
    blockedFor(req) {
      // Every SCIM request asks; while no address is blocked, parsing this one's is wasted work.
      if (blockedUntil.size === 0) return 0;
      const address = clientAddress(req);
      const until = blockedUntil.get(address);
      if (until === undefined) return 0;
      if (until > Date.now()) return until - Date.now();
      blockedUntil.delete(address);
      return 0;
    },
    async failed(req) {
      const address = clientAddress(req);
      try {
        await limiter.consume(address);
        return 0;
      } catch (rejection) {
        // Not a RateLimiterRes: neither Redis nor the fallback counted; a failure is never a 500.
        if (!(rejection instanceof RateLimiterRes)) return 0;
        if (blockedUntil.size >= 100_000) sweep(blockedUntil);
        blockedUntil.set(address, Date.now() + rejection.msBeforeNext);
        return rejection.msBeforeNext;
      }
    },
  };
}

function sweep(blockedUntil: Map<string, number>): void {
  const now = Date.now();
  for (const [address, until] of blockedUntil) if (until <= now) blockedUntil.delete(address);
  if (blockedUntil.size >= 100_000) blockedUntil.clear();
}

/**
 * The address Express sees (`req.ip`: the socket's, or the proxy chain's as `trust proxy`
 * allows). An IPv4-mapped IPv6 address counts as its IPv4 address; other IPv6 addresses count
 * per /64, since one host is usually given a whole /64 and could otherwise rotate through it.
 */
export function clientAddress(req: Request): string {
  const raw = req.ip ?? req.socket.remoteAddress ?? '';
  if (!ipaddr.isValid(raw)) return raw;
  const parsed = ipaddr.parse(raw);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts
    .slice(0, 4)
    .map((p) => p.toString(16))
    .join(':')}::/64`;
}
