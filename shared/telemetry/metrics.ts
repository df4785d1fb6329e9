import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { config, parseDuration } from '../config';
import { DeliverySweep } from '../db/repositories/delivery-sweep';
import { reconcileReportSweep } from '../db/repositories/reconcile-reports';
import type { Database } from '../db/sequelize';
import { outboxBacklog, WEBHOOKS_POSITION } from '../events/outbox-relay';
import { auditExportSweep } from '../exports/repository';
import { QUEUES, type JobSweep } from '../queue/catalog';
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
} as const;

/** The process's registry: `GET /metrics` on the API and the worker's metrics server serve it. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** Job states reported per queue (BullMQ's names). */
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;
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

const collected = <T>(work: Promise<T>): Promise<T> => withTimeout(work, COLLECT_TIMEOUT_MS, () => new Error(`timed out after ${COLLECT_TIMEOUT_MS} ms`));

/**
 * Several gauges read one snapshot: prom-client collects metrics in parallel, so the first
 * collector starts the read and the others join it.
 */
function sharedSnapshot<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => (pending ??= read().finally(() => (pending = undefined)));
}

// ----- queues: depth by state and the oldest waiting job's age, read from Redis on scrape -----

const watchedQueues = new Set<readonly Queue[]>();

interface QueueSnapshot {
  readonly name: string;
  readonly counts: Record<string, number>;
  readonly oldestWaitingSeconds: number;
}

async function readQueue(queue: Queue): Promise<QueueSnapshot> {
  // While Redis is away ioredis would hold each command until it returns: every scrape would
  // leave more of them waiting. Give up at once instead.
  const client = (await queue.backend.client) as { status?: string };
  if (client.status !== undefined && client.status !== 'ready') throw new Error(`redis connection is ${client.status}`);
  const counts = await queue.getJobCounts(...QUEUE_STATES);
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  let oldestWaitingSeconds = 0;
  if (oldest) {
    // BullMQ keeps the creation time; a job added with a delay, or back from a failed attempt,
    // has waited only since its delay ended or its last attempt started.
    const since = Math.max(oldest.timestamp + (oldest.opts.delay ?? 0), oldest.processedOn ?? 0);
    oldestWaitingSeconds = Math.max(0, (Date.now() - since) / 1000);
  }
  return { name: queue.name, counts, oldestWaitingSeconds };
}

const queueSnapshot = sharedSnapshot(async (): Promise<QueueSnapshot[] | undefined> => {
  const queues = [...watchedQueues].flat();
  if (queues.length === 0) return [];
  try {
    return await collected(Promise.all(queues.map(readQueue)));
  } catch {
    collectErrors.inc({ source: 'queues' });
    return undefined;
  }
});

new Gauge({
  name: METRICS.queueJobs,
  help: 'Jobs per BullMQ queue and state (completed and failed as retained by BullMQ)',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    // Reset first: when Redis cannot be read, the series disappear instead of repeating old values.
    this.reset();
    for (const q of (await queueSnapshot()) ?? []) {
      for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, q.counts[state] ?? 0);
    }
  },
});

new Gauge({
  name: METRICS.queueOldestWaiting,
  help: 'Age in seconds of the oldest job waiting to be picked up, per queue (0 when none waits)',
  labelNames: ['queue'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const q of (await queueSnapshot()) ?? []) this.set({ queue: q.name }, q.oldestWaitingSeconds);
  },
});

/**
 * Reports these queues' depth and age on every scrape; returns a function that stops it (the
 * caller closes the queues). Queue objects are a dependency, not created here.
 */
export function watchQueues(queues: readonly Queue[]): () => void {
  watchedQueues.add(queues);
  return () => {
    watchedQueues.delete(queues);
  };
}

// ----- outbox: events committed but not yet handed to the queues -----

let watchedOutbox: Database | undefined;

const outboxSnapshot = sharedSnapshot(async () => {
  if (!watchedOutbox) return undefined;
  try {
    return await collected(outboxBacklog(watchedOutbox));
  } catch {
    collectErrors.inc({ source: 'outbox' });
    return undefined;
  }
});

