import { Router } from 'express';
import { z } from 'zod';
import { config, type Config } from '../../../../shared/config';
import type { TenantWebhooks, WebhookEndpoint } from '../../../../shared/db/repositories/webhooks';
import type { Repositories } from '../../../../shared/db/repositories';
import { SUBSCRIBABLE_EVENT_TYPES } from '../../../../shared/events/catalog';
import type { DeliveryQueue } from '../../../../shared/queue/catalog';
import { ScimError } from '../../../../shared/scim/errors';
import type { Logger } from '../../../../shared/telemetry/logger';
import { checkWebhookUrl, urlPolicyFrom, WebhookUrlRefused, type UrlPolicy } from '../../../../shared/webhooks/url-policy';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { listOf, webhookEndpointShape, webhookWithSecretShape } from './shapes';
import { pathId, tenantOr404 } from './validate';
import { webhookDeliveryRoutes } from './webhook-deliveries';

const EVENTS_DOC =
  'The event types sent to the endpoint; omit or null for every type, including types added later. Not webhook.test: a test is sent whatever the filter';
const eventTypes = z
  .array(z.enum(SUBSCRIBABLE_EVENT_TYPES, { message: `must be one of ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}` }))
  .min(1, 'must name at least one event type; omit it (or send null) for every type')
  .refine((types) => new Set(types).size === types.length, 'lists an event type twice');
const url = z
  .string()
  .trim()
  .min(1)
  .max(2048)
  .describe('Where deliveries are POSTed: https in production; a private or internal address only when allow-listed (WEBHOOK_ALLOWED_HOSTS)');
const description = z.string().trim().max(500);

const createEndpoint = z.object({ url, events: eventTypes.nullish().describe(EVENTS_DOC), description: description.nullish() }).strict();
const updateEndpoint = z
  .object({
    url: url.optional(),
    events: eventTypes.nullable().optional().describe(EVENTS_DOC),
    description: description.nullable().optional(),
    status: z.enum(['active', 'disabled']).optional().describe('"disabled" stops deliveries; "active" resumes them'),
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
      .default(DEFAULT_OVERLAP_SECONDS)
      .describe('How long the previous secret keeps signing too, in seconds'),
  })
  .strict();

export interface WebhookRouteDeps {
  readonly repos: Repositories;
  /**
   * The delivery queue, looked up when a replay needs it (so an API without Redis still serves
   * everything else). Without one, replays answer 503.
   */
  readonly queue: () => DeliveryQueue | undefined;
  /** Which webhook URLs are allowed. Default: from shared/config. */
  readonly settings?: Pick<Config, 'NODE_ENV' | 'WEBHOOK_ALLOWED_HOSTS'>;
  /**
   * Longest wait for Redis to take a page of replayed jobs, or a test event's job, ms. Past it
   * the replay or test still stands (the deliveries are pending in PostgreSQL) and the workers'
   * sweeper enqueues them once they are overdue. Default 5,000.
   */
  readonly replayEnqueueTimeoutMs?: number;
  /** Where a replay or test that Redis did not take is logged. Default: the process logger. */
  readonly logger?: Logger;
}

