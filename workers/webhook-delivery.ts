import type { Span } from '@opentelemetry/api';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { WebhookRepository, type DeliveryTarget } from '../shared/db/repositories/webhooks';
import type { TenantId } from '../shared/ids';
import type { WebhookDeliveryJob } from '../shared/queue/jobs';
import { QUEUES } from '../shared/queue/names';
import { outgoingTraceHeaders, withSpanFrom } from '../shared/telemetry/context';
import { recordDelivery } from '../shared/telemetry/metrics';
import { isReplayJobId } from '../shared/webhooks/jobs';
import { parseDuration, parseRetrySchedule, type RetrySchedule } from '../shared/webhooks/retry-schedule';
import { encryptionKeyFrom, SecretBox } from '../shared/webhooks/secrets';
import { retryAfterMs, sendWebhook, WebhookSendError } from '../shared/webhooks/send';
import { webhookHeaders } from '../shared/webhooks/signing';
import { urlPolicyFrom } from '../shared/webhooks/url-policy';
import type { StartProcessor } from './deps';

/** A Retry-After longer than this is capped: the schedule, not the receiver, bounds a delivery. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/** A failed attempt that may be tried again after `retryDelayMs`. */
class DeliveryAttemptFailed extends Error {
  override readonly name = 'DeliveryAttemptFailed';
  constructor(
    message: string,
    readonly retryDelayMs: number,
  ) {
    super(message);
  }
}

/**
 * Where this run stands in the job's tries. Producers that use deliveryJobOptions() give the job
 * `attempts`, and BullMQ retries it (rethrow; the backoff strategy below picks the delay). A job
 * added with a jobId only (BullMQ's default of one attempt) is retried by this worker itself,
 * counting the times it was started, so a producer that forgets the options still gets retries.
 */
function retryPlan(job: Job<WebhookDeliveryJob>, schedule: RetrySchedule) {
  const managedByBullmq = (job.opts.attempts ?? 1) > 1;
  const tryIndex = managedByBullmq ? job.attemptsMade : Math.max(0, job.attemptsStarted - 1);
  const allowed = managedByBullmq ? job.opts.attempts! : schedule.attempts;
  return { managedByBullmq, tryIndex, final: tryIndex + 1 >= allowed };
}

/**
 * Delivers webhook jobs: loads the delivery, its endpoint and event (tenant-scoped), signs the
 * body with the endpoint's secret(s) per Standard Webhooks, POSTs it with a timeout, logs the
 * attempt, and decides what happens next: delivered; retried on the schedule (or after the
 * receiver's Retry-After); dead after the last attempt; or, on 410 Gone, the endpoint disabled.
 * An endpoint whose deliveries have failed without a success for WEBHOOK_FAILING_AFTER is marked
 * failing, for WEBHOOK_DISABLE_AFTER disabled, each with an event to the tenant.
 */