new Gauge({
  name: METRICS.outboxBacklog,
  help: 'Events committed in PostgreSQL that the relay has not yet enqueued, per relay position',
  // A label (one value) so that an unreadable outbox leaves no series rather than a false 0.
  labelNames: ['position'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const backlog = await outboxSnapshot();
    if (backlog) this.set({ position: WEBHOOKS_POSITION }, backlog.events);
  },
});

new Gauge({
  name: METRICS.outboxOldest,
  help: 'Age in seconds of the oldest event the relay has not yet enqueued (0 when none), per relay position',
  labelNames: ['position'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const backlog = await outboxSnapshot();
    if (backlog) this.set({ position: WEBHOOKS_POSITION }, backlog.oldestAgeSeconds);
  },
});

// ----- deliveries: pending, due, and yet no job ran them within the grace period -----

let watchedDeliveries: { readonly sweep: DeliverySweep; readonly overdueAfterMs: number } | undefined;

const overdueSnapshot = sharedSnapshot(async () => {
  if (!watchedDeliveries) return undefined;
  try {
    return await collected(watchedDeliveries.sweep.countOverdue(watchedDeliveries.overdueAfterMs));
  } catch {
    collectErrors.inc({ source: 'deliveries' });
    return undefined;
  }
});

new Gauge({
  name: METRICS.deliveriesOverdue,
  help: "Webhook deliveries pending and due for longer than JOB_OVERDUE_AFTER: their job was lost or never ran; the workers' sweeper enqueues them again",
  // A label (one value), as the outbox's: an unreadable PostgreSQL leaves no series rather than a false 0.
  labelNames: ['status'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const overdue = await overdueSnapshot();
    if (overdue !== undefined) this.set({ status: 'pending' }, overdue);
  },
});

// ----- exports and reconciliations: queued or running, and untouched past the grace period -----

let watchedJobs: { readonly sweeps: readonly (readonly [string, JobSweep<unknown>])[]; readonly overdueAfterMs: number } | undefined;

const jobsOverdueSnapshot = sharedSnapshot(async () => {
  if (!watchedJobs) return undefined;
  const { sweeps, overdueAfterMs } = watchedJobs;
  // Each queue on its own: one unreadable count leaves out its series only.
  return Promise.all(
    sweeps.map(async ([queue, sweep]) => {
      try {
        return [queue, await collected(sweep.countOverdue(overdueAfterMs))] as const;
      } catch {
        collectErrors.inc({ source: 'jobs' });
        return undefined;
      }
    }),
  );
});

new Gauge({
  name: METRICS.jobsOverdue,
  help: "Audit exports and reconciliations queued, or running without a heartbeat, for longer than JOB_OVERDUE_AFTER, per queue: their job was lost or never ran; the workers' sweeper enqueues them again (deliveries: scim_webhook_deliveries_overdue)",
  labelNames: ['queue'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const counted of (await jobsOverdueSnapshot()) ?? []) if (counted) this.set({ queue: counted[0] }, counted[1]);
  },
});

/**
 * Reports the outbox backlog, the overdue deliveries, and the overdue exports and reconciliations
 * read through `db` on every scrape; returns a function that stops it. `overdueAfterMs` defaults
 * to JOB_OVERDUE_AFTER.
 */
export function watchOutbox(db: Database, options: { overdueAfterMs?: number } = {}): () => void {
  const overdueAfterMs = options.overdueAfterMs ?? parseDuration(config.JOB_OVERDUE_AFTER);
  const deliveries = { sweep: new DeliverySweep(db), overdueAfterMs };
  const jobs = {
    sweeps: [
      [QUEUES.auditExport, auditExportSweep(db)],
      [QUEUES.groupReconcile, reconcileReportSweep(db)],
    ] as const,
    overdueAfterMs,
  };
  watchedOutbox = db;
  watchedDeliveries = deliveries;
  watchedJobs = jobs;
  return () => {
    if (watchedOutbox === db) watchedOutbox = undefined;
    if (watchedDeliveries === deliveries) watchedDeliveries = undefined;
    if (watchedJobs === jobs) watchedJobs = undefined;
  };
}
