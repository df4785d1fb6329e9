import IORedis, { type Redis } from 'ioredis';

/**
 * A Redis connection for BullMQ: `maxRetriesPerRequest: null` is what BullMQ workers require,
 * so a blocking command waits through a Redis restart instead of failing.
 */
export function createRedis(url: string, options: { lazyConnect?: boolean } = {}): Redis {
  return new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: options.lazyConnect ?? false });
}
