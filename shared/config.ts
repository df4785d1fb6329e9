import { z } from 'zod';
import {
  adminTokenWeakness,
  decodeEncryptionKey,
  isTrustProxy,
  parseClusterNodes,
  parseDuration,
  parseDurationList,
  splitRelativePath,
  trustProxy,
} from './config-formats';

/**
 * The only reader of `process.env` (besides the OTel SDK's `OTEL_*`). Parsed once at import;
 * every bad key is listed together so an operator fixes them in one go.
 */
const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    /** HTTP port of the API. Default 3000. */
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /**
     * API processes `npm run api` runs on PORT (Node's cluster module shares the socket); one of
     * them answering /metrics reports the sum of all. Default 1: one process, no cluster.
     */
    WEB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
    /** Default: a local database named `scim`. */
    DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/scim'),
    /**
     * What DATABASE_URL reaches: `session` (PostgreSQL itself, or a pooler in session mode) or
     * `transaction` (PgBouncer's pool_mode = transaction, where consecutive statements of one
     * connection may run on different server connections). Default `session`.
     */
    DATABASE_POOL_MODE: z.enum(['session', 'transaction']).default('session'),
    /**
     * PostgreSQL itself, for what needs a session of its own: the auth-change LISTEN connection,
     * migrations, creating the database. Default DATABASE_URL; required when DATABASE_POOL_MODE
     * is `transaction` (a LISTEN through a transaction pooler is accepted and then hears nothing).
     */
    DATABASE_DIRECT_URL: z.string().url().optional(),
    /** Default: the local Redis. */
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /**
     * A Redis Cluster's seed nodes, comma-separated `host:port` (or `redis://` / `rediss://` URLs;
     * the first entry's user, password and TLS apply to every node), e.g.
     * `rediss://:secret@redis-0:6379,redis-1:6379,redis-2:6379`. When set every Redis client is a
     * cluster client, queue keys are hash-tagged (`{scim}`) and REDIS_URL is not used. Default: none.
     */
    REDIS_CLUSTER_NODES: z
      .string()
      .refine(
        (text) => parseClusterNodes(text) !== undefined,
        'comma-separated host:port entries (or redis:// or rediss:// URLs), e.g. redis-0:6379,redis-1:6379',
      )
      .optional(),
    /** Operator secret for /admin/v1; required in production. Refused when guessable (see adminTokenWeakness). */
    ADMIN_TOKEN: z
      .string()
      .optional()
      .superRefine((token, ctx) => {
        const weakness = token === undefined ? undefined : adminTokenWeakness(token);
        if (weakness) ctx.addIssue({ code: 'custom', message: weakness });
      }),
    /** Region this deployment serves; shows in key prefixes (`scim_us_…`). Default `us`. */
    REGION: z
      .string()
      .regex(/^[a-z]{2,8}$/, 'lowercase letters only, 2 to 8 of them')
      .default('us'),
    /** External base URL used for `scimUrl` and `meta.location`. Default http://localhost:$PORT. */
    PUBLIC_BASE_URL: z.string().url().optional(),
    /** Where operators look at traces (Jaeger, Grafana Tempo…), linked from the console. Default: no link. */
    TRACES_UI_URL: z.string().url().optional(),
    /** Largest accepted request body, in bytes; advertised as bulk.maxPayloadSize. Default 1 MiB. */
    MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
    /** Largest page a list answers; advertised in ServiceProviderConfig. Default 1000. */
    MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(1000),
    /** Operations a /Bulk request may carry. Default 1000. */
    MAX_BULK_OPERATIONS: z.coerce.number().int().min(1).max(10_000).default(1000),
    /**
     * PostgreSQL connections per API process. Default 10: statements of concurrent requests are
     * batched, and backends beyond PostgreSQL's cores add contention, not throughput (BENCHMARKS.md,
     * session 15: with 20, PostgreSQL spent 5–15 % more CPU per request than with 10 on the 2-core machine).
     */
    DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
    /**
     * Connections each process opens at start and keeps (idle ones above it close after 10 s).
     * Default: the pool's size, a fixed pool. A new connection is a new PostgreSQL backend with cold
     * caches; twenty of them opened at once by a burst after a quiet spell held every request for
     * over a second (BENCHMARKS.md, session 10).
     */
    DB_POOL_MIN: z.coerce.number().int().min(0).max(500).optional(),
    /** Longest wait for a new PostgreSQL connection, ms; past it the request gets a 503. Default 3,000. */
    DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(3_000),
    /** Longest a request waits for a pooled connection (connecting included), ms; past it the request gets a 503. Default 5,000. */
    DB_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
    /**
     * 32 bytes (64 hex characters or base64) encrypting webhook secrets at rest (AES-256-GCM).
     * Required in production; development and tests derive a fixed key.
     */
    WEBHOOK_ENCRYPTION_KEY: z.string().optional(),
    /** Per-attempt timeout of a webhook call, ms. Default 10,000. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /**
     * Webhook calls in flight per worker process. Calls mostly wait on receivers, so this is
     * high: a few slow receivers must not hold up everyone else's deliveries. Default 100.
     */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(100),
    /**
     * Delays before each retry, comma-separated durations (ms, s, m, h, d), each jittered ±20%. Default spreads 12
     * attempts over about a day, the first within seconds: 5s,30s,2m,5m,15m,30m,1h,2h,4h,6h,8h.
     */
    WEBHOOK_RETRY_SCHEDULE: z.string().default('5s,30s,2m,5m,15m,30m,1h,2h,4h,6h,8h'),
    /**
     * Hosts (or host:port) webhooks may reach even when private, loopback or link-local, e.g.
     * `127.0.0.1,hooks.internal`. Outside production loopback is allowed regardless.
     */
    WEBHOOK_ALLOWED_HOSTS: z.string().default(''),
    /** An endpoint whose deliveries have failed, without a success, for this long is marked failing (with an event). Default 1h. */
    WEBHOOK_FAILING_AFTER: z.string().default('1h'),
    /** … and after this long it is disabled (with an event); its undelivered events become dead letters. Default 3d. */
    WEBHOOK_DISABLE_AFTER: z.string().default('3d'),
    /** How long the API keeps an idle connection open; above the load balancer's idle timeout. Default 65,000 ms. */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(65_000),
    /**
     * How many new connections one API process takes in per event-loop iteration: Node.js 20
     * accepts one per handle on the listening socket, and a busy iteration lasts tens of ms, so a
     * burst of new connections (Entra's cycle starting for many tenants) waited seconds. 1 turns
     * the extra handles off; a cluster's processes (WEB_CONCURRENCY above 1) have none. Default 16.
     */
    HTTP_ACCEPT_HANDLES: z.coerce.number().int().min(1).max(64).default(16),
    /**
     * A pending delivery this long past its due time, or an export or reconciliation queued or
     * running this long without progress, has no job that will run (Redis lost it): the workers'
     * sweeper enqueues it again, and the API counts it in scim_webhook_deliveries_overdue /
     * scim_jobs_overdue. Longer than WEBHOOK_TIMEOUT_MS. Default 2m.
     */
    JOB_OVERDUE_AFTER: z.string().default('2m'),
    /** How often each worker process looks for overdue deliveries, exports and reconciliations. Default 30s. */
    JOB_SWEEP_INTERVAL: z.string().default('30s'),
    /**
     * Events (the audit trail and the webhooks' source) older than this many days are dropped a
     * whole month's partition at a time by the workers' upkeep, once none of their deliveries is
     * pending and no export is running over them; 0 keeps them for ever. Default 0: dropping the
     * audit trail is the operator's decision (400 keeps a year and its month edges).
     */
    EVENTS_RETENTION_DAYS: z.coerce.number().int().min(0).max(100_000).default(0),
    /**
     * The worker's CPU priority (a nice value, 0–19), which it sets on itself at start. Its work
     * (relaying events, calling webhooks) can wait; Entra waits for every SCIM answer, so where
     * the worker shares cores with the API and PostgreSQL it lets them go first. Where it has CPU
     * of its own (its own container or pod) this changes nothing. Default 10 (BENCHMARKS.md,
     * session 16: in an A/B, 30 tenants at once passed in both runs at 10 and missed in both at 0).
     */
    WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Port of the worker's /metrics, /healthz and /readyz server; 0 disables it. Default 9464 (Prometheus's exporter port). */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    /**
     * Longest a worker waits on SIGTERM for running jobs before it exits anyway (code 1; BullMQ
     * hands unfinished jobs to another worker as stalled). Default 30,000 ms.
     */
    WORKER_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(30_000),
    /** Where audit exports are written (local disk storage). Default .data/exports. */
    EXPORT_DIR: z.string().default('.data/exports'),
    /**
     * Bucket of an S3-compatible store for audit exports; when set, exports go there instead of
     * EXPORT_DIR. Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID /
     * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, profiles, instance roles), not from this config.
     */
    EXPORT_S3_BUCKET: z.string().optional(),
    /** URL of an S3-compatible store (MinIO, Cloudflare R2, Ceph RGW). Default: AWS S3 of EXPORT_S3_REGION. */
    EXPORT_S3_ENDPOINT: z.string().url().optional(),
    /** Region of the bucket. Default `us-east-1`. */
    EXPORT_S3_REGION: z.string().min(1).default('us-east-1'),
    /** Folder the exports are stored under, a plain relative path like `scim/exports`. Default: none. */
    EXPORT_S3_PREFIX: z
      .string()
      .refine((prefix) => splitRelativePath(prefix) !== undefined, 'a plain relative path like scim/exports, without leading or trailing slash')
      .optional(),
    /** Path-style bucket URLs (`endpoint/bucket/key`); MinIO and most self-hosted stores need true. Default false. */
    EXPORT_S3_FORCE_PATH_STYLE: z.stringbool().default(false),
    /** SCIM requests per second a directory may make unless the admin API gave it its own limit. Default 100. */
    RATE_LIMIT_RPS: z.coerce.number().int().min(1).max(100_000).default(100),
    /** The most requests such a directory may make in one second (its bursts). Default 200. */
    RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(200),
    /** Failed authentications (SCIM keys, admin token, dashboard sign-in) per client address and minute before it is refused for a minute. Default 20. */
    AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(20),
    /**
     * Express's `trust proxy`: unset or `false` takes the client address from the socket; `true`,
     * a hop count (`1`), or addresses and subnets (`loopback, 10.0.0.0/8`) of the proxies whose
     * X-Forwarded-For is believed. Used to count failed authentications per address.
     */
    TRUST_PROXY: z
      .string()
      .refine(isTrustProxy, 'true, false, a hop count, or comma-separated addresses/subnets (or loopback, linklocal, uniquelocal)')
      .optional(),
    /** Default `info`, or `silent` when NODE_ENV=test. */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && !env.ADMIN_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['ADMIN_TOKEN'], message: 'required in production' });
    }
    if (env.DATABASE_POOL_MODE === 'transaction' && !env.DATABASE_DIRECT_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_DIRECT_URL'],
        message: 'required when DATABASE_POOL_MODE is transaction: PostgreSQL itself, for LISTEN/NOTIFY and migrations',
      });
    }
    if (env.RATE_LIMIT_BURST < env.RATE_LIMIT_RPS) {
      ctx.addIssue({ code: 'custom', path: ['RATE_LIMIT_BURST'], message: `must be at least RATE_LIMIT_RPS (${env.RATE_LIMIT_RPS})` });
    }
    if (env.NODE_ENV === 'production' && !env.WEBHOOK_ENCRYPTION_KEY) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_ENCRYPTION_KEY'], message: 'required in production' });
    }
    // Webhook values are checked here, at boot, rather than when the first delivery needs them.
    const webhookChecks: [keyof typeof env, () => unknown][] = [
      ['WEBHOOK_ENCRYPTION_KEY', () => env.WEBHOOK_ENCRYPTION_KEY && decodeEncryptionKey(env.WEBHOOK_ENCRYPTION_KEY)],
      ['WEBHOOK_RETRY_SCHEDULE', () => parseDurationList(env.WEBHOOK_RETRY_SCHEDULE)],
      ['WEBHOOK_FAILING_AFTER', () => parseDuration(env.WEBHOOK_FAILING_AFTER)],
      ['WEBHOOK_DISABLE_AFTER', () => parseDuration(env.WEBHOOK_DISABLE_AFTER)],
      [
        'JOB_OVERDUE_AFTER',
        () => {
          if (parseDuration(env.JOB_OVERDUE_AFTER) <= env.WEBHOOK_TIMEOUT_MS) throw new Error('must be longer than WEBHOOK_TIMEOUT_MS');
        },
      ],
      [
        'JOB_SWEEP_INTERVAL',
        () => {
          if (parseDuration(env.JOB_SWEEP_INTERVAL) < 1) throw new Error('must be at least 1ms');
        },
      ],
    ];
    for (const [key, check] of webhookChecks) {
      try {
        check();
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: [key], message: (err as Error).message });
      }
    }
  });

