import type { TraceCarrier } from '../telemetry/context';

/**
 * Job payloads: ids and the trace carrier, never rows. Each queue's processor loads what it
 * needs from PostgreSQL, so a job replayed later sees the current state.
 */
export interface WebhookDeliveryJob {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly trace?: TraceCarrier;
}

export interface AuditExportJob {
  readonly exportId: string;
  readonly tenantId: string;
  readonly trace?: TraceCarrier;
}

export interface GroupReconcileJob {
  readonly tenantId: string;
  readonly directoryId: string;
  /** Re-emit group.user_added for every current member of these groups (a consumer's request). */
  readonly reemitGroupIds?: readonly string[];
  readonly trace?: TraceCarrier;
}
