import type { TenantId } from '../../ids';
import type { TraceCarrier } from '../../telemetry/context';
import type { SecretBox } from '../../secrets';
import { Coalescer } from '../coalescer';
import type { Database } from '../sequelize';
import {
  type DeliveryRow,
  type DeliveryStatus,
  type DeliveryTarget,
  type EndpointStatus,
  DELIVERY_COLUMNS,
  deliveryView,
  endpointView,
  storable,
} from './webhook-records';

/** One try of a delivery, as the worker logs it. */
export interface AttemptLog {
  readonly startedAt: Date;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
  readonly responseExcerpt?: string;
}

/** Where the delivery goes after the attempt. */
export interface AttemptOutcome {
  readonly status: DeliveryStatus;
  readonly nextAttemptAt?: Date;
}

interface Load {
  readonly tenantId: TenantId;
  readonly deliveryId: string;
}

interface AttemptRecord extends Load {
  readonly attempt: AttemptLog;
  readonly outcome: AttemptOutcome;
}

type TargetRow = DeliveryRow & {
  w_id: string;
  w_tenant_id: string;
  w_url: string;
  w_description: string | null;
  w_event_types: string[] | null;
  w_status: EndpointStatus;
  w_status_reason: string | null;
  w_failing_since: Date | null;
  w_previous_secret_expires_at: Date | null;
  w_created_at: Date;
  w_updated_at: Date;
  k_tenant_id: string;
  secret_ciphertext: Buffer;
  previous_secret_ciphertext: Buffer | null;
  previous_signs: boolean;
  e_directory_id: string | null;
  e_occurred_at: Date;
  e_data: unknown;
  e_trace_context: TraceCarrier | null;
};

/**
 * Each (tenant, delivery) pair of the batch is matched on both columns: a job naming another
 * tenant's delivery finds nothing, exactly as the one-row statement did. The LIMIT 1 lateral
 * pins the plan to one primary-key probe per pair: joined plainly, a table analyzed while it was
 * small was planned as a walk over every delivery of the endpoint, for every batch.
 */
const LOAD_SQL = `
  SELECT k.tenant_id AS k_tenant_id, ${DELIVERY_COLUMNS},
         w.id AS w_id, w.tenant_id AS w_tenant_id, w.url AS w_url, w.description AS w_description,
         w.event_types AS w_event_types, w.status AS w_status, w.status_reason AS w_status_reason,
         w.failing_since AS w_failing_since, w.previous_secret_expires_at AS w_previous_secret_expires_at,
         w.created_at AS w_created_at, w.updated_at AS w_updated_at,
         w.secret_ciphertext, w.previous_secret_ciphertext,
         (w.previous_secret_ciphertext IS NOT NULL AND w.previous_secret_expires_at > now()) AS previous_signs,
         e.directory_id AS e_directory_id, e.occurred_at AS e_occurred_at, e.data AS e_data, e.trace_context AS e_trace_context
    FROM unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, id)
   CROSS JOIN LATERAL (SELECT * FROM webhook_deliveries d WHERE d.tenant_id = k.tenant_id AND d.id = k.id LIMIT 1) d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.tenant_id = d.tenant_id
    JOIN events e ON e.id = d.event_id AND e.tenant_id = d.tenant_id`;

/**
 * Logs each attempt and moves its delivery to the outcome, for the whole batch in one statement
 * (one commit instead of one per delivery). The Coalescer keeps delivery ids distinct.
 */
const RECORD_SQL = `
  WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::int[], $6::text[], $7::timestamptz[], $8::int[], $9::text[])
      AS i (tenant_id, id, status, next_attempt_at, status_code, error, started_at, duration_ms, excerpt)
  ), d AS (
    -- Every call is logged, but a run that overlapped another (a job BullMQ handed on after its
    -- lock ran out) never moves a delivered delivery back, nor a dead one back to pending. The
    -- rule reads w in the SET list, so a row another run changed meanwhile is judged as that run
    -- committed it (PostgreSQL re-reads the updated row), not as it was when this statement began.
    UPDATE webhook_deliveries w SET
      attempts = w.attempts + 1,
      status = CASE WHEN w.status = 'delivered' OR (w.status = 'dead' AND i.status = 'pending') THEN w.status ELSE i.status END,
      next_attempt_at = CASE WHEN w.status = 'delivered' OR (w.status = 'dead' AND i.status = 'pending') THEN w.next_attempt_at ELSE i.next_attempt_at END,
      last_status = i.status_code, last_error = i.error,
      delivered_at = CASE WHEN i.status = 'delivered' AND w.status <> 'delivered' THEN now() ELSE w.delivered_at END, updated_at = now()
      FROM input i
     WHERE w.tenant_id = i.tenant_id AND w.id = i.id
    RETURNING w.tenant_id, w.id, w.attempts
  )
  INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
  SELECT d.id, d.tenant_id, d.attempts, i.started_at, i.duration_ms, i.status_code, i.error, i.excerpt
    FROM d JOIN input i ON i.tenant_id = d.tenant_id AND i.id = d.id
  RETURNING tenant_id, delivery_id, attempt`;

