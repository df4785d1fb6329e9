/**
 * What the admin API answers with, as zod schemas the OpenAPI document is generated from. They
 * document and are not run against responses; tsc holds them to the repositories' view types
 * (the checks at the end of this file), and test/api/openapi.test.ts holds real answers to them.
 * `.meta({ id })` names a schema: it becomes one entry of the document's components.
 */
import { z } from 'zod';
import type { AuditExport } from '../../../../shared/db/repositories/audit-exports';
import type { ApiKeyView } from '../../../../shared/db/repositories/api-keys';
import type { StoredEvent } from '../../../../shared/db/repositories/events';
import type { ReconcileReportView } from '../../../../shared/db/repositories/reconcile-reports';
import type { SetupLinkView } from '../../../../shared/db/repositories/setup-links';
import { PROVIDERS, type Directory, type Tenant } from '../../../../shared/db/repositories/tenants';
import { DELIVERY_STATUSES, type WebhookAttempt, type WebhookDelivery, type WebhookEndpoint } from '../../../../shared/db/repositories/webhooks';
import { SUBSCRIBABLE_EVENT_TYPES } from '../../../../shared/events/catalog';
import { ERROR_SCHEMA, SCIM_TYPES } from '../../../../shared/scim/errors';
import { ATTRIBUTE_TYPES, MUTABILITY, RETURNED, UNIQUENESS } from '../../../../shared/scim/schema-definition';

const id = z.uuid();
// Every instant the API writes comes from Date.toISOString(): UTC, with a Z.
const instant = z.iso.datetime();

export const scimErrorShape = z
  .object({
    schemas: z.tuple([z.literal(ERROR_SCHEMA)]),
    status: z
      .string()
      .regex(/^[45]\d\d$/)
      .describe('The HTTP status code, as a string'),
    scimType: z.enum(SCIM_TYPES).optional().describe('Set on 400 and 409 answers that have a SCIM error type'),
    detail: z.string().describe('What was wrong, naming the culprit'),
  })
  .meta({ id: 'ScimError', description: 'The SCIM error body (RFC 7644 §3.12) every 4xx and 5xx answer carries' });

export const tenantShape = z
  .object({ id, name: z.string(), createdAt: instant })
  .meta({ id: 'Tenant', description: 'One customer organisation of the vendor' });

const rateLimitShape = z
  .object({
    requestsPerSecond: z.int().min(1).describe('Requests per second, sustained'),
    burst: z.int().min(1).describe('The most requests one second may take'),
  })
  .meta({ id: 'RateLimit', description: "A directory's own SCIM request limit" });

export const directoryShape = z
  .object({
    id,
    tenantId: id,
    name: z.string(),
    provider: z.enum(PROVIDERS),
    region: z.string(),
    rateLimit: rateLimitShape.nullable().describe("null: the platform's default limit"),
    createdAt: instant,
    scimUrl: z.url().describe('The Tenant URL a customer pastes into their identity provider'),
  })
  .meta({ id: 'Directory', description: 'One SCIM connection of a tenant, with its own users, groups and keys' });

export const failingDirectoryShape = z
  .object({
    directoryId: id,
    tenantId: id,
    directoryName: z.string(),
    tenantName: z.string(),
    requests: z.int().min(1).describe('SCIM requests in the window'),
    failed: z.int().min(0).describe('Of them, answered 5xx, or 4xx but 404 and 429'),
    lastFailureAt: instant,
  })
  .meta({ id: 'FailingDirectory', description: "A directory whose identity provider's recent requests mostly failed" });

export const failingDirectoriesShape = z
  .object({
    window: z.object({
      minutes: z.int().describe('How far back requests are counted'),
      minRequests: z.int().describe('Fewer requests than this say nothing'),
      minRatio: z.number().describe('The failed share from which a directory is listed'),
    }),
    data: z.array(failingDirectoryShape).describe('Worst first'),
  })
  .meta({ id: 'FailingDirectoryList' });

export const apiKeyShape = z
  .object({
    id,
    directoryId: id,
    name: z.string(),
    prefix: z.string().describe('The first characters of the token, to tell keys apart; never the secret'),
    createdAt: instant,
    lastUsedAt: instant.nullable(),
    revokedAt: instant.nullable(),
  })
  .meta({ id: 'ApiKey', description: "A directory's bearer key, without its token" });

export const issuedKeyShape = apiKeyShape
  .extend({ token: z.string().describe('The bearer token: shown in this answer only, stored as a hash') })
  .meta({ id: 'IssuedApiKey', description: 'A key just issued, with its token' });

export const createdDirectoryShape = directoryShape
  .extend({ key: issuedKeyShape })
  .meta({ id: 'CreatedDirectory', description: 'A new directory and its first key' });

const ENDPOINT_STATUSES = ['active', 'failing', 'disabled'] as const satisfies readonly WebhookEndpoint['status'][];

