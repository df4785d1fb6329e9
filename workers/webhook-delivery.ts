import type { Span } from '@opentelemetry/api';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { DeliveryTarget, TenantWebhooks } from '../shared/db/repositories/webhooks';
import type { TenantId } from '../shared/ids';
import {
  batchJobId,
  DELIVER_BATCH_JOB,
  type DeliveryQueue,
  QUEUED_STATES,
  QUEUES,
  requeueDeliveries,
  type UnrecordedAttempt,
  type WebhookBatchJob,
  type WebhookDeliveryJob,
} from '../shared/queue/catalog';
import { createQueue } from '../shared/queue/queues';
import { rateLimitedErrorLog } from '../shared/queue/redis';
import { outgoingTraceHeaders, withSpanFrom } from '../shared/telemetry/context';
import { recordDelivery } from '../shared/telemetry/metrics';
import { parseRetrySchedule } from '../shared/webhooks/retry-schedule';
import { parseDuration } from '../shared/config-formats';
import { retryAfterMs, sendWebhook, WebhookSendError } from '../shared/webhooks/send';
import { webhookHeaders } from '../shared/webhooks/signing';
import { urlPolicyFrom } from '../shared/webhooks/url-policy';
import type { StartProcessor } from './deps';

/** A Retry-After longer than this is capped: the schedule, not the receiver, bounds a delivery. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;
/** Longest wait between runs while PostgreSQL cannot be read or written. */
const MAX_DATABASE_RETRY_MS = 30_000;

/** A failed call that may be tried again after `retryDelayMs` (the schedule's, or Retry-After). */
class DeliveryAttemptFailed extends Error {
  override readonly name = 'DeliveryAttemptFailed';
  constructor(
    message: string,
    readonly retryDelayMs: number,
  ) {
    super(message);
  }
}

/** PostgreSQL could not be read or written: retried soon, and no attempt of the receiver's is counted. */
class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
}

/**
 * At most `limit` calls at once, taken in arrival order: WEBHOOK_CONCURRENCY bounds the process's
 * calls in flight, a batch's included (a batch job is one BullMQ job but makes many calls).
 */
class CallSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // The slot goes straight to the next in line, or is given back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}

/** What a delivery's span says of what it was loaded with. */
const targetAttributes = ({ endpoint, event }: DeliveryTarget) => ({
  'webhook.endpoint.id': endpoint.id,
  'event.type': event.type,
  ...(event.directoryId ? { 'directory.id': event.directoryId } : {}),
});

/** A call's outcome, to keep on a job for its next run to record. */
const unrecordedOf = (result: CallResult, attemptsBefore: number): UnrecordedAttempt => ({
  ...result,
  startedAt: result.startedAt.toISOString(),
  attemptsBefore,
});

/** A call's outcome as an earlier run kept it on the job. */
const keptResult = ({ attemptsBefore: _, startedAt, ...rest }: UnrecordedAttempt): CallResult => ({ ...rest, startedAt: new Date(startedAt) });

/** One call to the receiver and what it answered. */
interface CallResult {
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
  readonly responseExcerpt?: string;
  readonly retryAfterMs?: number;
}

/**
 * Delivers webhook jobs: loads the delivery, its endpoint and event (tenant-scoped), signs the
 * body with the endpoint's secret(s) (webhook-id, webhook-timestamp and webhook-signature
 * headers), POSTs it with a timeout, logs the attempt, and decides what happens next: delivered;
 * retried on the schedule (or after the receiver's Retry-After); dead after the last attempt; or,
 * on 410 Gone, the endpoint disabled.
 * An endpoint whose deliveries have failed without a success for WEBHOOK_FAILING_AFTER is marked
 * failing, for WEBHOOK_DISABLE_AFTER disabled, each with an event to the tenant.
 *
 * One retry path (shared/queue/catalog.ts): a thrown error is a retry, whose delay the backoff
 * strategy picks; UnrecoverableError is the end. The retry budget is the delivery's attempts in
 * PostgreSQL since its run began, never BullMQ's counters; a delivery that is not pending any
 * more (delivered, dead, or replayed by another job) is not called. When PostgreSQL cannot be
 * read the job is retried soon without a call; when a call's outcome cannot be written, the
 * outcome is kept on the job and written by the next run instead of calling again.
 *
 * Two job kinds on one queue: a delivery's own job (`deliver`, all of the above), and the relay's
 * batch of first attempts (`deliver-batch`, see deliverBatch), which hands whatever it does not
 * deliver to the deliveries' own jobs.
 */
