import IORedis, { type Redis } from 'ioredis';
import { logger as defaultLogger, type Logger } from '../telemetry/logger';
import { withTimeout } from '../polling-loop';

/** Default spacing of connection error lines: one line per connection this often, at most. */
export const ERROR_LOG_INTERVAL_MS = 10_000;

export interface CreateRedisOptions {
  /** Connect on the first command instead of at once. Default false. */
  readonly lazyConnect?: boolean;
  /** Where connection errors go. Default: the process logger. */
  readonly logger?: Logger;
  /** At most one error line per this many ms; the next line counts those left out. Default 10,000. */
  readonly errorLogIntervalMs?: number;
}

/**
 * A Redis connection for BullMQ: `maxRetriesPerRequest: null` is what BullMQ workers require,
 * so a blocking command waits through a Redis restart instead of failing. Its errors become JSON
 * log lines, rate-limited: without a listener ioredis prints raw "[ioredis] Unhandled error
 * event" text to stderr on every reconnect attempt, several a second while Redis is down.
 */
export function createRedis(url: string, options: CreateRedisOptions = {}): Redis {
  const connection = new IORedis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: options.lazyConnect ?? false });
  const log = (options.logger ?? defaultLogger).child({ component: 'redis' });
  connection.on('error', rateLimitedErrorLog(log, 'redis connection error', options.errorLogIntervalMs));
  return connection;
}

/**
 * An `error` listener that logs at warn level at most once per `intervalMs`, with the number of
 * errors left out since the previous line (`suppressed`): an outage stays visible without
 * flooding the log. For ioredis connections and BullMQ Queue and Worker `error` events.
 */
export function rateLimitedErrorLog(log: Logger, message: string, intervalMs: number = ERROR_LOG_INTERVAL_MS): (err: Error) => void {
  let lastAt = -Infinity;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      suppressed += 1;
      return;
    }
    lastAt = now;
    log.warn({ err: { name: err.name, message: err.message, code: (err as { code?: string }).code }, suppressed }, message);
    suppressed = 0;
  };
}

/** What checkRedisServer found; `checked` is false when the server's settings could not be read. */
export interface RedisServerCheck {
  readonly checked: boolean;
  readonly problems: readonly string[];
}

const CHECK_TIMEOUT_MS = 5_000;

/**
 * Checks the Redis server's settings that queued jobs rely on, once at start, and logs one
 * warning naming what is wrong, what can be lost and how to fix it. Never throws: local
 * development and tests run Redis without persistence, and managed Redis often refuses CONFIG.
 * Even when it warns nothing is lost for good: deliveries, exports and reconciliations live in
 * PostgreSQL and the workers' sweeper enqueues again what Redis dropped, only later.
 */
export async function checkRedisServer(redis: Redis, log: Logger = defaultLogger): Promise<RedisServerCheck> {
  let settings: Map<string, string>;
  try {
    settings = await redisWithin(readSettings(redis), CHECK_TIMEOUT_MS);
  } catch (err) {
    log.warn(
      { err: { message: (err as Error).message } },
      'Redis settings could not be checked (CONFIG GET refused or no answer): make sure maxmemory-policy is noeviction and persistence (appendonly yes, or RDB save points) is on, or queued jobs may be evicted or lost on restart and run only once the sweeper re-drives them',
    );
    return { checked: false, problems: [] };
  }
  const problems: string[] = [];
  const policy = settings.get('maxmemory-policy');
  if (policy !== 'noeviction') {
    problems.push(
      `maxmemory-policy is ${policy ?? 'unknown'}: under memory pressure Redis evicts keys, including queued jobs (deliveries, exports and reconciliations are then late until the sweeper re-drives them); set maxmemory-policy noeviction`,
    );
  }
  if (settings.get('appendonly') !== 'yes' && !settings.get('save')) {
    problems.push(
      'persistence is off (appendonly no, no save points): a Redis restart loses every queued job (deliveries, exports and reconciliations are then late until the sweeper re-drives them); set appendonly yes (or RDB save points)',
    );
  }
  if (problems.length > 0) log.warn({ problems }, `Redis is not configured for durable queues: ${problems.join('; ')}`);
  return { checked: true, problems };
}

async function readSettings(redis: Redis): Promise<Map<string, string>> {
  const settings = new Map<string, string>();
  for (const name of ['maxmemory-policy', 'appendonly', 'save']) {
    const pair = (await redis.call('CONFIG', 'GET', name)) as string[];
    for (let i = 0; i + 1 < pair.length; i += 2) settings.set(pair[i], pair[i + 1]);
  }
  return settings;
}

/**
 * `work` against Redis, or a rejection after `ms`. While Redis is away ioredis holds commands
 * until it returns (maxRetriesPerRequest: null), so callers that must not wait that long use
 * this; the abandoned work may still complete later, so it must be safe to repeat.
 */
export function redisWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  return withTimeout(work, ms, () => new Error(`Redis did not answer within ${ms} ms`));
}
