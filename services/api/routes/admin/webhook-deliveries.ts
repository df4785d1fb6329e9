import type { Router } from 'express';
import { z } from 'zod';
import { DELIVERY_STATUSES, type DeliveryRef, type TenantWebhooks, type WebhookEndpoint } from '../../../../shared/db/repositories/webhooks';
import { type DeliveryQueue, type WebhookDeliveryJob, enqueueDeliveries, requeueDeliveries } from '../../../../shared/queue/catalog';
import { redisWithin } from '../../../../shared/queue/redis';
import { ScimError } from '../../../../shared/scim/errors';
import { logger as defaultLogger } from '../../../../shared/telemetry/logger';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { deliveryDetailShape, deliveryPageShape, replayResultShape } from './shapes';
import { pathId } from './validate';
import type { WebhookRouteDeps } from './webhooks';

const deliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional().describe('Only deliveries with this status'),
  after: z.string().max(200).optional().describe('The `next` of the page before'),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Deliveries per page'),
});
const replay = z.union([
  z.object({ status: z.literal('dead').describe('Every dead delivery') }).strict(),
  z.object({ after: z.string().min(1).max(200).describe('An events cursor: every event after it') }).strict(),
]);

/** Replays are read and enqueued a page at a time, so a large replay never sits in memory whole. */
const REPLAY_PAGE = 500;
/** Who asked for a test event: the holder of the admin token (the event's actor column). */
const TEST_ACTOR = 'operator';

/** How the endpoint routes (webhooks.ts) find a tenant's endpoint; the deliveries' routes find it the same way. */
export interface EndpointLookups {
  tenantWebhooks(tenantId: string): Promise<TenantWebhooks>;
  endpointOf(webhooks: TenantWebhooks, id: string): Promise<WebhookEndpoint>;
  loadEndpoint(params: { tenantId: string; webhookId: string }): Promise<{ webhooks: TenantWebhooks; endpoint: WebhookEndpoint }>;
  readonly webhookId: { readonly description: string; readonly schema: z.ZodUUID };
  readonly tag: string;
}

/**
 * An endpoint's deliveries: the log with every attempt, replay of one, of the dead or of every
 * event after a cursor, and the signed test event. Registered on the webhooks router, under the
 * same tenant lookups: another tenant's endpoint or delivery is a 404, like an unknown one.
 */