const keyOf = (x: Load) => `${x.tenantId}/${x.deliveryId}`;

/**
 * The delivery worker's two statements per delivery (read the target, log the attempt), each
 * run for every delivery in flight at once (see Coalescer). One per process (Repositories),
 * shared by every tenant; reached only through TenantDeliveries, which supplies the tenant.
 */
export class DeliveryBatches {
  private readonly loads: Coalescer<Load, DeliveryTarget | undefined>;
  private readonly records: Coalescer<AttemptRecord, number | undefined>;

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
  ) {
    this.loads = new Coalescer((items) => this.loadMany(items), keyOf);
    this.records = new Coalescer<AttemptRecord, number | undefined>((items) => this.recordMany(items), keyOf);
  }

  load(tenantId: TenantId, deliveryId: string): Promise<DeliveryTarget | undefined> {
    return this.loads.submit({ tenantId, deliveryId });
  }

  record(tenantId: TenantId, deliveryId: string, attempt: AttemptLog, outcome: AttemptOutcome): Promise<number | undefined> {
    return this.records.submit({ tenantId, deliveryId, attempt, outcome });
  }

  private async loadMany(items: readonly Load[]): Promise<(DeliveryTarget | undefined)[]> {
    const rows = await this.db
      .forTenants(items.map((i) => i.tenantId))
      .query<TargetRow>(LOAD_SQL, [items.map((i) => i.tenantId), items.map((i) => i.deliveryId)]);
    const found = new Map(rows.map((r) => [`${r.k_tenant_id}/${r.id}`, r]));
    return items.map((i) => {
      const row = found.get(keyOf(i));
      return row && this.targetOf(row);
    });
  }

  private async recordMany(items: readonly AttemptRecord[]): Promise<(number | undefined)[]> {
    const rows = await this.db
      .forTenants(items.map((i) => i.tenantId))
      .query<{ tenant_id: string; delivery_id: string; attempt: number }>(RECORD_SQL, [
        items.map((i) => i.tenantId),
        items.map((i) => i.deliveryId),
        items.map((i) => i.outcome.status),
        items.map((i) => i.outcome.nextAttemptAt ?? null),
        items.map((i) => i.attempt.statusCode ?? null),
        items.map((i) => storable(i.attempt.error, 2000)),
        items.map((i) => i.attempt.startedAt),
        items.map((i) => Math.round(i.attempt.durationMs)),
        items.map((i) => storable(i.attempt.responseExcerpt, 1024)),
      ]);
    const attempts = new Map(rows.map((r) => [`${r.tenant_id}/${r.delivery_id}`, r.attempt]));
    return items.map((i) => attempts.get(keyOf(i)));
  }

  private targetOf(r: TargetRow): DeliveryTarget {
    const endpoint = endpointView({
      id: r.w_id,
      tenantId: r.w_tenant_id,
      url: r.w_url,
      description: r.w_description,
      eventTypes: r.w_event_types,
      status: r.w_status,
      statusReason: r.w_status_reason,
      failingSince: r.w_failing_since,
      previousSecretExpiresAt: r.w_previous_secret_expires_at,
      createdAt: r.w_created_at,
      updatedAt: r.w_updated_at,
    });
    let secrets: string[] = [];
    let secretError: string | undefined;
    try {
      secrets = [this.box.open(r.secret_ciphertext, r.w_id)];
      if (r.previous_signs && r.previous_secret_ciphertext) secrets.push(this.box.open(r.previous_secret_ciphertext, r.w_id));
    } catch {
      // Sealed under another key (WEBHOOK_ENCRYPTION_KEY changed?) or damaged: nothing can sign.
      secrets = [];
      secretError = 'the endpoint secret cannot be decrypted with the configured WEBHOOK_ENCRYPTION_KEY';
    }
    return {
      delivery: { ...deliveryView(r), retryBase: r.retry_base, batchId: r.batch_id },
      endpoint: { ...endpoint, secrets, ...(secretError ? { secretError } : {}) },
      event: {
        id: r.event_id,
        type: r.event_type,
        directoryId: r.e_directory_id,
        occurredAt: r.e_occurred_at,
        data: r.e_data,
        trace: r.e_trace_context,
      },
    };
  }
}
