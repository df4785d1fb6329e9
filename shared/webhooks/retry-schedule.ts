import { parseDurationList } from '../config-formats';

/**
 * The webhook retry schedule built from config.WEBHOOK_RETRY_SCHEDULE, a comma-separated list of
 * durations (the format is config.ts's, which checks it at boot).
 */

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
  const delays = Object.freeze(parseDurationList(text));
  return Object.freeze({
    delays,
    attempts: delays.length + 1,
    delayBefore(retry: number, random: () => number = Math.random) {
      const base = delays[Math.min(Math.max(retry, 0), delays.length - 1)];
      return Math.max(0, Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random())));
    },
  });
}