export const startWebhookDelivery: StartProcessor = (deps) => {
  const { config, db } = deps;
  const schedule = parseRetrySchedule(config.WEBHOOK_RETRY_SCHEDULE);
  const limits = { failingAfterMs: parseDuration(config.WEBHOOK_FAILING_AFTER), disableAfterMs: parseDuration(config.WEBHOOK_DISABLE_AFTER) };
  const policy = urlPolicyFrom(config);
  const repo = new WebhookRepository(db, new SecretBox(encryptionKeyFrom(config)));
  const log = deps.logger.child({ processor: 'webhook-delivery' });

  /** One try of one delivery. Throws DeliveryAttemptFailed to retry, UnrecoverableError to stop. */
  async function attempt(job: Job<WebhookDeliveryJob>, span: Span): Promise<string> {
    const { deliveryId, tenantId } = job.data;
    const webhooks = repo.forTenant(tenantId as TenantId);
    const target = await webhooks.loadDeliveryTarget(deliveryId);
    // The endpoint was deleted (its deliveries with it), or the job names nothing of this tenant.
    if (!target) return 'gone';
    const { delivery, endpoint, event } = target;
    span.setAttributes({ 'webhook.endpoint.id': endpoint.id, 'event.type': event.type, ...(event.directoryId ? { 'directory.id': event.directoryId } : {}) });
    if (delivery.status === 'delivered' && !isReplayJobId(job.id)) return 'already delivered';
    if (endpoint.status === 'disabled') {
      // Kept as a dead letter so it can be replayed once the endpoint is enabled again.
      await webhooks.markDead(deliveryId, 'endpoint disabled');
      recordDelivery('dead');
      return 'endpoint disabled';
    }

    const plan = retryPlan(job, schedule);
    const startedAt = new Date();
    const started = performance.now();
    let status: number | undefined;
    // An unreadable secret is a failed attempt like any other: logged, retried (the operator
    // may restore the key), and in the end a dead letter that can be replayed.
    let error: string | undefined = endpoint.secretError;
    let excerpt: string | undefined;
    let retryAfter: number | undefined;
    if (!error) {
      const body = bodyOf(target);
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = { ...webhookHeaders({ id: event.id, timestamp, body, secrets: endpoint.secrets }), ...outgoingTraceHeaders() };
      try {
        const res = await sendWebhook({ url: endpoint.url, body, headers, timeoutMs: config.WEBHOOK_TIMEOUT_MS, policy });
        status = res.status;
        excerpt = res.excerpt;
        // RFC 9110 §10.2.3 / RFC 6585 §4: a receiver that is overloaded says when to come back.
        if (status === 429 || status === 503) retryAfter = retryAfterMs(res.retryAfter);
        if (status < 200 || status > 299) error = `receiver answered ${status}`;
      } catch (err) {
        if (!(err instanceof WebhookSendError)) throw err;
        error = err.message;
      }
    }
    const durationMs = performance.now() - started;
    const logged = { startedAt, durationMs, statusCode: status, error, responseExcerpt: excerpt };

    if (!error) {
      await webhooks.recordAttempt(deliveryId, logged, { status: 'delivered' });
      // A healthy endpoint's row is left alone: no write (and no row lock) per delivery.
      if (endpoint.status === 'failing' || endpoint.failingSince) await webhooks.noteEndpointSuccess(endpoint.id);
      recordDelivery('success', (Date.now() - event.occurredAt.getTime()) / 1000);
      return 'delivered';
    }

    if (status === 410) {
      // 410 Gone: the receiver says this endpoint no longer exists; retrying cannot help.
      await webhooks.recordAttempt(deliveryId, logged, { status: 'dead' });
      await webhooks.disableEndpoint(endpoint.id, 'receiver answered 410 Gone');
      recordDelivery('dead');
      throw new UnrecoverableError('receiver answered 410 Gone; endpoint disabled');
    }

    const moved = await webhooks.noteEndpointFailure(endpoint.id, limits);
    const delay = Math.min(retryAfter ?? schedule.delayBefore(plan.tryIndex), MAX_RETRY_AFTER_MS);
    if (plan.final || moved === 'disabled') {
      await webhooks.recordAttempt(deliveryId, logged, { status: 'dead' });
      recordDelivery('dead');
      throw new UnrecoverableError(moved === 'disabled' ? `${error}; endpoint disabled after failing too long` : `${error}; no attempts left`);
    }
    await webhooks.recordAttempt(deliveryId, logged, { status: 'pending', nextAttemptAt: new Date(Date.now() + delay) });
    recordDelivery('failure');
    throw new DeliveryAttemptFailed(error, delay);
  }

  async function processJob(job: Job<WebhookDeliveryJob>, token?: string): Promise<string> {
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
          throw err;
        }
        const plan = retryPlan(job, schedule);
        jobLog.info({ err: { name: (err as Error).name, message: (err as Error).message }, try: plan.tryIndex + 1 }, 'webhook attempt failed');
        if (plan.managedByBullmq || plan.final || !token) throw err;
        // A job without BullMQ attempts: schedule the retry ourselves (see retryPlan).
        const delay = err instanceof DeliveryAttemptFailed ? err.retryDelayMs : schedule.delayBefore(plan.tryIndex);
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError();
      }
    });
  }

  const worker = new Worker<WebhookDeliveryJob, string>(
    QUEUES.webhookDelivery,
    processJob,
    {
      connection: deps.redis(),
      prefix: deps.queuePrefix,
      concurrency: config.WEBHOOK_CONCURRENCY,
      settings: {
        // Type 'custom' (deliveryJobOptions): the attempt's own delay (Retry-After or the
        // jittered schedule) travels on the error; anything else follows the schedule.
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          err instanceof DeliveryAttemptFailed ? err.retryDelayMs : schedule.delayBefore(attemptsMade - 1),
      },
    },
  );
  worker.on('error', (err) => log.warn({ err: { message: err.message } }, 'webhook worker connection error'));

  let closing: Promise<void> | undefined;
  return {
    name: 'webhook-delivery',
    close: () => (closing ??= worker.close()),
  };
};

/** The webhook body (PRODUCT.md): the event as the vendor's app sees it. */
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