export const webhookEndpointShape = z
  .object({
    id,
    tenantId: id,
    url: z.string(),
    description: z.string().nullable(),
    events: z
      .array(z.enum(SUBSCRIBABLE_EVENT_TYPES))
      .nullable()
      .describe('null: every event type, including types added later. A webhook.test is sent whatever the filter'),
    status: z.enum(ENDPOINT_STATUSES),
    statusReason: z.string().nullable(),
    failingSince: instant.nullable().describe('Since when deliveries have failed without a success in between'),
    previousSecretExpiresAt: instant.nullable().describe('Until then the previous secret signs too'),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'WebhookEndpoint', description: "Where a tenant's events are delivered, signed" });

export const webhookWithSecretShape = webhookEndpointShape
  .extend({ secret: z.string().startsWith('whsec_').describe('The signing secret: shown in this answer only') })
  .meta({ id: 'WebhookEndpointWithSecret', description: 'An endpoint with its new signing secret' });

export const deliveryShape = z
  .object({
    id,
    endpointId: id,
    eventId: id,
    eventType: z.string().describe("The event's type; webhook.test for a test an operator sent"),
    status: z.enum(DELIVERY_STATUSES),
    attemptCount: z.int().min(0),
    nextAttemptAt: instant.nullable(),
    lastStatus: z.int().nullable().describe("The receiver's last HTTP status"),
    lastError: z.string().nullable(),
    deliveredAt: instant.nullable(),
    createdAt: instant,
    updatedAt: instant,
  })
  .meta({ id: 'WebhookDelivery', description: 'One event on its way to one endpoint' });

const attemptShape = z
  .object({
    attempt: z.int().min(1),
    startedAt: instant,
    durationMs: z.int().nullable(),
    statusCode: z.int().nullable(),
    error: z.string().nullable(),
    responseExcerpt: z.string().nullable().describe("The start of the receiver's answer"),
  })
  .meta({ id: 'WebhookAttempt', description: 'One call to the receiver' });

export const deliveryDetailShape = deliveryShape
  .extend({ attempts: z.array(attemptShape) })
  .meta({ id: 'WebhookDeliveryDetail', description: 'A delivery with every attempt' });

export const deliveryPageShape = z
  .object({
    data: z.array(deliveryShape),
    next: z.string().nullable().describe('Pass as `after` for the next page'),
    hasMore: z.boolean(),
  })
  .meta({ id: 'WebhookDeliveryPage' });

export const replayResultShape = z.object({ replayed: z.int().min(0).describe('Deliveries queued again') }).meta({ id: 'ReplayResult' });

export const eventShape = z
  .object({
    id,
    type: z.string().describe(`One of ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}`),
    tenantId: id,
    directoryId: id,
    resourceType: z.string(),
    resourceId: z.string(),
    actor: z.string().nullable().describe('Who made the change, e.g. api_key:<key id>'),
    timestamp: instant,
    data: z.unknown().describe('The change: the resource after it, or the membership that changed'),
    cursor: z.string().describe('Pass as `after` to read the events after this one'),
  })
  .meta({ id: 'Event', description: 'An immutable record of one change' });

export const eventPageShape = z
  .object({
    data: z.array(eventShape),
    next: z.string().nullable().describe('Pass as `after` for the next page'),
    hasMore: z.boolean(),
  })
  .meta({ id: 'EventPage' });

const EXPORT_STATUSES = ['queued', 'running', 'done', 'failed'] as const satisfies readonly AuditExport['status'][];

export const auditExportShape = z
  .object({
    id,
    tenantId: id,
    from: instant,
    to: instant,
    status: z.enum(EXPORT_STATUSES),
    eventCount: z.int().min(0).nullable(),
    bytes: z.int().min(0).nullable().describe('Size of the gzip-compressed NDJSON file'),
    error: z.string().nullable(),
    createdAt: instant,
    completedAt: instant.nullable(),
  })
  .meta({ id: 'AuditExport', description: "An export of a tenant's events in a time range" });

const REEMIT_STATUSES = ['pending', 'done', 'missing'] as const;

const reconcileResultShape = z
  .object({
    counters: z
      .array(z.object({ resourceType: z.enum(['User', 'Group']), counted: z.int(), actual: z.int() }))
      .describe('Counters rewritten to the true count'),
    groupVersionsBumped: z.int().min(0).describe('Groups whose version (ETag) was behind their newest membership'),
    bumpedGroupIds: z.array(id).describe('Up to 100 of those groups'),
    reemitted: z
      .array(z.object({ groupId: id, events: z.int().min(0), status: z.enum(REEMIT_STATUSES) }))
      .describe('Per requested group: the events re-emitted'),
  })
  .meta({ id: 'ReconcileResult', description: 'What a reconciliation changed' });

const RECONCILE_STATUSES = ['queued', 'running', 'done', 'failed'] as const satisfies readonly ReconcileReportView['status'][];

export const reconcileShape = z
  .object({
    id,
    directoryId: id,
    status: z.enum(RECONCILE_STATUSES),
    reemitGroupIds: z.array(id),
    runs: z.int().min(0),
    report: reconcileResultShape.nullable().describe('Set once done'),
    error: z.string().nullable(),
    createdAt: instant,
    completedAt: instant.nullable(),
  })
  .meta({ id: 'Reconciliation', description: 'A reconciliation of one directory and its report' });

