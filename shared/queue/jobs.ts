import type { TraceCarrier } from '../telemetry/context';

/**
 * Job payloads: ids and the trace carrier, never rows. Each queue's processor loads what it
 * needs from PostgreSQL, so a job replayed later sees the current state.
 */
export interface WebhookDeliveryJob {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly trace?: TraceCarrier;
  /**
   * A call the receiver answered while PostgreSQL could not record it: the next run records this
   * instead of calling again. Valid only while the delivery still has `attemptsBefore` attempts.
   */
  readonly unrecorded?: UnrecordedAttempt;
}

/** The outcome of one call to a receiver, as it is logged (dates as ISO strings: job data is JSON). */
export interface UnrecordedAttempt {
  readonly attemptsBefore: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
  readonly responseExcerpt?: string;
  readonly retryAfterMs?: number;
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
