import cluster from 'node:cluster';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withTimeout } from '../polling-loop';

/**
 * Prometheus metrics: one registry per process, every metric name in this catalog. Labels are
 * bounded sets (route templates, HTTP method, status class, queue names, job states, outcomes);
 * never ids, tenants, users or raw URLs, so a scrape stays small and carries no customer data.
 */
export const METRICS = {
  httpRequests: 'scim_http_requests_total',
  httpDuration: 'scim_http_request_duration_seconds',
  queueJobs: 'scim_queue_jobs',
  queueOldestWaiting: 'scim_queue_oldest_waiting_job_age_seconds',
  deliveries: 'scim_webhook_deliveries_total',
  deliveryLag: 'scim_webhook_delivery_lag_seconds',
  outboxBacklog: 'scim_outbox_backlog_events',
  outboxOldest: 'scim_outbox_oldest_event_age_seconds',
  deliveriesOverdue: 'scim_webhook_deliveries_overdue',
  jobsOverdue: 'scim_jobs_overdue',
  collectErrors: 'scim_metrics_collect_errors_total',
  activityDropped: 'scim_activity_dropped_total',
  directoriesFailing: 'scim_directories_failing',
} as const;

/** The process's registry: `GET /metrics` on the API and the worker's metrics server serve it. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** A scrape must not hang on a dead Redis or PostgreSQL: a source slower than this is skipped. */
const COLLECT_TIMEOUT_MS = 2_000;