const characteristics = {
  multiValued: z.boolean().default(false),
  description: z.string().optional(),
  required: z.boolean().default(false),
  caseExact: z.boolean().default(false),
  mutability: z.enum(MUTABILITY).default('readWrite'),
  returned: z.enum(RETURNED).default('default'),
  uniqueness: z.enum(UNIQUENESS).default('none'),
  canonicalValues: z.array(z.string()).optional(),
  referenceTypes: z.array(z.string()).optional(),
};
const attributeName = z.string().describe('A letter, then letters, digits, "_" or "-"');
const subAttributeShape = z.object({
  name: attributeName,
  type: z.enum(ATTRIBUTE_TYPES.filter((t) => t !== 'complex')),
  ...characteristics,
});
const attributeShape = z.object({
  name: attributeName,
  type: z.enum(ATTRIBUTE_TYPES),
  ...characteristics,
  subAttributes: z.array(subAttributeShape).min(1).optional().describe('Required for, and only for, a complex attribute'),
});

/**
 * An extension schema as posted: a SCIM Schema resource (RFC 7643 §7) plus our `resourceType`
 * and `required`. Documentation only: shared/scim/schema-definition.ts parses it, with its own
 * messages; openapi.test.ts holds the two together.
 */
export const schemaInputShape = z.object({
  id: z.string().describe('A URN, e.g. urn:ietf:params:scim:schemas:extension:acme:2.0:User; not a built-in schema'),
  name: z.string().optional().describe('Default: from the URN (acmeUser)'),
  description: z.string().optional(),
  attributes: z.array(attributeShape).min(1),
  resourceType: z.enum(['User', 'Group']).optional().describe('Default: Group when the URN ends in :Group, else User'),
  required: z.boolean().default(false).describe('Whether every resource of the type must carry the extension'),
});

export const schemaShape = schemaInputShape
  .extend({
    schemas: z.tuple([z.literal('urn:ietf:params:scim:schemas:core:2.0:Schema')]),
    name: z.string(),
    resourceType: z.enum(['User', 'Group']),
    scope: z.enum(['platform', 'directory']),
    directoryId: id.optional().describe('The directory of a directory-scoped schema'),
    createdAt: instant,
  })
  .meta({ id: 'ExtensionSchema', description: 'An extension schema as stored, every characteristic filled in' });

const SETUP_LINK_STATUSES = ['active', 'expired', 'revoked'] as const satisfies readonly SetupLinkView['status'][];

export const setupLinkShape = z
  .object({
    id,
    directoryId: id,
    status: z.enum(SETUP_LINK_STATUSES),
    createdAt: instant,
    expiresAt: instant,
    revokedAt: instant.nullable(),
    lastOpenedAt: instant.nullable().describe('When the setup page last used the link'),
  })
  .meta({ id: 'SetupLink', description: "A link to one directory's setup page, for the customer's IT admin" });

export const createdSetupLinkShape = setupLinkShape
  .extend({ url: z.url().describe('The setup page, the secret in its fragment: shown in this answer only') })
  .meta({ id: 'CreatedSetupLink', description: 'A new setup link with its URL' });

/** `{ data: [...] }`, the admin API's list answer. */
export const listOf = (item: z.ZodType, name: string) => z.object({ data: z.array(item) }).meta({ id: `${name}List` });

// Compile-time drift checks: each repository view has exactly the fields its shape documents, so a
// field added to either side fails tsc here (the values' types are checked by openapi.test.ts).
type SameKeys<View, Shape extends z.ZodType> = [Exclude<keyof View, keyof z.output<Shape>>, Exclude<keyof z.output<Shape>, keyof View>] extends [never, never]
  ? true
  : { undocumented: Exclude<keyof View, keyof z.output<Shape>>; notInView: Exclude<keyof z.output<Shape>, keyof View> };
const sameKeys = <T extends true>(_: T) => {};
sameKeys<SameKeys<Tenant, typeof tenantShape>>(true);
sameKeys<SameKeys<Directory & { scimUrl: string }, typeof directoryShape>>(true);
sameKeys<SameKeys<ApiKeyView, typeof apiKeyShape>>(true);
sameKeys<SameKeys<ApiKeyView & { token: string }, typeof issuedKeyShape>>(true);
sameKeys<SameKeys<WebhookEndpoint, typeof webhookEndpointShape>>(true);
sameKeys<SameKeys<WebhookDelivery, typeof deliveryShape>>(true);
sameKeys<SameKeys<WebhookDelivery & { attempts: WebhookAttempt[] }, typeof deliveryDetailShape>>(true);
sameKeys<SameKeys<WebhookAttempt, typeof attemptShape>>(true);
sameKeys<SameKeys<StoredEvent, typeof eventShape>>(true);
sameKeys<SameKeys<Omit<AuditExport, 'storageKey'>, typeof auditExportShape>>(true);
sameKeys<SameKeys<ReconcileReportView, typeof reconcileShape>>(true);
sameKeys<SameKeys<SetupLinkView, typeof setupLinkShape>>(true);
