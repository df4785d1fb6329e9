/**
 * Calls `touch` every `everyMs` until the returned function is called: the heartbeat of a running
 * export or reconciliation, so its row's `updated_at` stays fresh and the overdue metric counts
 * stranded rows only, not long runs. A failed touch is ignored (PostgreSQL away): the next one, or
 * the run's own outcome, writes again, and a dead worker's job is BullMQ's stalled check's anyway.
 */
export function heartbeat(touch: () => Promise<unknown>, everyMs: number): () => void {
  if (!Number.isInteger(everyMs) || everyMs < 1) throw new Error(`heartbeat: everyMs must be a positive integer, got ${everyMs}`);
  const timer = setInterval(() => void touch().catch(() => undefined), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The heartbeat of runs whose rows are overdue after `overdueAfterMs`: three beats per grace period. */
export const heartbeatEvery = (overdueAfterMs: number): number => Math.max(1, Math.floor(overdueAfterMs / 3));
