import IORedis, { Cluster, type ClusterOptions, type Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config';
import { type ClusterNodes, parseClusterNodes } from '../config-formats';
import { logger as defaultLogger, type Logger } from '../telemetry/logger';
import { withTimeout } from '../polling-loop';

/** Default spacing of connection error lines: one line per connection this often, at most. */
export const ERROR_LOG_INTERVAL_MS = 10_000;

/** Every Redis client of the platform: one server's, or a Redis Cluster's (REDIS_CLUSTER_NODES). */
export type RedisClient = Redis | Cluster;

/** Where Redis is: one server's URL (REDIS_URL), or a cluster's seed nodes (REDIS_CLUSTER_NODES). */
export type RedisTarget = string | ClusterNodes;

/** The configured Redis: the cluster when REDIS_CLUSTER_NODES is set, REDIS_URL otherwise. */
export function redisTarget(settings: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): RedisTarget {
  if (!settings.REDIS_CLUSTER_NODES) return settings.REDIS_URL;
  const nodes = parseClusterNodes(settings.REDIS_CLUSTER_NODES);
  // config.ts refused a bad value at boot; a Config built by hand may still carry one.
  if (!nodes) throw new Error('REDIS_CLUSTER_NODES: comma-separated host:port entries expected');
  return nodes;
}

export const isCluster = (client: RedisClient): client is Cluster => client.isCluster;

/**
 * BullMQ's key prefix for `base` (default `scim`). On a cluster it is a hash tag, `{scim}`: a
 * queue's Lua scripts touch several of its keys at once, which Redis Cluster allows only within
 * one slot, and only the part in braces decides the slot (BullMQ's guide, "Redis Cluster").
 */
export function queuePrefixFor(target: RedisTarget, base = 'scim'): string {
  return typeof target === 'string' || isHashTagged(base) ? base : `{${base}}`;
}

/** Whether a key prefix carries a non-empty hash tag, so every key under it maps to one slot. */
export const isHashTagged = (prefix: string): boolean => /^[^{]*\{[^}]+\}/.test(prefix);

export interface CreateRedisOptions {
  /** Connect on the first command instead of at once. Default false. */
  readonly lazyConnect?: boolean;
  /** Where connection errors go. Default: the process logger. */
  readonly logger?: Logger;
  /** At most one error line per this many ms; the next line counts those left out. Default 10,000. */
  readonly errorLogIntervalMs?: number;
  /**
   * Fail fast: commands are not queued while disconnected, never retried, and time out after
   * this many ms. For callers that must not wait for Redis (the rate limiters). Default: none,
   * commands wait through a Redis restart, which BullMQ requires.
   */
  readonly commandTimeoutMs?: number;
  /** Log connection errors (rate-limited). Default true; false for an owner that logs them itself. */
  readonly logErrors?: boolean;
}

/**
 * The one factory of Redis connections: a server's (`redis://…`) or, given cluster seeds, an
 * ioredis Cluster, which BullMQ, rate-limiter-flexible and bull-board all take as they take a
 * server's. By default `maxRetriesPerRequest: null`, what BullMQ workers require, so a blocking
 * command waits through a Redis restart instead of failing. Its errors become JSON log lines,
 * rate-limited: without a listener ioredis prints raw "[ioredis] Unhandled error event" text to
 * stderr on every reconnect attempt, several a second while Redis is down.
 */
export function createRedis(url: string, options?: CreateRedisOptions): Redis;
export function createRedis(target: RedisTarget, options?: CreateRedisOptions): RedisClient;
export function createRedis(target: RedisTarget, options: CreateRedisOptions = {}): RedisClient {
  const failFast = options.commandTimeoutMs !== undefined;
  const perCommand: RedisOptions = failFast
    ? { commandTimeout: options.commandTimeoutMs, enableOfflineQueue: false, maxRetriesPerRequest: 0 }
    : { maxRetriesPerRequest: null };
  const lazyConnect = options.lazyConnect ?? false;
  const connection: RedisClient =
    typeof target === 'string'
      ? new IORedis(target, { ...perCommand, enableReadyCheck: true, lazyConnect })
      : new Cluster([...target.nodes], clusterOptions(target, perCommand, { lazyConnect, enableOfflineQueue: !failFast }));
  if (options.logErrors ?? true) {
    const log = (options.logger ?? defaultLogger).child({ component: 'redis' });
    const onError = rateLimitedErrorLog(log, 'redis connection error', options.errorLogIntervalMs);
    connection.on('error', onError);
    // A cluster also reports each node's connection errors, under their own event.
    if (isCluster(connection)) connection.on('node error', onError);
  }
  return connection;
}

function clusterOptions(target: ClusterNodes, perCommand: RedisOptions, own: ClusterOptions): ClusterOptions {
  return {
    ...own,
    enableReadyCheck: true,
    redisOptions: {
      ...perCommand,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
    // With TLS the certificate names the configured host, not the address it resolves to: keep
    // the name (ioredis's README, "Special note: AWS ElastiCache Clusters with TLS").
    ...(target.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
  };
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
export async function checkRedisServer(redis: RedisClient, log: Logger = defaultLogger): Promise<RedisServerCheck> {
  let servers: [string, Map<string, string>][];
  try {
    servers = await redisWithin(readAllSettings(redis), CHECK_TIMEOUT_MS);
  } catch (err) {
    log.warn(
      { err: { message: (err as Error).message } },
      'Redis settings could not be checked (CONFIG GET refused or no answer): make sure maxmemory-policy is noeviction and persistence (appendonly yes, or RDB save points) is on, or queued jobs may be evicted or lost on restart and run only once the sweeper re-drives them',
    );
    return { checked: false, problems: [] };
  }
  const problems = servers.flatMap(([name, settings]) => settingProblems(settings).map((p) => (name ? `${name}: ${p}` : p)));
  if (problems.length > 0) log.warn({ problems }, `Redis is not configured for durable queues: ${problems.join('; ')}`);
  return { checked: true, problems };
}

function settingProblems(settings: Map<string, string>): string[] {
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
  return problems;
}

/**
 * Each server's settings: the one server's (named ''), or every master's of a cluster, named by
 * address, since each holds queue keys.
 */
async function readAllSettings(redis: RedisClient): Promise<[string, Map<string, string>][]> {
  if (!isCluster(redis)) return [['', await readSettings(redis)]];
  await redis.ping(); // waits for the slots map, which lists the masters
  return Promise.all(
    redis.nodes('master').map(async (node): Promise<[string, Map<string, string>]> => [`${node.options.host}:${node.options.port}`, await readSettings(node)]),
  );
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
