import { Router } from 'express';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { config, type Config } from '../../../../shared/config';
import { DELIVERY_STATUSES, type DeliveryRef, type TenantWebhooks, type WebhookEndpoint } from '../../../../shared/db/repositories/webhooks';
import type { Repositories } from '../../../../shared/db/repositories';
import { EVENT_TYPES } from '../../../../shared/events/catalog';
import { type WebhookDeliveryJob, requeueDeliveries } from '../../../../shared/queue/catalog';
import { redisWithin } from '../../../../shared/queue/redis';
import { ScimError } from '../../../../shared/scim/errors';
import { logger as defaultLogger, type Logger } from '../../../../shared/telemetry/logger';
import { checkWebhookUrl, urlPolicyFrom, WebhookUrlRefused, type UrlPolicy } from '../../../../shared/webhooks/url-policy';
import { sendScim } from '../../middleware/scim-json';
import { parseBody, pathId, tenantOr404 } from './validate';

const eventTypes = z
  .array(z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }))
  .min(1, 'must name at least one event type; omit it (or send null) for every type')
  .refine((types) => new Set(types).size === types.length, 'lists an event type twice');
const url = z.string().trim().min(1).max(2048);
const description = z.string().trim().max(500);

const createEndpoint = z.object({ url, events: eventTypes.nullish(), description: description.nullish() }).strict();
const updateEndpoint = z
  .object({
    url: url.optional(),
    events: eventTypes.nullable().optional(),
    description: description.nullable().optional(),
    status: z.enum(['active', 'disabled']).optional(),
  })
  .strict();
/** Default overlap: a day, time for every receiver to pick up the new secret. */
const DEFAULT_OVERLAP_SECONDS = 24 * 3600;
const rotate = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(DEFAULT_OVERLAP_SECONDS),
  })
  .strict();
const deliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  after: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const replay = z.union([z.object({ status: z.literal('dead') }).strict(), z.object({ after: z.string().min(1).max(200) }).strict()]);

/** Replays are read and enqueued a page at a time, so a large replay never sits in memory whole. */
const REPLAY_PAGE = 500;

export interface WebhookRouteDeps {
  readonly repos: Repositories;
  /**
   * The delivery queue, looked up when a replay needs it (so an API without Redis still serves
   * everything else). Without one, replays answer 503.
   */
  readonly queue: () => Queue<WebhookDeliveryJob> | undefined;
  /** Which webhook URLs are allowed. Default: from shared/config. */
  readonly settings?: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOWED_HOSTS'>;
  /**
   * Longest wait for Redis to take a page of replayed jobs, ms. Past it the replay still stands
   * (the deliveries are pending in PostgreSQL) and the workers' sweeper enqueues them once they
   * are overdue. Default 5,000.
   */
  readonly replayEnqueueTimeoutMs?: number;
  /** Where a replay that Redis did not take is logged. Default: the process logger. */
  readonly logger?: Logger;
}

/**
 * Operator API for a tenant's webhook endpoints, their deliveries, and replay. An endpoint's
 * secret is shown in the create and rotate answers only. Every lookup is by the path's tenant:
 * another tenant's endpoint or delivery is a 404, like an unknown one.
 */
