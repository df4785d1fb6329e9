/**
 * The types a webhook endpoint's filter chooses among: the events of the tenant's changes (SCIM
 * writes) and of its endpoints' health. Each is fanned out by the outbox relay to every endpoint
 * whose filter names it, and listed by the events feed and audit exports.
 */
export const SUBSCRIBABLE_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deactivated',
  'user.reactivated',
  'user.deleted',
  'group.created',
  'group.updated',
  'group.deleted',
  'group.user_added',
  'group.user_removed',
  'webhook_endpoint.failing',
  'webhook_endpoint.disabled',
] as const;

/**
 * Sent only when an operator asks (POST …/webhooks/{webhookId}/test), to that one endpoint,
 * whatever its filter. Never emitted by a SCIM change: it records nothing, so the events feed and
 * audit exports never list it and the relay never fans it out (events.endpoint_id, migration 0011).
 */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/** The closed catalog of event types: every type an event row, and so a webhook body, may carry. */
export const EVENT_TYPES = [...SUBSCRIBABLE_EVENT_TYPES, WEBHOOK_TEST_EVENT] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (s: string): s is EventType => (EVENT_TYPES as readonly string[]).includes(s);