const httpRequests = new Counter({
  name: METRICS.httpRequests,
  help: 'HTTP requests answered, by method, route template and status class',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

const httpDuration = new Histogram({
  name: METRICS.httpDuration,
  help: 'Time from request to response finished, by method, route template and status class',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

const deliveries = new Counter({
  name: METRICS.deliveries,
  help: 'Webhook delivery attempts by outcome: success (2xx), failure (will be retried), dead (given up)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const deliveryLag = new Histogram({
  name: METRICS.deliveryLag,
  help: "Seconds from the event's occurred_at to the receiver's 2xx",
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
  registers: [registry],
});

const collectErrors = new Counter({
  name: METRICS.collectErrors,
  help: 'Scrape-time collections that failed or timed out, by source (queues, outbox, deliveries, jobs)',
  labelNames: ['source'] as const,
  registers: [registry],
});

const activityDropped = new Counter({
  name: METRICS.activityDropped,
  help: "SCIM requests left out of the setup page's request log: overflow (the API's buffer was full, e.g. while PostgreSQL was down) or shutdown (not written before exit)",
  labelNames: ['reason'] as const,
  registers: [registry],
});

/** Why recorded SCIM requests were dropped before reaching PostgreSQL. */
export type ActivityDropReason = 'overflow' | 'shutdown';

/** Counts `n` SCIM requests the activity recorder dropped. */
export function recordActivityDropped(reason: ActivityDropReason, n = 1): void {
  if (n > 0) activityDropped.inc({ reason }, n);
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Records one answered HTTP request. `route` must be a template ('/scim/v2/Users/:id') or
 * 'unmatched'; the method is client-chosen, so anything unusual is folded into 'OTHER'.
 */
export function recordHttpRequest(method: string, route: string, statusCode: number, seconds: number): void {
  const labels = {
    method: KNOWN_METHODS.has(method) ? method : 'OTHER',
    route,
    status: `${Math.floor(statusCode / 100)}xx`,
  };
  httpRequests.inc(labels);
  httpDuration.observe(labels, seconds);
}

/** success: the receiver answered 2xx; failure: the attempt failed and will be retried; dead: given up. */
export type DeliveryOutcome = 'success' | 'failure' | 'dead';

/**
 * Called by the delivery worker once per attempt. `lagSeconds` (event occurred_at → 2xx) is
 * observed only for successes.
 */
export function recordDelivery(outcome: DeliveryOutcome, lagSeconds?: number): void {
  deliveries.inc({ outcome });
  if (outcome === 'success' && lagSeconds !== undefined && Number.isFinite(lagSeconds)) {
    deliveryLag.observe(Math.max(0, lagSeconds));
  }
}

/**
 * Reads `work` for a scrape, bounded by COLLECT_TIMEOUT_MS. A failure or a timeout is counted in
 * scim_metrics_collect_errors_total under `source` and resolves undefined: the caller leaves
 * its series out rather than report a stale or false value.
 */
export async function collectFrom<T>(source: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await withTimeout(work(), COLLECT_TIMEOUT_MS, () => new Error(`timed out after ${COLLECT_TIMEOUT_MS} ms`));
  } catch {
    collectErrors.inc({ source });
    return undefined;
  }
}

/** A gauge whose series are set, on each scrape, from one reading of its source. */
export interface ScrapedGauge<T> {
  readonly name: (typeof METRICS)[keyof typeof METRICS];
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Sets the series of one reading; a series it does not set is absent from this scrape. */
  report(reading: T, set: (labels: Record<string, string>, value: number) => void): void;
}

/**
 * Registers gauges fed at scrape time by `read` (Redis, PostgreSQL), whose owner injects it: this
 * module knows no queue or table. prom-client collects metrics in parallel, so the first gauge
 * starts the read and the others join it. `read` resolving undefined (nothing watched, or
 * unreadable: see collectFrom) leaves every series out.
 */
export function registerScrapedGauges<T>(read: () => Promise<T | undefined>, gauges: readonly ScrapedGauge<T>[]): void {
  let pending: Promise<T | undefined> | undefined;
  const snapshot = () => (pending ??= read().finally(() => (pending = undefined)));
  for (const gauge of gauges) {
    new Gauge({
      name: gauge.name,
      help: gauge.help,
      labelNames: gauge.labelNames,
      registers: [registry],
      // Every process of a cluster reads the same source: the reading, not their sum.
      aggregator: 'max',
      async collect() {
        // Reset first: when the source cannot be read, the series disappear instead of repeating old values.
        this.reset();
        const reading = await snapshot();
        if (reading !== undefined) gauge.report(reading, (labels, value) => this.set(labels, value));
      },
    });
  }
}

// ---- several processes (WEB_CONCURRENCY): one scrape answers for all of them ----

const CLUSTER_METRICS = 'scim:cluster-metrics';
/** Longest a process waits for its siblings' metrics; prom-client's own limit is 5 s. */
const CLUSTER_METRICS_TIMEOUT_MS = 6_000;

interface ClusterMetricsMessage {
  readonly type: typeof CLUSTER_METRICS;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

const isClusterMetricsMessage = (m: unknown): m is ClusterMetricsMessage => (m as ClusterMetricsMessage | null)?.type === CLUSTER_METRICS;

/**
 * In the primary of a cluster: answers each process's request for the metrics of all, which
 * prom-client gathers from every process and adds up (counters and histograms summed; scraped
 * gauges, which all read the same source, by their maximum).
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isClusterMetricsMessage(message)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: CLUSTER_METRICS, id: message.id, text }),
      (err: Error) => worker.send({ type: CLUSTER_METRICS, id: message.id, error: err.message }),
    );
  });
}

/**
 * In a process of a cluster: answers the primary's collection with this registry's metrics (the
 * AggregatorRegistry is constructed for that side effect), and routes the primary's replies to
 * the scrapes waiting for them.
 */
function joinClusterMetrics(): Map<number, (reply: ClusterMetricsMessage) => void> {
  const pending = new Map<number, (reply: ClusterMetricsMessage) => void>();
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry();
  process.on('message', (message: unknown) => {
    if (isClusterMetricsMessage(message)) pending.get(message.id)?.(message);
  });
  return pending;
}
const pendingReplies = cluster.isWorker ? joinClusterMetrics() : undefined;
let nextRequest = 0;

/** The text of `GET /metrics`: this process's metrics, or, in a cluster, every process's added up. */
export async function metricsText(): Promise<string> {
  const pending = pendingReplies;
  if (!pending || !process.send) return registry.metrics();
  const id = nextRequest++;
  const reply = new Promise<ClusterMetricsMessage>((resolve) => pending.set(id, resolve));
  process.send({ type: CLUSTER_METRICS, id });
  try {
    const answer = await withTimeout(reply, CLUSTER_METRICS_TIMEOUT_MS, () => new Error(`no answer within ${CLUSTER_METRICS_TIMEOUT_MS} ms`));
    if (answer.error !== undefined || answer.text === undefined) throw new Error(answer.error ?? 'empty answer');
    return answer.text;
  } finally {
    pending.delete(id);
  }
}