export const startWebhookDelivery: StartProcessor = (deps) => {
  const { config, repos } = deps;
  const schedule = parseRetrySchedule(config.WEBHOOK_RETRY_SCHEDULE);
  const limits = { failingAfterMs: parseDuration(config.WEBHOOK_FAILING_AFTER), disableAfterMs: parseDuration(config.WEBHOOK_DISABLE_AFTER) };
  const policy = urlPolicyFrom(config);
  const slots = new CallSlots(config.WEBHOOK_CONCURRENCY);
  const log = deps.logger.child({ processor: 'webhook-delivery' });
  // A database outage is retried on a short doubling delay (from 1 s, or the schedule's first
  // delay if shorter, up to 30 s), jittered so a worker's jobs do not all retry in step.
  const databaseRetryBase = Math.min(1000, schedule.delays[0]);
  const databaseRetryDelay = (runs: number) =>
    Math.min(MAX_DATABASE_RETRY_MS, Math.round(databaseRetryBase * 2 ** Math.min(Math.max(runs, 0), 16) * (0.8 + 0.4 * Math.random())));

  async function database<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw new DatabaseUnavailable(`PostgreSQL: ${(err as Error).message}`, { cause: err });
    }
  }

  /** One try of one delivery. Throws DeliveryAttemptFailed or DatabaseUnavailable to retry, UnrecoverableError to stop. */
  async function attempt(job: Job<WebhookDeliveryJob>, span: Span): Promise<string> {
    const { deliveryId, tenantId } = job.data;
    const webhooks = repos.forTenant(tenantId as TenantId).webhooks;
    const target = await database(() => webhooks.loadDeliveryTarget(deliveryId));
    // The endpoint was deleted (its deliveries with it), or the job names nothing of this tenant.
    if (!target) return 'gone';
    const { delivery, endpoint } = target;
    span.setAttributes(targetAttributes(target));
    if (delivery.status !== 'pending') return `already ${delivery.status}`;
    if (endpoint.status === 'disabled') {
      // Kept as a dead letter so it can be replayed once the endpoint is enabled again; its job
      // fails, so the dashboard's failed jobs are the dead letters.
      await database(() => webhooks.markDead(deliveryId, 'endpoint disabled'));
      recordDelivery('dead');
      throw new UnrecoverableError('endpoint disabled');
    }

    // Never tried, and its batch job will try it: a replay or the sweeper added this job beside it.
    if (delivery.attemptCount === 0 && delivery.batchId && !job.data.afterBatch && (await batchWillRun(delivery.batchId))) return 'left to its batch';
    // Kept by an earlier run whose write failed, and not written since (the count has not moved).
    const kept = job.data.unrecorded?.attemptsBefore === delivery.attemptCount ? job.data.unrecorded : undefined;
    const result: CallResult = kept ? keptResult(kept) : await call(target);
    try {
      return await settle(webhooks, target, result);
    } catch (err) {
      if (err instanceof UnrecoverableError || err instanceof DeliveryAttemptFailed) throw err;
      if (!kept) await job.updateData({ ...job.data, unrecorded: unrecordedOf(result, delivery.attemptCount) }).catch(() => undefined);
      throw new DatabaseUnavailable(`the attempt could not be recorded: ${(err as Error).message}`, { cause: err });
    }
  }

  /** One call, once a slot is free: signed, timed and timed out from then. */
  const call = (target: DeliveryTarget): Promise<CallResult> => slots.run(() => callNow(target));

  async function callNow(target: DeliveryTarget): Promise<CallResult> {
    const { endpoint, event } = target;
    const startedAt = new Date();
    const started = performance.now();
    // An unreadable secret is a failed attempt like any other: logged, retried (the operator
    // may restore the key), and in the end a dead letter that can be replayed.
    if (endpoint.secretError) return { startedAt, durationMs: 0, error: endpoint.secretError };
    const body = bodyOf(target);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { ...webhookHeaders({ id: event.id, timestamp, body, secrets: endpoint.secrets }), ...outgoingTraceHeaders() };
    try {
      const res = await sendWebhook({ url: endpoint.url, body, headers, timeoutMs: config.WEBHOOK_TIMEOUT_MS, policy });
      const ok = res.status >= 200 && res.status <= 299;
      // A receiver answering 429 or 503 may say in Retry-After when to come back.
      const retryAfter = res.status === 429 || res.status === 503 ? retryAfterMs(res.retryAfter) : undefined;
      return {
        startedAt,
        durationMs: performance.now() - started,
        statusCode: res.status,
        responseExcerpt: res.excerpt,
        ...(ok ? {} : { error: `receiver answered ${res.status}` }),
        ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
      };
    } catch (err) {
      if (!(err instanceof WebhookSendError)) throw err;
      return { startedAt, durationMs: performance.now() - started, error: err.message };
    }
  }

  /** Records the call and moves the delivery on; the retry budget is this run's attempts in PostgreSQL. */
  async function settle(webhooks: TenantWebhooks, { delivery, endpoint, event }: DeliveryTarget, result: CallResult): Promise<string> {
    const deliveryId = delivery.id;
    const { retryAfterMs: retryAfter, ...logged } = result;
    if (!result.error) {
      await webhooks.recordAttempt(deliveryId, logged, { status: 'delivered' });
      // A healthy endpoint's row is left alone: no write (and no row lock) per delivery.
      if (endpoint.status === 'failing' || endpoint.failingSince) await webhooks.noteEndpointSuccess(endpoint.id);
      recordDelivery('success', (Date.now() - event.occurredAt.getTime()) / 1000);
      return 'delivered';
    }

    if (result.statusCode === 410) {
      // 410 Gone: the receiver says this endpoint no longer exists; retrying cannot help.
      await webhooks.recordAttempt(deliveryId, logged, { status: 'dead' });
      await webhooks.disableEndpoint(endpoint.id, 'receiver answered 410 Gone');
      recordDelivery('dead');
      throw new UnrecoverableError('receiver answered 410 Gone; endpoint disabled');
    }

    const moved = await webhooks.noteEndpointFailure(endpoint.id, limits);
    // Calls of this run so far, this one included; a replay began a new run at retry_base.
    const tries = delivery.attemptCount - delivery.retryBase + 1;
    if (tries >= schedule.attempts || moved === 'disabled') {
      await webhooks.recordAttempt(deliveryId, logged, { status: 'dead' });
      recordDelivery('dead');
      throw new UnrecoverableError(moved === 'disabled' ? `${result.error}; endpoint disabled after failing too long` : `${result.error}; no attempts left`);
    }
    const delay = Math.min(retryAfter ?? schedule.delayBefore(tries - 1), MAX_RETRY_AFTER_MS);
    await webhooks.recordAttempt(deliveryId, logged, { status: 'pending', nextAttemptAt: new Date(Date.now() + delay) });
    recordDelivery('failure');
    throw new DeliveryAttemptFailed(result.error, delay);
  }

  async function batchWillRun(batchId: string): Promise<boolean> {
    return QUEUED_STATES.has(await queue.getJobState(batchJobId(batchId)));
  }

  /**
   * A batch job: the first attempt of each of its deliveries still pending and never tried, all
   * at once, each in a span of its event's trace. A delivery is settled here only when the
   * receiver took it and that is recorded; any other outcome goes on in the delivery's own job
   * (with the call's outcome for it to record, if a call was made), which retries, gives up and
   * keeps dead letters exactly as for any delivery. Thrown (and the batch retried) only when
   * PostgreSQL cannot be read or Redis cannot take the hand-offs.
   */
  async function deliverBatch(job: Job<WebhookBatchJob>): Promise<string> {
    const { tenantIds, deliveryIds } = job.data;
    const targets = await database(() => Promise.all(deliveryIds.map((id, i) => repos.forTenant(tenantIds[i] as TenantId).webhooks.loadDeliveryTarget(id))));
    // Only first attempts: a delivery tried since is in its own job's hands (a replay's, or
    // the hand-off of an earlier run of this batch).
    const fresh = targets.filter((t): t is DeliveryTarget => t?.delivery.status === 'pending' && t.delivery.attemptCount === 0);
    const handOffs = (await Promise.all(fresh.map(firstAttempt))).filter((h) => h !== undefined);
    if (handOffs.length > 0) await requeueDeliveries(queue, handOffs);
    const outcome = `${fresh.length - handOffs.length} delivered, ${handOffs.length} handed on`;
    log.debug({ 'job.id': job.id, deliveries: deliveryIds.length, outcome }, 'webhook batch done');
    return outcome;
  }

  /** One delivery of a batch: undefined once it is delivered and recorded, else its own job. */
  async function firstAttempt(target: DeliveryTarget): Promise<WebhookDeliveryJob | undefined> {
    const { delivery, endpoint, event } = target;
    const own: WebhookDeliveryJob = { deliveryId: delivery.id, tenantId: endpoint.tenantId, afterBatch: true, ...(event.trace ? { trace: event.trace } : {}) };
    const attrs = { 'tenant.id': endpoint.tenantId, 'webhook.delivery.id': delivery.id, ...targetAttributes(target) };
    return withSpanFrom(event.trace, 'webhook.deliver', attrs, async () => {
      // Its own job makes it a dead letter, replayable once the endpoint is enabled again.
      if (endpoint.status === 'disabled') return own;
      const result = await call(target);
      const handOff = { ...own, unrecorded: unrecordedOf(result, 0) };
      if (result.error) return handOff;
      try {
        await settle(repos.forTenant(endpoint.tenantId).webhooks, target, result);
        return undefined;
      } catch {
        // Delivered, but not recorded: its own job records it.
        return handOff;
      }
    });
  }

  async function processJob(job: Job<WebhookDeliveryJob | WebhookBatchJob>): Promise<string> {
    return job.name === DELIVER_BATCH_JOB ? deliverBatch(job as Job<WebhookBatchJob>) : deliverOne(job as Job<WebhookDeliveryJob>);
  }

  async function deliverOne(job: Job<WebhookDeliveryJob>): Promise<string> {
    const jobLog = log.child({ 'job.id': job.id, 'tenant.id': job.data.tenantId, 'webhook.delivery.id': job.data.deliveryId });
    // The consumer span continues the trace of the SCIM request that wrote the event; the
    // receiver gets its traceparent, so one trace runs from Entra's call to the webhook.
    const attrs = { 'tenant.id': job.data.tenantId, 'webhook.delivery.id': job.data.deliveryId };
    return withSpanFrom(job.data.trace, 'webhook.deliver', attrs, async (span) => {
      try {
        const outcome = await attempt(job, span);
        jobLog.debug({ outcome }, 'webhook job done');
        return outcome;
      } catch (err) {
        if (err instanceof UnrecoverableError) {
          jobLog.info({ reason: err.message }, 'webhook delivery given up');
        } else {
          jobLog.info({ err: { name: (err as Error).name, message: (err as Error).message }, run: job.attemptsMade + 1 }, 'webhook attempt failed; retrying');
        }
        throw err;
      }
    });
  }

  // Where a batch hands deliveries on, and whose batch jobs a delivery's own job looks up.
  const queue: DeliveryQueue = createQueue(QUEUES.webhookDelivery, { connection: deps.redis(), prefix: deps.queuePrefix, logger: log });
  const worker = new Worker<WebhookDeliveryJob | WebhookBatchJob, string>(QUEUES.webhookDelivery, processJob, {
    connection: deps.redis(),
    prefix: deps.queuePrefix,
    concurrency: config.WEBHOOK_CONCURRENCY,
    settings: {
      // Type 'custom' (JOBS.webhookDelivery, shared/queue/catalog.ts): a receiver's failure waits
      // the delay it carries (the jittered schedule or Retry-After); anything else (PostgreSQL
      // away) a short capped backoff.
      backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
        err instanceof DeliveryAttemptFailed ? err.retryDelayMs : databaseRetryDelay(attemptsMade - 1),
    },
  });
  worker.on('error', rateLimitedErrorLog(log, 'webhook worker connection error'));

  let closing: Promise<void> | undefined;
  return {
    name: 'webhook-delivery',
    close: () => (closing ??= worker.close().then(() => queue.close())),
  };
};

/** The webhook body, as the README documents it for receivers: the event as the vendor's app sees it. */
function bodyOf({ event, endpoint }: DeliveryTarget): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    tenantId: endpoint.tenantId,
    directoryId: event.directoryId,
    data: event.data,
  });
}
