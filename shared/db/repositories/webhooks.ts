import { type EventType, WEBHOOK_TEST_EVENT } from '../../events/catalog';
import { deliveryIdOf, newId } from '../../ids';
import { generateSecret } from '../../secrets';
import type { TraceCarrier } from '../../telemetry/context';
import { addressedOutboxInsertSelect, appendOutboxEvent, outboxRow } from '../outbox';
import type { Transaction } from '../sequelize';
import { TenantDeliveries } from './webhook-deliveries';
import { type DeliveryRef, type EndpointFields, type EndpointStatus, type WebhookEndpoint, iso, endpointView } from './webhook-records';

export * from './webhook-records';

/**
 * One tenant's webhook endpoints and their deliveries: every statement names the tenant, and
 * runs in its scope, so another tenant's ids find nothing.
 */
export class TenantWebhooks extends TenantDeliveries {
  // ---- endpoints ----

  /** Creates an endpoint with a new secret; the secret is returned here and never again. */
  async createEndpoint(input: { url: string; events: readonly EventType[] | null; description: string | null }) {
    const id = newId();
    const secret = generateSecret();
    const created = await this.db.transaction((transaction) =>
      this.db.models.WebhookEndpoint.create(
        {
          id,
          tenantId: this.tenantId,
          url: input.url,
          description: input.description,
          eventTypes: input.events && [...input.events],
          secretCiphertext: this.box.seal(secret, id),
        },
        { returning: true, transaction },
      ),
    );
    return { endpoint: endpointView(created), secret };
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    const rows = await this.db.transaction(
      (transaction) =>
        this.db.models.WebhookEndpoint.findAll({
          where: { tenantId: this.tenantId },
          order: [
            ['createdAt', 'ASC'],
            ['id', 'ASC'],
          ],
          transaction,
        }),
      READ_ONLY,
    );
    return rows.map(endpointView);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const found = await this.db.transaction(
      (transaction) => this.db.models.WebhookEndpoint.findOne({ where: { tenantId: this.tenantId, id }, transaction }),
      READ_ONLY,
    );
    return found ? endpointView(found) : undefined;
  }

  /**
   * Changes what the operator may change. Re-enabling clears the failure history, so the
   * endpoint gets a fresh failing/disabled clock; disabling by hand records who did it.
   */
  async updateEndpoint(
    id: string,
    patch: { url?: string; events?: readonly EventType[] | null; description?: string | null; status?: 'active' | 'disabled' },
  ): Promise<WebhookEndpoint | undefined> {
    return this.db.transaction(async (transaction) => {
      const endpoint = await this.db.models.WebhookEndpoint.findOne({ where: { tenantId: this.tenantId, id }, lock: true, transaction });
      if (!endpoint) return undefined;
      const changes: Partial<EndpointFields> = { updatedAt: new Date() };
      if (patch.url !== undefined) changes.url = patch.url;
      if (patch.events !== undefined) changes.eventTypes = patch.events && [...patch.events];
      if (patch.description !== undefined) changes.description = patch.description;
      if (patch.status === 'disabled' && endpoint.status !== 'disabled') changes.statusReason = 'disabled by operator';
      if (patch.status === 'active') {
        changes.statusReason = null;
        if (endpoint.status !== 'active') changes.failingSince = null;
      }
      if (patch.status) changes.status = patch.status;
      return endpointView(await endpoint.update(changes, { transaction }));
    });
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    const deleted = await this.db.transaction((transaction) => this.db.models.WebhookEndpoint.destroy({ where: { tenantId: this.tenantId, id }, transaction }));
    return deleted > 0;
  }

  /**
   * A new secret; the current one becomes the previous and keeps signing for `overlapSeconds`
   * (0: stops at once), so receivers can switch without rejecting a single call.
   */
  async rotateSecret(id: string, overlapSeconds: number) {
    const secret = generateSecret();
    return this.db.transaction(async (transaction) => {
      const endpoint = await this.db.models.WebhookEndpoint.findOne({ where: { tenantId: this.tenantId, id }, lock: true, transaction });
      if (!endpoint) return undefined;
      const overlaps = overlapSeconds > 0;
      await endpoint.update(
        {
          previousSecretCiphertext: overlaps ? endpoint.secretCiphertext : null,
          previousSecretExpiresAt: overlaps ? new Date(Date.now() + overlapSeconds * 1000) : null,
          secretCiphertext: this.box.seal(secret, id),
          updatedAt: new Date(),
        },
        { transaction },
      );
      return { endpoint: endpointView(endpoint), secret };
    });
  }

  // ---- test events ----