export function webhookDeliveryRoutes(router: Router, deps: WebhookRouteDeps, lookups: EndpointLookups): void {
  const { tenantWebhooks, endpointOf, loadEndpoint, webhookId, tag } = lookups;
  const tenantId = PATH_PARAMS.tenantId;
  const queue = (): DeliveryQueue => {
    const q = deps.queue();
    if (!q) throw new ScimError(503, undefined, 'the webhook delivery queue is not configured in this process');
    return q;
  };
  const log = (deps.logger ?? defaultLogger).child({ component: 'webhook-replay' });
  const enqueueTimeoutMs = deps.replayEnqueueTimeoutMs ?? 5000;
  /**
   * PostgreSQL first (pending, due now), then the jobs. A delivery's dead job is replaced, so the
   * dashboard no longer lists it as failed. If Redis does not take a page, the rest of the replay
   * is written to PostgreSQL only: the sweeper enqueues it all once overdue.
   */
  const enqueue = async (q: DeliveryQueue, webhooks: TenantWebhooks, refs: readonly DeliveryRef[], redis: { ok: boolean }) => {
    const batches = await webhooks.restartDeliveries(refs.map((r) => r.deliveryId));
    if (!redis.ok) return;
    const jobs = refs.map((r): WebhookDeliveryJob => {
      const batchId = batches.get(r.deliveryId);
      return { deliveryId: r.deliveryId, tenantId: webhooks.tenantId, ...(batchId ? { batchId } : {}), ...(r.trace ? { trace: r.trace } : {}) };
    });
    try {
      await redisWithin(requeueDeliveries(q, jobs), enqueueTimeoutMs);
    } catch (err) {
      redis.ok = false;
      log.warn({ 'tenant.id': webhooks.tenantId, err: { message: (err as Error).message } }, 'replay not enqueued; the sweeper enqueues it once overdue');
    }
  };

  const deliveryId = { description: "The delivery's id", schema: z.uuid() };
  const loadActiveEndpoint = async ({ tenantId, webhookId }: { tenantId: string; webhookId: string }) => {
    const webhooks = await tenantWebhooks(tenantId);
    return { webhooks, endpoint: await activeEndpoint(webhooks, webhookId, 'replaying') };
  };
  const loadTestableEndpoint = async ({ tenantId, webhookId }: { tenantId: string; webhookId: string }) => {
    const webhooks = await tenantWebhooks(tenantId);
    return { webhooks, endpoint: await activeEndpoint(webhooks, webhookId, 'sending a test') };
  };
  const disabled = 'The endpoint is disabled; enable it before replaying';
  const noQueue = 'This API was started without the delivery queue';

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/webhooks/{webhookId}/deliveries',
      operationId: 'listDeliveries',
      tag,
      summary: "List an endpoint's deliveries, newest first",
      params: { tenantId, webhookId },
      load: loadEndpoint,
      query: deliveriesQuery,
      responses: { 200: { description: 'A page of deliveries', schema: deliveryPageShape } },
    },
    async ({ loaded: { webhooks, endpoint }, query }, _req, res) => {
      const { deliveries, next, hasMore } = await webhooks.listDeliveries(endpoint.id, query);
      sendScim(res, 200, { data: deliveries, next, hasMore });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/webhooks/{webhookId}/deliveries/{deliveryId}',
      operationId: 'getDelivery',
      tag,
      summary: 'Get a delivery and every attempt',
      params: { tenantId, webhookId, deliveryId },
      load: loadEndpoint,
      responses: { 200: { description: 'The delivery', schema: deliveryDetailShape } },
    },
    async ({ loaded: { webhooks, endpoint }, params }, _req, res) => {
      const delivery = await webhooks.getDelivery(endpoint.id, pathId(params.deliveryId, 'delivery'));
      if (!delivery) throw new ScimError(404, undefined, `delivery "${params.deliveryId}" not found`);
      sendScim(res, 200, delivery);
    },
  );

  // Sends one delivery again, whatever its status (a receiver that lost it may ask).
  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/webhooks/{webhookId}/deliveries/{deliveryId}/replay',
      operationId: 'replayDelivery',
      tag,
      summary: 'Send one delivery again, whatever its status',
      params: { tenantId, webhookId, deliveryId },
      load: loadActiveEndpoint,
      responses: { 202: { description: 'Queued again', schema: deliveryDetailShape }, 409: disabled, 503: noQueue },
    },
    async ({ loaded: { webhooks, endpoint }, params }, _req, res) => {
      const ref = await webhooks.deliveryRef(endpoint.id, pathId(params.deliveryId, 'delivery'));
      if (!ref) throw new ScimError(404, undefined, `delivery "${params.deliveryId}" not found`);
      await enqueue(queue(), webhooks, [ref], { ok: true });
      sendScim(res, 202, await webhooks.getDelivery(endpoint.id, ref.deliveryId));
    },
  );

  // {"status":"dead"}: every dead letter. {"after":"<events cursor>"}: every event of the
  // tenant after that point that the endpoint subscribes to, delivered or not.
  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/webhooks/{webhookId}/replay',
      operationId: 'replayDeliveries',
      tag,
      summary: 'Send the dead deliveries again, or every event after a cursor',
      description:
        '`{"status": "dead"}` replays every dead letter; `{"after": "<events cursor>"}` every event of the tenant after that point that the endpoint subscribes to, delivered or not.',
      params: { tenantId, webhookId },
      load: loadActiveEndpoint,
      body: replay,
      responses: { 202: { description: 'Queued again', schema: replayResultShape }, 409: disabled, 503: noQueue },
    },
    async ({ loaded: { webhooks, endpoint }, body }, _req, res) => {
      const q = queue();
      const redis = { ok: true };
      let replayed = 0;
      if ('status' in body) {
        // Paged by id, so each dead letter is read once even while the worker changes statuses.
        let after: string | undefined;
        for (;;) {
          const page = await webhooks.deadLetters(endpoint.id, { after, limit: REPLAY_PAGE });
          if (page.length === 0) break;
          await enqueue(q, webhooks, page, redis);
          replayed += page.length;
          after = page.at(-1)!.deliveryId;
        }
      } else {
        let cursor: string | undefined = body.after;
        while (cursor) {
          const page: { refs: DeliveryRef[]; next: string | undefined } = await webhooks.deliveriesAfter(endpoint.id, { after: cursor, limit: REPLAY_PAGE });
          if (page.refs.length === 0) break;
          await enqueue(q, webhooks, page.refs, redis);
          replayed += page.refs.length;
          cursor = page.next;
        }
      }
      sendScim(res, 202, { replayed });
    },
  );

  // A signed webhook.test to this endpoint alone, by the delivery path of every event: a
  // delivery row, the one delivery job, the worker's signature, the attempts in the log.
  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/webhooks/{webhookId}/test',
      operationId: 'testWebhook',
      tag,
      summary: 'Send a signed webhook.test event to one endpoint',
      description:
        'Sends `{"id", "type": "webhook.test", "timestamp", "tenantId", "directoryId": null, "data": {"message", "webhookId"}}`, signed like every delivery, ' +
        'to this endpoint only, whatever its event filter, and also while it is failing (a success makes it active again). ' +
        "It is retried like any delivery, listed in the endpoint's deliveries (poll the one answered) and can be replayed; " +
        "it records no change, so the tenant's events feed and audit exports never list it. A disabled endpoint is refused: enable it first.",
      params: { tenantId, webhookId },
      load: loadTestableEndpoint,
      responses: {
        202: { description: 'Queued: the delivery, pending', schema: deliveryDetailShape, headers: { Location: "The delivery's URL" } },
        409: 'The endpoint is disabled; enable it before sending a test',
        503: noQueue,
      },
    },
    async ({ loaded: { webhooks, endpoint } }, req, res) => {
      const q = queue();
      const ref = await webhooks.createTestDelivery(endpoint.id, {
        actor: TEST_ACTOR,
        data: { message: 'A test event sent by an operator to check this endpoint; nothing changed in any directory.', webhookId: endpoint.id },
      });
      if (!ref) throw new ScimError(404, undefined, `webhook "${endpoint.id}" not found`);
      try {
        await redisWithin(
          enqueueDeliveries(q, [{ deliveryId: ref.deliveryId, tenantId: webhooks.tenantId, ...(ref.trace ? { trace: ref.trace } : {}) }]),
          enqueueTimeoutMs,
        );
      } catch (err) {
        // The row is the delivery: pending and due, the sweeper gives it a job once Redis is back.
        log.warn(
          { 'tenant.id': webhooks.tenantId, 'webhook.delivery.id': ref.deliveryId, err: { message: (err as Error).message } },
          'test event not enqueued; the sweeper enqueues it once overdue',
        );
      }
      res.setHeader('Location', `${req.baseUrl}/tenants/${webhooks.tenantId}/webhooks/${endpoint.id}/deliveries/${ref.deliveryId}`);
      sendScim(res, 202, await webhooks.getDelivery(endpoint.id, ref.deliveryId));
    },
  );

  /**
   * Replaying or testing against a disabled endpoint would only make a dead letter: the worker
   * calls no disabled endpoint (its status says deliveries stop, and it may be disabled because
   * the URL is no longer the vendor's).
   */
  async function activeEndpoint(webhooks: TenantWebhooks, id: string, action: 'replaying' | 'sending a test'): Promise<WebhookEndpoint> {
    const endpoint = await endpointOf(webhooks, id);
    if (endpoint.status === 'disabled') throw new ScimError(409, undefined, `webhook "${id}" is disabled; enable it (PATCH status "active") before ${action}`);
    return endpoint;
  }
}
