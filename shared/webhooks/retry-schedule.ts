/**
 * Webhook retry timing: durations such as `5s`, `2m`, `1h`, `3d` (also `250ms`), and the retry
 * schedule built from a comma-separated list of them (config.WEBHOOK_RETRY_SCHEDULE).
 * Pure: config.ts imports it to reject a bad value at boot, so it must import nothing.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** `30s` → 30000. Throws a message naming the bad value. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (a number followed by ms, s, m, h or d, e.g. 30s)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

/** Spread of each delay: ±20%, so endpoints that failed together do not all retry together. */
export const RETRY_JITTER = 0.2;

export interface RetrySchedule {
  /** Delays before retry 1, 2, … in ms, without jitter. */
  readonly delays: readonly number[];
  /** BullMQ `attempts`: the first try plus one per delay. */
  readonly attempts: number;
  /**
   * The jittered delay before retry `n` (0-based). Past the end of the schedule the last delay
   * repeats (a job enqueued with more attempts than this worker's schedule still backs off).
   */
  delayBefore(retry: number, random?: () => number): number;
}

/** `'5s,30s,2m'` → a schedule of three retries. Throws on an empty list or a bad entry. */
export function parseRetrySchedule(text: string): RetrySchedule {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new Error('the retry schedule is empty; give at least one delay, e.g. 5s,30s,2m');
  const delays = Object.freeze(parts.map(parseDuration));
  return Object.freeze({
    delays,
    attempts: delays.length + 1,
    delayBefore(retry: number, random: () => number = Math.random) {
      const base = delays[Math.min(Math.max(retry, 0), delays.length - 1)];
      return Math.max(0, Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random())));
    },
  });
}