type Env = z.infer<typeof schema>;
export type Config = Readonly<Omit<Env, 'LOG_LEVEL' | 'TRUST_PROXY' | 'DATABASE_DIRECT_URL'>> & {
  readonly DATABASE_DIRECT_URL: string;
  readonly LOG_LEVEL: NonNullable<Env['LOG_LEVEL']>;
  readonly TRUST_PROXY: boolean | number | string;
  readonly publicBaseUrl: string;
};

/** A configuration that cannot run; its message names every bad key, and nothing else is worth printing. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses an environment; throws one error naming every bad key. Exported for tests. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  // An empty variable (`ADMIN_TOKEN=` copied from .env.example) means "not set".
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const publicBaseUrl = (parsed.data.PUBLIC_BASE_URL ?? `http://localhost:${parsed.data.PORT}`).replace(/\/+$/, '');
  const LOG_LEVEL = parsed.data.LOG_LEVEL ?? (parsed.data.NODE_ENV === 'test' ? 'silent' : 'info');
  const DATABASE_DIRECT_URL = parsed.data.DATABASE_DIRECT_URL ?? parsed.data.DATABASE_URL;
  return Object.freeze({ ...parsed.data, DATABASE_DIRECT_URL, LOG_LEVEL, TRUST_PROXY: trustProxy(parsed.data.TRUST_PROXY), publicBaseUrl });
}

/**
 * Parsed on import, so every process (API, worker, scripts) stops here on a bad environment:
 * one message on stderr and exit code 1. A stack trace would only bury the list of bad keys.
 */
function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

export const config: Config = loadConfig();