export function webhookRoutes(deps: WebhookRouteDeps): Router {
  const settings = deps.settings ?? config;
  const policy: UrlPolicy = urlPolicyFrom(settings);
  const router = Router();

  const tenantWebhooks = async (tenantId: string): Promise<TenantWebhooks> => {
    return deps.repos.forTenant((await tenantOr404(deps.repos.operator.tenants, tenantId)).id).webhooks;
  };
  const endpointOf = async (webhooks: TenantWebhooks, id: string): Promise<WebhookEndpoint> => {
    const endpoint = await webhooks.getEndpoint(pathId(id, 'webhook'));
    if (!endpoint) throw new ScimError(404, undefined, `webhook "${id}" not found`);
    return endpoint;
  };
  const allowedUrl = async (text: string): Promise<string> => {
    try {
      return (await checkWebhookUrl(text, policy)).toString();
    } catch (err) {
      if (err instanceof WebhookUrlRefused) throw new ScimError(400, 'invalidValue', `url: ${err.message}`);
      throw err;
    }
  };
  const queue = (): Queue<WebhookDeliveryJob> => {
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
  const enqueue = async (q: Queue<WebhookDeliveryJob>, webhooks: TenantWebhooks, refs: readonly DeliveryRef[], redis: { ok: boolean }) => {
    await webhooks.restartDeliveries(refs.map((r) => r.deliveryId));
    if (!redis.ok) return;
    const jobs = refs.map((r) => ({ deliveryId: r.deliveryId, tenantId: webhooks.tenantId, ...(r.trace ? { trace: r.trace } : {}) }));
    try {
      await redisWithin(requeueDeliveries(q, jobs), enqueueTimeoutMs);
    } catch (err) {
      redis.ok = false;
      log.warn({ 'tenant.id': webhooks.tenantId, err: { message: (err as Error).message } }, 'replay not enqueued; the sweeper enqueues it once overdue');
    }
  };

  router.post('/tenants/:tenantId/webhooks', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const input = parseBody(createEndpoint, req.body);
    const { endpoint, secret } = await webhooks.createEndpoint({
      url: await allowedUrl(input.url),
      events: input.events ?? null,
      description: input.description ?? null,
    });
    sendScim(res, 201, { ...endpoint, secret });
  });

  router.get('/tenants/:tenantId/webhooks', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    sendScim(res, 200, { data: await webhooks.listEndpoints() });
  });

  router.get('/tenants/:tenantId/webhooks/:webhookId', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    sendScim(res, 200, await endpointOf(webhooks, req.params.webhookId));
  });

  router.patch('/tenants/:tenantId/webhooks/:webhookId', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const id = (await endpointOf(webhooks, req.params.webhookId)).id;
    const input = parseBody(updateEndpoint, req.body);
    const updated = await webhooks.updateEndpoint(id, { ...input, url: input.url === undefined ? undefined : await allowedUrl(input.url) });
    if (!updated) throw new ScimError(404, undefined, `webhook "${id}" not found`);
    sendScim(res, 200, updated);
  });

  router.delete('/tenants/:tenantId/webhooks/:webhookId', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    if (!(await webhooks.deleteEndpoint(pathId(req.params.webhookId, 'webhook')))) {
      throw new ScimError(404, undefined, `webhook "${req.params.webhookId}" not found`);
    }
    sendScim(res, 204);
  });

  router.post('/tenants/:tenantId/webhooks/:webhookId/rotate-secret', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const { overlapSeconds } = parseBody(rotate, req.body);
    const rotated = await webhooks.rotateSecret(pathId(req.params.webhookId, 'webhook'), overlapSeconds);
    if (!rotated) throw new ScimError(404, undefined, `webhook "${req.params.webhookId}" not found`);
    sendScim(res, 200, { ...rotated.endpoint, secret: rotated.secret });
  });

  router.get('/tenants/:tenantId/webhooks/:webhookId/deliveries', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const endpoint = await endpointOf(webhooks, req.params.webhookId);
    const query = parseBody(deliveriesQuery, req.query);
    const { deliveries, next, hasMore } = await webhooks.listDeliveries(endpoint.id, query);
    sendScim(res, 200, { data: deliveries, next, hasMore });
  });

  router.get('/tenants/:tenantId/webhooks/:webhookId/deliveries/:deliveryId', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const endpoint = await endpointOf(webhooks, req.params.webhookId);
    const delivery = await webhooks.getDelivery(endpoint.id, pathId(req.params.deliveryId, 'delivery'));
    if (!delivery) throw new ScimError(404, undefined, `delivery "${req.params.deliveryId}" not found`);
    sendScim(res, 200, delivery);
  });

  // Sends one delivery again, whatever its status (a receiver that lost it may ask).
  router.post('/tenants/:tenantId/webhooks/:webhookId/deliveries/:deliveryId/replay', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const endpoint = await activeEndpoint(webhooks, req.params.webhookId);
    const ref = await webhooks.deliveryRef(endpoint.id, pathId(req.params.deliveryId, 'delivery'));
    if (!ref) throw new ScimError(404, undefined, `delivery "${req.params.deliveryId}" not found`);
    await enqueue(queue(), webhooks, [ref], { ok: true });
    sendScim(res, 202, await webhooks.getDelivery(endpoint.id, ref.deliveryId));
  });

  // {"status":"dead"}: every dead letter. {"after":"<events cursor>"}: every event of the
  // tenant after that point that the endpoint subscribes to, delivered or not.
  router.post('/tenants/:tenantId/webhooks/:webhookId/replay', async (req, res) => {
    const webhooks = await tenantWebhooks(req.params.tenantId);
    const endpoint = await activeEndpoint(webhooks, req.params.webhookId);
    const input = parseBody(replay, req.body);
    const q = queue();
    const redis = { ok: true };
    let replayed = 0;
    if ('status' in input) {
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
      let cursor: string | undefined = input.after;
      while (cursor) {
        const page: { refs: DeliveryRef[]; next: string | undefined } = await webhooks.deliveriesAfter(endpoint.id, { after: cursor, limit: REPLAY_PAGE });
        if (page.refs.length === 0) break;
        await enqueue(q, webhooks, page.refs, redis);
        replayed += page.refs.length;
        cursor = page.next;
      }
    }
    sendScim(res, 202, { replayed });
  });

  /** Replaying to a disabled endpoint would only turn the deliveries dead again. */
  async function activeEndpoint(webhooks: TenantWebhooks, id: string): Promise<WebhookEndpoint> {
    const endpoint = await endpointOf(webhooks, id);
    if (endpoint.status === 'disabled') throw new ScimError(409, undefined, `webhook "${id}" is disabled; enable it (PATCH status "active") before replaying`);
    return endpoint;
  }

  return router;
}