/**
 * Operator API for a tenant's webhook endpoints; their deliveries, replay and test events are
 * registered on the same router by webhook-deliveries.ts. An endpoint's secret is shown in the
 * create and rotate answers only. Every lookup is by the path's tenant: another tenant's endpoint
 * or delivery is a 404, like an unknown one.
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

  const tenantId = PATH_PARAMS.tenantId;
  const webhookId = { description: "The webhook endpoint's id", schema: z.uuid() };
  const tag = 'Webhooks';
  const loadWebhooks = ({ tenantId }: { tenantId: string }) => tenantWebhooks(tenantId);
  const loadEndpoint = async ({ tenantId, webhookId }: { tenantId: string; webhookId: string }) => {
    const webhooks = await tenantWebhooks(tenantId);
    return { webhooks, endpoint: await endpointOf(webhooks, webhookId) };
  };
  const badUrl = 'The body is invalid, or the URL is not one webhooks may be sent to';

  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/webhooks',
      operationId: 'createWebhook',
      tag,
      summary: 'Add a webhook endpoint',
      description: "The answer holds the endpoint's signing secret (whsec_…), which only this answer and a rotation show.",
      params: { tenantId },
      load: loadWebhooks,
      body: createEndpoint,
      responses: { 201: { description: 'The endpoint, with its secret', schema: webhookWithSecretShape }, 400: badUrl },
    },
    async ({ loaded: webhooks, body }, _req, res) => {
      const { endpoint, secret } = await webhooks.createEndpoint({
        url: await allowedUrl(body.url),
        events: body.events ?? null,
        description: body.description ?? null,
      });
      sendScim(res, 201, { ...endpoint, secret });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/webhooks',
      operationId: 'listWebhooks',
      tag,
      summary: "List the tenant's webhook endpoints",
      params: { tenantId },
      load: loadWebhooks,
      responses: { 200: { description: 'The endpoints, without secrets', schema: listOf(webhookEndpointShape, 'WebhookEndpoint') } },
    },
    async ({ loaded: webhooks }, _req, res) => {
      sendScim(res, 200, { data: await webhooks.listEndpoints() });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/webhooks/{webhookId}',
      operationId: 'getWebhook',
      tag,
      summary: 'Get a webhook endpoint and its health',
      params: { tenantId, webhookId },
      load: loadEndpoint,
      responses: { 200: { description: 'The endpoint', schema: webhookEndpointShape } },
    },
    async ({ loaded: { endpoint } }, _req, res) => {
      sendScim(res, 200, endpoint);
    },
  );

  adminRoute(
    router,
    {
      method: 'patch',
      path: '/tenants/{tenantId}/webhooks/{webhookId}',
      operationId: 'updateWebhook',
      tag,
      summary: 'Change a webhook endpoint, or disable and enable it',
      params: { tenantId, webhookId },
      load: loadEndpoint,
      body: updateEndpoint,
      responses: { 200: { description: 'The endpoint', schema: webhookEndpointShape }, 400: badUrl },
    },
    async ({ loaded: { webhooks, endpoint }, body }, _req, res) => {
      const updated = await webhooks.updateEndpoint(endpoint.id, { ...body, url: body.url === undefined ? undefined : await allowedUrl(body.url) });
      if (!updated) throw new ScimError(404, undefined, `webhook "${endpoint.id}" not found`);
      sendScim(res, 200, updated);
    },
  );

  adminRoute(
    router,
    {
      method: 'delete',
      path: '/tenants/{tenantId}/webhooks/{webhookId}',
      operationId: 'deleteWebhook',
      tag,
      summary: 'Remove a webhook endpoint and its deliveries',
      params: { tenantId, webhookId },
      load: loadWebhooks,
      responses: { 204: 'Removed' },
    },
    async ({ loaded: webhooks, params }, _req, res) => {
      if (!(await webhooks.deleteEndpoint(pathId(params.webhookId, 'webhook')))) {
        throw new ScimError(404, undefined, `webhook "${params.webhookId}" not found`);
      }
      sendScim(res, 204);
    },
  );

  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/webhooks/{webhookId}/rotate-secret',
      operationId: 'rotateWebhookSecret',
      tag,
      summary: "Rotate a webhook endpoint's signing secret",
      description: 'Deliveries carry a signature by the old secret too until the overlap ends, so receivers switch without a gap.',
      params: { tenantId, webhookId },
      load: loadWebhooks,
      body: rotate,
      responses: { 200: { description: 'The endpoint, with its new secret', schema: webhookWithSecretShape } },
    },
    async ({ loaded: webhooks, params, body }, _req, res) => {
      const rotated = await webhooks.rotateSecret(pathId(params.webhookId, 'webhook'), body.overlapSeconds);
      if (!rotated) throw new ScimError(404, undefined, `webhook "${params.webhookId}" not found`);
      sendScim(res, 200, { ...rotated.endpoint, secret: rotated.secret });
    },
  );

  webhookDeliveryRoutes(router, deps, { tenantWebhooks, endpointOf, loadEndpoint, webhookId, tag });
  return router;
}
