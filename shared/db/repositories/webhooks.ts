import type { EventType } from '../../events/catalog';
import { newId, type TenantId } from '../../ids';
import { generateSecret, type SecretBox } from '../../secrets';
import { appendOutboxEvent } from '../outbox';
import type { Database, Transaction } from '../sequelize';
import { DeliveryBatches } from './delivery-batches';
import { TenantDeliveries } from './webhook-deliveries';
import { type EndpointStatus, type WebhookEndpoint, type EndpointRow, ENDPOINT_COLUMNS, iso, endpointView } from './webhook-records';

export * from './webhook-records';

/** Webhook endpoints and their deliveries. Bind to a tenant with forTenant(); nothing else exists. */
export class WebhookRepository {
  private readonly batches: DeliveryBatches;

  constructor(
    private readonly db: Database,
    /** Seals secrets at rest (AES-256-GCM under WEBHOOK_ENCRYPTION_KEY). */
    private readonly box: SecretBox,
  ) {
    this.batches = new DeliveryBatches(db, box);
  }

  forTenant(tenantId: TenantId): TenantWebhooks {
    return new TenantWebhooks(this.db, this.box, this.batches, tenantId);
  }
}

/** Every statement filters by `tenant_id = $1`: another tenant's ids find nothing. */
export class TenantWebhooks extends TenantDeliveries {
  // ---- endpoints ----

  /** Creates an endpoint with a new secret; the secret is returned here and never again. */
  async createEndpoint(input: { url: string; events: readonly EventType[] | null; description: string | null }) {
    const id = newId();
    const secret = generateSecret();
    const rows = await this.db.query<EndpointRow>(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types, secret_ciphertext)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${ENDPOINT_COLUMNS}`,
      [id, this.tenantId, input.url, input.description, input.events, this.box.seal(secret, id)],
    );
    return { endpoint: endpointView(rows[0]), secret };
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    const rows = await this.db.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id`, [
      this.tenantId,
    ]);
    return rows.map(endpointView);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const rows = await this.db.query<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, [this.tenantId, id]);
    return rows[0] && endpointView(rows[0]);
  }

  /**
   * Changes what the operator may change. Re-enabling clears the failure history, so the
   * endpoint gets a fresh failing/disabled clock; disabling by hand records who did it.
   */
  async updateEndpoint(
    id: string,
    patch: { url?: string; events?: readonly EventType[] | null; description?: string | null; status?: 'active' | 'disabled' },
  ): Promise<WebhookEndpoint | undefined> {
    const rows = await this.db.query<EndpointRow>(
      `UPDATE webhook_endpoints SET
          url = COALESCE($3::text, url),
          event_types = CASE WHEN $4::boolean THEN $5::text[] ELSE event_types END,
          description = CASE WHEN $6::boolean THEN $7::text ELSE description END,
          status = COALESCE($8::text, status),
          status_reason = CASE WHEN $8::text = 'disabled' AND status <> 'disabled' THEN 'disabled by operator'
                               WHEN $8::text = 'active' THEN NULL ELSE status_reason END,
          failing_since = CASE WHEN $8::text = 'active' AND status <> 'active' THEN NULL ELSE failing_since END,
          updated_at = now()
        WHERE tenant_id = $1 AND id = $2
        RETURNING ${ENDPOINT_COLUMNS}`,
      [
        this.tenantId,
        id,
        patch.url ?? null,
        patch.events !== undefined,
        patch.events ?? null,
        patch.description !== undefined,
        patch.description ?? null,
        patch.status ?? null,
      ],
    );
    return rows[0] && endpointView(rows[0]);
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    return (await this.db.exec('DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [this.tenantId, id])) > 0;
  }

  /**
   * A new secret; the current one becomes the previous and keeps signing for `overlapSeconds`
   * (0: stops at once), so receivers can switch without rejecting a single call.
   */
  async rotateSecret(id: string, overlapSeconds: number) {
    const secret = generateSecret();
    const rows = await this.db.query<EndpointRow>(
      `UPDATE webhook_endpoints SET
          previous_secret_ciphertext = CASE WHEN $4::int > 0 THEN secret_ciphertext END,
          previous_secret_expires_at = CASE WHEN $4::int > 0 THEN now() + make_interval(secs => $4::int) END,
          secret_ciphertext = $3,
          updated_at = now()
        WHERE tenant_id = $1 AND id = $2
        RETURNING ${ENDPOINT_COLUMNS}`,
      [this.tenantId, id, this.box.seal(secret, id), overlapSeconds],
    );
    return rows[0] && { endpoint: endpointView(rows[0]), secret };
  }

  // ---- deliveries: the operator's view ----

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