  /**
   * A webhook.test event addressed to this endpoint alone, and its delivery (pending, due now),
   * written by one statement: the relay never fans an addressed event out (migration 0011), so
   * this delivery is its only one, whatever the endpoint's filter. Returns the delivery to
   * enqueue, or undefined when the endpoint is not this tenant's (or was deleted meanwhile).
   */
  async createTestDelivery(endpointId: string, event: { actor: string; data: unknown }): Promise<DeliveryRef | undefined> {
    const row = outboxRow({
      tenantId: this.tenantId,
      directoryId: null,
      type: WEBHOOK_TEST_EVENT,
      resourceType: 'WebhookEndpoint',
      resourceId: endpointId,
      actor: event.actor,
      data: event.data,
    });
    // outboxRow's first value is the event's new id, which names the delivery like the relay's do.
    const eventId = row[0] as string;
    const rows = await this.db.query<{ id: string; trace_context: TraceCarrier | null }>(
      `WITH e AS (
         ${addressedOutboxInsertSelect(`SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, w.id FROM webhook_endpoints w WHERE w.tenant_id = $2 AND w.id = $10`)}
         RETURNING id, type, endpoint_id, trace_context
       ), d AS (
         INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type)
         SELECT $11, $2, e.endpoint_id, e.id, e.type FROM e
         RETURNING id, event_id
       )
       SELECT d.id, e.trace_context FROM d JOIN e ON e.id = d.event_id`,
      [...row, endpointId, deliveryIdOf(endpointId, eventId)],
    );
    return rows[0] && { deliveryId: rows[0].id, trace: rows[0].trace_context };
  }

  // ---- endpoint health, as the delivery worker's outcomes move it ----

  /** A success ends a failure streak: a failing endpoint is active again. Writes only when needed. */
  async noteEndpointSuccess(endpointId: string): Promise<void> {
    await this.db.exec(
      `UPDATE webhook_endpoints SET
          status = CASE WHEN status = 'failing' THEN 'active' ELSE status END,
          status_reason = CASE WHEN status = 'failing' THEN NULL ELSE status_reason END,
          failing_since = NULL, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND (failing_since IS NOT NULL OR status = 'failing')`,
      [this.tenantId, endpointId],
    );
  }

  /**
   * A failed attempt: starts the failure clock if it is not running, and when it has run past
   * `failingAfterMs` marks the endpoint failing, past `disableAfterMs` disables it, each time
   * writing the matching tenant event. Returns the status it moved to, if it moved.
   */
  async noteEndpointFailure(endpointId: string, limits: { failingAfterMs: number; disableAfterMs: number }): Promise<EndpointStatus | undefined> {
    return this.db.transaction(async (t) => {
      const rows = await this.db.query<{ status: EndpointStatus; failing_since: Date; failing_ms: string; url: string }>(
        `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now())
          WHERE tenant_id = $1 AND id = $2 AND status <> 'disabled'
          RETURNING status, failing_since, url, (extract(epoch FROM now() - failing_since) * 1000)::bigint::text AS failing_ms`,
        [this.tenantId, endpointId],
        t,
      );
      const row = rows[0];
      if (!row) return undefined;
      const failingMs = Number(row.failing_ms);
      const since = row.failing_since.toISOString();
      if (failingMs >= limits.disableAfterMs) {
        await this.transition(t, endpointId, 'disabled', `deliveries failing since ${since}`, { url: row.url, failingSince: since });
        return 'disabled';
      }
      if (row.status === 'active' && failingMs >= limits.failingAfterMs) {
        await this.transition(t, endpointId, 'failing', `deliveries failing since ${since}`, { url: row.url, failingSince: since });
        return 'failing';
      }
      return undefined;
    });
  }

  /** Disables an endpoint for good reason (e.g. 410 Gone) and writes webhook_endpoint.disabled. */
  async disableEndpoint(endpointId: string, reason: string): Promise<boolean> {
    return this.db.transaction(async (t) => {
      const rows = await this.db.query<{ url: string; failing_since: Date | null }>(
        `SELECT url, failing_since FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2 AND status <> 'disabled' FOR UPDATE`,
        [this.tenantId, endpointId],
        t,
      );
      if (!rows[0]) return false;
      await this.transition(t, endpointId, 'disabled', reason, { url: rows[0].url, failingSince: iso(rows[0].failing_since) });
      return true;
    });
  }

  /** Sets the status and writes its event (tenant-level: no directory) in the caller's transaction. */
  private async transition(
    t: Transaction,
    endpointId: string,
    status: 'failing' | 'disabled',
    reason: string,
    detail: { url: string; failingSince: string | null },
  ): Promise<void> {
    await this.db.exec(
      `UPDATE webhook_endpoints SET status = $3, status_reason = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, endpointId, status, reason],
      t,
    );
    const type: EventType = status === 'failing' ? 'webhook_endpoint.failing' : 'webhook_endpoint.disabled';
    const data = { endpoint: { id: endpointId, url: detail.url, status }, reason, failingSince: detail.failingSince };
    await appendOutboxEvent(this.db, t, {
      tenantId: this.tenantId,
      directoryId: null,
      type,
      resourceType: 'WebhookEndpoint',
      resourceId: endpointId,
      actor: 'system:webhook-delivery',
      data,
    });
  }
}

const READ_ONLY = { readOnly: true };
