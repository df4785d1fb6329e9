import type { InferAttributes } from 'sequelize';
import type { TenantId } from '../../ids';
import type { WebhookEndpointRecord } from '../models';
import type { TraceCarrier } from '../../telemetry/context';
import { ScimError } from '../../scim/errors';

// Shapes and row mappings shared by the webhook repositories.

export type EndpointStatus = 'active' | 'failing' | 'disabled';
export type DeliveryStatus = 'pending' | 'delivered' | 'dead';
export const DELIVERY_STATUSES = ['pending', 'delivered', 'dead'] as const;

export interface WebhookEndpoint {
  id: string;
  tenantId: TenantId;
  url: string;
  description: string | null;
  /** null: every event type, including types added later. */
  events: string[] | null;
  status: EndpointStatus;
  statusReason: string | null;
  /** Since when deliveries have failed without a success in between. */
  failingSince: string | null;
  /** While set and in the future, the previous secret signs too. */
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookAttempt {
  attempt: number;
  startedAt: string;
  durationMs: number | null;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
}

/** What the delivery worker needs for one call, loaded in one query. */
export interface DeliveryTarget {
  /**
   * `retryBase`: attempts made before the current run of retries (a replay starts a new run).
   * `batchId`: the relay's batch job its first attempt was given to, if any.
   */
  delivery: WebhookDelivery & { retryBase: number; batchId: string | null };
  /** `secrets`: current first, then the previous one while its overlap lasts. `secretError`: why there are none. */
  endpoint: WebhookEndpoint & { secrets: string[]; secretError?: string };
  event: { id: string; type: string; directoryId: string | null; occurredAt: Date; data: unknown; trace: TraceCarrier | null };
}

/** A delivery to (re)enqueue: its id and the trace of its event. */
export interface DeliveryRef {
  deliveryId: string;
  trace: TraceCarrier | null;
}

/** An endpoint's fields as stored, without its sealed secrets. */
export type EndpointFields = Omit<InferAttributes<WebhookEndpointRecord>, 'secretCiphertext' | 'previousSecretCiphertext'>;

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  retry_base: number;
  batch_id: string | null;
  next_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export const DELIVERY_COLUMNS =
  'd.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.retry_base, d.batch_id, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at, d.updated_at';

export const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const endpointView = (r: EndpointFields): WebhookEndpoint => ({
  id: r.id,
  tenantId: r.tenantId as TenantId,
  url: r.url,
  description: r.description,
  events: r.eventTypes,
  status: r.status,
  statusReason: r.statusReason,
  failingSince: iso(r.failingSince),
  // An expired overlap is history, not state.
  previousSecretExpiresAt: r.previousSecretExpiresAt && r.previousSecretExpiresAt > new Date() ? r.previousSecretExpiresAt.toISOString() : null,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

export const deliveryView = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventId: r.event_id,
  eventType: r.event_type,
  status: r.status,
  attemptCount: r.attempts,
  nextAttemptAt: iso(r.next_attempt_at),
  lastStatus: r.last_status,
  lastError: r.last_error,
  deliveredAt: iso(r.delivered_at),
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

// PostgreSQL text cannot hold U+0000; a receiver's answer might.
export const storable = (s: string | undefined | null, max: number) => (s ? s.replaceAll('\u0000', '').slice(0, max) : null);

/** Delivery list cursor: the row's (created_at in µs since the epoch, id), newest first. */
export const encodeDeliveryCursor = (micros: string, id: string) => Buffer.from(`${micros}.${id}`).toString('base64url');
export function decodeDeliveryCursor(cursor: string): [string, string] {
  const m = /^(\d{1,20})\.([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new ScimError(400, 'invalidValue', `"after" is not a cursor this API issued`);
  return [m[1], m[2]];
}
